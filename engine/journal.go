package engine

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// journal is apply's record of a run: the plan's journal entry and the
// last-applied view in the state, and the report. Every outcome goes
// through it, so the state, the report and the log say the same.
type journal struct {
	store  StateStore
	la     *LastApplied
	rec    AppliedPlan
	planID string
	now    time.Time
	idx    *recordIndex
	byID   map[string]*Account
	saver  *stateSaver
	log    func(Change, Outcome, error)
	rep    *ApplyReport
}

// openJournal prepares the journal of a run; nothing is saved yet.
func openJournal(req ApplyRequest, la *LastApplied, rec AppliedPlan, accounts []Account, now time.Time) *journal {
	byID := make(map[string]*Account, len(accounts))
	for i := range accounts {
		byID[accounts[i].ID] = &accounts[i]
	}
	if rec.Outcomes == nil {
		rec.Outcomes = map[string]Outcome{}
	}
	return &journal{store: req.State, la: la, rec: rec, planID: req.Plan.PlanID, now: now, idx: newRecordIndex(la), byID: byID,
		log: req.Log, rep: &ApplyReport{PlanID: req.Plan.PlanID}}
}

// begin records the plan as in progress and saves the state before the
// first write; later saves run in the background.
func (j *journal) begin(resume bool) error {
	if !resume {
		j.rec.StartedAt = j.now
	}
	j.la.Serial++
	j.rec.Serial = j.la.Serial
	j.rec.Status = PlanInProgress
	j.la.Plans[j.planID] = j.rec
	prunePlans(j.la, j.planID)
	if err := j.store.Save(j.la); err != nil {
		return fmt.Errorf("apply: saving state before the first change: %w", err)
	}
	j.saver = newStateSaver(j.store)
	return nil
}

// alreadyDone records a change found done before the run.
func (j *journal) alreadyDone(c Change) {
	j.rep.AlreadyDone.add(c.Action)
	if j.rec.Outcomes[ChangeID(c)] != OutcomeDone {
		j.rec.Outcomes[ChangeID(c)] = OutcomeAlreadyDone
	}
	j.idx.observe(c, j.byID)
	j.emit(c, OutcomeAlreadyDone, nil)
}

// done records an executed change.
func (j *journal) done(c Change) {
	j.rep.Executed.add(c.Action)
	j.setOutcome(c, OutcomeDone, nil)
	j.idx.record(c, j.byID)
	j.emit(c, OutcomeDone, nil)
}

// failed records a change that failed or was not attempted.
func (j *journal) failed(c Change, outcome Outcome, err error) {
	j.rep.Failed.add(c.Action)
	j.rep.Failures = append(j.rep.Failures, Result{Address: c.Address, Err: err})
	j.setOutcome(c, outcome, err)
	j.emit(c, outcome, err)
}

func (j *journal) setOutcome(c Change, o Outcome, err error) {
	id := ChangeID(c)
	j.rec.Outcomes[id] = o
	if err != nil {
		if j.rec.Errors == nil {
			j.rec.Errors = map[string]string{}
		}
		j.rec.Errors[id] = err.Error()
	} else if j.rec.Errors != nil {
		delete(j.rec.Errors, id)
	}
}

func (j *journal) emit(c Change, o Outcome, err error) {
	if j.log != nil {
		j.log(c, o, err)
	}
}

// batchDone offers the state after a batch to the background saver.
func (j *journal) batchDone() error {
	j.la.Plans[j.planID] = j.rec
	if err := j.saver.offer(j.la, j.planID); err != nil {
		return fmt.Errorf("apply: saving state after a batch (%d changes executed so far): %w", j.rep.Executed.Total(), err)
	}
	return nil
}

// finish records the run's end (applied when complete) and saves the
// state synchronously.
func (j *journal) finish(complete bool) error {
	if complete {
		j.rec.Status = PlanApplied
		j.rec.FinishedAt = j.now
	} else {
		j.rec.Status = PlanIncomplete
	}
	j.la.Plans[j.planID] = j.rec
	if err := j.saver.stop(); err != nil {
		return fmt.Errorf("apply: saving state after a batch (%d changes executed so far): %w", j.rep.Executed.Total(), err)
	}
	if err := j.store.Save(j.la); err != nil {
		return fmt.Errorf("apply: saving state: %w", err)
	}
	j.rep.Complete = complete // only once the state says so too
	return nil
}

// recordIndex updates the last-applied users from executed changes.
type recordIndex struct {
	la   *LastApplied
	byID map[string]string // target id -> key
	// manageRole says whether a role apply granted becomes managed: one
	// the configuration names, or any when the directory vouched for the
	// plan (an unverified edited plan must not make a hand-made role
	// managed, which the next honest plan would then remove everywhere).
	manageRole func(role string) bool
}

func newRecordIndex(la *LastApplied) *recordIndex {
	ix := &recordIndex{la: la, byID: map[string]string{}, manageRole: func(string) bool { return true }}
	for k, u := range la.Users {
		ix.byID[u.TargetID] = k
	}
	return ix
}

// observe records the account a change found already done as it is in
// ftrack: nothing of the plan's (a change that was not executed is not
// trusted), and no managed group (only an executed membership addition
// makes a group managed).
func (ix *recordIndex) observe(c Change, actual map[string]*Account) {
	if c.Action == ActionCreateGroup {
		return
	}
	a := actual[c.TargetID]
	if a == nil {
		return
	}
	if old, ok := ix.byID[c.TargetID]; ok && old != c.Key {
		delete(ix.la.Users, old)
	}
	ix.la.Users[c.Key] = appliedFromAccount(*a)
	ix.byID[c.TargetID] = c.Key
}

// record records an executed change in the last-applied view. A group
// ldapsync created is a managed group.
func (ix *recordIndex) record(c Change, actual map[string]*Account) {
	if c.Action == ActionCreateGroup {
		ix.la.ManagedGroups = withName(ix.la.ManagedGroups, c.Group)
		return
	}
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
		u.Groups = withName(u.Groups, c.Group)
		ix.la.ManagedGroups = withName(ix.la.ManagedGroups, c.Group)
	case ActionRemoveMembership:
		u.Groups = withoutName(u.Groups, c.Group)
	case ActionAddRole:
		u.Roles = withName(u.Roles, c.Role)
		if ix.manageRole(c.Role) {
			ix.la.ManagedRoles = withName(ix.la.ManagedRoles, c.Role)
		}
	case ActionRemoveRole:
		u.Roles = withoutName(u.Roles, c.Role)
	case ActionDeactivate:
		delete(ix.la.Missing, key)
	}
	ix.la.Users[key] = u
	ix.byID[c.TargetID] = key
}

// withName returns the sorted list with name in it, as a new slice when
// it adds one: a snapshot being saved in the background may share the
// old one, so lists are replaced, never changed in place.
func withName(list []string, name string) []string {
	i, found := slices.BinarySearch(list, name)
	if found {
		return list
	}
	return slices.Insert(slices.Clip(list), i, name)
}

// withoutName returns list without name, as a new slice (nil when empty).
func withoutName(list []string, name string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == name })
	if len(out) == 0 {
		return nil
	}
	return out
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
// entry of the current plan (its outcomes and errors). Users' Groups and ManagedGroups are shared:
// recordIndex replaces them rather than changing them in place.
func snapshot(la *LastApplied, current string) *LastApplied {
	c := *la
	c.Users = maps.Clone(la.Users)
	c.Missing = maps.Clone(la.Missing)
	c.Plans = maps.Clone(la.Plans)
	if rec, ok := c.Plans[current]; ok {
		rec.Outcomes = maps.Clone(rec.Outcomes)
		rec.Errors = maps.Clone(rec.Errors) // a failed change writes it while the saver encodes
		c.Plans[current] = rec
	}
	return &c
}

// appliedFromAccount is the last-applied record of an account as it is.
func appliedFromAccount(a Account) AppliedUser {
	u := AppliedUser{TargetID: a.ID, Groups: append([]string(nil), a.Groups...), Custom: maps.Clone(a.Custom)}
	for _, g := range a.Roles {
		u.Roles = append(u.Roles, g.Role)
	}
	for _, uf := range userFields {
		if uf.id == fUserType {
			continue // recorded only when a change writes it (the mapping gives it)
		}
		uf.setLastApplied(&u, uf.Actual(a))
	}
	return u
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
