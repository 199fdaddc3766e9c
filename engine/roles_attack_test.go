package engine

// Attacks on the security roles: an edited plan (its checksum
// recomputed), a hostile directory, an unlucky operator. Each attack
// asserts that apply refuses with the expected token and writes nothing.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// roleAttack is one run of the roles world: a plan made from the
// configuration, edited by the attacker, re-read through the plan file
// and applied.
type roleAttack struct {
	src    *groupSource
	tgt    *roleTarget
	mapper Mapper
	specs  []GroupSpec
	state  *memState
	pol    Policy
}

func newRoleAttack(specs ...GroupSpec) *roleAttack {
	src, tgt := roleWorld()
	if len(specs) == 0 {
		specs = []GroupSpec{roleSpec()}
	}
	return &roleAttack{src: src, tgt: tgt, mapper: &fakeMapper{name: "users"}, specs: specs, state: newMemState("l"), pol: DefaultPolicy()}
}

func (ra *roleAttack) plan(t *testing.T) *Plan {
	t.Helper()
	req := planReq([]Source{ra.src}, ra.mapper, ra.tgt, ra.pol)
	req.Groups, req.TargetUser = ra.specs, "sync-bot"
	req.LastApplied, _ = ra.state.Load()
	return mustPlan(t, req)
}

// reread recounts the summary, recomputes the checksum and reads the
// plan back as apply would.
func reread(t *testing.T, p *Plan) *Plan {
	t.Helper()
	recount(p)
	return roundTrip(t, p)
}

func (ra *roleAttack) apply(p *Plan, verify bool) error {
	_, err := Apply(context.Background(), ApplyRequest{Plan: p, Target: ra.tgt, State: ra.state, ConfigDigest: "sha256:cfg", Now: clock,
		Policy: ra.pol, Mapper: ra.mapper, Sources: []Source{ra.src}, VerifySource: verify, Groups: ra.specs, TargetUser: "sync-bot"})
	return err
}

// mustRefuse applies p and asserts a refusal with reason and msg, and
// that nothing reached ftrack.
func (ra *roleAttack) mustRefuse(t *testing.T, p *Plan, verify bool, reason, msg string) {
	t.Helper()
	before := fmt.Sprint(ra.tgt.roles)
	err := ra.apply(reread(t, p), verify)
	if refusalReason(err) != reason || !strings.Contains(err.Error(), msg) {
		t.Fatalf("apply: %v, want a %s refusal mentioning %q", err, reason, msg)
	}
	if after := fmt.Sprint(ra.tgt.roles); after != before || ra.tgt.calls != 0 {
		t.Fatalf("refused apply wrote: roles %s -> %s, executed %v", before, after, ra.tgt.executed)
	}
}

func addRole(key, id, sid, role string, allOpen bool) Change {
	return roleChange(ActionAddRole, ReasonRoleInDirectory, key, id, sid, RoleGrant{Role: role, AllOpen: allOpen}, "")
}

func removeRole(key, id, sid, role string) Change {
	return roleChange(ActionRemoveRole, ReasonRoleNotInDirectory, key, id, sid, RoleGrant{Role: role}, "")
}

func grantProject(key, id, sid, role, project string) Change {
	return roleChange(ActionGrantRoleProject, ReasonProjectInConfiguration, key, id, sid, RoleGrant{Role: role}, project)
}

// TestRoleAttacksOnEditedPlans: edits of a plan, each refused before the
// first write, with the directory checked and, where the check holds
// without it, with -verify-source=false.
func TestRoleAttacksOnEditedPlans(t *testing.T) {
	adminAllowed := func() GroupSpec {
		s := roleSpec()
		s.Roles.AllowPrivileged = []string{"Administrator"}
		return s
	}
	private := GroupSpec{Name: "private", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com",
		Rules: []GroupRule{{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Assignee"}},
		Roles: &RoleScope{Projects: []string{"Feature"}}}
	cases := []struct {
		name   string
		specs  []GroupSpec
		verify bool
		edit   func(t *testing.T, p *Plan)
		reason string
		msg    string
	}{
		{"administrator with the directory check", nil, true, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("bob", "id-b", "sid-b", "Administrator", true))
		}, "protected", `role "Administrator" is privileged`},
		{"administrator allowed, but not in the directory for bob", []GroupSpec{adminAllowed()}, true, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("bob", "id-b", "sid-b", "Administrator", true))
		}, "source_mismatch", "role.bob.Administrator"},
		{"api role on a project", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", "API Key", false), grantProject("alice", "id-a", "sid-a", "API Key", "Secret"))
		}, "protected", `role "API Key" is an API role`},
		{"a role on the API user", []GroupSpec{adminAllowed()}, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("sync-bot", "id-api", "", "Project Manager", true))
		}, "protected", "API user"},
		{"a role on the API user via a look-alike key", []GroupSpec{adminAllowed()}, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("sync\u00adbot", "id-api", "", "Project Manager", true))
		}, "identity_mismatch", "is ftrack account \"sync-bot\""},
		{"last administrator's role removed", nil, false, func(t *testing.T, p *Plan) {
			// The API user is the only Administrator: a removal through a
			// key that is not the API user's name, id swapped.
			p.Changes = append(p.Changes, removeRole("alice", "id-api", "sid-a", "Administrator"))
		}, "identity_mismatch", "target_id id-api is ftrack account"},
		{"role swapped to another user's account", nil, true, func(t *testing.T, p *Plan) {
			for i, c := range p.Changes {
				if c.Action == ActionAddRole && c.Key == "alice" {
					p.Changes[i].TargetID = "id-c" // carol's account
				}
			}
		}, "identity_mismatch", "target_id id-c is ftrack account"},
		{"role swapped to another user, key and address too", nil, true, func(t *testing.T, p *Plan) {
			for i, c := range p.Changes {
				if c.Action == ActionAddRole && c.Key == "alice" {
					p.Changes[i] = addRole("carol", "id-c", "sid-c", c.Role, c.AllOpenProjects)
				}
			}
		}, "source_mismatch", "role.carol.Project Manager"},
		{"all_open_projects flipped on a project-scoped role", []GroupSpec{roleSpec(), private}, true, func(t *testing.T, p *Plan) {
			n := 0
			for i, c := range p.Changes {
				if c.Action == ActionAddRole && c.Role == "Assignee" && c.Key == "alice" {
					p.Changes[i].AllOpenProjects = true
					n++
				}
			}
			if n != 1 {
				t.Fatalf("no Assignee grant for alice: %v", changeLines(p))
			}
		}, "source_mismatch", "all_open_projects = false, the plan with true"},
		{"all_open_projects on a project grant", []GroupSpec{roleSpec(), private}, false, func(t *testing.T, p *Plan) {
			c := grantProject("alice", "id-a", "sid-a", "Assignee", "Feature")
			c.AllOpenProjects = true
			p.Changes = append(p.Changes, c)
		}, "invalid", "only add_role grants on all open projects"},
		{"private project not in the configuration", []GroupSpec{roleSpec(), private}, true, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, grantProject("alice", "id-a", "sid-a", "Assignee", "Secret"))
		}, "source_mismatch", "role_project.alice.Assignee.Secret"},
		{"role name with a control character", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", "Project\x1b[2JManager", true))
		}, "invalid", "role contains"},
		{"role name with a bidi override", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", "rotartsinimdA\u202e", true))
		}, "invalid", "role contains"},
		{"project name with a line separator", []GroupSpec{roleSpec(), private}, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, grantProject("alice", "id-a", "sid-a", "Assignee", "Feature\u2028Secret"))
		}, "invalid", "project contains"},
		{"role with a trailing space", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", "Administrator ", true))
		}, "invalid", "role ends with"},
		{"dotted address: key a, role b.c for key a.b, role c", nil, true, func(t *testing.T, p *Plan) {
			// "role.alice.Project Manager" is alice's grant; the attacker
			// writes the same address for another key and role.
			c := addRole("alice", "id-a", "sid-a", "Project Manager", true)
			c.Key, c.Role = "alice.project", "Manager"
			p.Changes = append(p.Changes, c)
		}, "identity_mismatch", ""},
		{"address that does not match its role", nil, true, func(t *testing.T, p *Plan) {
			for i, c := range p.Changes {
				if c.Action == ActionAddRole && c.Key == "alice" {
					p.Changes[i].Role = "Administrator" // address still says Project Manager
				}
			}
		}, "identity_mismatch", "the address does not match its key"},
		{"the same grant twice, once all open", []GroupSpec{roleSpec(), private}, true, func(t *testing.T, p *Plan) {
			for _, c := range p.Changes {
				if c.Action == ActionAddRole && c.Key == "alice" && c.Role == "Assignee" {
					c.AllOpenProjects = true
					p.Changes = append(p.Changes, c)
					return
				}
			}
			t.Fatal("no Assignee grant")
		}, "conflicting_changes", "listed twice"},
		{"a grant with a before", nil, false, func(t *testing.T, p *Plan) {
			c := addRole("alice", "id-a", "sid-a", "Project Manager", true)
			c.Before = &Fields{Owner: Str("users")}
			p.Changes = append(p.Changes, c)
		}, "invalid", "a role change names a role and has no before"},
		{"a grant with a group", nil, false, func(t *testing.T, p *Plan) {
			c := addRole("alice", "id-a", "sid-a", "Project Manager", true)
			c.Group = "Admins"
			p.Changes = append(p.Changes, c)
		}, "invalid", "a role change names a role and has no before"},
		{"a project on add_role", nil, false, func(t *testing.T, p *Plan) {
			c := addRole("alice", "id-a", "sid-a", "Project Manager", false)
			c.Project = "Secret"
			p.Changes = append(p.Changes, c)
		}, "invalid", "a project grant names a project"},
		{"a role on an unowned account (made by hand)", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("eve", "id-e", "", "Project Manager", true))
		}, "not_owned", `account "eve" has no ldapsync owner`},
		{"a role on another mapping's account", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("olga", "id-o", "", "Project Manager", true))
		}, "not_owned", `owned by mapping "contractors"`},
		{"a role on a protected account", nil, false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, removeRole("root", "id-r", "", "Project Manager"))
		}, "protected", "policy.protect"},
		{"a role grant to a create that is not in the plan", nil, true, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, addRole("zed", "id-z", "sid-z", "Project Manager", true))
		}, "stale", "user id-z no longer exists"},
		{"a role grant that rides on dan's create id", nil, true, func(t *testing.T, p *Plan) {
			var dan string
			for _, c := range p.Changes {
				if c.Action == ActionCreate && c.Key == "dan" {
					dan = c.TargetID
				}
			}
			p.Changes = append(p.Changes, addRole("carol", dan, "sid-c", "Project Manager", true))
		}, "identity_mismatch", "is the id the plan creates for user.dan"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ra := newRoleAttack(tc.specs...)
			ra.tgt.accounts["id-e"] = &Account{ID: "id-e", Username: "eve", Email: "eve@example.com", Active: true}
			ra.tgt.accounts["id-o"] = &Account{ID: "id-o", Username: "olga", Email: "olga@example.com", Active: true, Owner: "contractors"}
			ra.tgt.accounts["id-r"] = &Account{ID: "id-r", Username: "root", Email: "root@example.com", Active: true, Owner: "users"}
			ra.tgt.roles["id-r"] = []RoleGrant{{Role: "Project Manager", AllOpen: true}}
			ra.pol.Protect = []string{"root"}
			p := ra.plan(t)
			tc.edit(t, p)
			ra.mustRefuse(t, p, tc.verify, tc.reason, tc.msg)
		})
	}
}

// TestRoleAttackLastAdministrator: with two Administrators, an edited
// plan that takes the role from one and deactivates the other (or
// removes it twice under two changes) is refused: ftrack would be left
// without one.
func TestRoleAttackLastAdministrator(t *testing.T) {
	spec := roleSpec()
	spec.Roles.AllowPrivileged = []string{"Administrator"}
	spec.Rules = append(spec.Rules, GroupRule{Match: "cn=admins,ou=groups,dc=example,dc=com", Name: "Administrator"})
	for _, tc := range []struct {
		name   string
		verify bool
		edit   func(p *Plan)
	}{
		{"removal and deactivation", false, func(p *Plan) {
			p.Changes = append(p.Changes, removeRole("alice", "id-a", "sid-a", "Administrator"),
				Change{Action: ActionDeactivate, Reason: ReasonMissingFromDirectory, Key: "bob", Address: "user.bob", TargetID: "id-b", SourceID: "sid-b",
					Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}})
		}},
		{"two removals", false, func(p *Plan) {
			p.Changes = append(p.Changes, removeRole("alice", "id-a", "sid-a", "Administrator"), removeRole("bob", "id-b", "sid-b", "Administrator"))
		}},
		{"two removals, directory checked", true, func(p *Plan) {
			p.Changes = append(p.Changes, removeRole("alice", "id-a", "sid-a", "Administrator"), removeRole("bob", "id-b", "sid-b", "Administrator"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra := newRoleAttack(spec)
			ra.tgt.roles["id-api"] = nil // the API user is no Administrator
			ra.tgt.roles["id-a"] = []RoleGrant{{Role: "Administrator", AllOpen: true}}
			ra.tgt.roles["id-b"] = []RoleGrant{{Role: "Administrator", AllOpen: true}}
			ra.src.groups = slices.DeleteFunc(ra.src.groups, func(g GroupEntry) bool { return g.Name == "ftrack-role-Administrator" })
			ra.src.groups = append(ra.src.groups, grp("admins", udn("alice"), udn("bob")))
			p := ra.plan(t)
			tc.edit(p)
			reason := "protected"
			ra.mustRefuse(t, p, tc.verify, reason, "is the last active Administrator in ftrack")
		})
	}
}

// TestRoleAttackGrantBackBesideRemoval: bob loses Project Manager; the
// attacker adds the grant back beside the removal, hoping the grant runs
// after it. The grant is found done (bob holds the role when apply
// reads ftrack) and is not executed: bob ends without the role, as the
// directory says.
func TestRoleAttackGrantBackBesideRemoval(t *testing.T) {
	ra := newRoleAttack()
	p := ra.plan(t)
	if !slices.ContainsFunc(p.Changes, func(c Change) bool {
		return c.Action == ActionRemoveRole && c.Key == "bob" && c.Role == "Project Manager"
	}) {
		t.Fatalf("no removal of bob's Project Manager: %v", changeLines(p))
	}
	p.Changes = append(p.Changes, addRole("bob", "id-b", "sid-b", "Project Manager", true))
	if err := ra.apply(reread(t, p), true); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if holdsRole(Account{Roles: ra.tgt.roles["id-b"]}, "Project Manager") {
		t.Fatalf("bob holds Project Manager after apply: %+v", ra.tgt.roles["id-b"])
	}
	if n := ra.tgt.executed[ChangeID(addRole("bob", "id-b", "sid-b", "Project Manager", true))]; n != 0 {
		t.Fatalf("the grant was executed %d times", n)
	}
	la, _ := ra.state.Load()
	if got := la.Users["bob"].Roles; slices.Contains(got, "Project Manager") {
		t.Fatalf("the state records bob with Project Manager: %v", got)
	}
}

// TestRoleAttackLimits: an edited plan carrying more role changes than
// max_role_changes allows is blocked, whatever its summary and blocked
// members say, also with -verify-source=false; a plan made blocked and
// cut down to fit is still blocked with the directory checked.
func TestRoleAttackLimits(t *testing.T) {
	t.Run("added grants, no directory check", func(t *testing.T) {
		ra := newRoleAttack()
		ra.pol.MaxRoleChanges, _ = ParseLimit("4")
		p := ra.plan(t)
		if p.IsBlocked() {
			t.Fatalf("the honest plan is blocked: %+v", p.Blocked)
		}
		for _, r := range []string{"Assignee", "Hand Made"} {
			p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", r, true))
		}
		p.Blocked = nil
		ra.mustRefuse(t, p, false, "blocked", "role changes exceed max_role_changes = 4")
	})
	t.Run("blocked plan cut down", func(t *testing.T) {
		ra := newRoleAttack()
		ra.pol.MaxRoleChanges, _ = ParseLimit("2")
		p := ra.plan(t)
		if !p.IsBlocked() {
			t.Fatal("not blocked")
		}
		p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.Action == ActionAddRole && c.Key != "alice" })
		p.Blocked = nil
		ra.mustRefuse(t, p, true, "blocked", "with the directory as it is now")
	})
	t.Run("thousands of removals", func(t *testing.T) {
		ra := newRoleAttack()
		p := ra.plan(t)
		for i := range 3000 {
			id := fmt.Sprintf("id-x%04d", i)
			key := fmt.Sprintf("x%04d", i)
			ra.tgt.accounts[id] = &Account{ID: id, Username: key, Email: key + "@example.com", Active: true, Owner: "users"}
			ra.tgt.roles[id] = []RoleGrant{{Role: "Project Manager", AllOpen: true}}
			p.Changes = append(p.Changes, removeRole(key, id, "", "Project Manager"))
		}
		// 3000 owned accounts the directory lacks: 50% of them is the
		// default limit.
		ra.mustRefuse(t, p, false, "blocked", "role changes exceed max_role_changes")
	})
}

// TestRoleAttackResume: an apply interrupted after some role changes is
// resumed with the same plan: what is done is not granted twice (ftrack
// raises on a second grant), the rest is done.
func TestRoleAttackResume(t *testing.T) {
	spec := roleSpec()
	private := GroupSpec{Name: "private", Source: "corp", BaseDN: spec.BaseDN,
		Rules: []GroupRule{{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Assignee"}},
		Roles: &RoleScope{Projects: []string{"Feature", "Secret"}}}
	ra := newRoleAttack(spec, private)
	p := ra.plan(t)
	// The connection drops after alice's Assignee grant and its first
	// project grant: the second project grant and what follows fail.
	flaky := &interruptedRoles{roleTarget: ra.tgt, after: "role_project.alice.Assignee.Feature"}
	if _, err := Apply(context.Background(), ApplyRequest{Plan: reread(t, p), Target: flaky, State: ra.state, ConfigDigest: "sha256:cfg", Now: clock,
		Policy: ra.pol, Mapper: ra.mapper, Sources: []Source{ra.src}, VerifySource: true, Groups: ra.specs, TargetUser: "sync-bot"}); err == nil {
		t.Fatal("the interrupted apply reports no error")
	}
	if !flaky.dropped {
		t.Fatalf("the plan has no %s: %v", flaky.after, roleLines(p))
	}
	if err := ra.apply(reread(t, p), true); err != nil {
		t.Fatalf("resume: %v", err)
	}
	for id, n := range ra.tgt.executed {
		if n > 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
	got := ra.tgt.roles["id-a"]
	i := slices.IndexFunc(got, func(g RoleGrant) bool { return g.Role == "Assignee" })
	if i < 0 || !slices.Equal(got[i].Projects, []string{"Feature", "Secret"}) || got[i].AllOpen {
		t.Fatalf("alice's roles after resume: %+v", got)
	}
	// The plan applied: a third run is refused, and a fresh plan is empty.
	if err := ra.apply(reread(t, p), true); refusalReason(err) != "already_applied" {
		t.Fatalf("third apply: %v", err)
	}
	if again := roleLines(ra.plan(t)); len(again) != 0 {
		t.Fatalf("role changes after the resumed apply: %v", again)
	}
}

// TestRoleAttackHostileGroups: a directory writer creates groups whose
// names, through the re: rule, name Administrator in other spellings,
// look-alikes, the API role, the default role and names with dots. None
// is granted without allow_privileged; only a real role is.
func TestRoleAttackHostileGroups(t *testing.T) {
	ra := newRoleAttack()
	ra.src.groups = append(ra.src.groups,
		grp("ftrack-role-administrator", udn("alice")),
		grp("ftrack-role-ADMINISTRATOR", udn("alice")),
		grp("ftrack-role-Administrator ", udn("alice")),
		grp("ftrack-role-\u0410dministrator", udn("alice")), // Cyrillic A
		grp("ftrack-role-Administrator\u200b", udn("alice")),
		grp("ftrack-role-\uff21dministrator", udn("alice")), // fullwidth A
		grp("ftrack-role-API Key", udn("alice")),
		grp("ftrack-role-User", udn("alice")),
		grp("ftrack-role-role.alice.Administrator", udn("alice")),
	)
	p := ra.plan(t)
	for _, c := range p.Changes {
		if isRoleAction(c.Action) && c.Action != ActionRemoveRole && c.Role != "Project Manager" && c.Role != "Assignee" {
			t.Errorf("a hostile group name is granted: %s %s", c.Action, c.Address)
		}
	}
	// And the plan applies (nothing hostile rode along): alice holds no
	// Administrator or API role afterwards.
	if err := ra.apply(reread(t, p), true); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, g := range ra.tgt.roles["id-a"] {
		if g.Role != "Project Manager" && g.Role != "User" {
			t.Errorf("alice holds %q", g.Role)
		}
	}
}

// TestRoleAttackDoneGrantNotManaged: the attacker appends a grant that
// is already "done" (carol holds her hand-made role): apply writes
// nothing for it and does not record the role as managed, so the next
// honest plan does not take the role from everyone who holds it.
func TestRoleAttackDoneGrantNotManaged(t *testing.T) {
	for _, verify := range []bool{true, false} {
		t.Run(fmt.Sprintf("verify=%t", verify), func(t *testing.T) {
			ra := newRoleAttack()
			if err := ra.apply(reread(t, ra.plan(t)), true); err != nil {
				t.Fatal(err)
			}
			ra.tgt.roles["id-a"] = append(ra.tgt.roles["id-a"], RoleGrant{Role: "Hand Made", AllOpen: true})
			p := ra.plan(t)
			p.PlanID = "00000000-0000-4000-8000-0000000000ff"
			p.Changes = append(p.Changes, addRole("carol", "id-c", "sid-c", "Hand Made", true))
			if err := ra.apply(reread(t, p), verify); err != nil {
				t.Fatalf("apply: %v", err)
			}
			la, _ := ra.state.Load()
			if slices.Contains(la.ManagedRoles, "Hand Made") {
				t.Fatalf("an already-done grant made its role managed: %v", la.ManagedRoles)
			}
			for _, c := range ra.plan(t).Changes {
				if c.Role == "Hand Made" {
					t.Fatalf("the next plan changes the hand-made role: %s", c.Address)
				}
			}
		})
	}
}

// interruptedRoles is a roleTarget whose connection drops once the change
// at address after has been executed: every later change fails.
type interruptedRoles struct {
	*roleTarget
	after   string
	dropped bool
}

func (t *interruptedRoles) Execute(ctx context.Context, changes []Change) []Result {
	res := make([]Result, len(changes))
	for i, c := range changes {
		if t.dropped {
			res[i] = Result{Address: c.Address, Err: fmt.Errorf("connection reset")}
			continue
		}
		res[i] = t.roleTarget.Execute(ctx, []Change{c})[0]
		t.dropped = c.Address == t.after
	}
	return res
}
