package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

var userAttrs = []string{"uid", "mail", "givenName", "sn", "cn"}

// syncSettings returns settings reading ou=users as the sync account over
// plain ldap://.
func syncSettings(s *ldaptest.Slapd) ldap.Settings {
	return ldap.Settings{
		URL: s.URL, BindDN: s.SyncDN, BindPassword: s.SyncPassword,
		BaseDN: ldaptest.UsersDN, InsecureAllowPlaintext: true,
	}
}

func newSource(t *testing.T, set ldap.Settings) *ldap.Source {
	t.Helper()
	src, err := ldap.New("corp", set)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

// readAll reads every entry, failing the test on a read error.
func readAll(t *testing.T, src *ldap.Source, attrs ...string) []engine.Entry {
	t.Helper()
	got, err := tryRead(context.Background(), src, attrs...)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

func tryRead(ctx context.Context, src *ldap.Source, attrs ...string) ([]engine.Entry, error) {
	var got []engine.Entry
	err := src.Read(ctx, attrs, func(e engine.Entry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

// checkUsers checks that entries are exactly generated users 1..n, each
// once, with a stable id, the disabled flag and intact non-ASCII values.
func checkUsers(t *testing.T, entries []engine.Entry, n int) {
	t.Helper()
	if len(entries) != n {
		t.Fatalf("read %d entries, want %d", len(entries), n)
	}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, e := range entries {
		uid := first(e.Attrs["uid"])
		if seen[uid] {
			t.Fatalf("entry %s read twice", uid)
		}
		seen[uid] = true
		if !uuidRE.MatchString(e.StableID) || ids[e.StableID] {
			t.Errorf("%s: StableID %q is not a fresh entryUUID", e.DN, e.StableID)
		}
		ids[e.StableID] = true
		if e.Source != "corp" {
			t.Errorf("Source = %q", e.Source)
		}
		var i int
		if _, err := fmt.Sscanf(uid, "user%06d", &i); err != nil {
			t.Fatalf("unexpected uid %q", uid)
		}
		want := ldaptest.GeneratedUser(i)
		if !strings.EqualFold(e.DN, want.DN) {
			t.Errorf("DN = %q, want %q", e.DN, want.DN)
		}
		if first(e.Attrs["sn"]) != want.SN || first(e.Attrs["givenName"]) != want.GivenName || first(e.Attrs["cn"]) != want.CN {
			t.Errorf("%s: names %q %q %q, want %q %q %q", uid, first(e.Attrs["givenName"]), first(e.Attrs["sn"]), first(e.Attrs["cn"]), want.GivenName, want.SN, want.CN)
		}
		if e.Disabled != want.Disabled {
			t.Errorf("%s: Disabled = %v, want %v", uid, e.Disabled, want.Disabled)
		}
		if e.Disabled && e.DisabledReason != "pwdAccountLockedTime is set" {
			t.Errorf("%s: DisabledReason = %q", uid, e.DisabledReason)
		}
		if _, ok := e.Attrs["pwdAccountLockedTime"]; ok {
			t.Errorf("%s: unrequested attribute pwdAccountLockedTime in Attrs", uid)
		}
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprintf("user%06d", i)] {
			t.Fatalf("user%06d missing", i)
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestReadOverPlainLDAPSAndStartTLS(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(60)))
	plain := syncSettings(s)
	ldaps := plain
	ldaps.URL, ldaps.CACertFile, ldaps.InsecureAllowPlaintext = s.LDAPSURL, s.CACertFile, false
	starttls := plain
	starttls.StartTLS, starttls.CACertFile, starttls.InsecureAllowPlaintext = true, s.CACertFile, false
	for name, set := range map[string]ldap.Settings{"plain": plain, "ldaps": ldaps, "starttls": starttls} {
		t.Run(name, func(t *testing.T) {
			src := newSource(t, set)
			if w := src.Warnings(); (name == "plain") != (len(w) == 1) {
				t.Errorf("Warnings() = %q", w)
			}
			checkUsers(t, readAll(t, src, userAttrs...), 60)
		})
	}
}

func TestTLSErrors(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	other := ldaptest.StartSlapd(t) // its CA did not sign s's certificate
	for _, set := range []ldap.Settings{
		{URL: s.LDAPSURL, CACertFile: other.CACertFile, BindDN: s.SyncDN, BindPassword: s.SyncPassword, BaseDN: s.BaseDN},
		{URL: s.URL, StartTLS: true, CACertFile: other.CACertFile, BindDN: s.SyncDN, BindPassword: s.SyncPassword, BaseDN: s.BaseDN},
	} {
		_, err := tryRead(context.Background(), newSource(t, set))
		t.Logf("wrong CA: %v", err)
		if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "ca_cert_file") {
			t.Errorf("%s start_tls=%v with the wrong CA: err = %v, want a certificate error naming ca_cert_file", set.URL, set.StartTLS, err)
		}
		if err != nil && strings.Contains(err.Error(), s.SyncPassword) {
			t.Errorf("error leaks the password: %v", err)
		}
	}

	noTLS := ldaptest.StartSlapd(t, ldaptest.WithoutTLS())
	set := ldap.Settings{URL: noTLS.URL, StartTLS: true, BindDN: s.SyncDN, BindPassword: s.SyncPassword, BaseDN: s.BaseDN}
	_, err := tryRead(context.Background(), newSource(t, set))
	t.Logf("StartTLS refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), `source "corp": StartTLS`) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("StartTLS against a server without TLS: err = %v", err)
	}
}

func TestPlaintextPasswordRefused(t *testing.T) {
	set := ldap.Settings{URL: "ldap://127.0.0.1:1", BindDN: "cn=sync,dc=example,dc=com", BindPassword: "hunter2-secret", BaseDN: "dc=example,dc=com"}
	_, err := ldap.New("corp", set)
	if err == nil || !strings.Contains(err.Error(), "insecure_allow_plaintext") || !strings.Contains(err.Error(), `source "corp"`) {
		t.Fatalf("New without the opt-in: err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
	set.InsecureAllowPlaintext = true
	src := newSource(t, set)
	if w := src.Warnings(); len(w) != 1 || !strings.Contains(w[0], "unencrypted") || strings.Contains(w[0], "hunter2") {
		t.Errorf("Warnings() = %q", w)
	}
	// Anonymous plain reads and TLS reads need no opt-in and warn nothing.
	for _, ok := range []ldap.Settings{
		{URL: "ldap://127.0.0.1:1", BaseDN: "dc=x"},
		{URL: "ldap://127.0.0.1:1", StartTLS: true, BindDN: "cn=a", BindPassword: "p", BaseDN: "dc=x"},
		{URL: "ldaps://127.0.0.1:1", BindDN: "cn=a", BindPassword: "p", BaseDN: "dc=x"},
	} {
		if src, err := ldap.New("corp", ok); err != nil || len(src.Warnings()) != 0 {
			t.Errorf("New(%+v) = %v, %v", ok.URL, err, src)
		}
	}
}

func TestPaging(t *testing.T) {
	const n = 2500
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(n, ldaptest.GenMemberOf())))
	for _, tc := range []struct{ pageSize, pages int }{{1000, 3}, {200, 13}, {0, 5}, {5000, 3}} {
		t.Run(fmt.Sprint(tc.pageSize), func(t *testing.T) {
			set := syncSettings(s)
			set.PageSize = tc.pageSize
			src := newSource(t, set)
			checkUsers(t, readAll(t, src, userAttrs...), n)
			if st := src.LastRead(); st.Pages != tc.pages || st.Entries != n {
				t.Errorf("LastRead() = %+v, want %d pages", st, tc.pages)
			}
		})
	}
}

func TestReadFailuresAreErrors(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(700)))
	cases := []struct {
		name string
		edit func(*ldap.Settings)
		want []string
		code uint16
	}{
		{"bind", func(set *ldap.Settings) { set.BindPassword = "wrong-pw-xyz" }, []string{`source "corp": bind as "cn=sync,dc=example,dc=com"`}, goldap.LDAPResultInvalidCredentials},
		{"base", func(set *ldap.Settings) { set.BaseDN = "ou=nowhere,dc=example,dc=com" }, []string{"base DN not found or not visible to the bind account", "result code 32"}, goldap.LDAPResultNoSuchObject},
		{"size limit", func(set *ldap.Settings) {
			set.BindDN, set.BindPassword = ldaptest.GeneratedUser(1).DN, ldaptest.UserPassword
			set.PageSize = 200
		}, []string{"size limit exceeded (result code 4) after 500 entries", "olcLimits", "MaxPageSize"}, goldap.LDAPResultSizeLimitExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := syncSettings(s)
			tc.edit(&set)
			got, err := tryRead(context.Background(), newSource(t, set), "uid")
			if err == nil {
				t.Fatalf("read succeeded with %d entries, want an error", len(got))
			}
			t.Logf("%s: %v", tc.name, err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
			if !goldap.IsErrorWithCode(err, tc.code) {
				t.Errorf("err does not wrap LDAP result code %d: %v", tc.code, err)
			}
			if strings.Contains(err.Error(), set.BindPassword) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestCancelAndDroppedConnection(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(600)))
	set := syncSettings(s)
	set.PageSize = 100

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := newSource(t, set).Read(ctx, []string{"uid"}, func(engine.Entry) error {
		if n++; n == 150 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled read: err = %v", err)
	}

	stopErr := errors.New("stop here")
	n = 0
	err = newSource(t, set).Read(context.Background(), []string{"uid"}, func(engine.Entry) error {
		if n++; n == 42 {
			return stopErr
		}
		return nil
	})
	if !errors.Is(err, stopErr) || n != 42 {
		t.Errorf("callback error: err = %v after %d entries", err, n)
	}

	n = 0
	err = newSource(t, set).Read(context.Background(), []string{"uid"}, func(engine.Entry) error {
		if n++; n == 150 {
			if err := s.Stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
		}
		return nil
	})
	t.Logf("dropped connection: %v", err)
	if err == nil || n >= 600 {
		t.Errorf("read across a stopped server: err = %v after %d entries", err, n)
	}
}

func TestRenameKeepsStableID(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(5)))
	src := newSource(t, syncSettings(s))
	before := byUID(readAll(t, src, "uid"))
	s.ModRDN(t, ldaptest.GeneratedUser(3).DN, "uid=renamed000003")
	after := byUID(readAll(t, src, "uid"))
	if _, ok := after["user000003"]; ok {
		t.Fatal("old uid still present after modrdn")
	}
	r, ok := after["renamed000003"]
	if !ok {
		t.Fatal("renamed entry missing")
	}
	if r.StableID != before["user000003"].StableID || r.DN == before["user000003"].DN {
		t.Errorf("after rename: id %q dn %q; before: id %q dn %q", r.StableID, r.DN, before["user000003"].StableID, before["user000003"].DN)
	}
}

func byUID(entries []engine.Entry) map[string]engine.Entry {
	m := map[string]engine.Entry{}
	for _, e := range entries {
		m[first(e.Attrs["uid"])] = e
	}
	return m
}

func TestAttributesFilterAndReferrals(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(21)))
	s.Add(t, `dn: ou=elsewhere,ou=users,dc=example,dc=com
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: ldap://127.0.0.2:1/ou=elsewhere,dc=example,dc=com
`)
	s.Modify(t, ldaptest.GeneratedUser(2).DN, "mail", "a@example.com", "b@example.com")
	set := syncSettings(s)
	set.Filter = "(employeeType=contractor)"
	src := newSource(t, set)
	got := readAll(t, src, "UID", "uid", "MAIL", "entryUUID", "pwdAccountLockedTime", "nonexistent")
	if len(got) != 3 { // users 7, 14, 21
		t.Fatalf("filter matched %d entries, want 3", len(got))
	}
	for _, e := range got {
		if first(e.Attrs["UID"]) == "" || first(e.Attrs["UID"]) != first(e.Attrs["uid"]) || first(e.Attrs["MAIL"]) == "" {
			t.Errorf("attrs by requested spelling: %v", e.Attrs)
		}
		if first(e.Attrs["entryUUID"]) != e.StableID {
			t.Errorf("entryUUID attr %q != StableID %q", first(e.Attrs["entryUUID"]), e.StableID)
		}
		if _, ok := e.Attrs["nonexistent"]; ok {
			t.Error("missing attribute present in Attrs")
		}
		if _, ok := e.Attrs["sn"]; ok {
			t.Error("unrequested attribute present in Attrs")
		}
	}
	if st := src.LastRead(); st.Referrals != 1 {
		t.Errorf("LastRead() = %+v, want 1 referral", st)
	}

	set = syncSettings(s)
	set.Filter = "(uid=user000002)"
	set.IDAttribute = "uid"
	got = readAll(t, newSource(t, set), "mail")
	if len(got) != 1 || got[0].StableID != "user000002" || len(got[0].Attrs["mail"]) != 2 {
		t.Errorf("id_attribute uid, multi-valued mail: %+v", got)
	}
}

func TestPresets389dsAndFreeIPA(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithTestSchema())
	s.Add(t, `dn: uid=ds1,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: ldapsyncTestAccount
uid: ds1
cn: DS One
sn: One
nsUniqueId: 0b5e2a01-1dd211b2-80d1b2c3-a1b2c3d4
nsAccountLock: TRUE

dn: uid=ds2,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: ldapsyncTestAccount
uid: ds2
cn: DS Two
sn: Two
nsUniqueId: 0b5e2a02-1dd211b2-80d1b2c3-a1b2c3d4
nsAccountLock: false

dn: uid=ipa1,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: ldapsyncTestAccount
uid: ipa1
cn: IPA One
sn: One
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/ipa1
ipaUniqueID: 6e3a3c5e-0000-11ee-9f00-525400000001
nsUniqueId: 0b5e2a03-1dd211b2-80d1b2c3-a1b2c3d4
nsAccountLock: true
`)
	set := syncSettings(s)
	set.Schema = "389ds"
	set.Filter = "(objectClass=ldapsyncTestAccount)"
	got := byUID(readAll(t, newSource(t, set), "uid"))
	if len(got) != 3 {
		t.Fatalf("389ds read %d entries", len(got))
	}
	if e := got["ds1"]; e.StableID != "0b5e2a01-1dd211b2-80d1b2c3-a1b2c3d4" || !e.Disabled || e.DisabledReason != "nsAccountLock is true" {
		t.Errorf("ds1 = %+v", e)
	}
	if e := got["ds2"]; e.Disabled {
		t.Errorf("ds2 (nsAccountLock false) = %+v", e)
	}

	set = syncSettings(s)
	set.Schema = "freeipa" // default filter (objectClass=posixAccount)
	entries := readAll(t, newSource(t, set), "uid")
	if len(entries) != 1 || entries[0].StableID != "6e3a3c5e-0000-11ee-9f00-525400000001" || !entries[0].Disabled {
		t.Errorf("freeipa read = %+v", entries)
	}

	// The 389ds preset on entries without nsUniqueId is an error, not an
	// entry without identity.
	set = syncSettings(s)
	set.Schema = "389ds"
	set.Filter = "(objectClass=organizationalRole)"
	set.BaseDN = s.BaseDN
	if _, err := tryRead(context.Background(), newSource(t, set)); err == nil || !strings.Contains(err.Error(), "nsUniqueId") {
		t.Errorf("entry without stable id: err = %v", err)
	}
}

// TestOpenProbeSharesReadsDial: check's probe opens its connection with
// Read's own dial, so it reports the TLS of ldaps and of StartTLS, and a
// failure as the step it happened at, with Read's own message.
func TestOpenProbeSharesReadsDial(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	for _, tc := range []struct {
		set  ldap.Settings
		mode string
	}{
		{ldap.Settings{URL: s.LDAPSURL, CACertFile: s.CACertFile, BindDN: s.SyncDN, BindPassword: s.SyncPassword, BaseDN: s.BaseDN}, "ldaps"},
		{ldap.Settings{URL: s.URL, StartTLS: true, CACertFile: s.CACertFile, BindDN: s.SyncDN, BindPassword: s.SyncPassword, BaseDN: s.BaseDN}, "starttls"},
	} {
		p, err := newSource(t, tc.set).OpenProbe(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		if p.TLS.Mode != tc.mode || p.TLS.Version == "" || !p.TLS.Verified || len(p.TLS.Certificates) == 0 {
			t.Errorf("%s: TLS %+v", tc.mode, p.TLS)
		}
		_ = p.Close()

		bad := tc.set
		bad.BindPassword = "wrong-password"
		_, err = newSource(t, bad).OpenProbe(context.Background())
		var se *ldap.StageError
		if !errors.As(err, &se) || se.Stage != ldap.StageBind || se.ResultCode != 49 || se.TLS == nil || se.TLS.Mode != tc.mode {
			t.Errorf("%s, wrong password: %#v", tc.mode, err)
		}
		_, rerr := tryRead(context.Background(), newSource(t, bad))
		if rerr == nil || err == nil || rerr.Error() != err.Error() {
			t.Errorf("%s: Read says %v, the probe %v", tc.mode, rerr, err)
		}
	}
}
