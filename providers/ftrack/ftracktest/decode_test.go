package ftracktest

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// trickyBodies are request bodies on which a decoder could part from
// encoding/json: duplicate names (the last wins), invalid UTF-8 and
// surrogate escapes (replaced), numbers at float64's limits, nesting,
// nulls, wrong shapes, trailing data and whitespace.
var trickyBodies = []string{
	``, ` `, `null`, `[]`, ` [ ] `, `[null]`, `[{}]`, `{}`, `[1]`, `[[]]`, `["x"]`, `[{}]x`, `[{}] `, `[{}],`, `[{},]`, `[{"a":1,}]`,
	`[{"action":"create","entity_type":"User","entity_data":{"username":"a","username":"b"}}]`,
	`[{"action":"query","action":"create"}]`,
	`[{"a":{"b":1},"a":{"c":2}}]`,
	`[{"a":[1,2],"a":{"c":2}}]`,
	`[{"k":"\u00e9\ud83d\ude00\u2028<>&"}]`,
	`[{"k":"\ud800"}]`, `[{"k":"\udc00x"}]`, `[{"k":"\ud800\u0041"}]`,
	"[{\"k\":\"\xff\xfe\"}]", "[{\"\xc3\":1}]", "[{\"k\":\"a\xc3\"}]", "\xef\xbb\xbf[]",
	`[{"n":0}]`, `[{"n":-0}]`, `[{"n":-0.0}]`, `[{"n":1e308}]`, `[{"n":1e309}]`, `[{"n":-1e400}]`, `[{"n":5e-324}]`, `[{"n":1e-400}]`,
	`[{"n":12345678901234567890123}]`, `[{"n":0.1}]`, `[{"n":1E2}]`, `[{"n":01}]`, `[{"n":+1}]`, `[{"n":.5}]`, `[{"n":1.}]`, `[{"n":NaN}]`,
	`[{"t":true,"f":false,"z":null,"s":"","e":{},"l":[]}]`,
	`[{"k":"\/\b\f\n\r\t\"\\"}]`, `[{"k":"\x"}]`, "[{\"k\":\"a\tb\"}]", "[{\"k\":\"a\x00b\"}]",
	`[{"":1}]`, `[{"a":1}, null, {"b":2}]`, `[{"a":1} {"b":2}]`, `[{"a" 1}]`, `[{a:1}]`, `['a']`,
	`[{"a":tru}]`, `[{"a":nul}]`, `[{"a":"x}]`, `[{"a":1}`, `[{"a":1}]]`,
	"\t\r\n [ \t{ \"a\" : 1 } ] \n",
	strings.Repeat("[", 9999) + strings.Repeat("]", 9999),
	`[{"d":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]`,
	`[{"d":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]`,
	`[{"d":` + strings.Repeat(`{"x":`, 9998) + "1" + strings.Repeat("}", 9998) + `}]`,
	`[{"d":` + strings.Repeat(`{"x":`, 10001) + "1" + strings.Repeat("}", 10001) + `}]`,
	createsBodyString(),
}

// createsBodyString is a typical batch (createsBody) for the differential
// checks.
func createsBodyString() string { return string(createsBody(7)) }

// checkDecodeOps requires decodeOps to answer body exactly as
// encoding/json.Unmarshal does: the same operations, or the same error.
func checkDecodeOps(t *testing.T, body []byte) {
	t.Helper()
	var want []map[string]any
	wantErr := json.Unmarshal(body, &want)
	got, err := decodeOps(body)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("body %q: error %v, encoding/json's %v", body, err, wantErr)
	}
	if err == nil && !sameJSONValue(got, want) {
		t.Fatalf("body %q: decoded %#v, encoding/json %#v", body, got, want)
	}
}

// sameJSONValue is reflect.DeepEqual telling -0 from 0 and an empty list
// from a nil one.
func sameJSONValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && fa == fb && math.Signbit(fa) == math.Signbit(fb)
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() != vb.Kind() || va.IsValid() && va.Type() != vb.Type() {
		return false
	}
	switch va.Kind() {
	case reflect.Slice:
		if va.IsNil() != vb.IsNil() || va.Len() != vb.Len() {
			return false
		}
		for i := range va.Len() {
			if !sameJSONValue(va.Index(i).Interface(), vb.Index(i).Interface()) {
				return false
			}
		}
		return true
	case reflect.Map:
		if va.IsNil() != vb.IsNil() || va.Len() != vb.Len() {
			return false
		}
		for _, k := range va.MapKeys() {
			ea, eb := va.MapIndex(k), vb.MapIndex(k)
			if !eb.IsValid() || !sameJSONValue(ea.Interface(), eb.Interface()) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestDecodeOpsAsEncodingJSON(t *testing.T) {
	for _, body := range trickyBodies {
		checkDecodeOps(t, []byte(body))
	}
	// The last of duplicate names wins, at the top and below.
	ops, err := decodeOps([]byte(`[{"action":"query","action":"create","entity_data":{"a":{"b":1},"a":{"c":2}}}]`))
	if err != nil || ops[0]["action"] != "create" || !reflect.DeepEqual(ops[0]["entity_data"], map[string]any{"a": map[string]any{"c": 2.0}}) {
		t.Errorf("duplicates: %v, %v", ops, err)
	}
}

func FuzzDecodeOps(f *testing.F) {
	for _, body := range trickyBodies {
		if len(body) < 1000 {
			f.Add([]byte(body))
		}
	}
	f.Fuzz(checkDecodeOps)
}
