package ldaptest

// MemDirectory is a small in-process LDAP directory on gldap for `make demo`
// and fast tests that need nothing installed. gldap is a protocol toolkit,
// so everything a directory does is here: entries ordered by an insertion
// sequence number, DNs compared through their normalised RDN lists (so
// escaped commas cannot fake a subtree), filters compiled with go-ldap and
// evaluated with caseIgnore semantics, operational attributes (entryUUID,
// pwdAccountLockedTime, a virtual memberOf from groups' member values)
// returned only on request, and RFC 2696 paging with a stateless cookie: the
// sequence number of the last entry sent, so a page boundary survives
// concurrent adds and deletes.
//
// WithActiveDirectory makes the directory answer the way Active Directory
// does where a sync tool can tell: objectGUID (16 raw bytes, generated from
// the DN when the LDIF has none) instead of entryUUID, memberOf returned
// like an ordinary attribute, and range retrieval: an attribute with more
// than MaxValRange values comes back as "member;range=0-1499" with the
// first values only, and "member;range=1500-*" (or "1500-2999") asks for
// the next slice, the last one named "…-*". userAccountControl bit tests
// (1.2.840.113556.1.4.803/804) work in filters in either mode.
//
// WithStartTLS offers the StartTLS extended operation (RFC 4511 §4.14):
// the ExtendedResponse answers success and the connection continues over
// TLS with the given certificate. A second StartTLS, or one after a bind
// has started on the connection, is refused with operationsError and the
// session stays as it was; a bind with a password before TLS is refused
// with confidentialityRequired, so a client that gets through has used
// StartTLS.
//
// gldap's Server.Stop waits for every client connection to end, so clients
// connect to a small TCP relay in front of the gldap listener; Stop closes
// the relayed connections first and gldap then stops at once.

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // {SSHA} verification of test passwords
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// operational attributes are returned only when asked for by name or "+".
var operational = map[string]bool{
	"entryuuid": true, "entrycsn": true, "entrydn": true, "createtimestamp": true, "modifytimestamp": true,
	"creatorsname": true, "modifiersname": true, "structuralobjectclass": true, "subschemasubentry": true,
	"hassubordinates": true, "pwdaccountlockedtime": true, "pwdchangedtime": true, "pwdfailuretime": true,
	"memberof": true,
}

// uuidNamespace seeds the entryUUIDs generated for entries without one.
var uuidNamespace = uuid.MustParse("6f0c5ad4-3c1e-4f0e-9b51-6c6470617073")

// connState is what StartTLS needs to know of a connection.
type connState struct {
	mu          sync.Mutex
	tls         bool // StartTLS succeeded
	bindStarted bool // a bind request arrived
}

// conn returns the state of gldap connection id.
func (d *MemDirectory) conn(id int) *connState {
	c, _ := d.conns.LoadOrStore(id, &connState{})
	return c.(*connState)
}

type memEntry struct {
	seq   uint64
	dn    string
	rdns  []string // normalised RDNs, leaf first
	attrs []Attribute
}

func (e *memEntry) key() string { return strings.Join(e.rdns, ",") }

func (e *memEntry) get(name string) []string {
	if i := attrIndex(e.attrs, name); i >= 0 {
		return e.attrs[i].Values
	}
	return nil
}

type memConfig struct {
	accounts    map[string]string // normalised DN -> password
	requireBind bool
	sizeLimit   int
	ad          bool
	maxValRange int
	timeLimit   int
	subschema   bool
	tls         *tls.Config // StartTLS offered when set
}

// MemOption configures NewMemDirectory.
type MemOption func(*memConfig)

// WithBindAccount adds a bind account that is not an entry (like a root
// DN); entries can also bind with their userPassword.
func WithBindAccount(dn, password string) MemOption {
	return func(c *memConfig) {
		if rdns, err := normalizeDN(dn); err == nil {
			c.accounts[strings.Join(rdns, ",")] = password
		}
	}
}

// WithRequireBind refuses searches on connections that have not bound
// (result code 50).
func WithRequireBind() MemOption { return func(c *memConfig) { c.requireBind = true } }

// WithSubschema serves a subschema subentry (cn=Subschema, named by the
// RootDSE's subschemaSubentry) whose attributeTypes define every
// attribute the directory's entries use, the usual aliases and the
// operational attributes ldapsync reads, as slapd does: plan's attribute
// check then runs against the in-process directory too.
func WithSubschema() MemOption { return func(c *memConfig) { c.subschema = true } }

// WithStartTLS offers StartTLS with cert (see NewTestCerts for a
// throwaway one): the operation succeeds once per connection, before any
// bind, and binds with a password are refused (confidentialityRequired)
// until the connection is encrypted. The RootDSE lists the operation in
// supportedExtension. Start still returns an ldap:// URL.
func WithStartTLS(cert tls.Certificate) MemOption {
	return func(c *memConfig) {
		c.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
}

// startTLSOID is the StartTLS extended operation (RFC 4511 §4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// subschemaDN is the subschema subentry WithSubschema serves.
const subschemaDN = "cn=Subschema"

// WithSizeLimit caps every search at n entries in total, paged or not, and
// then answers result code 4, like slapd's default limit of 500.
func WithSizeLimit(n int) MemOption { return func(c *memConfig) { c.sizeLimit = n } }

// WithTimeLimitAfter answers every search with result code 3
// (timeLimitExceeded) once n entries have been sent in total, paged or not,
// the way a server whose time limit runs out mid-search does.
func WithTimeLimitAfter(n int) MemOption { return func(c *memConfig) { c.timeLimit = n } }

// DefaultMaxValRange is Active Directory's default MaxValRange (Windows
// Server 2003 and later).
const DefaultMaxValRange = 1500

// WithActiveDirectory answers like Active Directory: binary objectGUID
// instead of entryUUID, memberOf as an ordinary attribute, and range
// retrieval of attributes with more than maxValRange values (0 means
// DefaultMaxValRange).
func WithActiveDirectory(maxValRange int) MemOption {
	return func(c *memConfig) {
		c.ad = true
		c.maxValRange = maxValRange
		if c.maxValRange <= 0 {
			c.maxValRange = DefaultMaxValRange
		}
	}
}

// ObjectGUID returns the objectGUID that WithActiveDirectory generates for
// an entry without one: 16 bytes derived from the DN.
func ObjectGUID(dn string) []byte {
	rdns, err := normalizeDN(dn)
	if err != nil {
		return nil
	}
	id := uuid.NewSHA1(uuidNamespace, []byte(strings.Join(rdns, ",")+"#guid"))
	return id[:]
}

// MemDirectory is an in-memory LDAP server for demos and tests.
type MemDirectory struct {
	cfg memConfig

	mu      sync.RWMutex
	byKey   map[string]*memEntry
	order   []*memEntry // by seq
	seq     uint64
	uuids   map[string]bool
	bound   sync.Map // gldap connection id -> normalised bind DN
	conns   sync.Map // gldap connection id -> *connState
	srv     *gldap.Server
	ln      net.Listener
	relayMu sync.Mutex
	relays  map[net.Conn]bool
	done    chan struct{}
	stopped bool
}

// NewMemDirectory loads LDIF content records (or changetype: add records)
// into a new directory. Entries without entryUUID get one derived from their
// DN, so repeated runs see the same ids.
func NewMemDirectory(ldif io.Reader, opts ...MemOption) (*MemDirectory, error) {
	d := &MemDirectory{
		cfg:   memConfig{accounts: map[string]string{}},
		byKey: map[string]*memEntry{},
		uuids: map[string]bool{},
	}
	for _, o := range opts {
		o(&d.cfg)
	}
	if ldif != nil {
		recs, err := ParseLDIF(ldif)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.ChangeType != "add" {
				return nil, fmt.Errorf("ldif line %d: initial data must be content records, not changetype %s", r.Line, r.ChangeType)
			}
			if err := d.add(r); err != nil {
				return nil, fmt.Errorf("ldif line %d: %w", r.Line, err)
			}
		}
	}
	return d, nil
}

// Apply applies LDIF change records: changetype add, modify (add, replace,
// delete), delete and modrdn (which keeps entryUUID). Records are applied in
// order; on an error the earlier records stay applied.
func (d *MemDirectory) Apply(ldifChanges io.Reader) error {
	recs, err := ParseLDIF(ldifChanges)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		var err error
		switch r.ChangeType {
		case "add":
			err = d.addLocked(r)
		case "delete":
			err = d.deleteLocked(r.DN)
		case "modify":
			err = d.modifyLocked(r)
		case "modrdn":
			err = d.modrdnLocked(r)
		}
		if err != nil {
			return fmt.Errorf("ldif line %d (%s %s): %w", r.Line, r.ChangeType, r.DN, err)
		}
	}
	return nil
}

func (d *MemDirectory) add(r Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addLocked(r)
}

func (d *MemDirectory) addLocked(r Record) error {
	rdns, err := normalizeDN(r.DN)
	if err != nil {
		return err
	}
	e := &memEntry{dn: r.DN, rdns: rdns}
	if _, dup := d.byKey[e.key()]; dup {
		return errors.New("entry already exists")
	}
	for _, a := range r.Attrs {
		e.attrs = append(e.attrs, Attribute{Name: a.Name, Values: slices.Clone(a.Values)})
	}
	if d.cfg.ad {
		if len(e.get("objectGUID")) == 0 {
			e.attrs = append(e.attrs, Attribute{Name: "objectGUID", Values: []string{string(ObjectGUID(r.DN))}})
		}
	} else if id := e.get("entryUUID"); len(id) > 0 {
		d.uuids[strings.ToLower(id[0])] = true
	} else {
		var id uuid.UUID
		for n := 0; ; n++ {
			id = uuid.NewSHA1(uuidNamespace, []byte(e.key()+"#"+strconv.Itoa(n)))
			if !d.uuids[id.String()] {
				break
			}
		}
		d.uuids[id.String()] = true
		e.attrs = append(e.attrs, Attribute{Name: "entryUUID", Values: []string{id.String()}})
	}
	d.seq++
	e.seq = d.seq
	d.byKey[e.key()] = e
	d.order = append(d.order, e)
	return nil
}

func (d *MemDirectory) lookup(dn string) (*memEntry, error) {
	rdns, err := normalizeDN(dn)
	if err != nil {
		return nil, err
	}
	e, ok := d.byKey[strings.Join(rdns, ",")]
	if !ok {
		return nil, errors.New("no such entry")
	}
	return e, nil
}

func (d *MemDirectory) deleteLocked(dn string) error {
	e, err := d.lookup(dn)
	if err != nil {
		return err
	}
	for _, o := range d.order {
		if len(o.rdns) > len(e.rdns) && under(o.rdns, e.rdns) {
			return errors.New("entry has children")
		}
	}
	delete(d.byKey, e.key())
	i := sort.Search(len(d.order), func(i int) bool { return d.order[i].seq >= e.seq })
	d.order = slices.Delete(d.order, i, i+1)
	return nil
}

func (d *MemDirectory) modifyLocked(r Record) error {
	e, err := d.lookup(r.DN)
	if err != nil {
		return err
	}
	attrs := slices.Clone(e.attrs)
	for _, m := range r.Mods {
		i := attrIndex(attrs, m.Attr)
		switch m.Op {
		case "replace":
			switch {
			case len(m.Values) == 0 && i >= 0:
				attrs = slices.Delete(attrs, i, i+1)
			case len(m.Values) == 0:
			case i >= 0:
				attrs[i] = Attribute{Name: attrs[i].Name, Values: slices.Clone(m.Values)}
			default:
				attrs = append(attrs, Attribute{Name: m.Attr, Values: slices.Clone(m.Values)})
			}
		case "add":
			if i < 0 {
				attrs = append(attrs, Attribute{Name: m.Attr, Values: nil})
				i = len(attrs) - 1
			}
			vals := slices.Clone(attrs[i].Values)
			for _, v := range m.Values {
				if !containsFold(vals, v) {
					vals = append(vals, v)
				}
			}
			attrs[i] = Attribute{Name: attrs[i].Name, Values: vals}
		case "delete":
			if i < 0 {
				return fmt.Errorf("no attribute %s to delete", m.Attr)
			}
			if len(m.Values) == 0 {
				attrs = slices.Delete(attrs, i, i+1)
				continue
			}
			vals := slices.DeleteFunc(slices.Clone(attrs[i].Values), func(v string) bool { return containsFold(m.Values, v) })
			if len(vals) == 0 {
				attrs = slices.Delete(attrs, i, i+1)
			} else {
				attrs[i] = Attribute{Name: attrs[i].Name, Values: vals}
			}
		}
	}
	e.attrs = attrs
	return nil
}

func (d *MemDirectory) modrdnLocked(r Record) error {
	e, err := d.lookup(r.DN)
	if err != nil {
		return err
	}
	parent := parentDN(e.dn)
	if r.NewSuperior != "" {
		if _, err := d.lookup(r.NewSuperior); err != nil {
			return fmt.Errorf("new superior: %w", err)
		}
		parent = r.NewSuperior
	}
	newDN := r.NewRDN
	if parent != "" {
		newDN += "," + parent
	}
	newRDNs, err := normalizeDN(newDN)
	if err != nil {
		return err
	}
	if _, dup := d.byKey[strings.Join(newRDNs, ",")]; dup {
		return errors.New("an entry with the new DN already exists")
	}
	oldRDN, err := ldap.ParseDN(r.DN)
	if err != nil {
		return err
	}
	newRDN, err := ldap.ParseDN(r.NewRDN)
	if err != nil || len(newRDN.RDNs) != 1 {
		return fmt.Errorf("newrdn %q is not one RDN", r.NewRDN)
	}
	if r.DeleteOldRDN {
		for _, av := range oldRDN.RDNs[0].Attributes {
			if i := attrIndex(e.attrs, av.Type); i >= 0 {
				vals := slices.DeleteFunc(slices.Clone(e.attrs[i].Values), func(v string) bool { return strings.EqualFold(v, av.Value) })
				e.attrs[i] = Attribute{Name: e.attrs[i].Name, Values: vals}
			}
		}
	}
	for _, av := range newRDN.RDNs[0].Attributes {
		if i := attrIndex(e.attrs, av.Type); i >= 0 {
			if !containsFold(e.attrs[i].Values, av.Value) {
				e.attrs[i] = Attribute{Name: e.attrs[i].Name, Values: append(slices.Clone(e.attrs[i].Values), av.Value)}
			}
		} else {
			e.attrs = append(e.attrs, Attribute{Name: av.Type, Values: []string{av.Value}})
		}
	}
	e.attrs = slices.DeleteFunc(e.attrs, func(a Attribute) bool { return len(a.Values) == 0 })
	// Move the entry and its subtree.
	oldRDNs := e.rdns
	for _, o := range d.order {
		if !under(o.rdns, oldRDNs) {
			continue
		}
		delete(d.byKey, o.key())
		depth := len(o.rdns) - len(oldRDNs)
		o.rdns = append(slices.Clone(o.rdns[:depth]), newRDNs...)
		o.dn = joinDN(leadingRDNs(o.dn, depth), newDN)
		d.byKey[o.key()] = o
	}
	return nil
}

// Start serves the directory on addr (e.g. "127.0.0.1:0") over ldap://
// (plain, or upgraded by StartTLS with WithStartTLS) and returns its URL.
func (d *MemDirectory) Start(addr string) (string, error) {
	d.mu.Lock()
	if d.srv != nil {
		d.mu.Unlock()
		return "", errors.New("memdirectory: already started")
	}
	d.mu.Unlock()
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(func(id int) { d.bound.Delete(id); d.conns.Delete(id) }))
	if err != nil {
		return "", err
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return "", err
	}
	if err := mux.Bind(d.handleBind); err != nil {
		return "", err
	}
	if err := mux.Search(d.handleSearch); err != nil {
		return "", err
	}
	if d.cfg.tls != nil {
		if err := mux.ExtendedOperation(d.handleStartTLS, gldap.ExtendedOperationStartTLS); err != nil {
			return "", err
		}
	}
	if err := srv.Router(mux); err != nil {
		return "", err
	}
	inner, err := runInner(srv)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = srv.Stop()
		return "", err
	}
	d.mu.Lock()
	d.srv, d.ln, d.relays, d.done = srv, ln, map[net.Conn]bool{}, make(chan struct{})
	d.mu.Unlock()
	go d.relay(ln, inner)
	return "ldap://" + ln.Addr().String(), nil
}

// runInner starts gldap on a free loopback port and waits until it accepts
// connections.
func runInner(srv *gldap.Server) (string, error) {
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		errc := make(chan error, 1)
		go func() { errc <- srv.Run(addr) }()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case last = <-errc:
				if last == nil {
					return "", errors.New("memdirectory: server stopped during startup")
				}
			default:
				if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					c.Close()
					return addr, nil
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			break
		}
	}
	return "", fmt.Errorf("memdirectory: cannot start: %v", last)
}

func (d *MemDirectory) relay(ln net.Listener, inner string) {
	defer close(d.done)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", inner)
		if err != nil {
			c.Close()
			continue
		}
		d.relayMu.Lock()
		if d.stopped {
			d.relayMu.Unlock()
			c.Close()
			s.Close()
			return
		}
		d.relays[c], d.relays[s] = true, true
		d.relayMu.Unlock()
		closeBoth := func() {
			c.Close()
			s.Close()
			d.relayMu.Lock()
			delete(d.relays, c)
			delete(d.relays, s)
			d.relayMu.Unlock()
		}
		go func() { _, _ = io.Copy(s, c); closeBoth() }()
		go func() { _, _ = io.Copy(c, s); closeBoth() }()
	}
}

// Stop closes every client connection and stops the server. It is safe to
// call more than once.
func (d *MemDirectory) Stop() error {
	d.mu.Lock()
	srv, ln, done := d.srv, d.ln, d.done
	d.mu.Unlock()
	if srv == nil {
		return nil
	}
	d.relayMu.Lock()
	if d.stopped {
		d.relayMu.Unlock()
		return nil
	}
	d.stopped = true
	ln.Close()
	for c := range d.relays {
		c.Close()
	}
	d.relayMu.Unlock()
	<-done
	return srv.Stop()
}

func (d *MemDirectory) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { _ = w.Write(resp) }()
	m, err := r.GetSimpleBindMessage()
	if err != nil || m.AuthChoice != gldap.SimpleAuthChoice {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		return
	}
	d.bound.Delete(r.ConnectionID())
	cs := d.conn(r.ConnectionID())
	cs.mu.Lock()
	cs.bindStarted = true
	encrypted := cs.tls
	cs.mu.Unlock()
	pw := string(m.Password)
	if m.UserName == "" && pw == "" {
		resp.SetResultCode(gldap.ResultSuccess)
		return
	}
	if pw == "" {
		resp.SetResultCode(gldap.ResultUnwillingToPerform)
		resp.SetDiagnosticMessage("unauthenticated bind (DN with no password) disallowed")
		return
	}
	if d.cfg.tls != nil && !encrypted {
		resp.SetResultCode(gldap.ResultConfidentialityRequired)
		resp.SetDiagnosticMessage("StartTLS before a bind with a password")
		return
	}
	rdns, err := normalizeDN(m.UserName)
	if err != nil {
		return
	}
	key := strings.Join(rdns, ",")
	ok := false
	if want, found := d.cfg.accounts[key]; found {
		ok = want == pw
	} else {
		d.mu.RLock()
		if e, found := d.byKey[key]; found && len(e.get("pwdAccountLockedTime")) == 0 {
			for _, stored := range e.get("userPassword") {
				ok = ok || checkPassword(stored, pw)
			}
		}
		d.mu.RUnlock()
	}
	if ok {
		d.bound.Store(r.ConnectionID(), key)
		resp.SetResultCode(gldap.ResultSuccess)
	}
}

// handleStartTLS answers a StartTLS request: success and a TLS handshake,
// or operationsError (RFC 4511 §4.14.1, RFC 4513 §3.1.1) when the
// connection already uses TLS or a bind has started on it, leaving the
// session as it was.
func (d *MemDirectory) handleStartTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(startTLSOID)
	cs := d.conn(r.ConnectionID())
	cs.mu.Lock()
	defer cs.mu.Unlock()
	refused := ""
	switch {
	case cs.tls:
		refused = "TLS is already established on this connection"
	case cs.bindStarted:
		refused = "StartTLS after a bind has started on this connection"
	}
	if refused != "" {
		resp.SetResultCode(gldap.ResultOperationsError)
		resp.SetDiagnosticMessage(refused)
	}
	if err := w.Write(resp); err != nil || refused != "" {
		return
	}
	// The client starts its handshake once it reads the response; a
	// failed handshake leaves a connection that can only be closed.
	if err := r.StartTLS(d.cfg.tls); err != nil {
		return
	}
	cs.tls = true
}

// checkPassword compares a clear-text password with a stored userPassword
// value: clear text, {SHA} or {SSHA}.
func checkPassword(stored, pw string) bool {
	upper := strings.ToUpper(stored)
	switch {
	case strings.HasPrefix(upper, "{SSHA}"):
		raw, err := base64.StdEncoding.DecodeString(stored[6:])
		if err != nil || len(raw) <= sha1.Size {
			return false
		}
		sum := sha1.Sum(append([]byte(pw), raw[sha1.Size:]...)) //nolint:gosec
		return bytes.Equal(sum[:], raw[:sha1.Size])
	case strings.HasPrefix(upper, "{SHA}"):
		sum := sha1.Sum([]byte(pw)) //nolint:gosec
		return stored[5:] == base64.StdEncoding.EncodeToString(sum[:])
	case strings.HasPrefix(stored, "{"):
		return false
	}
	return stored == pw
}

type outEntry struct {
	seq   uint64
	dn    string
	attrs []Attribute
}

func (d *MemDirectory) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	defer func() { _ = w.Write(done) }()
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		return
	}
	if _, ok := d.bound.Load(r.ConnectionID()); d.cfg.requireBind && !ok {
		done.SetResultCode(gldap.ResultInsufficientAccessRights)
		done.SetDiagnosticMessage("bind required")
		return
	}
	filter, err := ldap.CompileFilter(m.Filter)
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		done.SetDiagnosticMessage("bad filter: " + err.Error())
		return
	}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	if paging != nil && paging.PagingSize == 0 { // abandon
		pc, _ := gldap.NewControlPaging(0)
		done.SetControls(pc)
		return
	}
	out, code, diag, cookie := d.find(m, filter, paging)
	for _, e := range out {
		resp := r.NewSearchResponseEntry(e.dn)
		for _, a := range e.attrs {
			resp.AddAttribute(a.Name, a.Values)
		}
		if err := w.Write(resp); err != nil {
			return
		}
	}
	done.SetResultCode(code)
	if diag != "" {
		done.SetDiagnosticMessage(diag)
	}
	if paging != nil && code == gldap.ResultSuccess {
		pc, _ := gldap.NewControlPaging(0)
		pc.SetCookie(cookie)
		done.SetControls(pc)
	}
}

// find selects the entries of one search response (one page).
func (d *MemDirectory) find(m *gldap.SearchMessage, filter *ber.Packet, paging *gldap.ControlPaging) (out []outEntry, code int, diag string, cookie []byte) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sel := newSelector(m.Attributes)
	sel.ad, sel.maxValRange = d.cfg.ad, d.cfg.maxValRange
	if m.BaseDN == "" && m.Scope == gldap.BaseObject {
		return []outEntry{d.rootDSE(sel)}, gldap.ResultSuccess, "", nil
	}
	if d.cfg.subschema && strings.EqualFold(m.BaseDN, subschemaDN) && m.Scope == gldap.BaseObject {
		return []outEntry{{dn: subschemaDN, attrs: sel.pick(d.subschemaEntry(), nil)}}, gldap.ResultSuccess, "", nil
	}
	base, err := normalizeDN(m.BaseDN)
	if err != nil {
		return nil, gldap.ResultInvalidDNSyntax, err.Error(), nil
	}
	if _, ok := d.byKey[strings.Join(base, ",")]; !ok {
		return nil, gldap.ResultNoSuchObject, "", nil
	}
	var after uint64
	if paging != nil && len(paging.Cookie) > 0 {
		after, err = strconv.ParseUint(string(paging.Cookie), 10, 64)
		if err != nil {
			return nil, gldap.ResultUnwillingToPerform, "paged results cookie is invalid", nil
		}
	}
	limit := int(m.SizeLimit)
	if d.cfg.sizeLimit > 0 && (limit == 0 || d.cfg.sizeLimit < limit) {
		limit = d.cfg.sizeLimit
	}
	pageSize := 0
	if paging != nil {
		pageSize = int(paging.PagingSize)
	}
	mo := &memberOfIndex{d: d}
	before := 0 // matches already sent on earlier pages
	for _, e := range d.order {
		if !inScope(e.rdns, base, m.Scope) || !matchFilter(filter, e, mo) {
			continue
		}
		if e.seq <= after {
			before++
			continue
		}
		if limit > 0 && before+len(out) >= limit {
			return out, gldap.ResultSizeLimitExceeded, "", nil
		}
		if d.cfg.timeLimit > 0 && before+len(out) >= d.cfg.timeLimit {
			return out, gldap.ResultTimeLimitExceeded, "", nil
		}
		if pageSize > 0 && len(out) == pageSize {
			return out, gldap.ResultSuccess, "", []byte(strconv.FormatUint(out[len(out)-1].seq, 10))
		}
		out = append(out, outEntry{seq: e.seq, dn: e.dn, attrs: sel.pick(e, mo)})
	}
	return out, gldap.ResultSuccess, "", nil
}

func (d *MemDirectory) rootDSE(sel selector) outEntry {
	var contexts []string
	for _, e := range d.order {
		if _, ok := d.byKey[strings.Join(e.rdns[1:], ",")]; !ok || len(e.rdns) == 1 {
			contexts = append(contexts, e.dn)
		}
	}
	all := &memEntry{attrs: []Attribute{
		{Name: "objectClass", Values: []string{"top"}},
		{Name: "namingContexts", Values: contexts},
		{Name: "supportedControl", Values: []string{ldap.ControlTypePaging}},
		{Name: "supportedLDAPVersion", Values: []string{"3"}},
	}}
	if d.cfg.tls != nil {
		all.attrs = append(all.attrs, Attribute{Name: "supportedExtension", Values: []string{startTLSOID}})
	}
	if d.cfg.subschema {
		all.attrs = append(all.attrs, Attribute{Name: "subschemaSubentry", Values: []string{subschemaDN}})
	}
	if sel.all || len(sel.names) == 0 {
		return outEntry{dn: "", attrs: all.attrs}
	}
	return outEntry{dn: "", attrs: sel.pick(all, nil)}
}

// schemaAliases are the usual names of a few attribute types, primary
// name first.
var schemaAliases = [][]string{{"cn", "commonName"}, {"sn", "surname"}, {"givenName", "gn"}, {"uid", "userid"}, {"mail", "rfc822Mailbox"}}

// subschemaEntry defines every attribute the entries use, the aliases
// and the operational attributes, one attributeTypes value each.
func (d *MemDirectory) subschemaEntry() *memEntry {
	names := map[string][]string{}
	for _, group := range schemaAliases {
		names[strings.ToLower(group[0])] = group
	}
	for _, op := range []string{"entryUUID", "pwdAccountLockedTime", "memberOf", "createTimestamp", "modifyTimestamp", "objectClass", "userPassword"} {
		if _, ok := names[strings.ToLower(op)]; !ok {
			names[strings.ToLower(op)] = []string{op}
		}
	}
	for _, e := range d.order {
		for _, a := range e.attrs {
			if _, ok := names[strings.ToLower(a.Name)]; !ok {
				names[strings.ToLower(a.Name)] = []string{a.Name}
			}
		}
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	defs := make([]string, 0, len(keys))
	for i, k := range keys {
		quoted := make([]string, len(names[k]))
		for j, n := range names[k] {
			quoted[j] = "'" + n + "'"
		}
		defs = append(defs, fmt.Sprintf("( 1.3.6.1.4.1.99999.1.%d NAME ( %s ) )", i+1, strings.Join(quoted, " ")))
	}
	return &memEntry{attrs: []Attribute{{Name: "objectClass", Values: []string{"subschema"}}, {Name: "attributeTypes", Values: defs}}}
}

// selector is a search request's attribute selection.
type selector struct {
	all, allOperational, none bool
	names                     []string
	// ad and maxValRange: Active Directory mode (see WithActiveDirectory).
	ad          bool
	maxValRange int
}

func newSelector(attrs []string) selector {
	var s selector
	if len(attrs) == 0 {
		s.all = true
	}
	for _, a := range attrs {
		switch a {
		case "*":
			s.all = true
		case "+":
			s.allOperational = true
		case "1.1":
			s.none = len(attrs) == 1
		default:
			s.names = append(s.names, a)
		}
	}
	return s
}

func (s selector) wants(name string) bool {
	l := strings.ToLower(name)
	if operational[l] && !(s.ad && l == "memberof") {
		if s.allOperational {
			return true
		}
	} else if s.all {
		return true
	}
	for _, n := range s.names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func (s selector) pick(e *memEntry, mo *memberOfIndex) []Attribute {
	if s.none {
		return nil
	}
	var out []Attribute
	hasMemberOf := false
	for _, a := range e.attrs {
		if strings.EqualFold(a.Name, "memberOf") {
			hasMemberOf = true
		}
		if s.wants(a.Name) {
			out = append(out, s.firstRange(a))
		}
		out = append(out, s.requestedRanges(a)...)
	}
	if !hasMemberOf && mo != nil && s.wants("memberOf") {
		if groups := mo.of(e); len(groups) > 0 {
			out = append(out, Attribute{Name: "memberOf", Values: groups})
		}
	}
	return out
}

// firstRange returns a, or in AD mode its first MaxValRange values named
// "attr;range=0-N" when it has more.
func (s selector) firstRange(a Attribute) Attribute {
	if !s.ad || len(a.Values) <= s.maxValRange {
		return Attribute{Name: a.Name, Values: slices.Clone(a.Values)}
	}
	return Attribute{Name: fmt.Sprintf("%s;range=0-%d", a.Name, s.maxValRange-1), Values: slices.Clone(a.Values[:s.maxValRange])}
}

// requestedRanges answers "attr;range=LO-HI" and "attr;range=LO-*" requests
// for a in AD mode: at most MaxValRange values from LO, the last slice
// named "LO-*". A request starting past the last value returns nothing.
func (s selector) requestedRanges(a Attribute) []Attribute {
	if !s.ad {
		return nil
	}
	var out []Attribute
	for _, n := range s.names {
		base, rng, ok := strings.Cut(n, ";")
		if !ok || !strings.EqualFold(base, a.Name) {
			continue
		}
		spec, ok := strings.CutPrefix(strings.ToLower(rng), "range=")
		if !ok {
			continue
		}
		loS, hiS, ok := strings.Cut(spec, "-")
		lo, err := strconv.Atoi(loS)
		if !ok || err != nil || lo < 0 || lo >= len(a.Values) {
			continue
		}
		end := lo + s.maxValRange - 1
		if hiS != "*" {
			hi, err := strconv.Atoi(hiS)
			if err != nil || hi < lo {
				continue
			}
			end = min(end, hi)
		}
		name := fmt.Sprintf("%s;range=%d-%d", a.Name, lo, end)
		if end >= len(a.Values)-1 {
			end = len(a.Values) - 1
			name = fmt.Sprintf("%s;range=%d-*", a.Name, lo)
		}
		out = append(out, Attribute{Name: name, Values: slices.Clone(a.Values[lo : end+1])})
	}
	return out
}

// memberOfIndex computes the virtual memberOf attribute from the member and
// uniqueMember values of groups, once per search.
type memberOfIndex struct {
	d     *MemDirectory
	index map[string][]string
}

func (m *memberOfIndex) of(e *memEntry) []string {
	if m.index == nil {
		m.index = map[string][]string{}
		for _, g := range m.d.order {
			for _, attr := range []string{"member", "uniqueMember"} {
				for _, v := range g.get(attr) {
					if rdns, err := normalizeDN(v); err == nil {
						k := strings.Join(rdns, ",")
						m.index[k] = append(m.index[k], g.dn)
					}
				}
			}
		}
	}
	return slices.Clone(m.index[e.key()])
}

// values returns an entry's values of attr, virtual memberOf included.
func values(e *memEntry, attr string, mo *memberOfIndex) []string {
	v := e.get(attr)
	if v == nil && strings.EqualFold(attr, "memberOf") && mo != nil {
		v = mo.of(e)
	}
	return v
}

func inScope(rdns, base []string, scope gldap.Scope) bool {
	switch scope {
	case gldap.BaseObject:
		return len(rdns) == len(base) && under(rdns, base)
	case gldap.SingleLevel:
		return len(rdns) == len(base)+1 && under(rdns, base)
	default:
		return under(rdns, base)
	}
}

// under reports whether rdns is base or below it.
func under(rdns, base []string) bool {
	if len(rdns) < len(base) {
		return false
	}
	return slices.Equal(rdns[len(rdns)-len(base):], base)
}

// matchFilter evaluates a compiled filter with caseIgnore semantics.
func matchFilter(f *ber.Packet, e *memEntry, mo *memberOfIndex) bool {
	str := func(p *ber.Packet) string { return ber.DecodeString(p.Data.Bytes()) }
	switch f.Tag {
	case ldap.FilterAnd:
		for _, c := range f.Children {
			if !matchFilter(c, e, mo) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range f.Children {
			if matchFilter(c, e, mo) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return len(f.Children) == 1 && !matchFilter(f.Children[0], e, mo)
	case ldap.FilterPresent:
		return len(values(e, str(f), mo)) > 0
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch:
		want := str(f.Children[1])
		attr := str(f.Children[0])
		for _, v := range values(e, attr, mo) {
			if strings.EqualFold(v, want) || (isDNAttr(attr) && sameDN(v, want)) {
				return true
			}
		}
		return false
	case ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		want := str(f.Children[1])
		for _, v := range values(e, str(f.Children[0]), mo) {
			c := compareValues(v, want)
			if (f.Tag == ldap.FilterGreaterOrEqual && c >= 0) || (f.Tag == ldap.FilterLessOrEqual && c <= 0) {
				return true
			}
		}
		return false
	case ldap.FilterSubstrings:
		attr := str(f.Children[0])
		for _, v := range values(e, attr, mo) {
			if matchSubstrings(strings.ToLower(v), f.Children[1].Children) {
				return true
			}
		}
		return false
	case ldap.FilterExtensibleMatch:
		var rule, attr, want string
		for _, c := range f.Children {
			switch c.Tag {
			case ldap.MatchingRuleAssertionMatchingRule:
				rule = str(c)
			case ldap.MatchingRuleAssertionType:
				attr = str(c)
			case ldap.MatchingRuleAssertionMatchValue:
				want = str(c)
			}
		}
		bits, err := strconv.ParseInt(want, 10, 64)
		if err != nil {
			return false
		}
		for _, v := range values(e, attr, mo) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch rule {
			case "1.2.840.113556.1.4.803": // LDAP_MATCHING_RULE_BIT_AND
				if n&bits == bits {
					return true
				}
			case "1.2.840.113556.1.4.804": // LDAP_MATCHING_RULE_BIT_OR
				if n&bits != 0 {
					return true
				}
			}
		}
		return false
	}
	return false
}

func matchSubstrings(v string, parts []*ber.Packet) bool {
	for i, p := range parts {
		s := strings.ToLower(ber.DecodeString(p.Data.Bytes()))
		switch p.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case ldap.FilterSubstringsAny:
			j := strings.Index(v, s)
			if j < 0 {
				return false
			}
			v = v[j+len(s):]
		case ldap.FilterSubstringsFinal:
			if i != len(parts)-1 || !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}

func compareValues(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func isDNAttr(attr string) bool {
	switch strings.ToLower(attr) {
	case "member", "uniquemember", "memberof", "manager", "owner", "seealso", "secretary":
		return true
	}
	return false
}

func sameDN(a, b string) bool {
	x, errA := normalizeDN(a)
	y, errB := normalizeDN(b)
	return errA == nil && errB == nil && slices.Equal(x, y)
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// normalizeDN returns a DN's RDNs, leaf first, each as lower-case
// type=value pairs (sorted within a multi-valued RDN, values escaped).
func normalizeDN(dn string) ([]string, error) {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, fmt.Errorf("invalid DN %q: %w", dn, err)
	}
	out := make([]string, len(p.RDNs))
	for i, r := range p.RDNs {
		parts := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			parts[j] = strings.ToLower(a.Type) + "=" + ldap.EscapeDN(strings.ToLower(strings.TrimSpace(a.Value)))
		}
		sort.Strings(parts)
		out[i] = strings.Join(parts, "+")
	}
	return out, nil
}

// splitDN splits a DN string at its unescaped commas, keeping escapes.
func splitDN(dn string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			parts = append(parts, strings.TrimSpace(dn[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(dn[start:]))
}

func parentDN(dn string) string {
	parts := splitDN(dn)
	return strings.Join(parts[1:], ",")
}

func leadingRDNs(dn string, n int) string {
	return strings.Join(splitDN(dn)[:n], ",")
}

func joinDN(head, tail string) string {
	if head == "" {
		return tail
	}
	return head + "," + tail
}

// StartMem builds a MemDirectory from ldif, serves it on a free loopback
// port until the test or benchmark ends, and returns it with its URL; any
// error fails tb.
func StartMem(tb testing.TB, ldif string, opts ...MemOption) (*MemDirectory, string) {
	tb.Helper()
	d, err := NewMemDirectory(strings.NewReader(ldif), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	url, err := d.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Stop() })
	return d, url
}
