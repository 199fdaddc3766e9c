package ftracktest

// The store keeps entities as flat attribute maps (scalar attributes only;
// relations are resolved at query time from foreign keys). Batches are made
// atomic with an undo log: every mutation records the previous row, and a
// failed batch replays the log backwards. Unique constraints (case-folded
// usernames, membership pairs) are kept in indexes updated by the same two
// primitives (set, del), so undo keeps them consistent too. A stored row
// is never changed in place (an update stores a changed copy; only Load
// finishes the rows it has just made, before unlocking): answers that
// hold one are encoded after the emulator is unlocked.

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

type row = map[string]any

type undoEntry struct {
	typ, key string
	prev     row // nil: the row did not exist
}

type store struct {
	rows   map[string]map[string]row // type -> pk key -> row
	unique map[int]map[string]string // constraint index -> folded value -> pk key
	undo   []undoEntry
	track  bool
	sorted map[string][]string // type -> pk keys in primary-key order (cache)
	added  map[string][]string // type -> keys created since sorted was built
	// gen counts mutations; qcache holds evaluated queries (filtered and
	// sorted, before paging) of the current generation, so that reading a
	// large result page by page costs one evaluation, not one per page.
	gen    uint64
	qcache map[string]cachedQuery
	// activeUsers counts stored Users with is_active true (licence seats);
	// index and unindex keep it, so undo keeps it right too.
	activeUsers int
}

// cachedQuery is an evaluated query of store generation gen.
type cachedQuery struct {
	gen  uint64
	rows []ent
	sc   *schema
}

// cachedRows returns the evaluated rows cached under key for the current
// generation.
func (s *store) cachedRows(key string) (cachedQuery, bool) {
	c, ok := s.qcache[key]
	return c, ok && c.gen == s.gen
}

// cacheRows caches evaluated rows under key, dropping entries of older
// generations.
func (s *store) cacheRows(key string, rows []ent, sc *schema) {
	for k, c := range s.qcache {
		if c.gen != s.gen || len(s.qcache) >= 16 {
			delete(s.qcache, k)
		}
	}
	s.qcache[key] = cachedQuery{gen: s.gen, rows: rows, sc: sc}
}

func newStore() *store {
	s := &store{rows: map[string]map[string]row{}, unique: map[int]map[string]string{}, sorted: map[string][]string{}, added: map[string][]string{}, qcache: map[string]cachedQuery{}}
	for i := range uniqueConstraints {
		s.unique[i] = map[string]string{}
	}
	return s
}

// pkKey encodes primary-key values as a map key: their JSON list. Ids
// and names of plain characters (every key ldapsync writes) are quoted
// by hand, as json.Marshal would quote them; they are most of the
// emulator's lookups.
func pkKey(vals []any) string {
	var buf [4]string
	strs := buf[:0]
	for _, v := range vals {
		s, ok := v.(string)
		if !ok || !plainJSON(s) {
			strs = nil
			break
		}
		strs = append(strs, s)
	}
	if len(strs) == 0 { // (a nil list is null)
		// A copy goes to json.Marshal so that vals does not escape: the
		// []any{v} literals of the many single-key lookups stay on the
		// stack.
		data, _ := json.Marshal(slices.Clone(vals))
		return string(data)
	}
	return plainList(strs)
}

// plainList writes strings that are all plainJSON as their JSON list.
func plainList(strs []string) string {
	n := 2
	for _, s := range strs {
		n += len(s) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, s := range strs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plainJSON reports whether json.Marshal writes s unescaped: printable
// ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// rowKey is pkKey(rowPK(sc, r)), the store key of r, without the list.
func rowKey(sc *schema, r row) string {
	var buf [4]any
	vals := buf[:0]
	for _, k := range sc.PrimaryKey {
		vals = append(vals, r[k])
	}
	return pkKey(vals)
}

func rowPK(sc *schema, r row) []any {
	vals := make([]any, len(sc.PrimaryKey))
	for i, k := range sc.PrimaryKey {
		vals[i] = r[k]
	}
	return vals
}

func (s *store) get(typ, key string) row {
	return s.rows[typ][key]
}

// uniqueValue returns the index value of r for constraint c, or ok=false if
// some attribute is unset (NULLs never collide).
func uniqueValue(c uniqueConstraint, r row) (string, bool) {
	var buf [4]string
	parts := buf[:0]
	plain := true
	for _, a := range c.Attrs {
		v, ok := r[a].(string)
		if !ok {
			return "", false
		}
		if c.Fold {
			v = strings.ToLower(v)
		}
		plain = plain && plainJSON(v)
		parts = append(parts, v)
	}
	if !plain || len(parts) == 0 {
		data, _ := json.Marshal(slices.Clone(parts))
		return string(data), true
	}
	return plainList(parts), true
}

// conflict reports the constraint r would violate if stored under key.
func (s *store) conflict(typ, key string, r row) (uniqueConstraint, bool) {
	for i, c := range uniqueConstraints {
		if c.Type != typ {
			continue
		}
		if v, ok := uniqueValue(c, r); ok {
			if other, taken := s.unique[i][v]; taken && other != key {
				return c, true
			}
		}
	}
	return uniqueConstraint{}, false
}

// lookupUnique returns the key of the row of typ whose attributes named in
// attrs equal attrs' values under a unique constraint on exactly those
// attributes.
func (s *store) lookupUnique(typ string, attrs row) (string, bool) {
	for i, c := range uniqueConstraints {
		if c.Type != typ || len(c.Attrs) != len(attrs) {
			continue
		}
		if v, ok := uniqueValue(c, attrs); ok {
			k, found := s.unique[i][v]
			return k, found
		}
	}
	return "", false
}

func (s *store) unindex(typ, key string, r row) {
	if typ == "User" && r["is_active"] == true {
		s.activeUsers--
	}
	for i, c := range uniqueConstraints {
		if c.Type != typ {
			continue
		}
		if v, ok := uniqueValue(c, r); ok && s.unique[i][v] == key {
			delete(s.unique[i], v)
		}
	}
}

func (s *store) index(typ, key string, r row) {
	if typ == "User" && r["is_active"] == true {
		s.activeUsers++
	}
	for i, c := range uniqueConstraints {
		if c.Type != typ {
			continue
		}
		if v, ok := uniqueValue(c, r); ok {
			s.unique[i][v] = key
		}
	}
}

// set stores r (owned by the store from now on) under typ/key.
func (s *store) set(typ, key string, r row) {
	m := s.rows[typ]
	if m == nil {
		m = map[string]row{}
		s.rows[typ] = m
	}
	prev := m[key]
	s.gen++
	if s.track {
		s.undo = append(s.undo, undoEntry{typ, key, prev})
	}
	m[key] = r
	if prev != nil {
		s.unindex(typ, key, prev)
	} else {
		s.sortedInsert(typ, key)
	}
	s.index(typ, key, r)
}

func (s *store) del(typ, key string) {
	m := s.rows[typ]
	prev := m[key]
	if prev == nil {
		return
	}
	s.gen++
	if s.track {
		s.undo = append(s.undo, undoEntry{typ, key, prev})
	}
	s.unindex(typ, key, prev)
	s.sortedRemove(typ)
	delete(m, key)
}

// sortedInsert notes a new row key of typ for the cached key order, if
// there is one: the next sortedKeys merges the new keys in (sorting only
// them) instead of re-sorting every row, which a bulk create would
// otherwise cost once per query.
func (s *store) sortedInsert(typ, key string) {
	if _, ok := s.sorted[typ]; ok {
		s.added[typ] = append(s.added[typ], key)
	}
}

// sortedRemove forgets the cached key order of typ.
func (s *store) sortedRemove(typ string) {
	delete(s.sorted, typ)
	delete(s.added, typ)
}

// begin starts recording undo information for a batch.
func (s *store) begin() {
	s.undo = s.undo[:0]
	s.track = true
}

// commit forgets the undo log.
func (s *store) commit() {
	s.undo = s.undo[:0]
	s.track = false
}

// rollback restores the state at begin.
func (s *store) rollback() {
	s.track = false
	s.gen++
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := s.undo[i]
		if cur := s.rows[u.typ][u.key]; cur != nil {
			s.unindex(u.typ, u.key, cur)
			delete(s.rows[u.typ], u.key)
			s.sortedRemove(u.typ)
		}
		if u.prev != nil {
			s.set(u.typ, u.key, u.prev)
		}
	}
	s.undo = s.undo[:0]
}

// sortedKeys returns the pk keys of typ in primary-key order. The slice is
// cached until a row is added or removed; callers must not modify it.
func (s *store) sortedKeys(sc *schema, typ string) []string {
	m := s.rows[typ]
	less := func(a, b string) bool { return comparePK(rowPK(sc, m[a]), rowPK(sc, m[b])) < 0 }
	if keys, ok := s.sorted[typ]; ok {
		add := s.added[typ]
		if len(add) == 0 {
			return keys
		}
		sort.Slice(add, func(i, j int) bool { return less(add[i], add[j]) })
		out := make([]string, 0, len(keys)+len(add))
		for _, k := range add {
			i := sort.Search(len(keys), func(i int) bool { return less(k, keys[i]) })
			out = append(append(out, keys[:i]...), k)
			keys = keys[i:]
		}
		out = append(out, keys...)
		s.sorted[typ] = out
		delete(s.added, typ)
		return out
	}
	// A full sort: take each row's primary key once, not twice per
	// comparison (rowPK allocates).
	type keyed struct {
		key string
		pk  []any
	}
	ks := make([]keyed, 0, len(m))
	for k, r := range m {
		ks = append(ks, keyed{k, rowPK(sc, r)})
	}
	sort.Slice(ks, func(i, j int) bool { return comparePK(ks[i].pk, ks[j].pk) < 0 })
	keys := make([]string, len(ks))
	for i, k := range ks {
		keys[i] = k.key
	}
	s.sorted[typ] = keys
	return keys
}

func comparePK(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// copyRow deep-copies a row (values are JSON scalars or decoded JSON).
func copyRow(r row) row {
	if r == nil {
		return nil
	}
	out := make(row, len(r))
	for k, v := range r {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}
