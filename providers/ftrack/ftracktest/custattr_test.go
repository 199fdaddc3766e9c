package ftracktest

import (
	"reflect"
	"testing"
)

func caValue(cfg, user string, v any) map[string]any {
	return create("UserCustomAttributeValue", map[string]any{"configuration_id": cfg, "entity_id": user, "value": v})
}

func mustAddCA(t *testing.T, e *Emulator, key, typ string, options ...string) string {
	t.Helper()
	id, err := e.AddUserCustomAttribute(key, typ, options...)
	if err != nil {
		t.Fatalf("AddUserCustomAttribute(%s, %s): %v", key, typ, err)
	}
	return id
}

func TestUserCustomAttributes(t *testing.T) {
	s := newTestServer(t)
	e := s.Emulator
	uid := createUser(t, s, "jdoe")
	dept := mustAddCA(t, e, "department", "text")
	level := mustAddCA(t, e, "level", "number")
	remote := mustAddCA(t, e, "remote", "boolean")
	start := mustAddCA(t, e, "start", "date")
	site := mustAddCA(t, e, "site", "enumerator", "paris", "london")
	anyEnum := mustAddCA(t, e, "free_enum", "enumerator")
	if _, err := e.AddUserCustomAttribute("department", "text"); err == nil {
		t.Error("a second user attribute with the same key was accepted")
	}
	if _, err := e.AddUserCustomAttribute("x", "colour"); err == nil {
		t.Error("an unknown custom attribute type was accepted")
	}

	cfgs := queryData(t, s, `select id, key, entity_type, type.name from CustomAttributeConfiguration where entity_type is "user" order by key`)
	gotCfgs := map[string]string{}
	typeNames := map[any]any{} // a type met again is a reference (id only)
	for _, c := range cfgs {
		ct := c.(map[string]any)["type"].(map[string]any)
		if n, ok := ct["name"]; ok {
			typeNames[ct["id"]] = n
		}
	}
	for _, c := range cfgs {
		m := c.(map[string]any)
		gotCfgs[m["key"].(string)], _ = typeNames[m["type"].(map[string]any)["id"]].(string)
		if m["entity_type"] != "user" {
			t.Errorf("configuration %v", m)
		}
	}
	if !reflect.DeepEqual(gotCfgs, map[string]string{"department": "text", "level": "number", "remote": "boolean", "start": "date", "site": "enumerator", "free_enum": "enumerator"}) {
		t.Errorf("configurations %v", gotCfgs)
	}

	res := call(t, s,
		caValue(dept, uid, "Lighting"),
		caValue(level, uid, 3.5),
		caValue(remote, uid, false),
		caValue(start, uid, map[string]any{"__type__": "datetime", "value": "2026-12-02T10:00:00+01:00"}),
		caValue(site, uid, []any{"paris"}),
		caValue(anyEnum, uid, "whatever"),
	)
	first := res[0].(map[string]any)["data"].(map[string]any)
	if first["__entity_type__"] != "UserCustomAttributeValue" || first["key"] != "department" || first["value"] != "Lighting" ||
		first["configuration_id"] != dept || first["entity_id"] != uid {
		t.Errorf("create answer %v", first)
	}
	vals := map[string]any{}
	for _, r := range queryData(t, s, `select configuration_id, entity_id, value from UserCustomAttributeValue`) {
		m := r.(map[string]any)
		if m["entity_id"] != uid {
			t.Errorf("value row %v", m)
		}
		if _, ok := m["_casted_value"]; ok {
			t.Errorf("internal system projection served: %v", m)
		}
		vals[m["key"].(string)] = m["value"]
	}
	wantVals := map[string]any{
		"department": "Lighting", "level": 3.5, "remote": false,
		"start": map[string]any{"__type__": "datetime", "value": "2026-12-02T09:00:00"},
		"site":  []any{"paris"}, "free_enum": "whatever",
	}
	if !reflect.DeepEqual(vals, wantVals) {
		t.Errorf("values %v, want %v", vals, wantVals)
	}
	u := queryData(t, s, `select custom_attributes.key, custom_attributes.value from User where id is "`+uid+`"`)[0].(map[string]any)
	if ca := u["custom_attributes"].([]any); len(ca) != 6 {
		t.Errorf("User.custom_attributes %v", ca)
	}

	// Updates change the value; the key follows the configuration.
	upd := call(t, s, update("UserCustomAttributeValue", []any{dept, uid}, map[string]any{"value": "Compositing"}))[0].(map[string]any)["data"].(map[string]any)
	if upd["value"] != "Compositing" || upd["key"] != "department" || upd["configuration_id"] != dept {
		t.Errorf("update answer %v", upd)
	}

	other := createUser(t, s, "other")
	bad := []struct {
		name string
		op   map[string]any
		want []string
	}{
		{"text", caValue(dept, other, 7.0), []string{`"department"`, "type text", "not a string"}},
		{"number", caValue(level, other, "3"), []string{`"level"`, "type number"}},
		{"boolean", caValue(remote, other, "true"), []string{`"remote"`, "type boolean"}},
		{"date string", caValue(start, other, "2026-12-02T10:00:00"), []string{`"start"`, "type date", "datetime"}},
		{"date bad", caValue(start, other, map[string]any{"__type__": "datetime", "value": "soon"}), []string{`"start"`, "type date"}},
		{"enum option", caValue(site, other, "tokyo"), []string{`"site"`, "type enumerator", "one of its options"}},
		{"enum multi", caValue(site, other, []any{"paris", "london"}), []string{`"site"`, "not multi-select"}},
		{"enum type", caValue(site, other, 1.0), []string{`"site"`, "a string or a list of strings"}},
		{"null", caValue(dept, other, nil), []string{`"department"`, "needs a value"}},
		{"no user", caValue(dept, "nobody", "x"), []string{"User nobody does not exist"}},
		{"no configuration", caValue("nope", other, "x"), []string{"CustomAttributeConfiguration nope does not exist"}},
		{"key", create("UserCustomAttributeValue", map[string]any{"configuration_id": dept, "entity_id": other, "value": "x", "key": "dept"}), []string{"cannot be set"}},
		{"update type", update("UserCustomAttributeValue", []any{level, uid}, map[string]any{"value": "high"}), []string{`"level"`, "type number"}},
		{"update key", update("UserCustomAttributeValue", []any{level, uid}, map[string]any{"key": "lvl"}), []string{"cannot be set"}},
		{"duplicate", caValue(dept, uid, "again"), []string{"Duplicate entry"}},
	}
	before := e.Entities("UserCustomAttributeValue")
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			exc := ExcValidation
			if c.name == "duplicate" {
				exc = ExcDuplicateEntry
			}
			wantErr(t, s, exc, c.want, c.op)
		})
	}
	if got := e.Entities("UserCustomAttributeValue"); !reflect.DeepEqual(got, before) {
		t.Errorf("refused writes changed values: %v", got)
	}

	// A configuration for another entity type takes no user values.
	mustPut(t, e, "CustomAttributeConfiguration", map[string]any{"id": "show-cfg", "key": "budget", "entity_type": "show", "type_id": CustomAttributeTypeID("number"), "config": "{}"})
	wantErr(t, s, ExcValidation, []string{`"budget"`, "not for users"}, caValue("show-cfg", other, 1.0))

	// Configurations and types cannot be changed through the API.
	wantErr(t, s, ExcPermission, []string{"CustomAttributeConfiguration cannot be changed"},
		create("CustomAttributeConfiguration", map[string]any{"key": "k", "entity_type": "user", "type_id": CustomAttributeTypeID("text"), "config": "{}"}))
	wantErr(t, s, ExcPermission, []string{"CustomAttributeType cannot be changed"}, del("CustomAttributeType", CustomAttributeTypeID("text")))

	// Deleting the user deletes its values.
	call(t, s, del("User", uid))
	if got := e.Entities("UserCustomAttributeValue"); len(got) != 0 {
		t.Errorf("values left after deleting their user: %v", got)
	}
}
