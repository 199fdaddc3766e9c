package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// roleTarget is a fakeTarget that keeps security roles.
type roleTarget struct {
	*fakeTarget
	cat   RoleCatalog
	roles map[string][]RoleGrant // account id -> roles
}

func newRoleTarget(accts ...Account) *roleTarget {
	return &roleTarget{fakeTarget: newTarget(accts...), roles: map[string][]RoleGrant{},
		cat: RoleCatalog{
			Types:    map[string]string{"Administrator": "PROJECT", "Project Manager": "PROJECT", "User": "PROJECT", "Assignee": "ASSIGNED", "API Key": "API"},
			Projects: map[string]bool{"Feature": false, "Secret": true},
		}}
}

func (t *roleTarget) ReadRoles(ctx context.Context) (RoleCatalog, map[string][]RoleGrant, error) {
	out := map[string][]RoleGrant{}
	for id, gs := range t.roles {
		for _, g := range gs {
			g.Projects = slices.Clone(g.Projects)
			out[id] = append(out[id], g)
		}
	}
	return t.cat, out, nil
}

func (t *roleTarget) Execute(ctx context.Context, changes []Change) []Result {
	var rest []Change
	var idx []int
	res := make([]Result, len(changes))
	for i, c := range changes {
		res[i].Address = c.Address
		if !isRoleAction(c.Action) {
			rest = append(rest, c)
			idx = append(idx, i)
			continue
		}
		if err := t.applyRole(c); err != nil {
			res[i].Err = err
			continue
		}
		t.executed[ChangeID(c)]++
	}
	for k, r := range t.fakeTarget.Execute(ctx, rest) {
		res[idx[k]] = r
	}
	for _, c := range rest { // ftrack gives a new account its default role
		if c.Action == ActionCreate && t.roles[c.TargetID] == nil {
			t.roles[c.TargetID] = []RoleGrant{{Role: "User", AllOpen: true}}
		}
	}
	return res
}

// applyRole applies a role change, refusing what ftrack refuses (a
// grant held already, a removal of what is not held).
func (t *roleTarget) applyRole(c Change) error {
	gs := t.roles[c.TargetID]
	i := slices.IndexFunc(gs, func(g RoleGrant) bool { return g.Role == c.Role })
	switch c.Action {
	case ActionAddRole:
		if i >= 0 {
			return fmt.Errorf("user already has role %q", c.Role)
		}
		gs = append(gs, RoleGrant{Role: c.Role, AllOpen: c.AllOpenProjects})
		sort.Slice(gs, func(a, b int) bool { return gs[a].Role < gs[b].Role })
	case ActionRemoveRole:
		if i < 0 {
			return fmt.Errorf("user has no role %q", c.Role)
		}
		gs = slices.Delete(gs, i, i+1)
	case ActionGrantRoleProject:
		if i < 0 || slices.Contains(gs[i].Projects, c.Project) {
			return fmt.Errorf("cannot grant %q on %q", c.Role, c.Project)
		}
		gs[i].Projects = sortedUnique(append(gs[i].Projects, c.Project))
	case ActionRevokeRoleProject:
		if i < 0 || !slices.Contains(gs[i].Projects, c.Project) {
			return fmt.Errorf("cannot revoke %q on %q", c.Role, c.Project)
		}
		gs[i].Projects = slices.DeleteFunc(gs[i].Projects, func(p string) bool { return p == c.Project })
	}
	t.roles[c.TargetID] = gs
	return nil
}

// roleWorld is a directory with groups and an ftrack with roles.
func roleWorld() (*groupSource, *roleTarget) {
	src := &groupSource{fakeSource: fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b"),
		entry("carol", "carol@example.com", "Carol", "C", "sid-c"),
		entry("dan", "dan@example.com", "Dan", "D", "sid-d"),
	}}, groups: []GroupEntry{
		grp("supervisors", udn("alice"), udn("dan")),
		grp("ftrack-role-Assignee", udn("bob")),
		grp("ftrack-role-API Key", udn("bob")),
		grp("ftrack-role-Administrator", udn("carol")),
		grp("ftrack-role-Nonexistent", udn("carol")),
		grp("everyone", udn("alice"), udn("bob"), udn("carol"), udn("dan")),
	}}
	tgt := newRoleTarget(
		owned("id-a", "alice", "alice@example.com", "Alice", "A", "sid-a"),
		owned("id-b", "bob", "bob@example.com", "Bob", "B", "sid-b"),
		owned("id-c", "carol", "carol@example.com", "Carol", "C", "sid-c"),
		Account{ID: "id-api", Username: "sync-bot", Active: true},
	)
	tgt.roles["id-a"] = []RoleGrant{{Role: "User", AllOpen: true}}
	// bob was a Project Manager; the directory no longer says so. He also
	// holds Assignee, granted by hand, which the rules name.
	tgt.roles["id-b"] = []RoleGrant{{Role: "Project Manager", AllOpen: true}, {Role: "User", AllOpen: true}}
	// carol holds a hand-granted role the configuration never names.
	tgt.roles["id-c"] = []RoleGrant{{Role: "Hand Made", AllOpen: true}}
	tgt.roles["id-api"] = []RoleGrant{{Role: "Administrator", AllOpen: true}}
	tgt.cat.Types["Hand Made"] = "PROJECT"
	return src, tgt
}

func roleSpec() GroupSpec {
	return GroupSpec{Name: "studio", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com",
		Rules: []GroupRule{
			{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Project Manager"},
			{Match: "re:^ftrack-role-(.+)$", Name: "$1"},
			{Match: "cn=everyone,ou=groups,dc=example,dc=com", Name: "User"},
		},
		Roles: &RoleScope{AllOpen: true, DefaultRole: "User"}}
}

func roleLines(p *Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if isRoleAction(c.Action) {
			l := string(c.Action) + " " + c.Address
			if c.AllOpenProjects {
				l += " (all open)"
			}
			out = append(out, l)
		}
	}
	return out
}

func rolePlan(t *testing.T, src Source, tgt Target, specs ...GroupSpec) *Plan {
	t.Helper()
	req := planReq([]Source{src}, &fakeMapper{name: "users"}, tgt, DefaultPolicy())
	req.Groups, req.TargetUser = specs, "sync-bot"
	return mustPlan(t, req)
}

func TestRolesPlan(t *testing.T) {
	src, tgt := roleWorld()
	p := rolePlan(t, src, tgt, roleSpec())
	want := []string{
		"remove_role role.bob.Project Manager",
		"add_role role.alice.Project Manager (all open)",
		"add_role role.bob.Assignee (all open)",
		"add_role role.dan.Project Manager (all open)",
	}
	if got := roleLines(p); !slices.Equal(got, want) {
		t.Fatalf("role changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	warn := strings.Join(p.Warnings, "\n")
	for _, w := range []string{
		`role "API Key" is an API role (for API keys); it is never granted to users: not granted to 1 user`,
		`roles "studio": gives Administrator to 1 user but does not list it in its own allow_privileged: not granted`,
		`role "Nonexistent" does not exist in ftrack`,
		`role "User" is the default_role`,
	} {
		if !strings.Contains(warn, w) {
			t.Errorf("warnings lack %q:\n%s", w, warn)
		}
	}
	if p.Summary.AddRole != 3 || p.Summary.RemoveRole != 1 {
		t.Errorf("summary %+v", p.Summary.Counts)
	}
	// dan is created and gets his role after the create.
	var order []string
	for _, c := range p.Changes {
		if c.Key == "dan" {
			order = append(order, string(c.Action))
		}
	}
	if !slices.Equal(order, []string{"create", "add_role"}) {
		t.Errorf("dan's changes in order %v", order)
	}
}

func TestRolesAllowPrivilegedAndProjects(t *testing.T) {
	src, tgt := roleWorld()
	spec := roleSpec()
	spec.Roles.AllowPrivileged = []string{"Administrator"}
	pm := GroupSpec{Name: "private", Source: "corp", BaseDN: spec.BaseDN,
		Rules: []GroupRule{{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Assignee"}},
		Roles: &RoleScope{Projects: []string{"Missing", "Secret"}}}
	p := rolePlan(t, src, tgt, spec, pm)
	got := roleLines(p)
	for _, w := range []string{
		"add_role role.carol.Administrator (all open)",
		"add_role role.alice.Assignee",
		"grant_role_project role_project.alice.Assignee.Secret",
	} {
		if !slices.Contains(got, w) {
			t.Errorf("changes lack %q:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), `project "Missing" does not exist in ftrack: 2 grants on it left out`) {
		t.Errorf("no warning for the missing project: %q", p.Warnings)
	}
	// carol's hand-made role is not named by the configuration: kept.
	for _, c := range p.Changes {
		if c.Role == "Hand Made" {
			t.Errorf("a role the configuration never names is changed: %+v", c)
		}
	}
}

func TestRolesApplyAndConverge(t *testing.T) {
	src, tgt := roleWorld()
	mapper := &fakeMapper{name: "users"}
	state := newMemState("lineage-r")
	spec := roleSpec()
	req := planReq([]Source{src}, mapper, tgt, DefaultPolicy())
	req.Groups, req.TargetUser = []GroupSpec{spec}, "sync-bot"
	req.LastApplied, _ = state.Load()
	p := mustPlan(t, req)
	ar := ApplyRequest{Plan: p, Target: tgt, State: state, ConfigDigest: "sha256:cfg", Now: clock, Policy: DefaultPolicy(),
		Mapper: mapper, Sources: []Source{src}, VerifySource: true, Groups: req.Groups, TargetUser: "sync-bot"}
	if _, err := Apply(context.Background(), ar); err != nil {
		t.Fatalf("apply: %v", err)
	}
	danID := ""
	for _, c := range p.Changes {
		if c.Key == "dan" {
			danID = c.TargetID
		}
	}
	if got := tgt.roles[danID]; len(got) != 2 || got[0].Role != "Project Manager" || got[1].Role != "User" {
		t.Errorf("dan's roles after apply: %+v", got)
	}
	la, _ := state.Load()
	if !slices.Equal(la.ManagedRoles, []string{"Assignee", "Project Manager"}) {
		t.Errorf("managed roles %v", la.ManagedRoles)
	}
	req.LastApplied, req.NewID = la, seqID()
	if again := roleLines(mustPlan(t, req)); len(again) != 0 {
		t.Errorf("a second plan changes roles again: %v", again)
	}
	// Drift: a Project Manager role removed by hand is out of band (a
	// plan grants it again); a role granted by hand that the
	// configuration never names is reported and left alone.
	tgt.roles[danID] = []RoleGrant{{Role: "User", AllOpen: true}}
	tgt.roles["id-a"] = append(tgt.roles["id-a"], RoleGrant{Role: "Hand Made", AllOpen: true})
	rep, err := Drift(context.Background(), DriftRequest{Sources: []Source{src}, Mapper: mapper, Target: tgt, Policy: DefaultPolicy(),
		LastApplied: la, Now: clock, Groups: req.Groups, TargetUser: "sync-bot"})
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, it := range rep.Items {
		for _, f := range it.Fields {
			if strings.HasPrefix(f.Field, "role:") {
				items = append(items, fmt.Sprintf("%s %s %s desired=%v actual=%v last=%v", it.Kind, it.Key, f.Field, deref(f.Desired), deref(f.Actual), deref(f.LastApplied)))
			}
		}
	}
	wantDrift := []string{
		"out_of_band alice role:Hand Made desired=<nil> actual=granted last=<nil>",
		"out_of_band dan role:Project Manager desired=granted actual=absent last=granted",
	}
	if !slices.Equal(items, wantDrift) {
		t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(wantDrift, "\n"))
	}
	tgt.roles["id-a"] = tgt.roles["id-a"][:len(tgt.roles["id-a"])-1]
	tgt.roles[danID] = []RoleGrant{{Role: "Project Manager", AllOpen: true}, {Role: "User", AllOpen: true}}

	// A role the directory takes away is removed, also once nobody has
	// it: it is managed through the state.
	src.groups = slices.DeleteFunc(src.groups, func(g GroupEntry) bool { return g.Name == "ftrack-role-Assignee" })
	if got := roleLines(mustPlan(t, req)); !slices.Equal(got, []string{"remove_role role.bob.Assignee"}) {
		t.Errorf("after the directory drops Assignee: %v", got)
	}
}

func TestRolesNeverTheLastAdministrator(t *testing.T) {
	src, tgt := roleWorld()
	spec := roleSpec()
	spec.Roles.AllowPrivileged = []string{"Administrator"}
	spec.Rules = append(spec.Rules, GroupRule{Match: "cn=admins,ou=groups,dc=example,dc=com", Name: "Administrator"})
	// The API user is no Administrator; alice is the only one, and the
	// directory takes the role away.
	tgt.roles["id-api"] = nil
	tgt.roles["id-a"] = []RoleGrant{{Role: "Administrator", AllOpen: true}}
	src.groups = slices.DeleteFunc(src.groups, func(g GroupEntry) bool { return g.Name == "ftrack-role-Administrator" })
	src.groups = append(src.groups, grp("admins", "uid=ghost,ou=users,dc=example,dc=com")) // mapped, holds no user
	p := rolePlan(t, src, tgt, spec)
	for _, c := range p.Changes {
		if c.Role == "Administrator" {
			t.Fatalf("the last Administrator's role is removed: %+v", c)
		}
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), `"alice" is the last active Administrator in ftrack: not removed`) {
		t.Errorf("no warning: %q", p.Warnings)
	}
	// Missing from the directory too: she is not deactivated either.
	src.entries = slices.DeleteFunc(src.entries, func(e Entry) bool { return e.Attrs["uid"][0] == "alice" })
	p = rolePlan(t, src, tgt, spec)
	for _, c := range p.Changes {
		if c.Key == "alice" && (c.Action == ActionDeactivate || c.Role == "Administrator") {
			t.Fatalf("the last Administrator is taken away: %+v", c)
		}
	}
	// With a second Administrator, the removal goes ahead.
	tgt.roles["id-api"] = []RoleGrant{{Role: "Administrator", AllOpen: true}}
	p = rolePlan(t, src, tgt, spec)
	if !slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Key == "alice" && c.Action == ActionDeactivate }) {
		t.Errorf("alice is not deactivated with another Administrator left: %v", changeLines(p))
	}
}

// TestRolesApplyRefusesEditedPlans: the attacker edits the plan file
// (checksum recomputed) to grant roles; apply refuses and writes nothing.
func TestRolesApplyRefusesEditedPlans(t *testing.T) {
	cases := []struct {
		name, reason, msg string
		edit              func(p *Plan)
		verify            bool
	}{
		{"administrator", "protected", `role "Administrator" is privileged`, func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionAddRole, ReasonRoleInDirectory, "bob", "id-b", "sid-b", RoleGrant{Role: "Administrator", AllOpen: true}, ""))
		}, false},
		{"api role", "protected", `role "API Key" is an API role`, func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionAddRole, ReasonRoleInDirectory, "bob", "id-b", "sid-b", RoleGrant{Role: "API Key"}, ""))
		}, true},
		{"not in the directory", "source_mismatch", "role.carol.Project Manager", func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionAddRole, ReasonRoleInDirectory, "carol", "id-c", "sid-c", RoleGrant{Role: "Project Manager", AllOpen: true}, ""))
		}, true},
		{"hand-made role removed", "source_mismatch", "role.carol.Hand Made", func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionRemoveRole, ReasonRoleNotInDirectory, "carol", "id-c", "sid-c", RoleGrant{Role: "Hand Made"}, ""))
		}, true},
		{"swapped account", "identity_mismatch", "target_id id-b is ftrack account", func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionAddRole, ReasonRoleInDirectory, "alice", "id-b", "sid-a", RoleGrant{Role: "Project Manager", AllOpen: true}, ""))
		}, true},
		{"last administrator", "protected", "last active Administrator", func(p *Plan) {
			p.Changes = append(p.Changes, roleChange(ActionRemoveRole, ReasonRoleNotInDirectory, "sync-bot", "id-api", "", RoleGrant{Role: "Administrator"}, ""))
		}, false},
		{"bad shape", "invalid", "a role change names a role", func(p *Plan) {
			c := roleChange(ActionAddRole, ReasonRoleInDirectory, "alice", "id-a", "sid-a", RoleGrant{Role: "Project Manager"}, "")
			c.After = &Fields{IsActive: Bool(true)}
			p.Changes = append(p.Changes, c)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := roleWorld()
			mapper := &fakeMapper{name: "users"}
			req := planReq([]Source{src}, mapper, tgt, DefaultPolicy())
			req.Groups, req.TargetUser = []GroupSpec{roleSpec()}, "sync-bot"
			state := newMemState("l")
			req.LastApplied, _ = state.Load()
			p := mustPlan(t, req)
			tc.edit(p)
			back := reread(t, p) // the attacker counts again, and the checksum is recomputed
			before := fmt.Sprint(tgt.roles)
			_, err := Apply(context.Background(), ApplyRequest{Plan: back, Target: tgt, State: state, ConfigDigest: "sha256:cfg", Now: clock,
				Policy: DefaultPolicy(), Mapper: mapper, Sources: []Source{src}, VerifySource: tc.verify, Groups: req.Groups, TargetUser: "sync-bot"})
			if refusalReason(err) != tc.reason || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("apply: %v, want a %s refusal mentioning %q", err, tc.reason, tc.msg)
			}
			if after := fmt.Sprint(tgt.roles); after != before || tgt.calls != 0 {
				t.Fatalf("refused apply wrote: roles %s -> %s, executed %v", before, after, tgt.executed)
			}
		})
	}
}

func TestRolesLimit(t *testing.T) {
	src, tgt := roleWorld()
	pol := DefaultPolicy()
	pol.MaxRoleChanges, _ = ParseLimit("2")
	req := planReq([]Source{src}, &fakeMapper{name: "users"}, tgt, pol)
	req.Groups, req.TargetUser = []GroupSpec{roleSpec()}, "sync-bot"
	p := mustPlan(t, req)
	if !p.IsBlocked() || !strings.Contains(strings.Join(p.Blocked.Reasons, ";"), "4 role changes exceed max_role_changes = 2") {
		t.Fatalf("not blocked by max_role_changes: %+v", p.Blocked)
	}
}

func deref(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// roleMapper is a fakeMapper whose roles expression gives the roles in
// the entries' "roles" attribute.
type roleMapper struct{ fakeMapper }

func (m *roleMapper) MapsRoles() bool { return true }

func (m *roleMapper) Map(e Entry) (User, error) {
	u, err := m.fakeMapper.Map(e)
	u.Roles = []RoleGrant{}
	for _, r := range e.Attrs["roles"] {
		u.Roles = append(u.Roles, RoleGrant{Role: r, AllOpen: true})
	}
	return u, err
}

// TestRolesFromTheMapping: the mapping's roles expression grants roles
// without any roles block, with the same refusals; its roles are managed.
func TestRolesFromTheMapping(t *testing.T) {
	_, tgt := roleWorld()
	src := &fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a", "roles=Project Manager"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b", "roles=Administrator"),
		entry("carol", "carol@example.com", "Carol", "C", "sid-c"),
	}}
	req := planReq([]Source{src}, &roleMapper{fakeMapper{name: "users"}}, tgt, DefaultPolicy())
	req.TargetUser = "sync-bot"
	p := mustPlan(t, req)
	want := []string{"remove_role role.bob.Project Manager", "add_role role.alice.Project Manager (all open)"}
	if got := roleLines(p); !slices.Equal(got, want) {
		t.Fatalf("role changes %q, want %q", got, want)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), `its roles expression gives Administrator to 1 user; privileged roles come only from a roles block that lists them in allow_privileged: not granted`) {
		t.Errorf("no refusal warning: %q", p.Warnings)
	}
}

// TestRolesPrivilegeIsPerBlock: one block's allow_privileged does not let
// another (a pattern any group creator can satisfy) grant Administrator,
// and a DN rule whose group is not found (a typo) does not make its role
// managed: nobody loses it because of the rule.
func TestRolesPrivilegeIsPerBlock(t *testing.T) {
	src, tgt := roleWorld()
	pattern := roleSpec() // re:^ftrack-role-(.+)$ gives carol Administrator
	admins := GroupSpec{Name: "admins", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com",
		Rules: []GroupRule{{Match: "cn=admins,ou=groups,dc=example,dc=com", Name: "Administrator"}},
		Roles: &RoleScope{AllOpen: true, AllowPrivileged: []string{"Administrator"}}}
	typo := GroupSpec{Name: "typo", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com",
		Rules: []GroupRule{{Match: "cn=asignee,ou=groups,dc=example,dc=com", Name: "Assignee"}},
		Roles: &RoleScope{AllOpen: true}}
	src.groups = append(src.groups, grp("admins", udn("dan")))
	src.groups = slices.DeleteFunc(src.groups, func(g GroupEntry) bool { return g.Name == "ftrack-role-Assignee" })
	tgt.roles["id-b"] = append(tgt.roles["id-b"], RoleGrant{Role: "Assignee", AllOpen: true})
	p := rolePlan(t, src, tgt, pattern, admins, typo)
	got := roleLines(p)
	if slices.Contains(got, "add_role role.carol.Administrator (all open)") {
		t.Errorf("a pattern block granted Administrator through another block's allow_privileged: %q", got)
	}
	if !slices.Contains(got, "add_role role.dan.Administrator (all open)") {
		t.Errorf("the admins block did not grant Administrator: %q", got)
	}
	if slices.Contains(got, "remove_role role.bob.Assignee") {
		t.Errorf("a rule whose group was not found took a role away: %q", got)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), `roles "typo": mapped group cn=asignee,ou=groups,dc=example,dc=com was not found`) {
		t.Errorf("no warning for the typo: %q", p.Warnings)
	}
}
