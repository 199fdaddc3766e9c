package ldap_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

func TestDNKey(t *testing.T) {
	same := [][2]string{
		{`cn=Smith\, Jr. \+ co,ou=Users,dc=example,dc=com`, `CN=smith\2C jr. \2B CO, OU=users, DC=Example, DC=COM`},
		{`cn=a+uid=b,dc=x`, `UID=B+CN=A,DC=X`},
		{`uid=alice,ou=users,dc=example,dc=com`, `uid = alice , ou = users , dc = example , dc = com`},
		{`cn=Müller,dc=x`, `cn=MÜLLER,dc=x`},
		{`cn=\#hash,dc=x`, `cn=\23hash,dc=x`},
	}
	for _, p := range same {
		a, errA := ldap.DNKey(p[0])
		b, errB := ldap.DNKey(p[1])
		if errA != nil || errB != nil || a != b {
			t.Errorf("DNKey(%q) = %q, %v; DNKey(%q) = %q, %v: want equal", p[0], a, errA, p[1], b, errB)
		}
	}
	differ := [][2]string{
		{`cn=Smith\, Jr.,ou=users,dc=x`, `cn=Smith,cn=Jr.,ou=users,dc=x`}, // an escaped comma is no boundary
		{`cn=a\+uid=b,dc=x`, `cn=a+uid=b,dc=x`},
		{`uid=alice,ou=users,dc=x`, `uid=alice,ou=staff,dc=x`},
	}
	for _, p := range differ {
		a, _ := ldap.DNKey(p[0])
		b, _ := ldap.DNKey(p[1])
		if a == b {
			t.Errorf("DNKey(%q) == DNKey(%q) = %q", p[0], p[1], a)
		}
	}
	if _, err := ldap.DNKey("not a dn"); err == nil {
		t.Error("DNKey accepted a non-DN")
	}
}

const groupsLDIF = `dn: uid=alice,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
mail: alice@example.com

dn: uid=bob,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
mail: bob@example.com

dn: cn=Smith\, Jr. \+ co,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: smithjr
cn: Smith, Jr. + co
sn: Smith
mail: smithjr@example.com

dn: uid=carol,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: C
mail: carol@example.com

dn: cn=leads,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: leads
member: uid=bob,ou=users,dc=example,dc=com

dn: cn=ftrack-artists,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: ftrack-artists
member: UID=Alice,OU=Users,DC=Example,DC=Com
member: cn=Smith\2C Jr. \2B co,ou=users,dc=example,dc=com
member: cn=leads,ou=groups,dc=example,dc=com
member: uid=ghost,ou=users,dc=example,dc=com

dn: cn=reviewers,ou=groups,dc=example,dc=com
objectClass: groupOfUniqueNames
cn: reviewers
uniqueMember: uid=carol,ou=users,dc=example,dc=com

dn: cn=unix,ou=groups,dc=example,dc=com
objectClass: posixGroup
cn: unix
gidNumber: 5000
memberUid: alice
memberUid: CAROL
memberUid: nobody
`

// readGroups reads every group of spec, keyed by group name, with sorted
// member keys and uids.
func readGroups(t *testing.T, src *ldap.Source, spec engine.GroupSpec) map[string]engine.GroupEntry {
	t.Helper()
	out := map[string]engine.GroupEntry{}
	err := src.ReadGroups(context.Background(), spec, func(g engine.GroupEntry) error {
		sort.Strings(g.MemberKeys)
		sort.Strings(g.MemberUIDs)
		out[g.Name] = g
		return nil
	})
	if err != nil {
		t.Fatalf("ReadGroups(%+v): %v", spec, err)
	}
	return out
}

func keys(t *testing.T, dns ...string) []string {
	t.Helper()
	var out []string
	for _, dn := range dns {
		k, err := ldap.DNKey(dn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestReadGroupsSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	s.Add(t, groupsLDIF) // online, so the memberof overlay writes memberOf
	src := newSource(t, syncSettings(s))
	alice, bob, carol := "uid=alice,ou=users,dc=example,dc=com", "uid=bob,ou=users,dc=example,dc=com", "uid=carol,ou=users,dc=example,dc=com"
	smith, leads, artists := `cn=Smith\, Jr. \+ co,ou=users,dc=example,dc=com`, "cn=leads,ou=groups,dc=example,dc=com", "cn=ftrack-artists,ou=groups,dc=example,dc=com"

	// member (the default attribute, default filter: all group classes).
	got := readGroups(t, src, engine.GroupSpec{Name: "g", BaseDN: ldaptest.GroupsDN})
	if len(got) != 4 {
		t.Errorf("read %d groups, want 4: %v", len(got), got)
	}
	if g := got["ftrack-artists"]; !slices.Equal(g.MemberKeys, keys(t, alice, smith, leads, "uid=ghost,ou=users,dc=example,dc=com")) || g.Key != keys(t, artists)[0] {
		t.Errorf("ftrack-artists = %+v", g)
	}
	if g := got["reviewers"]; len(g.MemberKeys) != 0 {
		t.Errorf("reviewers by member = %+v", g)
	}
	// uniqueMember.
	got = readGroups(t, src, engine.GroupSpec{Name: "g", BaseDN: ldaptest.GroupsDN, MemberAttribute: "uniqueMember", Filter: "(objectClass=groupOfUniqueNames)"})
	if g := got["reviewers"]; len(got) != 1 || !slices.Equal(g.MemberKeys, keys(t, carol)) {
		t.Errorf("uniqueMember: %+v", got)
	}
	// memberUid.
	got = readGroups(t, src, engine.GroupSpec{Name: "g", BaseDN: ldaptest.GroupsDN, MemberAttribute: "memberUid"})
	if g := got["unix"]; !slices.Equal(g.MemberUIDs, []string{"CAROL", "alice", "nobody"}) || len(g.MemberKeys) != 0 {
		t.Errorf("memberUid: %+v", g)
	}
	// memberOf, from the user side (and the groups' own memberOf for
	// nesting): the same members as member, less the dangling ghost.
	got = readGroups(t, src, engine.GroupSpec{Name: "g", BaseDN: ldaptest.GroupsDN, MemberAttribute: "memberOf"})
	if g := got["ftrack-artists"]; !slices.Equal(g.MemberKeys, keys(t, alice, smith, leads)) {
		t.Errorf("memberOf: ftrack-artists = %+v", g)
	}
	if g := got["leads"]; !slices.Equal(g.MemberKeys, keys(t, bob)) {
		t.Errorf("memberOf: leads = %+v", g)
	}
	// Errors name the problem.
	err := src.ReadGroups(context.Background(), engine.GroupSpec{Name: "g", BaseDN: "ou=nowhere,dc=example,dc=com"}, func(engine.GroupEntry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "base DN not found") {
		t.Errorf("missing base: %v", err)
	}
}

// TestGroupsPlanSlapd runs groups blocks through the configuration, the
// engine and the ftrack emulator: DN and re: rules, nesting, memberUid,
// create_groups, unknown members counted, and a member leaving a group.
func TestGroupsPlanSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	s.Add(t, groupsLDIF)
	mapping := strings.Replace(usersMapping, "last_name  = entry.sn", "last_name  = entry.sn\n  groups     = [\"Everyone\"]", 1)
	hcl := slapdSource("corp", s.URL, ldaptest.UsersDN, "") + ftrackTarget + mapping + `
groups "studio" {
  base_dn = "ou=groups,dc=example,dc=com"
  nested  = true
  create_groups = true
  map = {
    "re:^ftrack-(.+)$"                  = "Team $1"
    "CN=Leads, OU=Groups, DC=Example, DC=Com" = "Leads"
  }
}
groups "unix" {
  base_dn          = "ou=groups,dc=example,dc=com"
  filter           = "(objectClass=posixGroup)"
  member_attribute = "memberUid"
  map              = { "re:.*" = "Unix" }
}
`
	w := newWorld(t, hcl)
	p := w.plan()
	memberships := map[string][]string{}
	for _, c := range p.Changes {
		if c.Action == engine.ActionAddMembership {
			memberships[c.Key] = append(memberships[c.Key], c.Group)
		}
	}
	want := map[string][]string{
		"alice":   {"Everyone", "Team artists", "Unix"},
		"bob":     {"Everyone", "Leads", "Team artists"}, // through cn=leads, nested in ftrack-artists
		"carol":   {"Everyone", "Unix"},
		"smithjr": {"Everyone", "Team artists"},
	}
	for k, v := range want {
		if !slices.Equal(memberships[k], v) {
			t.Errorf("%s: memberships %v, want %v", k, memberships[k], v)
		}
	}
	for _, warn := range []string{
		`groups "studio": 1 members of mapped groups are not users of mapping "users" and were ignored (first: uid=ghost,ou=users,dc=example,dc=com)`,
		`groups "unix": 1 members of mapped groups are not users of mapping "users" and were ignored (first: memberUid nobody)`,
	} {
		if !slices.Contains(p.Warnings, warn) {
			t.Errorf("warnings lack %q: %q", warn, p.Warnings)
		}
	}
	rep := w.apply(p)
	if rep.Failed.Total() != 0 || rep.Executed.AddMembership != 10 {
		t.Fatalf("apply: %+v %v", rep, rep.Failures)
	}
	if got := w.accounts()["bob"].Groups; !slices.Equal(got, []string{"Everyone", "Leads", "Team artists"}) {
		t.Errorf("bob's ftrack groups = %v", got)
	}

	// bob leaves cn=leads: he leaves both ftrack groups he had through it.
	s.Modify(t, "cn=leads,ou=groups,dc=example,dc=com", "member", "uid=carol,ou=users,dc=example,dc=com")
	p = w.plan()
	got := lines(p)
	wantLines := []string{
		"remove_membership membership.bob.Leads", "remove_membership membership.bob.Team artists",
		"add_membership membership.carol.Leads", "add_membership membership.carol.Team artists",
	}
	if !slices.Equal(got, wantLines) {
		t.Errorf("after the group change: %v, want %v", got, wantLines)
	}
	w.apply(p)
	if again := w.plan(); len(again.Changes) != 0 {
		t.Errorf("not converged: %v", lines(again))
	}
}
