package ftrack

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

func roleChangeOf(act engine.Action, c engine.Change, role, project string, allOpen bool) engine.Change {
	addr := "role." + c.Key + "." + role
	if project != "" {
		addr = "role_project." + c.Key + "." + role + "." + project
	}
	return engine.Change{Address: addr, Action: act, Key: c.Key, TargetID: c.TargetID, Role: role, Project: project, AllOpenProjects: allOpen}
}

func rolesOf(t *testing.T, tg *Target, id string) string {
	t.Helper()
	_, byID, err := tg.ReadRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(byID[id])
}

// TestRolesAgainstTheEmulator: every role change through the five
// operations over HTTP, a repeat that sends nothing (grants are not
// idempotent), and the catalog.
func TestRolesAgainstTheEmulator(t *testing.T) {
	s := newServer(t)
	secret := s.Emulator.AddProject("Secret", true)
	s.Emulator.AddProject("Feature", false)
	tg := newTarget(t, s.URL)
	ctx := context.Background()

	ann := createChange("ann", "ann", "sid-ann")
	requireOK(t, tg.Execute(ctx, []engine.Change{ann}), []engine.Change{ann})
	if got := rolesOf(t, tg, ann.TargetID); got != "[{User true []}]" {
		t.Fatalf("a new user's roles: %s, want the default role", got)
	}
	cat, _, err := tg.ReadRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cat.Types["API Key"] != "API" || cat.Types["Project Manager"] != "PROJECT" || !cat.Projects["Secret"] || cat.Projects["Feature"] {
		t.Fatalf("catalog %+v", cat)
	}

	grant := []engine.Change{
		roleChangeOf(engine.ActionAddRole, ann, "Project Manager", "", true),
		roleChangeOf(engine.ActionAddRole, ann, "Assignee", "", false),
	}
	requireOK(t, tg.Execute(ctx, grant), grant)
	projects := []engine.Change{roleChangeOf(engine.ActionGrantRoleProject, ann, "Assignee", "Secret", false)}
	requireOK(t, tg.Execute(ctx, projects), projects)
	if got := rolesOf(t, tg, ann.TargetID); got != "[{Assignee false [Secret]} {Project Manager true []} {User true []}]" {
		t.Fatalf("roles after the grants: %s", got)
	}
	if rows := s.Emulator.Entities("UserSecurityRoleProject"); len(rows) != 1 || rows[0]["project_id"] != secret {
		t.Fatalf("project grants %v", rows)
	}

	// The same changes again: already there, nothing is sent (a second
	// grant would raise on a real server).
	s.Emulator.ResetStats()
	again := append(slices.Clone(grant), projects...)
	requireOK(t, tg.Execute(ctx, again), again)
	st := s.Emulator.Stats()
	for _, op := range []string{"add_user_security_role", "grant_user_security_role_project"} {
		if st.Actions[op] != 0 {
			t.Errorf("a repeated change sent %s %d times", op, st.Actions[op])
		}
	}

	take := []engine.Change{
		roleChangeOf(engine.ActionRevokeRoleProject, ann, "Assignee", "Secret", false),
		roleChangeOf(engine.ActionRemoveRole, ann, "Project Manager", "", false),
	}
	requireOK(t, tg.Execute(ctx, take), take)
	if got := rolesOf(t, tg, ann.TargetID); got != "[{Assignee false []} {User true []}]" {
		t.Fatalf("roles after the removals: %s", got)
	}
	requireOK(t, tg.Execute(ctx, take), take) // gone already: done

	// A project grant of a role the user lacks, a role ftrack lacks: errors.
	bad := []engine.Change{
		roleChangeOf(engine.ActionGrantRoleProject, ann, "Project Manager", "Secret", false),
		roleChangeOf(engine.ActionAddRole, ann, "Nonexistent", "", true),
	}
	for i, r := range tg.Execute(ctx, bad) {
		if r.Err == nil {
			t.Errorf("%s: no error", bad[i].Address)
		}
	}
}

// TestRoleGrantAnsweredLate: the server applies a grant and the answer is
// lost (503 after the work); the resend is rejected (held already) and
// Write settles it by reading the roles back instead of failing.
func TestRoleGrantAnsweredLate(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	ann := createChange("ann", "ann", "sid-ann")
	requireOK(t, tg.Execute(ctx, []engine.Change{ann}), []engine.Change{ann})
	s.Emulator.SetFaults(ftracktest.Faults{FailEvery: 2, FailAfterApply: true})
	grant := []engine.Change{roleChangeOf(engine.ActionAddRole, ann, "Project Manager", "", true)}
	// Every second request fails after its work: the catalog read
	// (first), the user's state (second, retried), the grant (applied,
	// answered 503), its resend (rejected: held already).
	s.Emulator.ResetStats()
	requireOK(t, tg.Execute(ctx, grant), grant)
	s.Emulator.SetFaults(ftracktest.Faults{})
	if st := s.Emulator.Stats(); st.Actions["add_user_security_role"] < 2 || st.Unavailable == 0 {
		t.Fatalf("the grant was not answered late and resent: %+v", st)
	}
	if got := rolesOf(t, tg, ann.TargetID); got != "[{Project Manager true []} {User true []}]" {
		t.Fatalf("roles: %s", got)
	}
	if n := len(s.Emulator.Entities("UserSecurityRole")); n != 3 { // the API user's, ann's default and the grant
		t.Fatalf("%d role rows, want 3", n)
	}
}
