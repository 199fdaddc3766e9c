package ftrackstate

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
)

func TestTenThousandUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 users")
	}
	s := newServer(t)
	la := sample(t, putUsers(t, s, 10000))
	for i := 0; i < 10000; i += 10 {
		la.Missing[fmt.Sprintf("user%05d", i)] = time.Date(2024, 5, 1, 0, 0, i, 0, time.UTC)
	}
	withBigJournal(la, 30000)
	b := newBackend(t, s)
	s.Emulator.ResetStats()
	start := time.Now()
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	st := s.Emulator.Stats()
	t.Logf("first Save: %v, %d requests, %d operations", time.Since(start).Round(time.Millisecond), st.Requests, st.Operations)
	for k, v := range metadata(s) {
		if len(v) > maxChunk {
			t.Fatalf("%s on %s holds %d bytes, more than %d", k.key, k.parent, len(v), maxChunk)
		}
	}
	start = time.Now()
	got, err := newBackend(t, s).Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Load: %v", time.Since(start).Round(time.Millisecond))
	want := *la
	want.Exists = true
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("10,000 users do not round-trip (%d users, %d missing read)", len(got.Users), len(got.Missing))
	}
	// A journal snapshot after a batch of 100 changes.
	p := la.Plans[bigPlan]
	for i := range 100 {
		key := fmt.Sprintf("user%05d", 5000+i)
		u := la.Users[key]
		u.Email = "moved-" + u.Email
		la.Users[key] = u
		p.Outcomes[fmt.Sprintf("update %q", key)] = engine.OutcomeDone
	}
	s.Emulator.ResetStats()
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	st = s.Emulator.Stats()
	writes := st.Actions["create"] + st.Actions["update"] + st.Actions["delete"]
	t.Logf("snapshot after 100 changes: %d requests, %d writes", st.Requests, writes)
	if writes > 105 || st.Requests > 5 {
		t.Fatalf("a snapshot of 100 changed users wrote %d operations in %d requests", writes, st.Requests)
	}
}

// TestTargetIgnoresTheStateKeys: the target's reads and change execution
// see only the ownership marker, whatever the state keeps beside it.
func TestTargetIgnoresTheStateKeys(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	b := newBackend(t, s)
	unlock, err := b.Lock(context.Background(), lockInfo("l"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	tg, err := ftrack.NewTarget("studio", ftrack.Settings{ServerURL: s.URL, APIUser: testUser, APIKey: testKey, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := tg.ReadAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		want := "users" // putUsers' marker, and nothing from the state's keys
		if a.Username == testUser {
			want = "" // the API user holds the site's keys and no marker
		}
		if a.Owner != want || a.SourceID != "" {
			t.Fatalf("account %s reads as owned (%q, %q) from the state's keys", a.Username, a.Owner, a.SourceID)
		}
	}
	id := la.Users["user00000"].TargetID
	owner, email := "ldap", "new@example.com"
	res := tg.Execute(context.Background(), []engine.Change{{Action: engine.ActionAdopt, Key: "user00000", Address: "user.user00000", TargetID: id,
		After: &engine.Fields{Owner: &owner, Email: &email}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got, err := newBackend(t, s).Load()
	if err != nil || got.Users["user00000"].Email != la.Users["user00000"].Email {
		t.Fatalf("the target's change execution touched the state: %v", err)
	}
}

// BenchmarkLoad10k measures Load of 10,000 users with a 30,000-outcome
// journal (go test -run X -bench Load10k ./state/ftrackstate).
func BenchmarkLoad10k(b *testing.B) {
	s := newServer(b)
	la := putUsers(b, s, 10000)
	withBigJournal(la, 30000)
	if err := newBackend(b, s).Save(la); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := newBackend(b, s).Load(); err != nil {
			b.Fatal(err)
		}
	}
}
