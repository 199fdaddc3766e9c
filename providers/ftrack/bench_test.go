package ftrack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// BenchmarkExecuteCreates measures creating users through the Target
// against the emulator and reports requests and operations per user.
func BenchmarkExecuteCreates(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey})
		tg, err := NewTarget("bench", testSettings(s.URL))
		if err != nil {
			b.Fatal(err)
		}
		changes := make([]engine.Change, n)
		for i := range changes {
			changes[i] = createChange(fmt.Sprintf("u%05d", i), fmt.Sprintf("u%05d", i), fmt.Sprint(i))
		}
		b.StartTimer()
		for _, r := range tg.Execute(context.Background(), changes) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		b.StopTimer()
		st := tg.Stats()
		b.ReportMetric(float64(st.Requests)/n, "requests/user")
		b.ReportMetric(float64(st.Operations)/n, "ops/user")
		s.Close()
	}
}

// benchSite is an emulator holding a site of benchUsers users, each with
// both ldapsync metadata rows and one membership in one of benchGroups
// groups: the steady-state read of issue 17. It is built once.
var benchSite struct {
	once sync.Once
	s    *ftracktest.Server
	err  error
}

const (
	benchUsers  = 100_000
	benchGroups = 50
)

func siteForBench(b *testing.B) *ftracktest.Server {
	b.Helper()
	benchSite.once.Do(func() {
		s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey})
		put := func(typ string, data map[string]any) {
			if benchSite.err == nil {
				benchSite.err = s.Emulator.Put(typ, data)
			}
		}
		for g := range benchGroups {
			put("Group", map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", g), "name": fmt.Sprintf("group%02d", g)})
		}
		for i := range benchUsers {
			id := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
			put("User", map[string]any{"id": id, "username": fmt.Sprintf("user%06d", i), "email": fmt.Sprintf("user%06d@example.com", i),
				"first_name": "First", "last_name": fmt.Sprintf("Last %d", i), "is_active": i%10 != 0})
			put("Metadata", map[string]any{"parent_id": id, "key": MetaOwner, "value": "users", "parent_type": "User"})
			put("Metadata", map[string]any{"parent_id": id, "key": MetaSourceID, "value": fmt.Sprintf("sid-%d", i), "parent_type": "User"})
			put("Membership", map[string]any{"id": fmt.Sprintf("20000000-0000-4000-8000-%012d", i), "user_id": id,
				"group_id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i%benchGroups)})
		}
		benchSite.s = s
	})
	if benchSite.err != nil {
		b.Fatal(benchSite.err)
	}
	return benchSite.s
}

// pagesOf is how many pages QueryPages reads for a query of n rows at
// page size m: pages overlap by one row (paging.go), so page k starts at
// row k(m-1), and the last is the first that reaches row n-1.
func pagesOf(n, m int) int {
	if n <= m {
		return 1
	}
	return 1 + (n-m+m-2)/(m-1)
}

// readPages returns the pages of each of ReadAccounts' queries on the
// bench site at page size m (users, metadata, memberships, groups, user
// types, counted from the emulator's rows) and the fewest requests that
// carry them: every request carries one page of each query not yet done,
// so that is the page count of the longest query. The ideal a read is
// held to is ceil(requests/parallelism) latencies: the sum of the pages
// over parallelism would be the ideal of a read sending one page per
// request, twice as long as this read needs to take.
func readPages(s *ftracktest.Server, m int) (pages []int, requests int) {
	meta := 0
	for _, r := range s.Emulator.Entities("Metadata") {
		if k := r["key"]; k == MetaOwner || k == MetaSourceID {
			meta++
		}
	}
	for _, n := range []int{len(s.Emulator.Entities("User")), meta, len(s.Emulator.Entities("Membership")),
		len(s.Emulator.Entities("Group")), len(s.Emulator.Entities("UserType"))} {
		pages = append(pages, pagesOf(n, m))
		requests = max(requests, pagesOf(n, m))
	}
	return pages, requests
}

func sum(xs []int) (n int) {
	for _, x := range xs {
		n += x
	}
	return n
}

// replay answers every request body it has seen before with the answer
// recorded for it, and asks the emulator otherwise: with warm recordings
// a benchmark measures the client's side (HTTP, decoding, joining) only.
type replay struct {
	next    http.Handler
	latency time.Duration // added to every answer
	mu      sync.Mutex
	seen    map[string][]byte
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	time.Sleep(r.latency)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	ans, ok := r.seen[string(body)]
	r.mu.Unlock()
	if !ok {
		rec := httptest.NewRecorder()
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.next.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		ans = rec.Body.Bytes()
		r.mu.Lock()
		r.seen[string(body)] = ans
		r.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(ans)
}

// BenchmarkReadAccounts reads a 100,000-user site (ReadAccounts, page size
// 500, parallelism 4). emulator: against the emulator (its CPU counts
// too); replay: against recorded answers, the client's CPU and
// allocations alone; latency20ms: the emulator with 20 ms added to every
// request, reported against the ideal ceil(requests/parallelism) × 20 ms,
// requests being the fewest that carry every page of the read (see
// readPages; the emulator's own CPU per page counts there too);
// replay-latency20ms: recorded answers 20 ms late, the paging alone
// against the same ideal.
//
//	go test -run X -bench ReadAccounts -benchmem ./providers/ftrack/
func BenchmarkReadAccounts(b *testing.B) {
	s := siteForBench(b)
	read := func(b *testing.B, url string) *Target {
		b.Helper()
		st := testSettings(url)
		st.PageSize = DefaultPageSize
		tg, err := NewTarget("bench", st)
		if err != nil {
			b.Fatal(err)
		}
		accts, err := tg.ReadAccounts(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(accts) != benchUsers+siteUsers {
			b.Fatalf("%d accounts, want %d", len(accts), benchUsers+siteUsers)
		}
		return tg
	}
	report := func(b *testing.B, tg *Target) {
		b.ReportMetric(float64(tg.Stats().Requests), "requests")
	}
	b.Run("emulator", func(b *testing.B) {
		var tg *Target
		for range b.N {
			tg = read(b, s.URL)
		}
		report(b, tg)
	})
	b.Run("replay", func(b *testing.B) {
		rp := httptest.NewServer(&replay{next: s.Emulator, seen: map[string][]byte{}})
		defer rp.Close()
		read(b, rp.URL) // record
		b.ResetTimer()
		var tg *Target
		for range b.N {
			tg = read(b, rp.URL)
		}
		report(b, tg)
	})
	b.Run("replay-latency20ms", func(b *testing.B) {
		const latency = 20 * time.Millisecond
		rp := &replay{next: s.Emulator, seen: map[string][]byte{}}
		srv := httptest.NewServer(rp)
		defer srv.Close()
		read(b, srv.URL) // record
		rp.latency = latency
		par := testSettings(s.URL).Parallelism
		pages, reqs := readPages(s, DefaultPageSize)
		ideal := time.Duration((reqs+par-1)/par) * latency
		b.ResetTimer()
		var tg *Target
		start := time.Now()
		for range b.N {
			tg = read(b, srv.URL)
		}
		per := time.Since(start) / time.Duration(b.N)
		report(b, tg)
		b.ReportMetric(float64(sum(pages)), "pages")
		b.ReportMetric(float64(ideal.Milliseconds()), "ideal-ms")
		b.ReportMetric(float64(per)/float64(ideal), "x-ideal")
	})
	b.Run("latency20ms", func(b *testing.B) {
		const latency = 20 * time.Millisecond
		s.Emulator.SetFaults(ftracktest.Faults{Latency: latency})
		defer s.Emulator.SetFaults(ftracktest.Faults{})
		par := testSettings(s.URL).Parallelism
		pages, reqs := readPages(s, DefaultPageSize)
		ideal := time.Duration((reqs+par-1)/par) * latency
		var tg *Target
		start := time.Now()
		for range b.N {
			tg = read(b, s.URL)
		}
		per := time.Since(start) / time.Duration(b.N)
		report(b, tg)
		b.ReportMetric(float64(sum(pages)), "pages")
		b.ReportMetric(float64(ideal.Milliseconds()), "ideal-ms")
		b.ReportMetric(float64(per)/float64(ideal), "x-ideal")
	})
}
