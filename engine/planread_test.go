package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestDecodedSumsVerifyOwnPlans: every plan ldapsync writes verifies on
// the decoded path (it is byte for byte what re-encoding the decoded plan
// writes), signed or not, with custom attributes whose keys look like
// format members; the document's canonical form is only the fallback.
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
			if err != nil || head.err != nil {
				t.Fatalf("%s: checkStrict: %v %v", name, err, head.err)
			}
			back, err := UnmarshalPlan(data, ReadOptions{Key: k})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, ok := decodedSums(back, head, data, k); !ok {
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

// TestEditsThatDecodeAlikeRefused: edits that leave what is decoded as it
// was — a member in a place the format does not have it (ignored when
// decoded), a zero member left out, an explicit empty member added, a
// time spelt another way — still break the checksum and the signature,
// as they break the canonical form the file's header documents: the
// decoded path only vouches for a document that is exactly what ldapsync
// wrote.
func TestEditsThatDecodeAlikeRefused(t *testing.T) {
	key := []byte("s3cret")
	p := mustPlan(t, goldenCases()["mixed"])
	if len(p.MissingSince) == 0 || len(p.Changes) == 0 {
		t.Fatal("test setup: the mixed plan needs missing_since and changes")
	}
	change := func(m map[string]any) map[string]any { return m["changes"].([]any)[0].(map[string]any) }
	edits := map[string]func(m map[string]any){
		"custom_attributes at the top":  func(m map[string]any) { m["custom_attributes"] = map[string]any{"approved-by": "security-team"} },
		"a change's members at the top": func(m map[string]any) { m["address"], m["action"] = "user.admin", "deactivate" },
		"fields beside after":           func(m map[string]any) { change(m)["email"] = "mallory@evil.test" },
		"signature in the target":       func(m map[string]any) { m["target"].(map[string]any)["signature"] = "hmac-sha256:00" },
		"a zero member left out":        func(m map[string]any) { delete(m["summary"].(map[string]any), "create_group") },
		"explicit empties":              func(m map[string]any) { change(m)["reason_detail"], change(m)["group"] = "", nil },
		"a time spelt +00:00": func(m map[string]any) {
			for k, v := range m["missing_since"].(map[string]any) {
				m["missing_since"].(map[string]any)[k] = strings.Replace(v.(string), "Z", "+00:00", 1)
			}
		},
	}
	for _, k := range [][]byte{nil, key} {
		data, err := MarshalPlan(p, k)
		if err != nil {
			t.Fatal(err)
		}
		for name, edit := range edits {
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(m)
			edit(m)
			edited, _ := json.Marshal(m)
			if bytes.Equal(before, edited) {
				t.Fatalf("%s: test setup: the edit changed nothing", name)
			}
			if _, err := UnmarshalPlan(edited, ReadOptions{Key: k}); refusalReason(err) != "checksum_mismatch" {
				t.Errorf("%s (signed %v): %v, want checksum_mismatch", name, k != nil, err)
			}
		}
	}
}
