package engine

import (
	"sort"
	"strconv"
	"time"
)

// LastApplied is the last-applied view: what ldapsync wrote to the target
// the last time it applied a plan, plus the apply journal. Package state
// stores it; the engine reads and updates it.
//
// Missing holds the first time an owned, active user was observed
// missing from the directory; it drives the grace period. BuildPlan never
// writes state: apply records the clocks it observes itself with
// RecordMissing and saves them with the rest of the state.
type LastApplied struct {
	// Lineage identifies the state file's history; it never changes.
	Lineage string `json:"lineage"`
	// Serial grows by one with every apply.
	Serial int64 `json:"serial"`
	// Users is keyed by the join key (lower-case username).
	Users map[string]AppliedUser `json:"users"`
	// Missing maps a join key to the first time it was seen missing.
	Missing map[string]time.Time `json:"missing,omitempty"`
	// ManagedGroups are the ftrack groups ldapsync has added members to,
	// sorted. They stay managed after the last directory member leaves, so
	// the remaining memberships of managed users are removed rather than
	// left behind forever.
	ManagedGroups []string `json:"managed_groups,omitempty"`
	// ManagedRoles are the security roles ldapsync has granted, sorted.
	// Like managed groups they stay managed, so a role the directory
	// takes away is removed even when nobody has it any more.
	ManagedRoles []string `json:"managed_roles,omitempty"`
	// Plans is the apply journal, keyed by plan id.
	Plans map[string]AppliedPlan `json:"plans"`
	// Exists is true when the view was read from a stored state, false for
	// the empty view of a state never saved (not stored itself).
	Exists bool `json:"-"`
}

// AppliedUser is the last-applied record of one managed user.
type AppliedUser struct {
	TargetID  string   `json:"target_id"`
	SourceID  string   `json:"source_id,omitempty"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Active    bool     `json:"active"`
	Groups    []string `json:"groups,omitempty"`
	// Roles are the security roles ldapsync last granted, sorted.
	Roles []string `json:"roles,omitempty"`
	// Custom holds the custom attribute values ldapsync last wrote.
	Custom map[string]string `json:"custom_attributes,omitempty"`
	// UserType is the user type ldapsync last wrote, when the mapping
	// gives one.
	UserType string `json:"user_type,omitempty"`
}

// Plan statuses in the apply journal.
const (
	PlanInProgress = "in_progress"
	PlanIncomplete = "incomplete"
	PlanApplied    = "applied"
)

// AppliedPlan is the journal of one plan's apply runs.
type AppliedPlan struct {
	// Status is in_progress, incomplete (some changes failed; re-running
	// the plan resumes) or applied.
	Status string `json:"status"`
	// BaseSerial is the state serial the plan was made against.
	BaseSerial int64 `json:"base_serial"`
	// Serial is the state serial this plan's last apply run wrote.
	Serial     int64     `json:"serial"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Outcomes maps a change id (ChangeID) to its outcome; Errors holds
	// the error of each failed one.
	Outcomes map[string]Outcome `json:"outcomes"`
	Errors   map[string]string  `json:"errors,omitempty"`
}

// Outcome is what became of one change in an apply run.
type Outcome string

// The outcomes.
const (
	// OutcomeDone: this plan's apply executed the change.
	OutcomeDone Outcome = "done"
	// OutcomeAlreadyDone: ftrack already held the change's after (an
	// interrupted earlier run did it, or someone else); nothing written.
	OutcomeAlreadyDone Outcome = "already_done"
	// OutcomeFailed: the target refused or failed the change.
	OutcomeFailed Outcome = "failed"
	// OutcomeNotAttempted: the change depends on a create that failed.
	OutcomeNotAttempted Outcome = "not_attempted"
)

// StateStore loads and saves the last-applied view. package state
// implements it over a local file. The caller holds the state lock for the
// whole apply.
type StateStore interface {
	Load() (*LastApplied, error)
	Save(*LastApplied) error
}

// NewLastApplied returns an empty last-applied view with the given lineage.
func NewLastApplied(lineage string) *LastApplied {
	return &LastApplied{Lineage: lineage, Users: map[string]AppliedUser{}, Plans: map[string]AppliedPlan{}}
}

// ChangeID identifies a change within a plan, by its action, key and
// group: a user can have both an update and a deactivation, which share
// an address, and an address alone is ambiguous when keys or group names
// hold dots ("membership.anna.lee.Artists").
func ChangeID(c Change) string {
	switch c.Action {
	case ActionAddMembership, ActionRemoveMembership:
		return string(c.Action) + " " + strconv.Quote(c.Key) + " " + strconv.Quote(c.Group)
	case ActionCreateGroup:
		return string(c.Action) + " " + strconv.Quote(c.Group)
	case ActionAddRole, ActionRemoveRole:
		return string(c.Action) + " " + strconv.Quote(c.Key) + " " + strconv.Quote(c.Role)
	case ActionGrantRoleProject, ActionRevokeRoleProject:
		return string(c.Action) + " " + strconv.Quote(c.Key) + " " + strconv.Quote(c.Role) + " " + strconv.Quote(c.Project)
	}
	return string(c.Action) + " " + strconv.Quote(c.Key)
}

// Observations lists, sorted, the join keys whose grace-period record
// missing would change in la: a user newly seen missing, or one no
// longer missing whose clock would be forgotten. plan writes nothing, so
// these are what applying its plan records (a plan with only these is
// still worth applying: it starts the clocks).
func Observations(la *LastApplied, missing map[string]time.Time) []string {
	var out []string
	var known map[string]time.Time
	if la != nil {
		known = la.Missing
	}
	for k, t := range missing {
		if old, ok := known[k]; !ok || !old.Equal(t) {
			out = append(out, k)
		}
	}
	for k := range known {
		if _, ok := missing[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// RecordMissing copies the first-missing observations of a plan (or drift
// report) into la and reports whether anything changed. Keys no longer
// missing are forgotten, so a user who comes back and leaves again starts
// a new grace period. apply calls it with what it observed itself, holding
// the state lock.
func RecordMissing(la *LastApplied, missing map[string]time.Time) bool {
	if la == nil {
		return false
	}
	changed := false
	for k := range la.Missing {
		if _, ok := missing[k]; !ok {
			delete(la.Missing, k)
			changed = true
		}
	}
	if la.Missing == nil && len(missing) > 0 {
		la.Missing = map[string]time.Time{}
	}
	for k, t := range missing {
		if old, ok := la.Missing[k]; !ok || !old.Equal(t) {
			la.Missing[k] = t.UTC()
			changed = true
		}
	}
	return changed
}

// ensure makes the maps a state file may lack non-nil.
func (la *LastApplied) ensure() {
	if la.Users == nil {
		la.Users = map[string]AppliedUser{}
	}
	if la.Plans == nil {
		la.Plans = map[string]AppliedPlan{}
	}
}
