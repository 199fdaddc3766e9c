package state

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockSurvivesDeletionOfItsFile: while a run holds the lock, deleting
// PATH.lock (or the guard, or either again after the second run has
// created a new one) does not let another run take it; it waits, and
// gets the lock once the first lets go.
func TestLockSurvivesDeletionOfItsFile(t *testing.T) {
	for _, deleted := range []string{".lock", ".lock-guard"} {
		t.Run(deleted, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			s1, _ := Open(path)
			s2, _ := Open(path)
			unlock, err := s1.Lock(context.Background(), LockInfo{}, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path + deleted); err != nil {
				t.Fatal(err)
			}
			if u, err := s2.Lock(context.Background(), LockInfo{}, 300*time.Millisecond); err == nil {
				_ = u()
				t.Fatalf("a second Lock succeeded after %s was deleted while the first was held", deleted)
			} else if !strings.Contains(err.Error(), "locked by another ldapsync run") {
				t.Fatalf("second Lock: %v", err)
			}
			got := make(chan error, 1)
			go func() {
				u, err := s2.Lock(context.Background(), LockInfo{}, 5*time.Second)
				if err == nil {
					err = u()
				}
				got <- err
			}()
			select {
			case err := <-got:
				t.Fatalf("the waiting run got the lock while it was held: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
			if err := <-got; err != nil {
				t.Fatalf("after release: %v", err)
			}
		})
	}
}

// TestLockDeletionRace: runs that take the lock in turn while the lock
// file is deleted over and over never overlap (the double apply).
func TestLockDeletionRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	stop := make(chan struct{})
	var deleter sync.WaitGroup
	deleter.Add(1)
	go func() {
		defer deleter.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = os.Remove(path + ".lock")
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()
	var inside, most, turns atomic.Int32
	var runs sync.WaitGroup
	for range 4 {
		runs.Add(1)
		go func() {
			defer runs.Done()
			s, _ := Open(path)
			for range 25 {
				unlock, err := s.Lock(context.Background(), LockInfo{}, 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				turns.Add(1)
				if err := unlock(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	runs.Wait()
	close(stop)
	deleter.Wait()
	if most.Load() != 1 || turns.Load() != 100 {
		t.Fatalf("%d runs held the lock at once (%d turns)", most.Load(), turns.Load())
	}
}

// TestLockedMessage names the holder and says to wait; it never suggests
// deleting a lock file.
func TestLockedMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s1, _ := Open(path)
	s2, _ := Open(path)
	unlock, err := s1.Lock(context.Background(), LockInfo{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = s2.Lock(context.Background(), LockInfo{}, 100*time.Millisecond)
	if err == nil {
		t.Fatal("second Lock succeeded")
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("pid %d on host", os.Getpid()), path + ".lock", "wait for it", "never goes stale"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	for _, bad := range []string{"remove", "delete"} {
		if strings.Contains(strings.ToLower(msg), bad) {
			t.Errorf("message suggests to %s: %s", bad, msg)
		}
	}
	// A note the holder did not write is not repeated.
	if err := os.WriteFile(path+".lock", []byte("\x1b[31mforged\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Lock(context.Background(), LockInfo{}, 100*time.Millisecond); err == nil || strings.Contains(err.Error(), "forged") {
		t.Errorf("forged note: %v", err)
	}
}

// TestUnknownMembersSurviveSave: top-level members a later 1.x wrote are
// kept through Load and Save (for the same lineage), in name order after
// the known ones; the format_version written is this version's.
func TestUnknownMembersSurviveSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	src := `{
  "format_version": "1.7",
  "zeta_future": {"nested": [1, 2, {"k": "<v>"}]},
  "lineage": "lin-1",
  "serial": 4,
  "users": {},
  "alpha_future": "kept",
  "plans": {}
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(path)
	la, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	la.Serial = 5
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("written file is not JSON: %v\n%s", err, data)
	}
	if got["alpha_future"] != "kept" || fmt.Sprint(got["zeta_future"]) != "map[nested:[1 2 map[k:<v>]]]" || got["serial"] != 5.0 || got["format_version"] != FormatVersion {
		t.Fatalf("written:\n%s", data)
	}
	if !strings.HasSuffix(string(data), "\"alpha_future\": \"kept\",\n  \"zeta_future\": {\n    \"nested\": [\n      1,\n      2,\n      {\n        \"k\": \"<v>\"\n      }\n    ]\n  }\n}\n") {
		t.Errorf("layout:\n%s", data)
	}
	// Saved again by a fresh store (after Load), they are still there.
	s2, _ := Open(path)
	la2, err := s2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Save(la2); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Errorf("second save changed the file:\n%s", again)
	}
	// Another lineage (a state started afresh) does not inherit them.
	la2.Lineage = "lin-2"
	if err := s2.Save(la2); err != nil {
		t.Fatal(err)
	}
	if other, _ := os.ReadFile(path); strings.Contains(string(other), "future") {
		t.Errorf("members carried into another lineage:\n%s", other)
	}
}
