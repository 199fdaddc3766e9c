package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// world is a directory, an ftrack and a state, for apply tests.
type world struct {
	src    *fakeSource
	mapper Mapper
	target *fakeTarget
	state  *memState
	policy Policy
	ids    func() string
}

func newWorld() *world {
	return &world{
		src: &fakeSource{name: "corp", entries: []Entry{
			entry("alice", "asmith@example.com", "Alice", "Smith", "sid-a", "groups=Artists"),
			entry("bob", "bob@example.com", "Bob", "Jones", "sid-b", "groups=Artists", "groups=Leads"),
			disabled(entry("dave", "dave@example.com", "Dave", "D", "sid-d", "groups=Artists")),
			entry("erin", "erin@example.com", "Erin", "E", "sid-e"),
			entry("frank", "frank@example.com", "Frank", "F", "sid-f"),
			entry("gina2", "gina@example.com", "Gina", "G", "sid-g"),
		}},
		mapper: &fakeMapper{name: "users", groups: true},
		target: newTarget(
			owned("id-a", "alice", "a.smith@old.example.com", "Alice", "Smith", "sid-a", "Artists", "Leads"),
			owned("id-c", "carol", "carol@example.com", "Carol", "C", "sid-c", "Artists"),
			owned("id-d", "dave", "dave@example.com", "Dave", "D", "sid-d", "Artists"),
			func() Account {
				a := owned("id-e", "erin", "erin@example.com", "Erin", "E", "sid-e")
				a.Active = false
				return a
			}(),
			Account{ID: "id-f", Username: "frank", Email: "frank@example.com", FirstName: "Frank", LastName: "F", Active: true},
			owned("id-g", "gina", "gina@example.com", "Gina", "G", "sid-g"),
			Account{ID: "id-z", Username: "zoe", Active: true},
		),
		state:  newMemState("lineage-1"),
		policy: DefaultPolicy(),
		ids:    seqID(),
	}
}

func (w *world) plan(t *testing.T, now time.Time) *Plan {
	t.Helper()
	prior, err := w.state.Load()
	if err != nil {
		t.Fatal(err)
	}
	req := planReq([]Source{w.src}, w.mapper, w.target, w.policy)
	req.LastApplied, req.Now, req.NewID = prior, now, w.ids
	p := mustPlan(t, req)
	if RecordMissing(prior, p.MissingSince) {
		if err := w.state.Save(prior); err != nil {
			t.Fatal(err)
		}
	}
	// Every plan goes through the file format, as in real use.
	return roundTrip(t, p)
}

// roundTrip writes p to the plan file format and reads it back.
func roundTrip(t *testing.T, p *Plan) *Plan {
	t.Helper()
	data, err := MarshalPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalPlan(data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func (w *world) applyReq(p *Plan) ApplyRequest {
	return ApplyRequest{Plan: p, Target: w.target, State: w.state, ConfigDigest: "sha256:cfg", Now: clock.Add(time.Minute),
		Policy: w.policy, Mapper: w.mapper, Sources: []Source{w.src}, VerifySource: true}
}

func TestApplyRefusals(t *testing.T) {
	cases := []struct {
		name   string
		reason string
		msg    string
		setup  func(w *world, p *Plan, req *ApplyRequest)
	}{
		{"format", "format_version", `"4.0"`, func(w *world, p *Plan, req *ApplyRequest) { p.FormatVersion = "4.0" }},
		{"blocked", "blocked", "3 deactivations exceed max_deactivations = 1", func(w *world, p *Plan, req *ApplyRequest) {
			p.Blocked = &Block{Reasons: []string{"3 deactivations exceed max_deactivations = 1"}}
		}},
		{"target", "target_mismatch", `ftrack "studio" at https://studio.example.test, but the configuration targets ftrack "studio" at https://other.example.test`,
			func(w *world, p *Plan, req *ApplyRequest) {
				w.target.info = TargetInfo{Type: "ftrack", Name: "studio", Endpoint: "https://other.example.test"}
			}},
		{"config", "config_changed", "plan: sha256:cfg, now: sha256:new", func(w *world, p *Plan, req *ApplyRequest) { req.ConfigDigest = "sha256:new" }},
		{"expired", "expired", "the plan expired at 2026-03-02T12:00:00Z", func(w *world, p *Plan, req *ApplyRequest) { req.Now = clock.Add(25 * time.Hour) }},
		{"state moved on", "state_mismatch", "the plan names no prior state", func(w *world, p *Plan, req *ApplyRequest) {
			la, _ := w.state.Load()
			la.Serial = 4
			_ = w.state.Save(la)
			w.state.saves = 0
			p.PriorState = nil
		}},
		{"state serial", "state_mismatch", "lineage lineage-1 serial 3", func(w *world, p *Plan, req *ApplyRequest) {
			la, _ := w.state.Load()
			la.Serial = 4
			_ = w.state.Save(la)
			w.state.saves = 0
			p.PriorState = &StateRef{Lineage: "lineage-1", Serial: 3}
		}},
		{"state lost", "state_mismatch", "there is no state in the state store: the plan was made against the state with lineage lineage-1 (serial 0)", func(w *world, p *Plan, req *ApplyRequest) {
			req.State = &memState{}
		}},
		{"no state then, a state now", "state_mismatch", "the plan was made when there was no state yet, and now there is one (lineage lineage-1 serial 0)", func(w *world, p *Plan, req *ApplyRequest) {
			p.PriorState = &StateRef{}
		}},
		{"no state then, edited serial", "invalid", "names no state lineage but serial 3", func(w *world, p *Plan, req *ApplyRequest) {
			req.State = &memState{}
			p.PriorState = &StateRef{Serial: 3}
		}},
		{"no state, directory not checked", "state_mismatch", "no state journal can tell whether it ran before", func(w *world, p *Plan, req *ApplyRequest) {
			req.State = &memState{}
			p.PriorState = &StateRef{}
			req.VerifySource = false
		}},
		{"stale", "stale", `user.alice email is now "alice@hand.example.com", plan expected "a.smith@old.example.com"`, func(w *world, p *Plan, req *ApplyRequest) {
			w.target.accounts["id-a"].Email = "alice@hand.example.com"
		}},
		{"stale deleted", "stale", "user.carol: account id-c no longer exists", func(w *world, p *Plan, req *ApplyRequest) {
			delete(w.target.accounts, "id-c")
		}},
		{"stale created by hand", "stale", "user.bob now exists in ftrack (id id-hand)", func(w *world, p *Plan, req *ApplyRequest) {
			w.target.accounts["id-hand"] = &Account{ID: "id-hand", Username: "Bob", Active: true}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			p := w.plan(t, clock)
			req := w.applyReq(p)
			w.state.saves = 0
			tc.setup(w, p, &req)
			requireRefusal(t, w, req, tc.reason, tc.msg)
		})
	}
	t.Run("already applied", func(t *testing.T) {
		w := newWorld()
		p := w.plan(t, clock)
		if _, err := Apply(context.Background(), w.applyReq(p)); err != nil {
			t.Fatal(err)
		}
		calls := w.target.calls
		_, err := Apply(context.Background(), w.applyReq(p))
		if refusalReason(err) != "already_applied" || !strings.Contains(err.Error(), p.PlanID) {
			t.Fatalf("second apply: %v", err)
		}
		if w.target.calls != calls {
			t.Fatalf("second apply executed changes")
		}
	})
	t.Run("forced block applies when confirmed", func(t *testing.T) {
		w := newWorld()
		w.policy.MaxCreates = Limit{Raw: "0", Count: 0}
		p := w.plan(t, clock)
		if !p.IsBlocked() {
			t.Fatal("test setup: the plan is not blocked")
		}
		p.Blocked.Overridden = true
		p.Policy.Override = Str("force")
		req := w.applyReq(p)
		if _, err := Apply(context.Background(), req); refusalReason(err) != "blocked" || w.target.calls != 0 {
			t.Fatalf("an unsigned plan's override without apply -force: %v (%d calls)", err, w.target.calls)
		}
		req.Force = true
		if _, err := Apply(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	})
}

// requireRefusal applies req and asserts a refusal with that reason and
// message fragment that wrote nothing: no report, no Execute call, no
// state save (counted from zero by the caller).
func requireRefusal(t *testing.T, w *world, req ApplyRequest, reason, msg string) {
	t.Helper()
	rep, err := Apply(context.Background(), req)
	if refusalReason(err) != reason {
		t.Fatalf("want refusal %s, got %v", reason, err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("message %q does not say %q", err, msg)
	}
	if rep != nil || w.target.calls != 0 || w.state.saves != 0 {
		t.Errorf("refusal wrote something: report=%v execute calls=%d state saves=%d", rep, w.target.calls, w.state.saves)
	}
}

func TestApplySafeOrder(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	req := w.applyReq(p)
	req.BatchSize = 2
	rep, err := Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var seq []Action
	for _, b := range w.target.batches {
		phase := -1
		for _, id := range b {
			a := Action(strings.Fields(id)[0])
			seq = append(seq, a)
			if phase >= 0 && actionPhase(a) != phase {
				t.Errorf("batch %v spans two phases", b)
			}
			phase = actionPhase(a)
		}
	}
	for i := 1; i < len(seq); i++ {
		if actionPhase(seq[i]) < actionPhase(seq[i-1]) {
			t.Fatalf("unsafe order: %v", seq)
		}
	}
	if seq[0] != ActionDeactivate || seq[len(seq)-1] != ActionAddMembership {
		t.Fatalf("order %v", seq)
	}
	if rep.Executed != rep.Planned || rep.Planned.Total() != len(p.Changes) || !rep.Complete {
		t.Fatalf("report %+v", rep)
	}
	la, _ := w.state.Load()
	if la.Serial != 1 || la.Lineage != "lineage-1" || la.Plans[p.PlanID].Status != PlanApplied {
		t.Fatalf("state after apply: serial %d lineage %s plan %+v", la.Serial, la.Lineage, la.Plans[p.PlanID])
	}
	if len(la.Plans[p.PlanID].Outcomes) != len(p.Changes) {
		t.Fatalf("journal has %d outcomes for %d changes", len(la.Plans[p.PlanID].Outcomes), len(p.Changes))
	}
	if u := la.Users["gina2"]; u.Username != "gina2" || u.TargetID != "id-g" {
		t.Fatalf("renamed user's record: %+v (users %v)", u, la.Users)
	}
	if _, old := la.Users["gina"]; old {
		t.Fatalf("old key of a renamed user kept")
	}
	if u := la.Users["bob"]; !u.Active || len(u.Groups) != 2 || u.Email != "bob@example.com" {
		t.Fatalf("created user's record: %+v", u)
	}
}

func TestApplyFailureIsolation(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	w.target.failAddr["user.alice"] = true
	w.target.failAddr["user.bob"] = true // a create: its memberships are not attempted
	var logged []string
	req := w.applyReq(p)
	req.Log = func(c Change, o Outcome, err error) {
		if (err != nil) != (o == OutcomeFailed || o == OutcomeNotAttempted) {
			t.Errorf("%s: outcome %s with error %v", c.Address, o, err)
		}
		if err != nil {
			logged = append(logged, c.Address)
		}
	}
	rep, err := Apply(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "4 of 10 changes failed") {
		t.Fatalf("err = %v", err)
	}
	if rep.Failed.Update != 1 || rep.Failed.Create != 1 || rep.Failed.AddMembership != 2 || rep.Executed.Total() != 6 || len(rep.Failures) != 4 {
		t.Fatalf("report %+v", rep)
	}
	if w.target.executed["add_membership membership.bob.Artists"] != 0 {
		t.Fatalf("membership of a user whose create failed was attempted")
	}
	if len(logged) != 4 {
		t.Fatalf("log saw failures %v", logged)
	}
	la, _ := w.state.Load()
	if la.Plans[p.PlanID].Status != PlanIncomplete {
		t.Fatalf("status %s", la.Plans[p.PlanID].Status)
	}
	// Fix the cause, re-run the same plan: only the failed ones run.
	w.target.failAddr = map[string]bool{}
	rep, err = Apply(context.Background(), w.applyReq(p))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Executed.Total() != 4 || rep.AlreadyDone.Total() != 6 || !rep.Complete {
		t.Fatalf("retry report %+v", rep)
	}
	for id, n := range w.target.executed {
		if n != 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
}

func TestApplyMaxErrors(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	for _, c := range p.Changes {
		w.target.failAddr[c.Address] = true
	}
	req := w.applyReq(p)
	req.MaxErrors, req.BatchSize = 1, 1
	rep, err := Apply(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "more than max_errors = 1") || !strings.Contains(err.Error(), "8 changes not attempted") {
		t.Fatalf("err = %v", err)
	}
	if rep.Failed.Total() != 2 || w.target.calls != 2 {
		t.Fatalf("failed %d, execute calls %d", rep.Failed.Total(), w.target.calls)
	}
}

func TestApplyResume(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	total := len(p.Changes)
	w.target.failAfter = 3 // the connection drops after 3 changes
	req := w.applyReq(p)
	req.BatchSize = 2
	rep, err := Apply(context.Background(), req)
	if err == nil || rep.Executed.Total() != 3 {
		t.Fatalf("first run: err=%v report=%+v", err, rep)
	}
	w.target.failAfter = 0
	rep, err = Apply(context.Background(), req)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if rep.Executed.Total() != total-3 || rep.AlreadyDone.Total() != 3 || rep.Planned.Total() != total {
		t.Fatalf("resume report %+v", rep)
	}
	if len(w.target.executed) != total {
		t.Fatalf("%d distinct changes executed, want %d", len(w.target.executed), total)
	}
	for id, n := range w.target.executed {
		if n != 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
	la, _ := w.state.Load()
	if la.Plans[p.PlanID].Status != PlanApplied || la.Serial != 2 {
		t.Fatalf("after resume: %+v serial %d", la.Plans[p.PlanID], la.Serial)
	}
	if _, err := Apply(context.Background(), req); refusalReason(err) != "already_applied" {
		t.Fatalf("third run: %v", err)
	}
}

// crashState fails every save after the first n, like a process killed
// between executing a batch and journaling it.
type crashState struct {
	*memState
	left int
}

func (s *crashState) Save(la *LastApplied) error {
	if s.left == 0 {
		return context.Canceled
	}
	s.left--
	return s.memState.Save(la)
}

func TestApplyResumeAfterCrash(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	req := w.applyReq(p)
	req.BatchSize = 4
	req.State = &crashState{memState: w.state, left: 1} // journal in-progress, then die after batch 1
	if _, err := Apply(context.Background(), req); err == nil {
		t.Fatal("want an error from the failed save")
	}
	done := len(w.target.executed)
	if done == 0 {
		t.Fatal("setup: nothing executed")
	}
	req.State = w.state
	rep, err := Apply(context.Background(), req)
	if err != nil {
		t.Fatalf("resume after crash: %v", err)
	}
	if rep.AlreadyDone.Total() != done || rep.Executed.Total() != len(p.Changes)-done {
		t.Fatalf("report %+v (done before crash %d)", rep, done)
	}
	for id, n := range w.target.executed {
		if n != 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
	la, _ := w.state.Load()
	if u := la.Users["carol"]; u.TargetID != "id-c" || u.Active {
		t.Fatalf("change done before the crash not recorded: %+v", u)
	}
}

func TestConvergence(t *testing.T) {
	w := newWorld()
	w.policy.GracePeriod = 48 * time.Hour
	now := clock
	step := func(name string) {
		t.Helper()
		p := w.plan(t, now)
		req := w.applyReq(p)
		req.Now = now
		if _, err := Apply(context.Background(), req); err != nil {
			t.Fatalf("%s: apply: %v", name, err)
		}
		again := w.plan(t, now)
		if len(again.Changes) != 0 {
			t.Fatalf("%s: plan after apply is not empty: %q", name, changeLines(again))
		}
	}
	step("initial")
	// carol was missing at the first plan, within the grace period.
	if w.target.accounts["id-c"].Active != true {
		t.Fatal("carol deactivated within the grace period")
	}
	// The directory moves on.
	w.src.entries[0] = entry("alice", "alice@example.com", "Alicia", "Smith", "sid-a", "groups=Leads")
	w.src.entries = append(w.src.entries[:1], w.src.entries[2:]...) // bob leaves
	w.src.entries = append(w.src.entries, entry("hank", "hank@example.com", "Hank", "H", "sid-h", "groups=Artists"))
	w.src.entries[2] = disabled(w.src.entries[2]) // erin disabled
	now = now.Add(49 * time.Hour)
	step("directory changed")
	if a := w.target.accounts["id-c"]; a.Active {
		t.Fatal("carol not deactivated after the grace period")
	}
	if a := w.target.accounts["id-a"]; a.FirstName != "Alicia" || strings.Join(a.Groups, ",") != "Leads" {
		t.Fatalf("alice %+v", a)
	}
	// bob is still within his grace period.
	var bob *Account
	for _, a := range w.target.accounts {
		if a.Username == "bob" {
			bob = a
		}
	}
	if bob == nil || !bob.Active {
		t.Fatalf("bob %+v", bob)
	}
	now = now.Add(49 * time.Hour)
	step("grace over")
	if bob.Active {
		t.Fatal("bob not deactivated after his grace period")
	}
	// bob comes back.
	w.src.entries = append(w.src.entries, entry("bob", "bob@example.com", "Bob", "Jones", "sid-b"))
	step("bob back")
	if !bob.Active {
		t.Fatal("bob not reactivated")
	}
	la, _ := w.state.Load()
	if len(la.Missing) != 0 {
		t.Fatalf("missing not cleared: %v", la.Missing)
	}
}

// TestGraceClockRecordedByApply: apply records the grace clock it
// observed itself, never the plan's claim (a plan's missing_since is
// untrusted: an earlier time would shorten the grace period).
func TestGraceClockRecordedByApply(t *testing.T) {
	w := newWorld()
	w.policy.GracePeriod = 24 * time.Hour
	prior, _ := w.state.Load()
	req := planReq([]Source{w.src}, w.mapper, w.target, w.policy)
	req.LastApplied = prior
	p := mustPlan(t, req) // the caller does not call RecordMissing
	p.MissingSince["carol"] = clock.Add(-30 * 24 * time.Hour)
	ar := w.applyReq(p)
	if _, err := Apply(context.Background(), ar); err != nil {
		t.Fatal(err)
	}
	la, _ := w.state.Load()
	if got := la.Missing["carol"]; !got.Equal(ar.Now) {
		t.Fatalf("apply did not record the grace clock it observed (%v): %v", ar.Now, la.Missing)
	}
	// A day later the next plan deactivates carol.
	req = planReq([]Source{w.src}, w.mapper, w.target, w.policy)
	req.LastApplied, req.Now = la, clock.Add(25*time.Hour)
	p = mustPlan(t, req)
	if got := changeLines(p); len(got) != 1 || got[0] != "deactivate user.carol" {
		t.Fatalf("after the grace period: %q", got)
	}
}

// TestLastMemberLeavingAGroupRemovesItsMemberships: a group ldapsync added
// members to stays managed after no directory user maps to it any more, so
// the leftover ftrack memberships are removed, not kept forever.
func TestLastMemberLeavingAGroupRemovesItsMemberships(t *testing.T) {
	src := &fakeSource{name: "corp", entries: []Entry{
		entry("alice", "alice@example.com", "Alice", "A", "sid-a", "groups=Artists", "groups=Comp"),
		entry("bob", "bob@example.com", "Bob", "B", "sid-b", "groups=Artists"),
	}}
	target := newTarget(Account{ID: "id-z", Username: "zoe", Active: true, Groups: []string{"Comp"}})
	state := newMemState("lineage-1")
	mapper := &fakeMapper{name: "users", groups: true}
	ids := seqID()
	run := func() *Plan {
		t.Helper()
		prior, _ := state.Load()
		req := planReq([]Source{src}, mapper, target, DefaultPolicy())
		req.LastApplied = prior
		req.NewID = ids
		p := mustPlan(t, req)
		if _, err := Apply(context.Background(), ApplyRequest{Plan: p, Target: target, State: state, ConfigDigest: "sha256:cfg", Now: clock,
			Policy: DefaultPolicy(), Mapper: mapper, Sources: []Source{src}, VerifySource: true}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		return p
	}
	run()
	if la, _ := state.Load(); strings.Join(la.ManagedGroups, ",") != "Artists,Comp" {
		t.Fatalf("managed groups recorded = %v", la.ManagedGroups)
	}
	// alice leaves the Comp group; nobody in the directory maps to it now.
	src.entries[0] = entry("alice", "alice@example.com", "Alice", "A", "sid-a", "groups=Artists")
	p := run()
	if got := strings.Join(changeLines(p), "; "); got != "remove_membership membership.alice.Comp" {
		t.Fatalf("changes = %q, want alice's Comp membership removed", got)
	}
	for _, a := range target.accounts {
		if a.Username == "zoe" && strings.Join(a.Groups, ",") != "Comp" {
			t.Fatalf("an unowned user's membership was touched: %v", a.Groups)
		}
	}
}

// concurrentTarget lets apply pipeline its batches over a fakeTarget and
// records every conflict it sees: two Execute calls running at once that
// touch the same user or different phases.
type concurrentTarget struct {
	*fakeTarget
	mu        sync.Mutex
	running   map[int][]Change
	next      int
	overlaps  int
	conflicts []string
}

func (t *concurrentTarget) Capabilities() TargetCapabilities {
	return TargetCapabilities{ConcurrentExecute: true}
}

func (t *concurrentTarget) Execute(ctx context.Context, changes []Change) []Result {
	t.mu.Lock()
	id := t.next
	t.next++
	for _, other := range t.running {
		t.overlaps++
		for _, a := range other {
			for _, b := range changes {
				if a.TargetID == b.TargetID {
					t.conflicts = append(t.conflicts, "same user: "+ChangeID(a)+" and "+ChangeID(b))
				}
				if actionPhase(a.Action) != actionPhase(b.Action) {
					t.conflicts = append(t.conflicts, "two phases: "+ChangeID(a)+" and "+ChangeID(b))
				}
			}
		}
	}
	t.running[id] = changes
	t.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // give the next batch a chance to start
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, id)
	return t.fakeTarget.Execute(ctx, changes)
}

// TestApplyPipelined runs apply against a target that allows concurrent
// Execute calls: the outcome, the journal and the safety rules are those
// of the sequential apply.
func TestApplyPipelined(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	ct := &concurrentTarget{fakeTarget: w.target, running: map[int][]Change{}}
	req := w.applyReq(p)
	req.Target, req.BatchSize = ct, 1
	rep, err := Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct.conflicts) > 0 {
		t.Fatalf("concurrent batches conflict: %v", ct.conflicts)
	}
	t.Logf("%d overlapping Execute calls", ct.overlaps)
	if rep.Executed != rep.Planned || !rep.Complete {
		t.Fatalf("report %+v", rep)
	}
	for id, n := range w.target.executed {
		if n != 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
	la, _ := w.state.Load()
	if la.Plans[p.PlanID].Status != PlanApplied || len(la.Plans[p.PlanID].Outcomes) != len(p.Changes) {
		t.Fatalf("journal %+v", la.Plans[p.PlanID])
	}
	if u := la.Users["bob"]; !u.Active || len(u.Groups) != 2 {
		t.Fatalf("created user's record: %+v", u)
	}
	if again := w.plan(t, clock.Add(time.Minute)); len(again.Changes) != 0 {
		t.Fatalf("plan after apply is not empty: %q", changeLines(again))
	}

	// With failures: a failed create's memberships are not attempted and
	// max_errors stops after the same changes as without pipelining.
	w = newWorld()
	p = w.plan(t, clock)
	for _, c := range p.Changes {
		w.target.failAddr[c.Address] = true
	}
	ct = &concurrentTarget{fakeTarget: w.target, running: map[int][]Change{}}
	req = w.applyReq(p)
	req.Target, req.MaxErrors, req.BatchSize = ct, 1, 1
	rep, err = Apply(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "more than max_errors = 1") {
		t.Fatalf("err = %v", err)
	}
	if rep.Failed.Total() != 2 || w.target.calls != 2 || len(ct.conflicts) > 0 {
		t.Fatalf("failed %d, execute calls %d, conflicts %v", rep.Failed.Total(), w.target.calls, ct.conflicts)
	}
}
