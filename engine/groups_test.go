package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// groupSource is a fakeSource that also reads groups. Its DNKey folds case
// and spaces around commas, which is enough for the engine's logic; the
// real parsing is the LDAP provider's and is tested there.
type groupSource struct {
	fakeSource
	groups []GroupEntry
	specs  []GroupSpec
}

func (s *groupSource) DNKey(dn string) (string, error) {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(p))
	}
	return strings.Join(parts, ","), nil
}

func (s *groupSource) ReadGroups(ctx context.Context, spec GroupSpec, fn func(GroupEntry) error) error {
	s.specs = append(s.specs, spec)
	for _, g := range s.groups {
		g.Key, _ = s.DNKey(g.DN)
		for i, m := range g.MemberKeys {
			g.MemberKeys[i], _ = s.DNKey(m)
		}
		if err := fn(g); err != nil {
			return err
		}
	}
	return nil
}

func grp(cn string, members ...string) GroupEntry {
	return GroupEntry{DN: "cn=" + cn + ",ou=groups,dc=example,dc=com", Name: cn, MemberKeys: members}
}

func udn(uid string) string { return "UID=" + uid + ", OU=Users,DC=Example,DC=com" }

func userGroups(p *Plan) map[string][]string {
	out := map[string][]string{}
	for _, c := range p.Changes {
		if c.Action == ActionAddMembership {
			out[c.Key] = append(out[c.Key], c.Group)
		}
	}
	return out
}

func TestGroupsMapMembersToUsers(t *testing.T) {
	src := &groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a", "groups=FromMapping"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b"),
		entry("carol", "carol@example.com", "Carol", "C", "sid-c"),
		entry("dave", "", "Dave", "D", "sid-d"), // skipped: no mail
	}}, groups: []GroupEntry{
		grp("artists", udn("alice"), udn("bob"), udn("dave"), "uid=ghost,ou=users,dc=example,dc=com"),
		grp("ftrack-Leads", udn("carol")),
		grp("ftrack-Leads-Extra", udn("bob")),
		{DN: "cn=posix,ou=groups,dc=example,dc=com", Name: "posix", MemberUIDs: []string{"Carol", "nobody"}},
		grp("unmapped", udn("alice")),
	}}
	spec := GroupSpec{Name: "studio", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com", Rules: []GroupRule{
		{Match: "CN=Artists, OU=Groups, DC=example, DC=com", Name: "Artists"},
		{Match: "re:^ftrack-(\\w+)$", Name: "Team $1"},
		{Match: "cn=posix,ou=groups,dc=example,dc=com", Name: "Posix"},
		{Match: "cn=gone,ou=groups,dc=example,dc=com", Name: "Gone"},
	}}
	m := &fakeMapper{name: "users", groups: true}
	tgt := newTarget(owned("id-b", "bob", "bob@example.com", "Bob", "B", "sid-b", "Gone", "Other"))
	req := planReq([]Source{src}, m, tgt, DefaultPolicy())
	req.Groups = []GroupSpec{spec}
	p := mustPlan(t, req)

	got := userGroups(p)
	want := map[string][]string{
		"alice": {"Artists", "FromMapping"},
		"bob":   {"Artists"},
		"carol": {"Posix", "Team Leads"},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: add_membership %v, want %v", k, got[k], w)
		}
	}
	// "Gone" is managed (a DN rule) so bob leaves it; "Other" is not.
	var removed []string
	for _, c := range p.Changes {
		if c.Action == ActionRemoveMembership {
			removed = append(removed, c.Address)
		}
	}
	if !slices.Equal(removed, []string{"membership.bob.Gone"}) {
		t.Errorf("removals %v", removed)
	}
	joined := strings.Join(p.Warnings, "\n")
	for _, w := range []string{
		`groups "studio": 3 members of mapped groups are not users of mapping "users" and were ignored (first: memberUid nobody)`,
		`mapped group cn=gone,ou=groups,dc=example,dc=com was not found`,
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
	if len(src.specs) != 1 || src.specs[0].BaseDN != spec.BaseDN {
		t.Errorf("ReadGroups got specs %+v", src.specs)
	}
}

func TestGroupsNestedWithCycle(t *testing.T) {
	groups := []GroupEntry{
		grp("top", "cn=mid,ou=groups,dc=example,dc=com", udn("alice")),
		grp("mid", "cn=leaf,ou=groups,dc=example,dc=com"),
		grp("leaf", udn("bob"), "CN=Top,OU=Groups,DC=Example,DC=Com"), // cycle back to top
	}
	src := &groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b"),
	}}, groups: groups}
	for _, nested := range []bool{true, false} {
		src.groups = nil
		for _, g := range groups {
			g.MemberKeys = slices.Clone(g.MemberKeys)
			src.groups = append(src.groups, g)
		}
		req := planReq([]Source{src}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy())
		req.Groups = []GroupSpec{{Name: "n", Source: "corp", Nested: nested, Rules: []GroupRule{{Match: "cn=top,ou=groups,dc=example,dc=com", Name: "Top"}}}}
		p := mustPlan(t, req)
		got := userGroups(p)
		joined := strings.Join(p.Warnings, "\n")
		if nested {
			if !slices.Equal(got["alice"], []string{"Top"}) || !slices.Equal(got["bob"], []string{"Top"}) {
				t.Errorf("nested: %v", got)
			}
			if !strings.Contains(joined, "nested groups form a cycle (cn=leaf,ou=groups,dc=example,dc=com → cn=top,ou=groups,dc=example,dc=com → cn=mid,ou=groups,dc=example,dc=com → cn=leaf,ou=groups,dc=example,dc=com)") {
				t.Errorf("no cycle warning:\n%s", joined)
			}
		} else {
			if !slices.Equal(got["alice"], []string{"Top"}) || got["bob"] != nil {
				t.Errorf("not nested: %v", got)
			}
			if !strings.Contains(joined, "1 nested groups were not followed because nested = false") {
				t.Errorf("no nested=false warning:\n%s", joined)
			}
		}
	}
}

func TestGroupsIdentityMapAndErrors(t *testing.T) {
	src := &groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{entry("alice", "alice@example.com", "Alice", "A", "sid-a")}},
		groups: []GroupEntry{grp("Animators", udn("alice"))}}
	req := planReq([]Source{src}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy())
	req.Groups = []GroupSpec{{Name: "all", Source: "corp"}}
	if got := userGroups(mustPlan(t, req)); !slices.Equal(got["alice"], []string{"Animators"}) {
		t.Errorf("identity map: %v", got)
	}

	req.Groups = []GroupSpec{{Name: "x", Source: "elsewhere"}}
	if _, err := BuildPlan(context.Background(), req); err == nil || !strings.Contains(err.Error(), `source "elsewhere" is not one of the mapping's sources`) {
		t.Errorf("unknown source: %v", err)
	}
	plain := &fakeSource{name: "corp", entries: src.entries}
	req = planReq([]Source{plain}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy())
	req.Groups = []GroupSpec{{Name: "x", Source: "corp"}}
	if _, err := BuildPlan(context.Background(), req); err == nil || !strings.Contains(err.Error(), "cannot read groups") {
		t.Errorf("source without groups: %v", err)
	}
}

func TestSourcePrecedenceAndConflict(t *testing.T) {
	staff := &fakeSource{name: "staff", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "Staff", "sid-a"),
		entry("bob", "bob@example.com", "Bob", "Staff", "sid-b1"),
	}}
	free := &fakeSource{name: "freelancers", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "Free", "sid-a"), // same entry, read twice
		entry("bob", "bob@example.com", "Bob", "Free", "sid-b2"),      // a different person
	}}
	for i := range staff.entries {
		staff.entries[i].Source = "staff"
		free.entries[i].Source = "freelancers"
	}
	for _, order := range [][]Source{{staff, free}, {free, staff}} {
		p := mustPlan(t, planReq(order, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
		winner := order[0].Info().Name
		var alice *Change
		for i, c := range p.Changes {
			if c.Address == "user.alice" {
				alice = &p.Changes[i]
			}
			if c.Key == "bob" {
				t.Errorf("conflicting bob applied: %+v", c)
			}
		}
		wantLast := map[string]string{"staff": "Staff", "freelancers": "Free"}[winner]
		if alice == nil || alice.Action != ActionCreate || *alice.After.LastName != wantLast {
			t.Errorf("precedence %s: alice = %+v", winner, alice)
		}
		if len(p.Conflicts) != 1 || p.Conflicts[0].Key != "bob" || len(p.Conflicts[0].Entries) != 2 {
			t.Errorf("conflicts = %+v", p.Conflicts)
		}
		if !strings.Contains(strings.Join(p.Warnings, "\n"), `source "`+winner+`" takes precedence`) {
			t.Errorf("no precedence note: %v", p.Warnings)
		}
	}
}

func TestEnormousValueIsSkipped(t *testing.T) {
	src := &fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", strings.Repeat("A", 100000), "A", "sid-a"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b"),
	}}
	p := mustPlan(t, planReq([]Source{src}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	if len(p.Skipped) != 1 || p.Skipped[0].Reason != "first_name is 100000 characters long (at most 1024 are accepted)" {
		t.Errorf("skipped = %+v", p.Skipped)
	}
	if !slices.Equal(changeLines(p), []string{"create user.bob"}) {
		t.Errorf("changes = %v", changeLines(p))
	}
}

func TestGroupsEmptyAnswerIsAnError(t *testing.T) {
	// bob was made a member of Artists by an earlier apply; a groups read
	// that returns nothing must not remove him (or anyone) from it.
	src := &groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{entry("bob", "bob@example.com", "Bob", "B", "sid-b")}}}
	req := planReq([]Source{src}, &fakeMapper{name: "users"}, newTarget(owned("id-b", "bob", "bob@example.com", "Bob", "B", "sid-b", "Artists")), DefaultPolicy())
	req.LastApplied = NewLastApplied("l")
	req.LastApplied.ManagedGroups = []string{"Artists"}
	req.Groups = []GroupSpec{{Name: "studio", Source: "corp", BaseDN: "ou=grups,dc=example,dc=com", Rules: []GroupRule{{Match: "re:.*", Name: "Artists"}}}}
	_, err := BuildPlan(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), `groups "studio": source "corp" returned no groups under ou=grups,dc=example,dc=com; refusing to plan`) {
		t.Fatalf("empty groups answer: %v", err)
	}
}

// failingGroupSource fails its group read the way providers/ldap does: the
// message already names the source and the groups block.
type failingGroupSource struct{ groupSource }

func (s *failingGroupSource) ReadGroups(context.Context, GroupSpec, func(GroupEntry) error) error {
	return fmt.Errorf(`source "corp": groups "studio": filter "(x": unexpected end`)
}

func TestGroupsReadErrorIsNamedOnce(t *testing.T) {
	src := &failingGroupSource{groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{entry("bob", "bob@example.com", "Bob", "B", "sid-b")}}}}
	req := planReq([]Source{src}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy())
	req.Groups = []GroupSpec{{Name: "studio", Source: "corp"}}
	_, err := BuildPlan(context.Background(), req)
	if err == nil || err.Error() != `source "corp": groups "studio": filter "(x": unexpected end` {
		t.Fatalf("error = %v", err)
	}
}
