package ftrack

// Responses come in two encodings. Normalised (the default): an entity is
// encoded in full once per response and later occurrences are references
// holding only __entity_type__ and the primary key. Denormalised: every
// occurrence is complete. decodeResponse handles both with two passes over
// the whole response: the first gathers every attribute seen for each
// identity ("Type,pk..."), the second rebuilds the values, replacing each
// entity occurrence by its one merged map. Typed values ({"__type__":
// "datetime"|"date", "value": ...}) become time.Time.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Entity is one decoded entity: attribute name to value. Values are string,
// bool, json.Number, time.Time, nil, Entity, []any or map[string]any.
type Entity map[string]any

// Type returns the entity's __entity_type__.
func (e Entity) Type() string { s, _ := e["__entity_type__"].(string); return s }

// String returns attribute k as a string; "" when absent, null or not a string.
func (e Entity) String(k string) string { s, _ := e[k].(string); return s }

// Bool returns attribute k as a bool; ok is false when absent or not a bool.
func (e Entity) Bool(k string) (v, ok bool) { v, ok = e[k].(bool); return v, ok }

// Time returns attribute k as a time; ok is false when it is not a datetime or date.
func (e Entity) Time(k string) (time.Time, bool) { t, ok := e[k].(time.Time); return t, ok }

// primaryKeys lists the primary key of the entity types ldapsync touches
// whose key is not just "id" (from the recorded schemas).
var primaryKeys = map[string][]string{
	"Metadata":                 {"parent_id", "key"},
	"UserCustomAttributeValue": {"configuration_id", "entity_id"},
}

// PrimaryKey returns the primary-key attribute names of an entity type.
func PrimaryKey(entityType string) []string {
	if pk, ok := primaryKeys[entityType]; ok {
		return pk
	}
	return []string{"id"}
}

// identity returns "Type,pk1,pk2" for an entity object, or ok=false when
// a key attribute is missing.
func identity(m map[string]any) (string, bool) {
	typ, _ := m["__entity_type__"].(string)
	if typ == "" {
		return "", false
	}
	parts := []string{typ}
	for _, k := range PrimaryKey(typ) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", false
		}
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ","), true
}

type responseDecoder struct {
	raw map[string]map[string]any // identity -> union of raw attributes
	out map[string]Entity         // identity -> rebuilt entity
}

// decodeValues decodes a response body's elements (already split into raw
// JSON) with entity merging across the whole response.
func decodeValues(elems []json.RawMessage) ([]any, error) {
	vals := make([]any, len(elems))
	for i, el := range elems {
		d := json.NewDecoder(bytes.NewReader(el))
		d.UseNumber()
		if err := d.Decode(&vals[i]); err != nil {
			return nil, fmt.Errorf("ftrack: decoding response element %d: %w", i, err)
		}
	}
	rd := &responseDecoder{raw: map[string]map[string]any{}, out: map[string]Entity{}}
	for _, v := range vals {
		rd.gather(v)
	}
	for i, v := range vals {
		vals[i] = rd.build(v)
	}
	return vals, nil
}

func (rd *responseDecoder) gather(v any) {
	switch t := v.(type) {
	case map[string]any:
		if id, ok := identity(t); ok {
			m := rd.raw[id]
			if m == nil {
				m = map[string]any{}
				rd.raw[id] = m
			}
			for k, val := range t {
				if _, seen := m[k]; !seen || isEntityRef(m[k]) {
					m[k] = val
				}
			}
		}
		for _, val := range t {
			rd.gather(val)
		}
	case []any:
		for _, val := range t {
			rd.gather(val)
		}
	}
}

// isEntityRef reports whether v is an entity object carrying nothing but
// its type and key, so a fuller occurrence should replace it.
func isEntityRef(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	typ, _ := m["__entity_type__"].(string)
	return typ != "" && len(m) <= 1+len(PrimaryKey(typ))
}

func (rd *responseDecoder) build(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if typ, ok := t["__type__"].(string); ok {
			return decodeTyped(typ, t["value"])
		}
		if id, ok := identity(t); ok {
			if e, done := rd.out[id]; done {
				return e
			}
			e := Entity{}
			rd.out[id] = e // before recursing: entities may refer to each other
			for k, val := range rd.raw[id] {
				e[k] = rd.build(val)
			}
			return e
		}
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = rd.build(val)
		}
		if _, ok := t["__entity_type__"]; ok {
			return Entity(out)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = rd.build(val)
		}
		return out
	}
	return v
}

var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
}

// decodeTyped turns a {"__type__": ..., "value": ...} object into a
// time.Time. Naive datetimes are taken as UTC (the server's meaning when
// timezone support is on). Unknown types or unparsable values are kept as
// the raw value.
func decodeTyped(typ string, v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch typ {
	case "datetime":
		for _, l := range datetimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t
			}
		}
	case "date":
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t
		}
	}
	return s
}
