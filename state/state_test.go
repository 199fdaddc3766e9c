package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
)

func fixedID() func() string { return func() string { return "lineage-fixed" } }

func TestNewStateAndRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ldapsync.state.json")
	s, err := Open(path, WithIDGenerator(fixedID()))
	if err != nil {
		t.Fatal(err)
	}
	la, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if la.Lineage != "lineage-fixed" || la.Serial != 0 || len(la.Users) != 0 {
		t.Fatalf("new state: %+v", la)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Load of a new state must not create the file")
	}
	la.Serial = 3
	la.Users["alice"] = engine.AppliedUser{TargetID: "id-a", Username: "alice", Email: "a@example.com", Active: true, Groups: []string{"Artists"}}
	la.Missing = map[string]time.Time{"bob": time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	la.Plans["p1"] = engine.AppliedPlan{Status: engine.PlanApplied, Serial: 3, Outcomes: map[string]engine.Outcome{"create user.alice": engine.OutcomeDone}}
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if !bytes.HasPrefix(first, []byte("{\n  \"format_version\": \"1.0\",\n  \"lineage\": \"lineage-fixed\",\n  \"serial\": 3,")) {
		t.Fatalf("file layout:\n%s", first)
	}
	s2, _ := Open(path, WithIDGenerator(func() string { return "other" }))
	back, err := s2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if back.Lineage != "lineage-fixed" || back.Users["alice"].Groups[0] != "Artists" || !back.Missing["bob"].Equal(la.Missing["bob"]) || back.Plans["p1"].Outcomes["create user.alice"] != "done" {
		t.Fatalf("round trip: %+v", back)
	}
	// Deterministic: saving the same view again writes the same bytes.
	if err := s2.Save(back); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Fatalf("not deterministic:\n%s\n%s", first, second)
	}
}

func TestAtomicSaveKeepsBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	s, _ := Open(path, WithIDGenerator(fixedID()))
	la, _ := s.Load()
	la.Serial = 1
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	v1, _ := os.ReadFile(path)
	la.Serial = 2
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	bak, err := os.ReadFile(path + ".backup")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bak, v1) {
		t.Fatalf("backup is not the previous version:\n%s", bak)
	}
	cur, _ := s.Load()
	if cur.Serial != 2 {
		t.Fatalf("serial %d", cur.Serial)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
	// A failed save (directory not writable) leaves the current file intact.
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		la.Serial = 3
		if err := s.Save(la); err == nil {
			t.Fatal("save into a read-only directory succeeded")
		}
		cur, err := s.Load()
		if err != nil || cur.Serial != 2 {
			t.Fatalf("after a failed save: %v %+v", err, cur)
		}
	}
}

func TestCorruptAndNewerFormat(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ content, want string }{
		"corrupt":    {`{"format_version": "1.0", "lineage": "x", "serial": `, "is corrupt (not valid JSON"},
		"truncated":  {``, "is corrupt"},
		"newer":      {`{"format_version": "2.1", "lineage": "x", "serial": 1}`, "has format_version 2.1, newer than this ldapsync understands (1.0); upgrade ldapsync"},
		"no lineage": {`{"format_version": "1.0", "serial": 1}`, "has no lineage"},
		"wrong type": {`{"format_version": "1.0", "lineage": "x", "serial": "one"}`, "is corrupt"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want it to name %s and say %q", err, path, tc.want)
			}
		})
	}
	// A minor bump with extra fields is read.
	path := filepath.Join(dir, "minor.json")
	_ = os.WriteFile(path, []byte(`{"format_version": "1.4", "lineage": "x", "serial": 5, "future": {"a": 1}}`), 0o600)
	s, _ := Open(path)
	la, err := s.Load()
	if err != nil || la.Serial != 5 || la.Users == nil || la.Plans == nil {
		t.Fatalf("minor bump: %v %+v", err, la)
	}
}

func TestLockContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s1, _ := Open(path)
	s2, _ := Open(path)
	unlock, err := s1.Lock(context.Background(), LockInfo{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Lock(context.Background(), LockInfo{}, 200*time.Millisecond)
	if err == nil {
		t.Fatal("second lock succeeded while the first is held")
	}
	if !strings.Contains(err.Error(), path+".lock") || !strings.Contains(err.Error(), "locked by another ldapsync run") {
		t.Fatalf("lock error does not name the lock file: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := s2.Lock(context.Background(), LockInfo{}, time.Second)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = unlock2()

	// A cancelled context ends the wait with the context's error.
	unlock, _ = s1.Lock(context.Background(), LockInfo{}, time.Second)
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s2.Lock(ctx, LockInfo{}, time.Minute); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// TestStoreSatisfiesEngine checks the interface and that the lineage survives reopening.
func TestStoreSatisfiesEngine(t *testing.T) {
	var _ engine.StateStore = (*Store)(nil)
	path := filepath.Join(t.TempDir(), "state.json")
	s, _ := Open(path)
	la, _ := s.Load()
	lineage := la.Lineage
	la.Serial++
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(path)
	back, _ := s2.Load()
	if back.Lineage != lineage {
		t.Fatalf("lineage changed across opens: %s -> %s", lineage, back.Lineage)
	}
}

// TestUnknownEntryMembersSurviveSave: members a later 1.x wrote inside a
// user record and a plan entry are kept through Load and Save beside the
// updated known fields; an entry the apply removed loses them.
func TestUnknownEntryMembersSurviveSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	src := `{
  "format_version": "1.3",
  "lineage": "lin-1",
  "serial": 4,
  "users": {
    "alice": {"target_id": "id-a", "username": "alice", "email": "old@example.com", "first_name": "A", "last_name": "S", "active": true,
      "future_photo": {"hash": "sha256:ab", "sizes": [1, 2]}, "Future_Flag": true},
    "b\u00e9a": {"target_id": "id-b", "username": "b\u00e9a", "email": "b@example.com", "first_name": "", "last_name": "", "active": true, "zz_note": "x\"}{,"},
    "carol": {"target_id": "id-c", "username": "carol", "email": "c@example.com", "first_name": "", "last_name": "", "active": false, "gone_with_carol": 1}
  },
  "plans": {
    "p1": {"status": "incomplete", "base_serial": 3, "serial": 4, "started_at": "2026-03-01T12:00:00Z", "outcomes": {"create user.alice": "done"}, "future_retries": [3]}
  },
  "future_top": "kept"
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
	u := la.Users["alice"]
	u.Email = "new@example.com"
	la.Users["alice"] = u
	delete(la.Users, "carol")
	p := la.Plans["p1"]
	p.Status = engine.PlanApplied
	p.Serial = 5
	la.Plans["p1"] = p
	if err := s.Save(la); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got struct {
		Serial int64                     `json:"serial"`
		Users  map[string]map[string]any `json:"users"`
		Plans  map[string]map[string]any `json:"plans"`
		Top    string                    `json:"future_top"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("written file is not JSON: %v\n%s", err, data)
	}
	alice, bea, p1 := got.Users["alice"], got.Users["b\u00e9a"], got.Plans["p1"]
	if got.Serial != 5 || alice["email"] != "new@example.com" || fmt.Sprint(alice["future_photo"]) != "map[hash:sha256:ab sizes:[1 2]]" || alice["Future_Flag"] != true {
		t.Errorf("alice:\n%s", data)
	}
	if bea["zz_note"] != "x\"}{," || p1["status"] != engine.PlanApplied || p1["serial"] != 5.0 || fmt.Sprint(p1["future_retries"]) != "[3]" || got.Top != "kept" {
		t.Errorf("b\u00e9a, p1 or top level:\n%s", data)
	}
	if _, ok := got.Users["carol"]; ok || strings.Contains(string(data), "gone_with_carol") {
		t.Errorf("a removed user's members survived:\n%s", data)
	}
	if !strings.Contains(string(data), "\"active\": true,\n      \"Future_Flag\": true,\n      \"future_photo\": {\n        \"hash\": \"sha256:ab\",\n        \"sizes\": [\n          1,\n          2\n        ]\n      }\n    },\n") {
		t.Errorf("layout:\n%s", data)
	}
	// The engine reads the file this version wrote; a fresh store keeps
	// the members again, byte for byte.
	s2, _ := Open(path)
	la2, err := s2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if la2.Users["alice"].Email != "new@example.com" || la2.Plans["p1"].Status != engine.PlanApplied {
		t.Fatalf("reload: %+v", la2)
	}
	if err := s2.Save(la2); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Errorf("second save changed the file:\n%s\n%s", data, again)
	}
	// Another lineage does not inherit them.
	la2.Lineage = "lin-2"
	if err := s2.Save(la2); err != nil {
		t.Fatal(err)
	}
	if other, _ := os.ReadFile(path); strings.Contains(string(other), "uture") || strings.Contains(string(other), "zz_note") {
		t.Errorf("members carried into another lineage:\n%s", other)
	}
}

// BenchmarkLoadSave100k: Load and Save of a state of 100,000 users with no
// unknown members (the common case; the search for them is one pass over
// the bytes).
func BenchmarkLoadSave100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.json")
	s, _ := Open(path, WithIDGenerator(fixedID()))
	la, _ := s.Load()
	for i := range 100_000 {
		k := fmt.Sprintf("user%06d", i)
		la.Users[k] = engine.AppliedUser{TargetID: "id-" + k, SourceID: "src-" + k, Username: k, Email: k + "@example.com", FirstName: "First", LastName: "Last", Active: true, Groups: []string{"Artists", "Staff"}}
	}
	la.Plans["p1"] = engine.AppliedPlan{Status: engine.PlanApplied, Serial: 3, Outcomes: map[string]engine.Outcome{"create user.alice": engine.OutcomeDone}}
	if err := s.Save(la); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s2, _ := Open(path)
		got, err := s2.Load()
		if err != nil {
			b.Fatal(err)
		}
		if err := s2.Save(got); err != nil {
			b.Fatal(err)
		}
	}
}
