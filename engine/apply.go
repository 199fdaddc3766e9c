package engine

// Apply executes exactly a saved plan, in four steps, each in its own
// file:
//
//	check     applicable.go, verify.go: everything that can refuse the
//	          plan, before the first write — its integrity was checked
//	          when it was read; here its applicability and every change,
//	          justified from the configuration, ftrack and the directory
//	classify  classify.go: each change against ftrack as re-read now:
//	          pending (its before holds: execute it), done (its after
//	          holds: an interrupted run of this plan did it), stale
//	          (neither: someone changed ftrack; refuse all)
//	execute   execute.go: the pending changes in batches, in the safe
//	          order, the next batch started while one finishes
//	journal   journal.go: the plan in_progress before the first write,
//	          each outcome and last-applied record after each batch
//	          (saved in the background), applied only when every change
//	          succeeded; the serial grows once per apply run
//
// This makes re-running an interrupted plan a resume: nothing twice,
// nothing lost.

import (
	"context"
	"fmt"
	"runtime/trace"
	"slices"
	"time"
)

// ApplyRequest is the input of Apply. Everything apply trusts comes
// from here, read from the configuration on disk and the systems now;
// the plan is only the list of changes it is asked to make.
type ApplyRequest struct {
	Plan   *Plan
	Target Target
	// State holds the last-applied view; the caller holds its lock.
	State StateStore
	// ConfigDigest is the digest of the configuration on disk now.
	ConfigDigest string
	// Policy is the configuration's policy (never the plan's copy): its
	// protect list, adopt_existing and limits judge the plan's changes.
	Policy Policy
	// Mapper is the configuration's mapping; its name is the ownership
	// marker.
	Mapper Mapper
	// Sources and Groups are the configuration's, for VerifySource.
	Sources []Source
	Groups  []GroupSpec
	// VerifySource re-reads the directory and refuses every change the
	// configuration would not make now (apply -verify-source, the
	// default). Without it the ftrack checks and the signature are the
	// only guard.
	VerifySource bool
	// TargetUser is the username the target signs in as; apply never
	// changes that account.
	TargetUser string
	// Force confirms the -force override an unsigned plan records (a
	// signed plan's override needs no confirmation).
	Force bool
	Now   time.Time
	// MaxErrors stops apply once more changes than this failed; 0 means
	// no limit.
	MaxErrors int
	// BatchSize is the number of changes per Target.Execute call; 0 takes
	// the target's ExecuteBatch capability, else 100.
	BatchSize int
	// Progress is called after each batch; may be nil.
	Progress func(done, total int)
	// Log is called once per change with its outcome (done,
	// already_done, failed, not_attempted) and, when it failed, the
	// error; may be nil.
	Log func(change Change, outcome Outcome, err error)
}

// Counts counts changes per action.
type Counts struct {
	Create           int `json:"create"`
	Update           int `json:"update"`
	Deactivate       int `json:"deactivate"`
	Reactivate       int `json:"reactivate"`
	Adopt            int `json:"adopt"`
	AddMembership    int `json:"add_membership"`
	RemoveMembership int `json:"remove_membership"`
	CreateGroup      int `json:"create_group"`
	// The role changes; left out of the JSON when zero, so plans of a
	// configuration without roles blocks read as before.
	AddRole           int `json:"add_role,omitempty"`
	RemoveRole        int `json:"remove_role,omitempty"`
	GrantRoleProject  int `json:"grant_role_project,omitempty"`
	RevokeRoleProject int `json:"revoke_role_project,omitempty"`
}

// Roles is the number of role changes.
func (c Counts) Roles() int {
	return c.AddRole + c.RemoveRole + c.GrantRoleProject + c.RevokeRoleProject
}

// Total is the sum over all actions.
func (c Counts) Total() int {
	return c.Create + c.Update + c.Deactivate + c.Reactivate + c.Adopt + c.AddMembership + c.RemoveMembership + c.CreateGroup + c.Roles()
}

func (c *Counts) add(a Action) {
	switch a {
	case ActionCreate:
		c.Create++
	case ActionUpdate:
		c.Update++
	case ActionDeactivate:
		c.Deactivate++
	case ActionReactivate:
		c.Reactivate++
	case ActionAdopt:
		c.Adopt++
	case ActionAddMembership:
		c.AddMembership++
	case ActionRemoveMembership:
		c.RemoveMembership++
	case ActionCreateGroup:
		c.CreateGroup++
	case ActionAddRole:
		c.AddRole++
	case ActionRemoveRole:
		c.RemoveRole++
	case ActionGrantRoleProject:
		c.GrantRoleProject++
	case ActionRevokeRoleProject:
		c.RevokeRoleProject++
	}
}

// ApplyReport is what an apply run did. Planned counts the plan's
// changes, Executed those this run carried out, AlreadyDone those found
// done already (by an interrupted earlier run), Failed those that failed
// or were not attempted.
type ApplyReport struct {
	PlanID      string   `json:"plan_id"`
	Planned     Counts   `json:"planned"`
	Executed    Counts   `json:"executed"`
	AlreadyDone Counts   `json:"already_done"`
	Failed      Counts   `json:"failed"`
	Failures    []Result `json:"-"`
	// Complete is true when every change of the plan is done.
	Complete bool `json:"complete"`
	// SourceVerified is true when the changes were checked against the
	// directory (apply -verify-source, the default).
	SourceVerified bool `json:"source_verified"`
	// Observations counts the grace-period records this run changed (a
	// clock started or forgotten), as apply observed them itself.
	Observations int `json:"observations"`
	// NoSeats counts the changes not made for want of a licence seat:
	// activations refused with ErrNoSeats or not attempted after one, and
	// the changes of users they did not create (also in Failed).
	NoSeats int `json:"no_seats,omitempty"`
}

// Apply executes the plan. It returns a *RefusalError, having written
// nothing, when the plan must not run; otherwise a report, and an error
// when any change failed or apply stopped early.
func Apply(ctx context.Context, req ApplyRequest) (*ApplyReport, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	p, now := req.Plan, wholeSecondUTC(req.now()) // the clocks apply records compare with plan's, which are whole seconds
	ti := req.Target.Info()
	if err := checkApplicable(p, ti, req.ConfigDigest, now); err != nil {
		return nil, err
	}
	la, err := req.State.Load()
	if err != nil {
		return nil, fmt.Errorf("apply: loading state: %w", err)
	}
	la.ensure()
	trace.Log(ctx, "apply", "state loaded")
	rec, resume, err := checkJournal(p, la, describeState(req.State))
	if err != nil {
		return nil, err
	}
	if !resume && p.PriorState.Lineage == "" && !req.VerifySource {
		// No journal can vouch that a plan made before any state existed
		// has not run already (the state it started may since be lost):
		// only the directory can.
		return nil, refuse(RefuseStateMismatch, "the plan was made when there was no state yet, so no state journal can tell whether it ran before; apply it with the directory checked (without -verify-source=false), or make a new plan")
	}
	accounts, fresh, err := readNow(ctx, req, la, now)
	if err != nil {
		return nil, err
	}
	trace.Log(ctx, "apply", "read")
	changes := append([]Change(nil), p.Changes...)
	sortChanges(changes) // rank order is phase order: the safe order
	groups, err := groupsNow(ctx, req, changes, fresh)
	if err != nil {
		return nil, err
	}
	roles, err := rolesNow(ctx, req, changes, accounts, fresh, la)
	if err != nil {
		return nil, err
	}
	if err := customNow(ctx, req, changes, accounts, fresh); err != nil {
		return nil, err
	}
	pending, done, err := verifyChanges(req, changes, accounts, groups, fresh, roles)
	if err != nil {
		return nil, err
	}
	trace.Log(ctx, "apply", "verified")

	// From here on we write.
	j := openJournal(req, la, rec, accounts, now)
	j.rep.SourceVerified = fresh != nil
	if fresh == nil {
		named := namedRoles(req.Groups)
		j.idx.manageRole = func(role string) bool { return named[role] }
	}
	for _, c := range changes {
		j.rep.Planned.add(c.Action)
	}
	for _, c := range done {
		j.alreadyDone(c)
	}
	if !resume && fresh != nil {
		j.rep.Observations = len(observationsAfter(la, fresh.diff.missing, changes))
		RecordMissing(la, fresh.diff.missing) // the grace clocks apply observed, not the plan's
	}
	if err := j.begin(resume); err != nil {
		return j.rep, err
	}
	trace.Log(ctx, "apply", "journal begun")
	ex := newExecutor(req, j)
	stopErr := ex.run(ctx, pending)
	trace.Log(ctx, "apply", "executed")
	j.rep.NoSeats = ex.seatHeld
	if err := j.finish(stopErr == nil && ex.failed == 0 && ex.seatHeld == 0); err != nil {
		return j.rep, err
	}
	trace.Log(ctx, "apply", "finished")
	if stopErr != nil {
		return j.rep, fmt.Errorf("%w; run apply again with the same plan to finish", stopErr)
	}
	var seats string
	if ex.seatHeld > 0 {
		seats = fmt.Sprintf("ftrack has no licence seat free (%v): %d %s waiting for a seat (creates and reactivations from the first refused on, and what needs the users they create) were not made; every other change was carried on with; free seats (deactivate accounts, or add licences) and run apply again with the same plan to finish",
			ex.seatErr, ex.seatHeld, pick(ex.seatHeld, "change", "changes"))
	}
	switch {
	case ex.failed > 0 && seats != "":
		return j.rep, fmt.Errorf("%d of %d changes failed; %s", ex.failed, len(changes), seats)
	case ex.failed > 0:
		return j.rep, fmt.Errorf("%d of %d changes failed; run apply again with the same plan to retry them (changes already done are skipped)", ex.failed, len(changes))
	case seats != "":
		return j.rep, fmt.Errorf("%s", seats)
	}
	return j.rep, nil
}

// describeState names the state store for messages: its Describe when
// it has one ("state file ldapsync.state.json"), else "the state store".
func describeState(s StateStore) string {
	if d, ok := s.(interface{ Describe() string }); ok {
		return d.Describe()
	}
	return "the state store"
}

// validate checks that the request names everything Apply needs.
func (req ApplyRequest) validate() error {
	if req.Plan == nil || req.Target == nil || req.State == nil || req.Mapper == nil {
		return fmt.Errorf("apply: a plan, a target, a mapping and a state store are required")
	}
	if req.VerifySource && len(req.Sources) == 0 {
		return fmt.Errorf("apply: verifying the plan against the directory needs the configuration's sources")
	}
	return nil
}

func (req ApplyRequest) now() time.Time {
	if req.Now.IsZero() {
		return time.Now().UTC()
	}
	return req.Now.UTC()
}

// groupsNow returns the target's groups when a change creates one: the
// fresh derivation's, or read now.
func groupsNow(ctx context.Context, req ApplyRequest, changes []Change, fresh *derivation) (map[string]bool, error) {
	if !slices.ContainsFunc(changes, func(c Change) bool { return c.Action == ActionCreateGroup }) {
		return nil, nil
	}
	if fresh != nil && fresh.view.targetGroups != nil {
		return fresh.view.targetGroups, nil
	}
	names, err := req.Target.ReadGroups(ctx)
	if err != nil {
		return nil, namedError("target", req.Target.Info().Name, err)
	}
	groups := make(map[string]bool, len(names))
	for _, n := range names {
		groups[n] = true
	}
	return groups, nil
}

// rolesNow returns the target's role catalog, with every account's roles
// read onto accounts, when the configuration has roles blocks or the plan
// changes roles; nil otherwise.
func rolesNow(ctx context.Context, req ApplyRequest, changes []Change, accounts []Account, fresh *derivation, la *LastApplied) (*roleCheck, error) {
	if fresh != nil && fresh.view.mapsRoles {
		return &roleCheck{cat: fresh.view.roleCatalog}, nil // read onto the same accounts
	}
	_, specs := roleSpecs(req.Groups)
	if len(specs) == 0 && !mapsRoles(req.Mapper) && !slices.ContainsFunc(changes, func(c Change) bool { return isRoleAction(c.Action) }) {
		return nil, nil
	}
	cat, err := attachRoles(ctx, req.Target, accounts)
	if err != nil {
		return nil, err
	}
	return &roleCheck{cat: cat, managed: la.ManagedRoles}, nil
}

// readNow reads ftrack and, with VerifySource, the directory through
// plan's passes (see verify.go's derive).
func readNow(ctx context.Context, req ApplyRequest, la *LastApplied, now time.Time) ([]Account, *derivation, error) {
	if req.VerifySource {
		fresh, accounts, err := derive(ctx, req, la, now)
		return accounts, fresh, err
	}
	accounts, err := req.Target.ReadAccounts(ctx)
	if err != nil {
		return nil, nil, namedError("target", req.Target.Info().Name, err)
	}
	return accounts, nil, nil
}
