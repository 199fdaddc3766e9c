package ldaptest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

func TestMemDirectoryActiveDirectoryMode(t *testing.T) {
	var b strings.Builder
	b.WriteString("dn: cn=big,ou=groups,dc=example,dc=com\nobjectClass: group\ncn: big\n")
	for i := range 25 {
		fmt.Fprintf(&b, "member: uid=u%02d,ou=users,dc=example,dc=com\n", i)
	}
	b.WriteString("\ndn: uid=u00,ou=users,dc=example,dc=com\nobjectClass: user\nuid: u00\n\n")
	_, url := startMem(t, b.String(), ldaptest.WithActiveDirectory(10))
	c := dial(t, url)

	get := func(dn string, attrs ...string) map[string]int {
		t.Helper()
		es, err := search(c, dn, ldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		if err != nil || len(es) != 1 {
			t.Fatalf("search %s %v: %v", dn, attrs, err)
		}
		out := map[string]int{}
		for _, a := range es[0].Attributes {
			out[a.Name] = len(a.ByteValues)
		}
		return out
	}
	big := "cn=big,ou=groups,dc=example,dc=com"
	for _, tc := range []struct {
		attrs []string
		want  map[string]int
	}{
		{[]string{"member"}, map[string]int{"member;range=0-9": 10}},
		{[]string{"member;range=10-*"}, map[string]int{"member;range=10-19": 10}},
		{[]string{"member;range=10-14"}, map[string]int{"member;range=10-14": 5}},
		{[]string{"member;range=20-*"}, map[string]int{"member;range=20-*": 5}},
		{[]string{"member;range=18-30"}, map[string]int{"member;range=18-*": 7}},
		{[]string{"member;range=25-*"}, map[string]int{}}, // past the end
		{[]string{"cn"}, map[string]int{"cn": 1}},
	} {
		if got := get(big, tc.attrs...); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%v: got %v, want %v", tc.attrs, got, tc.want)
		}
	}
	// Binary objectGUID instead of entryUUID; memberOf with ordinary attributes.
	es, err := search(c, "uid=u00,ou=users,dc=example,dc=com", ldap.ScopeBaseObject, "(objectClass=*)", "*")
	if err != nil || len(es) != 1 {
		t.Fatal(err)
	}
	e := es[0]
	if g := e.GetRawAttributeValue("objectGUID"); string(g) != string(ldaptest.ObjectGUID(e.DN)) || len(g) != 16 {
		t.Errorf("objectGUID = %x", g)
	}
	if e.GetAttributeValue("entryUUID") != "" {
		t.Error("entryUUID in AD mode")
	}
	if got := e.GetAttributeValues("memberOf"); len(got) != 1 || got[0] != big {
		t.Errorf("memberOf with * = %v", got)
	}
}
