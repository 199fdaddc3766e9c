package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

const mapHeader = `
source "ldap" "corp" { url = "ldaps://x" }
target "ftrack" "studio" { server_url = "https://y" }
`

func mappingFrom(t *testing.T, body string) *Mapping {
	t.Helper()
	cfg := loadSrc(t, mapHeader+"mapping \"users\" {\n"+body+"\n}\n")
	return cfg.Mappings[0]
}

func entry(attrs map[string][]string) engine.Entry {
	return engine.Entry{Source: "corp", DN: "uid=u,ou=users,dc=example,dc=com", StableID: "0f3c-id", Attrs: attrs}
}

func TestMap(t *testing.T) {
	seed := `
  username  = lower(entry.uid)
  email     = entry.mail
  full_name = entry.cn
`
	tests := []struct {
		name    string
		mapping string
		entry   engine.Entry
		want    engine.User
		wantErr string
	}{
		{
			name: "lower and full name split", mapping: seed,
			entry: entry(map[string][]string{"uid": {"ASmith"}, "mail": {"A.Smith@Example.com"}, "cn": {"Anna Maria Smith"}}),
			want:  engine.User{Key: "asmith", Username: "asmith", Email: "A.Smith@Example.com", FirstName: "Anna Maria", LastName: "Smith"},
		},
		{
			name: "one-word full name is a first name", mapping: seed,
			entry: entry(map[string][]string{"uid": {"cher"}, "mail": {"cher@example.com"}, "cn": {"Cher"}}),
			want:  engine.User{Key: "cher", Username: "cher", Email: "cher@example.com", FirstName: "Cher"},
		},
		{
			name: "attribute names match without case", mapping: seed,
			entry: entry(map[string][]string{"UID": {"bob"}, "Mail": {"bob@example.com"}, "CN": {"Bob Jones"}}),
			want:  engine.User{Key: "bob", Username: "bob", Email: "bob@example.com", FirstName: "Bob", LastName: "Jones"},
		},
		{
			name: "whitespace trimmed", mapping: seed,
			entry: entry(map[string][]string{"uid": {"  Bob \t"}, "mail": {" bob@example.com\n"}, "cn": {"  Bob   Jones "}}),
			want:  engine.User{Key: "bob", Username: "bob", Email: "bob@example.com", FirstName: "Bob", LastName: "Jones"},
		},
		{
			name: "missing mail", mapping: seed,
			entry:   entry(map[string][]string{"uid": {"bob"}, "cn": {"Bob Jones"}}),
			wantErr: "missing required attribute mail",
		},
		{
			name: "missing uid inside a function", mapping: seed,
			entry:   entry(map[string][]string{"mail": {"bob@example.com"}}),
			wantErr: "missing required attribute uid",
		},
		{
			name: "multi-valued mail", mapping: seed,
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"a@example.com", "b@example.com"}}),
			wantErr: `attribute "mail" has 2 values`,
		},
		{
			name: "missing optional attribute gives empty names", mapping: seed,
			entry: entry(map[string][]string{"uid": {"bob"}, "mail": {"bob@example.com"}}),
			want:  engine.User{Key: "bob", Username: "bob", Email: "bob@example.com"},
		},
		{
			name: "empty username", mapping: seed,
			entry:   entry(map[string][]string{"uid": {"   "}, "mail": {"bob@example.com"}}),
			wantErr: "username is empty",
		},
		{
			name:    "email evaluated to null",
			mapping: "username = entry.uid\nemail = entry.uid == \"x\" ? entry.uid : null",
			entry:   entry(map[string][]string{"uid": {"bob"}}),
			wantErr: "email evaluated to null",
		},
		{
			name: "invalid UTF-8", mapping: seed,
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"bob@example.com"}, "cn": {"Bob \xff\xfe"}}),
			wantErr: `attribute "cn" is not valid UTF-8`,
		},
		{
			name:    "first and last name mapped win over full name",
			mapping: "username = entry.uid\nemail = entry.mail\nfirst_name = entry.givenName\nfull_name = entry.cn",
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}, "givenName": {"Robert"}, "cn": {"Bob Jones"}}),
			want:    engine.User{Key: "bob", Username: "bob", Email: "b@x", FirstName: "Robert", LastName: "Jones"},
		},
		{
			name:    "dn and id pseudo-attributes",
			mapping: "username = entry.uid\nemail = format(\"%s@%s\", entry.uid, entry.id)\nlast_name = entry.dn",
			entry:   entry(map[string][]string{"uid": {"bob"}}),
			want:    engine.User{Key: "bob", Username: "bob", Email: "bob@0f3c-id", LastName: "uid=u,ou=users,dc=example,dc=com"},
		},
		{
			name:    "disabled expression overrides preset",
			mapping: "username = entry.uid\nemail = entry.mail\ndisabled = entry.pwdAccountLockedTime != null",
			entry:   withDisabled(entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}, "pwdAccountLockedTime": {"000001010000Z"}}), false, ""),
			want:    engine.User{Key: "bob", Username: "bob", Email: "b@x", Disabled: true, DisabledReason: `disabled expression of mapping "users" is true`},
		},
		{
			name:    "disabled expression false clears preset verdict",
			mapping: "username = entry.uid\nemail = entry.mail\ndisabled = entry.pwdAccountLockedTime != null",
			entry:   withDisabled(entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}}), true, "preset"),
			want:    engine.User{Key: "bob", Username: "bob", Email: "b@x"},
		},
		{
			name: "preset fallback without disabled expression", mapping: seed,
			entry: withDisabled(entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}}), true, "pwdAccountLockedTime is set"),
			want:  engine.User{Key: "bob", Username: "bob", Email: "b@x", Disabled: true, DisabledReason: "pwdAccountLockedTime is set"},
		},
		{
			name:    "groups from entry_values sorted and de-duplicated",
			mapping: "username = entry.uid\nemail = entry.mail\ngroups = concat([for g in entry_values.memberOf : trimspace(split(\",\", g)[0])], [\"Everyone\"])",
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}, "memberOf": {"cn=z,ou=g", "cn=a,ou=g", " cn=z ,ou=g"}}),
			want:    engine.User{Key: "bob", Username: "bob", Email: "b@x", Groups: []string{"Everyone", "cn=a", "cn=z"}},
		},
		{
			name:    "groups absent gives an empty list",
			mapping: "username = entry.uid\nemail = entry.mail\ngroups = entry_values.memberOf",
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}}),
			want:    engine.User{Key: "bob", Username: "bob", Email: "b@x", Groups: []string{}},
		},
		{
			name:    "evaluation error is concise",
			mapping: "username = regex(\"^[0-9]+$\", entry.uid)\nemail = entry.mail",
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}}),
			wantErr: "username: ",
		},
		{
			name:    "non-string result",
			mapping: "username = entry.uid\nemail = [entry.mail]",
			entry:   entry(map[string][]string{"uid": {"bob"}, "mail": {"b@x"}}),
			wantErr: "email: must be a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mappingFrom(t, tt.mapping)
			got, err := m.Map(tt.entry)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q (user %+v)", err, tt.wantErr, got)
				}
				if len(err.Error()) > 240 || strings.Contains(err.Error(), "\n") {
					t.Errorf("error not concise: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			want := tt.want
			want.Source, want.SourceID, want.DN = tt.entry.Source, tt.entry.StableID, tt.entry.DN
			if !userEqual(got, want) {
				t.Errorf("Map =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func withDisabled(e engine.Entry, d bool, reason string) engine.Entry {
	e.Disabled, e.DisabledReason = d, reason
	return e
}

func userEqual(a, b engine.User) bool {
	return (a.Groups == nil) == (b.Groups == nil) && reflect.DeepEqual(a, b)
}

func TestMapAttributes(t *testing.T) {
	m := mappingFrom(t, `
  username   = lower(entry.uid)
  email      = coalesce(entry.mail, entry["userPrincipalName"])
  first_name = entry.givenName
  last_name  = entry.GivenName == null ? entry.sn : entry.sn
  full_name  = entry.dn
  groups     = entry_values.memberOf
`)
	want := []string{"GivenName", "mail", "memberOf", "sn", "uid", "userPrincipalName"} // one spelling per attribute, first in sort order
	if got := m.Attributes(); !slices.Equal(got, want) {
		t.Errorf("Attributes = %v, want %v", got, want)
	}
	// Several values are fine through entry_values.
	u, err := m.Map(entry(map[string][]string{"uid": {"a"}, "userPrincipalName": {"a@x"}, "memberOf": {"g2", "g1"}}))
	if err != nil || u.Email != "a@x" || !slices.Equal(u.Groups, []string{"g1", "g2"}) {
		t.Errorf("Map = %+v, %v", u, err)
	}
	if _, err := m.Map(entry(map[string][]string{"uid": {"a"}, "mail": {"x@y"}, "sn": {"1", "2", "3"}})); err == nil || err.Error() != `attribute "sn" has 3 values` {
		t.Errorf("multi-valued sn: %v", err)
	}
}

func TestMapUsesVariables(t *testing.T) {
	cfg := loadSrc(t, `
variable "domain" { default = "example.org" }
`+mapHeader+`
mapping "users" {
  username = entry.uid
  email    = "${lower(entry.uid)}@${var.domain}"
}
`, WithVariables(map[string]string{"domain": "corp.example"}))
	u, err := cfg.Mappings[0].Map(entry(map[string][]string{"uid": {"Bob"}}))
	if err != nil || u.Email != "bob@corp.example" || u.Key != "bob" || u.Username != "Bob" {
		t.Errorf("Map = %+v, %v", u, err)
	}
}

func BenchmarkMap(b *testing.B) {
	cfg, diags := LoadBytes("b.hcl", []byte(mapHeader+`
mapping "users" {
  username  = lower(entry.uid)
  email     = lower(entry.mail)
  full_name = entry.cn
  groups    = entry_values.memberOf
}`))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	m := cfg.Mappings[0]
	e := entry(map[string][]string{"uid": {"Bob"}, "mail": {"Bob@x"}, "cn": {"Bob Jones"}, "memberOf": {"a", "b"}})
	for b.Loop() {
		if _, err := m.Map(e); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSplitFullName(t *testing.T) {
	for _, tc := range []struct{ full, first, last string }{
		{"Ada King Lovelace", "Ada King", "Lovelace"},
		{"Carla de la Cruz", "Carla", "de la Cruz"},
		{"Ludwig van Beethoven", "Ludwig", "van Beethoven"},
		{"Anna Maria Smith", "Anna Maria", "Smith"},
		{"  Cher  ", "Cher", ""},
		{"Van Morrison", "Van", "Morrison"},
		{"", "", ""},
	} {
		first, last := splitFullName(tc.full)
		if first != tc.first || last != tc.last {
			t.Errorf("splitFullName(%q) = %q, %q; want %q, %q", tc.full, first, last, tc.first, tc.last)
		}
	}
}

// TestMapRolesAndCustomAttributes: the roles expression gives grants on
// all open projects; custom_attributes gives text, numbers and bools as
// text, leaves nulls out, and skips an entry with a hostile value.
func TestMapRolesAndCustomAttributes(t *testing.T) {
	m := mappingFrom(t, `
  username = lower(entry.uid)
  email    = entry.mail
  roles    = [for g in entry_values.memberOf : upper(g) if g != "x"]
  custom_attributes = {
    department = entry.departmentNumber
    seat       = 7
    remote     = true
    absent     = entry.nothing
  }`)
	if !m.MapsRoles() {
		t.Fatal("MapsRoles is false")
	}
	if keys, mapped := m.CustomAttributes(); !mapped || !slices.Equal(keys, []string{"absent", "department", "remote", "seat"}) {
		t.Fatalf("CustomAttributes() = %v, %t", keys, mapped)
	}
	u, err := m.Map(entry(map[string][]string{"uid": {"U"}, "mail": {"u@example.com"}, "memberOf": {"b", "x", "a", "a"}, "departmentNumber": {"Comp"}}))
	if err != nil {
		t.Fatal(err)
	}
	wantRoles := []engine.RoleGrant{{Role: "A", AllOpen: true}, {Role: "B", AllOpen: true}}
	if !reflect.DeepEqual(u.Roles, wantRoles) {
		t.Errorf("roles %+v, want %+v", u.Roles, wantRoles)
	}
	wantCustom := map[string]string{"department": "Comp", "seat": "7", "remote": "true"}
	if !reflect.DeepEqual(u.Custom, wantCustom) {
		t.Errorf("custom %v, want %v", u.Custom, wantCustom)
	}
	_, err = m.Map(entry(map[string][]string{"uid": {"U"}, "mail": {"u@example.com"}, "departmentNumber": {"Comp\u200b"}}))
	if err == nil || !strings.Contains(err.Error(), "custom_attributes.department") || !strings.Contains(err.Error(), "U+200B") {
		t.Errorf("hostile value: %v", err)
	}
}
