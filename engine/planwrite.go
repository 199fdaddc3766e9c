package engine

// The plan file's writing. A plan of an initial import holds one change
// per directory user, so the file is written as a stream: every change is
// encoded once, straight into both of its forms — the indented form of
// the file and its RFC 8785 canonical form — and the canonical bytes go
// into the checksum's SHA-256 (and the signature's HMAC) as the indented
// bytes go to the writer. No copy of the whole plan is made: the plan's
// other members (everything but the changes, small beside them) are held
// in both forms until the end, when the checksum and signature, the last
// two members of the file, are known.
//
// The output is byte for byte what encoding/json writes for the Plan
// (an Encoder with SetIndent("", "  ") and SetEscapeHTML(false)), and the
// checksum is the one canonicalPlan computes over it: the golden plans,
// TestWritePlanMatchesReference and FuzzChangeEncoding hold both.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MarshalPlan writes the plan as deterministic, indented JSON. It fills
// p.Checksum and, with a key, p.Signature (HMAC-SHA256 over the canonical
// form). It is WritePlan into memory, for callers that need the bytes.
func MarshalPlan(p *Plan, key []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, key); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WritePlan writes the plan to w as MarshalPlan would return it, in one
// pass: each change is encoded once, into the file's indented form and
// into the canonical form the checksum and signature are computed over,
// and no copy of the whole plan is held. It fills p.Checksum and, with a
// key, p.Signature. w sees the bytes through a buffer of its own; on an
// error, w may hold a partial plan.
func WritePlan(w io.Writer, p *Plan, key []byte) error {
	members, err := planMembers(p)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	p.Checksum, p.Signature = "", ""

	// The canonical form sorts the members by name: those before
	// "changes" are hashed now, the changes as they are written, the rest
	// at the end.
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b planMember) int { return strings.Compare(a.name, b.name) })
	var hashers []hash.Hash
	hashers = append(hashers, sha256.New())
	if len(key) > 0 {
		hashers = append(hashers, hmac.New(sha256.New, key))
	}
	sum := multiHash(hashers)
	sum.WriteString("{")
	n := 0
	for _, m := range sorted {
		if m.name >= "changes" {
			break
		}
		sum.member(n, m.name, m.canon)
		n++
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("{")
	for i, m := range members {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(m.quoted)
		bw.WriteString(": ")
		if m.name == "changes" {
			sum.member(n, m.name, nil)
			n++
			writeChanges(bw, sum, p.Changes)
			continue
		}
		bw.Write(m.file)
	}
	for _, m := range sorted {
		if m.name > "changes" {
			sum.member(n, m.name, m.canon)
			n++
		}
	}
	sum.WriteString("}")

	p.Checksum = "sha256:" + hex.EncodeToString(hashers[0].Sum(nil))
	if len(key) > 0 {
		p.Signature = "hmac-sha256:" + hex.EncodeToString(hashers[1].Sum(nil))
		bw.WriteString(",\n  \"signature\": ")
		bw.Write(appendFileString(nil, p.Signature))
	}
	bw.WriteString(",\n  \"checksum\": ")
	bw.Write(appendFileString(nil, p.Checksum))
	bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	return nil
}

// writeChanges writes the changes array, indented as the value of a
// top-level member, to bw and its canonical form to sum. A nil list is
// null, as encoding/json writes it.
func writeChanges(bw *bufio.Writer, sum multiHash, changes []Change) {
	switch {
	case changes == nil:
		bw.WriteString("null")
		sum.WriteString("null")
		return
	case len(changes) == 0:
		bw.WriteString("[]")
		sum.WriteString("[]")
		return
	}
	bw.WriteString("[")
	sum.WriteString("[")
	var e changeEncoder
	for i := range changes {
		if i > 0 {
			bw.WriteString(",")
			sum.WriteString(",")
		}
		bw.WriteString("\n    ")
		e.encode(&changes[i])
		bw.Write(e.file)
		sum.Write(e.canon)
	}
	bw.WriteString("\n  ]")
	sum.WriteString("]")
}

// planMember is one top-level member of the plan file other than the
// changes' content, in both forms: file is its value indented as a
// top-level member, canon its value's RFC 8785 form.
type planMember struct {
	name        string
	quoted      []byte
	file, canon []byte
}

// planMembers returns the plan's top-level members in the file's order,
// without "signature" and "checksum" (written last, once known): every
// member encoded as encoding/json encodes the Plan, the changes left out
// (their member is there, its value written by writeChanges).
func planMembers(p *Plan) ([]planMember, error) {
	q := *p
	q.Changes, q.Checksum, q.Signature = nil, "", ""
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&q); err != nil {
		return nil, err
	}
	dec := jsontext.NewDecoder(&compact)
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var out []planMember
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		val, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if name == "checksum" || name == "signature" {
			continue
		}
		m := planMember{name: name}
		m.quoted, _ = jsontext.AppendQuote(nil, name)
		if name != "changes" {
			var file bytes.Buffer
			if err := json.Indent(&file, val, "  ", "  "); err != nil {
				return nil, err
			}
			canon := jsontext.Value(slices.Clone(val))
			if err := canon.Canonicalize(); err != nil {
				return nil, err
			}
			m.file, m.canon = file.Bytes(), canon
		}
		out = append(out, m)
	}
	return out, nil
}

// multiHash feeds the checksum's hash and the signature's HMAC.
type multiHash []hash.Hash

// Write feeds b to every hash.
func (h multiHash) Write(b []byte) {
	for _, x := range h {
		x.Write(b)
	}
}

// WriteString writes s; it is one of the punctuation strings of a
// JSON document (hashes take bytes, and a conversion per write would
// allocate).
func (h multiHash) WriteString(s string) {
	b, ok := punctuation[s]
	if !ok {
		b = []byte(s)
	}
	h.Write(b)
}

// punctuation are the strings multiHash.WriteString is given.
var punctuation = map[string][]byte{"{": []byte("{"), "}": []byte("}"), "[": []byte("["), "]": []byte("]"), ",": []byte(","),
	"null": []byte("null"), "[]": []byte("[]")}

// member writes the n-th canonical member, name and value (the value
// left to the caller when nil).
func (h multiHash) member(n int, name string, canon []byte) {
	if n > 0 {
		h.WriteString(",")
	}
	q, _ := jsontext.AppendQuote(nil, name)
	h.Write(append(q, ':'))
	if canon != nil {
		h.Write(canon)
	}
}

// changeEncoder encodes one change at a time into its two forms, reusing
// its buffers: file is the change indented as an element of the
// top-level "changes" array, canon its RFC 8785 form (members sorted,
// no whitespace, minimal string escapes).
type changeEncoder struct {
	file, canon []byte
	sep         bool // a member was written to file
}

// The change's members, in the struct's order (file) and sorted
// (canonical). Fields are likewise.
const (
	changeIndent = "\n      "
	changeClose  = "\n    }"
	fieldsIndent = "\n        "
	customIndent = "\n          "
	fieldsClose  = "\n      "
)

func (e *changeEncoder) encode(c *Change) {
	e.file, e.canon, e.sep = append(e.file[:0], '{'), append(e.canon[:0], '{'), false
	e.fileStr("address", c.Address, false)
	e.fileStr("action", string(c.Action), false)
	e.fileStr("reason", string(c.Reason), false)
	e.fileStr("reason_detail", c.ReasonDetail, true)
	e.fileStr("key", c.Key, false)
	e.fileStr("target_id", c.TargetID, true)
	e.fileStr("source_id", c.SourceID, true)
	e.fileStr("group", c.Group, true)
	e.fileStr("membership_id", c.MembershipID, true)
	e.fileStr("role", c.Role, true)
	if c.AllOpenProjects {
		e.fileName(changeIndent, "all_open_projects", &e.sep)
		e.file = appendBool(e.file, true)
	}
	e.fileStr("project", c.Project, true)
	e.fileFields("before", c.Before)
	e.fileFields("after", c.After)
	e.file = append(e.file, changeClose...)

	// RFC 8785: action, address, after, all_open_projects, before,
	// group, key, membership_id, project, reason, reason_detail, role,
	// source_id, target_id.
	sep := false
	e.canonStr(&sep, "action", string(c.Action), false)
	e.canonStr(&sep, "address", c.Address, false)
	e.canonFields(&sep, "after", c.After)
	if c.AllOpenProjects {
		e.canonName(&sep, "all_open_projects")
		e.canon = appendBool(e.canon, true)
	}
	e.canonFields(&sep, "before", c.Before)
	e.canonStr(&sep, "group", c.Group, true)
	e.canonStr(&sep, "key", c.Key, false)
	e.canonStr(&sep, "membership_id", c.MembershipID, true)
	e.canonStr(&sep, "project", c.Project, true)
	e.canonStr(&sep, "reason", string(c.Reason), false)
	e.canonStr(&sep, "reason_detail", c.ReasonDetail, true)
	e.canonStr(&sep, "role", c.Role, true)
	e.canonStr(&sep, "source_id", c.SourceID, true)
	e.canonStr(&sep, "target_id", c.TargetID, true)
	e.canon = append(e.canon, '}')
}

// fileName starts a member of the change in the file form.
func (e *changeEncoder) fileName(indent, name string, sep *bool) {
	if *sep {
		e.file = append(e.file, ',')
	}
	*sep = true
	e.file = append(e.file, indent...)
	e.file = append(e.file, '"')
	e.file = append(e.file, name...)
	e.file = append(e.file, `": `...)
}

func (e *changeEncoder) fileStr(name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	e.fileName(changeIndent, name, &e.sep)
	e.file = appendFileString(e.file, v)
}

func (e *changeEncoder) fileFields(name string, f *Fields) {
	if f == nil {
		return
	}
	e.fileName(changeIndent, name, &e.sep)
	e.file = append(e.file, '{')
	sep := false
	e.fileField(&sep, "username", f.Username)
	e.fileField(&sep, "email", f.Email)
	e.fileField(&sep, "first_name", f.FirstName)
	e.fileField(&sep, "last_name", f.LastName)
	if f.IsActive != nil {
		e.fileName(fieldsIndent, "is_active", &sep)
		e.file = appendBool(e.file, *f.IsActive)
	}
	e.fileField(&sep, "owner", f.Owner)
	e.fileField(&sep, "source_id", f.SourceID)
	e.fileField(&sep, "user_type", f.UserType)
	if len(f.Custom) > 0 {
		e.fileName(fieldsIndent, "custom_attributes", &sep)
		e.file = append(e.file, '{')
		inner := false
		for _, k := range sortedKeysOf(f.Custom) {
			if inner {
				e.file = append(e.file, ',')
			}
			inner = true
			e.file = append(e.file, customIndent...)
			e.file = appendFileString(e.file, k)
			e.file = append(e.file, ": "...)
			e.file = appendFileString(e.file, f.Custom[k])
		}
		if inner {
			e.file = append(e.file, fieldsIndent...)
		}
		e.file = append(e.file, '}')
	}
	if sep {
		e.file = append(e.file, fieldsClose...)
	}
	e.file = append(e.file, '}') // "{}" for no fields, as json.Indent writes it
}

// fileField writes a field of a Fields object that is set.
func (e *changeEncoder) fileField(sep *bool, name string, v *string) {
	if v != nil {
		e.fileName(fieldsIndent, name, sep)
		e.file = appendFileString(e.file, *v)
	}
}

// canonField is fileField for the canonical form.
func (e *changeEncoder) canonField(sep *bool, name string, v *string) {
	if v != nil {
		e.canonName(sep, name)
		e.canon = appendCanonString(e.canon, *v)
	}
}

// canonName starts a member in the canonical form.
func (e *changeEncoder) canonName(sep *bool, name string) {
	if *sep {
		e.canon = append(e.canon, ',')
	}
	*sep = true
	e.canon = append(e.canon, '"')
	e.canon = append(e.canon, name...)
	e.canon = append(e.canon, `":`...)
}

func (e *changeEncoder) canonStr(sep *bool, name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	e.canonName(sep, name)
	e.canon = appendCanonString(e.canon, v)
}

func (e *changeEncoder) canonFields(sep *bool, name string, f *Fields) {
	if f == nil {
		return
	}
	e.canonName(sep, name)
	e.canon = append(e.canon, '{')
	inner := false
	// RFC 8785: custom_attributes, email, first_name, is_active,
	// last_name, owner, source_id, user_type, username.
	if len(f.Custom) > 0 {
		e.canonName(&inner, "custom_attributes")
		e.canon = append(e.canon, '{')
		for i, k := range canonKeys(f.Custom) {
			if i > 0 {
				e.canon = append(e.canon, ',')
			}
			e.canon = appendCanonString(e.canon, k)
			e.canon = append(e.canon, ':')
			e.canon = appendCanonString(e.canon, f.Custom[k])
		}
		e.canon = append(e.canon, '}')
	}
	e.canonField(&inner, "email", f.Email)
	e.canonField(&inner, "first_name", f.FirstName)
	if f.IsActive != nil {
		e.canonName(&inner, "is_active")
		e.canon = appendBool(e.canon, *f.IsActive)
	}
	e.canonField(&inner, "last_name", f.LastName)
	e.canonField(&inner, "owner", f.Owner)
	e.canonField(&inner, "source_id", f.SourceID)
	e.canonField(&inner, "user_type", f.UserType)
	e.canonField(&inner, "username", f.Username)
	e.canon = append(e.canon, '}')
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

const hexDigits = "0123456789abcdef"

// appendFileString appends s as encoding/json writes a string with
// SetEscapeHTML(false): '"', '\\' and the control characters escaped
// (\b, \f, \n, \r, \t, else \u00XX), bytes that are not UTF-8 as \ufffd,
// U+2028 and U+2029 as \u2028 and \u2029, everything else as it is.
func appendFileString(dst []byte, s string) []byte {
	return appendJSONString(dst, s, false)
}

// appendCanonString appends s as RFC 8785 writes a string: '"', '\\'
// and the control characters escaped (\b, \f, \n, \r, \t, else \u00xx),
// everything else as UTF-8. Bytes that are not UTF-8 are U+FFFD, as in
// the canonical form of what encoding/json wrote for them.
func appendCanonString(dst []byte, s string) []byte {
	return appendJSONString(dst, s, true)
}

func appendJSONString(dst []byte, s string, canonical bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			if canonical {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, `\ufffd`...)
			}
			start = i + size
		case (r == '\u2028' || r == '\u2029') && !canonical:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// canonKeys are m's keys in RFC 8785 order: by UTF-16 code units (which
// differs from byte order above U+FFFF and between U+E000 and U+FFFF).
func canonKeys(m map[string]string) []string {
	keys := sortedKeysOf(m)
	sort.SliceStable(keys, func(i, j int) bool {
		return slices.Compare(utf16.Encode([]rune(keys[i])), utf16.Encode([]rune(keys[j]))) < 0
	})
	return keys
}
