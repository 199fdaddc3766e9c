package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
)

// TestMarshalIsEncodingJSON: Marshal writes the bytes encoding/json
// writes (indented, no HTML escapes) for a state in which every member of
// every type is set, by reflection so a member added later is covered
// too, with values that need escaping, and for the empty state.
func TestMarshalIsEncodingJSON(t *testing.T) {
	la := engine.NewLastApplied("lineage-1")
	n := 0
	fill(reflect.ValueOf(la).Elem(), &n)
	la.Users["zoë <b>&</b>"] = engine.AppliedUser{Username: "\u2028\x7f\"\\", Active: false}
	for _, st := range []*engine.LastApplied{la, engine.NewLastApplied("lineage-2")} {
		got, err := Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(file{FormatVersion: FormatVersion, LastApplied: *st}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Marshal differs from encoding/json:\n%s\n--- encoding/json:\n%s", got, want.Bytes())
		}
	}
}

// fill sets every settable member of v to a distinct non-zero value (maps
// and slices get two elements).
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d<&>é", *n))
	case reflect.Bool:
		v.SetBool(*n%2 == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 2, 10, 0, *n%60, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	}
}

// TestUnmarshalIsEncodingJSON: Unmarshal's fast decoder reads what
// encoding/json reads, for a state with every member set and for
// documents that lean on encoding/json's leniency (names in another case,
// a duplicate name, invalid UTF-8, nulls, unknown members).
func TestUnmarshalIsEncodingJSON(t *testing.T) {
	la := engine.NewLastApplied("lineage-1")
	n := 0
	fill(reflect.ValueOf(la).Elem(), &n)
	full, err := Marshal(la)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{
		"full":        string(full),
		"case":        `{"Format_Version":"1.0","LINEAGE":"l","Users":{"a":{"Target_ID":"x","USERNAME":"a"}},"plans":{}}`,
		"duplicate":   `{"format_version":"1.0","lineage":"l1","lineage":"l2","users":{"a":{"username":"a"},"a":{"username":"b"}}}`,
		"invalid utf": "{\"format_version\":\"1.0\",\"lineage\":\"l\xff\",\"users\":{\"\xfe\":{\"email\":\"\xc3\"}}}",
		"nulls":       `{"format_version":"1.0","lineage":"l","users":null,"plans":null,"missing":null,"managed_groups":null}`,
		"unknown":     `{"format_version":"1.0","lineage":"l","future":{"x":[1,2]},"users":{"a":{"username":"a","later":true}}}`,
	}
	for name, doc := range docs {
		got, err := Unmarshal([]byte(doc))
		want, werr := unmarshalV1([]byte(doc))
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Errorf("%s: error %v, encoding/json %v", name, err, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%+v\nencoding/json\n%+v", name, got, want)
		}
	}
}
