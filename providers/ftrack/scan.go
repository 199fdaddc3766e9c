package ftrack

// A single-pass reader for flat query pages. encoding/json reads a body
// twice per Unmarshal (a validating scan, then the decode), and the old
// path did that twice: once to split the response into its elements, once
// per element into typed rows, with each attribute's own UnmarshalJSON on
// top. scanner walks the response bytes once, from the opening bracket to
// the end, and writes each row's attributes straight into its struct;
// only a string holding escapes or non-UTF-8 bytes goes through
// encoding/json, for that string alone. Anything it does not expect is a
// refusal (ok false), never an error: the caller then reads the same bytes
// with the general decoder, which reports what is wrong.

import (
	"encoding/json"
	"unicode/utf8"
)

// maxSkipDepth bounds the nesting of a value the scanner skips (as
// encoding/json bounds its own).
const maxSkipDepth = 10000

// scanner reads JSON from b at i.
type scanner struct {
	b []byte
	i int
	// rowCap is the capacity a page's row slice starts with: the page
	// limit, when the caller knows it, so that a full page is decoded
	// into one allocation instead of a slice grown from 64 rows by
	// doubling (which allocated twice a page's rows, some 50 MB per
	// 100k-user ReadAccounts). 0: 64.
	rowCap int
	// seen holds recent short string values by a hash of their bytes:
	// the values that repeat row after row (a parent_type, a metadata key,
	// an owner, a group id) are allocated once per response, not per row.
	seen [256]string
}

// maxInterned is the longest value kept in scanner.seen.
const maxInterned = 40

// intern returns b as a string, the one of seen when it is there.
func (s *scanner) intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &s.seen[h%uint32(len(s.seen))]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// eat consumes c (after white space) if it is next.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// lit consumes the literal w (true, false, null).
func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// rawString consumes a string and returns its inside; plain is true when
// it has no escapes and is valid UTF-8, so the bytes are its value.
func (s *scanner) rawString() (inside []byte, plain, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.i + 1
	plain, ascii := true, true
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			inside = s.b[start:i]
			if plain && !ascii {
				plain = utf8.Valid(inside)
			}
			return inside, plain, true
		case c == '\\':
			plain = false
			if i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(s.b) {
					return nil, false, false
				}
				for _, h := range s.b[i+2 : i+6] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false, false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// str consumes a string and returns its value, as encoding/json would.
func (s *scanner) str() (string, bool) {
	start := s.i
	inside, plain, ok := s.rawString()
	if !ok {
		return "", false
	}
	if plain {
		return s.intern(inside), true
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return "", false
	}
	return v, true
}

// key consumes an object key and the colon after it; keys with escapes
// are refused (the attributes read here have none).
func (s *scanner) key() ([]byte, bool) {
	k, plain, ok := s.rawString()
	if !ok || !plain || !s.eat(':') {
		return nil, false
	}
	s.ws()
	return k, true
}

// number consumes a JSON number; n is its value when it is a
// non-negative integer that fits an int (isInt).
func (s *scanner) number() (n int, isInt, ok bool) {
	b, i := s.b, s.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - j
	}
	intStart := i
	nd := digits()
	if nd == 0 || nd > 1 && b[intStart] == '0' {
		return 0, false, false
	}
	isInt = b[start] != '-' && nd <= 15
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0, false, false
		}
		isInt = false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false, false
		}
		isInt = false
	}
	if isInt {
		for _, c := range b[intStart : intStart+nd] {
			n = n*10 + int(c-'0')
		}
	}
	s.i = i
	return n, isInt, true
}

// skip consumes any value.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch s.peek() {
	case '"':
		_, _, ok := s.rawString()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	case '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if _, _, ok := s.rawString(); !ok || !s.eat(':') || !s.skip(depth+1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	}
	_, _, ok := s.number()
	return ok
}

// object consumes an object, calling member for each key with the
// scanner at the key's value; member must consume the value.
func (s *scanner) object(member func(k []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !member(k) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// stringField reads a string attribute: a non-string value reads as ""
// (as Entity.String has it).
func (s *scanner) stringField(o *optString) bool {
	o.set, o.s = true, ""
	if s.peek() == '"' {
		v, ok := s.str()
		o.s = v
		return ok
	}
	return s.skip(0)
}

// boolField reads a boolean attribute: a non-boolean value reads as false.
func (s *scanner) boolField(o *optBool) bool {
	o.set, o.v = true, false
	switch s.peek() {
	case 't':
		o.v = true
		return s.lit("true")
	case 'f':
		return s.lit("false")
	}
	return s.skip(0)
}

// nextOffset reads the value of a result's "metadata": next is
// metadata.next.offset, -1 when it is null or missing (or metadata or
// next is not an object, as the general decoder reads it); an offset that
// is not a non-negative integer is refused.
func (s *scanner) nextOffset() (next int, ok bool) {
	next = -1
	if s.peek() != '{' {
		return next, s.skip(0)
	}
	ok = s.object(func(k []byte) bool {
		if string(k) != "next" {
			return s.skip(0)
		}
		if s.peek() != '{' {
			next = -1
			return s.skip(0)
		}
		next = -1
		return s.object(func(k []byte) bool {
			if string(k) != "offset" {
				return s.skip(0)
			}
			if s.peek() == 'n' {
				next = -1
				return s.lit("null")
			}
			n, isInt, ok := s.number()
			next = n
			return ok && isInt
		})
	})
	return next, ok
}

// flatRow is a row type of a flat query: field returns where attribute
// name goes (nil, nil for an attribute the row does not keep); key is the
// row's identity in the query's order (its order-by values joined by
// "\x00", as orderKey builds it from an Entity).
type flatRow interface {
	field(name []byte) (*optString, *optBool)
	key() string
}

// scanFlat reads one query result element, {"action": "query", "data":
// [rows], "metadata": {"next": {"offset": N}}}, whose rows are R. It
// refuses an element without a data list, a row that is not an object
// and a row complete rejects.
func scanFlat[R any, P interface {
	*R
	flatRow
}](s *scanner, complete func(P) bool) (rows []R, next int, ok bool) {
	next = -1
	haveData := false
	ok = s.object(func(k []byte) bool {
		switch string(k) {
		case "data":
			haveData = true
			rows = rows[:0]
			return scanRows(s, complete, &rows)
		case "metadata":
			var ok bool
			next, ok = s.nextOffset()
			return ok
		}
		return s.skip(0)
	})
	if !ok || !haveData {
		return nil, 0, false
	}
	return rows, next, true
}

func scanRows[R any, P interface {
	*R
	flatRow
}](s *scanner, complete func(P) bool, rows *[]R) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	if *rows == nil {
		c := s.rowCap
		if c <= 0 {
			c = 64
		}
		*rows = make([]R, 0, c)
	}
	for {
		*rows = append(*rows, *new(R))
		p := P(&(*rows)[len(*rows)-1])
		ok := s.object(func(k []byte) bool {
			switch str, b := p.field(k); {
			case str != nil:
				return s.stringField(str)
			case b != nil:
				return s.boolField(b)
			}
			return s.skip(0)
		})
		if !ok || !complete(p) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// maxRowCap bounds scanner.rowCap: a huge page size should not cost a
// huge slice for every small page.
const maxRowCap = 1024

// scanPages reads a whole response body, a list of one query result per
// decoder, with those decoders, for pages of at most limit rows (0:
// unknown); ok is false when the body is anything else or some element is
// refused.
func scanPages(body []byte, decs []flatDecoder, limit int) ([]flatPage, bool) {
	s := &scanner{b: body, rowCap: limit}
	if !s.eat('[') {
		return nil, false
	}
	out := make([]flatPage, len(decs))
	for j, dec := range decs {
		if j > 0 && !s.eat(',') {
			return nil, false
		}
		s.ws()
		pg, ok := dec(s)
		if !ok {
			return nil, false
		}
		out[j] = pg
	}
	if !s.eat(']') {
		return nil, false
	}
	s.ws()
	return out, s.i == len(s.b)
}
