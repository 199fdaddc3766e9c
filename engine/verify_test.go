package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// recount makes the plan's summary count its changes again, as an
// attacker who edits changes would.
func recount(p *Plan) {
	var c Counts
	for _, ch := range p.Changes {
		c.add(ch.Action)
	}
	p.Summary.Counts = c
}

// changeAt returns the plan's change with that action and address.
func changeAt(t *testing.T, p *Plan, action Action, address string) *Change {
	t.Helper()
	for i := range p.Changes {
		if p.Changes[i].Action == action && p.Changes[i].Address == address {
			return &p.Changes[i]
		}
	}
	t.Fatalf("the plan has no %s %s", action, address)
	return nil
}

// TestApplyVerifiesChanges edits a plan the way an attacker who can
// recompute its checksum would, and asserts that apply refuses it with
// the named reason before writing anything: no Execute call, no state
// save. The last case is the control: the plan as made applies.
func TestApplyVerifiesChanges(t *testing.T) {
	cases := []struct {
		name, reason, msg string
		edit              func(t *testing.T, w *world, p *Plan, req *ApplyRequest)
		noSource          bool
	}{
		{"edited after", "source_mismatch", `user.alice: the directory has not changed since the plan was made, and the plan does not write what it gives: the mapping gives email "asmith@example.com", the plan writes "mallory@evil.test"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				changeAt(t, p, ActionUpdate, "user.alice").After.Email = Str("mallory@evil.test")
			}, false},
		{"directory moved on", "stale", `user.alice: the mapping gives email "alice@new.example.com"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				w.src.entries[0] = entry("alice", "alice@new.example.com", "Alice", "Smith", "sid-a", "groups=Artists")
			}, false},
		{"added field", "source_mismatch", `would not write first_name "Mallory"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				c := changeAt(t, p, ActionUpdate, "user.alice")
				c.Before.FirstName, c.After.FirstName = Str("Alice"), Str("Mallory")
			}, false},
		{"write without before", "invalid", "before must hold the current value of every field it writes",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				changeAt(t, p, ActionUpdate, "user.alice").Before.Email = nil
			}, false},
		{"update writes is_active", "invalid", "never is_active",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				c := changeAt(t, p, ActionUpdate, "user.alice")
				c.Before.IsActive, c.After.IsActive = Bool(true), Bool(false)
			}, false},
		{"protected", "protected", `user.alice: "alice" is protected by policy.protect "alice"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { req.Policy.Protect = []string{"alice"} }, false},
		{"protected without the directory check", "protected", `policy.protect "re:^ali"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { req.Policy.Protect = []string{"re:^ali"} }, true},
		{"look-alike of a protected name", "protected", "looks like a protected username",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				req.Policy.Protect = []string{"admin"}
				p.Changes = append(p.Changes, Change{Address: "user.ａｄｍｉｎ", Action: ActionCreate, Key: "ａｄｍｉｎ", TargetID: "id-new",
					After: &Fields{Username: Str("ａｄｍｉｎ"), Email: Str("m@evil.test"), FirstName: Str("M"), LastName: Str("M"), IsActive: Bool(true), Owner: Str("users"), SourceID: Str("")}})
			}, true},
		{"api user", "protected", "the API user",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { req.TargetUser = "Carol" }, true},
		{"unowned deactivation", "not_owned", `account "zoe" has no ldapsync owner`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "user.zoe", Action: ActionDeactivate, Key: "zoe", TargetID: "id-z",
					Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}})
			}, true},
		{"adopt not allowed", "not_owned", "adopt_existing = false",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { req.Policy.AdoptExisting = false }, true},
		{"another mapping's account", "not_owned", `owned by mapping "other"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { w.target.accounts["id-c"].Owner = "other" }, true},
		{"target_id swap", "identity_mismatch", `target_id id-g is ftrack account "gina", not user "alice"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				c := changeAt(t, p, ActionUpdate, "user.alice")
				c.TargetID, c.Before.Email = "id-g", Str("gina@example.com")
			}, true},
		{"key and address disagree", "identity_mismatch", "the address does not match its key",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				changeAt(t, p, ActionUpdate, "user.alice").Key = "gina"
			}, true},
		{"two changes to one field", "conflicting_changes", "both write email of account id-a",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				c := *changeAt(t, p, ActionUpdate, "user.alice")
				c.Action = ActionAdopt
				c.Before = &Fields{Email: c.Before.Email, Owner: Str(""), SourceID: Str("")}
				c.After = &Fields{Email: Str("other@example.com"), Owner: Str("users"), SourceID: Str("sid-a")}
				p.Changes = append(p.Changes, c)
			}, true},
		{"deactivation of a present user", "source_mismatch", "alice is present and enabled in the directory",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "user.alice", Action: ActionDeactivate, Key: "alice", TargetID: "id-a", SourceID: "sid-a",
					Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}})
			}, false},
		{"reactivation of a disabled user", "source_mismatch", "dave is disabled in the directory",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				for i, c := range p.Changes {
					if c.Address == "user.dave" {
						p.Changes = append(p.Changes[:i], p.Changes[i+1:]...)
						break
					}
				}
				w.target.accounts["id-d"].Active = false
				p.Changes = append(p.Changes, Change{Address: "user.dave", Action: ActionReactivate, Key: "dave", TargetID: "id-d", SourceID: "sid-d",
					Before: &Fields{IsActive: Bool(false)}, After: &Fields{IsActive: Bool(true)}})
			}, false},
		{"backdoor create", "source_mismatch", `no directory entry maps to user "mallory"`,
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "user.mallory", Action: ActionCreate, Key: "mallory", TargetID: "id-new",
					After: &Fields{Username: Str("mallory"), Email: Str("m@evil.test"), FirstName: Str("M"), LastName: Str("M"), IsActive: Bool(true), Owner: Str("users"), SourceID: Str("")}})
			}, false},
		{"limits counted again", "blocked", "2 deactivations exceed max_deactivations = 1",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				req.Policy.MaxDeactivations = Limit{Raw: "1", Count: 1}
			}, true},
		{"an adopt relabelled as a handover still counts", "blocked", "3 updates exceed max_updates = 2",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				req.Policy.MaxUpdates = Limit{Raw: "2", Count: 2}
				changeAt(t, p, ActionAdopt, "user.frank").Reason = ReasonPreviousName
			}, true},
		{"group creation where create_groups = false", "invalid", "create_groups = false",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				w.target.noGroups = true
				p.Changes = append(p.Changes, Change{Address: "group.Admins", Action: ActionCreateGroup, TargetID: "id-g-new", Group: "Admins"})
			}, true},
		{"group creation reusing an account's id", "identity_mismatch", "target_id id-a is already an account's",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "group.Admins", Action: ActionCreateGroup, TargetID: "id-a", Group: "Admins"})
			}, true},
		{"group name with an invisible character", "invalid", "group contains U+200B ZERO WIDTH SPACE",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "group.Admins\u200b", Action: ActionCreateGroup, TargetID: "id-g-new", Group: "Admins\u200b"})
			}, true},
		{"hostile username written without the directory check", "invalid", "username contains U+001B ESCAPE",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				p.Changes = append(p.Changes, Change{Address: "user.bob\x1b[31m", Action: ActionCreate, Key: "bob\x1b[31m", TargetID: "id-new",
					After: &Fields{Username: Str("bob\x1b[31m"), Email: Str("m@evil.test"), FirstName: Str("M"), LastName: Str("M"), IsActive: Bool(true), Owner: Str("users"), SourceID: Str("")}})
			}, true},
		{"a name with a control character written without the directory check", "invalid", "last_name holds",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) {
				c := changeAt(t, p, ActionUpdate, "user.alice")
				c.Before.LastName, c.After.LastName = Str("Smith"), Str("M\n")
			}, true},
		{"summary that does not count the changes", "invalid", "summary does not count its changes",
			func(t *testing.T, w *world, p *Plan, req *ApplyRequest) { p.Summary.Create++ }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			p := w.plan(t, clock)
			req := w.applyReq(p)
			req.VerifySource = !tc.noSource
			tc.edit(t, w, p, &req)
			if tc.reason != "invalid" || !strings.Contains(tc.msg, "summary") {
				recount(p)
			}
			w.state.saves = 0
			requireRefusal(t, w, req, tc.reason, tc.msg)
		})
	}
	t.Run("control: the plan as made applies", func(t *testing.T) {
		w := newWorld()
		p := w.plan(t, clock)
		rep, err := Apply(context.Background(), w.applyReq(p))
		if err != nil || !rep.Complete || rep.Executed.Total() != len(p.Changes) || !rep.SourceVerified {
			t.Fatalf("apply: %v %+v", err, rep)
		}
	})
}

// TestDoneChangeDoesNotPoisonManagedGroups: a membership addition that is
// "already done" (the user is in the group) writes nothing and must not
// make the group managed either, or the next honest plan would remove
// every other member of a group the configuration never maps.
func TestDoneChangeDoesNotPoisonManagedGroups(t *testing.T) {
	w := newWorld()
	w.target.accounts["id-a"].Groups = []string{"Admins", "Artists", "Leads"}
	w.target.accounts["id-a"].Memberships["Admins"] = "m-admins-a"
	w.target.accounts["id-c"].Groups = []string{"Admins", "Artists"}
	w.target.accounts["id-c"].Memberships["Admins"] = "m-admins-c"
	p := w.plan(t, clock)
	p.Changes = append(p.Changes, Change{Address: "membership.alice.Admins", Action: ActionAddMembership, Reason: "group_in_directory",
		Key: "alice", TargetID: "id-a", SourceID: "sid-a", Group: "Admins"})
	recount(p)
	rep, err := Apply(context.Background(), w.applyReq(p))
	if err != nil || rep.AlreadyDone.AddMembership != 1 {
		t.Fatalf("apply: %v %+v", err, rep)
	}
	la, _ := w.state.Load()
	if slices.Contains(la.ManagedGroups, "Admins") {
		t.Fatalf("a change that was not executed made Admins managed: %v", la.ManagedGroups)
	}
	for _, c := range w.plan(t, clock.Add(2*time.Minute)).Changes {
		if c.Group == "Admins" {
			t.Fatalf("the next plan touches Admins: %s", ChangeID(c))
		}
	}
}

// TestPartOfABlockedPlanIsBlocked: leaving changes out of a blocked plan
// does not get the rest past the limits, which also hold for what the
// directory gives now.
func TestPartOfABlockedPlanIsBlocked(t *testing.T) {
	w := newWorld()
	w.policy.MaxDeactivations = Limit{Raw: "1", Count: 1}
	p := w.plan(t, clock)
	if !p.IsBlocked() {
		t.Fatal("test setup: the plan is not blocked")
	}
	p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.Action == ActionDeactivate && c.Key == "dave" })
	p.Blocked = nil
	recount(p)
	_, err := Apply(context.Background(), w.applyReq(p))
	if refusalReason(err) != "blocked" || !strings.Contains(err.Error(), "with the directory as it is now, 2 deactivations exceed max_deactivations = 1") {
		t.Fatalf("want blocked, got %v", err)
	}
	if w.target.calls != 0 {
		t.Fatalf("%d Execute calls", w.target.calls)
	}
}

// TestAddressesWithDotsAreNotConfused: "membership.anna.lee.Artists" is
// anna.lee in Artists or anna in lee.Artists; changes are identified by
// key and group, never by the address alone.
func TestAddressesWithDotsAreNotConfused(t *testing.T) {
	w := newWorld()
	w.src.entries = append(w.src.entries,
		entry("anna", "anna@example.com", "Anna", "A", "sid-anna"),
		entry("anna.lee", "annalee@example.com", "Anna", "Lee", "sid-annalee", "groups=Artists"))
	p := w.plan(t, clock)
	var annaID string
	for _, c := range p.Changes {
		if c.Action == ActionCreate && c.Key == "anna" {
			annaID = c.TargetID
		}
	}
	p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.Address == "membership.anna.lee.Artists" })
	p.Changes = append(p.Changes, Change{Address: "membership.anna.lee.Artists", Action: ActionAddMembership, Reason: "group_in_directory",
		Key: "anna", TargetID: annaID, SourceID: "sid-annalee", Group: "lee.Artists"})
	recount(p)
	if _, err := Apply(context.Background(), w.applyReq(p)); refusalReason(err) != "source_mismatch" || w.target.calls != 0 {
		t.Fatalf("want source_mismatch before any write, got %v (%d calls)", err, w.target.calls)
	}
}

// TestPartOfABlankingPlanIsBlocked: leaving most blanking updates out of
// a plan blocked for blanking a field does not get the rest through.
func TestPartOfABlankingPlanIsBlocked(t *testing.T) {
	src, tgt := ownedWorld(10, 10)
	for i := range src[0].(*fakeSource).entries {
		delete(src[0].(*fakeSource).entries[i].Attrs, "givenName")
	}
	w := &world{src: src[0].(*fakeSource), mapper: &fakeMapper{name: "users"}, target: tgt, state: newMemState("lineage-1"), policy: DefaultPolicy(), ids: seqID()}
	p := w.plan(t, clock)
	if !p.IsBlocked() {
		t.Fatal("test setup: not blocked")
	}
	p.Changes, p.Blocked = p.Changes[:3], nil
	recount(p)
	w.state.saves = 0
	requireRefusal(t, w, w.applyReq(p), "blocked", "with the directory as it is now, first_name would be blanked on 10 managed users")
}
