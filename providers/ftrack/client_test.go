package ftrack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

func TestQueryPagingAcrossPages(t *testing.T) {
	s := newServer(t)
	ids := putUsers(t, s, 1234)
	c := newClient(t, s.URL, 100)
	before := s.Emulator.Stats().Requests
	rows, err := c.Query(context.Background(), "select id, username from User")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != siteUsers+len(ids) {
		t.Fatalf("got %d rows, want %d (and the API user)", len(rows), len(ids))
	}
	seen := map[string]bool{}
	for i, r := range rows {
		id := r.String("id")
		if seen[id] {
			t.Fatalf("row %d: id %s twice", i, id)
		}
		seen[id] = true
		if i > 0 && rows[i-1].String("id") >= id {
			t.Fatalf("rows not in id order at %d", i)
		}
		if r.Type() != "User" || !strings.HasPrefix(r.String("username"), "user") && r.String("username") != testUser {
			t.Fatalf("row %d: %v", i, r)
		}
	}
	if n := s.Emulator.Stats().Requests - before; n < 13 {
		t.Fatalf("%d requests for 1234 rows at 100 per page; paging did not happen", n)
	}
}

// TestQueryStopsOnEmptyPage covers a server that reports a next offset on
// the last full page (UNCONFIRMED behaviour): the empty page ends paging.
func TestQueryStopsOnEmptyPage(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var ops []Operation
		_ = json.NewDecoder(r.Body).Decode(&ops)
		var off, lim int
		fmt.Sscanf(ops[0].Expression[strings.Index(ops[0].Expression, "offset"):], "offset %d limit %d", &off, &lim)
		var data []any
		for i := off; i < min(off+lim, 4); i++ {
			data = append(data, map[string]any{"__entity_type__": "User", "id": fmt.Sprint(i)})
		}
		if data == nil {
			data = []any{}
		}
		_ = json.NewEncoder(w).Encode([]any{map[string]any{"action": "query", "data": data, "metadata": map[string]any{"next": map[string]any{"offset": off + lim}}}})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, 2)
	rows, err := c.Query(context.Background(), "select id from User")
	if err != nil {
		t.Fatal(err)
	}
	// Pages of two overlap by a row and four are asked for at once, so
	// the requests are more than a sequential read's three; they stay few.
	if len(rows) != 4 || calls.Load() > 12 {
		t.Fatalf("got %d rows in %d requests, want 4 in at most 12", len(rows), calls.Load())
	}
	for i, r := range rows {
		if r.String("id") != fmt.Sprint(i) {
			t.Fatalf("row %d is %v", i, r)
		}
	}
}

func TestDecodeDeduplicatedAndDenormalised(t *testing.T) {
	normal := `[{"action":"query","data":[
	  {"__entity_type__":"Membership","id":"m1","group":{"__entity_type__":"Group","id":"g1","name":"Artists","local":false},"user":{"__entity_type__":"User","id":"u1","username":"ann"}},
	  {"__entity_type__":"Membership","id":"m2","group":{"__entity_type__":"Group","id":"g1"},"user":{"__entity_type__":"User","id":"u2","username":"bob",
	     "created":{"__type__":"datetime","value":"2022-10-10T10:12:09"}}},
	  {"__entity_type__":"Membership","id":"m3","group":{"__entity_type__":"Group","id":"g1"},"user":{"__entity_type__":"User","id":"u1"}}],
	 "metadata":{"next":{"offset":null}}},
	 {"action":"query","data":[{"__entity_type__":"Metadata","parent_id":"u1","key":"k","value":"v"},{"__entity_type__":"Metadata","parent_id":"u1","key":"k"}],"metadata":{}}]`
	denormal := strings.ReplaceAll(strings.ReplaceAll(normal,
		`"group":{"__entity_type__":"Group","id":"g1"}`, `"group":{"__entity_type__":"Group","id":"g1","name":"Artists","local":false}`),
		`"user":{"__entity_type__":"User","id":"u1"}`, `"user":{"__entity_type__":"User","id":"u1","username":"ann"}`)
	for name, body := range map[string]string{"deduplicated": normal, "denormalised": denormal} {
		t.Run(name, func(t *testing.T) {
			var elems []json.RawMessage
			if err := json.Unmarshal([]byte(body), &elems); err != nil {
				t.Fatal(err)
			}
			vals, err := decodeValues(elems)
			if err != nil {
				t.Fatal(err)
			}
			rows, next, err := queryResult(vals[0])
			if err != nil || next != -1 || len(rows) != 3 {
				t.Fatalf("rows %d next %d err %v", len(rows), next, err)
			}
			for _, r := range rows {
				g := r["group"].(Entity)
				if g.String("name") != "Artists" || g.Type() != "Group" {
					t.Fatalf("%s: group not merged: %v", r.String("id"), g)
				}
				if local, ok := g.Bool("local"); !ok || local {
					t.Fatalf("%s: group.local = %v, %v", r.String("id"), local, ok)
				}
			}
			if u := rows[2]["user"].(Entity); u.String("username") != "ann" {
				t.Fatalf("user reference not merged: %v", u)
			}
			ts, ok := rows[1]["user"].(Entity).Time("created")
			if !ok || !ts.Equal(time.Date(2022, 10, 10, 10, 12, 9, 0, time.UTC)) {
				t.Fatalf("datetime = %v, %v", ts, ok)
			}
			meta, _, _ := queryResult(vals[1])
			if meta[1].String("value") != "v" {
				t.Fatalf("composite-key reference not merged: %v", meta[1])
			}
		})
	}
}

func TestDecodeTypedValues(t *testing.T) {
	for _, tc := range []struct {
		typ, in string
		want    time.Time
	}{
		{"datetime", "2022-10-10T10:12:09", time.Date(2022, 10, 10, 10, 12, 9, 0, time.UTC)},
		{"datetime", "2022-10-10T10:12:09.123456", time.Date(2022, 10, 10, 10, 12, 9, 123456000, time.UTC)},
		{"datetime", "2022-10-10T12:12:09+02:00", time.Date(2022, 10, 10, 10, 12, 9, 0, time.UTC)},
		{"date", "2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
	} {
		got, ok := decodeTyped(tc.typ, tc.in).(time.Time)
		if !ok || !got.Equal(tc.want) {
			t.Errorf("%s %q = %v, want %v", tc.typ, tc.in, got, tc.want)
		}
	}
	if v := decodeTyped("datetime", "not a date"); v != "not a date" {
		t.Errorf("unparsable datetime = %v", v)
	}
}

func TestQueryNestedAgainstEmulator(t *testing.T) {
	s := newServer(t)
	ids := putUsers(t, s, 3)
	gid := uuid.NewString()
	if err := s.Emulator.Put("Group", map[string]any{"id": gid, "name": "Artists", "local": false}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := s.Emulator.Put("Membership", map[string]any{"id": uuid.NewString(), "user_id": id, "group_id": gid}); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, s.URL, 500)
	rows, err := c.Query(context.Background(), "select id, group.name, group.local, user.username from Membership")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d memberships", len(rows))
	}
	for _, r := range rows {
		g, ok := r["group"].(Entity)
		if !ok || g.String("name") != "Artists" {
			t.Fatalf("membership %s: group %v", r.String("id"), r["group"])
		}
		if u, ok := r["user"].(Entity); !ok || !strings.HasPrefix(u.String("username"), "user") {
			t.Fatalf("membership %s: user %v", r.String("id"), r["user"])
		}
	}
}

func TestErrorMappingAgainstEmulator(t *testing.T) {
	s := newServer(t)
	putUsers(t, s, 1)
	c := newClient(t, s.URL, 500)
	ctx := context.Background()
	check := func(name string, err error, kind error, status int) {
		t.Helper()
		var ae *APIError
		if !errors.As(err, &ae) || !errors.Is(err, kind) || ae.Status != status {
			t.Errorf("%s: got %v (%T), want %v at HTTP %d", name, err, err, kind, status)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error shows the API key: %v", name, err)
		}
	}
	_, err := c.Query(ctx, "select id from User where (((")
	check("bad expression", err, ErrValidation, 400)
	_, err = c.Write(ctx, []Operation{CreateOp("User", []string{uuid.NewString()}, map[string]any{"username": "USER0000", "is_active": true})})
	check("duplicate", err, ErrDuplicate, 409)
	_, err = c.Write(ctx, []Operation{UpdateOp("User", []string{uuid.NewString()}, map[string]any{"email": "x"})})
	check("missing", err, ErrNotFound, 404)
	if !IsRejection(err) {
		t.Errorf("404 not a rejection: %v", err)
	}
	bad, _ := NewClient(Options{ServerURL: s.URL, APIUser: testUser, APIKey: testKey + "x", Retry: fastRetry})
	_, err = bad.Query(ctx, "select id from User")
	check("credentials", err, ErrAuthentication, 401)
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the API key: %v", err)
	}
}

// TestErrorBodiesFromProxyAndLenientServer covers answers the emulator does
// not give: an exception with HTTP 200 (non-strict server), an HTML 502
// from a proxy, a FastAPI 422, and a server echoing the key.
func TestErrorBodiesFromProxyAndLenientServer(t *testing.T) {
	var mode atomic.Value
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("ftrack-api-key") != testKey || r.Header.Get("ftrack-user") != testUser || r.Header.Get("ftrack-strict-api") != "true" {
			w.WriteHeader(400)
			return
		}
		switch mode.Load().(string) {
		case "200":
			fmt.Fprint(w, `{"exception":"ValidationError","content":"bad","error_code":"some_code"}`)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprint(w, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
		case "422":
			w.WriteHeader(422)
			fmt.Fprint(w, `{"detail":[{"loc":["body","role_id"],"msg":"field required","type":"value_error.missing"}]}`)
		case "echo":
			w.WriteHeader(403)
			fmt.Fprintf(w, `{"exception":"PermissionError","content":"key %s may not do that","error_code":null}`, r.Header.Get("ftrack-api-key"))
		case "short":
			fmt.Fprint(w, `[]`)
		}
	}))
	defer srv.Close()
	c, err := NewClient(Options{ServerURL: srv.URL, APIUser: testUser, APIKey: testKey,
		Retry: RetryPolicy{MaxRetries: 2, InitialInterval: time.Millisecond, MaxElapsedTime: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := []Operation{QueryOp("select id from User")}

	mode.Store("200")
	_, err = c.Call(ctx, q)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 200 || ae.ErrorCode != "some_code" || !errors.Is(err, ErrValidation) {
		t.Errorf("200 exception: %v", err)
	}

	mode.Store("html")
	calls.Store(0)
	_, err = c.Call(ctx, q)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 502 || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "<html><head><title>502 Bad Gateway") || !errors.Is(err, ErrServer) {
		t.Errorf("HTML 502: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("HTML 502 tried %d times, want 3 (1 + MaxRetries 2)", calls.Load())
	}

	mode.Store("422")
	_, err = c.Call(ctx, q)
	if !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "field required") {
		t.Errorf("422: %v", err)
	}

	mode.Store("echo")
	_, err = c.Call(ctx, q)
	if !errors.Is(err, ErrPermission) || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "(sensitive)") {
		t.Errorf("echoed key: %v", err)
	}

	mode.Store("short")
	_, err = c.Call(ctx, q)
	if err == nil || !strings.Contains(err.Error(), "1 operations sent, 0 results") {
		t.Errorf("short answer: %v", err)
	}
}

func TestRetryAfter429(t *testing.T) {
	s := newServer(t)
	putUsers(t, s, 5)
	c := newClient(t, s.URL, 500)
	s.Emulator.SetFaults(ftracktest.Faults{RateLimitEvery: 2, RetryAfter: time.Second})
	ctx := context.Background()
	for i := range 3 {
		rows, err := c.Query(ctx, "select id from User")
		if err != nil || len(rows) != siteUsers+5 {
			t.Fatalf("query %d: %d rows, %v", i, len(rows), err)
		}
	}
	if st := s.Emulator.Stats(); st.RateLimited < 1 || c.Stats().Retries != st.RateLimited {
		t.Fatalf("rate limited %d, client retries %d", st.RateLimited, c.Stats().Retries)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		"Wed, 01 Jan 2025 00:00:10 GMT": 10 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q = %v, want %v", in, got, want)
		}
	}
}

func TestRetries503(t *testing.T) {
	s := newServer(t)
	putUsers(t, s, 10)
	c := newClient(t, s.URL, 3)
	s.Emulator.SetFaults(ftracktest.Faults{ErrorRate: 0.5, Seed: 7})
	rows, err := c.Query(context.Background(), "select id from User")
	if err != nil || len(rows) != siteUsers+10 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if s.Emulator.Stats().Unavailable == 0 {
		t.Fatal("no 503 was injected")
	}
	// Without retries the first 503 is the answer.
	s.Emulator.SetFaults(ftracktest.Faults{ErrorRate: 1})
	none, _ := NewClient(Options{ServerURL: s.URL, APIUser: testUser, APIKey: testKey, Retry: RetryPolicy{MaxRetries: -1}})
	if _, err := none.Query(context.Background(), "select id from User"); !errors.Is(err, ErrServer) {
		t.Fatalf("503 without retries: %v", err)
	}
}

// TestWriteAfterDroppedConnection: the batch is applied, then the
// connection drops; the client resends it, the resend is rejected (the
// ids exist), the client reads back what took effect and does not create
// anything twice.
func TestWriteAfterDroppedConnection(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.URL, 500)
	s.Emulator.SetFaults(ftracktest.Faults{DropAfterOperations: 1})
	ids := []string{uuid.NewString(), uuid.NewString()}
	var ops []Operation
	for i, id := range ids {
		ops = append(ops, CreateOp("User", []string{id}, map[string]any{"username": fmt.Sprintf("u%d", i), "is_active": true}))
		ops = append(ops, CreateOp("Metadata", []string{id, MetaOwner}, map[string]any{"value": "m", "parent_type": "User"}))
	}
	ops = append(ops, UpdateOp("User", []string{ids[0]}, map[string]any{"email": "u0@example.com"}))
	if _, err := c.Write(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
	st := s.Emulator.Stats()
	if st.Dropped != 1 {
		t.Fatalf("dropped %d connections, want 1", st.Dropped)
	}
	if st.Batches != 2 { // the write batch, the check; the rejected resend committed nothing
		t.Errorf("%d batches committed, want 2 (write + verification): %v", st.Batches, st.Actions)
	}
	users := s.Emulator.Entities("User")
	if len(users) != siteUsers+2 || len(s.Emulator.Entities("Metadata")) != 2 {
		t.Fatalf("users %v metadata %v", users, s.Emulator.Entities("Metadata"))
	}
}

func TestWriteAfter503ResendsOnlyMissing(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s.URL, 500)
	s.Emulator.SetFaults(ftracktest.Faults{ErrorRate: 0.6, Seed: 3})
	for round := range 20 {
		id := uuid.NewString()
		_, err := c.Write(context.Background(), []Operation{CreateOp("User", []string{id}, map[string]any{"username": fmt.Sprintf("r%02d", round), "is_active": true})})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Emulator.Entities("User")); n != siteUsers+20 {
		t.Fatalf("%d users, want %d (20 and the API user)", n, siteUsers+20)
	}
	if s.Emulator.Stats().Unavailable == 0 {
		t.Fatal("no 503 injected")
	}
}

func TestCheckServerURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://studio.ftrackapp.com", false, true},
		{"https://studio.ftrackapp.com/", false, true},
		{"http://studio.ftrackapp.com", false, false},
		{"http://studio.ftrackapp.com", true, true},
		{"http://127.0.0.1:8080", false, true},
		{"http://127.5.6.7", false, true},
		{"http://[::1]:9000", false, true},
		{"http://localhost:9000", false, true},
		{"http://localhost.evil.example:9000", false, false},
		{"http://10.0.0.1", false, false},
		{"ftp://studio", true, false},
		{"studio.ftrackapp.com", false, false},
		{"https://admin:pw@studio.ftrackapp.com", false, false},
	} {
		_, err := CheckServerURL(tc.url, tc.insecure)
		if (err == nil) != tc.ok {
			t.Errorf("%q insecure=%v: err %v, want ok=%v", tc.url, tc.insecure, err, tc.ok)
		}
	}
	if _, err := NewClient(Options{ServerURL: "http://ftrack.example.com", APIUser: "u", APIKey: "k"}); err == nil || !strings.Contains(err.Error(), "https is required") {
		t.Errorf("plain http accepted: %v", err)
	}
	if _, err := NewClient(Options{ServerURL: "https://ftrack.example.com", APIUser: "u", APIKey: "k", CACertFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("missing CA file accepted")
	}
}

func TestQuoteAllowList(t *testing.T) {
	for _, s := range []string{"john.doe", "a+b@example.com", "x-y_z", "9f1b6a4e-2d3c-4b5a-8e7f-0123456789ab"} {
		if q, ok := Quote(s); !ok || q != `"`+s+`"` {
			t.Errorf("Quote(%q) = %q, %v", s, q, ok)
		}
	}
	for _, s := range []string{"", `a"b`, `a\b`, `" or username like "%`, "a\nb", "josé", "a b", "a'b", "a)", "%"} {
		if q, ok := Quote(s); ok {
			t.Errorf("Quote(%q) = %q, accepted", s, q)
		}
		if _, err := In("username", []string{"ok", s}); err == nil {
			t.Errorf("In accepted %q", s)
		}
	}
	if got, err := In("id", []string{"a", "b"}); err != nil || got != `id in ("a", "b")` {
		t.Errorf("In = %q, %v", got, err)
	}
	if _, err := In("id) or (id", []string{"a"}); err == nil {
		t.Error("In accepted a hostile attribute name")
	}
}

func TestTimeoutIsRetriedThenReported(t *testing.T) {
	s := newServer(t)
	s.Emulator.SetFaults(ftracktest.Faults{Latency: 200 * time.Millisecond})
	c, err := NewClient(Options{ServerURL: s.URL, APIUser: testUser, APIKey: testKey, Timeout: 20 * time.Millisecond,
		Retry: RetryPolicy{MaxRetries: 2, InitialInterval: time.Millisecond, MaxElapsedTime: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write(context.Background(), []Operation{CreateOp("User", []string{uuid.NewString()}, map[string]any{"username": "slow", "is_active": true})})
	if err == nil || !strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), testKey) {
		t.Fatalf("timeout: %v", err)
	}
	if got := c.Stats().Retries; got < 2 { // the write's retries, plus the verification read's
		t.Fatalf("%d retries, want at least 2", got)
	}
}
