package ftrackstate

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/state"
)

func TestTypeAndDescribe(t *testing.T) {
	s := newServer(t)
	b := newBackend(t, s)
	if b.Type() != "ftrack" {
		t.Fatalf("Type = %q", b.Type())
	}
	want := `ftrack state on the API user "api@example.com" at ` + s.URL
	if got := b.Describe(); got != want || strings.Contains(got, testKey) {
		t.Fatalf("Describe = %q, want %q", got, want)
	}
	var _ state.Backend = b
}

func TestLoadOfNothing(t *testing.T) {
	s := newServer(t)
	b := newBackend(t, s, WithIDGenerator(func() string { return "lineage-1" }))
	la, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	if la.Exists || la.Lineage != "lineage-1" || la.Serial != 0 || len(la.Users) != 0 || la.Plans == nil {
		t.Fatalf("Load of nothing = %+v", la)
	}
	again, err := b.Load()
	if err != nil || again.Lineage != "lineage-1" {
		t.Fatalf("second Load: %v %+v (the lineage of a state not saved yet must stay)", err, again)
	}
}

// sample is a state with users, a missing user, groups and a journal.
func sample(t testing.TB, la *engine.LastApplied) *engine.LastApplied {
	t.Helper()
	la.Serial = 7
	la.ManagedGroups = []string{"Artists", "Staff"}
	la.Missing = map[string]time.Time{"user00001": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	la.Plans["3f2b8c1e-0000-4000-8000-000000000001"] = engine.AppliedPlan{
		Status: engine.PlanIncomplete, BaseSerial: 5, Serial: 6, StartedAt: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC),
		Outcomes: map[string]engine.Outcome{`create "user00000"`: engine.OutcomeDone, `update "user00001"`: engine.OutcomeFailed},
		Errors:   map[string]string{`update "user00001"`: "ftrack: ValidationError: \x1b[31mbad\x00"},
	}
	la.Plans["3f2b8c1e-0000-4000-8000-000000000002"] = engine.AppliedPlan{
		Status: engine.PlanApplied, BaseSerial: 6, Serial: 7, StartedAt: time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2024, 5, 2, 9, 5, 0, 0, time.UTC), Outcomes: map[string]engine.Outcome{`create "user00002"`: engine.OutcomeAlreadyDone},
	}
	return la
}

func roundTrip(t *testing.T, b *Backend, la *engine.LastApplied) *engine.LastApplied {
	t.Helper()
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := *la
	want.Exists = true
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	return got
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	b := newBackend(t, s)
	if _, err := b.Load(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b, la)
	// A second backend (another run) reads the same.
	other, err := newBackend(t, s).Load()
	if err != nil {
		t.Fatal(err)
	}
	if other.Lineage != la.Lineage || len(other.Users) != 3 || other.Missing["user00001"].IsZero() || len(other.Plans) != 2 {
		t.Fatalf("another backend reads %+v", other)
	}
	// Where it lives: beside each user, and on the API user.
	md := metadata(s)
	for k, u := range la.Users {
		if v := md[metaKey{u.TargetID, KeyLastApplied}]; !strings.Contains(v, `"key":"`+k+`"`) || strings.Contains(v, u.TargetID) {
			t.Errorf("%s on %s = %q", KeyLastApplied, k, v)
		}
	}
	if v := md[metaKey{la.Users["user00001"].TargetID, KeyMissingSince}]; v != "2024-05-01T10:00:00Z" {
		t.Errorf("%s = %q", KeyMissingSince, v)
	}
	if _, ok := md[metaKey{apiID(), KeyState}]; !ok {
		t.Error("no site record on the API user")
	}
}

func TestSaveWithoutLoad(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	if err := newBackend(t, s).Save(la); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, newBackend(t, s), la)
}

func TestSaveWritesOnlyWhatChanged(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 300))
	b := newBackend(t, s)
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	count := func(f func()) int64 {
		s.Emulator.ResetStats()
		f()
		st := s.Emulator.Stats()
		return st.Actions["create"] + st.Actions["update"] + st.Actions["delete"]
	}
	if n := count(func() {
		if err := b.Save(la); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("a Save with nothing changed wrote %d operations", n)
	}
	u := la.Users["user00123"]
	u.Email = "new@example.com"
	la.Users["user00123"] = u
	if n := count(func() {
		if err := b.Save(la); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("a Save with one user changed wrote %d operations, want 1", n)
	}
	// A journal snapshot: one more outcome rewrites its last chunk and
	// header only, in one request beside nothing else.
	p := la.Plans["3f2b8c1e-0000-4000-8000-000000000001"]
	p.Outcomes[`create "user00200"`] = engine.OutcomeDone
	if n := count(func() {
		if err := b.Save(la); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		t.Fatalf("a journal snapshot wrote %d operations, want at most 3 (chunk, header, old chunk's delete)", n)
	}
	// And the same after a fresh Load by another backend.
	b2 := newBackend(t, s)
	if _, err := b2.Load(); err != nil {
		t.Fatal(err)
	}
	if n := count(func() {
		if err := b2.Save(la); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("a Save of what was loaded wrote %d operations", n)
	}
	roundTrip(t, b2, la)
}

func TestUsersWithoutAUserGoToTheOverflow(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	gone := la.Users["user00002"].TargetID
	la.Users["nobody"] = engine.AppliedUser{TargetID: "", Username: "nobody"}
	la.Users["deleted"] = engine.AppliedUser{TargetID: "5b0c8f7e-1111-4222-8333-444455556666", Username: "deleted"}
	la.Missing["deleted"] = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	la.Missing["nowhere"] = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	b := newBackend(t, s)
	roundTrip(t, b, la)
	// A user deleted in ftrack after a Save: the next Save finds out and
	// keeps its record in the overflow.
	if err := s.Emulator.Delete("User", gone); err != nil {
		t.Fatal(err)
	}
	u := la.Users["user00002"]
	u.Email = "changed@example.com"
	la.Users["user00002"] = u
	roundTrip(t, b, la)
}

func TestNewerFormatRefused(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 1))
	b := newBackend(t, s)
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	v := metadata(s)[metaKey{apiID(), KeyState}]
	setValue(t, s, apiID(), KeyState, strings.Replace(v, `"1.0"`, `"2.0"`, 1))
	_, err := newBackend(t, s).Load()
	if err == nil || !strings.Contains(err.Error(), "upgrade ldapsync") {
		t.Fatalf("Load of format 2.0: %v", err)
	}
}

// setValue replaces (or creates) a Metadata value by hand, as someone
// with write access to ftrack would.
func setValue(t *testing.T, s *ftracktest.Server, parent, key, value string) {
	t.Helper()
	_ = s.Emulator.Delete("Metadata", parent, key)
	if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": parent, "key": key, "value": value, "parent_type": "User"}); err != nil {
		t.Fatal(err)
	}
}

func TestUserRecordsWithoutSiteRecordAreNoState(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	if err := newBackend(t, s).Save(la); err != nil {
		t.Fatal(err)
	}
	// As if the first Save had crashed before its last step.
	if err := s.Emulator.Delete("Metadata", apiID(), KeyState); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, s)
	got, err := b.Load()
	if err != nil || got.Exists || len(got.Users) != 0 {
		t.Fatalf("Load without a site record: %v, exists %v, %d users", err, got.Exists, len(got.Users))
	}
	fresh := engine.NewLastApplied(got.Lineage)
	if err := b.Save(fresh); err != nil {
		t.Fatal(err)
	}
	for k := range metadata(s) {
		if perUser(k.key) {
			t.Fatalf("%s on %s outlives a Save of an empty state", k.key, k.parent)
		}
	}
}
