package ftrack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// keyRecorder is a server that records every request it gets and whether
// it carried an ftrack-api-key header.
type keyRecorder struct {
	srv            *httptest.Server
	requests, keys atomic.Int32
}

func newKeyRecorder(t *testing.T) *keyRecorder {
	t.Helper()
	k := &keyRecorder{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.requests.Add(1)
		if r.Header.Get("ftrack-api-key") != "" {
			k.keys.Add(1)
		}
		fmt.Fprint(w, `[]`)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// TestRedirectIsRefused: a server_url that redirects (every redirect
// status, to another origin) gets an error naming the Location, is asked
// once (a refusal is not retried), and the redirect target receives no
// request, so no API key.
func TestRedirectIsRefused(t *testing.T) {
	other := newKeyRecorder(t)
	location := strings.Replace(other.srv.URL, "127.0.0.1", "localhost", 1) + "/api" // another origin
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var asked atomic.Int32
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				http.Redirect(w, r, location, status)
			}))
			defer redirector.Close()
			c := newClient(t, redirector.URL, 500)
			for name, call := range map[string]func() error{
				"read": func() error { _, err := c.Query(context.Background(), "select id from User"); return err },
				"write": func() error {
					_, err := c.Write(context.Background(), []Operation{CreateOp("User", []string{uuid.NewString()}, map[string]any{"username": "x"})})
					return err
				},
			} {
				asked.Store(0)
				err := call()
				var re *RedirectError
				if !errors.As(err, &re) || re.Status != status || re.Location != location || !strings.Contains(err.Error(), location) {
					t.Errorf("%s: got %v, want a RedirectError naming %s", name, err, location)
				}
				if asked.Load() != 1 {
					t.Errorf("%s: the redirecting server was asked %d times, want once (no retry)", name, asked.Load())
				}
			}
			if n := other.requests.Load(); n != 0 {
				t.Fatalf("the redirect target got %d requests (%d with the API key)", n, other.keys.Load())
			}
		})
	}
}

// TestErrorBodyRedactedBeforeCut: a non-JSON error body with the key at
// every offset around the cut never shows any four characters of it.
func TestErrorBodyRedactedBeforeCut(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", 500)
	for off := errorBodyPrefixLen - len(testKey) - 2; off <= errorBodyPrefixLen+2; off++ {
		for _, shrink := range []int{0, 10} {
			// shrink > 0 puts copies of the key early on, so the redacted
			// text is shorter than the body and more of it moves into view.
			body := strings.Repeat(testKey+" ", shrink) + strings.Repeat("x", off) + testKey + strings.Repeat("y", 500)
			_, err := c.parse(502, 0, []byte(body), 1)
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("offset %d: %v", off, err)
			}
			for i := 0; i+4 <= len(testKey); i++ {
				if strings.Contains(he.BodyPrefix, testKey[i:i+4]) {
					t.Fatalf("offset %d shrink %d: %q shows %q of the key", off, shrink, he.BodyPrefix, testKey[i:i+4])
				}
			}
			if !strings.HasSuffix(he.BodyPrefix, "…") || len(he.BodyPrefix) > errorBodyPrefixLen+len("(sensitive)")+len("…") {
				t.Fatalf("offset %d: prefix not cut: %d bytes", off, len(he.BodyPrefix))
			}
		}
	}
}

// TestShortKeyIsMasked: a key of two characters echoed by the server is
// masked where it stands as a word (it used to be left alone under 4).
func TestShortKeyIsMasked(t *testing.T) {
	const short = "k9"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprintf(w, `{"exception":"PermissionError","content":"key %s may not do that","error_code":null}`, r.Header.Get("ftrack-api-key"))
	}))
	defer srv.Close()
	c, err := NewClient(Options{ServerURL: srv.URL, APIUser: testUser, APIKey: short, Retry: RetryPolicy{MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(context.Background(), "select id from User")
	if err == nil || strings.Contains(err.Error(), " "+short+" ") || !strings.Contains(err.Error(), "key (sensitive) may not") {
		t.Fatalf("short key not masked: %v", err)
	}
}

// writeUsers creates n users through Write, batch users at a time, then
// updates each one's e-mail the same way; it returns the ids.
func writeUsers(t *testing.T, c *Client, n, batch int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	for _, action := range []string{"create", "update"} {
		for start := 0; start < n; start += batch {
			var ops []Operation
			for i := start; i < min(start+batch, n); i++ {
				if action == "create" {
					ops = append(ops, CreateOp("User", []string{ids[i]}, map[string]any{"username": fmt.Sprintf("u%03d", i), "is_active": true}))
				} else {
					ops = append(ops, UpdateOp("User", []string{ids[i]}, map[string]any{"email": fmt.Sprintf("u%03d@example.com", i)}))
				}
			}
			if _, err := c.Write(context.Background(), ops); err != nil {
				t.Fatalf("%s batch at %d: %v", action, start, err)
			}
		}
	}
	return ids
}

// checkUsers asserts ftrack holds exactly the users writeUsers wrote.
func checkUsers(t *testing.T, s *ftracktest.Server, ids []string) {
	t.Helper()
	byID := map[string]map[string]any{}
	names := map[string]bool{}
	for _, u := range s.Emulator.Entities("User") {
		if u["username"] == testUser {
			continue
		}
		name := fmt.Sprint(u["username"])
		if names[name] {
			t.Fatalf("username %s twice", name)
		}
		names[name] = true
		byID[fmt.Sprint(u["id"])] = u
	}
	if len(byID) != len(ids) {
		t.Fatalf("%d users in ftrack, want %d", len(byID), len(ids))
	}
	for i, id := range ids {
		if u := byID[id]; u == nil || u["email"] != fmt.Sprintf("u%03d@example.com", i) {
			t.Fatalf("user %d: %v", i, u)
		}
	}
}

// TestWriteUnderFailEverySecondRequest: against a server that fails every
// second request, every write finishes, in a bounded number of requests:
// a resend is the very next request, so it lands on a healthy one. With
// FailAfterApply the failing requests did the work first; the resend is
// then rejected as a duplicate, and only that ambiguous answer makes the
// client read back what is in place (done, not twice).
func TestWriteUnderFailEverySecondRequest(t *testing.T) {
	for _, afterApply := range []bool{false, true} {
		t.Run(fmt.Sprintf("after_apply=%v", afterApply), func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s.URL, 500)
			s.Emulator.SetFaults(ftracktest.Faults{FailEvery: 2, FailAfterApply: afterApply})
			const n, batch = 200, 10
			start := time.Now()
			ids := writeUsers(t, c, n, batch)
			elapsed := time.Since(start)
			st := s.Emulator.Stats()
			writes := 2 * n / batch
			perWrite := 2 // a failure, then the resend
			if afterApply {
				perWrite = 4 // applied+503, duplicate, read-back (503, then again)
			}
			t.Logf("%d writes of %d operations: %d requests (%d failed), %d client retries, %v", writes, batch, st.Requests, st.Unavailable, c.Stats().Retries, elapsed.Round(time.Millisecond))
			if st.Unavailable == 0 || st.Requests > int64(writes*perWrite) {
				t.Errorf("%d requests (%d failed) for %d writes, want at most %d each", st.Requests, st.Unavailable, writes, perWrite)
			}
			s.Emulator.SetFaults(ftracktest.Faults{})
			checkUsers(t, s, ids)
		})
	}
}

// TestExecuteUnderFailEverySecondRequest: apply's path (the Target, four
// requests in flight) completes a batch of creates and then updates with
// every result OK and nothing twice, while every second request fails.
func TestExecuteUnderFailEverySecondRequest(t *testing.T) {
	for _, afterApply := range []bool{false, true} {
		t.Run(fmt.Sprintf("after_apply=%v", afterApply), func(t *testing.T) {
			s := newServer(t)
			tg := newTarget(t, s.URL)
			ctx := context.Background()
			const n = 300
			creates := make([]engine.Change, n)
			for i := range creates {
				key := fmt.Sprintf("user%04d", i)
				creates[i] = createChange(key, key, "sid-"+key)
			}
			updates := make([]engine.Change, n)
			for i, c := range creates {
				updates[i] = engine.Change{Address: c.Address, Action: engine.ActionUpdate, Key: c.Key, TargetID: c.TargetID,
					After: &engine.Fields{Email: engine.Str(c.Key + "@example.org")}}
			}
			start := time.Now()
			s.Emulator.SetFaults(ftracktest.Faults{FailEvery: 2, FailAfterApply: afterApply})
			requireOK(t, tg.Execute(ctx, creates), creates)
			requireOK(t, tg.Execute(ctx, updates), updates)
			st := s.Emulator.Stats()
			s.Emulator.SetFaults(ftracktest.Faults{})
			t.Logf("%d creates and %d updates: %d requests (%d failed), %v; client %+v", n, n, st.Requests, st.Unavailable, time.Since(start).Round(time.Millisecond), tg.Stats())

			accts, err := tg.ReadAccounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			accts = withoutAPIUser(accts)
			if len(accts) != n || len(s.Emulator.Entities("User")) != siteUsers+n {
				t.Fatalf("%d accounts, %d users: want %d", len(accts), len(s.Emulator.Entities("User")), n)
			}
			got := map[string]string{}
			for _, a := range accts {
				got[a.ID] = a.Email
			}
			want := map[string]string{}
			for _, c := range creates {
				want[c.TargetID] = c.Key + "@example.org"
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("e-mails not as updated")
			}
		})
	}
}

// TestConcurrentWritesUnderFailEvery: writers sharing the failing server
// interleave their requests arbitrarily; all still finish.
func TestConcurrentWritesUnderFailEvery(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.URL, 500)
	s.Emulator.SetFaults(ftracktest.Faults{FailEvery: 3, FailAfterApply: true})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				op := CreateOp("User", []string{uuid.NewString()}, map[string]any{"username": fmt.Sprintf("w%d-%d", w, i), "is_active": true})
				if _, err := c.Write(context.Background(), []Operation{op}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(s.Emulator.Entities("User")); n != siteUsers+80 {
		t.Fatalf("%d users, want 80 and the API user", n)
	}
}
