package ldap_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// Tests of the in-place user search reader (search.go, wire.go,
// handoff.go) against real slapd: the same entries, attributes, counters
// and errors as the go-ldap SearchAsync reader for the same search, and
// the failure modes of a read (size limit, dropped connection, stalled
// server, cancellation).

// hostileCorpus is LDIF for slapadd (WithTestSchema): values a directory
// can hold that a BER reader can get wrong.
func hostileCorpus() string {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	rng := rand.New(rand.NewPCG(1, 2))
	photo := make([]byte, 70000) // binary, not valid UTF-8, a long-form length
	for i := range photo {
		photo[i] = byte(rng.UintN(256))
	}
	var b strings.Builder
	entry := func(uid string, lines ...string) {
		fmt.Fprintf(&b, "dn: uid=%s,ou=users,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: ldapsyncTestAccount\nuid: %s\nsn: %s\ncn: %s\n", uid, uid, uid, uid)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}
	entry("binary", "jpegPhoto:: "+b64(photo), "ldapsyncRawName:: "+b64([]byte{0xff, 0xfe, 0x00, 'x', 0xc3}))
	entry("long", "description: "+strings.Repeat("x", 300000), "givenName:: "+b64([]byte(strings.Repeat("Ä", 100000))))
	var many []string
	for i := range 3000 {
		many = append(many, fmt.Sprintf("mail: m%04d@example.com", i))
	}
	for i := range 200 {
		many = append(many, fmt.Sprintf("description: value %d", i))
	}
	entry("many", many...)
	entry("empty", "ldapsyncRawName:", "mail: empty@example.com")
	entry("utf8",
		"givenName:: "+b64([]byte("👩‍💻 e\u0301 \ufeffBOM שלום 中文 \U0010fffd")),
		"description:: "+b64([]byte("Zeile1\nZeile2\r\n\ttab")),
		"mail: utf8@example.com",
		"ldapsyncRawName:: "+b64([]byte("\xed\xa0\x80 surrogate, \xc0\xaf overlong")))
	entry("plain", "givenName: Plain", "mail: plain@example.com", "description: d")
	b.WriteString(`dn: ou=elsewhere,ou=users,dc=example,dc=com
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: ldap://127.0.0.2:1/ou=elsewhere,dc=example,dc=com

`)
	b.WriteString(ldaptest.GenerateUsers(250))
	return b.String()
}

var hostileAttrs = []string{"uid", "cn", "sn", "givenName", "GIVENNAME", "mail", "description", "jpegPhoto", "ldapsyncRawName", "nonexistent"}

// read reads with the in-place reader, or go-ldap's.
func read(ctx context.Context, t *testing.T, set ldap.Settings, goldap bool, attrs []string) ([]engine.Entry, ldap.ReadStats, error) {
	t.Helper()
	src := newSource(t, set)
	if goldap {
		ldap.UseGoLDAPReader(src)
	}
	got, err := tryRead(ctx, src, attrs...)
	return got, src.LastRead(), err
}

// same reads with both readers and requires the same entries, counters
// and error; it returns the entries.
func same(t *testing.T, set ldap.Settings, attrs []string) ([]engine.Entry, error) {
	t.Helper()
	want, wantStats, wantErr := read(context.Background(), t, set, true, attrs)
	got, gotStats, err := read(context.Background(), t, set, false, attrs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("in-place reader vs go-ldap (-go-ldap +in-place):\n%s", diff)
	}
	if gotStats != wantStats {
		t.Errorf("LastRead() = %+v, go-ldap %+v", gotStats, wantStats)
	}
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("err = %v\ngo-ldap: %v", err, wantErr)
	}
	return got, err
}

func TestInPlaceReaderMatchesGoLDAP(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithTestSchema(), ldaptest.WithLDIF(hostileCorpus()))
	plain := syncSettings(s)
	ldaps := plain
	ldaps.URL, ldaps.CACertFile, ldaps.InsecureAllowPlaintext = s.LDAPSURL, s.CACertFile, false
	starttls := plain
	starttls.StartTLS, starttls.CACertFile, starttls.InsecureAllowPlaintext = true, s.CACertFile, false
	for _, tc := range []struct {
		name string
		set  ldap.Settings
	}{{"plain", plain}, {"ldaps", ldaps}, {"starttls", starttls}} {
		for _, page := range []int{1, 7, 256, 1000} {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, page), func(t *testing.T) {
				if page == 1 && tc.name != "plain" {
					t.Skip("page size 1 once is enough")
				}
				set := tc.set
				set.PageSize = page
				got, err := same(t, set, hostileAttrs)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 256 {
					t.Fatalf("read %d entries, want 256", len(got))
				}
				by := byUID(got)
				if v := by["many"].Attrs["mail"]; len(v) != 3000 || v[2999] != "m2999@example.com" {
					t.Errorf("many: %d mail values", len(v))
				}
				if v := by["long"].Attrs["description"]; len(v) != 1 || len(v[0]) != 300000 {
					t.Errorf("long: description of %d values", len(v))
				}
				if v := by["binary"].Attrs["jpegPhoto"]; len(v) != 1 || len(v[0]) != 140000 {
					t.Errorf("binary: jpegPhoto is not 70000 bytes in hex")
				}
				if v := by["empty"].Attrs["ldapsyncRawName"]; len(v) != 1 || v[0] != "" {
					t.Errorf("empty: ldapsyncRawName = %q", v)
				}
				if v := by["utf8"].Attrs["GIVENNAME"]; len(v) != 1 || !strings.HasPrefix(v[0], "👩‍💻") {
					t.Errorf("utf8: GIVENNAME = %q", v)
				}
				if _, ok := by["plain"].Attrs["nonexistent"]; ok {
					t.Error("an attribute the entry does not have is in Attrs")
				}
			})
		}
	}

	// The stable id as the mapping's attribute, entries without it (the
	// referral object has none: an error after the same entries).
	set := plain
	set.IDAttribute, set.Filter, set.PageSize = "description", "(objectClass=*)", 3
	if _, err := same(t, set, []string{"uid"}); err == nil || !strings.Contains(err.Error(), "has no description") {
		t.Errorf("entry without the stable id: err = %v", err)
	}
	// A server-side size limit (500 for a user bind), at a page boundary
	// and inside a page.
	for _, page := range []int{100, 300} {
		set = plain
		set.BindDN, set.BindPassword, set.PageSize = ldaptest.GeneratedUser(1).DN, ldaptest.UserPassword, page
		set.Filter = "(objectClass=*)"
		set.BaseDN = s.BaseDN
		s.Add(t, fmt.Sprintf("dn: ou=more%d,dc=example,dc=com\nobjectClass: organizationalUnit\nou: more%d\n", page, page))
		big := ldaptest.GenerateUsers(300)
		s.Add(t, strings.ReplaceAll(big, "ou=users", fmt.Sprintf("ou=more%d", page)))
		_, err := same(t, set, []string{"uid"})
		if !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || !strings.Contains(err.Error(), "after 500 entries") {
			t.Errorf("size limit, page %d: err = %v", page, err)
		}
	}
}

func TestInPlaceReaderPageBoundaries(t *testing.T) {
	const n = 2000
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(n)))
	for _, page := range []int{1, 999, 1000, 400} {
		t.Run(fmt.Sprint(page), func(t *testing.T) {
			set := syncSettings(s)
			set.PageSize = page
			got, err := same(t, set, userAttrs)
			if err != nil {
				t.Fatal(err)
			}
			checkUsers(t, got, n)
		})
	}
}

// cutProxy forwards TCP connections to a server; after limit bytes from
// the server it closes the connection (drop) or stops forwarding (stall).
type cutProxy struct {
	ln     net.Listener
	target string
	limit  int64
	stall  bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startCutProxy(t *testing.T, target string, limit int64, stall bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, limit: limit, stall: stall}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c) }()
			go func() {
				_, _ = io.CopyN(c, u, p.limit)
				if !p.stall {
					c.Close()
					u.Close()
				}
			}()
		}
	}()
	return p
}

func (p *cutProxy) url() string { return "ldap://" + p.ln.Addr().String() }

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestInPlaceReaderDroppedAndStalledConnection(t *testing.T) {
	const n = 600
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(n)))
	target := strings.TrimPrefix(s.URL, "ldap://")
	// Cuts after the bind response, inside pages and between messages:
	// every one an error, after fewer than n entries, never a short
	// directory.
	for _, limit := range []int64{14, 15, 20, 3000, 50000, 50001, 50007, 65536, 90000, 131072} {
		for _, gl := range []bool{false, true} {
			p := startCutProxy(t, target, limit, false)
			set := syncSettings(s)
			set.URL, set.PageSize = p.url(), 100
			got, _, err := read(context.Background(), t, set, gl, userAttrs)
			if err == nil || len(got) >= n {
				t.Errorf("cut after %d bytes (go-ldap %v): %d entries, err = %v", limit, gl, len(got), err)
			} else if !gl && limit > 14 && !goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
				t.Errorf("cut after %d bytes: err = %v, want a network error", limit, err)
			}
			if !gl && err != nil && limit == 50007 {
				t.Logf("dropped mid-page: %v", err)
			}
			p.close()
		}
	}

	// A server that stops answering mid-page: the page's timeout.
	p := startCutProxy(t, target, 50007, true)
	set := syncSettings(s)
	set.URL, set.PageSize, set.Timeout = p.url(), 100, 300*time.Millisecond
	got, _, err := read(context.Background(), t, set, false, userAttrs)
	if err == nil || !strings.Contains(err.Error(), "no complete answer within 300ms") || len(got) >= n {
		t.Errorf("stalled server: %d entries, err = %v", len(got), err)
	}

	// Cancelled while waiting on a stalled server.
	ctx, cancel := context.WithCancel(context.Background())
	set.Timeout = time.Hour
	n2 := 0
	err = func() error {
		src := newSource(t, set)
		return src.Read(ctx, userAttrs, func(engine.Entry) error {
			if n2++; n2 == 10 {
				cancel()
			}
			return nil
		})
	}()
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled after") {
		t.Errorf("cancelled read: err = %v", err)
	}
	if n2 > 10 {
		t.Errorf("fn called %d times, after the cancellation", n2)
	}
}

// TestInPlaceReaderSlowConsumer: the time fn takes is not the server's;
// a page is only held to the timeout for the time the reader waits on
// the server.
func TestInPlaceReaderSlowConsumer(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(60)))
	set := syncSettings(s)
	set.PageSize, set.Timeout = 20, 200*time.Millisecond
	n := 0
	err := newSource(t, set).Read(context.Background(), []string{"uid"}, func(engine.Entry) error {
		if n++; n <= 3 {
			time.Sleep(150 * time.Millisecond)
		}
		return nil
	})
	if err != nil || n != 60 {
		t.Errorf("slow consumer: %d entries, err = %v", n, err)
	}
}
