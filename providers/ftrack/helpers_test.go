package ftrack

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

const (
	testUser = "api@example.com"
	testKey  = "SECRET-KEY-0f1e2d3c4b5a"
)

// siteUsers is how many Users an emulator holds before a test adds any:
// the API user's (testUser), as on a real site.
const siteUsers = 1

// withoutAPIUser returns accts less the API user's account. ReadAccounts
// reads every User, the one the target signs in as too; tests that check
// what they wrote leave it out (the engine holds it back).
func withoutAPIUser(accts []engine.Account) []engine.Account {
	out := make([]engine.Account, 0, len(accts))
	for _, a := range accts {
		if a.Username != testUser {
			out = append(out, a)
		}
	}
	return out
}

// newServer starts an emulator on loopback for the test.
func newServer(t *testing.T) *ftracktest.Server {
	t.Helper()
	s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey})
	t.Cleanup(s.Close)
	return s
}

// fastRetry retries often and quickly, for tests.
var fastRetry = RetryPolicy{MaxRetries: 25, InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: 30 * time.Second}

func newClient(t *testing.T, url string, page int) *Client {
	t.Helper()
	c, err := NewClient(Options{ServerURL: url, APIUser: testUser, APIKey: testKey, Retry: fastRetry, PageSize: page, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testSettings(url string) Settings {
	return Settings{
		ServerURL: url, APIUser: testUser, APIKey: testKey,
		BatchSize: 100, Parallelism: 4, Timeout: 10 * time.Second, MaxRetries: 25, CreateGroups: true,
		RetryInitialInterval: time.Millisecond, RetryMaxElapsed: 30 * time.Second,
	}
}

func newTarget(t *testing.T, url string) *Target {
	t.Helper()
	tg, err := NewTarget("studio", testSettings(url))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// putUsers stores n users user0000.. directly in the emulator.
func putUsers(t *testing.T, s *ftracktest.Server, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = uuid.NewString()
		err := s.Emulator.Put("User", map[string]any{
			"id": ids[i], "username": fmt.Sprintf("user%04d", i), "email": fmt.Sprintf("user%04d@example.com", i),
			"first_name": "F", "last_name": "L", "is_active": true,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}
