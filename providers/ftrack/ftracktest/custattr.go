package ftracktest

// User custom attributes: UserCustomAttributeValue rows, created with a
// plain create and changed with a plain update, are checked against their
// CustomAttributeConfiguration (entity_type "user") and its
// CustomAttributeType.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// compactJSON encodes v as JSON without truncating.
func compactJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// deriveCustomAttributeKey sets a UserCustomAttributeValue's key from its
// configuration, refusing a different key given by the caller. A missing
// configuration is left to the reference check.
func (e *Emulator) deriveCustomAttributeKey(r row) *APIError {
	cfg := e.store.get("CustomAttributeConfiguration", pkKey([]any{r["configuration_id"]}))
	if cfg == nil {
		return nil
	}
	if k, ok := r["key"]; ok && compareValues(k, cfg["key"]) != 0 {
		return validationf("UserCustomAttributeValue.key is the key of its configuration (%s) and cannot be set to %s.", shortJSON(cfg["key"]), shortJSON(k))
	}
	r["key"] = cfg["key"]
	return nil
}

// checkCustomAttributeValue checks a UserCustomAttributeValue whose
// references exist: its entity is a User, its configuration is for users
// and its value suits the configuration's type.
func (e *Emulator) checkCustomAttributeValue(r row) *APIError {
	if e.store.get("User", pkKey([]any{r["entity_id"]})) == nil {
		return validationf("UserCustomAttributeValue.entity_id: User %v does not exist.", r["entity_id"])
	}
	cfg := e.store.get("CustomAttributeConfiguration", pkKey([]any{r["configuration_id"]}))
	if cfg == nil {
		return validationf("UserCustomAttributeValue.configuration_id: CustomAttributeConfiguration %v does not exist.", r["configuration_id"])
	}
	key := fmt.Sprint(cfg["key"])
	if cfg["entity_type"] != "user" {
		return validationf("Custom attribute %q is configured for entity type %s, not for users.", key, shortJSON(cfg["entity_type"]))
	}
	if compareValues(r["key"], cfg["key"]) != 0 {
		return validationf("UserCustomAttributeValue.key %s is not the key of its configuration (%q).", shortJSON(r["key"]), key)
	}
	typeName := ""
	if ct := e.store.get("CustomAttributeType", pkKey([]any{cfg["type_id"]})); ct != nil {
		typeName, _ = ct["name"].(string)
	}
	v, present := r["value"]
	if !present || v == nil {
		return validationf("Custom attribute %q (type %s) needs a value.", key, typeName)
	}
	nv, err := customAttributeValue(key, typeName, cfg, v)
	if err != nil {
		return err
	}
	r["value"] = nv
	return nil
}

// customAttributeValue checks v against the custom attribute type
// typeName and returns the value to store. Types the emulator does not
// know take any value.
func customAttributeValue(key, typeName string, cfg row, v any) (any, *APIError) {
	bad := func(want string) (any, *APIError) {
		return nil, validationf("Custom attribute %q is of type %s: %s is not %s.", key, typeName, shortJSON(v), want)
	}
	switch strings.ToLower(typeName) {
	case CustomAttributeText:
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case CustomAttributeNumber:
		if _, ok := v.(float64); !ok {
			return bad("a number")
		}
	case CustomAttributeBoolean:
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case CustomAttributeDate:
		m, ok := v.(map[string]any)
		s, isStr := m["value"].(string)
		if !ok || m["__type__"] != "datetime" || !isStr || len(m) != 2 {
			return bad(`a datetime ({"__type__": "datetime", "value": "YYYY-MM-DDTHH:MM:SS"})`)
		}
		t, err := normalizeTime(s, false)
		if err != nil {
			return bad("a valid datetime")
		}
		return map[string]any{"__type__": "datetime", "value": t}, nil
	case CustomAttributeEnumerator:
		allowed, multi := enumeratorOptions(cfg)
		var vals []string
		switch t := v.(type) {
		case string:
			vals = []string{t}
		case []any:
			for _, x := range t {
				s, ok := x.(string)
				if !ok {
					return bad("a string or a list of strings")
				}
				vals = append(vals, s)
			}
			if len(vals) > 1 && !multi {
				return bad("a single value (the attribute is not multi-select)")
			}
		default:
			return bad("a string or a list of strings")
		}
		if allowed != nil {
			for _, s := range vals {
				if !allowed[s] {
					return bad("one of its options")
				}
			}
		}
	}
	return deepCopy(v), nil
}

// enumeratorOptions reads an enumerator configuration's allowed values
// (nil: any) and whether it is multi-select. config is a JSON object whose
// "data" is a list of {"menu", "value"} objects, or that list encoded as a
// JSON string (as ftrack's web UI writes it; UNCONFIRMED).
func enumeratorOptions(cfg row) (map[string]bool, bool) {
	s, _ := cfg["config"].(string)
	var c struct {
		MultiSelect bool            `json:"multiSelect"`
		Data        json.RawMessage `json:"data"`
	}
	if json.Unmarshal([]byte(s), &c) != nil || len(c.Data) == 0 {
		return nil, false
	}
	data := []byte(c.Data)
	var inner string
	if json.Unmarshal(data, &inner) == nil {
		data = []byte(inner)
	}
	var items []struct {
		Value *string `json:"value"`
	}
	if json.Unmarshal(data, &items) != nil || len(items) == 0 {
		return nil, c.MultiSelect
	}
	allowed := map[string]bool{}
	for _, it := range items {
		if it.Value != nil {
			allowed[*it.Value] = true
		}
	}
	return allowed, c.MultiSelect
}
