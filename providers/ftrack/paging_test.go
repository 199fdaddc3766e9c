package ftrack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// hooked serves the emulator over real HTTP and calls before with the
// number (from 1) of each request as it arrives, before the emulator sees
// it; it also records how many requests were in flight at most.
type hooked struct {
	e        *ftracktest.Emulator
	before   func(n int)
	n        atomic.Int64
	inFlight atomic.Int64
	most     atomic.Int64
	// onBody, when set, sees each request's body before the emulator.
	onBody func(body []byte)
}

func (h *hooked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.n.Add(1)
	cur := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	for m := h.most.Load(); cur > m && !h.most.CompareAndSwap(m, cur); m = h.most.Load() {
	}
	if h.before != nil {
		h.before(int(n))
	}
	if h.onBody != nil {
		body, _ := io.ReadAll(r.Body)
		h.onBody(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.e.ServeHTTP(w, r)
}

func newHooked(t *testing.T, before func(n int)) (*ftracktest.Emulator, *hooked, string) {
	t.Helper()
	e := ftracktest.New(ftracktest.Options{APIUser: testUser, APIKey: testKey})
	h := &hooked{e: e, before: before}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return e, h, srv.URL
}

func newPagingClient(t *testing.T, url string, page, par int) *Client {
	t.Helper()
	c, err := NewClient(Options{ServerURL: url, APIUser: testUser, APIKey: testKey, Retry: fastRetry, PageSize: page, MaxConns: par, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedIDs stores users with the given ids (username = "u" + id).
func seedIDs(t *testing.T, e *ftracktest.Emulator, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := e.Put("User", map[string]any{"id": id, "username": "u" + id, "email": id + "@example.com",
			"first_name": "F", "last_name": "L", "is_active": true}); err != nil {
			t.Fatal(err)
		}
	}
}

func userIDs(t *testing.T, e *ftracktest.Emulator) []string {
	t.Helper()
	var ids []string
	for _, u := range e.Entities("User") {
		ids = append(ids, u["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// TestQueryPagesExactRows reads sites whose size the page size divides
// and does not divide, through the flat and the general decoders, with
// one and several requests in flight, and wants every row once, in order.
func TestQueryPagesExactRows(t *testing.T) {
	for _, total := range []int{1, 2, 9, 10, 11, 99, 100, 101, 397} {
		e, h, url := newHooked(t, nil)
		var ids []string
		for i := 1; i < total; i++ { // and the API user
			ids = append(ids, fmt.Sprintf("id%05d", i))
		}
		seedIDs(t, e, ids...)
		want := userIDs(t, e)
		for _, page := range []int{2, 3, 9, 10, 11, 100, 500} {
			for _, par := range []int{1, 4} {
				c := newPagingClient(t, url, page, par)
				got, err := c.Query(context.Background(), "select id, username from User")
				if err != nil {
					t.Fatal(err)
				}
				var gotIDs []string
				for _, r := range got {
					gotIDs = append(gotIDs, r.String("id"))
				}
				if !slices.Equal(gotIDs, want) {
					t.Fatalf("%d rows, page %d, parallelism %d: got %d ids %v, want %d", total, page, par, len(gotIDs), gotIDs, len(want))
				}
				st := settingsFor(url, page, par)
				for _, noFlat := range []bool{false, true} {
					noFlatDecode = noFlat
					tg, err := NewTarget("studio", st)
					if err != nil {
						t.Fatal(err)
					}
					accts, err := tg.ReadAccounts(context.Background())
					noFlatDecode = false
					if err != nil {
						t.Fatal(err)
					}
					var aids []string
					for _, a := range accts {
						aids = append(aids, a.ID)
					}
					slices.Sort(aids)
					if !slices.Equal(aids, want) {
						t.Fatalf("ReadAccounts (%d rows, page %d, parallelism %d, general decoder %v): %d accounts, want %d", total, page, par, noFlat, len(aids), len(want))
					}
				}
			}
		}
		if total > 100 && h.most.Load() < 2 {
			t.Errorf("%d rows: at most %d requests in flight; pages were not read in parallel", total, h.most.Load())
		}
	}
}

func settingsFor(url string, page, par int) Settings {
	st := testSettings(url)
	st.PageSize, st.Parallelism = page, par
	return st
}

// TestQueryOnePageOneRequest: a read that fits a page costs one request
// (the other requests go only once the first showed more to come).
func TestQueryOnePageOneRequest(t *testing.T) {
	e, h, url := newHooked(t, nil)
	seedIDs(t, e, "a", "b", "c")
	c := newPagingClient(t, url, 10, 4)
	rows, err := c.Query(context.Background(), "select id from User")
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("%d requests for one page", n)
	}
}

// TestQueryChangesDuringRead changes the users while they are read, page
// by page, at random moments: users added or removed before, inside and
// after the part already read. Whatever happens, a read returns each row
// at most once, every row that existed throughout the read, and no row
// that never existed; a read through QueryPages that cannot promise this
// fails with ErrChanged. (The sequential read this replaced skipped a row
// for every row removed before its cursor, silently, and returned a row
// twice for every row added there.)
func TestQueryChangesDuringRead(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	changed := 0
	for trial := range 60 {
		page := []int{3, 5, 8, 10}[trial%4]
		par := []int{1, 2, 4}[trial%3]
		var mu sync.Mutex
		ever := map[string]bool{}    // every id that existed at some time
		gone := map[string]bool{}    // ids removed during the read
		var mutations map[int]func() // by request number
		e, _, url := newHooked(t, func(n int) {
			mu.Lock()
			f := mutations[n]
			mu.Unlock()
			if f != nil {
				f()
			}
		})
		var ids []string
		for i := range 40 {
			ids = append(ids, fmt.Sprintf("id%03d", 10*i+5))
		}
		seedIDs(t, e, ids...)
		for _, id := range userIDs(t, e) {
			ever[id] = true
		}
		mutations = map[int]func(){}
		for range 1 + rng.Intn(4) {
			n := 1 + rng.Intn(8)
			var f func()
			if rng.Intn(2) == 0 { // remove a random user
				f = func() {
					cur := userIDs(t, e)
					mu.Lock()
					defer mu.Unlock()
					var cands []string
					for _, id := range cur {
						if id != APIUserIDForTest() {
							cands = append(cands, id)
						}
					}
					if len(cands) == 0 {
						return
					}
					id := cands[rng.Intn(len(cands))]
					if err := e.Delete("User", id); err == nil {
						gone[id] = true
					}
				}
			} else { // add one anywhere in the order
				f = func() {
					mu.Lock()
					defer mu.Unlock()
					id := fmt.Sprintf("id%03d", rng.Intn(400))
					if ever[id] {
						return
					}
					ever[id] = true
					gone[id] = true // not there throughout
					seedIDs(t, e, id)
				}
			}
			prev := mutations[n]
			mutations[n] = func() {
				if prev != nil {
					prev()
				}
				f()
			}
		}
		c := newPagingClient(t, url, page, par)
		var got []string
		err := c.QueryPages(context.Background(), func(_ int, rows []Entity) error {
			for _, r := range rows {
				got = append(got, r.String("id"))
			}
			return nil
		}, PagedQuery{Expression: "select id, username from User"})
		mu.Lock()
		switch {
		case errors.Is(err, ErrChanged):
			changed++
		case err != nil:
			t.Fatalf("trial %d: %v", trial, err)
		default:
			checkRead(t, fmt.Sprintf("trial %d (page %d, parallelism %d), QueryPages", trial, page, par), got, ever, gone)
		}
		// Query reads again after ErrChanged; the mutations are spent by
		// then (or happen during the next read, which checks the same).
		mu.Unlock()
		rows, err := c.Query(context.Background(), "select id, username from User")
		if err != nil {
			t.Fatalf("trial %d: Query: %v", trial, err)
		}
		mu.Lock()
		got = got[:0]
		for _, r := range rows {
			got = append(got, r.String("id"))
		}
		checkRead(t, fmt.Sprintf("trial %d, Query", trial), got, ever, gone)
		if !slices.Equal(got, userIDs(t, e)) { // the mutations are spent: a steady read
			t.Fatalf("trial %d: Query after the changes: %v, want %v", trial, got, userIDs(t, e))
		}
		mu.Unlock()
	}
	t.Logf("%d of 60 reads saw the rows move and failed with ErrChanged", changed)
	if changed == 0 {
		t.Error("no read saw the rows move; the test changes nothing that matters")
	}
}

// APIUserIDForTest is the emulator's API user id.
func APIUserIDForTest() string { return ftracktest.APIUserID(testUser) }

// checkRead wants got in order, without repeats, holding every id of
// ever not in gone (the rows there throughout) and nothing outside ever.
func checkRead(t *testing.T, what string, got []string, ever, gone map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for i, id := range got {
		if seen[id] {
			t.Fatalf("%s: %s returned twice", what, id)
		}
		seen[id] = true
		if !ever[id] {
			t.Fatalf("%s: %s never existed", what, id)
		}
		if i > 0 && got[i-1] >= id {
			t.Fatalf("%s: not in order at %d: %s after %s", what, i, id, got[i-1])
		}
	}
	for id := range ever {
		if !gone[id] && !seen[id] {
			t.Fatalf("%s: %s was there throughout and is missing (read %v)", what, id, got)
		}
	}
}

// TestReadAccountsWhileUsersChange removes a user early in a read:
// ReadAccounts reads again and returns the site as it is, each account
// once.
func TestReadAccountsWhileUsersChange(t *testing.T) {
	var victim string
	e, h, url := newHooked(t, nil)
	var (
		mu      sync.Mutex
		once    sync.Once
		deleted bool
		starts  int // requests that ask for the User query's first page
	)
	// The first user goes while the User query is being paged: once its
	// second page is asked for, whatever else is in flight.
	h.onBody = func(body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if bytes.Contains(body, []byte("from User order by id offset 0 ")) {
			starts++
		}
		if bytes.Contains(body, []byte("from User order by id offset 6 ")) {
			once.Do(func() { deleted = e.Delete("User", victim) == nil })
		}
	}
	reads := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := starts
		starts = 0
		return n
	}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("id%03d", i))
	}
	seedIDs(t, e, ids...)
	victim = ids[0]
	tg, err := NewTarget("studio", settingsFor(url, 7, 4))
	if err != nil {
		t.Fatal(err)
	}
	accts, err := tg.ReadAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range accts {
		got = append(got, a.ID)
	}
	slices.Sort(got)
	if want := userIDs(t, e); !deleted || !slices.Equal(got, want) {
		t.Fatalf("accounts %v, want %v (deleted during the read: %t)", got, want, deleted)
	}
	// Counted by what was asked, not by how many requests: speculative
	// pages make the number of requests of a read vary.
	if n := reads(); n < 2 {
		t.Fatalf("the User query was started %d times during a read the deletion changed: the read was not repeated", n)
	}
	if _, err := tg.ReadAccounts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := reads(); n != 1 {
		t.Fatalf("a steady read started the User query %d times, want 1", n)
	}
}

// TestParallelReadUnderFaults reads accounts with several requests in
// flight while the server answers 503 to some, rate-limits others and
// drops a connection: the accounts are those of a read without faults.
func TestParallelReadUnderFaults(t *testing.T) {
	s := newServer(t)
	ids := putUsers(t, s, 300)
	for i, id := range ids {
		if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": id, "key": MetaOwner, "value": "users", "parent_type": "User"}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := s.Emulator.Put("Group", map[string]any{"id": fmt.Sprintf("g%03d", i), "name": fmt.Sprintf("g%03d", i)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Emulator.Put("Membership", map[string]any{"user_id": id, "group_id": fmt.Sprintf("g%03d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := settingsFor(s.URL, 17, 4)
	read := func() []engine.Account {
		t.Helper()
		tg, err := NewTarget("studio", st)
		if err != nil {
			t.Fatal(err)
		}
		accts, err := tg.ReadAccounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return accts
	}
	want := read()
	for _, f := range []ftracktest.Faults{
		{ErrorRate: 0.3, Seed: 3},
		{FailEvery: 2},
		{RateLimitEvery: 3, RetryAfter: -1},
		{DropAfterOperations: 40},
		{ErrorRate: 0.2, Seed: 9, DropAfterOperations: 25, Latency: time.Millisecond},
	} {
		s.Emulator.SetFaults(f)
		got := read()
		fs := s.Emulator.Stats()
		s.Emulator.SetFaults(ftracktest.Faults{})
		if fs.Unavailable+fs.RateLimited+fs.Dropped == 0 {
			t.Errorf("faults %+v: none injected", f)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("faults %+v: the accounts differ from a read without faults", f)
		}
	}
}

// TestQueryPagesCancel cancels a parallel read in the middle: it returns
// the context's error soon, and fn is not called after it returned.
func TestQueryPagesCancel(t *testing.T) {
	s := newServer(t)
	putUsers(t, s, 200)
	s.Emulator.SetFaults(ftracktest.Faults{Latency: 20 * time.Millisecond})
	c := newPagingClient(t, s.URL, 10, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var returned atomic.Bool
	pages := 0
	err := c.QueryPages(ctx, func(_ int, rows []Entity) error {
		if returned.Load() {
			t.Error("fn called after QueryPages returned")
		}
		if pages++; pages == 3 {
			cancel()
		}
		return nil
	}, PagedQuery{Expression: "select id from User"})
	returned.Store(true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if pages != 3 {
		t.Fatalf("%d pages handed over, want 3 (none after the cancel)", pages)
	}
}

// pageServer serves "select id from User" over n rows (ids r0000...) the
// way a server might that the emulator is not: at most cap rows a page
// whatever the limit, and a next offset on every page (offset + rows)
// when nextAlways, else null on the last.
func pageServer(t *testing.T, n, cap int, nextAlways bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var ops []Operation
		_ = json.NewDecoder(r.Body).Decode(&ops)
		res := make([]any, len(ops))
		for j, op := range ops {
			var off, lim int
			fmt.Sscanf(op.Expression[strings.Index(op.Expression, "offset"):], "offset %d limit %d", &off, &lim)
			end := min(off+lim, off+cap, n)
			data := []any{}
			for i := off; i < end; i++ {
				data = append(data, map[string]any{"__entity_type__": "User", "id": fmt.Sprintf("r%04d", i)})
			}
			var next any
			if nextAlways || end < n {
				next = max(end, off)
			}
			res[j] = map[string]any{"action": "query", "data": data, "metadata": map[string]any{"next": map[string]any{"offset": next}}}
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestQueryOddServers reads from servers that cap pages below the limit
// or name a next offset on the last page: every row once, in order.
func TestQueryOddServers(t *testing.T) {
	for _, tc := range []struct {
		n, cap     int
		nextAlways bool
	}{{25, 3, false}, {25, 3, true}, {25, 1, true}, {30, 100, true}, {29, 10, true}, {0, 10, true}, {7, 2, false}} {
		srv, calls := pageServer(t, tc.n, tc.cap, tc.nextAlways)
		c := newPagingClient(t, srv.URL, 10, 4)
		rows, err := c.Query(context.Background(), "select id from User")
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if len(rows) != tc.n {
			t.Fatalf("%+v: %d rows", tc, len(rows))
		}
		for i, r := range rows {
			if r.String("id") != fmt.Sprintf("r%04d", i) {
				t.Fatalf("%+v: row %d is %v", tc, i, r)
			}
		}
		t.Logf("%+v: %d requests", tc, calls.Load())
	}
}
