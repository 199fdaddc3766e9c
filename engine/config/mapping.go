package config

// Mapping evaluation: each directory entry becomes two objects in a child
// EvalContext, `entry` (one string per attribute, null when absent; an
// attribute with several values is an error because a single-valued field
// cannot choose between them) and `entry_values` (every value as a list).
// Only the attributes the expressions reference are looked up, matched
// without case against Entry.Attrs.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ldapsync/ldapsync/engine"
)

var mappingSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source"}, {Name: "target"},
	{Name: "username", Required: true}, {Name: "email", Required: true},
	{Name: "first_name"}, {Name: "last_name"}, {Name: "full_name"},
	{Name: "disabled"}, {Name: "groups"}, {Name: "previous_names"},
	{Name: "custom_attributes"}, {Name: "on_create_only"}, {Name: "roles"}, {Name: "user_type"},
}}

// mappingFields are the evaluated attributes of a mapping, in evaluation order.
var mappingFields = []string{"username", "email", "first_name", "last_name", "full_name", "disabled", "groups"}

// Mapping is a mapping block: it implements engine.Mapper.
type Mapping struct {
	// SourceNames are the names of the sources the mapping reads, in
	// precedence order: an entry read through several sources (the same
	// stable id) is taken from the first; the same username with different
	// stable ids is a conflict, and neither entry is applied.
	SourceNames []string
	// TargetName is the name of the target the mapping writes.
	TargetName string
	// DeclRange is the range of the block header.
	DeclRange hcl.Range

	name string
	// exprs holds the mapping's expressions by field name.
	exprs map[string]hcl.Expression
	// fieldAttrs lists the `entry.X` attributes each field reads.
	fieldAttrs map[string][]string
	// entryAttrs and valueAttrs are the names read via entry.X and
	// entry_values.X, as written, de-duplicated without case.
	entryAttrs []string
	valueAttrs []string
	ctx        *hcl.EvalContext
	// previousNames are the names the mapping was known by.
	previousNames []string
	// maxValues caps the values entry_values.X exposes per attribute (see
	// MaxEntryValues).
	maxValues int
	// compiled is the compiled form of the expressions (compile.go), nil
	// when none compiled.
	compiled *compiledMapping
	// customKeys are the keys of custom_attributes when it is an object
	// constructor, sorted (nil otherwise); createOnly the on_create_only
	// field names.
	customKeys []string
	createOnly []string
}

// Bounds on mapping evaluation. The functions are bounded (see
// functions_bounds.go), but hcl's own for expressions and templates run
// inside hcl: a for expression nested in another iterates the product of
// their collections. So for expressions may nest at most
// MaxForNesting deep (checked when the mapping is loaded), and
// entry_values.X exposes at most MaxEntryValues values per attribute, or
// MaxEntryValuesNested when the mapping nests for expressions (two deep:
// a million iterations at most, rather than 10^8); an entry with more is
// skipped with a reason naming the attribute and the count.
const (
	MaxForNesting        = 2
	MaxEntryValues       = 10_000
	MaxEntryValuesNested = 1_000
)

var _ engine.Mapper = (*Mapping)(nil)

// Name returns the mapping's name, the ownership marker.
func (m *Mapping) Name() string { return m.name }

// PreviousNames are the names the mapping was known by, from
//
//	mapping "studio" {
//	  previous_names = ["users"]
//	}
//
// Accounts owned by them are handed over to the mapping (re-marked) in
// the plan; without the declaration a renamed mapping blocks the plan.
func (m *Mapping) PreviousNames() []string { return m.previousNames }

// FieldAttributes lists the directory attributes a user field is computed
// from: its own expression's, or full_name's for first_name and last_name
// when those are not mapped themselves.
func (m *Mapping) FieldAttributes(field string) []string {
	if attrs, ok := m.fieldAttrs[field]; ok {
		return attrs
	}
	if (field == "first_name" || field == "last_name") && m.exprs[field] == nil {
		return m.fieldAttrs["full_name"]
	}
	return nil
}

// MapsGroups reports whether the mapping has a groups expression.
func (m *Mapping) MapsGroups() bool { return m.exprs["groups"] != nil }

// HandlesSource reports whether the mapping reads the named source.
func (m *Mapping) HandlesSource(name string) bool {
	for _, s := range m.SourceNames {
		if s == name {
			return true
		}
	}
	return false
}

// Expression returns the mapping's expression for field (e.g. "email"),
// or nil when the field is not mapped.
func (m *Mapping) Expression(field string) hcl.Expression { return m.exprs[field] }

// Attributes lists the directory attributes the mapping reads, sorted and
// without the pseudo-attributes dn and id.
func (m *Mapping) Attributes() []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{m.entryAttrs, m.valueAttrs} {
		for _, a := range list {
			k := strings.ToLower(a)
			if k == "dn" || k == "id" || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func (l *loader) decodeMapping(b *hcl.Block) (*Mapping, hcl.Diagnostics) {
	content, diags := b.Body.Content(mappingSchema)
	m := &Mapping{
		name:       b.Labels[0],
		DeclRange:  b.DefRange,
		exprs:      map[string]hcl.Expression{},
		fieldAttrs: map[string][]string{},
		ctx:        l.exprCtx,
	}
	if a, ok := content.Attributes["source"]; ok {
		names, d := l.sourceRefs(a.Expr)
		diags = append(diags, d...)
		m.SourceNames = names
	} else if len(l.cfg.Sources) == 1 {
		m.SourceNames = []string{l.cfg.Sources[0].Name}
	} else if len(l.cfg.Sources) > 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing source",
			Detail:   "With several sources, a mapping must say which it reads: source = source.TYPE.NAME or a list of them.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	if a, ok := content.Attributes["target"]; ok {
		name, d := l.targetRef(a.Expr)
		diags = append(diags, d...)
		m.TargetName = name
	} else if l.cfg.Target != nil {
		m.TargetName = l.cfg.Target.Name
	}

	seen := &seenAttrs{entry: map[string]bool{}, values: map[string]bool{}}
	maxDepth := 0
	for _, field := range mappingFields {
		if a, ok := content.Attributes[field]; ok {
			depth, d := l.addFieldExpr(m, field, a, seen)
			maxDepth = max(maxDepth, depth)
			diags = append(diags, d...)
		}
	}
	if a, ok := content.Attributes["previous_names"]; ok {
		names, d := l.decodeNameList(a.Expr, "previous_names", "mapping names")
		diags = append(diags, d...)
		m.previousNames = names
	}
	diags = append(diags, l.decodeCustomAttributes(content, m, seen, &maxDepth)...)
	sort.Strings(m.entryAttrs)
	sort.Strings(m.valueAttrs)
	m.maxValues = MaxEntryValues
	if maxDepth > 1 {
		m.maxValues = MaxEntryValuesNested
	}
	m.compiled = compileMapping(m)
	return m, diags
}

// seenAttrs are the attribute names a mapping's expressions read through
// entry.X and entry_values.X, as written, without case.
type seenAttrs struct{ entry, values map[string]bool }

// addFieldExpr checks a field's expression, keeps it and notes the
// attributes it reads; it returns how deep its for expressions nest.
func (l *loader) addFieldExpr(m *Mapping, field string, a *hcl.Attribute, seen *seenAttrs) (int, hcl.Diagnostics) {
	d := l.checkExpr(a.Expr, placeMapping)
	depth, dd := forNesting(a.Expr)
	d = append(d, dd...)
	if d.HasErrors() {
		return depth, d
	}
	m.exprs[field] = a.Expr
	for _, t := range a.Expr.Variables() {
		name, ok := stepName(t, 1)
		if !ok {
			continue
		}
		switch t.RootName() {
		case "entry":
			m.fieldAttrs[field] = append(m.fieldAttrs[field], name)
			if !seen.entry[name] {
				seen.entry[name] = true
				m.entryAttrs = append(m.entryAttrs, name)
			}
		case "entry_values":
			if !seen.values[name] {
				seen.values[name] = true
				m.valueAttrs = append(m.valueAttrs, name)
			}
		}
	}
	return depth, d
}

// forNesting returns how deep for expressions nest in expr (template for
// directives are for expressions too), with a diagnostic at each for
// expression nested deeper than MaxForNesting (the outermost such one
// only, not again for the ones inside it).
func forNesting(expr hcl.Expression) (int, hcl.Diagnostics) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return 0, nil
	}
	w := &forWalker{}
	diags := hclsyntax.Walk(node, w)
	return w.max, diags
}

// forWalker is the hclsyntax.Walker of forNesting.
type forWalker struct{ depth, max int }

// Enter counts a for expression's depth (hclsyntax.Walker).
func (w *forWalker) Enter(n hclsyntax.Node) hcl.Diagnostics {
	if _, ok := n.(*hclsyntax.ForExpr); !ok {
		return nil
	}
	w.depth++
	w.max = max(w.max, w.depth)
	if w.depth != MaxForNesting+1 {
		return nil
	}
	rng := n.Range()
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "For expressions nested too deep",
		Detail:   fmt.Sprintf("A mapping may nest for expressions at most %d deep: each level multiplies the work by the number of values iterated.", MaxForNesting),
		Subject:  &rng,
	}}
}

// Exit leaves a for expression (hclsyntax.Walker).
func (w *forWalker) Exit(n hclsyntax.Node) hcl.Diagnostics {
	if _, ok := n.(*hclsyntax.ForExpr); ok {
		w.depth--
	}
	return nil
}

// decodeNameList evaluates a literal list of non-empty strings; noun says
// what they name, for messages ("mapping names").
func (l *loader) decodeNameList(expr hcl.Expression, what, noun string) ([]string, hcl.Diagnostics) {
	v, diags := l.evalSetting(expr)
	if diags.HasErrors() {
		return nil, diags
	}
	ty := v.Type()
	if v.IsNull() || !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
		return nil, hcl.Diagnostics{attrError(expr, "Invalid mapping value", what+" must be a list of "+noun+".")}
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String || strings.TrimSpace(e.AsString()) == "" {
			return nil, hcl.Diagnostics{attrError(expr, "Invalid mapping value", what+" must be a list of "+noun+" (non-empty strings).")}
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// sourceRefs reads `source.TYPE.NAME` or a list of them, without evaluating.
func (l *loader) sourceRefs(expr hcl.Expression) ([]string, hcl.Diagnostics) {
	exprs := []hcl.Expression{expr}
	if list, d := hcl.ExprList(expr); !d.HasErrors() {
		exprs = list
		if len(list) == 0 {
			return nil, hcl.Diagnostics{attrError(expr, "Invalid source reference", "The list of sources is empty.")}
		}
	}
	var diags hcl.Diagnostics
	var names []string
	seen := map[string]bool{}
	for _, e := range exprs {
		typ, name, d := blockRef(e, "source")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		blk, ok := l.sources[typ+"."+name]
		if !ok {
			diags = append(diags, attrError(e, "Reference to undeclared source", fmt.Sprintf("No source %q %q is declared.", typ, name)))
			continue
		}
		if seen[blk.Name] {
			diags = append(diags, attrError(e, "Duplicate source reference", fmt.Sprintf("Source %q is listed twice.", blk.Name)))
			continue
		}
		seen[blk.Name] = true
		names = append(names, blk.Name)
	}
	return names, diags
}

func (l *loader) targetRef(expr hcl.Expression) (string, hcl.Diagnostics) {
	typ, name, diags := blockRef(expr, "target")
	if diags.HasErrors() {
		return "", diags
	}
	t := l.cfg.Target
	if t == nil || t.Type != typ || t.Name != name {
		return "", hcl.Diagnostics{attrError(expr, "Reference to undeclared target", fmt.Sprintf("No target %q %q is declared.", typ, name))}
	}
	return name, nil
}

// blockRef parses a KIND.TYPE.NAME traversal.
func blockRef(expr hcl.Expression, kind string) (typ, name string, diags hcl.Diagnostics) {
	bad := hcl.Diagnostics{attrError(expr, fmt.Sprintf("Invalid %s reference", kind),
		fmt.Sprintf("Expected a reference such as %s.TYPE.NAME, e.g. %s.", kind, map[string]string{"source": "source.ldap.corp", "target": "target.ftrack.studio"}[kind]))}
	t, d := hcl.AbsTraversalForExpr(expr)
	if d.HasErrors() || len(t) != 3 || t.RootName() != kind {
		return "", "", bad
	}
	a, ok1 := t[1].(hcl.TraverseAttr)
	b, ok2 := t[2].(hcl.TraverseAttr)
	if !ok1 || !ok2 {
		return "", "", bad
	}
	return a.Name, b.Name, nil
}

// Map evaluates the mapping for one directory entry. An error means the
// entry is skipped; its message is the reason shown in the plan.
func (m *Mapping) Map(e engine.Entry) (engine.User, error) {
	u, ev, err := m.mapFields(e)
	if err != nil || !m.mapsExtras() {
		return u, err
	}
	if m.exprs["custom_attributes"] != nil {
		if u.Custom, err = m.mapCustom(ev); err != nil {
			return engine.User{}, err
		}
	}
	if m.exprs["user_type"] != nil {
		t, err := ev.optional("user_type")
		if err != nil {
			return engine.User{}, err
		}
		if t = strings.ToLower(t); t != "" && !slices.Contains(engine.MappedUserTypes, t) {
			return engine.User{}, fmt.Errorf("user_type: %q is not a user type ldapsync gives (%s)", t, strings.Join(engine.MappedUserTypes, ", "))
		}
		u.UserType = t
	}
	if m.exprs["roles"] != nil {
		names, err := ev.names("roles")
		if err != nil {
			return engine.User{}, err
		}
		u.Roles = make([]engine.RoleGrant, len(names))
		for i, n := range names {
			u.Roles[i] = engine.RoleGrant{Role: n, AllOpen: true}
		}
	}
	return u, nil
}

// mapsExtras reports whether the mapping has fields evaluated with cty
// after the others, even when those compiled: custom_attributes, roles or
// user_type.
func (m *Mapping) mapsExtras() bool {
	return m.exprs["custom_attributes"] != nil || m.exprs["roles"] != nil || m.exprs["user_type"] != nil
}

// MapsRoles reports whether the mapping has a roles expression
// (engine.RoleMapper):
//
//	roles = [for g in entry_values.memberOf : "Project Manager" if g == "cn=leads,ou=groups,dc=example,dc=com"]
func (m *Mapping) MapsRoles() bool { return m.exprs["roles"] != nil }

// mapFields is Map without custom_attributes, roles and user_type:
// compiled where it can be. Without an error it returns the entry's cty
// evaluation too, for Map to evaluate those with; it is nil only when
// the mapping has none of them and nothing needed cty.
func (m *Mapping) mapFields(e engine.Entry) (engine.User, *mapEval, error) {
	if m.compiled != nil {
		if u, ev, ok := m.compiled.mapEntry(e); ok {
			return u, ev, nil
		}
	}
	return m.mapCty(e)
}

// entryEval builds the evaluation of one entry: entry and entry_values.
func (m *Mapping) entryEval(e engine.Entry) (*mapEval, error) {
	absent := map[string]bool{}
	entry := map[string]cty.Value{}
	for _, name := range m.entryAttrs {
		var vals []string
		switch strings.ToLower(name) {
		case "dn":
			vals = nonEmpty(e.DN)
		case "id":
			vals = nonEmpty(e.StableID)
		default:
			vals = lookupAttr(e.Attrs, name)
		}
		switch len(vals) {
		case 0:
			absent[name] = true
			entry[name] = cty.NullVal(cty.String)
		case 1:
			if !utf8.ValidString(vals[0]) {
				return nil, fmt.Errorf("attribute %q is not valid UTF-8", name)
			}
			entry[name] = cty.StringVal(vals[0])
		default:
			return nil, fmt.Errorf("attribute %q has %d values", name, len(vals))
		}
	}
	values := map[string]cty.Value{}
	for _, name := range m.valueAttrs {
		vals := lookupAttr(e.Attrs, name)
		if len(vals) == 0 {
			values[name] = cty.ListValEmpty(cty.String)
			continue
		}
		if len(vals) > m.maxValues {
			return nil, fmt.Errorf("attribute %q has %d values, more than the %d a mapping reads through entry_values", name, len(vals), m.maxValues)
		}
		list := make([]cty.Value, len(vals))
		for i, s := range vals {
			if !utf8.ValidString(s) {
				return nil, fmt.Errorf("attribute %q is not valid UTF-8", name)
			}
			list[i] = cty.StringVal(s)
		}
		values[name] = cty.ListVal(list)
	}
	return m.newEval(entry, values, absent), nil
}

// newEval is the evaluation of one entry with the attributes of its entry
// and entry_values objects, and the entry attributes it lacks.
func (m *Mapping) newEval(entry, values map[string]cty.Value, absent map[string]bool) *mapEval {
	ctx := m.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{
		"entry":        cty.ObjectVal(entry),
		"entry_values": cty.ObjectVal(values),
	}
	return &mapEval{m: m, ctx: ctx, absent: absent}
}

// mapCty is mapFields evaluated by cty alone: the reference semantics,
// and every error's message. It returns the evaluation it built.
func (m *Mapping) mapCty(e engine.Entry) (engine.User, *mapEval, error) {
	ev, err := m.entryEval(e)
	if err != nil {
		return engine.User{}, nil, err
	}
	u := engine.User{Source: e.Source, SourceID: e.StableID, DN: e.DN}
	if u.Username, err = ev.required("username"); err != nil {
		return engine.User{}, nil, err
	}
	u.Key = strings.ToLower(u.Username)
	if u.Email, err = ev.required("email"); err != nil {
		return engine.User{}, nil, err
	}
	if u.FirstName, err = ev.optional("first_name"); err != nil {
		return engine.User{}, nil, err
	}
	if u.LastName, err = ev.optional("last_name"); err != nil {
		return engine.User{}, nil, err
	}
	if m.splitsFullName() {
		full, err := ev.optional("full_name")
		if err != nil {
			return engine.User{}, nil, err
		}
		m.fillFromFullName(&u, full)
	}
	u.Disabled, u.DisabledReason = e.Disabled, e.DisabledReason
	if m.exprs["disabled"] != nil {
		set, dis, err := ev.boolean("disabled")
		if err != nil {
			return engine.User{}, nil, err
		}
		m.applyDisabled(&u, set, dis)
	}
	if m.exprs["groups"] != nil {
		if u.Groups, err = ev.groups(); err != nil {
			return engine.User{}, nil, err
		}
	}
	return u, ev, nil
}

// splitsFullName reports whether full_name gives a name part the mapping
// does not map itself.
func (m *Mapping) splitsFullName() bool {
	return m.exprs["full_name"] != nil && (m.exprs["first_name"] == nil || m.exprs["last_name"] == nil)
}

// fillFromFullName sets the name parts the mapping does not map itself
// from full (splitFullName).
func (m *Mapping) fillFromFullName(u *engine.User, full string) {
	first, last := splitFullName(full)
	if m.exprs["first_name"] == nil {
		u.FirstName = first
	}
	if m.exprs["last_name"] == nil {
		u.LastName = last
	}
}

// applyDisabled puts the disabled expression's value, when set, over the
// entry's own disabled state.
func (m *Mapping) applyDisabled(u *engine.User, set, dis bool) {
	if !set {
		return
	}
	u.Disabled, u.DisabledReason = dis, ""
	if dis {
		u.DisabledReason = fmt.Sprintf("disabled expression of mapping %q is true", m.name)
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// nameParticles start a family name: "Carla de la Cruz" is Carla + de la Cruz.
var nameParticles = map[string]bool{
	"al": true, "bin": true, "da": true, "das": true, "de": true, "del": true, "della": true,
	"der": true, "di": true, "dos": true, "du": true, "la": true, "le": true, "ten": true,
	"ter": true, "van": true, "von": true, "zu": true,
}

// splitFullName splits a full name into first and last name. The family
// name starts at the first lower-case particle after the first word
// ("Carla de la Cruz" → "Carla", "de la Cruz"; "Ludwig van Beethoven" →
// "Ludwig", "van Beethoven"); without one it is the last word ("Ada King
// Lovelace" → "Ada King", "Lovelace"). A single word is a first name.
func splitFullName(full string) (first, last string) {
	words := strings.Fields(full)
	switch len(words) {
	case 0:
		return "", ""
	case 1:
		return words[0], ""
	}
	for i := 1; i < len(words)-1; i++ {
		if nameParticles[words[i]] {
			return strings.Join(words[:i], " "), strings.Join(words[i:], " ")
		}
	}
	return strings.Join(words[:len(words)-1], " "), words[len(words)-1]
}

// mapEval evaluates one entry's fields.
type mapEval struct {
	m      *Mapping
	ctx    *hcl.EvalContext
	absent map[string]bool
}

// missing lists the attributes field reads that the entry lacks.
func (ev *mapEval) missing(field string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range ev.m.fieldAttrs[field] {
		if ev.absent[a] && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

func (ev *mapEval) value(field string) (cty.Value, error) {
	v, diags := ev.m.exprs[field].Value(ev.ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", field, conciseDiag(diags))
	}
	return v, nil
}

// str evaluates a string field; null reports isNull.
func (ev *mapEval) str(field string) (s string, isNull bool, err error) {
	v, err := ev.value(field)
	if err != nil {
		return "", false, err
	}
	if v.IsNull() {
		return "", true, nil
	}
	sv, cerr := convert.Convert(v, cty.String)
	if cerr != nil || !sv.IsKnown() {
		return "", false, fmt.Errorf("%s: must be a string, not %s", field, v.Type().FriendlyName())
	}
	if sv.IsNull() {
		return "", true, nil
	}
	s = sv.AsString()
	if !utf8.ValidString(s) {
		return "", false, fmt.Errorf("%s: not valid UTF-8", field)
	}
	return strings.TrimSpace(s), false, nil
}

func (ev *mapEval) required(field string) (string, error) {
	s, isNull, err := ev.str(field)
	if err == nil && !isNull && s != "" {
		return s, nil
	}
	if miss := ev.missing(field); len(miss) == 1 {
		return "", fmt.Errorf("missing required attribute %s", miss[0])
	} else if len(miss) > 1 {
		return "", fmt.Errorf("missing required attributes %s", strings.Join(miss, ", "))
	}
	switch {
	case err != nil:
		return "", err
	case isNull:
		return "", fmt.Errorf("%s evaluated to null", field)
	}
	return "", fmt.Errorf("%s is empty", field)
}

// optional evaluates a field that may be absent; an error caused by a
// missing attribute gives "".
func (ev *mapEval) optional(field string) (string, error) {
	if ev.m.exprs[field] == nil {
		return "", nil
	}
	s, _, err := ev.str(field)
	if err != nil {
		if len(ev.missing(field)) > 0 {
			return "", nil
		}
		return "", err
	}
	return s, nil
}

// boolean evaluates a bool field; set is false when it evaluated to null.
func (ev *mapEval) boolean(field string) (set, val bool, err error) {
	v, err := ev.value(field)
	if err != nil {
		return false, false, err
	}
	if v.IsNull() {
		return false, false, nil
	}
	bv, cerr := convert.Convert(v, cty.Bool)
	if cerr != nil || bv.IsNull() || !bv.IsKnown() {
		return false, false, fmt.Errorf("%s: must be true or false, not %s", field, v.Type().FriendlyName())
	}
	return true, bv.True(), nil
}

// groups evaluates the groups field into a sorted, de-duplicated list.
func (ev *mapEval) groups() ([]string, error) { return ev.names("groups") }

// names evaluates a list-of-names field (groups, roles): trimmed, without
// nulls and empty names, sorted and de-duplicated; one string is one name.
func (ev *mapEval) names(field string) ([]string, error) {
	out := []string{}
	v, err := ev.value(field)
	if err != nil {
		if len(ev.missing(field)) > 0 {
			return out, nil
		}
		return nil, err
	}
	if v.IsNull() {
		return out, nil
	}
	ty := v.Type()
	var elems []cty.Value
	switch {
	case ty == cty.String:
		elems = []cty.Value{v}
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, e)
		}
	default:
		return nil, fmt.Errorf("%s: must be a list of strings, not %s", field, ty.FriendlyName())
	}
	seen := map[string]bool{}
	for _, e := range elems {
		if e.IsNull() {
			continue
		}
		sv, cerr := convert.Convert(e, cty.String)
		if cerr != nil || sv.IsNull() || !sv.IsKnown() {
			return nil, fmt.Errorf("%s: must be a list of strings, not a list with %s", field, e.Type().FriendlyName())
		}
		s := strings.TrimSpace(sv.AsString())
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%s: not valid UTF-8", field)
		}
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// conciseDiag renders the first error of diags on one short line.
func conciseDiag(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Detail
		if msg == "" {
			msg = d.Summary
		}
		msg = strings.Join(strings.Fields(msg), " ")
		msg = strings.TrimSuffix(msg, ".")
		if r := []rune(msg); len(r) > 200 {
			msg = string(r[:197]) + "..."
		}
		return msg
	}
	return "evaluation failed"
}
