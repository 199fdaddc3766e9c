package ftracktest

// Query evaluation and response encoding.
//
// Rows are filtered with "any" semantics over relation paths (a path through
// a collection matches if any element matches; a path through an unset
// scalar relation yields null). Results are sorted by the order-by terms and
// then by primary key, so answers are deterministic.
//
// Encoding follows the recorded server responses: every entity carries
// __entity_type__, its primary key and its type's system_projections. In
// the default (normalised) mode an entity is encoded in full only at its
// first occurrence in a result; later occurrences are references
// (__entity_type__ + primary key). So that the single full encoding carries
// everything asked for anywhere in the result, a first pass merges the
// projection subtrees requested for each entity identity and the second pass
// encodes with the merged tree.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// ent is one entity during evaluation: its concrete type and row.
type ent struct {
	typ string
	r   row
}

type qctx struct {
	e   *Emulator
	idx map[string]map[any][]ent // "Type|attr" -> value -> rows
}

func (e *Emulator) newQctx() *qctx { return &qctx{e: e, idx: map[string]map[any][]ent{}} }

// rowsOf returns all entities of typ (concrete subtypes for abstract types)
// in primary-key order.
func (q *qctx) rowsOf(typ string) []ent {
	types := []string{typ}
	if subs, ok := subtypes[typ]; ok {
		types = subs
	}
	n := 0
	for _, t := range types {
		n += len(q.e.store.rows[t])
	}
	out := make([]ent, 0, n)
	for _, t := range types {
		sc := q.e.schemas.byType[t]
		for _, k := range q.e.store.sortedKeys(sc, t) {
			out = append(out, ent{t, q.e.store.get(t, k)})
		}
	}
	if len(types) > 1 {
		sc := q.e.schemas.byType[typ]
		sort.SliceStable(out, func(i, j int) bool {
			return comparePK(rowPK(sc, out[i].r), rowPK(sc, out[j].r)) < 0
		})
	}
	return out
}

// related returns the entities reached from x through relation name.
func (q *qctx) related(x ent, name string) (res []ent, many bool) {
	rel, ok := relations[x.typ][name]
	if !ok {
		return nil, false
	}
	v := x.r[rel.Local]
	if !rel.Many {
		if v == nil {
			return nil, false
		}
		if r := q.e.store.get(rel.Target, pkKey([]any{v})); r != nil {
			return []ent{{rel.Target, r}}, false
		}
		return nil, false
	}
	ik := rel.Target + "|" + rel.Remote
	m, built := q.idx[ik]
	if !built {
		m = map[any][]ent{}
		for _, t := range q.rowsOf(rel.Target) {
			if k := t.r[rel.Remote]; k != nil {
				m[k] = append(m[k], t)
			}
		}
		q.idx[ik] = m
	}
	if v == nil {
		return nil, true
	}
	return m[v], true
}

// values resolves a dotted path on x.
func (q *qctx) values(x ent, parts []string) []any {
	if len(parts) == 1 {
		return []any{x.r[parts[0]]}
	}
	rel, many := q.related(x, parts[0])
	if len(rel) == 0 && !many {
		return []any{nil}
	}
	var out []any
	for _, t := range rel {
		out = append(out, q.values(t, parts[1:])...)
	}
	return out
}

// entitiesAt resolves a dotted path ending in a relation.
func (q *qctx) entitiesAt(x ent, parts []string) []ent {
	rel, _ := q.related(x, parts[0])
	if len(parts) == 1 {
		return rel
	}
	var out []ent
	for _, t := range rel {
		out = append(out, q.entitiesAt(t, parts[1:])...)
	}
	return out
}

// resolveProp walks a path through the schemas and returns the final
// property and the schema it belongs to.
func (e *Emulator) resolveProp(sc *schema, path string) (*schema, property, *APIError) {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		p, ok := sc.Properties[part]
		if !ok {
			return nil, property{}, validationf("%s has no attribute %q (in %q).", sc.ID, part, path)
		}
		if i == len(parts)-1 {
			return sc, p, nil
		}
		if !p.isRelation() {
			return nil, property{}, validationf("%s.%s is not a relation (in %q).", sc.ID, part, path)
		}
		if _, ok := relations[sc.ID][part]; !ok {
			return nil, property{}, validationf("%s.%s cannot be traversed by this server (in %q).", sc.ID, part, path)
		}
		target := p.Ref
		if target == "" {
			target = p.ItemsRef
		}
		sc = e.schemas.byType[target]
		if sc == nil {
			return nil, property{}, validationf("Unknown entity type %q (in %q).", target, path)
		}
	}
	return sc, property{}, nil
}

// compiled condition values, coerced to the attribute type.
type compiledCond struct {
	*condExpr
	parts []string
	vals  []any
	set   map[string]bool // in/not_in
	inner expr
}

func (e *Emulator) compile(sc *schema, x expr, q *qctx) (expr, *APIError) {
	switch t := x.(type) {
	case boolExpr:
		l, err := e.compile(sc, t.L, q)
		if err != nil {
			return nil, err
		}
		r, err := e.compile(sc, t.R, q)
		if err != nil {
			return nil, err
		}
		return boolExpr{t.Op, l, r}, nil
	case notExpr:
		in, err := e.compile(sc, t.X, q)
		if err != nil {
			return nil, err
		}
		return notExpr{in}, nil
	case *condExpr:
		owner, p, err := e.resolveProp(sc, t.Path)
		if err != nil {
			return nil, err
		}
		c := &compiledCond{condExpr: t, parts: strings.Split(t.Path, ".")}
		if t.Op == "has" || t.Op == "any" {
			if !p.isRelation() {
				return nil, validationf("%s needs a relation, %q is an attribute.", t.Op, t.Path)
			}
			if t.Inner != nil {
				target := p.Ref
				if target == "" {
					target = p.ItemsRef
				}
				inner, err := e.compile(e.schemas.byType[target], t.Inner, q)
				if err != nil {
					return nil, err
				}
				c.inner = inner
			}
			return c, nil
		}
		if p.isRelation() {
			return nil, validationf("%q is a relation; compare one of its attributes or use has/any.", t.Path)
		}
		if t.Sub != nil {
			rows, ssc, err := e.evalQuery(t.Sub, q)
			if err != nil {
				return nil, err
			}
			_, sp, err := e.resolveProp(ssc, t.Sub.Projections[0])
			if err != nil {
				return nil, err
			}
			if sp.isRelation() {
				return nil, validationf("a subquery must select an attribute, not relation %q.", t.Sub.Projections[0])
			}
			sparts := strings.Split(t.Sub.Projections[0], ".")
			c.set = map[string]bool{}
			for _, r := range rows {
				for _, v := range q.values(r, sparts) {
					if v != nil {
						c.set[valueKey(v)] = true
					}
				}
			}
			return c, nil
		}
		for _, l := range t.Values {
			v, err := coerce(owner, p, l)
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
		}
		if t.Op == "in" || t.Op == "not_in" {
			c.set = map[string]bool{}
			for _, v := range c.vals {
				c.set[valueKey(v)] = true
			}
		}
		return c, nil
	}
	return nil, validationf("unsupported expression")
}

// valueKey is the key of v in an in/not_in set: its Go type and value,
// as fmt writes them ("%T:%v"). A string, the common value, is joined by
// hand: fmt cost most of filtering a large type by key in (...).
func valueKey(v any) string {
	if s, ok := v.(string); ok {
		return "string:" + s
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// coerce converts a query literal to the attribute's value type.
func coerce(sc *schema, p property, l literal) (any, *APIError) {
	if l.Kind == tokWord {
		switch strings.ToLower(l.Text) {
		case "none", "null":
			return nil, nil
		}
	}
	switch {
	case p.Type == "boolean":
		switch strings.ToLower(l.Text) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, validationf("%q is not a boolean.", l.Text)
	case p.Type == "integer" || p.Type == "number":
		f, err := strconv.ParseFloat(l.Text, 64)
		if err != nil {
			return nil, validationf("%q is not a number.", l.Text)
		}
		return f, nil
	case p.Format == "date-time" || p.Format == "date":
		return normalizeTime(l.Text, p.Format == "date")
	}
	return l.Text, nil
}

func (q *qctx) match(x ent, ex expr) bool {
	switch t := ex.(type) {
	case nil:
		return true
	case boolExpr:
		if t.Op == "and" {
			return q.match(x, t.L) && q.match(x, t.R)
		}
		return q.match(x, t.L) || q.match(x, t.R)
	case notExpr:
		return !q.match(x, t.X)
	case *compiledCond:
		if t.Op == "has" || t.Op == "any" {
			for _, r := range q.entitiesAt(x, t.parts) {
				if q.match(r, t.inner) {
					return true
				}
			}
			return false
		}
		if len(t.parts) == 1 { // the one value values would give
			return t.test(x.r[t.parts[0]])
		}
		for _, v := range q.values(x, t.parts) {
			if t.test(v) {
				return true
			}
		}
		return false
	}
	return false
}

// inSet reports whether c.set holds valueKey(v). A string's key is
// built in a buffer the lookup converts without allocating: tested once
// per row, allocating it was much of filtering a large type.
func (c *compiledCond) inSet(v any) bool {
	s, ok := v.(string)
	if !ok {
		return c.set[valueKey(v)]
	}
	var buf [64]byte
	k := append(append(buf[:0], "string:"...), s...)
	return c.set[string(k)]
}

func (c *compiledCond) test(v any) bool {
	switch c.Op {
	case "in":
		return v != nil && c.inSet(v)
	case "not_in":
		return v != nil && !c.inSet(v)
	}
	want := c.vals[0]
	switch c.Op {
	case "is":
		if want == nil || v == nil {
			return want == nil && v == nil
		}
		return compareValues(v, want) == 0
	case "is_not":
		if want == nil || v == nil {
			return (want == nil) != (v == nil)
		}
		return compareValues(v, want) != 0
	}
	if v == nil || want == nil {
		return false
	}
	switch c.Op {
	case "gt":
		return compareValues(v, want) > 0
	case "lt":
		return compareValues(v, want) < 0
	case "ge":
		return compareValues(v, want) >= 0
	case "le":
		return compareValues(v, want) <= 0
	case "like", "not_like":
		s, ok1 := v.(string)
		pat, ok2 := want.(string)
		m := ok1 && ok2 && likeMatch(strings.ToLower(s), strings.ToLower(pat))
		if c.Op == "like" {
			return m
		}
		return !m
	}
	return false
}

// likeMatch matches s against a pattern where % matches any run of
// characters (including none).
func likeMatch(s, pat string) bool {
	parts := strings.Split(pat, "%")
	if len(parts) == 1 {
		return s == pat
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

// compareValues orders JSON scalars: null < bool < number < string < other.
func compareValues(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case nil:
			return 0
		case bool:
			return 1
		case float64:
			return 2
		case string:
			return 3
		}
		return 4
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case nil:
		return 0
	}
	return strings.Compare(shortJSON(a), shortJSON(b))
}

// evalQuery filters and sorts (no paging) the rows of a parsed query.
func (e *Emulator) evalQuery(ast *queryAST, q *qctx) ([]ent, *schema, *APIError) {
	sc := e.schemas.byType[ast.Type]
	if sc == nil {
		return nil, nil, validationf("Unknown entity type %q.", ast.Type)
	}
	for _, path := range ast.Projections {
		if _, _, err := e.resolveProp(sc, path); err != nil {
			return nil, nil, err
		}
	}
	var orderParts [][]string
	for _, o := range ast.Order {
		_, p, err := e.resolveProp(sc, o.Path)
		if err != nil {
			return nil, nil, err
		}
		if p.isRelation() {
			return nil, nil, validationf("cannot order by relation %q.", o.Path)
		}
		orderParts = append(orderParts, strings.Split(o.Path, "."))
	}
	var where expr
	if ast.Where != nil {
		w, err := e.compile(sc, ast.Where, q)
		if err != nil {
			return nil, nil, err
		}
		where = w
	}
	// rowsOf's slice is new: the rows matching are kept in place.
	all := q.rowsOf(ast.Type)
	out := all[:0]
	for _, x := range all {
		if q.match(x, where) {
			out = append(out, x)
		}
	}
	if len(ast.Order) > 0 && !orderedByPK(sc, ast.Order) {
		out = q.sortRows(out, ast.Order, orderParts)
	}
	return out, sc, nil
}

// orderedByPK reports whether order is sc's primary key, ascending,
// attribute by attribute: rowsOf yields rows in that order already (and
// filtering keeps it), so sorting them by it would change nothing, and it
// was most of evaluating a paged read of a large type.
func orderedByPK(sc *schema, order []orderTerm) bool {
	if len(order) != len(sc.PrimaryKey) {
		return false
	}
	for i, o := range order {
		if o.Desc || o.Path != sc.PrimaryKey[i] {
			return false
		}
	}
	return true
}

// sortRows sorts rows stably by the order terms, whose paths are
// orderParts, each compared by its first value (null when it has none).
// The values are looked up once per row, not once per comparison.
func (q *qctx) sortRows(rows []ent, order []orderTerm, orderParts [][]string) []ent {
	type keyed struct {
		x    ent
		vals []any
	}
	ks := make([]keyed, len(rows))
	for i, x := range rows {
		vals := make([]any, len(orderParts))
		for k, parts := range orderParts {
			if vs := q.values(x, parts); len(vs) > 0 {
				vals[k] = vs[0]
			}
		}
		ks[i] = keyed{x, vals}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		for k, o := range order {
			c := compareValues(ks[i].vals[k], ks[j].vals[k])
			if c != 0 {
				if o.Desc {
					return c > 0
				}
				return c < 0
			}
		}
		return false
	})
	for i, k := range ks {
		rows[i] = k.x
	}
	return rows
}

// projTree is a projection tree: attribute -> sub-projections.
type projTree map[string]projTree

func (t projTree) add(path string) {
	parts := strings.SplitN(path, ".", 2)
	sub := t[parts[0]]
	if sub == nil {
		sub = projTree{}
		t[parts[0]] = sub
	}
	if len(parts) == 2 {
		sub.add(parts[1])
	}
}

func (t projTree) merge(o projTree) {
	for k, v := range o {
		sub := t[k]
		if sub == nil {
			sub = projTree{}
			t[k] = sub
		}
		sub.merge(v)
	}
}

type encoder struct {
	q      *qctx
	dedupe bool
	merged map[string]projTree
	seen   map[string]bool
}

// identity is the encoder's key for an entity: its type and primary key.
// A single string key (nearly every entity) is joined with a NUL byte
// instead of being JSON-encoded, which cost a json.Marshal per row
// encoded; the separators differ, so the two forms never collide.
func (e *Emulator) identity(x ent) string {
	sc := e.schemas.byType[x.typ]
	if len(sc.PrimaryKey) == 1 {
		if s, ok := x.r[sc.PrimaryKey[0]].(string); ok {
			return x.typ + "\x00" + s
		}
	}
	return x.typ + "," + rowKey(sc, x.r)
}

// relTree returns the subtree for relation attribute name, defaulting to the
// target's default projections when nothing below it was asked for.
func (en *encoder) relTree(sub projTree, target string) projTree {
	if len(sub) > 0 {
		return sub
	}
	t := projTree{}
	for _, p := range en.q.e.schemas.byType[target].DefaultProjections {
		t.add(p)
	}
	return t
}

func (en *encoder) collect(x ent, tree projTree) {
	id := en.q.e.identity(x)
	m := en.merged[id]
	if m == nil {
		m = projTree{}
		en.merged[id] = m
	}
	m.merge(tree)
	sc := en.q.e.schemas.byType[x.typ]
	for name, sub := range tree {
		p := sc.Properties[name]
		if !p.isRelation() {
			continue
		}
		rel, _ := en.q.related(x, name)
		for _, r := range rel {
			en.collect(r, en.relTree(sub, r.typ))
		}
	}
}

func (en *encoder) encode(x ent, tree projTree) map[string]any {
	e := en.q.e
	sc := e.schemas.byType[x.typ]
	out := make(map[string]any, 1+len(sc.PrimaryKey)+len(sc.SystemProjections)+len(tree))
	out["__entity_type__"] = x.typ
	for _, k := range sc.PrimaryKey {
		out[k] = encodeValue(sc.Properties[k], x.r[k])
	}
	if en.dedupe {
		id := e.identity(x)
		if en.seen[id] {
			return out
		}
		en.seen[id] = true
		tree = en.merged[id]
	}
	for _, k := range sc.SystemProjections {
		// Some recorded system projections name internal columns that
		// are not attributes (UserCustomAttributeValue's _casted_value,
		// CustomAttributeConfiguration's topid): they are left out.
		if p, ok := sc.Properties[k]; ok {
			out[k] = encodeValue(p, x.r[k])
		}
	}
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p, ok := sc.Properties[name]
		if !ok {
			continue // attribute of a sibling subtype (polymorphic query)
		}
		if !p.isRelation() {
			out[name] = encodeValue(p, x.r[name])
			continue
		}
		rel, many := en.q.related(x, name)
		if !many && p.ItemsRef == "" {
			if len(rel) == 0 {
				out[name] = nil
			} else {
				out[name] = en.encode(rel[0], en.relTree(tree[name], rel[0].typ))
			}
			continue
		}
		list := make([]any, 0, len(rel))
		for _, r := range rel {
			list = append(list, en.encode(r, en.relTree(tree[name], r.typ)))
		}
		out[name] = list
	}
	return out
}

func encodeValue(p property, v any) any {
	if s, ok := v.(string); ok {
		switch p.Format {
		case "date-time":
			return map[string]any{"__type__": "datetime", "value": s}
		case "date":
			return map[string]any{"__type__": "date", "value": s}
		}
	}
	return deepCopy(v)
}

// noFlatEncode turns off the flat page shortcut of runQuery (tests
// compare both).
var noFlatEncode = false

// flatPage reports whether tree names no relation of any row's type:
// the page's entities then reference no others.
func flatPage(e *Emulator, page []ent, tree projTree) bool {
	checked := map[string]bool{}
	last := ""
	for _, x := range page {
		// The rows of a query of a concrete type are all of that
		// type: comparing with the row before spares the map lookup
		// per row, which was a quarter of a paged read's time under
		// the lock (a polymorphic query's types interleave).
		if x.typ == last || checked[x.typ] {
			continue
		}
		last = x.typ
		checked[x.typ] = true
		sc := e.schemas.byType[x.typ]
		for name := range tree {
			if p, ok := sc.Properties[name]; ok && p.isRelation() {
				return false
			}
		}
	}
	return true
}

// flatAttr is an attribute a flat page writes for its rows of one type:
// its name, the name quoted as a JSON object member with its colon, and
// its property.
type flatAttr struct {
	name, member string
	p            property
}

// flatPlan lists the members encode gives a row of sc without
// de-duplication, but for __entity_type__, each once: the primary key,
// the system projections the type has and the projected attributes it
// has (a name among several of these is written once, as the map encode
// builds holds it once).
func flatPlan(sc *schema, tree projTree) []flatAttr {
	seen := map[string]bool{"__entity_type__": true}
	var plan []flatAttr
	add := func(name string) {
		if p, ok := sc.Properties[name]; ok && !seen[name] {
			seen[name] = true
			plan = append(plan, flatAttr{name, string(appendJSONString(nil, name)) + ":", p})
		}
	}
	for _, k := range sc.PrimaryKey {
		add(k)
	}
	for _, k := range sc.SystemProjections {
		add(k)
	}
	for name := range tree {
		add(name)
	}
	return plan
}

// flatResult is the answer to a query whose page is flat (flatPage),
// {"action": "query", "data": [...], "metadata": {"next": {"offset":
// next}}}, written by appendJSON straight from the stored rows once the
// emulator is unlocked: building a map per row was most of the time a
// paged read held the lock, and encoding those maps token by token most
// of the rest of its CPU. page is a slice of an evaluated query, which is
// never changed, and a stored row is never changed in place, so they read
// then as they did under the lock.
type flatResult struct {
	schemas *schemaSet
	page    []ent
	tree    projTree
	next    any // int, or nil on the last page
}

// appendJSON appends the answer as writeResults writes the map encode
// would give it without de-duplication (members in another order, which
// a client does not read), each type's plan worked out once, not per row.
func (f flatResult) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"action":"query","data":[`...)
	plans := map[string][]flatAttr{}
	for i, x := range f.page {
		plan, ok := plans[x.typ]
		if !ok {
			plan = flatPlan(f.schemas.byType[x.typ], f.tree)
			plans[x.typ] = plan
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFlatRow(dst, x, plan)
	}
	dst = append(dst, `],"metadata":{"next":{"offset":`...)
	if n, ok := f.next.(int); ok {
		dst = strconv.AppendInt(dst, int64(n), 10)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, "}}}"...)
}

// MarshalJSONTo writes the answer appendJSON gives, for encoders other
// than writeResults'.
func (f flatResult) MarshalJSONTo(enc *jsontext.Encoder) error {
	return enc.WriteValue(f.appendJSON(nil))
}

// appendFlatRow appends x as an object of __entity_type__ and plan's
// members.
func appendFlatRow(dst []byte, x ent, plan []flatAttr) []byte {
	dst = append(dst, `{"__entity_type__":`...)
	dst = appendJSONString(dst, x.typ)
	for _, a := range plan {
		dst = append(dst, ',')
		dst = append(dst, a.member...)
		dst = appendValue(dst, a.p, x.r[a.name])
	}
	return append(dst, '}')
}

// pagingRE matches the offset and limit clauses that end a query.
var pagingRE = regexp.MustCompile(`(?i)(\s+(offset|limit)\s+\d+)+\s*$`)

// runQuery executes a query operation and builds its result element: a
// flatResult for a flat page, else a map.
func (e *Emulator) runQuery(expression string, dedupe bool) (any, *APIError) {
	ast, err := parseQuery(expression)
	if err != nil {
		return nil, err
	}
	q := e.newQctx()
	// Paging clients repeat the same query with another offset: the
	// evaluated rows are cached per store generation under the expression
	// without its paging clauses.
	key := pagingRE.ReplaceAllString(expression, "")
	var rows []ent
	var sc *schema
	if c, ok := e.store.cachedRows(key); ok {
		rows, sc = c.rows, c.sc
	} else {
		rows, sc, err = e.evalQuery(ast, q)
		if err != nil {
			return nil, err
		}
		e.store.cacheRows(key, rows, sc)
	}
	total := len(rows)
	start := ast.Offset
	if start > total {
		start = total
	}
	end := total
	if ast.Limit >= 0 && start+ast.Limit < end {
		end = start + ast.Limit
	}
	page := rows[start:end]
	var next any
	if end < total {
		next = end
	}
	tree := projTree{}
	projections := ast.Projections
	if projections == nil {
		projections = sc.DefaultProjections
	}
	for _, p := range projections {
		tree.add(p)
	}
	if !noFlatEncode && flatPage(e, page, tree) {
		// Every row of the page is a distinct entity (rowsOf yields each
		// once) and none carries a related entity, so de-duplication
		// would find nothing to merge or to replace by a reference: the
		// page is encoded as it is, without collecting identities, each
		// row with the attributes encode would give it, worked out once
		// per type instead of once per row.
		return flatResult{e.schemas, page, tree, next}, nil
	}
	en := &encoder{q: q, dedupe: dedupe, merged: map[string]projTree{}, seen: map[string]bool{}}
	if dedupe {
		for _, x := range page {
			en.collect(x, tree)
		}
	}
	data := make([]any, 0, len(page))
	for _, x := range page {
		data = append(data, en.encode(x, tree))
	}
	return map[string]any{
		"action":   "query",
		"data":     data,
		"metadata": map[string]any{"next": map[string]any{"offset": next}},
	}, nil
}
