package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
)

// Source reads user entries from one LDAP directory. It implements
// engine.Source. A Source is safe for concurrent use; every Read opens its
// own connection.
type Source struct {
	name   string
	set    Settings
	preset Preset
	tls    *tls.Config
	host   string
	addr   string
	ldaps  bool
	warns  []string
	now    func() time.Time

	// goldapReader makes Read use go-ldap's SearchAsync (pagedSearch and
	// convert) instead of the in-place reader; for tests and benchmarks,
	// which compare the two.
	goldapReader bool

	mu   sync.Mutex
	last ReadStats
}

// ReadStats counts what the last completed Read saw.
type ReadStats struct {
	// Entries is the number of entries passed to the callback.
	Entries int
	// Referrals is the number of search result references ignored.
	Referrals int
	// Pages is the number of paged-search round trips.
	Pages int
}

var _ engine.Source = (*Source)(nil)

// New checks the settings, fills in the preset's defaults and returns the
// source called name. It does not connect.
func New(name string, s Settings) (*Source, error) {
	set, p, err := s.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", name, err)
	}
	if _, err := ldap.CompileFilter(set.Filter); err != nil {
		return nil, fmt.Errorf("source %q: filter %q: %w", name, set.Filter, err)
	}
	u, _ := parseURL(set.URL) // checked by withDefaults
	src := &Source{name: name, set: set, preset: p, host: u.Hostname(), ldaps: u.Scheme == "ldaps", now: time.Now}
	port := u.Port()
	switch {
	case port != "":
	case src.ldaps:
		port = ldap.DefaultLdapsPort
	default:
		port = ldap.DefaultLdapPort
	}
	src.addr = net.JoinHostPort(src.host, port)
	if src.ldaps || set.StartTLS {
		cfg := &tls.Config{ServerName: src.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: set.InsecureSkipVerify} //nolint:gosec // opt-in
		if set.CACertFile != "" {
			pem, err := os.ReadFile(set.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("source %q: ca_cert_file: %w", name, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("source %q: ca_cert_file %q holds no PEM certificate", name, set.CACertFile)
			}
			cfg.RootCAs = pool
		}
		src.tls = cfg
		if set.InsecureSkipVerify {
			src.warns = append(src.warns, fmt.Sprintf("source %q: insecure_skip_verify is set: the server certificate is not verified", name))
		}
	} else if set.BindPassword != "" {
		src.warns = append(src.warns, fmt.Sprintf("source %q: insecure_allow_plaintext is set: the bind password is sent unencrypted over %s", name, set.URL))
	}
	return src, nil
}

// Info names the source.
func (s *Source) Info() engine.SourceInfo { return engine.SourceInfo{Type: "ldap", Name: s.name} }

// Warnings returns the security warnings of the settings (plaintext
// password, unverified certificate), for the CLI to print.
func (s *Source) Warnings() []string { return append([]string(nil), s.warns...) }

// Settings returns the effective settings, defaults filled in. The bind
// password is included: do not print it.
func (s *Source) Settings() Settings { return s.set }

// Preset returns the schema preset in effect.
func (s *Source) Preset() Preset { return s.preset }

// LastRead returns the counters of the last successful Read.
func (s *Source) LastRead() ReadStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// ReadWarnings returns the warnings of the last successful Read: search
// result references (referrals) that were not followed. It implements
// engine.ReadWarner.
func (s *Source) ReadWarnings() []string {
	st := s.LastRead()
	if st.Referrals == 0 {
		return nil
	}
	return []string{fmt.Sprintf("source %q: %d search result references (referrals) under %q were not followed; their entries are not read (set base_dn to the subtree that holds the users)", s.name, st.Referrals, s.set.BaseDN)}
}

// errorf wraps err with the source name.
func (s *Source) errorf(format string, args ...any) error {
	return fmt.Errorf("source %q: "+format, append([]any{s.name}, args...)...)
}

// connect dials, sets up TLS and binds. The caller closes the connection.
func (s *Source) connect(ctx context.Context) (*ldap.Conn, error) {
	conn, _, err := s.dial(ctx, nil)
	return conn, err
}

// dial is connect that also returns the handoffConn under go-ldap, for the
// in-place search reader. An error is a *StageError naming the step that
// failed (its text is the failure's own). When tlsOut is not nil it is
// filled with the connection's TLS once that is set up, before the bind:
// `ldapsync check` reports it, also for a refused bind.
func (s *Source) dial(ctx context.Context, tlsOut *TLSInfo) (*ldap.Conn, *handoffConn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
	defer cancel()
	stageErr := func(st ConnStage, code uint16, format string, args ...any) error {
		return &StageError{Stage: st, ResultCode: code, Err: s.errorf(format, args...)}
	}
	d := net.Dialer{Timeout: s.set.Timeout}
	raw, err := d.DialContext(dctx, "tcp", s.addr)
	if err != nil {
		return nil, nil, stageErr(StageConnect, 0, "connect %s: %w", s.set.URL, err)
	}
	if s.ldaps {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, nil, stageErr(StageTLS, 0, "connect %s: TLS handshake: %w%s", s.set.URL, err, tlsHint(err.Error()))
		}
		raw = tc
	}
	h := newHandoffConn(raw)
	conn := ldap.NewConn(h, s.ldaps)
	conn.Start()
	conn.SetTimeout(s.set.Timeout)
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	defer stop()
	fail := func(err error) (*ldap.Conn, *handoffConn, error) {
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, stageErr(StageConnect, 0, "connect %s: %w", s.set.URL, ctx.Err())
		}
		return nil, nil, err
	}
	if s.set.StartTLS {
		if err := startTLS(dctx, conn, h, s.tls); err != nil {
			var le *ldap.Error
			if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
				return fail(stageErr(StageTLS, le.ResultCode, "StartTLS on %s refused by the server (%w); use ldaps:// or enable TLS on the server", s.set.URL, err))
			}
			return fail(stageErr(StageTLS, 0, "StartTLS on %s: %w%s", s.set.URL, err, tlsHint(err.Error())))
		}
	}
	if tlsOut != nil {
		*tlsOut = s.tlsInfo(h)
	}
	if s.set.BindDN != "" {
		if err := conn.Bind(s.set.BindDN, s.set.BindPassword); err != nil {
			var code uint16
			var le *ldap.Error
			if errors.As(err, &le) {
				code = le.ResultCode
			}
			return fail(stageErr(StageBind, code, "bind as %q: %w", s.set.BindDN, err))
		}
	}
	return conn, h, nil
}

// startTLS runs StartTLS (RFC 4511 4.14) on conn: go-ldap sends the
// extended request and reads the answer, then the handshake runs on the
// transport under go-ldap (see handoff.go), so that the *tls.Conn stays
// reachable for the in-place search reader. Errors are go-ldap's: a
// refusal is the server's result code, a failed handshake ErrorNetwork.
func startTLS(ctx context.Context, conn *ldap.Conn, h *handoffConn, cfg *tls.Config) error {
	if _, err := conn.Extended(ldap.NewExtendedRequest(startTLSOID, nil)); err != nil {
		return err
	}
	tc := tls.Client(h.hold(), cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		h.release(h.transport())
		return ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake failed (%v)", err))
	}
	h.release(tc)
	return nil
}

// startTLSOID names the StartTLS extended operation.
const startTLSOID = "1.3.6.1.4.1.1466.20037"

func tlsHint(msg string) string {
	switch {
	case strings.Contains(msg, "unknown authority"):
		return " (the server certificate is not signed by a CA in ca_cert_file or the system pool)"
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return " (the URL's host name is not in the server certificate's subject alternative names)"
	}
	return ""
}

// Read streams every entry under the base DN that matches the filter. attrs
// are the attributes the mappings need; the stable id attribute and the
// preset's disabled-rule attributes are always requested too. Any failure is
// an error: the caller never sees a partial directory as complete. An error
// returned by fn stops the read and is returned unchanged.
func (s *Source) Read(ctx context.Context, attrs []string, fn func(engine.Entry) error) error {
	conn, h, err := s.dial(ctx, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	// Pages are bounded by our own per-page context, not go-ldap's request
	// timeout: that one drops responses a slow consumer has not taken yet.
	conn.SetTimeout(0)

	want := map[string][]string{} // lower-case name -> requested spellings
	var request []string
	seen := map[string]bool{}
	add := func(a string) {
		if l := strings.ToLower(a); !seen[l] {
			seen[l] = true
			request = append(request, a)
		}
	}
	for _, a := range attrs {
		l := strings.ToLower(a)
		if !slices.Contains(want[l], a) {
			want[l] = append(want[l], a)
		}
		add(a)
	}
	add(s.set.IDAttribute)
	disabledAttrs := map[string]bool{}
	for _, a := range s.preset.DisabledAttributes {
		add(a)
		disabledAttrs[strings.ToLower(a)] = true
	}
	idAttr := strings.ToLower(s.set.IDAttribute)

	var stats ReadStats
	if s.goldapReader {
		stats, err = s.pagedSearch(ctx, conn, s.set.BaseDN, s.set.Filter, request, func(e *ldap.Entry) error {
			entry, err := s.convert(e, want, idAttr, disabledAttrs)
			if err != nil {
				return err
			}
			return fn(entry)
		})
	} else {
		dec := newEntryDecoder(s, want, idAttr, disabledAttrs)
		stats, err = s.readInPlace(ctx, h, func() { conn.Close() }, s.set.BaseDN, s.set.Filter, request, dec, fn)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.last = stats
	s.mu.Unlock()
	return nil
}

// searchError turns a failed search under base into an error that names
// the fix.
func (s *Source) searchError(base string, err error, n int) error {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultSizeLimitExceeded:
			who := s.set.BindDN
			if who == "" {
				who = "anonymous"
			}
			return s.errorf("search %q: size limit exceeded (result code 4) after %d entries: the server caps how many entries %s may read; "+
				"raise that limit (OpenLDAP: olcLimits: dn.exact=\"%s\" size=unlimited, or size.prtotal=unlimited; "+
				"Active Directory: MaxPageSize, and keep page_size <= 1000). A partial directory is never used: %w",
				base, n, who, s.set.BindDN, err)
		case ldap.LDAPResultTimeLimitExceeded:
			return s.errorf("search %q: time limit exceeded (result code 3) after %d entries: raise the server's time limit for the bind account "+
				"(OpenLDAP: olcLimits ... time=unlimited or olcTimeLimit; Active Directory: MaxQueryDuration) or narrow base_dn/filter: %w",
				base, n, err)
		case ldap.LDAPResultNoSuchObject:
			return s.errorf("search %q: base DN not found or not visible to the bind account (result code 32): %w", base, err)
		case ldap.ErrorNetwork:
			return s.errorf("search %q: connection lost after %d entries: %w", base, n, err)
		}
	}
	return s.errorf("search %q after %d entries: %w", base, n, err)
}

// convert copies one wire entry into an engine.Entry.
func (s *Source) convert(e *ldap.Entry, want map[string][]string, idAttr string, disabledAttrs map[string]bool) (engine.Entry, error) {
	out := engine.Entry{Source: s.name, DN: e.DN, Attrs: make(map[string][]string, len(want))}
	var dis map[string][]string
	for _, a := range e.Attributes {
		l := strings.ToLower(a.Name)
		spellings := want[l]
		if len(spellings) == 0 && l != idAttr && !disabledAttrs[l] {
			continue
		}
		vals := make([]string, len(a.ByteValues))
		for i, b := range a.ByteValues {
			vals[i] = textValue(a.Name, b)
		}
		for i, sp := range spellings {
			if i == 0 {
				out.Attrs[sp] = vals
			} else {
				out.Attrs[sp] = append([]string(nil), vals...)
			}
		}
		if l == idAttr && len(vals) > 0 {
			out.StableID = vals[0]
		}
		if disabledAttrs[l] {
			if dis == nil {
				dis = map[string][]string{}
			}
			dis[a.Name] = vals
		}
	}
	if out.StableID == "" {
		return out, s.errorf("entry %q has no %s (its stable id): check schema/id_attribute and that the bind account may read that attribute", e.DN, s.set.IDAttribute)
	}
	out.Disabled, out.DisabledReason = s.preset.Disabled(dis, s.now())
	return out, nil
}

// pagedSearch runs one paged subtree search under base on conn and calls
// fn for every entry, page by page (RFC 2696), each page bounded by the
// source's timeout. Referrals are counted, never followed. A server that
// hands back a cookie it already gave is refused rather than looped on.
// Any failure is an error that names the fix: the caller never sees a
// partial answer as complete.
func (s *Source) pagedSearch(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string, fn func(*ldap.Entry) error) (ReadStats, error) {
	var stats ReadStats
	paging := ldap.NewControlPaging(uint32(s.set.PageSize))
	seenCookies := map[string]bool{}
	for {
		stats.Pages++
		pctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
		// The buffer holds a whole page, so go-ldap's reader never waits on us.
		resp := conn.SearchAsync(pctx, req, s.set.PageSize+64)
		var cookie []byte
		for resp.Next() {
			e := resp.Entry()
			if e == nil {
				if resp.Referral() != "" {
					stats.Referrals++
				}
				if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
					cookie = c.Cookie
				}
				continue
			}
			if err := fn(e); err != nil {
				cancel()
				return stats, err
			}
			stats.Entries++
		}
		rerr, pageErr := resp.Err(), pctx.Err()
		cancel()
		switch {
		case ctx.Err() != nil:
			return stats, s.errorf("search %q cancelled after %d entries: %w", base, stats.Entries, ctx.Err())
		case rerr != nil:
			return stats, s.searchError(base, rerr, stats.Entries)
		case pageErr != nil:
			return stats, s.errorf("search %q: no complete answer within %s (page %d, after %d entries); raise timeout", base, s.set.Timeout, stats.Pages, stats.Entries)
		case conn.IsClosing():
			return stats, s.errorf("search %q: connection closed after %d entries", base, stats.Entries)
		}
		if len(cookie) == 0 {
			return stats, nil
		}
		if seenCookies[string(cookie)] {
			return stats, s.errorf("search %q: the server returned a paged-results cookie it had already given (page %d); refusing to loop", base, stats.Pages)
		}
		seenCookies[string(cookie)] = true
		paging.SetCookie(cookie)
	}
}
