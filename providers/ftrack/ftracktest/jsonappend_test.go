package ftracktest

import (
	"bytes"
	"math"
	"math/rand"
	"net/http/httptest"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// trickyStrings are strings whose quoting differs between encoders:
// HTML and JavaScript characters, controls, quotes, invalid UTF-8.
var trickyStrings = []string{"", "plain", `q"uote\back`, "<a href='x'>&amp;</a>", "\u2028\u2029", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
	"é 日本 🎉", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate", "1.5e3"}

// TestAppendJSONScalarsAsEncoder wants the hand-appended strings and
// numbers byte for byte as writeResults' encoder writes them.
func TestAppendJSONScalarsAsEncoder(t *testing.T) {
	for _, s := range trickyStrings {
		want, _ := jsonv2.Marshal(s, resultOptions)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("string %q: %s, want %s", s, got, want)
		}
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5e3, 123456789, 1e20, 1e21, -1e21, 1e-6, 1e-7, 9.999e-7, 5e-324,
		math.MaxFloat64, -math.SmallestNonzeroFloat64, 1e100, 1.25e-9, 3.0000000000000004}
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		floats = append(floats, math.Float64frombits(rng.Uint64()), rng.NormFloat64()*math.Pow(10, float64(rng.Intn(60)-30)))
	}
	for _, f := range floats {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, _ := jsonv2.Marshal(f, resultOptions)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("float %v: %s, want %s", f, got, want)
		}
	}
}

// TestFlatResultAsMap checks that a flat page appended by flatResult is,
// decoded, the map it replaces (encodeValue of each attribute of the
// row's plan), of the same length as the encoder writes that map, for
// rows of every kind of value.
func TestFlatResultAsMap(t *testing.T) {
	sc := &schema{ID: "X", PrimaryKey: []string{"id"}, SystemProjections: []string{"kind", "internal"}, Properties: map[string]property{
		"id": {Type: "string"}, "kind": {Type: "string"}, "s": {Type: "string"}, "at": {Type: "string", Format: "date-time"},
		"on": {Type: "string", Format: "date"}, "b": {Type: "boolean"}, "n": {Type: "number"}, "o": {Type: "object"}, "a": {Type: "array"},
	}}
	set := &schemaSet{byType: map[string]*schema{"X": sc}}
	tree := projTree{}
	for _, p := range []string{"id", "s", "at", "on", "b", "n", "o", "a", "kind", "missing", "__entity_type__"} {
		tree.add(p)
	}
	var page []ent
	for i, s := range trickyStrings {
		page = append(page, ent{"X", row{"id": s, "kind": "k", "s": s, "at": "2024-01-02T03:04:05", "on": "2024-01-02", "b": i%2 == 0,
			"n": float64(i) * 1.5e-7, "o": map[string]any{"k": s, "l": []any{1.0, nil, true}}, "a": []any{s, 2.5}}})
	}
	page = append(page, ent{"X", row{"id": "nulls"}}, ent{"X", row{"id": "int", "n": 3}})
	for _, next := range []any{nil, 42} {
		plan := flatPlan(sc, tree)
		var data []any
		for _, x := range page {
			m := map[string]any{"__entity_type__": x.typ}
			for _, a := range plan {
				m[a.name] = encodeValue(a.p, x.r[a.name])
			}
			data = append(data, m)
		}
		wantMap := map[string]any{"action": "query", "data": data, "metadata": map[string]any{"next": map[string]any{"offset": next}}}
		f := flatResult{set, page, tree, next}
		for name, body := range map[string][]byte{"appended": resultsBody(t, []any{f, true}), "encoded": encodedBody(t, []any{f, true})} {
			want := encodedBody(t, []any{wantMap, true})
			if !sameAnswer(t, body, want) {
				t.Errorf("%s (next %v):\n%s\nwant (in any order)\n%s", name, next, body, want)
			}
		}
	}
}

// encodedBody is results as writeResults' encoder writes them, whatever
// they hold.
func encodedBody(t *testing.T, results []any) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	if err := jsonv2.MarshalWrite(w.Body, results, resultOptions); err != nil {
		t.Fatal(err)
	}
	w.Body.WriteString("\n")
	return w.Body.Bytes()
}
