package ftracktest

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestCreatedRowAsEncodeRow checks that a create's answer, written
// straight from the row (createdRow), is the map it replaces,
// {"action": "create", "data": encodeRow(...)}, as writeResults writes
// them: the same length and, decoded, the same value.
func TestCreatedRowAsEncodeRow(t *testing.T) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	var ops []map[string]any
	if err := json.Unmarshal(createsBody(1), &ops); err != nil {
		t.Fatal(err)
	}
	ops = append(ops,
		map[string]any{"action": "create", "entity_type": "Group", "entity_data": map[string]any{"name": "g <&> \u2028 é \"q\"", "local": true}},
		map[string]any{"action": "create", "entity_type": "Metadata", "entity_key": []any{"00000000-0000-4000-8000-000001000000", "n"},
			"entity_data": map[string]any{"value": "1.5e3 \\ \t", "parent_type": "User"}},
	)
	results, _, aerr := e.runBatch(ops, true)
	if aerr != nil {
		t.Fatal(aerr)
	}
	for i, res := range results {
		c, ok := res.(createdRow)
		if !ok {
			t.Fatalf("result %d is %T", i, res)
		}
		got := resultsBody(t, []any{c})
		want := resultsBody(t, []any{map[string]any{"action": "create", "data": e.encodeRow(c.sc.ID, c.r)}})
		if !sameAnswer(t, got, want) {
			t.Errorf("result %d:\n%s\nwant (in any order)\n%s", i, got, want)
		}
	}
}

// sameAnswer reports whether the answer bodies got and want are as long
// and decode alike (their members may come in any order).
func sameAnswer(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%v in %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%v in %s", err, want)
	}
	return len(got) == len(want) && reflect.DeepEqual(g, w)
}

// resultsBody is the body writeResults answers results with.
func resultsBody(t *testing.T, results []any) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	writeResults(w, results)
	return bytes.Clone(w.Body.Bytes())
}
