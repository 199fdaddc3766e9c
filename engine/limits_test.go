package engine

import (
	"fmt"
	"strings"
	"testing"
)

// ownedWorld is n owned accounts, of which the directory still lists keep.
func ownedWorld(n, keep int) ([]Source, *fakeTarget) {
	var entries []Entry
	var accounts []Account
	for i := range n {
		u := fmt.Sprintf("u%03d", i)
		accounts = append(accounts, owned("id-"+u, u, u+"@example.com", "U", u, "sid-"+u))
		if i < keep {
			entries = append(entries, entry(u, u+"@example.com", "U", u, "sid-"+u))
		}
	}
	return []Source{&fakeSource{name: "corp", entries: entries}}, newTarget(accounts...)
}

// TestDefaultLimits: without a policy, deactivating more than a quarter
// of at least 20 managed users is blocked; fewer managed users, an
// initial import of any size, and an explicit "100%" are not.
func TestDefaultLimits(t *testing.T) {
	m := &fakeMapper{name: "users"}
	t.Run("a quarter of 40 managed users", func(t *testing.T) {
		src, tgt := ownedWorld(40, 29) // 11 leave: more than 10
		p := mustPlan(t, planReq(src, m, tgt, DefaultPolicy()))
		if !p.IsBlocked() || !strings.Contains(p.Blocked.Reasons[0], "11 deactivations exceed max_deactivations = 25% (10 of 40 managed users) — the default") {
			t.Fatalf("want the default limit to block: %+v", p.Blocked)
		}
	})
	t.Run("exactly a quarter", func(t *testing.T) {
		src, tgt := ownedWorld(40, 30)
		if p := mustPlan(t, planReq(src, m, tgt, DefaultPolicy())); p.IsBlocked() {
			t.Fatalf("10 of 40 blocked: %+v", p.Blocked)
		}
	})
	t.Run("fewer than 20 managed users", func(t *testing.T) {
		src, tgt := ownedWorld(19, 0)
		pol := DefaultPolicy()
		pol.MinSourceUsers = 0
		src[0].(*fakeSource).entries = []Entry{entry("new", "new@example.com", "N", "N", "sid-new")}
		if p := mustPlan(t, planReq(src, m, tgt, pol)); p.IsBlocked() || p.Summary.Deactivate != 19 {
			t.Fatalf("19 managed users: %+v %+v", p.Blocked, p.Summary)
		}
	})
	t.Run("initial import", func(t *testing.T) {
		src, _ := ownedWorld(500, 500)
		if p := mustPlan(t, planReq(src, m, newTarget(), DefaultPolicy())); p.IsBlocked() || p.Summary.Create != 500 {
			t.Fatalf("initial import: %+v %+v", p.Blocked, p.Summary)
		}
	})
	t.Run("100% lifts it", func(t *testing.T) {
		src, tgt := ownedWorld(40, 1)
		pol := DefaultPolicy()
		pol.MaxDeactivations, _ = ParseLimit("100%")
		if p := mustPlan(t, planReq(src, m, tgt, pol)); p.IsBlocked() {
			t.Fatalf("100%% blocked: %+v", p.Blocked)
		}
	})
	t.Run("the limits in force are recorded", func(t *testing.T) {
		pol := DefaultPolicy()
		pol.MaxCreates, _ = ParseLimit("10")
		got := fmt.Sprint(LimitsInForce(pol))
		want := "[{max_deactivations 25% default 20} {max_creates 10 policy 0} {max_updates 50% default 20} {max_role_changes 50% default 20}]"
		if got != want {
			t.Fatalf("limits in force %s, want %s", got, want)
		}
	})
}

// TestMisspeltAttributeBlocksBlanking: a field that would be blanked on
// many managed users because no entry has its attribute blocks the plan;
// people who really have no value for a present attribute do not.
func TestMisspeltAttributeBlocksBlanking(t *testing.T) {
	src, tgt := ownedWorld(10, 10)
	for i := range src[0].(*fakeSource).entries {
		delete(src[0].(*fakeSource).entries[i].Attrs, "givenName") // as if the mapping read entry.givenNmae
	}
	p := mustPlan(t, planReq(src, &fakeMapper{name: "users"}, tgt, DefaultPolicy()))
	if !p.IsBlocked() || !strings.Contains(strings.Join(p.Blocked.Reasons, ";"), `first_name would be blanked on 10 managed users: the mapping reads "givenName", which no directory entry has`) {
		t.Fatalf("want a block: %+v", p.Blocked)
	}
	src, tgt = ownedWorld(10, 10)
	for i := range 5 { // half the people have no given name: real data
		delete(src[0].(*fakeSource).entries[i].Attrs, "givenName")
	}
	if p := mustPlan(t, planReq(src, &fakeMapper{name: "users"}, tgt, DefaultPolicy())); p.IsBlocked() || p.Summary.Update != 5 {
		t.Fatalf("present attribute: %+v %+v", p.Blocked, p.Summary)
	}
}

// TestTargetedPlan: plan -target keeps the named users' changes (with
// the groups their memberships need), and the limits still count the
// whole population.
func TestTargetedPlan(t *testing.T) {
	w := newWorld()
	req := planReq([]Source{w.src}, w.mapper, w.target, w.policy)
	req.Targets = []string{"user.BOB", "alice"}
	p := mustPlan(t, req)
	for _, c := range p.Changes {
		if c.Key != "bob" && c.Key != "alice" && c.Action != ActionCreateGroup {
			t.Errorf("a targeted plan holds %s", ChangeID(c))
		}
	}
	if strings.Join(p.Targets, ",") != "alice,bob" || len(p.Changes) == 0 {
		t.Fatalf("targets %v, changes %q", p.Targets, changeLines(p))
	}
	req.Policy.MaxDeactivations = Limit{Raw: "0", Count: 0} // carol and dave leave or are disabled: not targeted
	if p := mustPlan(t, req); !p.IsBlocked() {
		t.Fatalf("the limits must count every change, not only the targeted ones: %+v", p.Summary)
	}
}
