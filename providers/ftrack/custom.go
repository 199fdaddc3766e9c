package ftrack

// User custom attributes. A value is a UserCustomAttributeValue row keyed
// by (configuration_id, entity_id); the configuration (key, type) is a
// CustomAttributeConfiguration with entity_type "user". The engine
// compares values as text (engine.CustomValueText); this file reads them
// into that form and writes text back as the configuration's JSON type.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ldapsync/ldapsync/engine"
)

const (
	customConfigQuery = `select id, key, type_id from CustomAttributeConfiguration where entity_type is "user"`
	customTypeQuery   = "select id, name from CustomAttributeType"
	customValueQuery  = "select configuration_id, entity_id, value from UserCustomAttributeValue"
)

// customConfig is one user custom attribute's configuration.
type customConfig struct{ id, key, typ string }

// customCatalog is the site's user custom attributes by key and by id.
type customCatalog struct {
	byKey map[string]customConfig
	byID  map[string]customConfig
}

func newCustomCatalog(rows, types []Entity) *customCatalog {
	c := &customCatalog{byKey: map[string]customConfig{}, byID: map[string]customConfig{}}
	typeName := map[string]string{}
	for _, t := range types {
		typeName[t.String("id")] = t.String("name")
	}
	for _, r := range rows { // ordered by id: the first of a key wins
		cc := customConfig{id: r.String("id"), key: r.String("key"), typ: typeName[r.String("type_id")]}
		c.byID[cc.id] = cc
		if _, dup := c.byKey[cc.key]; !dup {
			c.byKey[cc.key] = cc
		}
	}
	return c
}

// ReadCustomAttributes reads the site's user custom attributes and every
// user's values, as text (engine.CustomAttributeReader).
func (t *Target) ReadCustomAttributes(ctx context.Context) (map[string]string, map[string]map[string]string, error) {
	res, err := t.client.QueryMany(ctx, PagedQuery{Expression: customConfigQuery}, PagedQuery{Expression: customTypeQuery},
		PagedQuery{Expression: customValueQuery, OrderBy: "configuration_id, entity_id"})
	if err != nil {
		return nil, nil, fmt.Errorf("target %q: reading user custom attributes: %w", t.name, err)
	}
	cat := newCustomCatalog(res[0], res[1])
	keep(t, &t.customCat, cat)
	types := map[string]string{}
	for k, cc := range cat.byKey {
		types[k] = cc.typ
	}
	values := map[string]map[string]string{}
	for _, r := range res[2] {
		cc, ok := cat.byID[r.String("configuration_id")]
		if !ok || cat.byKey[cc.key].id != cc.id {
			continue
		}
		txt, ok := engine.CustomValueText(cc.typ, r["value"])
		if !ok {
			continue // a value ldapsync cannot read compares as absent
		}
		user := r.String("entity_id")
		if values[user] == nil {
			values[user] = map[string]string{}
		}
		values[user][cc.key] = txt
	}
	return types, values, nil
}

// customCatalogFor returns the catalog, read when not read yet or when it
// lacks one of keys.
func (t *Target) customCatalogFor(ctx context.Context, keys []string) (*customCatalog, error) {
	complete := func(cat *customCatalog) bool {
		if cat == nil {
			return false
		}
		for _, k := range keys {
			if cat.byKey[k].id == "" {
				return false
			}
		}
		return true
	}
	return cached(t, &t.customCat, complete, func() (*customCatalog, error) {
		res, err := t.client.QueryMany(ctx, PagedQuery{Expression: customConfigQuery}, PagedQuery{Expression: customTypeQuery})
		if err != nil {
			return nil, fmt.Errorf("reading user custom attributes: %w", err)
		}
		return newCustomCatalog(res[0], res[1]), nil
	})
}

// readCustomState reads the custom attribute values of the users ids.
func (t *Target) readCustomState(ctx context.Context, ids []string, states map[string]*userState) error {
	return byIDChunks(ids, func(part []string) error {
		byEntity, err := In("entity_id", part)
		if err != nil {
			return err
		}
		rows, err := t.client.QueryMany(ctx, PagedQuery{Expression: customValueQuery + " where " + byEntity, OrderBy: "configuration_id, entity_id"})
		if err != nil {
			return err
		}
		for _, r := range rows[0] {
			if st := states[r.String("entity_id")]; st != nil {
				st.custom[r.String("configuration_id")] = r["value"]
			}
		}
		return nil
	})
}

// customWireValue converts text to the JSON value of a custom attribute
// of type typ.
func customWireValue(typ, text string) (any, error) {
	switch typ {
	case "number":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", text)
		}
		return b, nil
	case "text", "enumerator":
		return text, nil
	}
	return nil, fmt.Errorf("custom attributes of type %q are not written", typ)
}

// customOps writes the custom attributes set in f that differ from st.
func customOps(id string, f *engine.Fields, st *userState, cat *customCatalog) ([]Operation, error) {
	if f == nil || len(f.Custom) == 0 {
		return nil, nil
	}
	if cat == nil {
		return nil, errors.New("the user custom attributes could not be read")
	}
	var ops []Operation
	for _, k := range sortedKeys(f.Custom) {
		cc, ok := cat.byKey[k]
		if !ok {
			return nil, fmt.Errorf("ftrack has no user custom attribute %q: %w", k, ErrNotFound)
		}
		v, err := customWireValue(cc.typ, f.Custom[k])
		if err != nil {
			return nil, fmt.Errorf("custom_attributes.%s: %w", k, err)
		}
		cur, held := st.custom[cc.id]
		switch {
		case !held:
			ops = append(ops, CreateOp("UserCustomAttributeValue", []string{cc.id, id}, map[string]any{"value": v}))
		case !sameValue(cur, v):
			ops = append(ops, UpdateOp("UserCustomAttributeValue", []string{cc.id, id}, map[string]any{"value": v}))
		default:
			continue
		}
		st.custom[cc.id] = v
	}
	return ops, nil
}

// customKeysOf lists the custom attribute keys changes write.
func customKeysOf(changes []engine.Change) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range changes {
		if c.After == nil {
			continue
		}
		for k := range c.After.Custom {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
