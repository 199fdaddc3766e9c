package engine

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestDecodedSumsVerifyOwnPlans: every plan ldapsync writes verifies on
// the decoded path (re-encoding what was decoded), signed or not, with
// custom attributes whose keys look like format members; the
// document's canonical form is only the fallback.
func TestDecodedSumsVerifyOwnPlans(t *testing.T) {
	key := []byte("s3cret")
	for name, req := range goldenCases() {
		p := mustPlan(t, req)
		if len(p.Changes) > 0 {
			c := &p.Changes[0]
			if c.After == nil {
				c.After = &Fields{}
			}
			c.After.Custom = map[string]string{"Email": "x", "action": "delete", "custom_attributes": "{}"}
		}
		for _, k := range [][]byte{nil, key} {
			data, err := MarshalPlan(p, k)
			if err != nil {
				t.Fatal(err)
			}
			head, err := checkStrict(data)
			if err != nil || head.err != nil || head.unknown {
				t.Fatalf("%s: checkStrict: %v %v unknown=%v", name, err, head.err, head.unknown)
			}
			back, err := UnmarshalPlan(data, ReadOptions{Key: k})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, ok := decodedSums(back, head, k); !ok {
				t.Errorf("%s (key %q): the decoded plan does not re-encode to its checksum and signature; every read takes the slow path", name, k)
			}
		}
	}
}

// TestSignedPlanEditsRefused: an attacker who cannot sign edits a signed
// plan so that what is decoded differs from, or adds to, what was signed
// (a value, a member the format does not know, at the top or in a change)
// and recomputes the checksum: every one is refused, whichever path
// verifies it. Edits that decode to what was signed (whitespace, order)
// still verify.
func TestSignedPlanEditsRefused(t *testing.T) {
	key := []byte("s3cret")
	p := mustPlan(t, goldenCases()["mixed"])
	signed, err := MarshalPlan(p, key)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(signed))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		f(m)
		sig := m["signature"]
		delete(m, "signature")
		delete(m, "checksum")
		m["checksum"] = mustChecksum(t, m)
		m["signature"] = sig
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	change := func(m map[string]any) map[string]any { return m["changes"].([]any)[0].(map[string]any) }
	for name, f := range map[string]func(map[string]any){
		"top-level member added":   func(m map[string]any) { m["approved_by"] = "lead" },
		"member added to a change": func(m map[string]any) { change(m)["execute_as"] = "admin" },
		"value edited":             func(m map[string]any) { change(m)["address"] = "ftrack_user.mallory" },
		"change removed":           func(m map[string]any) { m["changes"] = m["changes"].([]any)[1:] },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := UnmarshalPlan(edit(f), ReadOptions{Key: key}); refusalReason(err) != "bad_signature" {
				t.Fatalf("edited signed plan: %v", err)
			}
		})
	}
	t.Run("reordered and compacted verifies", func(t *testing.T) {
		if _, err := UnmarshalPlan(edit(func(map[string]any) {}), ReadOptions{Key: key}); err != nil {
			t.Fatalf("a signed plan with its members reordered: %v", err)
		}
	})
}
