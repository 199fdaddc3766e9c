package ftracktest

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// secOp builds a security-role operation.
func secOp(action string, fields map[string]any) map[string]any {
	op := map[string]any{"action": action}
	for k, v := range fields {
		op[k] = v
	}
	return op
}

// wantErr sends ops, requires the exception exc whose content contains
// every one of substrs, and returns the exception body.
func wantErr(t *testing.T, s *Server, exc string, substrs []string, ops ...map[string]any) map[string]any {
	t.Helper()
	_, m := callErr(t, s, nil, ops...)
	content, _ := m["content"].(string)
	if m["exception"] != exc {
		t.Errorf("exception %v (%s), want %s", m["exception"], content, exc)
	}
	for _, sub := range substrs {
		if !strings.Contains(content, sub) {
			t.Errorf("content %q lacks %q", content, sub)
		}
	}
	return m
}

// createUser creates an active User through the API and returns its id.
func createUser(t *testing.T, s *Server, username string) string {
	t.Helper()
	res := call(t, s, create("User", map[string]any{"username": username, "is_active": true}))
	return res[0].(map[string]any)["data"].(map[string]any)["id"].(string)
}

// rolesOf returns the role names (sorted by query order) and
// is_all_open_projects flags of userID's UserSecurityRole rows.
func rolesOf(t *testing.T, s *Server, userID string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, r := range queryData(t, s, `select security_role.name, is_all_open_projects from UserSecurityRole where user_id is "`+userID+`"`) {
		m := r.(map[string]any)
		out[m["security_role"].(map[string]any)["name"].(string)] = m["is_all_open_projects"]
	}
	return out
}

func TestSeededRolesTypesAndAPIUserRole(t *testing.T) {
	s := newTestServer(t)
	roles := map[string]string{}
	for _, r := range queryData(t, s, `select id, name, type from SecurityRole`) {
		m := r.(map[string]any)
		if m["id"] != SecurityRoleID(m["name"].(string)) {
			t.Errorf("role %v: id is not SecurityRoleID(name)", m)
		}
		roles[m["name"].(string)] = m["type"].(string)
	}
	want := map[string]string{"Administrator": "PROJECT", "Project Manager": "PROJECT", "User": "PROJECT", "Assignee": "ASSIGNED", "API Key": "API"}
	if !reflect.DeepEqual(roles, want) {
		t.Errorf("seeded roles %v, want %v", roles, want)
	}
	types := map[string]string{}
	for _, r := range queryData(t, s, `select id, name from UserType`) {
		m := r.(map[string]any)
		types[m["name"].(string)] = m["id"].(string)
	}
	if len(types) != 4 || types["ftrack"] != DefaultUserTypeID || types["ldap"] != UserTypeID("ldap") || types["service"] != UserTypeID("service") || types["demo"] != UserTypeID("demo") {
		t.Errorf("seeded user types %v", types)
	}
	if UserTypeID("FTrack") != DefaultUserTypeID || UserTypeID("ldap") == UserTypeID("demo") || !uuidRE.MatchString(UserTypeID("ldap")) {
		t.Errorf("UserTypeID: %s %s %s", UserTypeID("FTrack"), UserTypeID("ldap"), UserTypeID("demo"))
	}
	cats := map[string]bool{}
	for _, r := range queryData(t, s, `select id, name, core from CustomAttributeType`) {
		m := r.(map[string]any)
		if m["id"] != CustomAttributeTypeID(m["name"].(string)) || m["core"] != true {
			t.Errorf("custom attribute type %v", m)
		}
		cats[m["name"].(string)] = true
	}
	if len(cats) != 5 || !cats["text"] || !cats["number"] || !cats["boolean"] || !cats["date"] || !cats["enumerator"] {
		t.Errorf("seeded custom attribute types %v", cats)
	}

	usr := queryData(t, s, `select id, user_id, security_role_id, is_all_open_projects from UserSecurityRole`)
	if len(usr) != 1 {
		t.Fatalf("UserSecurityRole rows at start %v, want the API user's only", usr)
	}
	m := usr[0].(map[string]any)
	if m["user_id"] != APIUserID(testUser) || m["security_role_id"] != SecurityRoleID("Administrator") || m["is_all_open_projects"] != true || !uuidRE.MatchString(m["id"].(string)) {
		t.Errorf("API user's role %v", m)
	}
	u := queryData(t, s, `select id, username, user_type.name from User`)[0].(map[string]any)
	if u["user_type"].(map[string]any)["name"] != "ftrack" {
		t.Errorf("API user's type %v", u)
	}
	// Deterministic: a second emulator has the same ids.
	if got := New(Options{APIUser: testUser, APIKey: testKey}).Entities("UserSecurityRole"); !reflect.DeepEqual(got, s.Emulator.Entities("UserSecurityRole")) {
		t.Errorf("seeded UserSecurityRole differs between emulators: %v", got)
	}
}

func TestAddUserSecurityRole(t *testing.T) {
	s := newTestServer(t)
	uid := createUser(t, s, "jdoe")
	pm := SecurityRoleID("Project Manager")
	s.Emulator.ResetStats()
	res := call(t, s, secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": pm, "all_open_projects": false, "metadata": map[string]any{"why": "test"}}))
	ans := res[0].(map[string]any)
	data := ans["data"].(map[string]any)
	if ans["action"] != "add_user_security_role" || data["__entity_type__"] != "UserSecurityRole" || data["user_id"] != uid ||
		data["security_role_id"] != pm || data["is_all_open_projects"] != false || !uuidRE.MatchString(data["id"].(string)) {
		t.Errorf("answer %v", ans)
	}
	if got := rolesOf(t, s, uid); !reflect.DeepEqual(got, map[string]any{"User": true, "Project Manager": false}) {
		t.Errorf("roles after add %v", got)
	}
	if n := s.Emulator.Stats().Actions["add_user_security_role"]; n != 1 {
		t.Errorf("Stats.Actions[add_user_security_role] = %d", n)
	}
	// all_open_projects may be left out (false).
	data = call(t, s, secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("Assignee")}))[0].(map[string]any)["data"].(map[string]any)
	if data["is_all_open_projects"] != false {
		t.Errorf("without all_open_projects: %v", data)
	}

	refusals := []struct {
		name   string
		fields map[string]any
		want   []string
	}{
		{"API role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("API Key"), "all_open_projects": true}, []string{"API roles cannot be granted to users", "API Key"}},
		{"held", map[string]any{"user_id": uid, "role_id": pm, "all_open_projects": true}, []string{"already has the security role", "Project Manager"}},
		{"unknown user", map[string]any{"user_id": "no-such-user", "role_id": pm}, []string{"User no-such-user does not exist"}},
		{"unknown role", map[string]any{"user_id": uid, "role_id": "no-such-role"}, []string{"SecurityRole no-such-role does not exist"}},
		{"missing role", map[string]any{"user_id": uid}, []string{`needs "role_id"`}},
		{"bad flag", map[string]any{"user_id": uid, "role_id": SecurityRoleID("Administrator"), "all_open_projects": "yes"}, []string{"all_open_projects must be a boolean"}},
		{"unknown field", map[string]any{"user_id": uid, "role_id": SecurityRoleID("Administrator"), "project_id": "p"}, []string{`no field "project_id"`}},
		{"bad metadata", map[string]any{"user_id": uid, "role_id": SecurityRoleID("Administrator"), "metadata": "x"}, []string{"metadata must be an object"}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, s, ExcValidation, c.want, secOp("add_user_security_role", c.fields))
		})
	}
	if got := rolesOf(t, s, uid); len(got) != 3 {
		t.Errorf("refusals changed the roles: %v", got)
	}
	// With ftrack-strict-api, a refusal is a 400.
	status, _ := callErr(t, s, map[string]string{"ftrack-strict-api": "true"}, secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": pm}))
	if status != http.StatusBadRequest {
		t.Errorf("strict status %d", status)
	}
	// A plain create of a UserSecurityRole with an API role is refused too.
	wantErr(t, s, ExcValidation, []string{"API roles cannot be granted to users"},
		create("UserSecurityRole", map[string]any{"user_id": uid, "security_role_id": SecurityRoleID("API Key")}))
}

func TestRemoveAndUpdateUserSecurityRole(t *testing.T) {
	s := newTestServer(t)
	uid := createUser(t, s, "jdoe")
	user, pm, admin := SecurityRoleID("User"), SecurityRoleID("Project Manager"), SecurityRoleID("Administrator")
	p := s.Emulator.AddProject("Alpha", false)
	call(t, s, secOp("grant_user_security_role_project", map[string]any{"user_id": uid, "role_id": user, "project_id": p}))

	// update keeps the row (and its projects) and changes the role.
	res := call(t, s, secOp("update_user_security_role", map[string]any{"user_id": uid, "role_id": user, "new_role_id": pm, "metadata": map[string]any{}}))
	ans := res[0].(map[string]any)
	data := ans["data"].(map[string]any)
	if ans["action"] != "update_user_security_role" || data["__entity_type__"] != "UserSecurityRole" || data["security_role_id"] != pm || data["user_id"] != uid || data["is_all_open_projects"] != true {
		t.Errorf("update answer %v", ans)
	}
	if got := rolesOf(t, s, uid); !reflect.DeepEqual(got, map[string]any{"Project Manager": true}) {
		t.Errorf("roles after update %v", got)
	}
	if rows := queryData(t, s, `select project_id from UserSecurityRoleProject where user_security_role.security_role_id is "`+pm+`"`); len(rows) != 1 {
		t.Errorf("project grant not kept through update: %v", rows)
	}
	call(t, s, secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": admin, "all_open_projects": true}))
	for _, c := range []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"not held", map[string]any{"user_id": uid, "role_id": user, "new_role_id": SecurityRoleID("Assignee")}, "does not have the security role"},
		{"new is API", map[string]any{"user_id": uid, "role_id": pm, "new_role_id": SecurityRoleID("API Key")}, "API roles cannot be granted to users"},
		{"new held", map[string]any{"user_id": uid, "role_id": pm, "new_role_id": admin}, "already has the security role"},
		{"unknown new", map[string]any{"user_id": uid, "role_id": pm, "new_role_id": "nope"}, "SecurityRole nope does not exist"},
		{"missing new", map[string]any{"user_id": uid, "role_id": pm}, `needs "new_role_id"`},
	} {
		t.Run("update "+c.name, func(t *testing.T) {
			wantErr(t, s, ExcValidation, []string{c.want}, secOp("update_user_security_role", c.fields))
		})
	}

	// remove deletes the row and its project grants.
	res = call(t, s, secOp("remove_user_security_role", map[string]any{"user_id": uid, "role_id": pm}))
	if !reflect.DeepEqual(res[0], map[string]any{"action": "remove_user_security_role", "data": true}) {
		t.Errorf("remove answer %v", res[0])
	}
	if got := rolesOf(t, s, uid); !reflect.DeepEqual(got, map[string]any{"Administrator": true}) {
		t.Errorf("roles after remove %v", got)
	}
	if rows := queryData(t, s, `select id from UserSecurityRoleProject`); len(rows) != 0 {
		t.Errorf("project grants left after remove: %v", rows)
	}
	wantErr(t, s, ExcValidation, []string{"does not have the security role", "Project Manager"},
		secOp("remove_user_security_role", map[string]any{"user_id": uid, "role_id": pm}))
	wantErr(t, s, ExcValidation, []string{"User ghost does not exist"},
		secOp("remove_user_security_role", map[string]any{"user_id": "ghost", "role_id": pm}))
}

func TestGrantAndRevokeProject(t *testing.T) {
	s := newTestServer(t)
	uid := createUser(t, s, "jdoe")
	user := SecurityRoleID("User")
	alpha := s.Emulator.AddProject("Alpha", true)
	beta := s.Emulator.AddProject("Beta", false)
	if rows := queryData(t, s, `select id, name, is_private from Project order by name`); len(rows) != 2 ||
		rows[0].(map[string]any)["name"] != "Alpha" || rows[0].(map[string]any)["is_private"] != true || rows[0].(map[string]any)["id"] != alpha ||
		rows[1].(map[string]any)["is_private"] != false || rows[0].(map[string]any)["context_type"] != "show" {
		t.Errorf("projects %v", rows)
	}

	res := call(t, s, secOp("grant_user_security_role_project", map[string]any{"user_id": uid, "role_id": user, "project_id": alpha, "metadata": map[string]any{"k": 1}}))
	ans := res[0].(map[string]any)
	data := ans["data"].(map[string]any)
	usrID := queryData(t, s, `select id from UserSecurityRole where user_id is "`+uid+`"`)[0].(map[string]any)["id"]
	if ans["action"] != "grant_user_security_role_project" || data["__entity_type__"] != "UserSecurityRoleProject" || data["project_id"] != alpha ||
		data["user_security_role_id"] != usrID || !uuidRE.MatchString(data["id"].(string)) {
		t.Errorf("grant answer %v", ans)
	}
	rows := queryData(t, s, `select id, user_security_role_id, project_id from UserSecurityRoleProject`)
	if len(rows) != 1 || rows[0].(map[string]any)["project_id"] != alpha {
		t.Errorf("UserSecurityRoleProject rows %v", rows)
	}
	u := queryData(t, s, `select user_security_roles.user_security_role_projects.project.name from User where id is "`+uid+`"`)[0].(map[string]any)
	usr := u["user_security_roles"].([]any)[0].(map[string]any)
	if ps := usr["user_security_role_projects"].([]any); len(ps) != 1 || ps[0].(map[string]any)["project"].(map[string]any)["name"] != "Alpha" {
		t.Errorf("nested projection %v", u)
	}

	grant := func(fields map[string]any) map[string]any { return secOp("grant_user_security_role_project", fields) }
	wantErr(t, s, ExcValidation, []string{"already has the security role", alpha}, grant(map[string]any{"user_id": uid, "role_id": user, "project_id": alpha}))
	wantErr(t, s, ExcValidation, []string{"Project nope does not exist"}, grant(map[string]any{"user_id": uid, "role_id": user, "project_id": "nope"}))
	wantErr(t, s, ExcValidation, []string{"does not have the security role", "Administrator"}, grant(map[string]any{"user_id": uid, "role_id": SecurityRoleID("Administrator"), "project_id": beta}))
	wantErr(t, s, ExcValidation, []string{`needs "project_id"`}, grant(map[string]any{"user_id": uid, "role_id": user}))

	revoke := func(fields map[string]any) map[string]any { return secOp("revoke_user_security_role_project", fields) }
	wantErr(t, s, ExcValidation, []string{"does not have the security role", beta}, revoke(map[string]any{"user_id": uid, "role_id": user, "project_id": beta}))
	res = call(t, s, revoke(map[string]any{"user_id": uid, "role_id": user, "project_id": alpha}))
	if !reflect.DeepEqual(res[0], map[string]any{"action": "revoke_user_security_role_project", "data": true}) {
		t.Errorf("revoke answer %v", res[0])
	}
	if rows := queryData(t, s, `select id from UserSecurityRoleProject`); len(rows) != 0 {
		t.Errorf("after revoke %v", rows)
	}
	wantErr(t, s, ExcValidation, []string{"does not have the security role"}, revoke(map[string]any{"user_id": uid, "role_id": user, "project_id": alpha}))
	// The name documented by mistake is not an operation.
	wantErr(t, s, ExcValidation, []string{`Unsupported action "revoke_user_security_role"`},
		secOp("revoke_user_security_role", map[string]any{"user_id": uid, "role_id": user, "project_id": alpha}))

	// Deleting a project takes its grants with it.
	call(t, s, grant(map[string]any{"user_id": uid, "role_id": user, "project_id": beta}))
	if err := s.Emulator.Delete("Project", beta); err != nil {
		t.Fatal(err)
	}
	if rows := queryData(t, s, `select id from UserSecurityRoleProject`); len(rows) != 0 {
		t.Errorf("grants left after deleting the project: %v", rows)
	}
	// Projects cannot be changed through the API.
	wantErr(t, s, ExcPermission, []string{"Project cannot be changed"}, create("Project", map[string]any{"name": "Gamma"}))
	wantErr(t, s, ExcPermission, []string{"Project cannot be changed"}, del("Project", alpha))
}

// TestSecurityRoleBatchRollback: a batch whose second operation fails
// leaves no trace of the first.
func TestSecurityRoleBatchRollback(t *testing.T) {
	s := newTestServer(t)
	uid := createUser(t, s, "jdoe")
	p := s.Emulator.AddProject("Alpha", false)
	before := map[string][]map[string]any{}
	types := []string{"User", "UserSecurityRole", "UserSecurityRoleProject"}
	for _, typ := range types {
		before[typ] = s.Emulator.Entities(typ)
	}
	batches := [][]map[string]any{
		{
			secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("Administrator"), "all_open_projects": true}),
			secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("API Key")}),
		},
		{
			secOp("grant_user_security_role_project", map[string]any{"user_id": uid, "role_id": SecurityRoleID("User"), "project_id": p}),
			secOp("revoke_user_security_role_project", map[string]any{"user_id": uid, "role_id": SecurityRoleID("User"), "project_id": "nope"}),
		},
		{
			secOp("remove_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("User")}),
			secOp("remove_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("User")}),
		},
		{
			secOp("update_user_security_role", map[string]any{"user_id": uid, "role_id": SecurityRoleID("User"), "new_role_id": SecurityRoleID("Assignee")}),
			create("User", map[string]any{"username": "JDOE"}), // duplicate username
		},
		{
			map[string]any{"action": "create", "entity_type": "User", "entity_data": map[string]any{"id": "new-user", "username": "new"}},
			secOp("add_user_security_role", map[string]any{"user_id": "new-user", "role_id": SecurityRoleID("User")}), // held already (default role)
		},
	}
	for i, b := range batches {
		callErr(t, s, nil, b...)
		for _, typ := range types {
			if got := s.Emulator.Entities(typ); !reflect.DeepEqual(got, before[typ]) {
				t.Errorf("batch %d: %s changed: %v, want %v", i, typ, got, before[typ])
			}
		}
	}
}

func TestDefaultRole(t *testing.T) {
	s := newTestServer(t)
	uid := createUser(t, s, "jdoe")
	if got := rolesOf(t, s, uid); !reflect.DeepEqual(got, map[string]any{"User": true}) {
		t.Errorf("default role of a created user: %v", got)
	}
	// Seeded users get none.
	mustPut(t, s.Emulator, "User", map[string]any{"id": "seeded", "username": "seeded"})
	if got := rolesOf(t, s, "seeded"); len(got) != 0 {
		t.Errorf("a Put user has roles %v", got)
	}
	// Deleting the user deletes its roles.
	call(t, s, del("User", uid))
	if rows := queryData(t, s, `select id from UserSecurityRole where user_id is "`+uid+`"`); len(rows) != 0 {
		t.Errorf("roles left after deleting the user: %v", rows)
	}

	pmSrv := NewServer(Options{APIUser: testUser, APIKey: testKey, DefaultRole: "project manager"})
	t.Cleanup(pmSrv.Close)
	if got := rolesOf(t, pmSrv, createUser(t, pmSrv, "a")); !reflect.DeepEqual(got, map[string]any{"Project Manager": true}) {
		t.Errorf("DefaultRole project manager: %v", got)
	}
	none := NewServer(Options{APIUser: testUser, APIKey: testKey, DefaultRole: NoDefaultRole})
	t.Cleanup(none.Close)
	if got := rolesOf(t, none, createUser(t, none, "a")); len(got) != 0 {
		t.Errorf("DefaultRole %q: %v", NoDefaultRole, got)
	}
	missing := NewServer(Options{APIUser: testUser, APIKey: testKey, DefaultRole: "Nobody"})
	t.Cleanup(missing.Close)
	wantErr(t, missing, ExcValidation, []string{`default security role "Nobody"`}, create("User", map[string]any{"username": "a"}))
	if n := len(missing.Emulator.Entities("User")); n != seededUsers {
		t.Errorf("users after a refused create: %d", n)
	}
	api := NewServer(Options{APIUser: testUser, APIKey: testKey, DefaultRole: "API Key"})
	t.Cleanup(api.Close)
	wantErr(t, api, ExcValidation, []string{"API roles cannot be granted"}, create("User", map[string]any{"username": "a"}))
}

// TestDefaultRoleRowAsAdded checks that the UserSecurityRole a User
// create gives is stored like one add_user_security_role makes (same
// attributes, a new id), and that the default role is looked up by name
// again once the seeded role of that name is renamed.
func TestDefaultRoleRowAsAdded(t *testing.T) {
	e := New(Options{APIUser: testUser, APIKey: testKey, DefaultRole: "project manager"})
	if _, _, aerr := e.runBatch([]map[string]any{
		{"action": "create", "entity_type": "User", "entity_data": map[string]any{"id": "u1", "username": "u1"}},
		{"action": "create", "entity_type": "User", "entity_data": map[string]any{"id": "u2", "username": "u2"}},
		{"action": "remove_user_security_role", "user_id": "u2", "role_id": SecurityRoleID("Project Manager")},
		{"action": "add_user_security_role", "user_id": "u2", "role_id": SecurityRoleID("Project Manager"), "all_open_projects": true},
	}, true); aerr != nil {
		t.Fatal(aerr)
	}
	rows := map[any]map[string]any{}
	for _, r := range e.Entities("UserSecurityRole") {
		if !uuidRE.MatchString(r["id"].(string)) && r["user_id"] != APIUserID(testUser) {
			t.Errorf("id %v", r["id"])
		}
		delete(r, "id")
		rows[r["user_id"]] = r
	}
	want := map[string]any{"security_role_id": SecurityRoleID("Project Manager"), "is_all_open_projects": true}
	for _, u := range []string{"u1", "u2"} {
		want["user_id"] = u
		if !reflect.DeepEqual(rows[u], want) {
			t.Errorf("role row of %s: %v, want %v", u, rows[u], want)
		}
	}

	// With the seeded role renamed, another role of the name is the default.
	other, err := e.AddSecurityRole("PM", RoleTypeProject)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, aerr := e.runBatch([]map[string]any{
		{"action": "update", "entity_type": "SecurityRole", "entity_key": []any{SecurityRoleID("Project Manager")}, "entity_data": map[string]any{"name": "Old PM"}},
		{"action": "update", "entity_type": "SecurityRole", "entity_key": []any{other}, "entity_data": map[string]any{"name": "Project Manager"}},
		{"action": "create", "entity_type": "User", "entity_data": map[string]any{"id": "u3", "username": "u3"}},
	}, true); aerr != nil {
		t.Fatal(aerr)
	}
	var got []any
	for _, r := range e.Entities("UserSecurityRole") {
		if r["user_id"] == "u3" {
			got = append(got, r["security_role_id"])
		}
	}
	if !reflect.DeepEqual(got, []any{other}) {
		t.Errorf("u3 got roles %v, want %v", got, other)
	}
}
