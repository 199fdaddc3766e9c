package config

// The attribute check: a mapping that reads an attribute the directory's
// schema does not define (entry.givenNmae) is refused at the reference,
// with a did-you-mean, before a plan maps every user's first name to "".

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ErrSchemaUnavailable is wrapped by a source's error when its directory
// does not let the bind account read the schema (no subschema subentry,
// access refused). The attribute check is then skipped for that source,
// with a warning; it never blocks a plan.
var ErrSchemaUnavailable = errors.New("the directory's schema could not be read")

// AttributeRef is one place a mapping reads a directory attribute:
// entry.NAME, entry["NAME"], entry_values.NAME or entry_values["NAME"].
type AttributeRef struct {
	// Name is the attribute as written, options included ("cn;lang-de").
	Name string
	// Field is the mapping attribute whose expression holds the reference.
	Field string
	// Range is the reference's range (entry.NAME); Expr the whole
	// expression's.
	Range, Expr hcl.Range
}

// AttributeRefs lists every reference to a directory attribute in the
// mapping's expressions, in file order, without the pseudo-attributes dn
// and id.
func (m *Mapping) AttributeRefs() []AttributeRef {
	var out []AttributeRef
	for _, field := range mappingFields {
		expr := m.exprs[field]
		if expr == nil {
			continue
		}
		for _, t := range expr.Variables() {
			if r := t.RootName(); r != "entry" && r != "entry_values" {
				continue
			}
			name, ok := stepName(t, 1)
			if !ok {
				continue
			}
			if l := strings.ToLower(name); l == "dn" || l == "id" {
				continue
			}
			out = append(out, AttributeRef{Name: name, Field: field, Range: t.SourceRange(), Expr: expr.Range()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Range, out[j].Range
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return out
}

// AttributeType is one attribute type of a directory's schema.
type AttributeType struct {
	// Names are the attribute's names as the schema spells them, the
	// primary name first: cn, then its alias commonName. Directories
	// return an attribute's values under its primary name (OpenLDAP
	// answers a request for commonName with cn), so only that name reads
	// anything in a mapping.
	Names []string
}

// schemaIndex is one source's schema, by lower-case name.
type schemaIndex struct {
	source  string
	primary map[string]bool
	aliasOf map[string]string // lower-case alias -> primary name
	names   []string          // every name, for suggestions
}

func newSchemaIndex(source string, types []AttributeType) schemaIndex {
	k := schemaIndex{source: source, primary: map[string]bool{}, aliasOf: map[string]string{}}
	for _, at := range types {
		if len(at.Names) == 0 {
			continue
		}
		k.primary[strings.ToLower(at.Names[0])] = true
		for _, alias := range at.Names[1:] {
			k.aliasOf[strings.ToLower(alias)] = at.Names[0]
		}
		k.names = append(k.names, at.Names...)
	}
	// A name that is primary for one type is never an alias of another.
	for l := range k.aliasOf {
		if k.primary[l] {
			delete(k.aliasOf, l)
		}
	}
	return k
}

// suggest returns the primary name of the attribute with the name closest
// to given, or "".
func (k schemaIndex) suggest(given string) string {
	s := AttributeSuggestion(given, k.names)
	if p, ok := k.aliasOf[strings.ToLower(s)]; ok {
		return p
	}
	return s
}

// CheckAttributes checks the attributes the mapping reads against its
// sources' schemas. schemas maps a source name to the attribute types its
// directory's schema defines; a source of the mapping missing from schemas
// has a schema that is not known (it could not be read, or its type
// reports none).
//
// A reference is accepted when some known schema has the attribute's
// primary name (matched without case, options such as ";binary" ignored).
// Otherwise, when every source of the mapping has a known schema, it is an
// error at the reference: an alias (surname for sn) is refused because the
// directory returns the values under the primary name, so the alias would
// never be set, with the primary name as the did-you-mean; a name no
// schema defines is refused with the closest name as the did-you-mean.
// When some schemas are not known the same findings are warnings: the
// unknown schema may define the name. An attribute that some schemas
// define and others do not is accepted (a mapping may coalesce attributes
// of different directories). Numeric OIDs are not checked. Without any
// known schema there are no diagnostics.
func (m *Mapping) CheckAttributes(schemas map[string][]AttributeType) hcl.Diagnostics {
	var readable []schemaIndex
	var unknown []string
	for _, src := range m.SourceNames {
		types, ok := schemas[src]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", src))
			continue
		}
		readable = append(readable, newSchemaIndex(src, types))
	}
	if len(readable) == 0 {
		return nil
	}
	var srcs []string
	for _, k := range readable {
		srcs = append(srcs, fmt.Sprintf("%q", k.source))
	}
	var diags hcl.Diagnostics
	for _, ref := range m.AttributeRefs() {
		attr, _, _ := strings.Cut(ref.Name, ";")
		if attr == "" || isNumericOID(attr) {
			continue
		}
		l := strings.ToLower(attr)
		defined, aliasSource, primary, hint := false, "", "", ""
		for _, k := range readable {
			if k.primary[l] {
				defined = true
				break
			}
			if p, ok := k.aliasOf[l]; ok && aliasSource == "" {
				aliasSource, primary = k.source, p
			}
			if hint == "" {
				hint = k.suggest(attr)
			}
		}
		if defined {
			continue
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Subject: ref.Range.Ptr(), Context: ref.Expr.Ptr()}
		var finding string
		if aliasSource != "" {
			d.Summary = "Attribute alias the directory does not return"
			finding = fmt.Sprintf("In the directory's schema (source %q) %q is an alias of %q, and the directory returns the values under %q only, so %q would never be set", aliasSource, attr, primary, primary, attr)
			hint = primary
		} else {
			d.Summary = "Unknown directory attribute"
			finding = fmt.Sprintf("The directory's schema (source %s) has no attribute %q", joinAnd(srcs), attr)
			if len(srcs) > 1 {
				finding = fmt.Sprintf("The directories' schemas (sources %s) have no attribute %q", joinAnd(srcs), attr)
			}
		}
		if hint != "" {
			hint = fmt.Sprintf(" Did you mean %q?", hint)
		}
		d.Detail = finding + "." + hint
		if aliasSource == "" {
			d.Detail = finding + ": no entry can have it." + hint
		}
		if len(unknown) > 0 {
			d.Severity = hcl.DiagWarning
			d.Summary = "Directory attribute not checked"
			d.Detail = fmt.Sprintf("%s; the schema of source %s could not be read, so the attribute is not refused.%s", finding, joinAnd(unknown), hint)
		}
		diags = append(diags, d)
	}
	return diags
}

// AttributeSuggestion returns the name among names closest to given (case
// ignored; a transposition counts as one edit) when it is close enough to
// be a misspelling of it: one edit for names of up to five letters, two
// for longer ones. Ties go to the name first in case-insensitive order.
// It returns "" when none is close.
func AttributeSuggestion(given string, names []string) string {
	g := strings.ToLower(given)
	limit := 1
	if len(g) > 5 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, n := range names {
		l := strings.ToLower(n)
		if l == g || isNumericOID(n) {
			continue
		}
		d := editDistance(g, l)
		if d < bestDist || d == bestDist && best != "" && l < strings.ToLower(best) {
			best, bestDist = n, d
		}
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each count one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// isNumericOID reports whether s is a dotted-decimal OID such as 2.5.4.3.
func isNumericOID(s string) bool {
	if s == "" || !strings.Contains(s, ".") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
