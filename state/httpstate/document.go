package httpstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
)

// FormatVersion is the wrapper document's format, MAJOR.MINOR.
const FormatVersion = "1.0"

// stateMember is the wrapper's member that holds the ldapsync state.
const stateMember = "ldapsync"

// wrapperMembers are the wrapper's own members.
var wrapperMembers = map[string]bool{"format_version": true, "lineage": true, "serial": true, stateMember: true}

// document is a stored wrapper, decoded.
type document struct {
	serial  int64
	lineage string
	la      *engine.LastApplied
	// extra are the wrapper's unknown top-level members; innerExtra those
	// of the ldapsync member.
	extra, innerExtra map[string]json.RawMessage
}

// ForeignDocumentError is a stored document that is not an ldapsync http
// state: it is never overwritten.
type ForeignDocumentError struct {
	// Looks says what it looks like ("a Terraform state (terraform_version
	// 1.11.4, serial 3)").
	Looks string
}

// Error says what the address holds instead of an ldapsync state.
func (e *ForeignDocumentError) Error() string {
	return "the document stored there is not an ldapsync state but " + e.Looks + "; ldapsync will not read or overwrite it: point address at a state of its own (another state name), or move that document away"
}

// decodeDocument reads a stored wrapper. An empty body is nil, nil.
func decodeDocument(data []byte) (*document, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var probe any
		if json.Unmarshal(data, &probe) == nil {
			return nil, &state.CorruptError{Err: fmt.Errorf("it is JSON but not an object (%s)", jsonKind(probe))}
		}
		return nil, &state.CorruptError{Err: fmt.Errorf("not valid JSON: %v", err)}
	}
	raw, ok := top[stateMember]
	if !ok {
		return nil, &ForeignDocumentError{Looks: looksLike(top)}
	}
	var head struct {
		FormatVersion *string          `json:"format_version"`
		Lineage       *string          `json:"lineage"`
		Serial        *json.RawMessage `json:"serial"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &state.CorruptError{Err: fmt.Errorf("its format_version, lineage or serial is not of the right type: %v", err)}
	}
	if head.FormatVersion == nil {
		return nil, &state.CorruptError{Err: errors.New("it has no format_version")}
	}
	major, _, _ := strings.Cut(*head.FormatVersion, ".")
	if mj, err := strconv.Atoi(major); err != nil || mj < 1 {
		return nil, &state.CorruptError{Err: fmt.Errorf("format_version %s is not a version", strconv.QuoteToASCII(clip(*head.FormatVersion, 40)))}
	} else if mj > 1 {
		return nil, fmt.Errorf("the stored state has format_version %s, newer than this ldapsync understands (%s); upgrade ldapsync", strconv.QuoteToASCII(clip(*head.FormatVersion, 40)), FormatVersion)
	}
	if head.Lineage == nil || *head.Lineage == "" {
		return nil, &state.CorruptError{Err: errors.New("it has no lineage")}
	}
	if head.Serial == nil {
		return nil, &state.CorruptError{Err: errors.New("it has no serial")}
	}
	serial, err := strconv.ParseInt(string(bytes.TrimSpace(*head.Serial)), 10, 64)
	if err != nil || serial < 0 {
		return nil, &state.CorruptError{Err: errors.New("its serial is not a whole number of at least 0")}
	}
	la, err := state.Unmarshal(raw)
	if err != nil {
		return nil, err
	}
	if la.Lineage != *head.Lineage {
		return nil, &state.CorruptError{Err: fmt.Errorf("its lineage %s and its ldapsync state's lineage %s differ", strconv.QuoteToASCII(clip(*head.Lineage, 80)), strconv.QuoteToASCII(clip(la.Lineage, 80)))}
	}
	doc := &document{serial: serial, lineage: la.Lineage, la: la}
	for name, v := range top {
		if !wrapperMembers[strings.ToLower(name)] {
			if doc.extra == nil {
				doc.extra = map[string]json.RawMessage{}
			}
			doc.extra[name] = v
		}
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err == nil {
		for name, v := range inner {
			if !state.IsKnownMember(name) {
				if doc.innerExtra == nil {
					doc.innerExtra = map[string]json.RawMessage{}
				}
				doc.innerExtra[name] = v
			}
		}
	}
	return doc, nil
}

// looksLike names what a document without an ldapsync member looks like.
func looksLike(top map[string]json.RawMessage) string {
	str := func(name string) string {
		var s string
		if json.Unmarshal(top[name], &s) == nil && s != "" {
			return strconv.QuoteToASCII(clip(s, 40))
		}
		return ""
	}
	_, tfv := top["terraform_version"]
	_, res := top["resources"]
	_, mods := top["modules"]
	if tfv || res || mods {
		s := "a Terraform state"
		var details []string
		if v := str("terraform_version"); v != "" {
			details = append(details, "terraform_version "+v)
		}
		if v, ok := top["serial"]; ok && len(v) < 24 {
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				details = append(details, "serial "+strconv.FormatInt(n, 10))
			}
		}
		if v := str("lineage"); v != "" {
			details = append(details, "lineage "+v)
		}
		if len(details) > 0 {
			s += " (" + strings.Join(details, ", ") + ")"
		}
		return s
	}
	_, users := top["users"]
	_, plans := top["plans"]
	if users || plans {
		return `a bare ldapsync state file (format_version, users, plans at the top level), not the http backend's wrapper {"format_version": "1.0", "lineage": …, "serial": …, "ldapsync": <the state file>}`
	}
	names := make([]string, 0, len(top))
	for name := range top {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "an empty JSON object"
	}
	shownNames := make([]string, 0, 5)
	for _, n := range names[:min(5, len(names))] {
		shownNames = append(shownNames, strconv.QuoteToASCII(clip(n, 40)))
	}
	more := ""
	if len(names) > 5 {
		more = fmt.Sprintf(" and %d more", len(names)-5)
	}
	return "a JSON object with the members " + strings.Join(shownNames, ", ") + more + " and no \"ldapsync\" member"
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "not an object"
}

// encodeDocument writes the wrapper of la with write serial serial,
// keeping extra at the top level and innerExtra in the ldapsync member
// (unknown members of the document last read), in name order after the
// known ones.
func encodeDocument(la *engine.LastApplied, serial int64, extra, innerExtra map[string]json.RawMessage) ([]byte, error) {
	inner, err := state.Marshal(la)
	if err != nil {
		return nil, err
	}
	if inner, err = appendMembers(inner, innerExtra); err != nil {
		return nil, err
	}
	lineage, err := json.Marshal(la.Lineage)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"format_version":"` + FormatVersion + `","lineage":`)
	buf.Write(lineage)
	buf.WriteString(`,"serial":` + strconv.FormatInt(serial, 10) + `,"` + stateMember + `":`)
	buf.Write(bytes.TrimSpace(inner))
	buf.WriteString("}")
	data, err := appendMembers(buf.Bytes(), extra)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// appendMembers adds members to the JSON object data, in name order.
func appendMembers(data []byte, members map[string]json.RawMessage) ([]byte, error) {
	if len(members) == 0 {
		return data, nil
	}
	data = bytes.TrimSpace(data)
	if len(data) < 2 || data[len(data)-1] != '}' {
		return nil, errors.New("not a JSON object")
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	out := append([]byte(nil), data[:len(data)-1]...)
	empty := len(bytes.TrimSpace(out)) == 1 // "{"
	for _, name := range names {
		key, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		if !empty {
			out = append(out, ',')
		}
		empty = false
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, bytes.TrimSpace(members[name])...)
	}
	return append(out, '}'), nil
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
