package ldaptest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLDIF(t *testing.T) {
	recs, err := ParseLDIF(strings.NewReader(`version: 1
# a comment
#  continued comment
dn: uid=a,ou=users,
 dc=example,dc=com
objectClass: inetOrgPerson
sn:: TcO8bGxlcg==
cn: long va
 lue
description:   keeps trailing
uid: a

dn: uid=a,ou=users,dc=example,dc=com
changetype: modify
add: mail
mail: a@example.com
mail: b@example.com
-
delete: description
-
replace: sn
sn: X

dn: uid=a,ou=users,dc=example,dc=com
changetype: modrdn
newrdn: uid=b
deleteoldrdn: 0
newsuperior: ou=people,dc=example,dc=com

dn: uid=b,ou=people,dc=example,dc=com
changetype: delete
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{DN: "uid=a,ou=users,dc=example,dc=com", ChangeType: "add", Line: 4, Attrs: []Attribute{
			{"objectClass", []string{"inetOrgPerson"}}, {"sn", []string{"Müller"}}, {"cn", []string{"long value"}},
			{"description", []string{"keeps trailing"}}, {"uid", []string{"a"}}}},
		{DN: "uid=a,ou=users,dc=example,dc=com", ChangeType: "modify", Line: 13, Mods: []Mod{
			{"add", "mail", []string{"a@example.com", "b@example.com"}}, {"delete", "description", nil}, {"replace", "sn", []string{"X"}}}},
		{DN: "uid=a,ou=users,dc=example,dc=com", ChangeType: "modrdn", Line: 24, NewRDN: "uid=b", NewSuperior: "ou=people,dc=example,dc=com"},
		{DN: "uid=b,ou=people,dc=example,dc=com", ChangeType: "delete", Line: 30},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("got  %+v\nwant %+v", recs, want)
	}
}

func TestParseLDIFErrors(t *testing.T) {
	for _, bad := range []string{
		"objectClass: top\n",
		"dn: a=b\nsn:: !!!\n",
		"dn: a=b\nchangetype: bogus\n",
		"dn: a=b\nchangetype: modify\nmail: x\n",
		"dn: a=b\nchangetype: modify\nadd: mail\nsn: x\n",
		"dn: a=b\nphoto:< file:///etc/passwd\n",
		"dn: a=b\nnot a line\n",
		"dn: a=b\nchangetype: modrdn\ndeleteoldrdn: 1\n",
	} {
		if _, err := ParseLDIF(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseLDIF(%q) succeeded", bad)
		}
	}
}

func TestGenerateUsersRoundTrip(t *testing.T) {
	recs, err := ParseLDIF(strings.NewReader(GenerateUsers(40, GenMemberOf())))
	if err != nil {
		t.Fatal(err)
	}
	users, groups, locked := 0, 0, 0
	for _, r := range recs {
		get := func(n string) []string {
			if i := attrIndex(r.Attrs, n); i >= 0 {
				return r.Attrs[i].Values
			}
			return nil
		}
		switch {
		case strings.HasPrefix(r.DN, "uid="):
			users++
			var u GenUser
			for i := 1; i <= 40; i++ {
				if GeneratedUser(i).DN == r.DN {
					u = GeneratedUser(i)
				}
			}
			if get("sn")[0] != u.SN || get("cn")[0] != u.CN || len(get("memberOf")) == 0 {
				t.Errorf("%s: sn %q cn %q memberOf %v", r.DN, get("sn"), get("cn"), get("memberOf"))
			}
			if get("pwdAccountLockedTime") != nil {
				locked++
			}
		case strings.HasPrefix(r.DN, "cn=grp"):
			groups++
		}
	}
	if users != 40 || groups != 10 || locked != 2 {
		t.Errorf("users %d groups %d locked %d", users, groups, locked)
	}
}
