package engine

// The plan file's reading and integrity. The plan file is untrusted
// input: whoever can edit the CI artifact can recompute its checksum, so
// reading is strict and the integrity checks are only the first lock (see
// verify.go for what apply re-derives before it writes).
//
// Strict reading refuses, before anything else, a document that two
// readers could understand differently: a duplicate member name at any
// depth (encoding/json merges duplicates, a canonical form keeps one), a
// member name that differs only in case from a name of the plan's schema
// (encoding/json matches names without case), a value of the wrong JSON
// type, invalid UTF-8, and trailing data. What is accepted then decodes to
// exactly the document the checksum and signature cover.
//
// Canonical form: RFC 8785 (JSON Canonicalization Scheme) of the top-level
// object without its "checksum" and "signature" members. Any JCS library
// recomputes it; for this plan's data (integers below 2^53, ASCII member
// names) so does Python's json.dumps(obj, sort_keys=True,
// separators=(",", ":"), ensure_ascii=False).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// RefusalReason is the stable snake_case token of a refusal, printed as
// "apply refused (token)" and matched by scripts.
type RefusalReason string

// The refusal reasons. Reading: invalid, format_version,
// checksum_mismatch, unsigned, no_key, bad_signature. Applicability:
// blocked, target_mismatch, config_changed, state_mismatch, expired,
// already_applied. Verification of the changes (verify.go): stale,
// protected, not_owned, identity_mismatch, conflicting_changes,
// source_mismatch.
const (
	// RefuseInvalid: the file is not a well-formed plan (duplicate or
	// case-variant member names, wrong types, trailing data, a change
	// whose parts do not fit together).
	RefuseInvalid RefusalReason = "invalid"
	// RefuseFormatVersion: the plan's format major version is not this
	// ldapsync's.
	RefuseFormatVersion RefusalReason = "format_version"
	// RefuseChecksum: the checksum is missing or does not match.
	RefuseChecksum RefusalReason = "checksum_mismatch"
	// RefuseUnsigned: a signature is required (a key is configured, or
	// policy require_signed_plans) and the plan has none.
	RefuseUnsigned RefusalReason = "unsigned"
	// RefuseNoKey: the plan is signed and no key is configured to verify
	// it (unset or empty LDAPSYNC_PLAN_KEY): fail closed.
	RefuseNoKey RefusalReason = "no_key"
	// RefuseBadSignature: the signature does not match the key.
	RefuseBadSignature RefusalReason = "bad_signature"
	// RefuseBlocked: a safety limit, computed again at apply from the
	// plan's changes and the configuration's policy, blocks the plan.
	RefuseBlocked RefusalReason = "blocked"
	// RefuseTargetMismatch: the plan was made for another target.
	RefuseTargetMismatch RefusalReason = "target_mismatch"
	// RefuseConfigChanged: the configuration on disk is not the plan's.
	RefuseConfigChanged RefusalReason = "config_changed"
	// RefuseStateMismatch: the state is not the one the plan was made
	// against (lineage or serial).
	RefuseStateMismatch RefusalReason = "state_mismatch"
	// RefuseExpired: the plan's expiry passed.
	RefuseExpired RefusalReason = "expired"
	// RefuseAlreadyApplied: the state journal records the plan as applied.
	RefuseAlreadyApplied RefusalReason = "already_applied"
	// RefuseStale: ftrack or the directory moved on since the plan was
	// made.
	RefuseStale RefusalReason = "stale"
	// RefuseProtected: a change touches a protected account
	// (policy.protect, or the API user ldapsync signs in as).
	RefuseProtected RefusalReason = "protected"
	// RefuseNotOwned: a change touches an account this mapping does not
	// own (unowned, or owned by another mapping), other than an adopt the
	// policy and the directory allow.
	RefuseNotOwned RefusalReason = "not_owned"
	// RefuseIdentityMismatch: a change's address, key, target_id and the
	// account's username do not agree.
	RefuseIdentityMismatch RefusalReason = "identity_mismatch"
	// RefuseConflictingChanges: two changes write the same field of one
	// account.
	RefuseConflictingChanges RefusalReason = "conflicting_changes"
	// RefuseSourceMismatch: the configuration and the directory as they
	// are now would not make the change.
	RefuseSourceMismatch RefusalReason = "source_mismatch"
)

// RefusalError is a refusal to load or apply a plan. Reason is a stable
// token; Message names the change or part at fault, why, and what to do.
type RefusalError struct {
	Reason  RefusalReason
	Message string
}

// Error returns the message.
func (e *RefusalError) Error() string { return e.Message }

func refuse(reason RefusalReason, format string, args ...any) *RefusalError {
	return &RefusalError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReadOptions are the integrity requirements of UnmarshalPlan.
type ReadOptions struct {
	// Key is the signing key (LDAPSYNC_PLAN_KEY); empty means none is
	// configured. With a key, unsigned plans are refused; without one,
	// signed plans are refused (they cannot be verified).
	Key []byte
	// RequireSigned refuses unsigned plans whatever Key says (policy
	// require_signed_plans).
	RequireSigned bool
}

// MaxPlanBytes is the largest plan file ReadPlanFile reads.
const MaxPlanBytes = 512 << 20

// ReadPlanFile reads and verifies the plan file at path (see
// UnmarshalPlan). A file larger than MaxPlanBytes is refused unread.
func ReadPlanFile(path string, opts ReadOptions) (*Plan, error) {
	data, err := ReadPlanBytes(path)
	if err != nil {
		return nil, err
	}
	return UnmarshalPlan(data, opts)
}

// ReadPlanBytes reads a plan file's bytes, refusing one larger than
// MaxPlanBytes unread (ReadPlanFile, and show, which renders plans it
// cannot verify).
func ReadPlanBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxPlanBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB (%d bytes): not a plan file ldapsync wrote", path, MaxPlanBytes>>20, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPlanBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPlanBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a plan file ldapsync wrote", path, MaxPlanBytes>>20)
	}
	return data, nil
}

// PlanChecksum returns the checksum of a plan document, "sha256:" and the
// hex SHA-256 of its canonical form: what MarshalPlan writes into
// "checksum". Anyone can compute it; it detects accidents, not attackers.
func PlanChecksum(data []byte) (string, error) {
	if _, err := checkStrict(data); err != nil {
		return "", err
	}
	canon, _, err := canonicalPlan(data)
	if err != nil {
		return "", err
	}
	return checksumOf(canon), nil
}

// UnmarshalPlan reads a plan file strictly and verifies its integrity:
// a document that is not strictly one plan object (syntax, then format
// version, then types) is refused before anything else, then a missing or
// wrong checksum and the signature rules of opts, each with a
// *RefusalError. What it returns
// decodes to exactly the document the checksum and signature cover; it
// says nothing yet about whether the plan may be applied (see Apply).
//
// A document that is byte for byte what WritePlan writes for the plan it
// decodes to (every plan ldapsync wrote, unedited) is verified with the
// sums WritePlan computes as it re-encodes the decoded plan, in one
// pass, without a copy of the document; any other is canonicalised as
// it stands. Either way the verdict and the message are the canonical
// form's.
func UnmarshalPlan(data []byte, opts ReadOptions) (*Plan, error) {
	// The strict pass and the decode read the same bytes on two cores;
	// the decode's verdict only counts once the strict pass and the
	// format version have passed, so the errors come in the same order.
	var p Plan
	decoded := make(chan error, 1)
	go func() { decoded <- decodePlan(data, &p) }()
	head, err := checkStrict(data)
	if err == nil && head.err != nil {
		err = refuse(RefuseInvalid, "the plan file cannot be read: %v", head.err)
	}
	if err == nil {
		err = checkFormatVersion(head.formatVersion)
	}
	if derr := <-decoded; err == nil && derr != nil {
		err = refuse(RefuseInvalid, "the plan file is not a valid plan: %v", derr)
	}
	if err != nil {
		return nil, err
	}
	sums, ok := decodedSums(&p, head, data, opts.Key)
	if !ok {
		canon, _, err := canonicalPlan(data)
		if err != nil {
			return nil, refuse(RefuseInvalid, "the plan file cannot be read: %v", err)
		}
		sums = canonicalSums{checksum: checksumOf(canon)}
		if len(opts.Key) > 0 {
			sums.signature = signatureOf(canon, opts.Key)
		}
	}
	if err := verifyIntegrity(head, sums, opts); err != nil {
		return nil, err
	}
	p.signed = head.signature != ""
	return &p, nil
}

// decodePlan decodes data into p, with room for the changes made up
// front (one "action" member each; a miscount only costs a copy):
// growing the list was a sixth of the decode. The count is capped at one
// change per minChangeBytes of the file, so a document of nothing but
// "action" members reserves no more than a plan of its size.
func decodePlan(data []byte, p *Plan) error {
	if n := min(bytes.Count(data, []byte(`"action":`)), len(data)/minChangeBytes); n > 0 {
		p.Changes = make([]Change, 0, n)
	}
	return jsonv2.Unmarshal(data, p)
}

// minChangeBytes is less than the file form of any change WritePlan
// writes (its address, action, reason and key, indented).
const minChangeBytes = 96

// canonicalSums is what a plan's checksum and signature are compared
// with: the checksum of its canonical form, and the signature of that form
// under the reader's key (empty without one).
type canonicalSums struct{ checksum, signature string }

// decodedSums returns the sums of the decoded plan p when the document
// is byte for byte what WritePlan writes for p (with the key when it is
// signed): then its canonical form is the one WritePlan hashed, and the
// sums WritePlan computed are the verdict. Any other document (edited,
// reformatted, with a member the format does not know or an explicit
// empty value, written by other means) is left to its canonical form as
// it stands: false.
func decodedSums(p *Plan, h planHead, data, key []byte) (canonicalSums, bool) {
	if h.signature == "" {
		key = nil
	}
	q := *p
	w := &matchWriter{want: data}
	if err := WritePlan(w, &q, key); err != nil || !w.matches() {
		return canonicalSums{}, false
	}
	return canonicalSums{checksum: q.Checksum, signature: q.Signature}, true
}

// matchWriter compares what is written to it with want, holding nothing.
type matchWriter struct {
	want   []byte
	n      int
	differ bool
}

func (m *matchWriter) Write(b []byte) (int, error) {
	if !m.differ && (len(b) > len(m.want)-m.n || !bytes.Equal(b, m.want[m.n:m.n+len(b)])) {
		m.differ = true
	}
	m.n += len(b)
	return len(b), nil
}

// matches reports whether exactly want was written.
func (m *matchWriter) matches() bool { return !m.differ && m.n == len(m.want) }

// DecodePlanUnverified decodes a plan without any integrity check, as
// leniently as encoding/json does, for rendering a plan that cannot be
// applied (show, with a banner saying why). Never execute its result.
func DecodePlanUnverified(data []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p.FormatVersion == "" && p.PlanID == "" && p.Changes == nil {
		return nil, fmt.Errorf("not a plan file: it has no format_version, plan_id or changes")
	}
	return &p, nil
}

func checkFormatVersion(v string) error {
	major, _, ok := strings.Cut(v, ".")
	mj, err := strconv.Atoi(major)
	switch {
	case v == "":
		return refuse(RefuseFormatVersion, "the plan file has no format_version; it was not written by ldapsync plan")
	case !ok || err != nil:
		return refuse(RefuseFormatVersion, "the plan file has format_version %q, which is not MAJOR.MINOR", v)
	case mj == 1:
		return refuse(RefuseFormatVersion, "the plan file has format_version %q, written by an older ldapsync with another checksum form; make a new plan with this ldapsync (format %s)", v, FormatVersion)
	case mj < formatMajor:
		return refuse(RefuseFormatVersion, "the plan file has format_version %q, written by an older ldapsync (format 2 wrote policy.protect as one comma-joined string, format 3 as a list); make a new plan with this ldapsync (format %s)", v, FormatVersion)
	case mj > formatMajor:
		return refuse(RefuseFormatVersion, "the plan file has format_version %q; this ldapsync reads format %s (major %d) — use the ldapsync version that wrote the plan", v, FormatVersion, formatMajor)
	}
	return nil
}

// verifyIntegrity checks the checksum and the signature rules against
// the plan's sums.
func verifyIntegrity(h planHead, sums canonicalSums, opts ReadOptions) error {
	if h.checksum == "" {
		return refuse(RefuseChecksum, "the plan file has no checksum; it was not written by ldapsync plan or was edited")
	}
	if want := sums.checksum; !hmac.Equal([]byte(want), []byte(h.checksum)) {
		return refuse(RefuseChecksum, "the plan file was modified after it was written: its checksum %s does not match its content (%s); make a new plan", h.checksum, want)
	}
	switch {
	case h.signature == "" && len(opts.Key) > 0:
		return refuse(RefuseUnsigned, "the plan is not signed, but LDAPSYNC_PLAN_KEY is set: apply only runs plans signed with that key; make the plan with the key set")
	case h.signature == "" && opts.RequireSigned:
		return refuse(RefuseUnsigned, "the plan is not signed, and policy require_signed_plans = true: make the plan with LDAPSYNC_PLAN_KEY set, and give apply the same key")
	case h.signature == "":
		return nil
	case len(opts.Key) == 0:
		return refuse(RefuseNoKey, "the plan is signed, but no signing key is configured (LDAPSYNC_PLAN_KEY is unset or empty), so the signature cannot be verified; give apply the key the plan was signed with")
	case !hmac.Equal([]byte(sums.signature), []byte(h.signature)):
		return refuse(RefuseBadSignature, "the plan's signature does not match LDAPSYNC_PLAN_KEY: it was signed with another key or edited")
	}
	return nil
}

func checksumOf(canon []byte) string {
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func signatureOf(canon, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(canon)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// planHead holds the top-level members the integrity checks read.
type planHead struct {
	formatVersion, checksum, signature string
	// err says which of them is not a string (checkStrict's head only).
	err error
}

// canonicalPlan returns the canonical form of a plan document (RFC 8785
// of the top-level object without "checksum" and "signature") and those
// members' values. It expects a document checkStrict accepted (or one
// encoding/json wrote).
func canonicalPlan(data []byte) ([]byte, planHead, error) {
	var h planHead
	dec := jsontext.NewDecoder(bytes.NewBuffer(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, h, fmt.Errorf("a plan file is one JSON object")
	}
	var obj bytes.Buffer
	obj.Grow(len(data))
	obj.WriteByte('{')
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, h, err
		}
		name := tok.String() // the token is void after the next read
		val, err := dec.ReadValue()
		if err != nil {
			return nil, h, err
		}
		switch n := name; n {
		case "checksum", "signature", "format_version":
			var s string
			if err := jsonv2.Unmarshal(val, &s); err != nil {
				return nil, h, fmt.Errorf("%s must be a string", n)
			}
			switch n {
			case "checksum":
				h.checksum = s
				continue
			case "signature":
				h.signature = s
				continue
			}
			h.formatVersion = s
		}
		if obj.Len() > 1 {
			obj.WriteByte(',')
		}
		quoted, _ := jsontext.AppendQuote(nil, name)
		obj.Write(quoted)
		obj.WriteByte(':')
		obj.Write(val)
	}
	obj.WriteByte('}')
	v := jsontext.Value(obj.Bytes())
	if err := v.Canonicalize(); err != nil {
		return nil, h, err
	}
	return v, h, nil
}

// checkStrict refuses a document that is not exactly one JSON object
// with unique member names, valid UTF-8, and no member name that differs
// only in case from a name of the plan's schema. It returns the
// top-level format_version, checksum and signature (head.err when one of
// them is not a string), read on the same pass.
func checkStrict(data []byte) (planHead, error) {
	// A *bytes.Buffer is parsed in place, not copied into the decoder's
	// own buffer. The decoder rejects duplicate names and invalid UTF-8.
	var head planHead
	dec := jsontext.NewDecoder(bytes.NewBuffer(data))
	known := planNames()
	var headName string   // the top-level head member whose value is the next token,
	var headValue *string // and where its value goes
	// customDepth is the depth of the custom_attributes object being read
	// (its keys are the site's attribute names, which may be spelt like
	// format members), 0 outside one; customNext says it is the next token.
	customDepth, customNext := 0, false
	for first := true; ; first = false {
		tok, err := dec.ReadToken()
		if err == io.EOF && !first {
			return head, nil
		}
		if err != nil {
			return head, refuse(RefuseInvalid, "the plan file is not strictly valid JSON: %v", err)
		}
		if first && tok.Kind() != '{' {
			return head, refuse(RefuseInvalid, "the plan file is not a JSON object")
		}
		if headValue != nil {
			head.set(headName, headValue, tok)
			headValue = nil
		}
		depth := dec.StackDepth()
		if customNext && tok.Kind() == '{' {
			customDepth = depth
		}
		customNext = false
		if depth < customDepth {
			customDepth = 0
		}
		if depth == 0 {
			if _, err := dec.ReadToken(); err != io.EOF {
				return head, refuse(RefuseInvalid, "the plan file has data after the plan object")
			}
			return head, nil
		}
		if tok.Kind() == '0' {
			if err := checkInteger(tok.String(), dec); err != nil {
				return head, err
			}
			continue
		}
		if tok.Kind() != '"' {
			continue
		}
		if kind, n := dec.StackIndex(depth); kind == '{' && n%2 == 1 { // a member name
			if depth == customDepth {
				continue // a key of the site's custom attributes, not a member of the format
			}
			name := tok.String()
			if depth == 1 {
				headName, headValue = name, head.field(name)
			}
			customNext = name == "custom_attributes"
			want, ok := known[strings.ToLower(name)]
			if !ok || want == name {
				continue
			}
			return head, refuse(RefuseInvalid, "the plan file has a member %q at %s; the plan format spells it %q (a name that differs only in case is refused, not merged)", name, dec.StackPointer(), want)
		}
	}
}

// field is where checkStrict puts the top-level member name's value: a
// head member's field, or nil.
func (h *planHead) field(name string) *string {
	switch name {
	case "format_version":
		return &h.formatVersion
	case "checksum":
		return &h.checksum
	case "signature":
		return &h.signature
	}
	return nil
}

// set stores the value token of the head member name at v: a string, or
// null (as encoding/json reads it into a string: empty).
func (h *planHead) set(name string, v *string, tok jsontext.Token) {
	switch tok.Kind() {
	case '"':
		*v = tok.String()
	case 'n':
	default:
		if h.err == nil {
			h.err = fmt.Errorf("%s must be a string", name)
		}
	}
}

// maxExactInteger is 2^53: larger integers lose precision in the
// canonical form (RFC 8785 numbers are IEEE doubles), so two documents
// that decode to different integers could share a checksum.
const maxExactInteger = 1 << 53

// checkInteger refuses a number that is not an integer below 2^53 in
// magnitude: the plan format holds no other numbers.
func checkInteger(lit string, dec *jsontext.Decoder) error {
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || n >= maxExactInteger || n <= -maxExactInteger {
		return refuse(RefuseInvalid, "the plan file has the number %s at %s; plan numbers are integers below 2^53 in magnitude", lit, dec.StackPointer())
	}
	return nil
}

// planNames maps the lower-case form of every member name of the plan's
// schema to its spelling.
var planNames = sync.OnceValue(func() map[string]string {
	names := map[string]string{"override": "override"}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				names[strings.ToLower(name)] = name
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Plan{}))
	return names
})
