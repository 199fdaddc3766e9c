package engine

// The plan file's integrity: the checksum (and the optional HMAC signature)
// cover a canonical form of the file, computed from the JSON itself rather
// than from our Go struct, so that a plan written by a later minor version
// with extra fields still verifies. Canonical form: the top-level object
// without "checksum" and "signature", every object's keys sorted, no
// insignificant whitespace, numbers as written.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RefusalError is a refusal to load or apply a plan. Reason is a stable
// token (checksum_mismatch, unsigned, bad_signature, format_version,
// blocked, target_mismatch, config_changed, state_mismatch, expired,
// already_applied, stale, invalid); Message names what and why.
type RefusalError struct {
	Reason  string
	Message string
}

// Error returns the message.
func (e *RefusalError) Error() string { return e.Message }

func refuse(reason, format string, args ...any) *RefusalError {
	return &RefusalError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// MarshalPlan writes the plan as deterministic, indented JSON. It fills
// p.Checksum and, with a key, p.Signature (HMAC-SHA256 over the canonical
// form).
func MarshalPlan(p *Plan, key []byte) ([]byte, error) {
	p.Checksum, p.Signature = "", ""
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	canon, err := canonicalValid(raw) // json.Marshal writes valid JSON
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p.Checksum = checksumOf(canon)
	if key != nil {
		p.Signature = signatureOf(canon, key)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalPlan reads a plan file and verifies it: an unknown major format
// version, a checksum that does not match, and — when key is not nil — a
// missing or wrong signature are refused with a *RefusalError.
//
// The plan is decoded while its canonical form is computed (two cores,
// half the wall time for a large plan); the checks run in the same order
// as in the sequential reading, which a plan that does not decode takes.
func UnmarshalPlan(data []byte, key []byte) (*Plan, error) {
	type decoded struct {
		p   Plan
		err error
	}
	ch := make(chan decoded, 1)
	go func() {
		var d decoded
		d.err = json.Unmarshal(data, &d.p)
		ch <- d
	}()
	var canon []byte
	var cerr error
	if json.Valid(data) {
		canon, cerr = canonicalValid(data)
	}
	d := <-ch
	if d.err != nil || canon == nil || cerr != nil {
		return unmarshalPlanChecked(data, key)
	}
	if err := verifyPlan(d.p.FormatVersion, d.p.Checksum, d.p.Signature, canon, key); err != nil {
		return nil, err
	}
	return &d.p, nil
}

// unmarshalPlanChecked is UnmarshalPlan one step after the other: it
// finds the first reason to refuse a plan that does not decode.
func unmarshalPlanChecked(data []byte, key []byte) (*Plan, error) {
	var head struct {
		FormatVersion string `json:"format_version"`
		Checksum      string `json:"checksum"`
		Signature     string `json:"signature"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, refuse("invalid", "the plan file is not valid JSON: %v", err)
	}
	if err := checkFormatVersion(head.FormatVersion); err != nil {
		return nil, err
	}
	canon, err := canonical(data)
	if err != nil {
		return nil, refuse("invalid", "the plan file cannot be read: %v", err)
	}
	if err := verifyPlan(head.FormatVersion, head.Checksum, head.Signature, canon, key); err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, refuse("invalid", "the plan file cannot be read: %v", err)
	}
	return &p, nil
}

func checkFormatVersion(v string) error {
	major, _, ok := strings.Cut(v, ".")
	if mj, err := strconv.Atoi(major); !ok || err != nil || mj != 1 {
		if v == "" {
			return refuse("format_version", "the plan file has no format_version; it was not written by ldapsync plan")
		}
		return refuse("format_version", "the plan file has format_version %q; this ldapsync reads format %s (major 1) — use the ldapsync version that wrote the plan", v, FormatVersion)
	}
	return nil
}

// verifyPlan checks the format version, the checksum and, with a key, the
// signature of a plan whose canonical form is canon.
func verifyPlan(formatVersion, checksum, signature string, canon, key []byte) error {
	if err := checkFormatVersion(formatVersion); err != nil {
		return err
	}
	if checksum == "" {
		return refuse("checksum_mismatch", "the plan file has no checksum; it was not written by ldapsync plan or was edited")
	}
	if want := checksumOf(canon); !hmac.Equal([]byte(want), []byte(checksum)) {
		return refuse("checksum_mismatch", "the plan file was modified after it was written: its checksum %s does not match its content (%s); make a new plan", checksum, want)
	}
	if key != nil {
		if signature == "" {
			return refuse("unsigned", "the plan is not signed, but LDAPSYNC_PLAN_KEY is set: apply only runs plans signed with that key; make the plan with the key set")
		}
		if !hmac.Equal([]byte(signatureOf(canon, key)), []byte(signature)) {
			return refuse("bad_signature", "the plan's signature does not match LDAPSYNC_PLAN_KEY: it was signed with another key or edited")
		}
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

// canonical returns the canonical form of a plan document. It walks the
// JSON text itself (canonicalizer) instead of decoding it into generic
// maps and encoding those again: the same bytes (TestCanonicalMatchesGeneric,
// FuzzCanonical), at a fraction of the cost for a plan of thousands of
// changes.
func canonical(data []byte) ([]byte, error) {
	if !json.Valid(data) {
		return canonicalGeneric(data) // for the decoder's error message
	}
	return canonicalValid(data)
}

// canonicalValid is canonical for data known to be valid JSON.
func canonicalValid(data []byte) ([]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return canonicalGeneric(data)
	}
	c := &canonicalizer{data: data, out: make([]byte, 0, len(data))}
	if _, err := c.object(i, true); err != nil {
		return nil, err
	}
	return c.out, nil
}

// canonicalGeneric is the canonical form by decoding into generic values
// and encoding them again (maps encode with sorted keys). canonical gives
// the same bytes; this is the definition, kept for input that is not a
// valid JSON object.
func canonicalGeneric(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the plan object")
	}
	delete(doc, "checksum")
	delete(doc, "signature")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// canonicalizer writes the canonical form of valid JSON text into out.
// The members of the objects being written share one stack, and the
// reordering of an object's members one scratch buffer: an object is
// reordered only once all the values inside it are written.
type canonicalizer struct {
	data    []byte
	out     []byte
	scratch []byte
	members []member
}

// member is an object member written to out[start:end] ("key":value).
type member struct {
	key        []byte // decoded
	start, end int
}

// value writes the value at data[i] and returns the index after it.
func (c *canonicalizer) value(i int) (int, error) {
	data := c.data
	switch data[i] {
	case '{':
		return c.object(i, false)
	case '[':
		c.out = append(c.out, '[')
		i = skipSpace(data, i+1)
		if data[i] == ']' {
			c.out = append(c.out, ']')
			return i + 1, nil
		}
		for {
			var err error
			if i, err = c.value(i); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if data[i] == ']' {
				c.out = append(c.out, ']')
				return i + 1, nil
			}
			c.out = append(c.out, ',')
			i = skipSpace(data, i+1) // after ','
		}
	case '"':
		end := stringEnd(data, i)
		var err error
		c.out, err = canonicalString(c.out, data[i:end])
		return end, err
	default: // number, true, false, null: as written
		j := i
		for j < len(data) && !isDelim(data[j]) {
			j++
		}
		c.out = append(c.out, data[i:j]...)
		return j, nil
	}
}

// object writes an object with its members sorted by key (the decoded
// key, compared bytewise, as encoding/json sorts map keys); of repeated
// keys the last wins, as when decoding into a map. At the top level the
// checksum and signature are left out. Members are written in their
// order, comma-separated; when that is not the sorted order they are
// then moved into it.
func (c *canonicalizer) object(i int, top bool) (int, error) {
	data := c.data
	c.out = append(c.out, '{')
	base := len(c.out)
	mbase := len(c.members)
	defer func() { c.members = c.members[:mbase] }()
	sorted := true
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := stringEnd(data, i)
		lit := data[i:end]
		key := lit[1 : len(lit)-1]
		if bytes.IndexByte(lit, '\\') >= 0 || !utf8.Valid(lit) {
			var k string
			if err := json.Unmarshal(lit, &k); err != nil {
				return 0, err
			}
			key = []byte(k)
		}
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // after ':'
		cstart := len(c.out)
		n := len(c.members) - mbase
		if n > 0 {
			c.out = append(c.out, ',')
		}
		mstart := len(c.out)
		var err error
		if c.out, err = canonicalString(c.out, lit); err != nil {
			return 0, err
		}
		c.out = append(c.out, ':')
		if i, err = c.value(i); err != nil {
			return 0, err
		}
		if top && (string(key) == "checksum" || string(key) == "signature") {
			c.out = c.out[:cstart]
		} else {
			if n > 0 && bytes.Compare(c.members[len(c.members)-1].key, key) >= 0 {
				sorted = false
			}
			c.members = append(c.members, member{key: key, start: mstart, end: len(c.out)})
		}
		i = skipSpace(data, i)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	if !sorted {
		ms := c.members[mbase:]
		slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
		c.scratch = append(c.scratch[:0], c.out[base:]...)
		c.out = c.out[:base]
		first := true
		for k, m := range ms {
			if k+1 < len(ms) && bytes.Equal(ms[k+1].key, m.key) {
				continue // a later member has the same key
			}
			if !first {
				c.out = append(c.out, ',')
			}
			first = false
			c.out = append(c.out, c.scratch[m.start-base:m.end-base]...)
		}
	}
	c.out = append(c.out, '}')
	return i + 1, nil
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// stringEnd returns the index after the string literal starting at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// canonicalString appends a string literal the way encoding/json writes
// its decoded value (SetEscapeHTML(false)): a literal without escapes,
// control characters, invalid UTF-8 or U+2028/U+2029 is copied as it
// is; any other is decoded and encoded again.
func canonicalString(out, lit []byte) ([]byte, error) {
	body := lit[1 : len(lit)-1]
	plain := utf8.Valid(body)
	for k := 0; plain && k < len(body); k++ {
		c := body[k]
		if c < 0x20 || c == '\\' || (c == 0xE2 && k+2 < len(body) && body[k+1] == 0x80 && (body[k+2] == 0xA8 || body[k+2] == 0xA9)) {
			plain = false
		}
	}
	if plain {
		return append(out, lit...), nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return nil, err
	}
	return appendJSONString(out, s)
}

func appendJSONString(out []byte, s string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return append(out, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}
