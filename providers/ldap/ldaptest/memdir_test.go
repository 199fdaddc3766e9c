package ldaptest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
	ldapsrc "github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

const baseEntries = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=users,dc=example,dc=com
objectClass: organizationalUnit
ou: users

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

`

func startMem(t *testing.T, ldif string, opts ...ldaptest.MemOption) (*ldaptest.MemDirectory, string) {
	t.Helper()
	d, err := ldaptest.NewMemDirectory(strings.NewReader(baseEntries+ldif), opts...)
	if err != nil {
		t.Fatalf("NewMemDirectory: %v", err)
	}
	url, err := d.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return d, url
}

func dial(t *testing.T, url string) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func search(c *ldap.Conn, base string, scope int, filter string, attrs ...string) ([]*ldap.Entry, error) {
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil), 200)
	if err != nil {
		return nil, err
	}
	return res.Entries, nil
}

func TestMemDirectoryPagingAndAttributes(t *testing.T) {
	const n = 2500
	_, url := startMem(t, ldaptest.GenerateUsers(n, ldaptest.GenGroups()))
	c := dial(t, url)
	entries, err := search(c, ldaptest.UsersDN, ldap.ScopeWholeSubtree, "(objectClass=inetOrgPerson)", "uid", "sn", "entryUUID", "pwdAccountLockedTime", "memberOf")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("read %d entries, want %d", len(entries), n)
	}
	seen, ids := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		uid := e.GetAttributeValue("uid")
		var i int
		fmt.Sscanf(uid, "user%06d", &i)
		u := ldaptest.GeneratedUser(i)
		if seen[uid] || e.GetAttributeValue("sn") != u.SN {
			t.Fatalf("%s: duplicate or wrong sn %q", uid, e.GetAttributeValue("sn"))
		}
		seen[uid] = true
		id := e.GetAttributeValue("entryUUID")
		if len(id) != 36 || ids[id] {
			t.Fatalf("%s: entryUUID %q not unique", uid, id)
		}
		ids[id] = true
		if locked := e.GetAttributeValue("pwdAccountLockedTime") != ""; locked != u.Disabled {
			t.Errorf("%s: locked %v, want %v", uid, locked, u.Disabled)
		}
		if len(e.GetAttributeValues("memberOf")) == 0 {
			t.Errorf("%s: no virtual memberOf", uid)
		}
		if e.GetAttributeValue("mail") != "" {
			t.Errorf("%s: unrequested mail returned", uid)
		}
	}
	// Operational attributes only on request.
	all, err := search(c, ldaptest.GeneratedUser(20).DN, ldap.ScopeBaseObject, "(objectClass=*)")
	if err != nil || len(all) != 1 {
		t.Fatalf("base search: %v %d", err, len(all))
	}
	if all[0].GetAttributeValue("entryUUID") != "" || all[0].GetAttributeValue("pwdAccountLockedTime") != "" || all[0].GetAttributeValue("mail") == "" {
		t.Errorf("default attribute selection: %v", all[0].Attributes)
	}
	plus, _ := search(c, ldaptest.GeneratedUser(20).DN, ldap.ScopeBaseObject, "(objectClass=*)", "+")
	if len(plus) != 1 || plus[0].GetAttributeValue("entryUUID") == "" || plus[0].GetAttributeValue("pwdAccountLockedTime") == "" || plus[0].GetAttributeValue("mail") != "" {
		t.Errorf("\"+\" selection: %v", plus)
	}
}

func TestMemDirectoryFiltersAndScopes(t *testing.T) {
	_, url := startMem(t, ldaptest.GenerateUsers(40)+`dn: cn=ad,ou=users,dc=example,dc=com
objectClass: user
cn: ad
userAccountControl: 66050
objectGUID: x
`)
	c := dial(t, url)
	count := func(filter string) int {
		t.Helper()
		es, err := search(c, ldaptest.UsersDN, ldap.ScopeWholeSubtree, filter, "1.1")
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		return len(es)
	}
	cases := map[string]int{
		"(objectClass=*)":             42, // ou=users itself + 40 + ad
		"(objectclass=INETORGPERSON)": 40,
		"(sn=MÜLLER)":                 countUsers(40, func(u ldaptest.GenUser) bool { return u.SN == "Müller" }),
		"(cn=Anna*)":                  countUsers(40, func(u ldaptest.GenUser) bool { return strings.HasPrefix(u.CN, "Anna") }),
		"(cn=*müller*)":               countUsers(40, func(u ldaptest.GenUser) bool { return strings.Contains(u.CN, "Müller") }),
		"(cn=a*a*1)": countUsers(40, func(u ldaptest.GenUser) bool {
			c := strings.ToLower(u.CN)
			return strings.HasPrefix(c, "a") && strings.HasSuffix(c, "1") && strings.Count(c[1:len(c)-1], "a") > 0
		}),
		"(!(employeeType=employee))":                     2 + 5, // ou + ad + contractors 7,14,21,28,35
		"(&(employeeNumber>=100030)(uid=*))":             11,
		"(employeeNumber<=100003)":                       3,
		"(|(uid=user000001)(uid=user000002))":            2,
		"(pwdAccountLockedTime=*)":                       2,
		"(userAccountControl:1.2.840.113556.1.4.803:=2)": 1,
		"(userAccountControl:1.2.840.113556.1.4.803:=1)": 0,
		"(nosuchattr=*)":                                 0,
	}
	for f, want := range cases {
		if got := count(f); got != want {
			t.Errorf("%s matched %d, want %d", f, got, want)
		}
	}
	for _, sc := range []struct {
		scope, want int
	}{{ldap.ScopeBaseObject, 1}, {ldap.ScopeSingleLevel, 41}, {ldap.ScopeWholeSubtree, 42}} {
		es, err := search(c, ldaptest.UsersDN, sc.scope, "(objectClass=*)", "1.1")
		if err != nil || len(es) != sc.want {
			t.Errorf("scope %d: %d entries, %v; want %d", sc.scope, len(es), err, sc.want)
		}
	}
	if _, err := search(c, "ou=nowhere,dc=example,dc=com", ldap.ScopeWholeSubtree, "(objectClass=*)"); !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("unknown base: %v", err)
	}
	root, err := search(c, "", ldap.ScopeBaseObject, "(objectClass=*)", "namingContexts")
	if err != nil || len(root) != 1 || root[0].GetAttributeValue("namingContexts") != "dc=example,dc=com" {
		t.Errorf("root DSE: %v %v", root, err)
	}
}

func countUsers(n int, pred func(ldaptest.GenUser) bool) int {
	c := 0
	for i := 1; i <= n; i++ {
		if pred(ldaptest.GeneratedUser(i)) {
			c++
		}
	}
	return c
}

func TestMemDirectoryBind(t *testing.T) {
	_, url := startMem(t, ldaptest.GenerateUsers(20), ldaptest.WithBindAccount(ldaptest.SyncDN, "syncpw"), ldaptest.WithRequireBind())
	c := dial(t, url)
	if _, err := search(c, ldaptest.UsersDN, ldap.ScopeWholeSubtree, "(uid=*)"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		t.Errorf("anonymous search with WithRequireBind: %v", err)
	}
	for _, tc := range []struct {
		dn, pw string
		ok     bool
	}{
		{ldaptest.SyncDN, "syncpw", true},
		{"CN=Sync, DC=Example,DC=com", "syncpw", true},
		{ldaptest.SyncDN, "wrong", false},
		{ldaptest.GeneratedUser(1).DN, ldaptest.UserPassword, true}, // {SSHA}
		{ldaptest.GeneratedUser(1).DN, "nope", false},
		{ldaptest.GeneratedUser(20).DN, ldaptest.UserPassword, false}, // locked
		{"uid=ghost,ou=users,dc=example,dc=com", "x", false},
	} {
		err := c.Bind(tc.dn, tc.pw)
		if (err == nil) != tc.ok || (!tc.ok && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials)) {
			t.Errorf("bind %s: %v, want ok=%v", tc.dn, err, tc.ok)
		}
	}
	if err := c.Bind(ldaptest.SyncDN, "syncpw"); err != nil {
		t.Fatal(err)
	}
	if es, err := search(c, ldaptest.UsersDN, ldap.ScopeSingleLevel, "(uid=*)"); err != nil || len(es) != 20 {
		t.Errorf("bound search: %d %v", len(es), err)
	}
}

func TestMemDirectoryApply(t *testing.T) {
	d, url := startMem(t, ldaptest.GenerateUsers(5)+`dn: cn=team,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: team
member: uid=user000001,ou=users,dc=example,dc=com
`)
	c := dial(t, url)
	get := func(dn string, attrs ...string) *ldap.Entry {
		t.Helper()
		es, err := search(c, dn, ldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		if err != nil || len(es) != 1 {
			t.Fatalf("get %s: %v", dn, err)
		}
		return es[0]
	}
	u1, u2 := ldaptest.GeneratedUser(1), ldaptest.GeneratedUser(2)
	before := get(u1.DN, "entryUUID").GetAttributeValue("entryUUID")
	err := d.Apply(strings.NewReader(`# rename user 1, edit user 2, delete user 3, add a new one
dn: ` + u1.DN + `
changetype: modrdn
newrdn: uid=renamed1
deleteoldrdn: 1

dn: ` + u2.DN + `
changetype: modify
replace: mail
mail: new@example.com
-
add: description
description: first
description:: U8O2cmVu
-
delete: employeeType
-

dn: uid=user000003,ou=users,dc=example,dc=com
changetype: delete

dn: uid=fresh,ou=users,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: fresh
cn: Fresh
sn: Person
`))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if get(u1.DN) != nil {
		t.Error("old DN still present after modrdn")
	}
	r := get("uid=renamed1,ou=users,dc=example,dc=com", "entryUUID", "uid", "memberOf")
	if r.GetAttributeValue("entryUUID") != before || r.GetAttributeValue("uid") != "renamed1" || len(r.GetAttributeValues("uid")) != 1 {
		t.Errorf("renamed entry: %v (entryUUID before %s)", r.Attributes, before)
	}
	e2 := get(u2.DN, "mail", "description", "employeeType")
	if e2.GetAttributeValue("mail") != "new@example.com" || strings.Join(e2.GetAttributeValues("description"), "|") != "first|Sören" || e2.GetAttributeValue("employeeType") != "" {
		t.Errorf("modified entry: %v", e2.Attributes)
	}
	if get("uid=user000003,ou=users,dc=example,dc=com") != nil {
		t.Error("deleted entry still present")
	}
	fresh := get("uid=fresh,ou=users,dc=example,dc=com", "entryUUID")
	if fresh == nil || fresh.GetAttributeValue("entryUUID") == "" {
		t.Error("added entry missing or without entryUUID")
	}
	for _, bad := range []string{
		"dn: uid=ghost,ou=users,dc=example,dc=com\nchangetype: delete\n",
		"dn: ou=users,dc=example,dc=com\nchangetype: delete\n",
		"dn: uid=fresh,ou=users,dc=example,dc=com\nchangetype: add\nobjectClass: top\n",
		"dn: uid=x\nchangetype: frobnicate\n",
	} {
		if err := d.Apply(strings.NewReader(bad)); err == nil {
			t.Errorf("Apply(%q) succeeded", bad)
		}
	}
	// A re-added DN gets a different entryUUID than the renamed entry.
	if err := d.Apply(strings.NewReader("dn: " + u1.DN + "\nobjectClass: inetOrgPerson\nuid: user000001\ncn: x\nsn: y\n")); err != nil {
		t.Fatal(err)
	}
	if id := get(u1.DN, "entryUUID").GetAttributeValue("entryUUID"); id == before || id == "" {
		t.Errorf("re-added DN reused entryUUID %s", id)
	}
}

func TestMemDirectorySizeLimitAndStop(t *testing.T) {
	d, url := startMem(t, ldaptest.GenerateUsers(300), ldaptest.WithSizeLimit(100))
	c := dial(t, url)
	es, err := search(c, ldaptest.UsersDN, ldap.ScopeSingleLevel, "(uid=*)", "uid")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("size limit: %d entries, err %v", len(es), err)
	}
	// Stop returns although the client connection is still open.
	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop blocked on an open client connection")
	}
	if _, err := search(c, ldaptest.UsersDN, ldap.ScopeSingleLevel, "(uid=*)"); err == nil {
		t.Error("search after Stop succeeded")
	}
}

// TestMemDirectoryWithSource is the demo path: the LDAP source reads the
// in-process directory over plain ldap:// without a password.
func TestMemDirectoryWithSource(t *testing.T) {
	const n = 1200
	d, url := startMem(t, ldaptest.GenerateUsers(n))
	src, err := ldapsrc.New("demo", ldapsrc.Settings{URL: url, BaseDN: ldaptest.UsersDN, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	read := func() map[string]engine.Entry {
		t.Helper()
		got := map[string]engine.Entry{}
		err := src.Read(context.Background(), []string{"uid", "sn"}, func(e engine.Entry) error {
			got[e.Attrs["uid"][0]] = e
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := read()
	if len(got) != n || src.LastRead().Pages != 3 {
		t.Fatalf("read %d entries in %d pages", len(got), src.LastRead().Pages)
	}
	for i := 1; i <= n; i++ {
		u := ldaptest.GeneratedUser(i)
		e := got[u.UID]
		if e.Disabled != u.Disabled || e.Attrs["sn"][0] != u.SN || e.StableID == "" {
			t.Fatalf("%s: %+v", u.UID, e)
		}
	}
	old := got["user000007"].StableID
	if err := d.Apply(strings.NewReader("dn: uid=user000007,ou=users,dc=example,dc=com\nchangetype: modrdn\nnewrdn: uid=seven\ndeleteoldrdn: 1\n")); err != nil {
		t.Fatal(err)
	}
	if again := read(); again["seven"].StableID != old {
		t.Errorf("renamed entry id %q, want %q", again["seven"].StableID, old)
	}
}
