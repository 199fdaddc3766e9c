package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// customMapper is a fakeMapper that writes the custom attributes named
// in keys from the entries' attributes of the same name.
type customMapper struct {
	fakeMapper
	keys       []string
	createOnly []string
}

func (m *customMapper) CustomAttributes() ([]string, bool) { return m.keys, true }
func (m *customMapper) OnCreateOnly() []string             { return m.createOnly }

func (m *customMapper) Map(e Entry) (User, error) {
	u, err := m.fakeMapper.Map(e)
	if err != nil {
		return u, err
	}
	u.Custom = map[string]string{}
	for _, k := range m.keys {
		if v := e.Attrs[k]; len(v) > 0 {
			u.Custom[k] = v[0]
		}
	}
	return u, nil
}

// customTarget is a fakeTarget with user custom attributes.
type customTarget struct {
	*fakeTarget
	types  map[string]string
	values map[string]map[string]string
}

func (t *customTarget) ReadCustomAttributes(ctx context.Context) (map[string]string, map[string]map[string]string, error) {
	return t.types, t.values, nil
}

func TestCustomAttributesPlan(t *testing.T) {
	src := &fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a", "department=Lighting", "seat=007", "site=London"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b", "department=Comp", "seat=twelve"),
	}}
	tgt := &customTarget{fakeTarget: newTarget(owned("id-a", "alice", "alice@example.com", "Alice", "A", "sid-a")),
		types:  map[string]string{"department": "text", "seat": "number", "site": "text", "hired": "date"},
		values: map[string]map[string]string{"id-a": {"department": "Artists", "seat": "7", "site": "Paris"}}}
	m := &customMapper{fakeMapper: fakeMapper{name: "users"}, keys: []string{"department", "seat", "site"}, createOnly: []string{"custom_attributes.site"}}
	p := mustPlan(t, planReq([]Source{src}, m, tgt, DefaultPolicy()))
	var got []string
	for _, c := range p.Changes {
		for _, x := range SetFields(c.After) {
			if k, ok := x.Field.CustomKey(); ok {
				got = append(got, c.Key+" "+string(c.Action)+" "+k+"="+x.Value)
			}
		}
	}
	// alice: seat 007 is 7 as a number (no change); site is create-only
	// (Paris stays); department moves. bob: a create with what converts.
	want := []string{"bob create department=Comp", "alice update department=Lighting"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("custom attribute writes %q, want %q", got, want)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "custom_attributes.seat: 1 directory value cannot be converted to the attribute's type number") {
		t.Errorf("no conversion warning: %q", p.Warnings)
	}

	m.keys = []string{"departmnet"}
	if _, err := BuildPlan(context.Background(), planReq([]Source{src}, m, tgt, DefaultPolicy())); err == nil ||
		!strings.Contains(err.Error(), `ftrack has no user custom attribute "departmnet" (the site's user custom attributes: department, hired, seat, site)`) {
		t.Fatalf("unknown key: %v", err)
	}
	m.keys = []string{"hired"}
	if _, err := BuildPlan(context.Background(), planReq([]Source{src}, m, tgt, DefaultPolicy())); err == nil || !strings.Contains(err.Error(), "of type date, which ldapsync does not write") {
		t.Fatalf("date attribute: %v", err)
	}
}

func TestCustomValueText(t *testing.T) {
	for _, c := range []struct {
		typ  string
		in   any
		want string
		ok   bool
	}{
		{"number", "007", "7", true}, {"number", 7.0, "7", true}, {"number", " 1.50 ", "1.5", true}, {"number", "1e400", "", false},
		{"number", "x", "", false}, {"boolean", "Yes", "true", true}, {"boolean", false, "false", true}, {"boolean", "maybe", "", false},
		{"text", "a", "a", true}, {"text", 1.0, "", false}, {"date", "2026-01-01", "", false},
	} {
		got, ok := CustomValueText(c.typ, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("CustomValueText(%s, %#v) = %q, %t; want %q, %t", c.typ, c.in, got, ok, c.want, c.ok)
		}
	}
}
