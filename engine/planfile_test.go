package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenInput is a golden plan's input as kept in
// testdata/NAME.input.json, beside its output NAME.plan.json.
type goldenInput struct {
	Mapper struct {
		Name   string `json:"name"`
		Groups bool   `json:"groups"`
	} `json:"mapper"`
	Entries []struct {
		UID      string   `json:"uid"`
		Mail     string   `json:"mail"`
		First    string   `json:"first"`
		Last     string   `json:"last"`
		SID      string   `json:"sid"`
		Groups   []string `json:"groups"`
		Disabled bool     `json:"disabled"`
	} `json:"entries"`
	Accounts []struct {
		ID        string   `json:"id"`
		Username  string   `json:"username"`
		Email     string   `json:"email"`
		FirstName string   `json:"first_name"`
		LastName  string   `json:"last_name"`
		Active    bool     `json:"active"`
		Owner     string   `json:"owner"`
		SourceID  string   `json:"source_id"`
		Groups    []string `json:"groups"`
	} `json:"accounts"`
	Policy struct {
		Protect          []string `json:"protect"`
		MaxDeactivations string   `json:"max_deactivations"`
	} `json:"policy"`
	PolicyRaw   map[string]string `json:"policy_raw"`
	LastApplied *StateRef         `json:"last_applied"`
}

// goldenNames are the golden plans under testdata/.
var goldenNames = []string{"mixed", "blocked", "no_changes"}

// goldenCases reads the golden plans' inputs.
func goldenCases() map[string]PlanRequest {
	out := map[string]PlanRequest{}
	for _, name := range goldenNames {
		data, err := os.ReadFile(filepath.Join("testdata", name+".input.json"))
		if err != nil {
			panic(err)
		}
		var in goldenInput
		if err := json.Unmarshal(data, &in); err != nil {
			panic(fmt.Sprintf("%s.input.json: %v", name, err))
		}
		out[name] = in.request()
	}
	return out
}

func (in goldenInput) request() PlanRequest {
	var entries []Entry
	for _, e := range in.Entries {
		var extra []string
		for _, g := range e.Groups {
			extra = append(extra, "groups="+g)
		}
		x := entry(e.UID, e.Mail, e.First, e.Last, e.SID, extra...)
		if e.Disabled {
			x = disabled(x)
		}
		entries = append(entries, x)
	}
	var accounts []Account
	for _, a := range in.Accounts {
		accounts = append(accounts, Account{ID: a.ID, Username: a.Username, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName,
			Active: a.Active, Owner: a.Owner, SourceID: a.SourceID, Groups: a.Groups})
	}
	req := planReq([]Source{&fakeSource{name: "corp", entries: entries}}, &fakeMapper{name: in.Mapper.Name, groups: in.Mapper.Groups}, newTarget(accounts...), DefaultPolicy())
	req.Policy.Protect = in.Policy.Protect
	req.Policy.MaxDeactivations, _ = ParseLimit(in.Policy.MaxDeactivations)
	req.PolicyRaw = in.PolicyRaw
	if in.LastApplied != nil {
		req.LastApplied = &LastApplied{Lineage: in.LastApplied.Lineage, Serial: in.LastApplied.Serial, Exists: true}
	}
	return req
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
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from the golden file (go test ./engine -update rewrites it); -want +got:\n%s", path, diff)
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
		m["format_version"] = "4.0"
		b, _ := json.Marshal(m)
		_, err := UnmarshalPlan(b, ReadOptions{})
		if refusalReason(err) != "format_version" || !strings.Contains(err.Error(), `"4.0"`) {
			t.Fatalf("major 4: %v", err)
		}
		m["format_version"] = "2.0"
		b, _ = json.Marshal(m)
		if _, err := UnmarshalPlan(b, ReadOptions{}); refusalReason(err) != "format_version" || !strings.Contains(err.Error(), "policy.protect") {
			t.Fatalf("major 2: %v", err)
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
		m["format_version"] = "3.3"
		m["approvals"] = []any{"lead"}
		m["checksum"] = mustChecksum(t, m)
		b, _ := json.MarshalIndent(m, "", "    ")
		back, err := UnmarshalPlan(b, ReadOptions{})
		if err != nil {
			t.Fatalf("minor bump refused: %v", err)
		}
		if back.FormatVersion != "3.3" || len(back.Changes) != len(p.Changes) {
			t.Fatalf("minor bump read wrongly: %+v", back.Summary)
		}
	})
	t.Run("protect is a list", func(t *testing.T) {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		_ = d.Decode(&m)
		pol := m["policy"].(map[string]any)
		if _, ok := pol["protect"].([]any); !ok {
			t.Fatalf("policy.protect is %#v, want a JSON list", pol["protect"])
		}
		back, err := UnmarshalPlan(data, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Policy.Protect, p.Policy.Protect) || len(back.Policy.Protect) == 0 {
			t.Fatalf("protect read back as %q, written %q", back.Policy.Protect, p.Policy.Protect)
		}
		if _, ok := back.Policy.Settings["protect"]; ok {
			t.Fatalf("protect also in Settings: %v", back.Policy.Settings)
		}
		// The format 2 spelling, with a checksum recomputed over it, is
		// not a valid format 3 plan.
		for _, bad := range []any{"admin", nil, []any{"admin", 1}, map[string]any{}} {
			pol["protect"] = bad
			m["checksum"] = mustChecksum(t, m)
			b, _ := json.Marshal(m)
			if _, err := UnmarshalPlan(b, ReadOptions{}); refusalReason(err) != "invalid" || !strings.Contains(err.Error(), "policy.protect must be a list of strings") {
				t.Errorf("protect %#v: %v", bad, err)
			}
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

// TestHugePlanFileRefusedUnread: a 1 GiB plan file is refused from its
// size, without reading it (the file is sparse: reading it would take
// seconds and a gigabyte).
func TestHugePlanFileRefusedUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadPlanFile(path, ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), "larger than 512 MiB (1073741824 bytes)") {
		t.Fatalf("1 GiB plan: %v", err)
	}
}
