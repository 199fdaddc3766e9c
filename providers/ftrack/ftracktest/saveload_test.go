package ftracktest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSaveLoadRolesAndCustomAttributes: every new entity type survives
// Save and Load, and Load checks their references and values.
func TestSaveLoadRolesAndCustomAttributes(t *testing.T) {
	s := newTestServer(t)
	e := s.Emulator
	uid := createUser(t, s, "jdoe")
	p := e.AddProject("Alpha", true)
	lead, err := e.AddSecurityRole("Lead", RoleTypeProject)
	if err != nil {
		t.Fatal(err)
	}
	if lead != SecurityRoleID("Lead") {
		t.Errorf("AddSecurityRole id %s", lead)
	}
	if _, err := e.AddSecurityRole("Lead", RoleTypeProject); err == nil {
		t.Error("AddSecurityRole added a second Lead with the same id")
	}
	call(t, s,
		secOp("add_user_security_role", map[string]any{"user_id": uid, "role_id": lead, "all_open_projects": false}),
		secOp("grant_user_security_role_project", map[string]any{"user_id": uid, "role_id": lead, "project_id": p}),
		update("User", []any{uid}, map[string]any{"user_type_id": UserTypeID("ldap")}),
	)
	dept := mustAddCA(t, e, "department", "text")
	start := mustAddCA(t, e, "start", "date")
	site := mustAddCA(t, e, "site", "enumerator", "paris")
	call(t, s, caValue(dept, uid, "Lighting"), caValue(start, uid, map[string]any{"__type__": "datetime", "value": "2026-01-02T03:04:05"}), caValue(site, uid, "paris"))

	path := filepath.Join(t.TempDir(), "data.json")
	if err := e.Save(path); err != nil {
		t.Fatal(err)
	}
	f := New(Options{APIUser: testUser, APIKey: testKey})
	if err := f.Load(path); err != nil {
		t.Fatal(err)
	}
	types := []string{"User", "UserType", "SecurityRole", "UserSecurityRole", "Project", "UserSecurityRoleProject",
		"CustomAttributeType", "CustomAttributeConfiguration", "UserCustomAttributeValue"}
	for _, typ := range types {
		want := e.Entities(typ)
		if len(want) == 0 {
			t.Errorf("%s: nothing to compare", typ)
		}
		if got := f.Entities(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs after round trip:\n got %v\nwant %v", typ, got, want)
		}
	}
	if n := len(f.Entities("SecurityRole")); n != 6 {
		t.Errorf("%d roles after Load, want the 5 seeded and Lead (no second copies)", n)
	}

	// Bad rows are refused, naming the problem, and change nothing.
	dir := t.TempDir()
	users := f.Entities("User")
	for name, doc := range map[string]string{
		"value type":       `{"entities":{"User":[{"id":"u1","username":"u1"}],"CustomAttributeConfiguration":[{"id":"c1","key":"level","entity_type":"user","type_id":"` + CustomAttributeTypeID("number") + `","config":"{}"}],"UserCustomAttributeValue":[{"configuration_id":"c1","entity_id":"u1","value":"high"}]}}`,
		"dangling project": `{"entities":{"User":[{"id":"u1","username":"u1"}],"UserSecurityRole":[{"id":"r1","user_id":"u1","security_role_id":"` + SecurityRoleID("User") + `"}],"UserSecurityRoleProject":[{"id":"p1","user_security_role_id":"r1","project_id":"nope"}]}}`,
		"dangling role":    `{"entities":{"User":[{"id":"u1","username":"u1"}],"UserSecurityRole":[{"id":"r1","user_id":"u1","security_role_id":"nope"}]}}`,
		"API role":         `{"entities":{"User":[{"id":"u1","username":"u1"}],"UserSecurityRole":[{"id":"r1","user_id":"u1","security_role_id":"` + SecurityRoleID("API Key") + `"}]}}`,
	} {
		bad := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := writeFile(bad, doc); err != nil {
			t.Fatal(err)
		}
		if err := f.Load(bad); err == nil {
			t.Errorf("%s: Load accepted %s", name, doc)
		}
		if !reflect.DeepEqual(f.Entities("User"), users) {
			t.Errorf("%s: a refused Load changed the users", name)
		}
	}

	// A file of the documented format (cmd/ftrack-emulator) loads: a
	// value's key comes from its configuration.
	good := filepath.Join(dir, "good.json")
	if err := writeFile(good, `{"entities":{
  "User":[{"id":"u1","username":"jdoe","is_active":true}],
  "Project":[{"id":"p1","name":"alpha","full_name":"Alpha","is_private":true}],
  "UserSecurityRole":[{"id":"r1","user_id":"u1","security_role_id":"`+SecurityRoleID("Project Manager")+`","is_all_open_projects":false}],
  "UserSecurityRoleProject":[{"id":"rp1","user_security_role_id":"r1","project_id":"p1"}],
  "CustomAttributeConfiguration":[{"id":"c1","key":"department","label":"Department","entity_type":"user","type_id":"`+CustomAttributeTypeID("text")+`"}],
  "UserCustomAttributeValue":[{"configuration_id":"c1","entity_id":"u1","value":"Lighting"}]
}}`); err != nil {
		t.Fatal(err)
	}
	if err := f.Load(good); err != nil {
		t.Fatal(err)
	}
	v := f.Entities("UserCustomAttributeValue")
	if len(v) != 1 || v[0]["key"] != "department" || v[0]["value"] != "Lighting" {
		t.Errorf("loaded values %v", v)
	}
	if pr := f.Entities("Project"); len(pr) != 1 || pr[0]["status"] != "active" || pr[0]["project_schema_id"] != projectSchemaID {
		t.Errorf("loaded project %v", pr)
	}
	// The API user is added with its Administrator role.
	if rs := f.Entities("UserSecurityRole"); len(rs) != 2 {
		t.Errorf("roles after Load %v, want the file's and the API user's", rs)
	}
}
