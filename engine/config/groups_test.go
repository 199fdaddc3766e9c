package config

import (
	"reflect"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

const groupsBase = `
source "ldap" "staff" {
  url = "ldaps://ldap.example.com"
  base_dn = "ou=staff,dc=example,dc=com"
}
source "ldap" "freelancers" {
  url = "ldaps://ldap.example.com"
  base_dn = "ou=freelancers,dc=example,dc=com"
}
target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
}
mapping "users" {
  source   = [source.ldap.freelancers, source.ldap.staff]
  username = entry.uid
  email    = entry.mail
}
`

func TestGroupSpecsAndPrecedence(t *testing.T) {
	cfg := loadSrc(t, groupsBase+`
groups "teams" {
  source           = source.ldap.staff
  base_dn          = "ou=groups,dc=example,dc=com"
  member_attribute = "memberOf"
  nested           = true
  map = {
    "re:^ftrack-(.+)$"                       = "Team $1"
    "cn=artists,ou=groups,dc=example,dc=com" = "Artists"
  }
}
groups "posix" {
  source           = source.ldap.freelancers
  base_dn          = "ou=posix,dc=example,dc=com"
  member_attribute = "memberUid"
}
`)
	if got := cfg.Mappings[0].SourceNames; !reflect.DeepEqual(got, []string{"freelancers", "staff"}) {
		t.Errorf("SourceNames = %v: the order written is the precedence", got)
	}
	want := []engine.GroupSpec{
		{Name: "teams", Source: "staff", BaseDN: "ou=groups,dc=example,dc=com", MemberAttribute: "memberOf", Nested: true,
			Rules: []engine.GroupRule{{Match: "cn=artists,ou=groups,dc=example,dc=com", Name: "Artists"}, {Match: "re:^ftrack-(.+)$", Name: "Team $1"}}},
		{Name: "posix", Source: "freelancers", BaseDN: "ou=posix,dc=example,dc=com", MemberAttribute: "memberUid"},
	}
	if got := cfg.GroupSpecs(); !reflect.DeepEqual(got, want) {
		t.Errorf("GroupSpecs =\n%+v\nwant\n%+v", got, want)
	}
	if _, set := cfg.CreateGroups(); set {
		t.Error("CreateGroups set without any create_groups")
	}
}

func TestGroupsCreateGroups(t *testing.T) {
	block := func(name, v string) string {
		return `groups "` + name + `" {
  source = source.ldap.staff
  base_dn = "ou=groups,dc=example,dc=com"
  create_groups = ` + v + `
}
`
	}
	for _, tc := range []struct {
		blocks      string
		create, set bool
	}{
		{block("a", "true"), true, true},
		{block("a", "false"), false, true},
		{block("a", "true") + block("b", "false"), false, true},
	} {
		cfg := loadSrc(t, groupsBase+tc.blocks)
		if c, s := cfg.CreateGroups(); c != tc.create || s != tc.set {
			t.Errorf("%s: CreateGroups() = %v, %v; want %v, %v", tc.blocks, c, s, tc.create, tc.set)
		}
	}
}

// TestGroupsMapErrorsInKeyOrder checks that the map's bad entries are
// reported in key order on every load, not in map iteration order.
func TestGroupsMapErrorsInKeyOrder(t *testing.T) {
	src := groupsBase + `
groups "teams" {
  source  = source.ldap.staff
  base_dn = "ou=groups,dc=example,dc=com"
  map = {
    "re:(a" = "A"
    "re:(b" = "B"
    "re:(c" = "C"
    "re:(d" = "D"
  }
}
`
	for range 20 {
		_, diags := LoadBytes("/tmp/ldapsync.hcl", []byte(src), WithEnv(testEnv(nil)))
		var got []string
		for _, d := range diags {
			if d.Summary == "Invalid group pattern" {
				got = append(got, d.Detail[:4])
			}
		}
		if want := []string{`"(a"`, `"(b"`, `"(c"`, `"(d"`}; !reflect.DeepEqual(got, want) {
			t.Fatalf("pattern errors in order %v, want %v", got, want)
		}
	}
}
