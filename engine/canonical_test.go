package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// TestCanonicalIsJCS pins the canonical form to RFC 8785: members sorted,
// no whitespace, strings in their minimal escaping (control characters
// as \uXXXX or their short forms, everything else as UTF-8), numbers as
// ECMAScript prints them, and the top-level checksum and signature left
// out (nested ones kept).
func TestCanonicalIsJCS(t *testing.T) {
	in := ` { "z" : { "checksum" : "kept" , "b" : [ 1 , 2.50 , -0 , 1e2 , true , null ] , "a" : "\u00e9\/\u2028\t\u0001<&>" } ,
	  "checksum" : "sha256:x" , "signature" : "hmac-sha256:y" , "format_version" : "2.0" , "A" : "😀" } `
	want := `{"A":"😀","format_version":"2.0","z":{"a":"é/` + "\u2028" + `\t\u0001<&>","b":[1,2.5,0,100,true,null],"checksum":"kept"}}`
	got, head, err := canonicalPlan([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	if head.checksum != "sha256:x" || head.signature != "hmac-sha256:y" || head.formatVersion != "2.0" {
		t.Fatalf("head = %+v", head)
	}
}

// TestChecksumMatchesPython proves the README's claim that a short
// script in another language recomputes the checksum: the golden plans'
// checksums equal what Python's json module gives, when python3 is here.
func TestChecksumMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is needed for this test under CI: %v", err)
		}
		t.Skip("no python3")
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "*.plan.json"))
	if len(golden) == 0 {
		t.Fatal("no golden plans")
	}
	for _, path := range golden {
		out, err := runPython(py, path)
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, out)
		}
		data, _ := os.ReadFile(path)
		var head struct{ Checksum string }
		_ = json.Unmarshal(data, &head)
		if strings.TrimSpace(out) != head.Checksum {
			t.Errorf("%s: python says %s, the plan says %s", path, strings.TrimSpace(out), head.Checksum)
		}
	}
}

// checksumPy is the README's recipe for recomputing a plan's checksum.
const checksumPy = `import hashlib, json, sys
plan = json.load(open(sys.argv[1], encoding="utf-8"))
plan.pop("checksum", None); plan.pop("signature", None)
canon = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
print("sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest())
`

func runPython(py, path string) (string, error) {
	out, err := exec.Command(py, "-c", checksumPy, path).CombinedOutput()
	return string(out), err
}

func TestStrictReading(t *testing.T) {
	p := mustPlan(t, goldenCases()["mixed"])
	key := []byte("k3y")
	signed, err := MarshalPlan(p, key)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := MarshalPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An edit and the checksum an attacker recomputes for it: every case
	// must be refused as invalid before integrity is even considered.
	cases := map[string]func([]byte) []byte{
		"duplicate after": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"after": {`), []byte(`"after": {"email": "x@evil.test"}, "after": {`), 1)
		},
		"duplicate changes": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"changes": [`), []byte(`"changes": [], "changes": [`), 1)
		},
		"duplicate at the top": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"plan_id": `), []byte(`"plan_id": "other", "plan_id": `), 1)
		},
		"case variant": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"after": {`), []byte(`"After": {"email": "x@evil.test"}, "after": {`), 1)
		},
		"case variant alone": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"target_id": `), []byte(`"Target_ID": `), 1)
		},
		"wrong type": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"is_active": true`), []byte(`"is_active": "true"`), 1)
		},
		"wrong type at the top": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"changes": [`), []byte(`"changes": {"x": 1}, "old_changes": [`), 1)
		},
		"trailing data": func(d []byte) []byte { return append(d, []byte(`{"changes": []}`)...) },
		"integer beyond 2^53": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"unchanged": `), []byte(`"unchanged": 9007199254740993, "x": `), 1)
		},
		"not an integer": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"unchanged": `), []byte(`"x": 1.5, "unchanged": `), 1)
		},
		"not an object": func(d []byte) []byte { return []byte(`[` + string(d) + `]`) },
		"invalid utf-8": func(d []byte) []byte {
			return bytes.Replace(d, []byte(`"studio"`), []byte("\"stu\xffdio\""), 1)
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			for _, base := range [][]byte{signed, unsigned} {
				edited := edit(base)
				if bytes.Equal(edited, base) {
					t.Fatal("test setup: the edit changed nothing")
				}
				for _, opts := range []ReadOptions{{Key: key}, {}} {
					_, err := UnmarshalPlan(edited, opts)
					if refusalReason(err) != "invalid" {
						t.Fatalf("edited plan read with %v: want invalid, got %v", opts.Key != nil, err)
					}
				}
			}
		})
	}
	t.Run("signed plan without a key", func(t *testing.T) {
		for _, k := range [][]byte{nil, {}} {
			if _, err := UnmarshalPlan(signed, ReadOptions{Key: k}); refusalReason(err) != "no_key" {
				t.Fatalf("key %q: %v", k, err)
			}
		}
	})
	t.Run("require_signed_plans", func(t *testing.T) {
		if _, err := UnmarshalPlan(unsigned, ReadOptions{RequireSigned: true}); refusalReason(err) != "unsigned" || !strings.Contains(err.Error(), "require_signed_plans") {
			t.Fatalf("unsigned plan under require_signed_plans: %v", err)
		}
		back, err := UnmarshalPlan(signed, ReadOptions{Key: key, RequireSigned: true})
		if err != nil || !back.Signed() {
			t.Fatalf("signed plan under require_signed_plans: %v", err)
		}
	})
}

// FuzzPlanContract's property is the plan contract itself: whatever
// UnmarshalPlan accepts decodes to exactly the changes that the checksum
// (and so the signature) covers. The harness plays the attacker: it
// recomputes the checksum over its input the way the reader computes it,
// so the reader's integrity checks pass whenever the document parses;
// then the changes UnmarshalPlan returns must equal the changes read, by
// exact member names, from the canonical bytes the checksum covers.
//
// Seeded with the duplicate-key bypass (a second "after" before the real
// one), this fails on a reader whose canonical form keeps the last
// duplicate while its decoder merges both.
func FuzzPlanContract(f *testing.F) {
	p := mustPlan(f, goldenCases()["mixed"])
	data, err := MarshalPlan(p, nil)
	if err != nil {
		f.Fatal(err)
	}
	body := stripChecksum(f, data)
	f.Add(body)
	f.Add(bytes.Replace(body, []byte(`"after":{`), []byte(`"after":{"email":"attacker@evil.test"},"after":{`), 1))
	f.Add(bytes.Replace(body, []byte(`"after":{`), []byte(`"After":{"email":"attacker@evil.test"},"after":{`), 1))
	f.Add(bytes.Replace(body, []byte(`"changes":[`), []byte(`"changes":[],"changes":[`), 1))
	f.Add([]byte(`{"format_version":"3.0","changes":[{"action":"create","key":"a","after":{"username":"a"},"after":{"email":"e"}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		data, canon, ok := attackerChecksum(doc)
		if !ok {
			return
		}
		got, err := UnmarshalPlan(data, ReadOptions{})
		if err != nil {
			return
		}
		want, err := exactChanges(canon)
		if err != nil {
			t.Fatalf("UnmarshalPlan accepted a plan whose covered bytes hold no valid changes (%v):\n%s", err, data)
		}
		if !reflect.DeepEqual(normalized(got.Changes), normalized(want)) {
			t.Fatalf("UnmarshalPlan decoded changes the checksum does not cover:\n decoded %+v\n covered %+v\n%s", got.Changes, want, data)
		}
	})
}

// stripChecksum returns the plan compacted, without its checksum.
func stripChecksum(t testing.TB, data []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "checksum")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attackerChecksum appends a "checksum" member to the object doc, computed
// over the canonical form the reader uses; ok is false when doc is not
// an object that form accepts.
func attackerChecksum(doc []byte) (data, canon []byte, ok bool) {
	canon, _, err := canonicalPlan(doc)
	if err != nil {
		return nil, nil, false
	}
	end := bytes.LastIndexByte(doc, '}')
	if end < 0 {
		return nil, nil, false
	}
	sep := ","
	if bytes.TrimSpace(doc[:end])[len(bytes.TrimSpace(doc[:end]))-1] == '{' {
		sep = ""
	}
	data = fmt.Appendf(append([]byte(nil), doc[:end]...), `%s"checksum":%q}`, sep, checksumOf(canon))
	return append(data, doc[end+1:]...), canon, true
}

// exactChanges reads the changes from canonical bytes by exact member
// names, independently of the plan's Go types.
func exactChanges(canon []byte) ([]Change, error) {
	var doc map[string]any
	if err := jsonv2.Unmarshal(canon, &doc); err != nil {
		return nil, err
	}
	raw, _ := doc["changes"].([]any)
	var out []Change
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a change is not an object")
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		c := Change{Address: str("address"), Action: Action(str("action")), Reason: ChangeReason(str("reason")), ReasonDetail: str("reason_detail"), Key: str("key"),
			TargetID: str("target_id"), SourceID: str("source_id"), Group: str("group"), MembershipID: str("membership_id"),
			Role: str("role"), Project: str("project")}
		c.AllOpenProjects, _ = m["all_open_projects"].(bool)
		c.Before, c.After = exactFields(m["before"]), exactFields(m["after"])
		out = append(out, c)
	}
	return out, nil
}

func exactFields(v any) *Fields {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	s := func(k string) *string {
		if x, ok := m[k].(string); ok {
			return &x
		}
		return nil
	}
	f := &Fields{Username: s("username"), Email: s("email"), FirstName: s("first_name"), LastName: s("last_name"), Owner: s("owner"), SourceID: s("source_id"), UserType: s("user_type")}
	if b, ok := m["is_active"].(bool); ok {
		f.IsActive = &b
	}
	if c, ok := m["custom_attributes"].(map[string]any); ok {
		f.Custom = map[string]string{}
		for k, v := range c {
			f.Custom[k], _ = v.(string)
		}
	}
	return f
}

// normalized makes empty change lists and empty Fields compare equal.
func normalized(cs []Change) []Change {
	if len(cs) == 0 {
		return nil
	}
	out := append([]Change(nil), cs...)
	for i := range out {
		if out[i].Before != nil && reflect.DeepEqual(*out[i].Before, Fields{}) {
			out[i].Before = &Fields{}
		}
	}
	return out
}

// BenchmarkUnmarshalPlan10kCreates verifies and reads a plan of 10,000
// creates, what apply does first.
func BenchmarkUnmarshalPlan10kCreates(b *testing.B) {
	srcs, _ := benchWorld(10000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, newTarget(), DefaultPolicy()))
	if err != nil || p.Summary.Create != 10000 {
		b.Fatalf("%v %+v", err, p.Summary)
	}
	data, err := MarshalPlan(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := canonicalPlan(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalPlan", func(b *testing.B) {
		for b.Loop() {
			if _, err := UnmarshalPlan(data, ReadOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnmarshalPlanMemory reports what reading a plan of 10,000
// creates allocates per byte of the file (alloc-bytes/file-byte): the
// cost of strict reading, the canonical form and the decoded plan.
func BenchmarkUnmarshalPlanMemory(b *testing.B) {
	srcs, _ := benchWorld(10000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, newTarget(), DefaultPolicy()))
	if err != nil {
		b.Fatal(err)
	}
	data, err := MarshalPlan(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := UnmarshalPlan(data, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(data)), "alloc-bytes/file-byte")
	b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
}
