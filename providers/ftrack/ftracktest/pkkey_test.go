package ftracktest

import (
	"encoding/json"
	"testing"
)

// TestPKKeyIsJSON: the hand-quoted fast path of pkKey writes exactly what
// json.Marshal writes, for plain ids and for every character it escapes.
func TestPKKeyIsJSON(t *testing.T) {
	for _, vals := range [][]any{
		{"10000000-0000-4000-8000-000000000001"}, {""}, {"a\"b"}, {`a\b`}, {"<x>"}, {"a&b"}, {"tab\there"}, {"é"}, {"\u2028"}, {"\x7f"},
		{1.0}, {nil}, {"a", "b"}, {"a", "<b>"}, {"a", 2.0}, {}, nil,
	} {
		want, _ := json.Marshal(vals)
		if got := pkKey(vals); got != string(want) {
			t.Errorf("pkKey(%q) = %s, json.Marshal %s", vals, got, want)
		}
	}
}
