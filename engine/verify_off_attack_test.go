package engine

import (
	"slices"
	"testing"
)

// secondPlanID is the id of a test's second plan (the test plans number
// their ids from 1 each time).
const secondPlanID = "11111111-1111-4111-8111-111111111111"

// TestRolesUnverifiedRefusedFromTheConfiguration: with the directory not
// checked (-verify-source=false), role changes the configuration on disk
// could not make are refused and nothing is written (found by review:
// only API and Administrator grants were refused there).
func TestRolesUnverifiedRefusedFromTheConfiguration(t *testing.T) {
	scoped := GroupSpec{Name: "private", Source: "corp", BaseDN: "ou=groups,dc=example,dc=com",
		Rules: []GroupRule{{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Assignee"}},
		Roles: &RoleScope{Projects: []string{"Secret"}}}
	literal := roleSpec()
	literal.Rules = []GroupRule{{Match: "cn=supervisors,ou=groups,dc=example,dc=com", Name: "Project Manager"}}
	cases := []struct {
		name  string
		specs []GroupSpec
		edit  Change
		msg   string
	}{
		{"no roles configured", []GroupSpec{}, addRole("alice", "id-a", "sid-a", "Project Manager", true), "the configuration manages no security roles"},
		{"a role no block names", []GroupSpec{literal}, addRole("alice", "id-a", "sid-a", "Assignee", true), `no roles block names role "Assignee"`},
		{"a role ftrack lacks", []GroupSpec{roleSpec()}, addRole("alice", "id-a", "sid-a", "Nonexistent", true), `ftrack has no role "Nonexistent"`},
		{"the default role", []GroupSpec{roleSpec()}, removeRole("alice", "id-a", "sid-a", "User"), `role "User" is the default_role`},
		{"a scope no block gives", []GroupSpec{literal}, addRole("carol", "id-c", "sid-c", "Project Manager", false), "no roles block grants roles on listed projects only"},
		{"a project no block lists", []GroupSpec{literal, scoped}, grantProject("alice", "id-a", "sid-a", "Assignee", "Feature"), `no roles block lists project "Feature"`},
		{"a hand-made role removed", []GroupSpec{literal}, removeRole("carol", "id-c", "sid-c", "Hand Made"), `role "Hand Made" is not managed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ra := newRoleAttack(tc.specs...)
			ra.specs = tc.specs
			p := ra.plan(t)
			p.Changes = append(p.Changes, tc.edit)
			ra.mustRefuse(t, p, false, "source_mismatch", tc.msg)
		})
	}
}

// TestRolesUnverifiedDoNotBecomeManaged: a role an unverified apply
// grants that the configuration does not name is not recorded as
// managed, so the next honest plan does not remove it from everyone who
// holds it by hand.
func TestRolesUnverifiedDoNotBecomeManaged(t *testing.T) {
	ra := newRoleAttack()
	if err := ra.apply(reread(t, ra.plan(t)), true); err != nil {
		t.Fatal(err)
	}
	ra.tgt.roles["id-b"] = append(ra.tgt.roles["id-b"], RoleGrant{Role: "Hand Made", AllOpen: true})
	p := ra.plan(t)
	p.PlanID = secondPlanID
	p.Changes = append(p.Changes, addRole("alice", "id-a", "sid-a", "Hand Made", true)) // allowed by the $1 pattern
	if err := ra.apply(reread(t, p), false); err != nil {
		t.Fatalf("apply: %v", err)
	}
	la, _ := ra.state.Load()
	if slices.Contains(la.ManagedRoles, "Hand Made") {
		t.Fatalf("an unverified grant made the role managed: %v", la.ManagedRoles)
	}
	for _, c := range ra.plan(t).Changes {
		if c.Role == "Hand Made" && c.Action == ActionRemoveRole {
			t.Fatalf("the next plan removes a hand-made role: %+v", c)
		}
	}
}

// TestCustomUnverifiedRefusedFromTheConfiguration: with the directory not
// checked, a custom attribute the mapping does not write, an on_create_only
// field in an update, or a bad key is refused and nothing is written.
func TestCustomUnverifiedRefusedFromTheConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name, reason, msg string
		edit              Change
	}{
		{"a key the mapping does not write", "source_mismatch", `does not write custom attribute "clearance"`, customUpdate("bob", "id-b", "clearance", "low", "top")},
		{"an on_create_only attribute", "source_mismatch", "custom_attributes.site is set at create only", customUpdate("bob", "id-b", "site", "Paris", "Oslo")},
		{"a key with an escape", "invalid", "U+001B", customUpdate("bob", "id-b", "x\x1b[31m", "", "y")},
		{"an empty key", "invalid", "a custom attribute key is empty", customUpdate("bob", "id-b", "", "", "y")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newCustomAttack()
			if err := ca.apply(reread(t, ca.plan(t)), true); err != nil {
				t.Fatal(err)
			}
			ca.tgt.calls = 0
			p := ca.plan(t)
			p.PlanID = secondPlanID
			p.Changes = append(p.Changes, tc.edit)
			ca.mustRefuse(t, p, false, tc.reason, tc.msg)
		})
	}
	ca := newCustomAttack()
	if err := ca.apply(reread(t, ca.plan(t)), true); err != nil {
		t.Fatal(err)
	}
	ca.tgt.calls = 0
	p := ca.plan(t)
	p.PlanID = secondPlanID
	name := Change{Action: ActionUpdate, Reason: ReasonAttributesDiffer, Key: "bob", Address: "user.bob", TargetID: "id-b", SourceID: "sid-b",
		Before: &Fields{FirstName: Str("Bob")}, After: &Fields{FirstName: Str("Robert")}}
	p.Changes = append(p.Changes, name)
	ca.mustRefuse(t, p, false, "source_mismatch", "first_name is set at create only")
}

// TestCustomKeysCaseOfFormatNames: a site custom attribute whose key is
// spelled like a member of the plan format in another case ("Email") is a
// map key, not a misspelt member: the plan applies (found by review: every
// plan was refused as invalid).
func TestCustomKeysCaseOfFormatNames(t *testing.T) {
	ca := newCustomAttack()
	ca.tgt.types["Email"] = "text"
	ca.m.keys = []string{"Email", "department", "site"}
	for _, e := range ca.src.entries {
		e.Attrs["Email"] = []string{"x-" + e.Attrs["uid"][0]}
	}
	if err := ca.apply(reread(t, ca.plan(t)), true); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := ca.tgt.values["id-a"]["Email"]; got != "x-alice" {
		t.Fatalf("Email custom attribute %q", got)
	}
}
