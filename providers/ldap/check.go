package ldap

// What `ldapsync check` asks of a directory, step by step: connect, TLS
// (which version, which cipher, which certificate), bind, then one paged
// search that counts the entries and, per attribute, how many of them
// carry it, and a compare that tells an attribute no entry has from one
// an ACL hides from the bind account. Nothing here writes.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ConnStage names one step of opening a connection.
type ConnStage string

// The steps of opening a connection, in order.
const (
	// StageConnect is the TCP connection to the server.
	StageConnect ConnStage = "connect"
	// StageTLS is the TLS handshake: ldaps:// or StartTLS.
	StageTLS ConnStage = "tls"
	// StageBind is the simple bind with bind_dn and bind_password.
	StageBind ConnStage = "bind"
)

// StageError is a failure to open a connection at one step.
type StageError struct {
	// Stage is the step that failed.
	Stage ConnStage
	// ResultCode is the server's LDAP result code when the server
	// refused the step (a bind with wrong credentials: 49), else 0.
	ResultCode uint16
	// Err is the failure, with the source named.
	Err error
	// TLS is the connection's TLS when the failure came after it was
	// set up (a refused bind), else nil.
	TLS *TLSInfo
}

// Error returns the failure's message.
func (e *StageError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *StageError) Unwrap() error { return e.Err }

// CertInfo describes one certificate the server presented.
type CertInfo struct {
	// Subject and Issuer are the distinguished names, as Go prints them
	// (CN=localhost).
	Subject, Issuer string
	// NotBefore and NotAfter bound the certificate's validity.
	NotBefore, NotAfter time.Time
	// DNSNames and IPAddresses are the subject alternative names.
	DNSNames, IPAddresses []string
}

// TLSInfo describes the TLS of a connection.
type TLSInfo struct {
	// Mode is "ldaps", "starttls", or "" for a connection without TLS.
	Mode string
	// Version is the protocol version, "TLS 1.3".
	Version string
	// CipherSuite is the cipher suite's standard name.
	CipherSuite string
	// Verified is false when insecure_skip_verify is set: the chain and
	// the host name were not checked.
	Verified bool
	// Certificates are the certificates the server sent, leaf first.
	Certificates []CertInfo
}

// Probe is an open, bound connection to a source's directory for
// `ldapsync check`. It is not safe for concurrent use; Close it.
type Probe struct {
	s    *Source
	conn *ldap.Conn
	// TLS is the connection's TLS, Mode "" without.
	TLS TLSInfo
	// Anonymous is true when the source has no bind_dn.
	Anonymous bool
}

// OpenProbe connects, sets up TLS and binds as Read does (the same
// dial), one step at a time: an error is a *StageError naming the step
// that failed, with the TLS once it was set up.
func (s *Source) OpenProbe(ctx context.Context) (*Probe, error) {
	p := &Probe{s: s, Anonymous: s.set.BindDN == ""}
	conn, _, err := s.dial(ctx, &p.TLS)
	if err != nil {
		var se *StageError
		if errors.As(err, &se) && se.Stage == StageBind {
			se.TLS = &p.TLS
		}
		return nil, err
	}
	p.conn = conn
	return p, nil
}

// tlsInfo describes the TLS of the connection under h (Mode "" without).
func (s *Source) tlsInfo(h *handoffConn) TLSInfo {
	var info TLSInfo
	tc, ok := h.transport().(*tls.Conn)
	if !ok {
		return info
	}
	info.Mode = "starttls"
	if s.ldaps {
		info.Mode = "ldaps"
	}
	st := tc.ConnectionState()
	info.Version = tls.VersionName(st.Version)
	info.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	info.Verified = !s.set.InsecureSkipVerify
	for _, c := range st.PeerCertificates {
		ci := CertInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter, DNSNames: c.DNSNames}
		for _, ip := range c.IPAddresses {
			ci.IPAddresses = append(ci.IPAddresses, ip.String())
		}
		info.Certificates = append(info.Certificates, ci)
	}
	return info
}

// Close closes the connection.
func (p *Probe) Close() error {
	return p.conn.Close()
}

// Coverage is what one search of the source's users saw.
type Coverage struct {
	// Entries is the number of entries the search returned.
	Entries int
	// Pages is the number of paged-search round trips.
	Pages int
	// Referrals is the number of search result references (not followed).
	Referrals int
	// First holds the DNs of the first entries, up to the number asked.
	First []string
	// Have counts, for each attribute asked for (as spelt in the
	// request), the entries that returned at least one value of it.
	Have map[string]int
	// Without holds, for each attribute asked for, the DN of one entry
	// that returned no value of it ("" when all did), for Readable.
	Without map[string]string
}

// Coverage runs the source's search (base_dn, filter, page_size, as Read
// does) asking for attrs and counts, per attribute, the entries that
// carry it; values are not kept. first is how many DNs to keep in
// Coverage.First. Attribute names match without case; a name with
// options (cn;lang-de) counts only values returned under those options.
func (p *Probe) Coverage(ctx context.Context, attrs []string, first int) (Coverage, error) {
	cov := Coverage{Have: map[string]int{}, Without: map[string]string{}}
	byLower := map[string][]string{}
	var request []string
	for _, a := range attrs {
		l := strings.ToLower(a)
		if _, seen := byLower[l]; !seen {
			request = append(request, a)
		}
		byLower[l] = append(byLower[l], a)
		cov.Have[a] = 0
	}
	if len(request) == 0 {
		request = []string{"1.1"} // no attributes: the DNs only
	}
	p.conn.SetTimeout(0) // every page has its own deadline
	stats, err := p.s.pagedSearch(ctx, p.conn, p.s.set.BaseDN, p.s.set.Filter, request, func(e *ldap.Entry) error {
		if len(cov.First) < first {
			cov.First = append(cov.First, e.DN)
		}
		got := map[string]bool{}
		for _, a := range e.Attributes {
			if len(a.ByteValues) > 0 {
				got[strings.ToLower(a.Name)] = true
			}
		}
		for l, spellings := range byLower {
			for _, sp := range spellings {
				if got[l] {
					cov.Have[sp]++
				} else if cov.Without[sp] == "" {
					cov.Without[sp] = e.DN
				}
			}
		}
		return nil
	})
	cov.Entries, cov.Pages, cov.Referrals = stats.Entries, stats.Pages, stats.Referrals
	return cov, err
}

// Access is what Readable found out about an attribute.
type Access int

// The answers of Readable.
const (
	// AccessUnknown: the server's answer does not tell (the probe value
	// does not fit the attribute's syntax, or the server does not say).
	AccessUnknown Access = iota
	// AccessReadable: the bind account may compare (and so read) the
	// attribute on the entry; an entry without values simply has none.
	AccessReadable
	// AccessDenied: the server refused the bind account access to the
	// attribute on the entry (result code 50, insufficientAccessRights):
	// an ACL hides it.
	AccessDenied
)

// probeValues are the values Readable compares with, in turn, until one
// fits the attribute's syntax: a directory string, a UUID (entryUUID),
// a generalized time (pwdAccountLockedTime), a number, a boolean.
var probeValues = []string{"x", "00000000-0000-0000-0000-000000000000", "19700101000000Z", "0", "FALSE"}

// Readable tells an attribute no entry has from one the bind account may
// not read: it compares attr on the entry dn with values that fit common
// syntaxes. OpenLDAP answers insufficientAccessRights (50) when an ACL
// denies the bind account the attribute, and noSuchAttribute (16),
// compareFalse or compareTrue when the attribute is merely absent or
// readable. err is a failure to talk to the server.
func (p *Probe) Readable(ctx context.Context, dn, attr string) (Access, error) {
	p.conn.SetTimeout(p.s.set.Timeout)
	for _, v := range probeValues {
		if ctx.Err() != nil {
			return AccessUnknown, ctx.Err()
		}
		_, err := p.conn.Compare(dn, attr, v)
		var le *ldap.Error
		switch {
		case err == nil:
			return AccessReadable, nil
		case !errors.As(err, &le):
			return AccessUnknown, p.s.errorf("compare %s on %q: %w", attr, dn, err)
		}
		switch le.ResultCode {
		case ldap.LDAPResultCompareFalse, ldap.LDAPResultCompareTrue, ldap.LDAPResultNoSuchAttribute:
			return AccessReadable, nil
		case ldap.LDAPResultInsufficientAccessRights:
			return AccessDenied, nil
		case ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultInappropriateMatching:
			continue // try a value of another syntax
		}
		if le.ResultCode >= ldap.ErrorNetwork {
			return AccessUnknown, p.s.errorf("compare %s on %q: %w", attr, dn, err)
		}
		return AccessUnknown, nil
	}
	return AccessUnknown, nil
}

// SearchDescription names the search a source runs, for messages:
// base "ou=users,dc=example,dc=com", filter "(objectClass=inetOrgPerson)".
func (s *Source) SearchDescription() string {
	return fmt.Sprintf("base %q, filter %q", s.set.BaseDN, s.set.Filter)
}
