package config

// Compiled mappings (issue 17).
//
// Measured at 100,000 users, evaluating the mapping through hcl and cty
// cost 0.77–0.88 s of CPU and about 51 allocations per entry, and little
// of it was the work the expressions ask for. Each entry built two cty
// objects (an object type with its attribute map for `entry`, a list per
// `entry_values` attribute, a box per string), a child EvalContext and its
// variables map; then each traversal, function call and template went
// through hcl's generic evaluation: argument slices, type checks and
// conversions, marks, refinements and diagnostics, all for lower(entry.uid).
//
// The expressions mappings are written with are few and simple, so when
// the mapping is loaded each field's expression is compiled, where it can
// be, to a Go closure over the entry's attribute values:
//
//   - entry.X and entry["X"] (a string, null when absent), entry_values.X
//     (as a list), the variable of an enclosing for expression;
//   - any sub-expression that reads no entry attribute (literals, var.X,
//     lower(var.domain), ["Everyone"], …) is evaluated once, by cty, at
//     load time and becomes a constant (if it is a string, a bool, null or
//     a list of strings, unmarked and known);
//   - lower(), upper(), trimspace(), coalesce() of string arguments;
//   - string templates ("${entry.uid}@${var.domain}") and "${x}" alone;
//   - a == b and a != b of strings (entry.X == null), c ? a : b;
//   - for groups: [for g in LIST : STRING] (no key variable, no if
//     clause), [a, b, …] and a single string.
//
// Anything else — other functions, arithmetic, indexing, splats, for
// expressions with an if clause or a key, &&, ||, !, non-string values —
// leaves that field to cty. A mapping whose fields partly compile
// evaluates the compiled fields in Go and builds the cty context (lazily)
// only for the others.
//
// Results must be byte-identical to cty's, and every message cty's. So the
// compiled evaluation produces a result only on the success path: when an
// entry would be skipped (an attribute with several values, invalid UTF-8,
// more values than entry_values exposes, a required field null, empty or
// failing, any cty error) or anything is not as expected, the compiled
// form gives up and the entry is mapped again from scratch by the cty
// evaluator (mapCty), whose error is the one reported. The one error the
// compiled form acts on itself is the one that is not reported: an
// optional field (first_name, last_name, full_name, groups) whose
// evaluation fails while an attribute it reads is missing maps to "" (or
// no groups), exactly as mapCty does; the compiled form reports failure
// only where cty certainly fails (a null argument to lower(), upper() or
// trimspace(), a null in a template, coalesce() of nulls only, a result
// over MaxFunctionResult), and the differential tests hold it to that.
//
// cty normalises every string it makes to NFC (cty.StringVal): attribute
// values, each function result and each template result are normalised
// the same way here (norm.NFC.String, which returns its argument without
// allocating when it is already normal, as ASCII always is). Function
// results are held to MaxFunctionResult as the bounded functions are
// (functions_bounds.go). Sensitive variables cannot appear in a mapping
// (checkTraversal); a folded value that carries marks all the same is not
// compiled.

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/text/unicode/norm"

	"github.com/ldapsync/ldapsync/engine"
)

// sval is a compiled string value: a string (NFC-normalised) or null.
type sval struct {
	s    string
	null bool
}

// strFn, boolFn and listFn are compiled expressions. ok is false when cty
// certainly fails to evaluate the expression for this entry (the message
// is then cty's to give).
type (
	strFn  func(*env) (v sval, ok bool)
	boolFn func(*env) (v bool, ok bool)
	listFn func(*env) (v []sval, ok bool)
)

// Small buffers in env spare an allocation for mappings that read few
// attributes.
const (
	envEntryBuf  = 8
	envValuesBuf = 4
)

// env holds one entry's values for the compiled expressions: entry.X and
// entry_values.X by slot (the position of X in Mapping.entryAttrs and
// valueAttrs), and the variables of the for expressions being evaluated
// by depth.
type env struct {
	entry     []sval
	values    [][]string
	loop      [MaxForNesting]sval
	entryBuf  [envEntryBuf]sval
	valuesBuf [envValuesBuf][]string
}

// envPool recycles envs: an env is most of what a compiled evaluation
// allocates, and nothing keeps one past mapEntry (the user holds the
// strings, never the env).
var envPool = sync.Pool{New: func() any { return new(env) }}

// release clears en (so the pool holds no entry's values) and returns it
// to the pool.
func (en *env) release() {
	*en = env{}
	envPool.Put(en)
}

// Kinds of entry.X attribute.
const (
	attrPlain = iota
	attrDN    // entry.dn: the entry's DN
	attrID    // entry.id: the entry's stable id
)

// compiledField is one field's compiled expression: str for the string
// fields, boolean for disabled, list for groups.
type compiledField struct {
	str     strFn
	boolean boolFn
	list    listFn
	// reads are the entry slots the field's expression reads (its
	// fieldAttrs), for the missing-attribute rule of optional fields.
	reads []int
}

// compiledMapping is the compiled form of a Mapping: fields it could not
// compile are nil and evaluated by cty.
type compiledMapping struct {
	m *Mapping
	// kinds classify each entry slot (attrPlain, attrDN, attrID).
	kinds []uint8

	username, email, firstName, lastName, fullName, disabled, groups *compiledField
}

// compileMapping compiles what it can of m's expressions; nil when no
// field compiles (or the attribute names are not in NFC, which cty's
// object attributes would normalise).
func compileMapping(m *Mapping) *compiledMapping {
	c := &compiler{m: m, entrySlot: map[string]int{}, valueSlot: map[string]int{}}
	cm := &compiledMapping{m: m}
	for i, name := range m.entryAttrs {
		if !norm.NFC.IsNormalString(name) {
			return nil
		}
		c.entrySlot[name] = i
		kind := uint8(attrPlain)
		switch strings.ToLower(name) {
		case "dn":
			kind = attrDN
		case "id":
			kind = attrID
		}
		cm.kinds = append(cm.kinds, kind)
	}
	for i, name := range m.valueAttrs {
		if !norm.NFC.IsNormalString(name) {
			return nil
		}
		c.valueSlot[name] = i
	}
	compiled := false
	for _, field := range mappingFields {
		expr, ok := m.exprs[field].(hclsyntax.Expression)
		if !ok {
			continue
		}
		f := &compiledField{}
		switch field {
		case "disabled":
			f.boolean = c.boolean(expr)
		case "groups":
			f.list = c.list(expr, true)
		default:
			f.str = c.str(expr)
		}
		if f.str == nil && f.boolean == nil && f.list == nil {
			continue
		}
		for _, a := range m.fieldAttrs[field] {
			slot, ok := c.entrySlot[a]
			if !ok {
				return nil // not expected: every entry.X read is a slot
			}
			f.reads = append(f.reads, slot)
		}
		compiled = true
		switch field {
		case "username":
			cm.username = f
		case "email":
			cm.email = f
		case "first_name":
			cm.firstName = f
		case "last_name":
			cm.lastName = f
		case "full_name":
			cm.fullName = f
		case "disabled":
			cm.disabled = f
		case "groups":
			cm.groups = f
		}
	}
	if !compiled {
		return nil
	}
	return cm
}

// compiled reports which fields compiled, in evaluation order, for tests
// and diagnostics.
func (cm *compiledMapping) compiled() []string {
	var out []string
	for i, f := range []*compiledField{cm.username, cm.email, cm.firstName, cm.lastName, cm.fullName, cm.disabled, cm.groups} {
		if f != nil {
			out = append(out, mappingFields[i])
		}
	}
	return out
}

// compiler compiles the expressions of one mapping.
type compiler struct {
	m         *Mapping
	entrySlot map[string]int
	valueSlot map[string]int
	// loops are the variables of the enclosing for expressions, outermost
	// first (a variable's index is its depth in env.loop).
	loops []string
}

// fold evaluates expr with cty now when it reads nothing but variables:
// ok is false when it reads an entry or a for variable, or when the value
// is an error, unknown or marked.
func (c *compiler) fold(expr hclsyntax.Expression) (cty.Value, bool) {
	for _, t := range expr.Variables() {
		if t.RootName() != "var" {
			return cty.NilVal, false
		}
	}
	v, diags := expr.Value(c.m.ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.ContainsMarked() {
		return cty.NilVal, false
	}
	return v, true
}

// str compiles an expression whose value is a string or null; nil when
// it cannot.
func (c *compiler) str(expr hclsyntax.Expression) strFn {
	if v, ok := c.fold(expr); ok {
		switch ty := v.Type(); {
		case v.IsNull() && (ty == cty.String || ty == cty.DynamicPseudoType):
			return constStr(sval{null: true})
		case ty == cty.String && !v.IsNull():
			return constStr(sval{s: v.AsString()})
		}
		return nil
	}
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return c.str(e.Expression)
	case *hclsyntax.TemplateWrapExpr:
		return c.str(e.Wrapped)
	case *hclsyntax.ScopeTraversalExpr:
		return c.ref(e.Traversal)
	case *hclsyntax.TemplateExpr:
		return c.template(e)
	case *hclsyntax.FunctionCallExpr:
		return c.call(e)
	case *hclsyntax.ConditionalExpr:
		cond, t, f := c.boolean(e.Condition), c.str(e.TrueResult), c.str(e.FalseResult)
		if cond == nil || t == nil || f == nil {
			return nil
		}
		// cty evaluates both results but keeps only the chosen one's
		// diagnostics; both being strings or null, their types unify.
		return func(en *env) (sval, bool) {
			b, ok := cond(en)
			if !ok {
				return sval{}, false
			}
			if b {
				return t(en)
			}
			return f(en)
		}
	}
	return nil
}

func constStr(v sval) strFn {
	return func(*env) (sval, bool) { return v, true }
}

// ref compiles entry.X or a for variable as a string.
func (c *compiler) ref(t hcl.Traversal) strFn {
	root := t.RootName()
	for depth := len(c.loops) - 1; depth >= 0; depth-- {
		if c.loops[depth] != root {
			continue
		}
		if len(t) != 1 {
			return nil
		}
		return func(en *env) (sval, bool) { return en.loop[depth], true }
	}
	if root != "entry" || len(t) != 2 {
		return nil
	}
	name, ok := stepName(t, 1)
	if !ok {
		return nil
	}
	slot, ok := c.entrySlot[name]
	if !ok {
		return nil
	}
	return func(en *env) (sval, bool) { return en.entry[slot], true }
}

// template compiles a string template: each part a string (a constant
// part may be any primitive, converted as the template would).
func (c *compiler) template(e *hclsyntax.TemplateExpr) strFn {
	parts := make([]strFn, len(e.Parts))
	for i, p := range e.Parts {
		if v, ok := c.fold(p); ok {
			if v.IsNull() {
				return nil // always an error: cty reports it
			}
			sv, err := convert.Convert(v, cty.String)
			if err != nil || !sv.IsKnown() || sv.IsNull() {
				return nil
			}
			parts[i] = constStr(sval{s: sv.AsString()})
			continue
		}
		if parts[i] = c.str(p); parts[i] == nil {
			return nil
		}
	}
	return func(en *env) (sval, bool) {
		var buf [8]string
		vals := buf[:0]
		n := 0
		for _, p := range parts {
			v, ok := p(en)
			if !ok || v.null {
				return sval{}, false // a null is "Invalid template interpolation value"
			}
			vals = append(vals, v.s)
			n += len(v.s)
		}
		var b strings.Builder
		b.Grow(n)
		for _, s := range vals {
			b.WriteString(s)
		}
		return sval{s: norm.NFC.String(b.String())}, true
	}
}

// call compiles lower(), upper(), trimspace() and coalesce() of strings.
func (c *compiler) call(e *hclsyntax.FunctionCallExpr) strFn {
	if e.ExpandFinal || len(e.Args) == 0 {
		return nil
	}
	args := make([]strFn, len(e.Args))
	for i, a := range e.Args {
		if args[i] = c.str(a); args[i] == nil {
			return nil
		}
	}
	var fn func(string) string
	switch e.Name {
	case "lower":
		fn = strings.ToLower
	case "upper":
		fn = strings.ToUpper
	case "trimspace":
		fn = strings.TrimSpace
	case "coalesce":
		// cty evaluates every argument (an error in any is an error) and
		// returns the first that is not null; none is an error.
		return func(en *env) (sval, bool) {
			found := sval{null: true}
			for _, a := range args {
				v, ok := a(en)
				if !ok {
					return sval{}, false
				}
				if found.null && !v.null {
					found = v
				}
			}
			return found, !found.null
		}
	default:
		return nil
	}
	if len(args) != 1 {
		return nil
	}
	arg := args[0]
	return func(en *env) (sval, bool) {
		v, ok := arg(en)
		if !ok || v.null {
			return sval{}, false // "argument must not be null"
		}
		s := norm.NFC.String(fn(v.s))
		if len(s) > MaxFunctionResult {
			return sval{}, false // the bounded functions' limit
		}
		return sval{s: s}, true
	}
}

// boolean compiles a condition: a constant, a == b or a != b of strings.
func (c *compiler) boolean(expr hclsyntax.Expression) boolFn {
	if v, ok := c.fold(expr); ok {
		if v.Type() != cty.Bool || v.IsNull() {
			return nil
		}
		b := v.True()
		return func(*env) (bool, bool) { return b, true }
	}
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return c.boolean(e.Expression)
	case *hclsyntax.BinaryOpExpr:
		if e.Op != hclsyntax.OpEqual && e.Op != hclsyntax.OpNotEqual {
			return nil
		}
		l, r := c.str(e.LHS), c.str(e.RHS)
		if l == nil || r == nil {
			return nil
		}
		want := e.Op == hclsyntax.OpEqual
		return func(en *env) (bool, bool) {
			a, ok := l(en)
			if !ok {
				return false, false
			}
			b, ok := r(en)
			if !ok {
				return false, false
			}
			// cty: nulls of any type are equal, null and a string are not.
			eq := a.null == b.null && a.s == b.s
			return eq == want, true
		}
	}
	return nil
}

// list compiles a list of strings: entry_values.X, a for expression, a
// tuple, a constant list; with str, a string or null too (groups reads a
// string as one group, null as none).
func (c *compiler) list(expr hclsyntax.Expression, str bool) listFn {
	if v, ok := c.fold(expr); ok {
		ty := v.Type()
		if v.IsNull() || !(ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) {
			if f := c.str(expr); f != nil && str {
				return strList(f)
			}
			return nil
		}
		var out []sval
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			switch {
			case e.IsNull():
				out = append(out, sval{null: true})
			case e.Type() == cty.String:
				out = append(out, sval{s: e.AsString()})
			default:
				return nil
			}
		}
		return func(*env) ([]sval, bool) { return out, true }
	}
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return c.list(e.Expression, str)
	case *hclsyntax.ScopeTraversalExpr:
		if e.Traversal.RootName() == "entry_values" && len(e.Traversal) == 2 && !slices.Contains(c.loops, "entry_values") {
			name, ok := stepName(e.Traversal, 1)
			if !ok {
				return nil
			}
			slot, ok := c.valueSlot[name]
			if !ok {
				return nil
			}
			return func(en *env) ([]sval, bool) {
				vals := en.values[slot]
				out := make([]sval, len(vals))
				for i, s := range vals {
					out[i] = sval{s: s}
				}
				return out, true
			}
		}
	case *hclsyntax.TupleConsExpr:
		elems := make([]strFn, len(e.Exprs))
		for i, x := range e.Exprs {
			if elems[i] = c.str(x); elems[i] == nil {
				return nil
			}
		}
		return func(en *env) ([]sval, bool) {
			out := make([]sval, len(elems))
			for i, f := range elems {
				v, ok := f(en)
				if !ok {
					return nil, false
				}
				out[i] = v
			}
			return out, true
		}
	case *hclsyntax.ForExpr:
		return c.forList(e)
	}
	if !str {
		return nil
	}
	if f := c.str(expr); f != nil {
		return strList(f)
	}
	return nil
}

// strList makes a string a list of itself, and null no list.
func strList(f strFn) listFn {
	return func(en *env) ([]sval, bool) {
		v, ok := f(en)
		if !ok || v.null {
			return nil, ok
		}
		return []sval{v}, true
	}
}

// forList compiles [for v in LIST : STRING].
func (c *compiler) forList(e *hclsyntax.ForExpr) listFn {
	if e.KeyVar != "" || e.KeyExpr != nil || e.CondExpr != nil || e.Group || len(c.loops) >= MaxForNesting {
		return nil
	}
	switch e.ValVar {
	case "entry", "entry_values", "var":
		return nil // shadowing: left to cty
	}
	coll := c.list(e.CollExpr, false) // evaluated outside the loop
	if coll == nil {
		return nil
	}
	depth := len(c.loops)
	c.loops = append(c.loops, e.ValVar)
	body := c.str(e.ValExpr)
	c.loops = c.loops[:depth]
	if body == nil {
		return nil
	}
	return func(en *env) ([]sval, bool) {
		items, ok := coll(en)
		if !ok {
			return nil, false
		}
		out := make([]sval, len(items))
		for i, it := range items {
			en.loop[depth] = it
			v, ok := body(en)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}
}

// lookupAttr finds an attribute's values: the exact spelling, else (names
// match without case) the first spelling in byte order that matches, so
// that an entry holding two spellings never maps by map iteration order.
func lookupAttr(attrs map[string][]string, name string) []string {
	if v, ok := attrs[name]; ok {
		return v
	}
	var found string
	for k := range attrs {
		if strings.EqualFold(k, name) && (found == "" || k < found) {
			found = k
		}
	}
	if found == "" {
		return nil
	}
	return attrs[found]
}

// nfcList returns vals normalised to NFC: vals itself when every value is
// already (the common case, without allocating).
func nfcList(vals []string) []string {
	for i, s := range vals {
		if n := norm.NFC.String(s); n != s {
			out := slices.Clone(vals)
			out[i] = n
			for j := i + 1; j < len(out); j++ {
				out[j] = norm.NFC.String(out[j])
			}
			return out
		}
	}
	return vals
}

// mapEntry maps e with the compiled expressions; ok is false when the
// entry must be mapped by cty (mapCty) instead, for its error or because
// something was not as the compiled form expects. ev is the entry's cty
// evaluation, built from the values already read, when the mapping has
// fields only cty evaluates (custom_attributes, roles, user_type; see
// Mapping.mapsExtras) or a field fell back to cty; nil otherwise.
func (cm *compiledMapping) mapEntry(e engine.Entry) (u engine.User, ev *mapEval, ok bool) {
	m := cm.m
	en := envPool.Get().(*env)
	defer en.release()
	if n := len(m.entryAttrs); n <= envEntryBuf {
		en.entry = en.entryBuf[:n]
	} else {
		en.entry = make([]sval, n)
	}
	for i, name := range m.entryAttrs {
		var vals []string
		switch cm.kinds[i] {
		case attrDN:
			vals = nonEmpty(e.DN)
		case attrID:
			vals = nonEmpty(e.StableID)
		default:
			vals = lookupAttr(e.Attrs, name)
		}
		switch len(vals) {
		case 0:
			en.entry[i] = sval{null: true}
		case 1:
			if !utf8.ValidString(vals[0]) {
				return u, nil, false
			}
			en.entry[i] = sval{s: norm.NFC.String(vals[0])}
		default:
			return u, nil, false
		}
	}
	if n := len(m.valueAttrs); n <= envValuesBuf {
		en.values = en.valuesBuf[:n]
	} else {
		en.values = make([][]string, n)
	}
	for i, name := range m.valueAttrs {
		vals := lookupAttr(e.Attrs, name)
		if len(vals) > m.maxValues {
			return u, nil, false
		}
		for _, s := range vals {
			if !utf8.ValidString(s) {
				return u, nil, false
			}
		}
		en.values[i] = nfcList(vals)
	}
	r := &compiledRun{cm: cm, en: en}

	u = engine.User{Source: e.Source, SourceID: e.StableID, DN: e.DN}
	if u.Username, ok = r.required(cm.username, "username"); !ok {
		return u, nil, false
	}
	u.Key = strings.ToLower(u.Username)
	if u.Email, ok = r.required(cm.email, "email"); !ok {
		return u, nil, false
	}
	if u.FirstName, ok = r.optional(cm.firstName, "first_name"); !ok {
		return u, nil, false
	}
	if u.LastName, ok = r.optional(cm.lastName, "last_name"); !ok {
		return u, nil, false
	}
	if m.splitsFullName() {
		full, ok := r.optional(cm.fullName, "full_name")
		if !ok {
			return u, nil, false
		}
		m.fillFromFullName(&u, full)
	}
	u.Disabled, u.DisabledReason = e.Disabled, e.DisabledReason
	if m.exprs["disabled"] != nil {
		set, dis, ok := r.boolean(cm.disabled)
		if !ok {
			return u, nil, false
		}
		m.applyDisabled(&u, set, dis)
	}
	if m.exprs["groups"] != nil {
		if u.Groups, ok = r.groups(cm.groups); !ok {
			return u, nil, false
		}
	}
	if m.mapsExtras() {
		return u, r.cty(), true
	}
	return u, r.ev, true
}

// compiledRun evaluates one entry's fields: compiled ones in Go, the
// others with cty in a context built on first use.
type compiledRun struct {
	cm *compiledMapping
	en *env
	ev *mapEval
}

// cty returns the cty evaluator of the entry, building its context from
// the values already read (normalised as cty.StringVal would).
func (r *compiledRun) cty() *mapEval {
	if r.ev != nil {
		return r.ev
	}
	m := r.cm.m
	absent := map[string]bool{}
	entry := make(map[string]cty.Value, len(m.entryAttrs))
	for i, name := range m.entryAttrs {
		if v := r.en.entry[i]; v.null {
			absent[name] = true
			entry[name] = cty.NullVal(cty.String)
		} else {
			entry[name] = cty.StringVal(v.s)
		}
	}
	values := make(map[string]cty.Value, len(m.valueAttrs))
	for i, name := range m.valueAttrs {
		vals := r.en.values[i]
		if len(vals) == 0 {
			values[name] = cty.ListValEmpty(cty.String)
			continue
		}
		list := make([]cty.Value, len(vals))
		for j, s := range vals {
			list[j] = cty.StringVal(s)
		}
		values[name] = cty.ListVal(list)
	}
	r.ev = m.newEval(entry, values, absent)
	return r.ev
}

// missing reports whether an attribute f reads is absent.
func (r *compiledRun) missing(f *compiledField) bool {
	for _, slot := range f.reads {
		if r.en.entry[slot].null {
			return true
		}
	}
	return false
}

// result is the field value as mapEval.str gives it, trimmed; ok is
// false when the value is not valid UTF-8 (cty reports it).
func result(v sval) (string, bool) {
	if !utf8.ValidString(v.s) {
		return "", false
	}
	return strings.TrimSpace(v.s), true
}

func (r *compiledRun) required(f *compiledField, field string) (string, bool) {
	if f == nil {
		s, err := r.cty().required(field)
		return s, err == nil
	}
	v, ok := f.str(r.en)
	if !ok || v.null {
		return "", false
	}
	s, ok := result(v)
	return s, ok && s != ""
}

func (r *compiledRun) optional(f *compiledField, field string) (string, bool) {
	if r.cm.m.exprs[field] == nil {
		return "", true
	}
	if f == nil {
		s, err := r.cty().optional(field)
		return s, err == nil
	}
	v, ok := f.str(r.en)
	switch {
	case !ok:
		// cty fails: an optional field reading a missing attribute is "".
		return "", r.missing(f)
	case v.null:
		return "", true
	}
	return result(v)
}

func (r *compiledRun) boolean(f *compiledField) (set, val, ok bool) {
	if f == nil {
		set, val, err := r.cty().boolean("disabled")
		return set, val, err == nil
	}
	val, ok = f.boolean(r.en)
	return ok, val, ok
}

// groups is mapEval.groups: trimmed, without nulls and empty names,
// sorted and de-duplicated.
func (r *compiledRun) groups(f *compiledField) ([]string, bool) {
	if f == nil {
		g, err := r.cty().groups()
		return g, err == nil
	}
	vals, ok := f.list(r.en)
	if !ok {
		return []string{}, r.missing(f)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v.null {
			continue
		}
		s, ok := result(v)
		if !ok {
			return nil, false
		}
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}
