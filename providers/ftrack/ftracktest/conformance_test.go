package ftracktest

// Conformance: the emulator's answers are compared with responses recorded
// from a real ftrack server (../shared/ftrack-fixtures, outside the
// repository). Structure, keys and value types must match; values that are
// server-specific (ids, hashes) only need the same form.

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"testing"
)

// fixturesDir returns the directory of recorded responses. They live
// outside the repository (they are not ours to copy): LDAPSYNC_FTRACK_FIXTURES
// names them (.ci/run sets it when they are present), otherwise they are
// looked for beside the checkout. Missing fixtures fail the test when the
// variable names them or under CI (CI set), where a skip would let the
// conformance check pass unseen; on a developer's machine without them the
// test is skipped, saying so.
func fixturesDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LDAPSYNC_FTRACK_FIXTURES")
	named := dir != ""
	if !named {
		dir = filepath.Join("..", "..", "..", "..", "shared", "ftrack-fixtures")
	}
	_, err := os.Stat(filepath.Join(dir, "query_server_information.json"))
	switch {
	case err == nil:
		return dir
	case named:
		t.Fatalf("ftrack fixtures not found in %s (LDAPSYNC_FTRACK_FIXTURES): %v", dir, err)
	case os.Getenv("CI") != "":
		t.Fatalf("ftrack fixtures not found in %s and LDAPSYNC_FTRACK_FIXTURES is not set: under CI (CI=%s) the conformance test must run; put the recorded responses in ../shared/ftrack-fixtures beside the checkout (.ci/run then sets the variable) or set LDAPSYNC_FTRACK_FIXTURES", dir, os.Getenv("CI"))
	default:
		t.Skipf("ftrack fixtures not found in %s (set LDAPSYNC_FTRACK_FIXTURES); skipping conformance test", dir)
	}
	return ""
}

func loadFixture(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameShape requires identical key sets and value types, recursively for
// objects.
func sameShape(t *testing.T, where string, want, got any) {
	t.Helper()
	if jsonType(want) != jsonType(got) {
		t.Errorf("%s: type %s, recorded %s", where, jsonType(got), jsonType(want))
		return
	}
	wm, ok := want.(map[string]any)
	if !ok {
		return
	}
	gm := got.(map[string]any)
	if !reflect.DeepEqual(sortedKeys(wm), sortedKeys(gm)) {
		t.Errorf("%s: keys %v, recorded %v", where, sortedKeys(gm), sortedKeys(wm))
		return
	}
	for _, k := range sortedKeys(wm) {
		sameShape(t, where+"."+k, wm[k], gm[k])
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestConformanceServerInformation(t *testing.T) {
	rec := loadFixture(t, "query_server_information.json").(map[string]any)
	s := newTestServer(t)
	res := call(t, s, map[string]any{"action": "query_server_information"}, map[string]any{"action": "query_schemas"})
	got := res[0].(map[string]any)
	sameShape(t, "query_server_information", rec, got)
	if got["is_timezone_support_enabled"] != true {
		t.Errorf("is_timezone_support_enabled = %v", got["is_timezone_support_enabled"])
	}
	// The Python client recomputes the hash as md5(json.dumps(schemas,
	// sort_keys=True)). Check our serialiser reproduces the recorded hash
	// from the recorded schemas, and that the served hash matches the
	// served schemas the same way.
	recSchemas := loadFixture(t, "query_schemas.json")
	sum := md5.Sum([]byte(pythonJSON(recSchemas)))
	if hex.EncodeToString(sum[:]) != rec["schema_hash"] {
		t.Fatalf("python-style serialisation of recorded schemas gives %x, recorded hash %v", sum, rec["schema_hash"])
	}
	sum = md5.Sum([]byte(pythonJSON(res[1])))
	if hex.EncodeToString(sum[:]) != got["schema_hash"] {
		t.Errorf("served schema_hash %v does not match md5 of served schemas %x", got["schema_hash"], sum)
	}
	// The values filter returns only the named items.
	sel := call(t, s, map[string]any{"action": "query_server_information", "values": []any{"version"}})[0].(map[string]any)
	if len(sel) != 1 || sel["version"] != "dev" {
		t.Errorf("values filter: %v", sel)
	}
}

func TestConformanceCreateUser(t *testing.T) {
	rec := loadFixture(t, "create_user.json").(map[string]any)
	recData := rec["data"].(map[string]any)
	s := newTestServer(t)
	// Same input as the recorded create: username, first and last name only.
	got := call(t, s, create("User", map[string]any{
		"username": recData["username"], "first_name": "first", "last_name": "last", "__entity_type__": "User",
	}))[0].(map[string]any)
	sameShape(t, "create_user", rec, got)
	data := got["data"].(map[string]any)
	for _, k := range []string{"is_active", "is_otp_enabled", "is_totp_enabled", "require_details_update", "resource_type", "user_type_id", "__entity_type__"} {
		if data[k] != recData[k] {
			t.Errorf("create data %s = %v, recorded %v", k, data[k], recData[k])
		}
	}
	if !uuidRE.MatchString(data["id"].(string)) {
		t.Errorf("generated id %v is not a uuid", data["id"])
	}

	// Python form: id chosen by the client, sent in entity_key and entity_data.
	id := "5c6060d1-2dc7-11ec-b3b6-1e00da110726"
	got = call(t, s, map[string]any{"action": "create", "entity_type": "User", "entity_key": []any{id},
		"entity_data": map[string]any{"__entity_type__": "User", "id": id, "username": "py.user", "first_name": "first", "last_name": "last"}})[0].(map[string]any)
	sameShape(t, "create_user (python form)", rec, got)
	if got["data"].(map[string]any)["id"] != id {
		t.Errorf("python-form create id %v", got["data"])
	}
}

func TestConformanceUpdateUser(t *testing.T) {
	rec := loadFixture(t, "update_user.json").(map[string]any)
	s := newTestServer(t)
	id := "8b0cabd6-2b93-4a6e-9aff-e163bea8844e"
	mustPut(t, s.Emulator, "User", map[string]any{"id": id, "username": "before"})
	newName := rec["data"].(map[string]any)["username"]
	got := call(t, s, update("User", []any{id}, map[string]any{"username": newName, "__entity_type__": "User"}))[0].(map[string]any)
	sameShape(t, "update_user", rec, got)
	if !reflect.DeepEqual(got, rec) {
		t.Errorf("update answer %v, recorded %v", got, rec)
	}
	// The JS client also accepts a plain string entity_key.
	got = call(t, s, map[string]any{"action": "update", "entity_type": "User", "entity_key": id,
		"entity_data": map[string]any{"username": "again"}})[0].(map[string]any)
	if got["data"].(map[string]any)["username"] != "again" {
		t.Errorf("string entity_key update: %v", got)
	}
}

func TestConformanceSchemas(t *testing.T) {
	recorded := map[string]map[string]any{}
	// The full recorded catalogue: user_related_schemas.json, extracted
	// from it, lacks Project and CustomAttributeType.
	for _, sc := range loadFixture(t, "query_schemas.json").([]any) {
		m := sc.(map[string]any)
		recorded[m["id"].(string)] = m
	}
	s := newTestServer(t)
	served := call(t, s, map[string]any{"action": "query_schemas"})[0].([]any)
	if len(served) == 0 {
		t.Fatal("no schemas served")
	}
	// The types and attributes the roles, projects and custom attributes
	// of a sync need are served.
	servedProps := map[string]map[string]any{}
	for _, sc := range served {
		m := sc.(map[string]any)
		servedProps[m["id"].(string)] = m["properties"].(map[string]any)
	}
	for typ, attrs := range map[string][]string{
		"User":                         {"user_type", "user_security_roles", "custom_attributes"},
		"SecurityRole":                 {"id", "name", "type", "user_security_roles"},
		"UserSecurityRole":             {"user_id", "security_role_id", "is_all_open_projects", "user_security_role_projects"},
		"UserSecurityRoleProject":      {"id", "user_security_role_id", "project_id", "user_security_role", "project"},
		"Project":                      {"id", "name", "full_name", "is_private", "status"},
		"CustomAttributeType":          {"id", "name", "core"},
		"CustomAttributeConfiguration": {"id", "key", "label", "entity_type", "type_id", "type", "config", "default", "core", "project_id"},
		"UserCustomAttributeValue":     {"configuration_id", "entity_id", "key", "value", "configuration"},
		"UserType":                     {"id", "name"},
	} {
		for _, a := range attrs {
			if _, ok := servedProps[typ][a]; !ok {
				t.Errorf("%s.%s is not served", typ, a)
			}
		}
	}
	for _, sc := range served {
		m := sc.(map[string]any)
		id := m["id"].(string)
		rec := recorded[id]
		if rec == nil {
			t.Errorf("served schema %s is not in the recorded schemas", id)
			continue
		}
		for _, k := range []string{"type", "primary_key", "required", "immutable", "computed", "default_projections", "system_projections", "alias_for"} {
			if !reflect.DeepEqual(m[k], rec[k]) && !(m[k] == nil && isEmptyList(rec[k])) && !(rec[k] == nil && isEmptyList(m[k])) {
				t.Errorf("%s.%s = %v, recorded %v", id, k, m[k], rec[k])
			}
		}
		recProps := rec["properties"].(map[string]any)
		for name, p := range m["properties"].(map[string]any) {
			rp, ok := recProps[name]
			if !ok {
				t.Errorf("%s.%s is not a recorded property", id, name)
				continue
			}
			if !reflect.DeepEqual(p, rp) {
				t.Errorf("%s.%s = %v, recorded %v", id, name, p, rp)
			}
		}
		for _, k := range append(stringList(m["required"]), stringList(m["default_projections"])...) {
			if _, ok := m["properties"].(map[string]any)[k]; !ok {
				t.Errorf("%s: %s is required/projected but not served as a property", id, k)
			}
		}
	}
}

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}

// collectRefs splits entity objects found under key in rows into full
// encodings and references (only __entity_type__ + primary key).
func refShape(obj map[string]any, pk []string) bool {
	if len(obj) != len(pk)+1 {
		return false
	}
	for _, k := range pk {
		if _, ok := obj[k]; !ok {
			return false
		}
	}
	_, ok := obj["__entity_type__"]
	return ok
}

// TestConformanceDeduplication mirrors query_task_status_state_short_limit_2:
// two rows share a nested entity; the second carries only a reference.
func TestConformanceDeduplication(t *testing.T) {
	rec := loadFixture(t, "query_task_status_state_short_limit_2.json").(map[string]any)
	recRows := rec["data"].([]any)
	recFirst := recRows[0].(map[string]any)["status"].(map[string]any)
	recSecond := recRows[1].(map[string]any)["status"].(map[string]any)
	if refShape(recFirst, []string{"id"}) || !refShape(recSecond, []string{"id"}) || recFirst["id"] != recSecond["id"] {
		t.Fatalf("fixture does not show the expected full-then-reference shape")
	}
	if _, ok := recFirst["state"].(map[string]any); !ok {
		t.Fatalf("fixture: first status lacks nested state")
	}

	s := newTestServer(t)
	e := s.Emulator
	mustPut(t, e, "Group", map[string]any{"id": "10000000-0000-0000-0000-000000000001", "name": "studio"})
	mustPut(t, e, "Group", map[string]any{"id": "10000000-0000-0000-0000-000000000002", "name": "artists", "parent_id": "10000000-0000-0000-0000-000000000001"})
	for i, u := range []string{"a", "b", "c"} {
		uid := "20000000-0000-0000-0000-00000000000" + string(rune('1'+i))
		mustPut(t, e, "User", map[string]any{"id": uid, "username": u})
		mustPut(t, e, "Membership", map[string]any{"id": "30000000-0000-0000-0000-00000000000" + string(rune('1'+i)), "user_id": uid, "group_id": "10000000-0000-0000-0000-000000000002"})
	}
	expr := `select group.parent.name from Membership where group.parent.name is "studio" order by id limit 2`
	got := query(t, s, expr)
	if !reflect.DeepEqual(got["metadata"], rec["metadata"]) {
		t.Errorf("metadata %v, recorded %v", got["metadata"], rec["metadata"])
	}
	rows := got["data"].([]any)
	if len(rows) != len(recRows) {
		t.Fatalf("%d rows, recorded %d", len(rows), len(recRows))
	}
	first := rows[0].(map[string]any)["group"].(map[string]any)
	second := rows[1].(map[string]any)["group"].(map[string]any)
	if refShape(first, []string{"id"}) || !refShape(second, []string{"id"}) || first["id"] != second["id"] {
		t.Errorf("want full group then reference, got %v then %v", first, second)
	}
	parent, ok := first["parent"].(map[string]any)
	if !ok || parent["name"] != "studio" || parent["__entity_type__"] != "Group" || parent["resource_type"] != "group" {
		t.Errorf("nested parent %v", first["parent"])
	}
	for _, r := range rows {
		m := r.(map[string]any)
		if m["__entity_type__"] != "Membership" || !uuidRE.MatchString(m["id"].(string)) {
			t.Errorf("row %v", m)
		}
	}

	// Denormalised mode (JS ensureSerializableResponse): no references.
	body := `[{"action":"query","expression":` + jsonString(expr) + `}]`
	for _, h := range []string{"strict:1;denormalize:1", "denormalize=1;strict=1"} {
		_, _, out := post(t, s, body, map[string]string{"ftrack-api-options": h})
		rows := out.([]any)[0].(map[string]any)["data"].([]any)
		second := rows[1].(map[string]any)["group"].(map[string]any)
		if refShape(second, []string{"id"}) || second["parent"] == nil {
			t.Errorf("%s: second group is still a reference: %v", h, second)
		}
	}

	// Back-reference to the top-level entity (as in
	// query_assetversion_nested_versions_limit_1): user -> memberships -> user.
	av := loadFixture(t, "query_assetversion_nested_versions_limit_1.json").(map[string]any)
	avRow := av["data"].([]any)[0].(map[string]any)
	backRef := avRow["asset"].(map[string]any)["versions"].([]any)[0].(map[string]any)
	if !refShape(backRef, []string{"id"}) || backRef["id"] != avRow["id"] {
		t.Fatalf("fixture: expected a back-reference to the top-level version")
	}
	urow := queryData(t, s, `select username, memberships.user.username from User where username is "a"`)[0].(map[string]any)
	ms := urow["memberships"].([]any)
	back := ms[0].(map[string]any)["user"].(map[string]any)
	if urow["username"] != "a" || !refShape(back, []string{"id"}) || back["id"] != urow["id"] {
		t.Errorf("expected back-reference to the top-level user, got %v", urow)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
