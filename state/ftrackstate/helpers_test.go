package ftrackstate

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

const (
	testUser = "api@example.com"
	testKey  = "SECRET-KEY-5a4b3c2d1e0f"
)

// newServer starts an emulator on loopback for the test.
func newServer(t testing.TB) *ftracktest.Server {
	t.Helper()
	s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey})
	t.Cleanup(s.Close)
	return s
}

func newClient(t testing.TB, s *ftracktest.Server) *ftrack.Client {
	t.Helper()
	c, err := ftrack.NewClient(ftrack.Options{ServerURL: s.URL, APIUser: testUser, APIKey: testKey, Timeout: 30 * time.Second,
		Retry: ftrack.RetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond, MaxElapsedTime: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newBackend(t testing.TB, s *ftracktest.Server, opts ...Option) *Backend {
	t.Helper()
	return New(newClient(t, s), testUser, append([]Option{WithLockRetry(10 * time.Millisecond)}, opts...)...)
}

// putUsers stores n ftrack users and returns a state managing them.
func putUsers(t testing.TB, s *ftracktest.Server, n int) *engine.LastApplied {
	t.Helper()
	la := engine.NewLastApplied(uuid.NewString())
	for i := range n {
		id := uuid.NewString()
		name := fmt.Sprintf("user%05d", i)
		if err := s.Emulator.Put("User", map[string]any{"id": id, "username": name, "is_active": true}); err != nil {
			t.Fatal(err)
		}
		// ldapsync owns the users it keeps state for: the marker beside the record.
		if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": id, "parent_type": "User", "key": ftrack.MetaOwner, "value": "users"}); err != nil {
			t.Fatal(err)
		}
		la.Users[name] = engine.AppliedUser{TargetID: id, SourceID: "src-" + name, Username: name, Email: name + "@example.com",
			FirstName: "F" + name, LastName: "L", Active: true, Groups: []string{"Artists", "Staff"}}
	}
	return la
}

// metadata returns the emulator's Metadata values by parent and key.
func metadata(s *ftracktest.Server) map[metaKey]string {
	out := map[metaKey]string{}
	for _, m := range s.Emulator.Entities("Metadata") {
		out[metaKey{m["parent_id"].(string), m["key"].(string)}] = m["value"].(string)
	}
	return out
}

func apiID() string { return ftracktest.APIUserID(testUser) }
