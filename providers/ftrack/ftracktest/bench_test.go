package ftracktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkQueryAllUsersPaged pages through 5000 users (and the API
// user's) with their group names (500 per page), the read a sync run
// starts with.
func BenchmarkQueryAllUsersPaged(b *testing.B) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	for g := 0; g < 20; g++ {
		if err := e.Put("Group", map[string]any{"id": fmt.Sprintf("g%02d", g), "name": fmt.Sprintf("group%02d", g)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 5000; i++ {
		id := fmt.Sprintf("u%05d", i)
		if err := e.Put("User", map[string]any{"id": id, "username": fmt.Sprintf("user%05d@example.com", i), "is_active": true}); err != nil {
			b.Fatal(err)
		}
		for _, g := range []int{i % 20, (i + 7) % 20} {
			if err := e.Put("Membership", map[string]any{"user_id": id, "group_id": fmt.Sprintf("g%02d", g)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		offset, rows := 0, 0
		for {
			ans, err := e.runQuery(fmt.Sprintf("select id, username, is_active, memberships.group.name from User order by id offset %d limit 500", offset), true)
			if err != nil {
				b.Fatal(err)
			}
			res := ans.(map[string]any) // not flat: memberships
			if _, err := json.Marshal(res); err != nil {
				b.Fatal(err)
			}
			rows += len(res["data"].([]any))
			next := res["metadata"].(map[string]any)["next"].(map[string]any)["offset"]
			if next == nil {
				break
			}
			offset = next.(int)
		}
		if rows != seededUsers+5000 {
			b.Fatalf("%d rows, want 5000 and the API user", rows)
		}
	}
}

// BenchmarkFlatPagesConcurrent serves the pages of a flat 20,000-user
// query (ReadAccounts' user query, 500 rows a page) to several readers at
// once, over HTTP: the emulator's side of a parallel paged read. Its
// time per page bounds how close a parallel read against the emulator
// can come to ceil(pages/parallelism) × latency.
//
//	go test -run X -bench FlatPagesConcurrent -benchmem ./providers/ftrack/ftracktest/
func BenchmarkFlatPagesConcurrent(b *testing.B) {
	s := NewServer(Options{APIUser: testUser, APIKey: testKey})
	defer s.Close()
	const users, page = 20000, 500
	for i := range users {
		if err := s.Emulator.Put("User", map[string]any{"id": fmt.Sprintf("u%05d", i), "username": fmt.Sprintf("user%05d", i),
			"email": fmt.Sprintf("user%05d@example.com", i), "first_name": "F", "last_name": "L", "is_active": true}); err != nil {
			b.Fatal(err)
		}
	}
	client := s.Client()
	var offset atomic.Int64
	b.SetParallelism(2) // 2 × GOMAXPROCS readers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			off := (offset.Add(page) - page) % (users + seededUsers)
			body := fmt.Sprintf(`[{"action":"query","expression":"select id, username, email, first_name, last_name, is_active from User order by id offset %d limit %d"}]`, off, page)
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("ftrack-user", testUser)
			req.Header.Set("ftrack-api-key", testKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("HTTP %d", resp.StatusCode)
				return
			}
		}
	})
}

// createsBody is a batch of 100 create operations as ldapsync sends them
// for new users (a User and its "owner" and "source_id" Metadata, 33
// users and one more User), with ids unique to round.
func createsBody(round int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < 34; i++ {
		id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", round, i)
		name := fmt.Sprintf("r%d-u%05d", round, i)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"action":"create","entity_type":"User","entity_key":[%q],"entity_data":{"__entity_type__":"User","email":"%s@example.com","first_name":"First %s","id":%q,"is_active":true,"last_name":"Last %s","username":%q}}`, id, name, name, id, name, name)
		if i == 33 {
			break
		}
		for _, kv := range [][2]string{{"owner", "users"}, {"source_id", fmt.Sprint(round*100 + i)}} {
			fmt.Fprintf(&b, `,{"action":"create","entity_type":"Metadata","entity_key":[%q,%q],"entity_data":{"__entity_type__":"Metadata","key":%q,"parent_id":%q,"parent_type":"User","value":%q}}`, id, kv[0], kv[0], id, kv[1])
		}
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkServeCreates serves batches of 100 creates (createsBody) to
// an emulator without latency, directly through ServeHTTP: the
// emulator's CPU and garbage per write request of a bulk create. The
// runBatch case leaves out decoding the body and encoding the answer,
// measuring only the work done holding the emulator's lock.
//
//	go test -run X -bench ServeCreates -benchmem ./providers/ftrack/ftracktest/
func BenchmarkServeCreates(b *testing.B) {
	b.Run("ServeHTTP", func(b *testing.B) {
		e := New(Options{APIUser: testUser, APIKey: testKey})
		for n := 0; n < b.N; n++ {
			b.StopTimer()
			req := httptest.NewRequest(http.MethodPost, "/api", bytes.NewReader(createsBody(n)))
			req.Header.Set("ftrack-user", testUser)
			req.Header.Set("ftrack-api-key", testKey)
			w := httptest.NewRecorder()
			b.StartTimer()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"exception"`)) {
				b.Fatalf("HTTP %d: %.300s", w.Code, w.Body)
			}
		}
	})
	b.Run("runBatch", func(b *testing.B) {
		e := New(Options{APIUser: testUser, APIKey: testKey})
		for n := 0; n < b.N; n++ {
			b.StopTimer()
			var ops []map[string]any
			if err := json.Unmarshal(createsBody(n), &ops); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, _, err := e.runBatch(ops, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// readSite is an emulator holding 100,000 Users, each with two Metadata
// rows and one Membership in one of 50 Groups (the site of the ftrack
// package's BenchmarkReadAccounts), built once for the read benchmarks.
var readSite struct {
	once sync.Once
	e    *Emulator
}

// readSiteEmulator builds readSite on first use.
func readSiteEmulator(b *testing.B) *Emulator {
	b.Helper()
	readSite.once.Do(func() {
		e := New(Options{APIUser: testUser, APIKey: testKey})
		put := func(typ string, data map[string]any) {
			if err := e.Put(typ, data); err != nil {
				panic(err)
			}
		}
		for g := range 50 {
			put("Group", map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", g), "name": fmt.Sprintf("group%02d", g)})
		}
		for i := range 100_000 {
			id := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
			put("User", map[string]any{"id": id, "username": fmt.Sprintf("user%06d", i), "email": fmt.Sprintf("user%06d@example.com", i),
				"first_name": "First", "last_name": fmt.Sprintf("Last %d", i), "is_active": i%10 != 0})
			put("Metadata", map[string]any{"parent_id": id, "key": "ldapsync.owner", "value": "users", "parent_type": "User"})
			put("Metadata", map[string]any{"parent_id": id, "key": "ldapsync.source_id", "value": fmt.Sprintf("sid-%d", i), "parent_type": "User"})
			put("Membership", map[string]any{"id": fmt.Sprintf("20000000-0000-4000-8000-%012d", i), "user_id": id,
				"group_id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i%50)})
		}
		readSite.e = e
	})
	return readSite.e
}

// readAccountsBody is a request of ReadAccounts' shape once its short
// queries are done: the page at offset of its User, Metadata and
// Membership queries, 500 rows each.
func readAccountsBody(offset int) []byte {
	exprs := []string{
		"select id, username, email, first_name, last_name, is_active, user_type_id from User",
		`select parent_id, key, value, parent_type from Metadata where key in ("ldapsync.owner", "ldapsync.source_id")`,
		"select id, user_id, group_id from Membership",
	}
	order := []string{"id", "parent_id, key", "id"}
	ops := make([]map[string]any, len(exprs))
	for i, x := range exprs {
		ops[i] = map[string]any{"action": "query", "expression": fmt.Sprintf("%s order by %s offset %d limit 500", x, order[i], offset)}
	}
	body, _ := json.Marshal(ops)
	return body
}

// BenchmarkServeReadPages serves ReadAccounts-shaped requests (three
// pages of 500 rows: Users, Metadata, Memberships) against 100,000 users,
// each query's evaluation cached after the first request as in a paged
// read. ServeHTTP is the whole request; runBatch only the work done
// holding the emulator's lock, which the requests of a parallel read
// queue on; append only writing the answers (done after unlocking); evaluate the first request after a
// write, which evaluates the queries again.
//
//	go test -run X -bench ServeReadPages -benchmem ./providers/ftrack/ftracktest/
func BenchmarkServeReadPages(b *testing.B) {
	e := readSiteEmulator(b)
	const offsets = 199 // pages of the 200,000 Metadata rows
	ops, err := decodeOps(readAccountsBody(0))
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := e.runBatch(ops, true); err != nil { // evaluates and caches the queries
		b.Fatal(err)
	}
	b.Run("ServeHTTP", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			req := httptest.NewRequest(http.MethodPost, "/api", bytes.NewReader(readAccountsBody(n%offsets*499)))
			req.Header.Set("ftrack-user", testUser)
			req.Header.Set("ftrack-api-key", testKey)
			req.Header.Set("ftrack-strict-api", "true")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"exception"`)) {
				b.Fatalf("HTTP %d: %.300s", w.Code, w.Body)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		var requests [][]any
		for off := range offsets {
			ops, err := decodeOps(readAccountsBody(off * 499))
			if err != nil {
				b.Fatal(err)
			}
			results, _, aerr := e.runBatch(ops, true)
			if aerr != nil {
				b.Fatal(aerr)
			}
			requests = append(requests, results)
		}
		b.ResetTimer()
		var buf []byte
		for n := 0; n < b.N; n++ {
			buf = buf[:0]
			for _, r := range requests[n%offsets] {
				buf = r.(jsonAppender).appendJSON(buf)
			}
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			e.mu.Lock()
			e.store.gen++ // as a write would: the queries are evaluated again
			e.mu.Unlock()
			if _, _, err := e.runBatch(ops, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("runBatch", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			b.StopTimer()
			ops, err := decodeOps(readAccountsBody(n % offsets * 499))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, _, err := e.runBatch(ops, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
