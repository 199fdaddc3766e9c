package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// marshalPlanReference is MarshalPlan as it was before the plan file was
// streamed (issue 17): the plan marshalled whole, its canonical form
// computed from those bytes, then the plan encoded again, indented.
// WritePlan must write exactly its bytes.
func marshalPlanReference(p *Plan, key []byte) ([]byte, error) {
	p.Checksum, p.Signature = "", ""
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	canon, _, err := canonicalPlan(raw)
	if err != nil {
		return nil, err
	}
	p.Checksum = checksumOf(canon)
	if len(key) > 0 {
		p.Signature = signatureOf(canon, key)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// awkwardStrings are strings whose two encodings differ from each other
// or from the plain bytes: escapes, HTML characters, U+2028, bytes that
// are not UTF-8, non-ASCII.
var awkwardStrings = []string{
	"", "plain", `quote" back\slash`, "<script>&amp;</script>", "ctl\x00\x01\x1f\x7f", "\b\f\n\r\t",
	"line\u2028sep\u2029", "bad\xff\xfeutf8\xc3", "é😀\u202e", "\ufffd",
}

// hostileChanges returns changes holding s in every string, with every
// combination of present and absent members the encoder distinguishes.
func hostileChanges(s string) []Change {
	f := &Fields{Username: Str(s), Email: Str(s), FirstName: Str(s), LastName: Str(s), IsActive: Bool(false), Owner: Str(s), SourceID: Str(s), UserType: Str(s)}
	return []Change{
		{Address: s, Action: Action(s), Reason: ChangeReason(s), ReasonDetail: s, Key: s, TargetID: s, SourceID: s, Group: s, MembershipID: s, Before: f, After: f},
		{Address: s, Action: ActionAddRole, Key: s, Role: s, AllOpenProjects: true, Project: s},
		{Address: s, Action: ActionUpdate, Before: &Fields{Custom: map[string]string{s: s, "b": "", "\ue000": s, "😀": s}}, After: &Fields{Custom: map[string]string{}}},
		{Address: s, Action: ActionGrantRoleProject, Key: s, Role: s, Project: s},
		{Address: s, Action: ActionCreate, Key: s, After: &Fields{IsActive: Bool(true)}},
		{Address: s, Action: ActionUpdate, Before: &Fields{}, After: &Fields{Email: Str(s)}},
		{},
	}
}

// TestWritePlanMatchesReference: the streamed plan file is byte for byte
// the one the whole-plan encoder wrote, signed and unsigned, for the
// golden plans and for plans holding awkward strings everywhere, with no,
// empty and nil change lists.
func TestWritePlanMatchesReference(t *testing.T) {
	plans := map[string]*Plan{}
	for name, req := range goldenCases() {
		plans[name] = mustPlan(t, req)
	}
	for i, s := range awkwardStrings {
		p := mustPlan(t, goldenCases()["mixed"])
		p.Changes = append(p.Changes, hostileChanges(s)...)
		p.Warnings = append(p.Warnings, s)
		p.Unmanaged = append(p.Unmanaged, s)
		p.Skipped = append(p.Skipped, Skipped{Source: s, DN: s, Reason: s})
		p.Policy.Settings[s] = s
		p.Policy.Protect = append(p.Policy.Protect, s)
		p.Targets = []string{s}
		plans["awkward"+string(rune('a'+i))] = p
	}
	nilChanges := mustPlan(t, goldenCases()["no_changes"])
	nilChanges.Changes = nil
	plans["nil changes"] = nilChanges
	plans["zero plan"] = &Plan{}
	for name, p := range plans {
		for _, key := range [][]byte{nil, []byte("k3y")} {
			want, err := marshalPlanReference(p, key)
			if err != nil {
				t.Fatal(err)
			}
			wantSum, wantSig := p.Checksum, p.Signature
			got, err := MarshalPlan(p, key)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (key %q): WritePlan differs from the reference encoder\n got %s\nwant %s", name, key, got, want)
			}
			if p.Checksum != wantSum || p.Signature != wantSig {
				t.Errorf("%s: checksum %s signature %s, want %s %s", name, p.Checksum, p.Signature, wantSum, wantSig)
			}
		}
	}
}

// FuzzChangeEncoding: the change encoder's two forms are what
// encoding/json and RFC 8785 canonicalization make of a change, for any
// strings.
func FuzzChangeEncoding(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, c := range append(hostileChanges(a), hostileChanges(b)...) {
			c.Group = b
			checkChangeEncoding(t, c)
		}
	})
}

func checkChangeEncoding(t *testing.T, c Change) {
	t.Helper()
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	raw := bytes.TrimSuffix(compact.Bytes(), []byte("\n"))
	var file bytes.Buffer
	if err := json.Indent(&file, raw, "    ", "  "); err != nil {
		t.Fatal(err)
	}
	canon := jsontext.Value(bytes.Clone(raw))
	if err := canon.Canonicalize(); err != nil {
		t.Fatal(err)
	}
	var e changeEncoder
	e.encode(&c)
	if string(e.file) != file.String() {
		t.Errorf("file form of %+v\n got %s\nwant %s", c, e.file, file.String())
	}
	if string(e.canon) != string(canon) {
		t.Errorf("canonical form of %+v\n got %s\nwant %s", c, e.canon, canon)
	}
	if strings.Contains(string(e.canon), "\n") {
		t.Errorf("canonical form has a line break: %s", e.canon)
	}
}
