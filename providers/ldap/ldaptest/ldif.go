package ldaptest

// A small RFC 2849 LDIF reader: content records and change records
// (add, modify with add/replace/delete, delete, modrdn/moddn). It handles
// comments, continuation lines (a line starting with one space continues the
// previous one), base64 values ("attr:: ...") and "version: 1". URL values
// ("attr:< file://...") and controls are rejected.

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Attribute is one attribute with its values, in LDIF order.
type Attribute struct {
	Name   string
	Values []string
}

// Mod is one modification of a modify record.
type Mod struct {
	// Op is "add", "replace" or "delete".
	Op     string
	Attr   string
	Values []string
}

// Record is one LDIF record.
type Record struct {
	DN string
	// ChangeType is "add", "modify", "delete" or "modrdn" ("moddn" is
	// read as "modrdn"). Content records have ChangeType "add".
	ChangeType string
	// Attrs are the attributes of an add record.
	Attrs []Attribute
	// Mods are the modifications of a modify record.
	Mods []Mod
	// NewRDN, DeleteOldRDN and NewSuperior describe a modrdn record.
	NewRDN       string
	DeleteOldRDN bool
	NewSuperior  string
	// Line is the line number where the record starts.
	Line int
}

type ldifLine struct {
	name, value string
	line        int
}

// ParseLDIF reads every record of an LDIF stream.
func ParseLDIF(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var (
		records []Record
		lines   []ldifLine // logical lines of the current record
		cur     strings.Builder
		curLine int
		have    bool
		n       int
	)
	flushLine := func() error {
		if !have {
			return nil
		}
		have = false
		l := cur.String()
		cur.Reset()
		if strings.TrimSpace(l) == "-" {
			lines = append(lines, ldifLine{name: "-", line: curLine})
			return nil
		}
		i := strings.IndexByte(l, ':')
		if i <= 0 {
			return fmt.Errorf("ldif line %d: %q is not \"name: value\"", curLine, l)
		}
		name, rest := l[:i], l[i+1:]
		var value string
		switch {
		case strings.HasPrefix(rest, ":"):
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
			if err != nil {
				return fmt.Errorf("ldif line %d: bad base64 value for %s: %v", curLine, name, err)
			}
			value = string(b)
		case strings.HasPrefix(rest, "<"):
			return fmt.Errorf("ldif line %d: URL values are not supported", curLine)
		default:
			value = strings.TrimLeft(rest, " ")
		}
		lines = append(lines, ldifLine{name: name, value: value, line: curLine})
		return nil
	}
	flushRecord := func() error {
		if err := flushLine(); err != nil {
			return err
		}
		if len(lines) == 0 {
			return nil
		}
		rec, err := buildRecord(lines)
		lines = lines[:0]
		if err != nil {
			return err
		}
		if rec != nil {
			records = append(records, *rec)
		}
		return nil
	}
	for sc.Scan() {
		n++
		text := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case text == "":
			if err := flushRecord(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(text, " "):
			if !have {
				if len(lines) == 0 && cur.Len() == 0 {
					return nil, fmt.Errorf("ldif line %d: continuation line without a line to continue", n)
				}
				continue // continuation of a comment
			}
			cur.WriteString(text[1:])
		default:
			if err := flushLine(); err != nil {
				return nil, err
			}
			if strings.HasPrefix(text, "#") {
				continue
			}
			cur.WriteString(text)
			curLine, have = n, true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flushRecord(); err != nil {
		return nil, err
	}
	return records, nil
}

func buildRecord(lines []ldifLine) (*Record, error) {
	if strings.EqualFold(lines[0].name, "version") {
		lines = lines[1:]
		if len(lines) == 0 {
			return nil, nil
		}
	}
	if !strings.EqualFold(lines[0].name, "dn") {
		return nil, fmt.Errorf("ldif line %d: a record must start with \"dn:\", not \"%s:\"", lines[0].line, lines[0].name)
	}
	rec := &Record{DN: lines[0].value, ChangeType: "add", Line: lines[0].line}
	body := lines[1:]
	if len(body) > 0 && strings.EqualFold(body[0].name, "control") {
		return nil, fmt.Errorf("ldif line %d: controls are not supported", body[0].line)
	}
	if len(body) > 0 && strings.EqualFold(body[0].name, "changetype") {
		rec.ChangeType = strings.ToLower(strings.TrimSpace(body[0].value))
		body = body[1:]
	}
	switch rec.ChangeType {
	case "add":
		for _, l := range body {
			if i := attrIndex(rec.Attrs, l.name); i >= 0 {
				rec.Attrs[i].Values = append(rec.Attrs[i].Values, l.value)
			} else {
				rec.Attrs = append(rec.Attrs, Attribute{Name: l.name, Values: []string{l.value}})
			}
		}
		if len(rec.Attrs) == 0 {
			return nil, fmt.Errorf("ldif line %d: add record for %q has no attributes", rec.Line, rec.DN)
		}
	case "delete":
		if len(body) > 0 {
			return nil, fmt.Errorf("ldif line %d: delete record for %q has extra lines", rec.Line, rec.DN)
		}
	case "modrdn", "moddn":
		rec.ChangeType = "modrdn"
		for _, l := range body {
			switch strings.ToLower(l.name) {
			case "newrdn":
				rec.NewRDN = l.value
			case "deleteoldrdn":
				rec.DeleteOldRDN = strings.TrimSpace(l.value) == "1"
			case "newsuperior":
				rec.NewSuperior = l.value
			default:
				return nil, fmt.Errorf("ldif line %d: unexpected %s: in modrdn record", l.line, l.name)
			}
		}
		if rec.NewRDN == "" {
			return nil, fmt.Errorf("ldif line %d: modrdn record for %q has no newrdn", rec.Line, rec.DN)
		}
	case "modify":
		var m *Mod
		for _, l := range body {
			if m == nil {
				op := strings.ToLower(l.name)
				if op != "add" && op != "replace" && op != "delete" {
					return nil, fmt.Errorf("ldif line %d: expected \"add:\", \"replace:\" or \"delete:\" in modify record, got \"%s:\"", l.line, l.name)
				}
				rec.Mods = append(rec.Mods, Mod{Op: op, Attr: strings.TrimSpace(l.value)})
				m = &rec.Mods[len(rec.Mods)-1]
				continue
			}
			if l.name == "-" {
				m = nil
				continue
			}
			if !strings.EqualFold(l.name, m.Attr) {
				return nil, fmt.Errorf("ldif line %d: value for %s inside the %s: %s block", l.line, l.name, m.Op, m.Attr)
			}
			m.Values = append(m.Values, l.value)
		}
	default:
		return nil, fmt.Errorf("ldif line %d: unknown changetype %q", rec.Line, rec.ChangeType)
	}
	return rec, nil
}

func attrIndex(attrs []Attribute, name string) int {
	for i, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return i
		}
	}
	return -1
}
