package ftrackstate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/state"
)

func lockInfo(id string) state.LockInfo {
	return state.LockInfo{ID: id, Operation: "apply", Who: "ci@runner", Version: "test", Created: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
}

func TestLockContention(t *testing.T) {
	s := newServer(t)
	a, b := newBackend(t, s), newBackend(t, s)
	ctx := context.Background()
	unlockA, err := a.Lock(ctx, lockInfo("lock-a"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A short wait gives up, naming the holder.
	_, err = b.Lock(ctx, lockInfo("lock-b"), 50*time.Millisecond)
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.ID != "lock-a" || le.Holder.Who != "ci@runner" {
		t.Fatalf("Lock while held: %v", err)
	}
	if !strings.Contains(err.Error(), "force-unlock lock-a") || !strings.Contains(err.Error(), b.Describe()) {
		t.Fatalf("the error names no remedy: %v", err)
	}
	// A long wait gets it once the holder lets go.
	got := make(chan error, 1)
	var unlockB func() error
	go func() {
		var err error
		unlockB, err = b.Lock(ctx, lockInfo("lock-b"), time.Minute)
		got <- err
	}()
	time.Sleep(30 * time.Millisecond) // let b wait a little (not a timing assertion: either order passes)
	if err := unlockA(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if v := metadata(s)[metaKey{apiID(), KeyLock}]; !strings.Contains(v, `"ID":"lock-b"`) || !strings.Contains(v, `"Expires"`) {
		t.Fatalf("lock value = %q", v)
	}
	if err := unlockB(); err != nil {
		t.Fatal(err)
	}
	if _, ok := metadata(s)[metaKey{apiID(), KeyLock}]; ok {
		t.Fatal("the lock is still there after unlock")
	}
}

func TestLockRenewedWhileHeld(t *testing.T) {
	s := newServer(t)
	a := newBackend(t, s, WithLockExpiry(4*time.Second))
	unlock, err := a.Lock(context.Background(), lockInfo("lock-a"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	first := metadata(s)[metaKey{apiID(), KeyLock}]
	deadline := time.Now().Add(20 * time.Second)
	for metadata(s)[metaKey{apiID(), KeyLock}] == first {
		if time.Now().After(deadline) {
			t.Fatal("the lock was never renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// expiredLock stores a lock left by a run that died an hour ago.
func expiredLock(t *testing.T, id string) string {
	t.Helper()
	v, err := marshal(lockValue{LockInfo: lockInfo(id), Expires: time.Now().Add(-time.Hour).UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestExpiredLockTakenOverByExactlyOne(t *testing.T) {
	for round := range 5 {
		s := newServer(t)
		setValue(t, s, apiID(), KeyLock, expiredLock(t, "dead-run"))
		const racers = 4
		var wg sync.WaitGroup
		errs := make([]error, racers)
		unlocks := make([]func() error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := newBackend(t, s, WithLockExpiry(100*time.Millisecond)) // watches the expired lock 50 ms
				<-start
				unlocks[i], errs[i] = b.Lock(context.Background(), lockInfo("racer-"+string(rune('a'+i))), 300*time.Millisecond)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			var le *state.LockedError
			switch {
			case err == nil:
				won++
			case errors.As(err, &le):
			default:
				t.Fatalf("round %d racer %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d racers took the expired lock over, want exactly 1 (%v)", round, won, errs)
		}
		for k := range metadata(s) {
			if strings.HasPrefix(k.key, takeoverPrefix) {
				t.Fatalf("round %d: takeover key %s left behind", round, k.key)
			}
		}
		for _, u := range unlocks {
			if u != nil {
				if err := u(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestStaleTakeoverKeyDoesNotBlockForever(t *testing.T) {
	s := newServer(t)
	setValue(t, s, apiID(), KeyLock, expiredLock(t, "dead-run"))
	// A run died between claiming the takeover and replacing the lock.
	setValue(t, s, apiID(), takeoverPrefix+"dead-run.1", expiredLock(t, "dead-taker"))
	unlock, err := newBackend(t, s, WithLockExpiry(100*time.Millisecond)).Lock(context.Background(), lockInfo("next"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestForceUnlock(t *testing.T) {
	s := newServer(t)
	a, b := newBackend(t, s), newBackend(t, s)
	ctx := context.Background()
	if err := b.ForceUnlock(ctx, "anything"); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("ForceUnlock of nothing: %v", err)
	}
	unlockA, err := a.Lock(ctx, lockInfo("lock-a"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctx, "lock-x"); err == nil || !strings.Contains(err.Error(), `"lock-a"`) || !strings.Contains(err.Error(), "nothing was released") {
		t.Fatalf("ForceUnlock of another id: %v", err)
	}
	if err := b.ForceUnlock(ctx, "lock-a"); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx, lockInfo("lock-b"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The first holder's unlock says its lock is gone and leaves b's alone.
	if err := unlockA(); err == nil || !strings.Contains(err.Error(), "lock-b") {
		t.Fatalf("unlock of a forced-away lock: %v", err)
	}
	if err := unlockB(); err != nil {
		t.Fatal(err)
	}
}

func TestGarbageLockCanBeForcedAway(t *testing.T) {
	s := newServer(t)
	setValue(t, s, apiID(), KeyLock, "\x1b[2Jnot json")
	b := newBackend(t, s)
	_, err := b.Lock(context.Background(), lockInfo("mine"), 30*time.Millisecond)
	var le *state.LockedError
	if !errors.As(err, &le) || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("Lock over a garbage lock: %v", err)
	}
	id := "invalid-" + chunkHash([]byte("\x1b[2Jnot json"))
	if !strings.Contains(err.Error(), "force-unlock "+id) {
		t.Fatalf("no remedy: %v", err)
	}
	if err := b.ForceUnlock(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}
