package ftrack

import (
	"context"
	"fmt"
	"testing"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// TestPagesOf checks the benchmark's page count against the requests of
// reads done one page at a time.
func TestPagesOf(t *testing.T) {
	s := newServer(t)
	n := siteUsers
	for _, add := range []int{0, 1, 2, 3, 4, 5, 10} {
		putUsersFrom(t, s, n, add)
		n += add
		for _, m := range []int{2, 3, 5, 7} {
			c, err := NewClient(Options{ServerURL: s.URL, APIUser: testUser, APIKey: testKey, Retry: fastRetry, PageSize: m, MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := c.Query(context.Background(), "select id from User")
			if err != nil || len(rows) != n {
				t.Fatalf("%d rows, %v; want %d", len(rows), err, n)
			}
			if got, want := int(c.Stats().Requests), pagesOf(n, m); got != want {
				t.Errorf("%d rows at page size %d: %d requests, pagesOf says %d", n, m, got, want)
			}
		}
	}
}

// putUsersFrom adds n users numbered from first.
func putUsersFrom(t *testing.T, s *ftracktest.Server, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		if err := s.Emulator.Put("User", map[string]any{"id": fmt.Sprintf("p%04d", i), "username": fmt.Sprintf("p%04d", i),
			"first_name": "F", "last_name": "L", "is_active": true}); err != nil {
			t.Fatal(err)
		}
	}
}
