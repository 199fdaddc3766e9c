package ftracktest

import (
	"net/http"
	"strings"
	"testing"
)

func TestSessionStartLikeJSClient(t *testing.T) {
	s := newTestServer(t)
	status, _, out := post(t, s, `[{"action":"query_server_information"},{"action":"query_schemas"}]`, map[string]string{
		"ftrack-Clienttoken": "ftrack-javascript-api--7f425102-565e-47b8-927b-5788b67fdba3",
		"ftrack-pushtoken":   "undefined",
		"accept-language":    "*",
		"sec-fetch-mode":     "cors",
		"user-agent":         "node",
	})
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, out)
	}
	list := out.([]any)
	info := list[0].(map[string]any)
	if info["schema_hash"] != s.Emulator.SchemaHash() || info["version"] != "dev" {
		t.Errorf("server information %v", info)
	}
	schemas := list[1].([]any)
	found := map[string]bool{}
	for _, sc := range schemas {
		m := sc.(map[string]any)
		found[m["id"].(string)] = true
		if _, ok := m["primary_key"].([]any); !ok {
			t.Errorf("schema %v has no primary_key", m["id"])
		}
	}
	for _, want := range []string{"User", "Group", "Membership", "Metadata", "UserType", "Resource"} {
		if !found[want] {
			t.Errorf("query_schemas lacks %s", want)
		}
	}
}

func TestEmptyBatch(t *testing.T) {
	s := newTestServer(t)
	status, _, out := post(t, s, `[]`, nil)
	if l, ok := out.([]any); status != 200 || !ok || len(l) != 0 {
		t.Fatalf("status %d body %v, want 200 []", status, out)
	}
}

func TestAuthFailure(t *testing.T) {
	s := newTestServer(t)
	for name, h := range map[string]map[string]string{
		"bad key":      {"ftrack-api-key": "INVALID_API_KEY"},
		"bad user":     {"ftrack-user": "someone@example.com"},
		"missing key":  {"ftrack-api-key": ""},
		"missing user": {"ftrack-user": ""},
	} {
		status, _, out := post(t, s, `[{"action":"query_server_information"},{"action":"query_schemas"}]`, h)
		m, ok := out.(map[string]any)
		if status != http.StatusUnauthorized || !ok || m["exception"] != "InvalidCredentialsError" {
			t.Errorf("%s: status %d body %v", name, status, out)
			continue
		}
		if _, has := m["error_code"]; !has || m["error_code"] != nil || m["content"] == "" {
			t.Errorf("%s: body %v lacks content/error_code:null", name, m)
		}
		if strings.Contains(strings.ToLower(m["content"].(string)), strings.ToLower(testKey)) {
			t.Errorf("%s: error leaks the key", name)
		}
	}
	if got := s.Emulator.Stats().Unauthorized; got != 4 {
		t.Errorf("Unauthorized = %d, want 4", got)
	}
}

func TestCreateUpdateDeleteRoundTrip(t *testing.T) {
	s := newTestServer(t)
	res := call(t, s, create("User", map[string]any{"username": "new.user", "first_name": "New", "is_active": true, "__entity_type__": "User"}))
	data := res[0].(map[string]any)["data"].(map[string]any)
	id, _ := data["id"].(string)
	if len(id) != 36 || data["is_active"] != true || data["resource_type"] != "user" {
		t.Fatalf("create data %v", data)
	}
	res = call(t, s, update("User", []any{id}, map[string]any{"is_active": false, "__entity_type__": "User"}))
	up := res[0].(map[string]any)
	if up["action"] != "update" || up["data"].(map[string]any)["is_active"] != false {
		t.Fatalf("update result %v", up)
	}
	rows := queryData(t, s, `select username, is_active from User where id is "`+id+`"`)
	if len(rows) != 1 || rows[0].(map[string]any)["is_active"] != false {
		t.Fatalf("query after update %v", rows)
	}
	res = call(t, s, del("User", id))
	if d := res[0].(map[string]any); d["action"] != "delete" || d["data"] != true {
		t.Fatalf("delete result %v", d)
	}
	if n := len(s.Emulator.Entities("User")); n != seededUsers {
		t.Fatalf("%d users left after delete, want only the API user's", n)
	}
}
