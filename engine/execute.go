package engine

import (
	"context"
	"errors"
	"fmt"
)

// executor runs the pending changes through Target.Execute in batches
// of batchSize that never span two phases, in the safe order. With a
// target whose Execute may run concurrently, the next batch starts while
// the current one finishes (pipelining), as long as nothing failed yet
// and the two batches touch different users.
//
// Once an activation (create, reactivate) fails with ErrNoSeats, no
// further activation is attempted (nor the memberships and roles of a
// user not created); every other change still is. Those seat failures
// do not count towards max_errors: they are one cause, reported once
// (seatErr), and the next apply after seats are freed finishes them.
type executor struct {
	target    Target
	batchSize int
	pipeline  bool
	maxErrors int
	progress  func(done, total int)
	j         *journal
	pending   []Change
	// failedCreate names the users whose create failed: their other
	// changes are not attempted.
	failedCreate map[string]string
	failed       int
	// seatErr is the first ErrNoSeats an activation failed with; seatHeld
	// counts the changes failed or not attempted for want of a seat
	// (not in failed), seatCreate the users whose create they include.
	seatErr    error
	seatHeld   int
	seatCreate map[string]bool
}

func newExecutor(req ApplyRequest, j *journal) *executor {
	caps := req.Target.Capabilities()
	size := req.BatchSize
	if size <= 0 {
		size = caps.ExecuteBatch
	}
	if size <= 0 {
		size = 100
	}
	return &executor{target: req.Target, batchSize: size, pipeline: caps.ConcurrentExecute, maxErrors: req.MaxErrors,
		progress: req.Progress, j: j, failedCreate: map[string]string{}, seatCreate: map[string]bool{}}
}

// run executes pending and returns why it stopped early, if it did.
func (ex *executor) run(ctx context.Context, pending []Change) error {
	ex.pending = pending
	var ahead *inflightBatch
	for start := 0; start < len(pending); {
		cur := ahead
		ahead = nil
		if cur == nil {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("apply interrupted: %w", err)
			}
			cur = ex.launch(ctx, start, ex.batchEnd(start))
		}
		if ex.canPipeline(ctx, cur) {
			ahead = ex.launch(ctx, cur.end, ex.batchEnd(cur.end))
		}
		ex.collect(cur)
		start = cur.end
		// After the last batch Apply's final save follows at once: a
		// background save of the same state would only delay it.
		if start < len(pending) {
			if err := ex.j.batchDone(); err != nil {
				return err
			}
		}
		if ex.progress != nil {
			ex.progress(start, len(pending))
		}
		// A batch already running is finished (and journaled) first.
		if ahead == nil && ex.maxErrors > 0 && ex.failed > ex.maxErrors && start < len(pending) {
			return fmt.Errorf("apply stopped: %d changes failed, more than max_errors = %d; %d changes not attempted", ex.failed, ex.maxErrors, len(pending)-start)
		}
	}
	return nil
}

// batchEnd is where the batch starting at start ends: batchSize
// changes, never spanning two phases.
func (ex *executor) batchEnd(start int) int {
	end := min(start+ex.batchSize, len(ex.pending))
	for i := start + 1; i < end; i++ {
		if actionPhase(ex.pending[i].Action) != actionPhase(ex.pending[start].Action) {
			return i
		}
	}
	return end
}

// canPipeline reports whether the batch after cur may start now: the
// target is then not idle while cur's last requests finish and its
// outcomes are journaled. Only when nothing failed yet (so max_errors
// and not-attempted changes work as without it), within one phase, and
// when the next batch touches none of cur's users (their changes stay in
// order).
func (ex *executor) canPipeline(ctx context.Context, cur *inflightBatch) bool {
	p := ex.pending
	if !ex.pipeline || ex.failed > 0 || ex.seatErr != nil || cur.end >= len(p) || ctx.Err() != nil || actionPhase(p[cur.end].Action) != actionPhase(p[cur.start].Action) {
		return false
	}
	return disjointUsers(p[cur.start:cur.end], p[cur.end:ex.batchEnd(cur.end)])
}

// launch starts Execute on pending[start:end] less the changes whose
// create failed earlier (journaled as not attempted).
func (ex *executor) launch(ctx context.Context, start, end int) *inflightBatch {
	b := &inflightBatch{start: start, end: end, results: make(chan []Result, 1)}
	for _, c := range ex.pending[start:end] {
		if ex.seatErr != nil && isActivation(c.Action) {
			ex.seatHeld++
			if c.Action == ActionCreate {
				ex.failedCreate[c.TargetID], ex.seatCreate[c.TargetID] = c.Address+" was not created (no licence seat free)", true
			}
			ex.j.failed(c, OutcomeNotAttempted, fmt.Errorf("not attempted: no licence seat free in ftrack (an earlier activation failed: %v)", ex.seatErr))
			continue
		}
		if why, bad := ex.failedCreate[c.TargetID]; bad && c.Action != ActionCreate {
			if ex.seatCreate[c.TargetID] {
				ex.seatHeld++
			} else {
				ex.failed++
			}
			ex.j.failed(c, OutcomeNotAttempted, fmt.Errorf("not attempted: %s", why))
			continue
		}
		b.batch = append(b.batch, c)
	}
	if len(b.batch) == 0 { // every change was not attempted
		b.results <- nil
		return b
	}
	go func() { b.results <- ex.target.Execute(ctx, b.batch) }()
	return b
}

// collect waits for a batch and journals each change's outcome.
func (ex *executor) collect(b *inflightBatch) {
	results := <-b.results
	for i, c := range b.batch {
		var err error
		if i < len(results) {
			err = results[i].Err
			if results[i].Address != "" && results[i].Address != c.Address {
				err = fmt.Errorf("target returned the result for %s in place of %s", results[i].Address, c.Address)
			}
		} else {
			err = fmt.Errorf("target returned no result for this change")
		}
		if err != nil && isActivation(c.Action) && errors.Is(err, ErrNoSeats) {
			if ex.seatErr == nil {
				ex.seatErr = err
			}
			ex.seatHeld++
			ex.j.failed(c, OutcomeFailed, err)
			if c.Action == ActionCreate {
				ex.failedCreate[c.TargetID], ex.seatCreate[c.TargetID] = "creating "+c.Address+" failed: no licence seat free", true
			}
			continue
		}
		if err != nil {
			ex.failed++
			ex.j.failed(c, OutcomeFailed, err)
			if c.Action == ActionCreate {
				ex.failedCreate[c.TargetID] = "creating " + c.Address + " failed"
			}
			continue
		}
		ex.j.done(c)
	}
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
