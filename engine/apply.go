package engine

// Apply executes exactly a saved plan. Everything that can refuse the plan
// is checked before the first write. Each change is then classified
// against the target as re-read now:
//
//	pending  its before still matches: execute it
//	done     its after already matches (an interrupted run of this plan
//	         did it): skip it, count it as already done
//	stale    neither: someone changed ftrack since the plan; refuse all
//
// This makes re-running an interrupted plan a resume: nothing twice,
// nothing lost. The state journal records the plan as in_progress before
// the first write, each outcome after each batch (saved in the background,
// see stateSaver), and applied only when
// every change succeeded; the serial grows once per apply run.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
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
	// Log is called once per executed change with its outcome; may be nil.
	Log func(change Change, err error)
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
}

// Total is the sum over all actions.
func (c Counts) Total() int {
	return c.Create + c.Update + c.Deactivate + c.Reactivate + c.Adopt + c.AddMembership + c.RemoveMembership
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
	}
}

// ApplyReport is what an apply run did. Planned counts the plan's
// changes, Executed those this run carried out, Skipped those found
// already done (by an interrupted earlier run), Failed those that failed
// or were not attempted.
type ApplyReport struct {
	PlanID   string   `json:"plan_id"`
	Planned  Counts   `json:"planned"`
	Executed Counts   `json:"executed"`
	Skipped  Counts   `json:"skipped"`
	Failed   Counts   `json:"failed"`
	Failures []Result `json:"-"`
	// Complete is true when every change of the plan is done.
	Complete bool `json:"complete"`
	// SourceVerified is true when the changes were checked against the
	// directory (apply -verify-source, the default).
	SourceVerified bool `json:"source_verified"`
}

// Apply executes the plan. It returns a *RefusalError, having written
// nothing, when the plan must not run; otherwise a report, and an error
// when any change failed or apply stopped early.
func Apply(ctx context.Context, req ApplyRequest) (*ApplyReport, error) {
	p := req.Plan
	if p == nil || req.Target == nil || req.State == nil || req.Mapper == nil {
		return nil, fmt.Errorf("apply: a plan, a target, a mapping and a state store are required")
	}
	if req.VerifySource && len(req.Sources) == 0 {
		return nil, fmt.Errorf("apply: verifying the plan against the directory needs the configuration's sources")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	ti := req.Target.Info()
	if err := checkApplicable(p, ti, req.ConfigDigest, now); err != nil {
		return nil, err
	}
	la, err := req.State.Load()
	if err != nil {
		return nil, fmt.Errorf("apply: loading state: %w", err)
	}
	la.ensure()
	rec, resume, err := checkJournal(p, la)
	if err != nil {
		return nil, err
	}

	// Read ftrack (and the directory) now, and justify every change.
	var accounts []Account
	var fresh *derivation
	if req.VerifySource {
		fresh, accounts, err = derive(ctx, req, la, now)
	} else {
		accounts, err = req.Target.ReadAccounts(ctx)
		if err != nil {
			err = namedError("target", ti.Name, err)
		}
	}
	if err != nil {
		return nil, err
	}
	changes := append([]Change(nil), p.Changes...)
	sortChanges(changes) // rank order is phase order: the safe order
	pending, done, err := verifyChanges(req, changes, accounts, fresh)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*Account, len(accounts))
	for i := range accounts {
		byID[accounts[i].ID] = &accounts[i]
	}

	// From here on we write.
	rep := &ApplyReport{PlanID: p.PlanID, SourceVerified: fresh != nil}
	for _, c := range changes {
		rep.Planned.add(c.Action)
	}
	if !resume {
		rec.StartedAt = now
	}
	if rec.Outcomes == nil {
		rec.Outcomes = map[string]string{}
	}
	la.Serial++
	rec.Serial = la.Serial
	rec.Status = PlanInProgress
	idx := newRecordIndex(la)
	for _, c := range done {
		rep.Skipped.add(c.Action)
		if rec.Outcomes[ChangeID(c)] != "done" {
			rec.Outcomes[ChangeID(c)] = "already_done"
		}
		idx.record(c, byID)
	}
	if !resume && fresh != nil {
		RecordMissing(la, fresh.diff.missing) // the grace clocks apply observed, not the plan's
	}
	la.Plans[p.PlanID] = rec
	prunePlans(la, p.PlanID)
	if err := req.State.Save(la); err != nil {
		return rep, fmt.Errorf("apply: saving state before the first change: %w", err)
	}

	batchSize := req.BatchSize
	if batchSize <= 0 {
		batchSize = req.Target.Capabilities().ExecuteBatch
	}
	if batchSize <= 0 {
		batchSize = 100
	}
	// Journaling after each batch runs in the background (see
	// stateSaver): requests keep flowing while the state is written.
	saver := newStateSaver(req.State)
	defer saver.stop()
	failedCreate := map[string]string{}
	failed, executed := 0, 0
	total := len(pending)
	var stopErr error
	// batchEnd is where the batch starting at start ends: batchSize
	// changes, never spanning two phases.
	batchEnd := func(start int) int {
		end := min(start+batchSize, len(pending))
		for i := start + 1; i < end; i++ {
			if actionPhase(pending[i].Action) != actionPhase(pending[start].Action) {
				return i
			}
		}
		return end
	}
	// launch starts Execute on pending[start:end] less the changes whose
	// create failed earlier (recorded as not attempted).
	launch := func(start, end int) *inflightBatch {
		b := &inflightBatch{start: start, end: end, results: make(chan []Result, 1)}
		for _, c := range pending[start:end] {
			if why, bad := failedCreate[c.TargetID]; bad && c.Action != ActionCreate {
				err := fmt.Errorf("not attempted: %s", why)
				failed++
				rep.Failed.add(c.Action)
				rep.Failures = append(rep.Failures, Result{Address: c.Address, Err: err})
				rec.Outcomes[ChangeID(c)] = "failed: " + err.Error()
				if req.Log != nil {
					req.Log(c, err)
				}
				continue
			}
			b.batch = append(b.batch, c)
		}
		if len(b.batch) == 0 { // every change was not attempted
			b.results <- nil
			return b
		}
		go func() { b.results <- req.Target.Execute(ctx, b.batch) }()
		return b
	}
	pipeline := req.Target.Capabilities().ConcurrentExecute
	var ahead *inflightBatch
	for start := 0; start < len(pending); {
		cur := ahead
		ahead = nil
		if cur == nil {
			if err := ctx.Err(); err != nil {
				stopErr = fmt.Errorf("apply interrupted: %w", err)
				break
			}
			cur = launch(start, batchEnd(start))
		}
		// Pipelining: the next batch starts while this one runs, so the
		// target is not idle while this one's last requests finish and
		// its outcomes are journaled. Only when nothing failed yet (so
		// max_errors and not-attempted changes work as without it) and the
		// next batch touches none of this batch's users (their changes
		// stay in order).
		if pipeline && failed == 0 && cur.end < len(pending) && ctx.Err() == nil &&
			actionPhase(pending[cur.end].Action) == actionPhase(pending[cur.start].Action) {
			if next := batchEnd(cur.end); disjointUsers(pending[cur.start:cur.end], pending[cur.end:next]) {
				ahead = launch(cur.end, next)
			}
		}
		batch := cur.batch
		results := <-cur.results
		for i, c := range batch {
			var err error
			if i < len(results) {
				err = results[i].Err
				if results[i].Address != "" && results[i].Address != c.Address {
					err = fmt.Errorf("target returned the result for %s in place of %s", results[i].Address, c.Address)
				}
			} else {
				err = fmt.Errorf("target returned no result for this change")
			}
			if err != nil {
				failed++
				rep.Failed.add(c.Action)
				rep.Failures = append(rep.Failures, Result{Address: c.Address, Err: err})
				rec.Outcomes[ChangeID(c)] = "failed: " + err.Error()
				if c.Action == ActionCreate {
					failedCreate[c.TargetID] = "creating " + c.Address + " failed"
				}
			} else {
				executed++
				rep.Executed.add(c.Action)
				rec.Outcomes[ChangeID(c)] = "done"
				idx.record(c, byID)
			}
			if req.Log != nil {
				req.Log(c, err)
			}
		}
		la.Plans[p.PlanID] = rec
		if err := saver.offer(la, p.PlanID); err != nil {
			return rep, fmt.Errorf("apply: saving state after a batch (%d changes executed so far): %w", executed, err)
		}
		start = cur.end
		if req.Progress != nil {
			req.Progress(start, total)
		}
		// A batch already running is finished (and journaled) first.
		if ahead == nil && req.MaxErrors > 0 && failed > req.MaxErrors && start < len(pending) {
			stopErr = fmt.Errorf("apply stopped: %d changes failed, more than max_errors = %d; %d changes not attempted", failed, req.MaxErrors, len(pending)-start)
			break
		}
	}
	if failed == 0 && stopErr == nil {
		rec.Status = PlanApplied
		rec.FinishedAt = now
		rep.Complete = true
	} else {
		rec.Status = PlanIncomplete
	}
	la.Plans[p.PlanID] = rec
	if err := saver.stop(); err != nil {
		return rep, fmt.Errorf("apply: saving state after a batch (%d changes executed so far): %w", executed, err)
	}
	if err := req.State.Save(la); err != nil {
		return rep, fmt.Errorf("apply: saving state: %w", err)
	}
	if stopErr != nil {
		return rep, fmt.Errorf("%w; run apply again with the same plan to finish", stopErr)
	}
	if failed > 0 {
		return rep, fmt.Errorf("%d of %d changes failed; run apply again with the same plan to retry them (changes already done are skipped)", failed, len(changes))
	}
	return rep, nil
}

// inflightBatch is a batch handed to Target.Execute in the background.
type inflightBatch struct {
	start, end int      // the batch is pending[start:end]
	batch      []Change // less the changes not attempted
	results    chan []Result
}

// disjointUsers reports whether no change of b touches a user a touches.
func disjointUsers(a, b []Change) bool {
	ids := make(map[string]bool, len(a))
	for _, c := range a {
		ids[c.TargetID] = true
	}
	for _, c := range b {
		if ids[c.TargetID] {
			return false
		}
	}
	return true
}

// keepApplied is how many applied plans the journal keeps; older ones can
// no longer be applied anyway (the serial moved on).
const keepApplied = 50

// prunePlans forgets the oldest applied plans beyond keepApplied; plans
// not finished are kept so that they can resume.
func prunePlans(la *LastApplied, current string) {
	var ids []string
	for id, r := range la.Plans {
		if r.Status == PlanApplied && id != current {
			ids = append(ids, id)
		}
	}
	if len(ids) <= keepApplied {
		return
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := la.Plans[ids[i]], la.Plans[ids[j]]
		if a.Serial != b.Serial {
			return a.Serial > b.Serial
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids[keepApplied:] {
		delete(la.Plans, id)
	}
}

type changeStatus int

const (
	statusPending changeStatus = iota
	statusDone
	statusStale
)

func classify(c Change, byID, byKey map[string]*Account, created map[string]bool) (changeStatus, string) {
	a := byID[c.TargetID]
	switch c.Action {
	case ActionCreate:
		if a != nil {
			if mm := mismatches(*a, c.After); len(mm) == 0 {
				return statusDone, ""
			}
			return statusStale, fmt.Sprintf("%s: an account with the planned id %s exists but differs from the plan", c.Address, c.TargetID)
		}
		if c.After != nil && c.After.Username != nil {
			if b := byKey[strings.ToLower(*c.After.Username)]; b != nil {
				return statusStale, fmt.Sprintf("%s now exists in ftrack (id %s), created since the plan was made", c.Address, b.ID)
			}
		}
		return statusPending, ""
	case ActionAddMembership, ActionRemoveMembership:
		if a == nil {
			if created[c.TargetID] && c.Action == ActionAddMembership {
				return statusPending, ""
			}
			return statusStale, fmt.Sprintf("%s: user %s no longer exists in ftrack", c.Address, c.TargetID)
		}
		has := slices.Contains(a.Groups, c.Group)
		if c.Action == ActionAddMembership {
			if has {
				return statusDone, ""
			}
			return statusPending, ""
		}
		if !has {
			return statusDone, ""
		}
		if cur := a.Memberships[c.Group]; c.MembershipID != "" && cur != "" && cur != c.MembershipID {
			return statusStale, fmt.Sprintf("%s: the membership was replaced since the plan was made (id is now %s, plan expected %s)", c.Address, cur, c.MembershipID)
		}
		return statusPending, ""
	}
	if a == nil {
		return statusStale, fmt.Sprintf("%s: account %s no longer exists in ftrack", c.Address, c.TargetID)
	}
	mm := mismatches(*a, c.Before)
	if len(mm) == 0 {
		return statusPending, ""
	}
	if len(mismatches(*a, c.After)) == 0 {
		return statusDone, ""
	}
	return statusStale, c.Address + " " + strings.Join(mm, ", ")
}

// mismatches lists the fields of f that differ from the account, as
// "email is now "x", plan expected "y"".
func mismatches(a Account, f *Fields) []string {
	if f == nil {
		return nil
	}
	var out []string
	for _, x := range SetFields(f) {
		if have := x.Field.Actual(a); have != x.Value {
			if x.Field.Bool {
				out = append(out, fmt.Sprintf("%s is now %s, plan expected %s", x.Field.Name, have, x.Value))
			} else {
				out = append(out, fmt.Sprintf("%s is now %q, plan expected %q", x.Field.Name, have, x.Value))
			}
		}
	}
	return out
}

// recordIndex updates the last-applied users from executed changes.
type recordIndex struct {
	la   *LastApplied
	byID map[string]string // target id -> key
}

func newRecordIndex(la *LastApplied) *recordIndex {
	ix := &recordIndex{la: la, byID: map[string]string{}}
	for k, u := range la.Users {
		ix.byID[u.TargetID] = k
	}
	return ix
}

func (ix *recordIndex) record(c Change, actual map[string]*Account) {
	key := c.Key
	var u AppliedUser
	if old, ok := ix.byID[c.TargetID]; ok {
		u = ix.la.Users[old]
		if old != key {
			delete(ix.la.Users, old)
		}
	} else if a := actual[c.TargetID]; a != nil && c.Action != ActionCreate {
		u = appliedFromAccount(*a)
	}
	u.TargetID = c.TargetID
	if c.SourceID != "" {
		u.SourceID = c.SourceID
	}
	for _, x := range SetFields(c.After) {
		x.Field.setLastApplied(&u, x.Value)
	}
	switch c.Action {
	// Groups and ManagedGroups are replaced, never changed in place: a
	// snapshot being saved in the background may share them.
	case ActionAddMembership:
		if !slices.Contains(u.Groups, c.Group) {
			u.Groups = append(slices.Clone(u.Groups), c.Group)
			sort.Strings(u.Groups)
		}
		if i, found := slices.BinarySearch(ix.la.ManagedGroups, c.Group); !found {
			ix.la.ManagedGroups = slices.Insert(slices.Clip(ix.la.ManagedGroups), i, c.Group)
		}
	case ActionRemoveMembership:
		u.Groups = slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == c.Group })
		if len(u.Groups) == 0 {
			u.Groups = nil
		}
	case ActionDeactivate:
		delete(ix.la.Missing, key)
	}
	ix.la.Users[key] = u
	ix.byID[c.TargetID] = key
}

// stateSaver journals apply's progress in the background: a single
// goroutine that always writes the latest snapshot offered, so the target
// is never idle while the state file is encoded and fsynced. Snapshots
// offered while a save runs replace each other; the final save is
// synchronous (Apply calls Save itself after stop). Writing the journal
// later than the batch it records is safe for resume: a re-run recognises
// finished changes by their after values and created ids, whatever the
// journal says, exactly as after a crash between a batch and its save.
type stateSaver struct {
	store StateStore
	next  chan *LastApplied // holds at most the latest snapshot
	done  chan struct{}
	mu    sync.Mutex
	err   error
	once  sync.Once
}

func newStateSaver(store StateStore) *stateSaver {
	s := &stateSaver{store: store, next: make(chan *LastApplied, 1), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *stateSaver) run() {
	defer close(s.done)
	for la := range s.next {
		if s.failed() != nil {
			continue
		}
		if err := s.store.Save(la); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
}

func (s *stateSaver) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// offer queues a snapshot of la (current names the plan whose journal
// entry is being written, the only one that changes) in place of any
// snapshot not yet taken up. It returns the error of an earlier
// background save, if one failed.
func (s *stateSaver) offer(la *LastApplied, current string) error {
	if err := s.failed(); err != nil {
		return err
	}
	snap := snapshot(la, current)
	select {
	case <-s.next: // superseded
	default:
	}
	s.next <- snap
	return nil
}

// stop drops a snapshot not yet taken up (the caller's synchronous save
// that follows supersedes it), waits for the save under way and returns
// the first error.
func (s *stateSaver) stop() error {
	s.once.Do(func() {
		select {
		case <-s.next:
		default:
		}
		close(s.next)
	})
	<-s.done
	return s.failed()
}

// snapshot copies what apply changes in la: the maps, and the journal
// entry of the current plan. Users' Groups and ManagedGroups are shared:
// recordIndex replaces them rather than changing them in place.
func snapshot(la *LastApplied, current string) *LastApplied {
	c := *la
	c.Users = maps.Clone(la.Users)
	c.Missing = maps.Clone(la.Missing)
	c.Plans = maps.Clone(la.Plans)
	if rec, ok := c.Plans[current]; ok {
		rec.Outcomes = maps.Clone(rec.Outcomes)
		c.Plans[current] = rec
	}
	return &c
}

// appliedFromAccount is the last-applied record of an account as it is.
func appliedFromAccount(a Account) AppliedUser {
	u := AppliedUser{TargetID: a.ID, Groups: append([]string(nil), a.Groups...)}
	for _, uf := range userFields {
		uf.setLastApplied(&u, uf.Actual(a))
	}
	return u
}
