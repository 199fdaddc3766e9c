package engine

// Attacks on user custom attributes and on_create_only: an edited plan
// (its checksum recomputed) and hostile directory values. Each attack
// asserts that apply refuses with the expected token and writes nothing.

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// writingCustomTarget is a customTarget whose executed changes write
// their custom attributes, so that a write is seen.
type writingCustomTarget struct{ *customTarget }

func (t *writingCustomTarget) Execute(ctx context.Context, changes []Change) []Result {
	res := t.fakeTarget.Execute(ctx, changes)
	for i, c := range changes {
		if res[i].Err != nil || c.After == nil {
			continue
		}
		for k, v := range c.After.Custom {
			if t.values[c.TargetID] == nil {
				t.values[c.TargetID] = map[string]string{}
			}
			t.values[c.TargetID][k] = v
		}
	}
	return res
}

// customAttack is the custom attributes world: alice and bob are owned,
// eve is unowned, olga another mapping's; the mapping writes department
// and site, site and first_name at create only; the site also has
// clearance, which the mapping never names.
type customAttack struct {
	src   *fakeSource
	tgt   *writingCustomTarget
	m     *customMapper
	state *memState
}

func newCustomAttack() *customAttack {
	src := &fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a", "department=Lighting", "site=London"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b", "department=Comp", "site=London"),
		entry("dan", "dan@example.com", "Dan", "D", "sid-d", "department=Rigging", "site=London"),
		entry("eve", "eve@example.com", "Eve", "E", "sid-e", "department=Comp"),
	}}
	tgt := &writingCustomTarget{&customTarget{fakeTarget: newTarget(
		owned("id-a", "alice", "alice@example.com", "Alice", "A", "sid-a"),
		owned("id-b", "bob", "bob@example.com", "Bob", "B", "sid-b"),
		Account{ID: "id-e", Username: "eve", Email: "eve@example.com", FirstName: "Eve", LastName: "E", Active: true},
		Account{ID: "id-o", Username: "olga", Email: "olga@example.com", Active: true, Owner: "contractors"},
	),
		types: map[string]string{"department": "text", "site": "text", "clearance": "text", "seat": "number"},
		values: map[string]map[string]string{
			"id-a": {"department": "Lighting", "site": "Paris"},
			"id-b": {"department": "Artists", "site": "Paris", "clearance": "low"},
			"id-e": {"clearance": "low"},
		}}}
	tgt.info.Name = "studio"
	m := &customMapper{fakeMapper: fakeMapper{name: "users"}, keys: []string{"department", "site"}, createOnly: []string{"custom_attributes.site", "first_name"}}
	return &customAttack{src: src, tgt: tgt, m: m, state: newMemState("l")}
}

func (ca *customAttack) plan(t *testing.T) *Plan {
	t.Helper()
	pol := DefaultPolicy()
	pol.AdoptExisting = false
	req := planReq([]Source{ca.src}, ca.m, ca.tgt, pol)
	req.LastApplied, _ = ca.state.Load()
	return mustPlan(t, req)
}

func (ca *customAttack) apply(p *Plan, verify bool) error {
	pol := DefaultPolicy()
	pol.AdoptExisting = false
	_, err := Apply(context.Background(), ApplyRequest{Plan: p, Target: ca.tgt, State: ca.state, ConfigDigest: "sha256:cfg", Now: clock,
		Policy: pol, Mapper: ca.m, Sources: []Source{ca.src}, VerifySource: verify})
	return err
}

func (ca *customAttack) mustRefuse(t *testing.T, p *Plan, verify bool, reason, msg string) {
	t.Helper()
	before := fmt.Sprint(ca.tgt.values, ca.tgt.accounts["id-b"].FirstName)
	err := ca.apply(reread(t, p), verify)
	if refusalReason(err) != reason || !strings.Contains(err.Error(), msg) {
		t.Fatalf("apply: %v, want a %s refusal mentioning %q", err, reason, msg)
	}
	if after := fmt.Sprint(ca.tgt.values, ca.tgt.accounts["id-b"].FirstName); after != before || ca.tgt.calls != 0 {
		t.Fatalf("refused apply wrote: %s -> %s, executed %v", before, after, ca.tgt.executed)
	}
}

// customUpdate is an update of user key writing custom attribute k.
func customUpdate(key, id, k, before, after string) Change {
	return Change{Action: ActionUpdate, Reason: ReasonAttributesDiffer, Key: key, Address: "user." + key, TargetID: id, SourceID: "sid-" + key[:1],
		Before: &Fields{Custom: map[string]string{k: before}}, After: &Fields{Custom: map[string]string{k: after}}}
}

// changeOf returns a pointer to the plan's action change of key.
func changeOf(t *testing.T, p *Plan, act Action, key string) *Change {
	t.Helper()
	for i := range p.Changes {
		if p.Changes[i].Action == act && p.Changes[i].Key == key {
			return &p.Changes[i]
		}
	}
	t.Fatalf("the plan has no %s of %s: %v", act, key, changeLines(p))
	return nil
}

// TestCustomAttacksOnEditedPlans: edits of the custom attributes in a
// plan, each refused before the first write with the directory checked.
func TestCustomAttacksOnEditedPlans(t *testing.T) {
	cases := []struct {
		name   string
		verify bool
		edit   func(t *testing.T, p *Plan)
		reason string
		msg    string
	}{
		{"a key the mapping does not give, on its own", true, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, customUpdate("alice", "id-a", "clearance", "", "top"))
		}, "source_mismatch", "user.alice"},
		{"a key the mapping does not give, beside a real update", true, func(t *testing.T, p *Plan) {
			c := changeOf(t, p, ActionUpdate, "bob")
			c.Before.Custom["clearance"], c.After.Custom["clearance"] = "low", "top"
		}, "source_mismatch", `custom_attributes.clearance "top"`},
		{"an on_create_only custom attribute updated", true, func(t *testing.T, p *Plan) {
			c := changeOf(t, p, ActionUpdate, "bob")
			c.Before.Custom["site"], c.After.Custom["site"] = "Paris", "London"
		}, "source_mismatch", `custom_attributes.site "London"`},
		{"an on_create_only name updated", true, func(t *testing.T, p *Plan) {
			c := changeOf(t, p, ActionUpdate, "bob")
			c.Before.FirstName, c.After.FirstName = Str("Bob"), Str("Robert")
		}, "source_mismatch", `first_name "Robert"`},
		{"a value the directory does not give", true, func(t *testing.T, p *Plan) {
			c := changeOf(t, p, ActionUpdate, "bob")
			c.After.Custom["department"] = "Management"
		}, "source_mismatch", `the mapping gives custom_attributes.department "Comp", the plan writes "Management"`},
		{"a create with an extra key", true, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionCreate, "dan").After.Custom["clearance"] = "top"
		}, "source_mismatch", `custom_attributes.clearance "top"`},
		{"a create with an on_create_only value changed", true, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionCreate, "dan").After.Custom["site"] = "Tokyo"
		}, "source_mismatch", `the mapping gives custom_attributes.site "London", the plan writes "Tokyo"`},
		{"an unowned account", false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, customUpdate("eve", "id-e", "clearance", "low", "top"))
		}, "not_owned", `account "eve" has no ldapsync owner`},
		{"another mapping's account", false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, customUpdate("olga", "id-o", "department", "", "Comp"))
		}, "not_owned", `owned by mapping "contractors"`},
		{"another user's account", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionUpdate, "bob").TargetID = "id-a"
		}, "identity_mismatch", `target_id id-a is ftrack account "alice"`},
		{"a value with an escape sequence", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionUpdate, "bob").After.Custom["department"] = "Comp\x1b[2J"
		}, "invalid", "custom_attributes.department contains U+001B ESCAPE"},
		{"a value with a bidi override", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionUpdate, "bob").After.Custom["department"] = "pmoC\u202e"
		}, "invalid", "custom_attributes.department contains U+202E"},
		{"a value with a line break", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionUpdate, "bob").After.Custom["department"] = "Comp\nclearance: top"
		}, "invalid", "custom_attributes.department contains U+000A"},
		{"a create's value with an escape sequence", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionCreate, "dan").After.Custom["department"] = "\x1b]8;;https://evil.test\x07Rigging"
		}, "invalid", "custom_attributes.department contains U+001B"},
		{"a before that no longer holds", false, func(t *testing.T, p *Plan) {
			changeOf(t, p, ActionUpdate, "bob").Before.Custom["department"] = "Somewhere"
		}, "stale", "custom_attributes.department is now"},
		{"a custom write without its before", false, func(t *testing.T, p *Plan) {
			delete(changeOf(t, p, ActionUpdate, "bob").Before.Custom, "department")
		}, "invalid", "before must hold the current value of every field it writes"},
		{"a deactivation that also writes a custom attribute", false, func(t *testing.T, p *Plan) {
			p.Changes = append(p.Changes, Change{Action: ActionDeactivate, Reason: ReasonMissingFromDirectory, Key: "alice", Address: "user.alice", TargetID: "id-a", SourceID: "sid-a",
				Before: &Fields{IsActive: Bool(true), Custom: map[string]string{"department": "Lighting"}}, After: &Fields{IsActive: Bool(false), Custom: map[string]string{"department": ""}}})
		}, "invalid", "it changes is_active to false and nothing else"},
		{"two changes writing one attribute", false, func(t *testing.T, p *Plan) {
			c := *changeOf(t, p, ActionUpdate, "bob")
			c.After = &Fields{Custom: map[string]string{"department": "Management"}}
			p.Changes = append(p.Changes, c)
		}, "conflicting_changes", "user.bob and user.bob both write custom_attributes.department of account id-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ca := newCustomAttack()
			p := ca.plan(t)
			tc.edit(t, p)
			ca.mustRefuse(t, p, tc.verify, tc.reason, tc.msg)
		})
	}
}

// TestCustomAttackHonestPlanApplies is the control: the plan the attacks
// start from applies, writes department and never site or first_name on
// an existing account, and converges.
func TestCustomAttackHonestPlanApplies(t *testing.T) {
	ca := newCustomAttack()
	if err := ca.apply(reread(t, ca.plan(t)), true); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := ca.tgt.values["id-b"]; got["department"] != "Comp" || got["site"] != "Paris" || got["clearance"] != "low" {
		t.Fatalf("bob's custom attributes: %v", got)
	}
	if got := ca.tgt.values["id-e"]; len(got) != 1 || got["clearance"] != "low" {
		t.Fatalf("unowned eve's custom attributes: %v", got)
	}
	if again := changeLines(ca.plan(t)); len(again) != 0 {
		t.Fatalf("changes after apply: %v", again)
	}
}

// TestCustomHostileDirectoryValues: values a directory writer could put
// in a mapped attribute that CheckCustomValue (which the configuration's
// mapping applies to every value) refuses, and look-alike numbers that
// convert to one canonical text.
func TestCustomHostileDirectoryValues(t *testing.T) {
	for _, v := range []string{"a\x00b", "a\x1b[31m", "a\rb", "a\nb", "a\u2028b", "a\u202eb", "a\u200bb", " lead", "trail ", "a\u00adb", "\ufeffx", "a\u2800"} {
		if err := CheckCustomValue("department", v); err == nil {
			t.Errorf("CheckCustomValue accepts %q", v)
		}
	}
	for _, v := range []string{"[click](https://evil.test)", "<img src=x onerror=alert(1)>", "| a | b |", "`x`", "Ærø"} {
		if err := CheckCustomValue("department", v); err != nil {
			t.Errorf("CheckCustomValue refuses printable %q: %v", v, err)
		}
	}
	for _, tc := range []struct{ in, want string }{{"007", "7"}, {"7.0", "7"}, {"+7", "7"}, {"0x7", "7"}, {"7e0", "7"}} {
		if got, ok := CustomValueText("number", tc.in); !ok || got != tc.want {
			t.Errorf("CustomValueText(number, %q) = %q, %t; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{"Inf", "-Inf", "NaN", "1e400", "7 apples", ""} {
		if got, ok := CustomValueText("number", in); ok {
			t.Errorf("CustomValueText(number, %q) = %q, want no conversion", in, got)
		}
	}
}
