package engine

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDiffTable(t *testing.T) {
	alice := entry("alice", "alice@example.com", "Alice", "Smith", "sid-a")
	bob := entry("bob", "bob@example.com", "Bob", "Jones", "sid-b")
	aliceAcct := owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a")
	bobAcct := owned("id-b", "bob", "bob@example.com", "Bob", "Jones", "sid-b")
	def := DefaultPolicy()
	with := func(f func(*Policy)) Policy { p := DefaultPolicy(); f(&p); return p }

	cases := []struct {
		name      string
		entries   []Entry
		accounts  []Account
		policy    Policy
		mapper    Mapper
		prior     *LastApplied
		want      []string
		warnings  []string // substrings that must appear in some warning
		unmanaged []string
		skipped   int
		unchanged int
		check     func(t *testing.T, p *Plan)
	}{
		{name: "create", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct}, policy: def,
			want: []string{"create user.bob"}, unchanged: 1,
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.TargetID == "" || *c.After.Owner != "users" || *c.After.SourceID != "sid-b" || !*c.After.IsActive || *c.After.Email != "bob@example.com" {
					t.Errorf("create change incomplete: %+v", c.After)
				}
			}},
		{name: "update email", entries: []Entry{entry("alice", "asmith@example.com", "Alice", "Smith", "sid-a")}, accounts: []Account{aliceAcct}, policy: def,
			want: []string{"update user.alice"},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.Reason != "attributes_differ" || *c.Before.Email != "alice@example.com" || *c.After.Email != "asmith@example.com" || c.Before.FirstName != nil {
					t.Errorf("update: %+v before=%+v after=%+v", c, c.Before, c.After)
				}
			}},
		{name: "deactivate missing", entries: []Entry{alice}, accounts: []Account{aliceAcct, bobAcct}, policy: def,
			want: []string{"deactivate user.bob"}, unchanged: 1,
			check: func(t *testing.T, p *Plan) {
				if p.Changes[0].Reason != "missing_from_directory" {
					t.Errorf("reason %q", p.Changes[0].Reason)
				}
			}},
		{name: "on_missing ignore", entries: []Entry{alice}, accounts: []Account{aliceAcct, bobAcct}, policy: with(func(p *Policy) { p.OnMissing = "ignore" }),
			want: []string{}, unchanged: 1},
		{name: "grace period not over", entries: []Entry{alice}, accounts: []Account{aliceAcct, bobAcct},
			policy: with(func(p *Policy) { p.GracePeriod = 72 * time.Hour }),
			prior:  &LastApplied{Lineage: "l", Missing: map[string]time.Time{"bob": clock.Add(-24 * time.Hour)}},
			want:   []string{}, unchanged: 1, warnings: []string{"user.bob missing from the directory since 2026-02-28T12:00:00Z; deactivation after 2026-03-03T12:00:00Z"},
			check: func(t *testing.T, p *Plan) {
				if got := p.MissingSince["bob"]; !got.Equal(clock.Add(-24 * time.Hour)) {
					t.Errorf("first missing kept: %v", got)
				}
			}},
		{name: "grace period first seen now", entries: []Entry{alice}, accounts: []Account{aliceAcct, bobAcct},
			policy: with(func(p *Policy) { p.GracePeriod = 72 * time.Hour }),
			want:   []string{}, unchanged: 1, warnings: []string{"since 2026-03-01T12:00:00Z"},
			check: func(t *testing.T, p *Plan) {
				if got := p.MissingSince["bob"]; !got.Equal(clock) {
					t.Errorf("first missing: %v", got)
				}
			}},
		{name: "grace period over", entries: []Entry{alice}, accounts: []Account{aliceAcct, bobAcct},
			policy: with(func(p *Policy) { p.GracePeriod = 72 * time.Hour }),
			prior:  &LastApplied{Lineage: "l", Missing: map[string]time.Time{"bob": clock.Add(-73 * time.Hour)}},
			want:   []string{"deactivate user.bob"}, unchanged: 1},
		{name: "disabled in directory", entries: []Entry{alice, disabled(bob)}, accounts: []Account{aliceAcct, bobAcct}, policy: def,
			want: []string{"deactivate user.bob"}, unchanged: 1,
			check: func(t *testing.T, p *Plan) {
				if p.Changes[0].Reason != ReasonDisabledInDirectory || p.Changes[0].Why() != "disabled_in_directory: pwdAccountLockedTime is set" {
					t.Errorf("reason %q", p.Changes[0].Why())
				}
			}},
		{name: "disabled on_disabled ignore", entries: []Entry{alice, disabled(bob)}, accounts: []Account{aliceAcct, bobAcct},
			policy: with(func(p *Policy) { p.OnDisabled = "ignore" }), want: []string{}, unchanged: 2},
		{name: "disabled never created", entries: []Entry{alice, disabled(bob)}, accounts: []Account{aliceAcct}, policy: def,
			want: []string{}, unchanged: 2},
		{name: "reactivate", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct, func() Account { a := bobAcct; a.Active = false; return a }()},
			policy: def, want: []string{"reactivate user.bob"}, unchanged: 1},
		{name: "reactivate off", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct, func() Account { a := bobAcct; a.Active = false; return a }()},
			policy: with(func(p *Policy) { p.Reactivate = false }), want: []string{}, unchanged: 2},
		{name: "adopt", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct, {ID: "id-b", Username: "Bob", Email: "bob@old.example.com", FirstName: "Bob", LastName: "Jones", Active: true}},
			policy: def, want: []string{"adopt user.bob"}, unchanged: 1,
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if *c.Before.Owner != "" || *c.After.Owner != "users" || *c.After.SourceID != "sid-b" || *c.After.Email != "bob@example.com" || *c.After.Username != "bob" {
					t.Errorf("adopt: before=%+v after=%+v", c.Before, c.After)
				}
			}},
		{name: "adopt_existing false", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct, {ID: "id-b", Username: "bob", Active: true}},
			policy: with(func(p *Policy) { p.AdoptExisting = false }), want: []string{}, unchanged: 1,
			warnings: []string{"user.bob exists in ftrack without the ldapsync marker and adopt_existing = false"}, unmanaged: []string{"bob"}},
		{name: "other owner untouched", entries: []Entry{alice, bob}, accounts: []Account{aliceAcct, {ID: "id-b", Username: "bob", Active: true, Owner: "contractors"}},
			policy: def, want: []string{}, unchanged: 1, warnings: []string{`user.bob is owned by mapping "contractors"`}},
		{name: "rename by stable id", entries: []Entry{entry("alice2", "alice@example.com", "Alice", "Smith", "sid-a")}, accounts: []Account{aliceAcct},
			policy: def, want: []string{"update user.alice2"},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.TargetID != "id-a" || *c.Before.Username != "alice" || *c.After.Username != "alice2" || c.Reason != "renamed_in_directory" {
					t.Errorf("rename: %+v %+v %+v", c, c.Before, c.After)
				}
			}},
		{name: "protect", entries: []Entry{entry("admin", "admin@example.com", "A", "D", "sid-x"), alice},
			accounts: []Account{aliceAcct, owned("id-s", "svc-render", "x@example.com", "S", "R", "sid-s"), {ID: "id-adm", Username: "Admin", Active: true}},
			policy:   with(func(p *Policy) { p.Protect = []string{"ADMIN", "re:^svc-"} }), want: []string{}, unchanged: 1,
			warnings: []string{`user.admin is protected by policy.protect "ADMIN"`, `user.svc-render is protected by policy.protect "re:^svc-"`},
			check: func(t *testing.T, p *Plan) {
				if len(p.Unmanaged) != 0 {
					t.Errorf("protected account listed as unmanaged: %v", p.Unmanaged)
				}
			}},
		{name: "unowned untouched", entries: []Entry{alice}, accounts: []Account{aliceAcct, {ID: "id-z", Username: "zed", Active: true}, {ID: "id-y", Username: "yan", Active: false}},
			policy: def, want: []string{}, unchanged: 1, unmanaged: []string{"zed"}},
		{name: "duplicates skipped, owned account kept", entries: []Entry{alice, entry("bob", "b1@example.com", "B", "1", "sid-b1"), entry("BOB", "b2@example.com", "B", "2", "sid-b2")},
			accounts: []Account{aliceAcct, bobAcct}, policy: def, want: []string{}, skipped: 2, unchanged: 1,
			warnings: []string{"user.bob: directory entries for this username were skipped"}},
		{name: "mapping error keeps owned account", entries: []Entry{alice, entry("bob", "", "Bob", "Jones", "sid-b")},
			accounts: []Account{aliceAcct, bobAcct}, policy: def, want: []string{}, skipped: 1, unchanged: 1,
			warnings: []string{"user.bob: its directory entry uid=bob,ou=users,dc=example,dc=com could not be mapped"}},
		{name: "memberships", mapper: &fakeMapper{name: "users", groups: true},
			entries:  []Entry{entry("alice", "alice@example.com", "Alice", "Smith", "sid-a", "groups=Artists", "groups=Leads"), entry("bob", "bob@example.com", "Bob", "Jones", "sid-b", "groups=Artists")},
			accounts: []Account{owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a", "Artists", "Admins"), owned("id-b", "bob", "bob@example.com", "Bob", "Jones", "sid-b", "Artists", "Leads")},
			policy:   def, want: []string{"remove_membership membership.bob.Leads", "add_membership membership.alice.Leads"},
			check: func(t *testing.T, p *Plan) {
				if p.Changes[0].MembershipID != "m-id-b-Leads" {
					t.Errorf("membership id %q", p.Changes[0].MembershipID)
				}
			}},
		{name: "create with groups", mapper: &fakeMapper{name: "users", groups: true},
			entries: []Entry{entry("carol", "carol@example.com", "Carol", "C", "sid-c", "groups=Artists")},
			policy:  def, want: []string{"create user.carol", "create_group group.Artists", "add_membership membership.carol.Artists"},
			check: func(t *testing.T, p *Plan) {
				if p.Changes[0].TargetID != p.Changes[2].TargetID {
					t.Errorf("membership of a new user must use the planned id")
				}
				if g := p.Changes[1]; g.Group != "Artists" || g.TargetID == "" || g.Key != "" || p.Summary.CreateGroup != 1 {
					t.Errorf("group creation %+v, summary %+v", g, p.Summary)
				}
			}},
		{name: "conflict across sources", entries: []Entry{alice, bob, func() Entry {
			e := entry("bob", "bob@b.example.com", "Bob", "B", "sid-other")
			e.Source = "branch"
			return e
		}()},
			accounts: []Account{aliceAcct, bobAcct}, policy: def, want: []string{}, unchanged: 1, skipped: 0,
			check: func(t *testing.T, p *Plan) {
				if len(p.Conflicts) != 1 || p.Conflicts[0].Key != "bob" || len(p.Conflicts[0].Entries) != 2 || p.Summary.Conflicts != 2 {
					t.Errorf("conflicts: %+v", p.Conflicts)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.mapper
			if m == nil {
				m = &fakeMapper{name: "users"}
			}
			req := planReq([]Source{&fakeSource{name: "corp", entries: tc.entries}}, m, newTarget(tc.accounts...), tc.policy)
			req.LastApplied = tc.prior
			p := mustPlan(t, req)
			if got := changeLines(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tc.want)
			}
			for _, w := range tc.warnings {
				found := false
				for _, pw := range p.Warnings {
					found = found || strings.Contains(pw, w)
				}
				if !found {
					t.Errorf("no warning containing %q in %q", w, p.Warnings)
				}
			}
			if tc.unmanaged == nil {
				tc.unmanaged = []string{}
			}
			if !reflect.DeepEqual(p.Unmanaged, tc.unmanaged) {
				t.Errorf("unmanaged %q, want %q", p.Unmanaged, tc.unmanaged)
			}
			if p.Summary.Skipped != tc.skipped {
				t.Errorf("skipped %d, want %d (%+v)", p.Summary.Skipped, tc.skipped, p.Skipped)
			}
			if p.Summary.Unchanged != tc.unchanged {
				t.Errorf("unchanged %d, want %d", p.Summary.Unchanged, tc.unchanged)
			}
			if p.Summary.Total() != len(p.Changes) {
				t.Errorf("summary %+v does not count %d changes", p.Summary, len(p.Changes))
			}
			if tc.check != nil && len(p.Changes) == len(tc.want) {
				tc.check(t, p)
			}
		})
	}
}

func TestMinSourceUsers(t *testing.T) {
	tgt := newTarget(owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a"))
	_, err := BuildPlan(context.Background(), planReq([]Source{&fakeSource{name: "corp"}}, &fakeMapper{name: "users"}, tgt, DefaultPolicy()))
	if err == nil || !strings.Contains(err.Error(), `source "corp" returned no entries; refusing to plan`) {
		t.Fatalf("empty directory: err = %v", err)
	}
	// One of two sources answers empty: the total passes min_source_users,
	// but the empty source must not read as "everyone in it left".
	twoSources := []Source{&fakeSource{name: "staff", entries: []Entry{entry("alice", "alice@example.com", "Alice", "Smith", "sid-a")}}, &fakeSource{name: "freelance"}}
	_, err = BuildPlan(context.Background(), planReq(twoSources, &fakeMapper{name: "users"}, tgt, DefaultPolicy()))
	if err == nil || !strings.Contains(err.Error(), `source "freelance" returned no entries`) {
		t.Fatalf("one empty source of two: err = %v", err)
	}
	pol := DefaultPolicy()
	pol.MinSourceUsers = 3
	src := []Source{&fakeSource{name: "a", entries: []Entry{entry("x", "x@e", "X", "X", "1")}}, &fakeSource{name: "b", entries: []Entry{entry("y", "y@e", "Y", "Y", "2")}}}
	_, err = BuildPlan(context.Background(), planReq(src, &fakeMapper{name: "users"}, tgt, pol))
	if err == nil || !strings.Contains(err.Error(), "only 2 users") || !strings.Contains(err.Error(), "min_source_users = 3") {
		t.Fatalf("2 users across sources, min 3: err = %v", err)
	}
	pol.MinSourceUsers = 2
	if _, err := BuildPlan(context.Background(), planReq(src, &fakeMapper{name: "users"}, tgt, pol)); err != nil {
		t.Fatalf("2 users across sources, min 2: %v", err)
	}
}

func TestLimits(t *testing.T) {
	var entries []Entry
	var accts []Account
	for i := range 20 {
		id := string(rune('a'+i)) + "user"
		accts = append(accts, owned("id-"+id, id, id+"@example.com", "F", "L", "sid-"+id))
		if i < 17 {
			entries = append(entries, entry(id, id+"@example.com", "F", "L", "sid-"+id))
		}
	}
	pol := DefaultPolicy()
	pol.MaxDeactivations, _ = ParseLimit("10%")
	p := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: entries}}, &fakeMapper{name: "users"}, newTarget(accts...), pol))
	if !p.IsBlocked() || len(p.Blocked.Reasons) != 1 || p.Blocked.Reasons[0] != "3 deactivations exceed max_deactivations = 10% (2 of 20 managed users)" {
		t.Fatalf("blocked = %+v", p.Blocked)
	}
	if p.Summary.Deactivate != 3 {
		t.Fatalf("the blocked plan still lists its changes: %+v", p.Summary)
	}
	req := planReq([]Source{&fakeSource{name: "corp", entries: entries}}, &fakeMapper{name: "users"}, newTarget(accts...), pol)
	req.Force = true
	p = mustPlan(t, req)
	if p.IsBlocked() || p.Blocked == nil || !p.Blocked.Overridden || p.Policy.Override == nil {
		t.Fatalf("forced plan: blocked=%+v override=%v", p.Blocked, p.Policy.Override)
	}
	pol.MaxDeactivations, _ = ParseLimit("3")
	pol.MaxCreates, _ = ParseLimit("0")
	p = mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: append(entries, entry("new", "n@example.com", "N", "N", "sid-n"))}}, &fakeMapper{name: "users"}, newTarget(accts...), pol))
	if !p.IsBlocked() || len(p.Blocked.Reasons) != 1 || p.Blocked.Reasons[0] != "1 create exceeds max_creates = 0" {
		t.Fatalf("count limits: %+v", p.Blocked)
	}
	for _, bad := range []string{"x", "-1", "120%", "NaN%", "nan%"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) accepted", bad)
		}
	}
}

func TestSourceSummaryDigest(t *testing.T) {
	e1 := []Entry{entry("alice", "alice@example.com", "Alice", "Smith", "sid-a"), entry("bob", "bob@example.com", "Bob", "Jones", "sid-b")}
	e2 := []Entry{e1[1], e1[0]} // server order does not matter
	p1 := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: e1}}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	p2 := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: e2}}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	if p1.Sources[0].Digest != p2.Sources[0].Digest || p1.Sources[0].Entries != 2 {
		t.Fatalf("digest depends on order: %+v %+v", p1.Sources, p2.Sources)
	}
	e3 := []Entry{e1[0], entry("bob", "bob@new.example.com", "Bob", "Jones", "sid-b")}
	p3 := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: e3}}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	if p3.Sources[0].Digest == p1.Sources[0].Digest {
		t.Fatalf("digest ignores a changed email")
	}
}

// TestDuplicateFtrackAccounts: two ftrack accounts with one username are
// never changed, reported once, and still count toward the limits' base.
func TestDuplicateFtrackAccounts(t *testing.T) {
	tgt := newTarget(
		owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a"),
		owned("id-b", "bob", "bob@example.com", "Bob", "Jones", "sid-b"),
		owned("id-d1", "dup", "dup@example.com", "D", "One", "sid-d1"),
		owned("id-d2", "DUP", "dup2@example.com", "D", "Two", "sid-d2"),
	)
	pol := DefaultPolicy()
	pol.MaxDeactivations, _ = ParseLimit("20%")
	src := []Source{&fakeSource{name: "corp", entries: []Entry{entry("alice", "alice@example.com", "Alice", "Smith", "sid-a")}}}
	p := mustPlan(t, planReq(src, &fakeMapper{name: "users"}, tgt, pol))
	if got := strings.Join(changeLines(p), "; "); got != "deactivate user.bob" {
		t.Fatalf("changes = %q, want only bob deactivated", got)
	}
	n := 0
	for _, w := range p.Warnings {
		if strings.Contains(w, "user.dup") {
			n++
			if !strings.Contains(w, "more than one account") {
				t.Errorf("misleading warning for the duplicate accounts: %q", w)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d warnings about user.dup, want exactly one: %q", n, p.Warnings)
	}
	if p.Blocked == nil || len(p.Blocked.Reasons) != 1 || !strings.Contains(p.Blocked.Reasons[0], "of 4 managed users") {
		t.Errorf("limit base must count all 4 owned accounts: %+v", p.Blocked)
	}
}
