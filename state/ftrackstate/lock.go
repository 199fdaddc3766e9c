package ftrackstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/state"
)

// The lock is the Metadata ldapsync.lock on the API user: ftrack refuses
// a second create of the same (parent, key), so whoever creates it holds
// it. Its value is the holder's state.LockInfo with an Expires time,
// renewed every quarter of the expiry while held, so that a crashed run's
// lock ends by itself.
//
// An expired lock (by this run's clock, and watched unrenewed by this run
// for half the expiry, whatever the clocks say) is taken over in three
// steps, so that of two runs
// taking it over at once only one wins: create ldapsync.lock.takeover.L.N
// (L names the expired lock, N counts attempts; only one create of a key
// succeeds), check that the lock is still the expired one, replace it,
// delete the takeover key. A run that crashed holding a takeover key
// stalls the next attempt only until that key expires (takeoverTTL); the
// attempt after uses N+1. Nothing is ever deleted and re-created under
// one name while runs race, so no run can mistake another's key for its
// own.

// takeoverTTL is how long a takeover key blocks other takeovers.
const takeoverTTL = time.Minute

// lockValue is the value of ldapsync.lock and of the takeover keys.
type lockValue struct {
	state.LockInfo
	Expires time.Time `json:"Expires"`
}

// heldLock is a lock this backend holds.
type heldLock struct {
	id   string
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	lost string // set when the renewal found the lock no longer ours
}

// lockEntry is ldapsync.lock as read: raw value, and the decoded holder
// (id "invalid-HASH" when the value does not decode).
type lockEntry struct {
	raw string
	v   lockValue
	ok  bool // decoded
}

// id is the lock's ID, or "invalid-HASH" for a value that does not
// decode or whose ID is not plain (letters, digits and dashes): another
// host wrote it, and it goes into messages and the force-unlock command
// the operator is told to run.
func (e lockEntry) id() string {
	if e.ok && safeName.MatchString(e.v.ID) {
		return e.v.ID
	}
	return "invalid-" + chunkHash([]byte(e.raw))
}

// Lock takes the state lock, waiting up to timeout (about every
// WithLockRetry) for a holder to let go or for its lock to expire.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo, timeout time.Duration) (func() error, error) {
	if info.ID == "" {
		info.ID = uuid.NewString()
	}
	if info.Path == "" {
		info.Path = b.Describe()
	}
	b.mu.Lock()
	_, err := b.userID(ctx)
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The holder's Expires is by its clock, and clocks differ: an expired
	// lock is taken over only after this run has also watched it stay the
	// same, unrenewed, for half the expiry by its own clock (a live holder
	// renews it every quarter), so a fast clock cannot take a live lock.
	var watched string
	var watchedSince time.Time
	stale := func(raw string) bool {
		if raw != watched {
			watched, watchedSince = raw, time.Now()
			return false
		}
		return time.Since(watchedSince) >= b.expiry/2
	}
	for {
		won, holder, err := b.tryLock(ctx, info, stale)
		if err != nil {
			return nil, fmt.Errorf("%s: locking: %w", b.Describe(), err)
		}
		if won != "" {
			return b.hold(info), nil
		}
		t := time.NewTimer(b.retry)
		select {
		case <-lctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: locking: %w", b.Describe(), ctx.Err())
			}
			return nil, b.lockedError(holder, time.Since(start).Round(time.Millisecond))
		case <-t.C:
		}
	}
}

// lockedError is the error of a lock held by holder.
func (b *Backend) lockedError(holder *lockEntry, waited time.Duration) error {
	le := &state.LockedError{Backend: b.Describe(), Waited: waited}
	if holder == nil {
		le.HolderText = "another ldapsync run"
		le.Remedy = "Wait for it to finish and try again"
		return le
	}
	id := holder.id()
	if holder.ok && id == holder.v.ID {
		h := holder.v.LockInfo
		le.Holder = &h
		le.Remedy = fmt.Sprintf("Wait for it to finish; if that run is gone for good (its lock expires at %s, and a run waiting longer than half the expiry after that takes it over), release it with: ldapsync state force-unlock %s",
			holder.v.Expires.UTC().Format(time.RFC3339), id)
	} else {
		le.HolderText = fmt.Sprintf("a lock whose value is not a plain lock (%d bytes, not shown: another host wrote it)", len(holder.raw))
		le.Remedy = "Release it with: ldapsync state force-unlock " + id
	}
	return le
}

// tryLock makes one attempt. It returns the value written when the lock
// is ours, else the holder (nil when the lock vanished meanwhile: try
// again).
func (b *Backend) tryLock(ctx context.Context, info state.LockInfo, stale func(raw string) bool) (string, *lockEntry, error) {
	mine, err := b.lockValue(info, b.expiry)
	if err != nil {
		return "", nil, err
	}
	_, err = b.c.Write(ctx, []ftrack.Operation{b.createOp(KeyLock, mine)})
	if err != nil && !errors.Is(err, ftrack.ErrDuplicate) {
		return "", nil, err
	}
	// Read back even after a success: a write retried after an unclear
	// answer counts a lock someone else created meanwhile as its own.
	cur, takeovers, err := b.readLock(ctx)
	if err != nil {
		return "", nil, err
	}
	if cur == nil {
		return "", nil, nil
	}
	if cur.ok && cur.v.ID == info.ID {
		return cur.raw, nil, nil
	}
	if cur.ok && stale(cur.raw) && b.now().After(cur.v.Expires) {
		won, err := b.takeOver(ctx, info, *cur, takeovers)
		if err != nil || won != "" {
			return won, nil, err
		}
	}
	return "", cur, nil
}

// lockValue encodes info with an expiry d from now.
func (b *Backend) lockValue(info state.LockInfo, d time.Duration) (string, error) {
	v, err := marshal(lockValue{LockInfo: info, Expires: b.now().Add(d).UTC().Truncate(time.Millisecond)}) // each renewal a new value
	return string(v), err
}

func (b *Backend) createOp(key, value string) ftrack.Operation {
	return ftrack.CreateOp("Metadata", []string{b.apiID, key}, map[string]any{"value": value, "parent_type": "User"})
}

// readLock reads ldapsync.lock (nil when absent) and the takeover keys.
func (b *Backend) readLock(ctx context.Context) (*lockEntry, map[string]string, error) {
	onAPI, _ := ftrack.Is("parent_id", b.apiID)
	var cur *lockEntry
	takeovers := map[string]string{}
	take := func(rows []ftrack.MetadataRow) {
		for _, m := range rows {
			switch {
			case m.ParentID != b.apiID:
			case m.Key == KeyLock:
				e := lockEntry{raw: m.Value}
				e.ok = json.Unmarshal([]byte(m.Value), &e.v) == nil
				cur = &e
			case strings.HasPrefix(m.Key, takeoverPrefix):
				takeovers[m.Key] = m.Value
			}
		}
	}
	err := b.c.QueryPages(ctx, func(_ int, rows []ftrack.Entity) error {
		for _, e := range rows {
			take([]ftrack.MetadataRow{ftrack.MetadataRowOf(e)})
		}
		return nil
	}, ftrack.MetadataQuery(onAPI+` and key like "`+KeyLock+`%"`, take))
	return cur, takeovers, err
}

// safeName matches a lock id usable as it is in a key.
var safeName = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// takeoverName is the part of the takeover keys naming the lock id.
func takeoverName(id string) string {
	if safeName.MatchString(id) {
		return id
	}
	return "h" + chunkHash([]byte(id))
}

// takeOver replaces the expired lock cur with ours, unless another run is
// doing so: see the comment at the top of this file.
func (b *Backend) takeOver(ctx context.Context, info state.LockInfo, cur lockEntry, takeovers map[string]string) (string, error) {
	prefix := takeoverPrefix + takeoverName(cur.id()) + "."
	n := 0
	var last string
	for k, v := range takeovers {
		if s, ok := strings.CutPrefix(k, prefix); ok {
			if i, err := strconv.Atoi(s); err == nil && i > n {
				n, last = i, v
			}
		}
	}
	if n > 0 {
		var lv lockValue
		if json.Unmarshal([]byte(last), &lv) == nil && !b.now().After(lv.Expires) {
			return "", nil // another run is taking it over
		}
	}
	key := prefix + strconv.Itoa(n+1)
	claim, err := b.lockValue(info, takeoverTTL)
	if err != nil {
		return "", err
	}
	if _, err := b.c.Write(ctx, []ftrack.Operation{b.createOp(key, claim)}); err != nil {
		if errors.Is(err, ftrack.ErrDuplicate) {
			return "", nil // another run won this attempt
		}
		return "", err
	}
	// Ours? (As for the lock: an unclear write's retry may count another's
	// key as its own.) And is the lock still the expired one?
	now, tk, err := b.readLock(ctx)
	if err != nil {
		return "", err
	}
	if tk[key] != claim {
		return "", nil
	}
	cleanup := func() {
		var ops []ftrack.Operation
		for k := range tk {
			if strings.HasPrefix(k, prefix) {
				ops = append(ops, ftrack.DeleteOp("Metadata", []string{b.apiID, k}))
			}
		}
		_, _ = b.c.Write(ctx, ops) // best effort: a stale takeover key only names an old lock
	}
	if now == nil || now.raw != cur.raw {
		cleanup()
		return "", nil
	}
	mine, err := b.lockValue(info, b.expiry)
	if err != nil {
		return "", err
	}
	if _, err := b.c.Write(ctx, []ftrack.Operation{ftrack.UpdateOp("Metadata", []string{b.apiID, KeyLock}, map[string]any{"value": mine})}); err != nil {
		return "", err
	}
	cleanup()
	return mine, nil
}

// hold starts renewing the lock and returns its unlock function. Save
// checks the lock is still held before it writes (stillHeld).
func (b *Backend) hold(info state.LockInfo) func() error {
	h := &heldLock{id: info.ID, stop: make(chan struct{}), done: make(chan struct{})}
	b.mu.Lock()
	b.held = h
	b.mu.Unlock()
	go b.renew(info, h)
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() { uerr = b.unlock(h) })
		return uerr
	}
}

// renew rewrites the lock's expiry every quarter of it while held.
func (b *Backend) renew(info state.LockInfo, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(max(b.expiry/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(b.expiry/4, time.Second))
		cur, _, err := b.readLock(ctx)
		if err == nil {
			if cur == nil || !cur.ok || cur.v.ID != h.id {
				h.mu.Lock()
				h.lost = "the lock was released or taken over while held"
				if cur != nil {
					h.lost = "the lock was taken over while held, now by lock " + quote(cur.id())
				}
				h.mu.Unlock()
				cancel()
				return
			}
			if v, verr := b.lockValue(info, b.expiry); verr == nil {
				_, _ = b.c.Write(ctx, []ftrack.Operation{ftrack.UpdateOp("Metadata", []string{b.apiID, KeyLock}, map[string]any{"value": v})})
			}
		}
		cancel() // a failed renewal is tried again at the next tick
	}
}

// unlock stops the renewal and deletes the lock if it is still ours.
func (b *Backend) unlock(h *heldLock) error {
	close(h.stop)
	<-h.done
	b.mu.Lock()
	if b.held == h {
		b.held = nil
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cur, _, err := b.readLock(ctx)
	if err != nil {
		return fmt.Errorf("%s: unlocking: %w", b.Describe(), err)
	}
	if cur == nil || !cur.ok || cur.v.ID != h.id {
		h.mu.Lock()
		lost := h.lost
		h.mu.Unlock()
		if lost == "" {
			lost = lostTo(cur)
		}
		return fmt.Errorf("%s: unlocking lock %s: %s; nothing was released", b.Describe(), quote(h.id), lost)
	}
	if _, err := b.c.Write(ctx, []ftrack.Operation{ftrack.DeleteOp("Metadata", []string{b.apiID, KeyLock})}); err != nil && !errors.Is(err, ftrack.ErrNotFound) {
		return fmt.Errorf("%s: unlocking: %w", b.Describe(), err)
	}
	return nil
}

// lostTo says what became of a lock this run held, found as cur (nil:
// absent) by a check other than the renewal's.
func lostTo(cur *lockEntry) string {
	if cur == nil {
		return "the lock was released by someone else while held"
	}
	return "the lock is now held by lock " + quote(cur.id())
}

// ForceUnlock deletes the lock when its id is id (the one a LockedError
// shows), and the takeover keys naming it; a lock of another id is left
// alone, and the error says whose it is.
func (b *Backend) ForceUnlock(ctx context.Context, id string) error {
	b.mu.Lock()
	_, err := b.userID(ctx)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	cur, tk, err := b.readLock(ctx)
	if err != nil {
		return fmt.Errorf("%s: force-unlock: %w", b.Describe(), err)
	}
	if cur == nil {
		return fmt.Errorf("%s is not locked: nothing to release", b.Describe())
	}
	if cur.id() != id {
		return fmt.Errorf("%s is locked by lock %s, not %s: nothing was released (check the id the error of the locked run shows)", b.Describe(), quote(cur.id()), quote(id))
	}
	ops := []ftrack.Operation{ftrack.DeleteOp("Metadata", []string{b.apiID, KeyLock})}
	prefix := takeoverPrefix + takeoverName(id) + "."
	for k := range tk {
		if strings.HasPrefix(k, prefix) {
			ops = append(ops, ftrack.DeleteOp("Metadata", []string{b.apiID, k}))
		}
	}
	if _, err := b.c.Write(ctx, ops); err != nil {
		return fmt.Errorf("%s: force-unlock: %w", b.Describe(), err)
	}
	return nil
}
