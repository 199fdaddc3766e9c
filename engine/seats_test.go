package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// seatTarget is a fakeTarget with licence seats: an activation (create,
// reactivate) when every seat is taken fails with ErrNoSeats, as
// ftrack's LicenseError does; every active account holds one.
type seatTarget struct {
	*fakeTarget
	seats   int
	refused []string
}

func (t *seatTarget) active() int {
	n := 0
	for _, a := range t.accounts {
		if a.Active {
			n++
		}
	}
	return n
}

func (t *seatTarget) Execute(ctx context.Context, changes []Change) []Result {
	res := make([]Result, len(changes))
	for i, c := range changes {
		if isActivation(c.Action) && t.active() >= t.seats {
			t.refused = append(t.refused, c.Address)
			res[i] = Result{Address: c.Address, Err: fmt.Errorf("%s: LicenseError: No user licence free: %d of %d seats are in use: %w", c.Address, t.active(), t.seats, ErrNoSeats)}
			continue
		}
		res[i] = t.fakeTarget.Execute(ctx, []Change{c})[0]
	}
	return res
}

// seatWorld is newWorld with two more directory users (hank in a group):
// 6 accounts active now; the plan deactivates carol and dave and
// activates erin, bob, hank and ivy: 8 after.
func seatWorld() (*world, *seatTarget) {
	w := newWorld()
	w.src.entries = append(w.src.entries,
		entry("hank", "hank@example.com", "Hank", "H", "sid-hk", "groups=Artists"),
		entry("ivy", "ivy@example.com", "Ivy", "I", "sid-i"))
	st := &seatTarget{fakeTarget: w.target, seats: 1000}
	return w, st
}

func TestPlanCountsSeatsAndBlocksOverThem(t *testing.T) {
	w, _ := seatWorld()
	p := w.plan(t, clock)
	if p.Seats == nil || *p.Seats != (Seats{ActiveNow: 6, ActiveAfter: 8}) {
		t.Fatalf("seats without policy.seats = %+v, want 6 now, 8 after, no limit", p.Seats)
	}
	if p.IsBlocked() {
		t.Fatalf("a plan without policy.seats is blocked: %v", p.Blocked.Reasons)
	}

	w.policy.Seats = 8
	if p := w.plan(t, clock); p.IsBlocked() || *p.Seats != (Seats{ActiveNow: 6, ActiveAfter: 8, Limit: 8}) {
		t.Fatalf("a plan that fills the seats exactly: blocked=%v seats=%+v", p.Blocked, p.Seats)
	}

	w.policy.Seats = 7
	for _, force := range []bool{false, true} {
		req := planReq([]Source{w.src}, w.mapper, w.target, w.policy)
		req.Force = force
		p := mustPlan(t, req)
		if !p.IsBlocked() {
			t.Fatalf("force=%v: a plan over the seats is not blocked", force)
		}
		want := "8 accounts would be active in ftrack after this plan, more than policy seats = 7 (6 active now, +2)"
		if !slices.ContainsFunc(p.Blocked.Reasons, func(r string) bool { return strings.Contains(r, want) }) {
			t.Errorf("force=%v: reasons %q do not say %q", force, p.Blocked.Reasons, want)
		}
		if force && (p.Blocked.Overridden || p.Policy.Override != nil) {
			t.Errorf("-force lifted a seat block: %+v", p.Blocked)
		}
	}

	// A plan for one new hire fits in the seat that is free.
	req := planReq([]Source{w.src}, w.mapper, w.target, w.policy)
	req.Targets = []string{"user.hank"}
	if p := mustPlan(t, req); p.IsBlocked() || p.Seats.ActiveAfter != 7 {
		t.Errorf("targeted plan: blocked=%v seats=%+v, want 7 after, not blocked", p.Blocked, p.Seats)
	}
}

func TestApplyCountsSeatsAgainstFtrackNow(t *testing.T) {
	for _, verify := range []bool{true, false} {
		w, _ := seatWorld()
		w.policy.Seats = 8
		p := w.plan(t, clock)
		if p.IsBlocked() {
			t.Fatalf("plan blocked: %v", p.Blocked.Reasons)
		}
		// Someone activates an account by hand after the plan was made.
		w.target.accounts["id-x"] = &Account{ID: "id-x", Username: "xavier", Active: true}
		w.state.saves = 0 // the plan's grace clock
		req := w.applyReq(p)
		req.VerifySource = verify
		requireRefusal(t, w, req, "blocked", "9 accounts would be active in ftrack after this plan, more than policy seats = 8 (7 active now, +2)")
	}
}

func TestApplyStopsActivationsWhenSeatsRunOut(t *testing.T) {
	w, st := seatWorld()
	st.seats = 6 // the deactivations free two seats: erin and bob take them
	p := w.plan(t, clock)
	req := w.applyReq(p)
	// One change per batch: the activations after the refused one are
	// not sent at all (within one batch the target gets them together).
	req.Target, req.MaxErrors, req.BatchSize = st, 1, 1
	rep, err := Apply(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "no licence seat free") || !strings.Contains(err.Error(), "run apply again with the same plan") {
		t.Fatalf("apply error = %v, want the seats named and a re-run advised", err)
	}
	if !slices.Equal(st.refused, []string{"user.hank"}) {
		t.Errorf("activations sent after the first refusal: refused %v, want only user.hank", st.refused)
	}
	if rep.Complete || rep.NoSeats != 3 { // hank's create, his membership, ivy's create
		t.Errorf("report complete=%v no_seats=%d, want incomplete and 3", rep.Complete, rep.NoSeats)
	}
	acc := w.target.accounts
	switch {
	case acc["id-c"].Active || acc["id-d"].Active:
		t.Error("deactivations not done")
	case !acc["id-e"].Active:
		t.Error("erin not reactivated")
	case acc["id-a"].Email != "asmith@example.com" || !slices.Contains(acc["id-a"].Groups, "Artists") || slices.Contains(acc["id-a"].Groups, "Leads"):
		t.Errorf("alice's update and membership removal not done: %+v", acc["id-a"])
	case acc["id-f"].Owner != "users":
		t.Error("frank not adopted")
	}
	var bob, hank *Account
	for _, a := range acc {
		switch a.Username {
		case "bob":
			bob = a
		case "hank", "ivy":
			hank = a
		}
	}
	if bob == nil || !slices.Equal(bob.Groups, []string{"Artists", "Leads"}) {
		t.Errorf("bob (the activation that fit) not created with his memberships: %+v", bob)
	}
	if hank != nil {
		t.Errorf("%s created without a seat", hank.Username)
	}

	// Seats freed: the same plan finishes.
	st.seats = 8
	rep, err = Apply(context.Background(), req)
	if err != nil || !rep.Complete || rep.Executed.Create != 2 || rep.Executed.AddMembership != 1 {
		t.Fatalf("re-run after freeing seats: err=%v report=%+v, want complete with ivy and hank created, hank's membership added", err, rep)
	}
	n := 0
	for _, a := range acc {
		if a.Username == "hank" && slices.Equal(a.Groups, []string{"Artists"}) || a.Username == "ivy" {
			n++
		}
	}
	if n != 2 {
		t.Error("hank (in Artists) and ivy not both created on the re-run")
	}
}

func TestOtherFailuresStillCountTowardsMaxErrors(t *testing.T) {
	w, st := seatWorld()
	w.target.failAddr["user.erin"] = true // a reactivation failing for another reason
	w.target.failAddr["user.alice"] = true
	p := w.plan(t, clock)
	req := w.applyReq(p)
	req.Target, req.MaxErrors = st, 1
	rep, err := Apply(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "max_errors = 1") || errors.Is(err, ErrNoSeats) {
		t.Fatalf("err = %v, want apply stopped by max_errors", err)
	}
	if rep.NoSeats != 0 {
		t.Errorf("no_seats = %d for failures that are not about seats", rep.NoSeats)
	}
}
