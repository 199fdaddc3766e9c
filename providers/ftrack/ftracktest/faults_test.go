package ftracktest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o600) }

// rawStatus posts a batch and returns the status, Retry-After and error.
func rawStatus(s *Server, body string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api", bytes.NewBufferString(body))
	req.Header.Set("ftrack-user", testUser)
	req.Header.Set("ftrack-api-key", testKey)
	resp, err := s.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func TestFaultRateLimit(t *testing.T) {
	s := newTestServer(t)
	for _, c := range []struct {
		retryAfter time.Duration
		header     string
	}{{1500 * time.Millisecond, "2"}, {0, "1"}, {-1, "0"}, {3 * time.Second, "3"}} {
		s.Emulator.SetFaults(Faults{RateLimitEvery: 3, RetryAfter: c.retryAfter})
		for i := 1; i <= 6; i++ {
			status, ra, err := rawStatus(s, `[]`)
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				if status != http.StatusTooManyRequests || ra != c.header {
					t.Errorf("RetryAfter %v request %d: status %d Retry-After %q, want 429 %q", c.retryAfter, i, status, ra, c.header)
				}
			} else if status != http.StatusOK {
				t.Errorf("request %d: status %d", i, status)
			}
		}
	}
	// The 429 body is an exception object.
	s.Emulator.SetFaults(Faults{RateLimitEvery: 1})
	status, _, out := post(t, s, `[]`, nil)
	if m, ok := out.(map[string]any); status != 429 || !ok || m["exception"] == nil {
		t.Errorf("429 body %v", out)
	}
	if st := s.Emulator.Stats(); st.RateLimited != 9 {
		t.Errorf("RateLimited = %d, want 9", st.RateLimited)
	}
}

func TestFaultErrorRate(t *testing.T) {
	s := newTestServer(t)
	pattern := func(seed int64) string {
		s.Emulator.SetFaults(Faults{ErrorRate: 0.3, Seed: seed})
		var b []byte
		for i := 0; i < 100; i++ {
			status, _, err := rawStatus(s, `[{"action":"query_server_information"}]`)
			if err != nil {
				t.Fatal(err)
			}
			switch status {
			case http.StatusOK:
				b = append(b, '.')
			case http.StatusServiceUnavailable:
				b = append(b, 'x')
			default:
				t.Fatalf("status %d", status)
			}
		}
		return string(b)
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds gave the same outcomes")
	}
	n := bytes.Count([]byte(a), []byte("x"))
	if n < 10 || n > 50 {
		t.Errorf("%d of 100 requests failed with ErrorRate 0.3", n)
	}
	s.Emulator.SetFaults(Faults{})
	if status, _, _ := rawStatus(s, `[]`); status != 200 {
		t.Errorf("after clearing faults: %d", status)
	}
}

func TestFaultDropAfterOperations(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	s := NewServer(Options{APIUser: testUser, APIKey: testKey, Log: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	t.Cleanup(s.Close)
	s.Emulator.SetFaults(Faults{DropAfterOperations: 3})
	batch := func(i int) string {
		return fmt.Sprintf(`[{"action":"create","entity_type":"User","entity_data":{"username":"a%d"}},{"action":"create","entity_type":"User","entity_data":{"username":"b%d"}}]`, i, i)
	}
	if status, _, err := rawStatus(s, batch(1)); err != nil || status != 200 {
		t.Fatalf("first batch: %d %v", status, err)
	}
	status, _, err := rawStatus(s, batch(2))
	if err == nil {
		t.Fatalf("second batch answered %d, want a dropped connection", status)
	}
	// The dropped batch was applied.
	if n := len(s.Emulator.Entities("User")); n != seededUsers+4 {
		t.Errorf("%d users after the dropped batch, want %d (4 created and the API user)", n, seededUsers+4)
	}
	// Only once.
	if status, _, err := rawStatus(s, batch(3)); err != nil || status != 200 {
		t.Fatalf("third batch: %d %v", status, err)
	}
	if st := s.Emulator.Stats(); st.Dropped != 1 {
		t.Errorf("Dropped = %d", st.Dropped)
	}
	// The handler logs after answering, so wait for the three lines.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got = append([]string(nil), lines...)
		mu.Unlock()
		if len(got) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	counts := map[string]int{}
	for _, l := range got {
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "POST" || f[1] != "/api" {
			t.Errorf("log line %q", l)
			continue
		}
		counts[f[2]]++
		if strings.Contains(l, testKey) {
			t.Errorf("log line leaks the key: %q", l)
		}
	}
	if len(got) != 3 || counts["200"] != 2 || counts["dropped"] != 1 {
		t.Errorf("log lines %q", got)
	}
}

func TestFaultLatency(t *testing.T) {
	s := newTestServer(t)
	s.Emulator.SetFaults(Faults{Latency: 5 * time.Millisecond})
	res := call(t, s, map[string]any{"action": "query_server_information"})
	if res[0].(map[string]any)["version"] != "dev" {
		t.Errorf("with latency: %v", res)
	}
}

func TestRelationsMatchSchemas(t *testing.T) {
	set, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range set.order {
		sc := set.byType[id]
		for name, p := range sc.Properties {
			if !p.isRelation() {
				continue
			}
			rel, ok := relations[id][name]
			if !ok {
				t.Errorf("%s.%s is a relation in schemas.json but not traversable", id, name)
				continue
			}
			target := p.Ref
			if target == "" {
				target = p.ItemsRef
			}
			if rel.Target != target || rel.Many != (p.ItemsRef != "") {
				t.Errorf("%s.%s: relation %+v vs schema target %s", id, name, rel, target)
			}
			if _, ok := sc.Properties[rel.Local]; !ok {
				t.Errorf("%s.%s: local key %s is not a property", id, name, rel.Local)
			}
			if _, ok := set.byType[rel.Target].Properties[rel.Remote]; !ok {
				t.Errorf("%s.%s: remote key %s is not a property of %s", id, name, rel.Remote, rel.Target)
			}
		}
		for name := range relations[id] {
			if !sc.Properties[name].isRelation() {
				t.Errorf("relations lists %s.%s, which is not a relation in schemas.json", id, name)
			}
		}
	}
}
