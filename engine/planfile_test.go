package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenCases are representative plans.
func goldenCases() map[string]PlanRequest {
	m := &fakeMapper{name: "users", groups: true}
	mixedEntries := []Entry{
		entry("alice", "asmith@example.com", "Alice", "Smith", "sid-a", "groups=Artists"),
		entry("bob", "bob@example.com", "Bob", "Jones", "sid-b", "groups=Artists", "groups=Leads"),
		disabled(entry("dave", "dave@example.com", "Dave", "D", "sid-d", "groups=Artists")),
		entry("erin", "erin@example.com", "Erin", "E", "sid-e"),
		entry("frank", "frank@example.com", "Frank", "F", "sid-f"),
		entry("gina2", "gina@example.com", "Gina", "G", "sid-g"),
		entry("henry", "", "Henry", "H", "sid-h"),
	}
	mixedAccounts := []Account{
		owned("id-a", "alice", "a.smith@old.example.com", "Alice", "Smith", "sid-a", "Artists", "Leads"),
		owned("id-c", "carol", "carol@example.com", "Carol", "C", "sid-c", "Artists"),
		owned("id-d", "dave", "dave@example.com", "Dave", "D", "sid-d", "Artists"),
		func() Account {
			a := owned("id-e", "erin", "erin@example.com", "Erin", "E", "sid-e")
			a.Active = false
			return a
		}(),
		{ID: "id-f", Username: "frank", Email: "frank@example.com", FirstName: "Frank", LastName: "F", Active: true},
		owned("id-g", "gina", "gina@example.com", "Gina", "G", "sid-g"),
		owned("id-h", "henry", "henry@example.com", "Henry", "H", "sid-h"),
		{ID: "id-adm", Username: "admin", Active: true},
		{ID: "id-z", Username: "zoe", Active: true},
	}
	mixed := planReq([]Source{&fakeSource{name: "corp", entries: mixedEntries}}, m, newTarget(mixedAccounts...), DefaultPolicy())
	mixed.Policy.Protect = []string{"admin"}
	mixed.PolicyRaw = map[string]string{"protect": `["admin"]`, "max_deactivations": "50%"}
	mixed.Policy.MaxDeactivations, _ = ParseLimit("50%")
	mixed.Prior = &LastApplied{Lineage: "11111111-2222-4333-8444-555555555555", Serial: 7}

	blockedEntries := []Entry{entry("alice", "alice@example.com", "Alice", "Smith", "sid-a")}
	blocked := planReq([]Source{&fakeSource{name: "corp", entries: blockedEntries}}, &fakeMapper{name: "users"}, newTarget(
		owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a"),
		owned("id-b", "bob", "bob@example.com", "Bob", "B", "sid-b"),
		owned("id-c", "carol", "carol@example.com", "Carol", "C", "sid-c"),
	), DefaultPolicy())
	blocked.Policy.MaxDeactivations, _ = ParseLimit("1")
	blocked.PolicyRaw = map[string]string{"max_deactivations": "1"}

	empty := planReq([]Source{&fakeSource{name: "corp", entries: blockedEntries}}, &fakeMapper{name: "users"},
		newTarget(owned("id-a", "alice", "alice@example.com", "Alice", "Smith", "sid-a")), DefaultPolicy())
	return map[string]PlanRequest{"mixed": mixed, "blocked": blocked, "no_changes": empty}
}

func TestGoldenPlans(t *testing.T) {
	for name, req := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			p := mustPlan(t, req)
			got, err := MarshalPlan(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Byte-for-byte stable: build it again from scratch.
			again := goldenCases()[name]
			got2, err := MarshalPlan(mustPlan(t, again), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, got2) {
				t.Fatalf("two runs differ")
			}
			path := filepath.Join("testdata", name+".plan.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (go test ./engine -update rewrites it):\n%s", path, got)
			}
			if _, err := UnmarshalPlan(want, ReadOptions{}); err != nil {
				t.Errorf("golden file does not verify: %v", err)
			}
		})
	}
}

func TestPlanFieldOrder(t *testing.T) {
	p := mustPlan(t, goldenCases()["blocked"])
	data, _ := MarshalPlan(p, nil)
	order := []string{`"format_version"`, `"plan_id"`, `"tool_version"`, `"created_at"`, `"expires_at"`, `"config_digest"`, `"target"`,
		`"sources"`, `"prior_state"`, `"policy"`, `"blocked"`, `"summary"`, `"changes"`, `"skipped"`, `"warnings"`, `"unmanaged"`, `"checksum"`}
	last := -1
	for _, k := range order {
		i := bytes.Index(data, []byte("\n  "+k))
		if i < 0 || i < last {
			t.Fatalf("field %s missing or out of order in\n%s", k, data)
		}
		last = i
	}
	if !bytes.Contains(data, []byte(`"override": null`)) {
		t.Errorf("policy.override must be written as null:\n%s", data)
	}
}

func refusalReason(err error) string {
	var r *RefusalError
	if errors.As(err, &r) {
		return string(r.Reason)
	}
	return ""
}

func TestPlanFileIntegrity(t *testing.T) {
	p := mustPlan(t, goldenCases()["mixed"])
	data, err := MarshalPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalPlan(data, ReadOptions{})
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip differs:\n%+v\n%+v", back, p)
	}

	t.Run("hand edit", func(t *testing.T) {
		edited := bytes.Replace(data, []byte(`"asmith@example.com"`), []byte(`"mallory@example.com"`), 1)
		if bytes.Equal(edited, data) {
			t.Fatal("test setup: value not found")
		}
		_, err := UnmarshalPlan(edited, ReadOptions{})
		if refusalReason(err) != "checksum_mismatch" || !strings.Contains(err.Error(), "modified") {
			t.Fatalf("edited plan: %v", err)
		}
	})
	t.Run("reformatted is fine", func(t *testing.T) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalPlan(buf.Bytes(), ReadOptions{}); err != nil {
			t.Fatalf("whitespace change refused: %v", err)
		}
	})
	key := []byte("s3cret")
	signed, err := MarshalPlan(p, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("signed verifies", func(t *testing.T) {
		if _, err := UnmarshalPlan(signed, ReadOptions{Key: key}); err != nil {
			t.Fatalf("signed plan: %v", err)
		}
		if !bytes.Contains(signed, []byte(`"signature": "hmac-sha256:`)) {
			t.Fatalf("no signature in\n%s", signed)
		}
	})
	t.Run("unsigned refused with key", func(t *testing.T) {
		_, err := UnmarshalPlan(data, ReadOptions{Key: key})
		if refusalReason(err) != "unsigned" {
			t.Fatalf("unsigned plan with key: %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		_, err := UnmarshalPlan(signed, ReadOptions{Key: []byte("w0ng-k3y")})
		if refusalReason(err) != "bad_signature" {
			t.Fatalf("wrong key: %v", err)
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "w0ng-k3y") {
			t.Fatalf("key leaked into the message: %v", err)
		}
	})
	t.Run("signature cannot be moved to an edited plan", func(t *testing.T) {
		edited := bytes.Replace(signed, []byte(`"asmith@example.com"`), []byte(`"mallory@example.com"`), 1)
		var m map[string]any
		_ = json.Unmarshal(edited, &m)
		// An attacker recomputes the checksum but cannot recompute the HMAC.
		delete(m, "signature")
		m["checksum"] = mustChecksum(t, m)
		var orig map[string]any
		_ = json.Unmarshal(signed, &orig)
		m["signature"] = orig["signature"]
		forged, _ := json.Marshal(m)
		if _, err := UnmarshalPlan(forged, ReadOptions{}); refusalReason(err) != "no_key" {
			t.Fatalf("a signed plan without a key must fail closed: %v", err)
		}
		if _, err := UnmarshalPlan(forged, ReadOptions{Key: key}); refusalReason(err) != "bad_signature" {
			t.Fatalf("forged plan with key: %v", err)
		}
	})
	t.Run("unknown major", func(t *testing.T) {
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		m["format_version"] = "3.0"
		b, _ := json.Marshal(m)
		_, err := UnmarshalPlan(b, ReadOptions{})
		if refusalReason(err) != "format_version" || !strings.Contains(err.Error(), `"3.0"`) {
			t.Fatalf("major 3: %v", err)
		}
		m["format_version"] = "1.0"
		b, _ = json.Marshal(m)
		if _, err := UnmarshalPlan(b, ReadOptions{}); refusalReason(err) != "format_version" || !strings.Contains(err.Error(), "older ldapsync") {
			t.Fatalf("major 1: %v", err)
		}
	})
	t.Run("minor bump with extra field", func(t *testing.T) {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		_ = d.Decode(&m)
		m["format_version"] = "2.3"
		m["approvals"] = []any{"lead"}
		m["checksum"] = mustChecksum(t, m)
		b, _ := json.MarshalIndent(m, "", "    ")
		back, err := UnmarshalPlan(b, ReadOptions{})
		if err != nil {
			t.Fatalf("minor bump refused: %v", err)
		}
		if back.FormatVersion != "2.3" || len(back.Changes) != len(p.Changes) {
			t.Fatalf("minor bump read wrongly: %+v", back.Summary)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := UnmarshalPlan([]byte("{not json"), ReadOptions{}); refusalReason(err) != "invalid" {
			t.Fatalf("garbage: %v", err)
		}
	})
}

// mustChecksum is the checksum an attacker recomputes for an edited plan.
func mustChecksum(t *testing.T, doc any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := PlanChecksum(b)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestPlanTimes(t *testing.T) {
	req := goldenCases()["no_changes"]
	req.ExpiresIn = 2 * time.Hour
	p := mustPlan(t, req)
	if p.CreatedAt != "2026-03-01T12:00:00Z" || p.ExpiresAt != "2026-03-01T14:00:00Z" {
		t.Fatalf("times %s %s", p.CreatedAt, p.ExpiresAt)
	}
}
