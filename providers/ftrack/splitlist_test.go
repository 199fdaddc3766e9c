package ftrack

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestSplitListAsUnmarshal holds splitList to json.Unmarshal into
// []json.RawMessage: the same elements for every list it accepts, an
// error for every one it refuses, whichever pass decided.
func TestSplitListAsUnmarshal(t *testing.T) {
	for _, body := range []string{
		`[]`,
		` [ ] `,
		`[{"action":"create","data":{"id":"a","__entity_type__":"User"}},{"action":"delete","data":true}]`,
		"[1, \"two\" ,\n{\"a\":[null,false]} ]\n",
		`[{"a":1,"a":2}]`,           // duplicate names: encoding/json keeps both in the raw element
		"[\"\xff\xfe\"]",            // invalid UTF-8: the one pass refuses, encoding/json accepts
		`["\ud800"]`,                // a lone surrogate escape
		`[1,]`,                      // trailing comma
		`[1] [2]`,                   // two values
		`[1`,                        // cut short
		`[{"a":1}}]`,                // unbalanced
		`["a\u0000b", 1e400, -0.0]`, // NUL escape, a number out of float64's range
	} {
		var want []json.RawMessage
		wantErr := json.Unmarshal([]byte(body), &want)
		got, err := splitList([]byte(body), 2)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: splitList error %v, json.Unmarshal error %v", body, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: splitList = %q, json.Unmarshal = %q", body, got, want)
		}
	}
}
