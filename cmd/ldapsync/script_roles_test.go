package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// ftrack-roles USERNAME [ROLE[@PROJECT]...] asserts the security roles
// the ftrack user holds, exactly: each role, and each of its project
// grants as ROLE@PROJECT.
func cmdFtrackRoles(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: ftrack-roles USERNAME [ROLE[@PROJECT]...]")
	}
	e := ftrackOf(ts).Emulator
	name := func(typ, id string) string {
		for _, r := range e.Entities(typ) {
			if fmt.Sprint(r["id"]) == id {
				return fmt.Sprint(r["name"])
			}
		}
		return "?" + id
	}
	u := findUser(e, args[0])
	if u == nil {
		ts.Fatalf("ftrack-roles: no user %q", args[0])
	}
	userID := fmt.Sprint(u["id"])
	var got []string
	usr := map[string]string{}
	for _, r := range e.Entities("UserSecurityRole") {
		if fmt.Sprint(r["user_id"]) == userID {
			role := name("SecurityRole", fmt.Sprint(r["security_role_id"]))
			usr[fmt.Sprint(r["id"])] = role
			got = append(got, role)
		}
	}
	for _, p := range e.Entities("UserSecurityRoleProject") {
		if role, ok := usr[fmt.Sprint(p["user_security_role_id"])]; ok {
			got = append(got, role+"@"+name("Project", fmt.Sprint(p["project_id"])))
		}
	}
	want := append([]string(nil), args[1:]...)
	sort.Strings(got)
	sort.Strings(want)
	if (strings.Join(got, "|") == strings.Join(want, "|")) == neg {
		ts.Fatalf("ftrack-roles %s: holds %q, want %s%q", args[0], got, notIf(neg), want)
	}
}

// ftrack-project NAME [private] adds a project to the emulator.
func cmdFtrackProject(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[1] != "private") {
		ts.Fatalf("usage: ftrack-project NAME [private]")
	}
	ftrackOf(ts).Emulator.AddProject(args[0], len(args) == 2)
}

// ftrack-grant USERNAME ROLE gives the user a security role by hand (as
// an administrator in ftrack's web UI would), on all open projects;
// the role is added to the site first when it has none of that name.
func cmdFtrackGrant(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ftrack-grant USERNAME ROLE")
	}
	e := ftrackOf(ts).Emulator
	roleID := ftracktest.SecurityRoleID(args[1])
	if _, err := e.AddSecurityRole(args[1], ftracktest.RoleTypeProject); err != nil && !strings.Contains(err.Error(), "exists") {
		ts.Fatalf("ftrack-grant: %v", err)
	}
	u := findUser(e, args[0])
	if u == nil {
		ts.Fatalf("ftrack-grant: no user %q", args[0])
	}
	ts.Check(e.Put("UserSecurityRole", map[string]any{"id": uuid.NewString(), "user_id": u["id"], "security_role_id": roleID, "is_all_open_projects": true}))
}

// ftrack-custom KEY TYPE adds a user custom attribute (text, number,
// boolean, date, enumerator) to the emulator.
func cmdFtrackCustom(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ftrack-custom KEY TYPE")
	}
	_, err := ftrackOf(ts).Emulator.AddUserCustomAttribute(args[0], args[1])
	ts.Check(err)
}

// ftrack-custom-set USERNAME KEY VALUE changes a user's custom attribute
// through the emulator's HTTP API, as a person in ftrack's web UI would.
func cmdFtrackCustomSet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ftrack-custom-set USERNAME KEY VALUE")
	}
	e := ftrackOf(ts).Emulator
	u := findUser(e, args[0])
	if u == nil {
		ts.Fatalf("no ftrack user %q", args[0])
	}
	for _, c := range e.Entities("CustomAttributeConfiguration") {
		if c["key"] == args[1] {
			ftrackAPI(ts, map[string]any{"action": "update", "entity_type": "UserCustomAttributeValue",
				"entity_key":  []string{fmt.Sprint(c["id"]), fmt.Sprint(u["id"])},
				"entity_data": map[string]any{"__entity_type__": "UserCustomAttributeValue", "value": args[2]}})
			return
		}
	}
	ts.Fatalf("no custom attribute %q", args[1])
}

// ftrack-ungrant USERNAME ROLE takes a security role from the user by
// hand (its project grants too), as an administrator in ftrack would.
func cmdFtrackUngrant(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ftrack-ungrant USERNAME ROLE")
	}
	e := ftrackOf(ts).Emulator
	u := findUser(e, args[0])
	if u == nil {
		ts.Fatalf("no ftrack user %q", args[0])
	}
	ftrackAPI(ts, map[string]any{"action": "remove_user_security_role", "user_id": u["id"], "role_id": ftracktest.SecurityRoleID(args[1])})
}
