package ftracktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

const (
	testUser = "api@example.com"
	testKey  = "00000000-aaaa-bbbb-cccc-000000000000"
)

// seededUsers is how many Users an emulator holds before a test adds any:
// the API user's, as on a real site.
const seededUsers = 1

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer(Options{APIUser: testUser, APIKey: testKey})
	t.Cleanup(s.Close)
	return s
}

// post sends a raw body with the standard headers plus extra ones.
func post(t *testing.T, s *Server, body string, extra map[string]string) (int, http.Header, any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("ftrack-user", testUser)
	req.Header.Set("ftrack-api-key", testKey)
	for k, v := range extra {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("POST /api: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("response is not JSON (status %d): %q", resp.StatusCode, data)
	}
	return resp.StatusCode, resp.Header, out
}

// call sends ops and requires a successful result list.
func call(t *testing.T, s *Server, ops ...map[string]any) []any {
	t.Helper()
	body, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	status, _, out := post(t, s, string(body), nil)
	list, ok := out.([]any)
	if status != http.StatusOK || !ok {
		t.Fatalf("status %d, body %v", status, out)
	}
	if len(list) != len(ops) {
		t.Fatalf("got %d results for %d operations", len(list), len(ops))
	}
	return list
}

// callErr sends ops and requires an exception body; it returns the status
// and the exception object.
func callErr(t *testing.T, s *Server, extra map[string]string, ops ...map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	status, _, out := post(t, s, string(body), extra)
	m, ok := out.(map[string]any)
	if !ok || m["exception"] == nil {
		t.Fatalf("expected an exception body, got status %d body %v", status, out)
	}
	return status, m
}

func query(t *testing.T, s *Server, expr string) map[string]any {
	t.Helper()
	return call(t, s, map[string]any{"action": "query", "expression": expr})[0].(map[string]any)
}

func queryData(t *testing.T, s *Server, expr string) []any {
	t.Helper()
	return query(t, s, expr)["data"].([]any)
}

func create(typ string, data map[string]any) map[string]any {
	return map[string]any{"action": "create", "entity_type": typ, "entity_data": data}
}

func update(typ string, key []any, data map[string]any) map[string]any {
	return map[string]any{"action": "update", "entity_type": typ, "entity_key": key, "entity_data": data}
}

func del(typ string, key ...any) map[string]any {
	return map[string]any{"action": "delete", "entity_type": typ, "entity_key": key}
}

func mustPut(t *testing.T, e *Emulator, typ string, data map[string]any) {
	t.Helper()
	if err := e.Put(typ, data); err != nil {
		t.Fatalf("Put %s %v: %v", typ, data, err)
	}
}
