package engine

// Licence seats. ftrack counts a user licence as in use for every active
// User, whatever its type and whoever owns it: the API user, protected
// and hands-off accounts hold seats too. So the seats are counted over
// every account the target returned, never over the view (which leaves
// those out), and a plan is judged by what ftrack would count after it:
// active now, plus its activations (creates and reactivations), less its
// deactivations.
//
// With policy.seats set, a plan after which more accounts would be
// active than there are seats is blocked, and -force does not lift that
// block: the limits are thresholds a reviewer may confirm, the seats are
// what the site has bought, and ftrack refuses activations past them
// anyway. apply counts again against ftrack as it is then (seats free
// at plan time may be taken since), over the changes it still has to
// make. When an activation fails all the same with the target's seat
// error (ErrNoSeats: policy.seats unset or larger than the site's
// licences), apply stops activating and carries on with every other
// change (see execute.go).

import (
	"errors"
	"fmt"
)

// ErrNoSeats is the error a target's Execute returns (matched with
// errors.Is) for an activation, a create or a reactivation, refused
// because every licence seat is in use. apply then stops activating and
// carries on with the rest.
var ErrNoSeats = errors.New("no user licence seat free")

// Seats is what a plan says about the licence seats: the active ftrack
// accounts now and after the plan is applied, and policy.seats. In the
// plan file:
//
//	"seats": {"active_now": 248, "active_after": 251, "seats": 250}
type Seats struct {
	// ActiveNow counts the active accounts the target returned, every
	// one of them (the API user's and hands-off accounts too).
	ActiveNow int `json:"active_now"`
	// ActiveAfter is ActiveNow plus the plan's creates and
	// reactivations, less its deactivations.
	ActiveAfter int `json:"active_after"`
	// Limit is policy.seats; 0 (left out) when the policy sets none.
	Limit int `json:"seats,omitempty"`
}

// isActivation reports whether a change takes a seat: a create (always
// of an active account) or a reactivation.
func isActivation(a Action) bool { return a == ActionCreate || a == ActionReactivate }

// countActive counts the active accounts.
func countActive(accounts []Account) int {
	n := 0
	for i := range accounts {
		if accounts[i].Active {
			n++
		}
	}
	return n
}

// seatsAfter counts what changes do to the seats of a site whose
// accounts are accounts.
func seatsAfter(accounts []Account, changes []Change, limit int) Seats {
	s := Seats{ActiveNow: countActive(accounts), Limit: limit}
	s.ActiveAfter = s.ActiveNow
	for _, c := range changes {
		switch {
		case isActivation(c.Action):
			s.ActiveAfter++
		case c.Action == ActionDeactivate:
			s.ActiveAfter--
		}
	}
	return s
}

// Exceeded reports whether the plan would leave more accounts active
// than policy.seats, and more than now: a block -force does not lift.
func (s *Seats) Exceeded() bool { return s != nil && len(seatReasons(*s)) > 0 }

// seatReasons blocks a plan after which more accounts would be active
// than policy.seats allows (none when the policy sets no seats, or when
// the plan does not raise the count: a site over its seats may still
// deactivate, update and take away).
func seatReasons(s Seats) []string {
	if s.Limit <= 0 || s.ActiveAfter <= s.Limit || s.ActiveAfter <= s.ActiveNow {
		return nil
	}
	return []string{fmt.Sprintf("%d accounts would be active in ftrack after this plan, more than policy seats = %d (%d active now, %+d): every active User holds a licence seat, the API user and hands-off accounts too; -force does not lift this — free seats (deactivate accounts), make a plan for fewer users (plan -target), or raise seats once the site has the licences",
		s.ActiveAfter, s.Limit, s.ActiveNow, s.ActiveAfter-s.ActiveNow)}
}

// checkSeatsNow is apply's seat check: the changes still to make (done
// ones are counted in the accounts already), against ftrack as read now.
func checkSeatsNow(pol Policy, accounts []Account, pending []Change) error {
	reasons := seatReasons(seatsAfter(accounts, pending, pol.Seats))
	if len(reasons) == 0 {
		return nil
	}
	return refuse(RefuseBlocked, "counted against ftrack now, %s", reasons[0])
}
