package ftracktest

// A small tokenizer and recursive-descent parser for the subset of the ftrack
// query language the emulator understands:
//
//	[select path {, path} from] Type [where expr]
//	  [order by path [asc|desc] {, ...}] [offset N] [limit M]
//
//	expr    := and {or and}
//	and     := not {and not}
//	not     := "not" not | "(" expr ")" | path cond
//	cond    := (is|=|is_not|!=|>|<|>=|<=|after|before|greater_than|less_than|like|not_like) value
//	         | (in|not_in) "(" (value {, value} | query) ")"
//	         | (has|any) "(" [expr] ")"
//
// Values: "double quoted" (\" \\ \' escapes; any other backslash is kept
// literally, like the official JS helper expects), 'single quoted', numbers,
// true/false, none/None/null, and bare words (UUIDs, simple names).
// Keywords are matched case-insensitively. Anything else is a ValidationError.

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokNumber
	tokOp // = != > < >= <=
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func isWordRune(r rune) bool {
	return r == '_' || r == '.' || r == '-' || r == '@' || r == '+' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func lex(src string) ([]token, *APIError) {
	var toks []token
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case r == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case r == ',':
			toks = append(toks, token{tokComma, ",", i})
			i++
		case r == '=' || r == '>' || r == '<' || r == '!':
			start := i
			i++
			if i < len(src) && src[i] == '=' {
				i++
			}
			op := src[start:i]
			if op == "!" {
				return nil, validationf("Query syntax error at position %d: unexpected %q.", start, op)
			}
			toks = append(toks, token{tokOp, op, start})
		case r == '"' || r == '\'':
			start := i
			quote := byte(r)
			i++
			var b strings.Builder
			closed := false
			for i < len(src) {
				c := src[i]
				if c == '\\' && i+1 < len(src) {
					n := src[i+1]
					if n == '"' || n == '\'' || n == '\\' {
						b.WriteByte(n)
						i += 2
						continue
					}
					b.WriteByte(c)
					i++
					continue
				}
				if c == quote {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, validationf("Query syntax error at position %d: unterminated string.", start)
			}
			toks = append(toks, token{tokString, b.String(), start})
		case isWordRune(r):
			start := i
			for i < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[i:])
				if !isWordRune(r2) {
					break
				}
				i += s2
			}
			w := src[start:i]
			kind := tokWord
			if _, err := strconv.ParseFloat(w, 64); err == nil {
				kind = tokNumber
			}
			toks = append(toks, token{kind, w, start})
		default:
			return nil, validationf("Query syntax error at position %d: unexpected character %q.", i, r)
		}
	}
	toks = append(toks, token{tokEOF, "", len(src)})
	return toks, nil
}

// queryAST is a parsed query.
type queryAST struct {
	Projections []string // nil: default projections
	Type        string
	Where       expr // nil: all rows
	Order       []orderTerm
	Offset      int
	Limit       int // -1: none
}

type orderTerm struct {
	Path string
	Desc bool
}

type expr interface{ isExpr() }

type boolExpr struct {
	Op   string // and, or
	L, R expr
}

type notExpr struct{ X expr }

type condExpr struct {
	Path   string
	Op     string // is, is_not, gt, lt, ge, le, like, not_like, in, not_in, has, any
	Values []literal
	Sub    *queryAST // in (select ...)
	Inner  expr      // has/any; nil matches any related entity
}

func (boolExpr) isExpr()  {}
func (notExpr) isExpr()   {}
func (*condExpr) isExpr() {}

// literal is a query value before coercion to the attribute's type.
type literal struct {
	Kind tokKind // tokString, tokNumber, tokWord
	Text string
}

type parser struct {
	toks []token
	i    int
	src  string
}

func parseQuery(src string) (*queryAST, *APIError) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, src: src}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "unexpected %q", t.text)
	}
	return q, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func (p *parser) errAt(t token, format string, args ...any) *APIError {
	where := "end of expression"
	if t.kind != tokEOF {
		where = fmt.Sprintf("position %d", t.pos)
	}
	return validationf("Query syntax error at %s: %s.", where, fmt.Sprintf(format, args...))
}

func (p *parser) expectKeyword(kw string) *APIError {
	if !p.isKeyword(kw) {
		t := p.peek()
		return p.errAt(t, "expected %q, got %q", kw, t.text)
	}
	p.next()
	return nil
}

func (p *parser) path() (string, *APIError) {
	t := p.peek()
	if t.kind != tokWord {
		return "", p.errAt(t, "expected an attribute name, got %q", t.text)
	}
	p.next()
	for _, part := range strings.Split(t.text, ".") {
		if part == "" || !isIdent(part) {
			return "", p.errAt(t, "invalid attribute path %q", t.text)
		}
	}
	return t.text, nil
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
}

func (p *parser) query() (*queryAST, *APIError) {
	q := &queryAST{Limit: -1}
	if p.isKeyword("select") {
		p.next()
		for {
			path, err := p.path()
			if err != nil {
				return nil, err
			}
			q.Projections = append(q.Projections, path)
			if p.peek().kind != tokComma {
				break
			}
			p.next()
		}
		if err := p.expectKeyword("from"); err != nil {
			return nil, err
		}
	} else if p.isKeyword("from") {
		p.next()
	}
	t := p.peek()
	if t.kind != tokWord || !isIdent(t.text) {
		return nil, p.errAt(t, "expected an entity type, got %q", t.text)
	}
	p.next()
	q.Type = t.text
	if p.isKeyword("where") {
		p.next()
		w, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		q.Where = w
	}
	seenOffset, seenLimit := false, false
	for {
		switch {
		case p.isKeyword("order"):
			if q.Order != nil {
				return nil, p.errAt(p.peek(), "duplicate order by")
			}
			p.next()
			if err := p.expectKeyword("by"); err != nil {
				return nil, err
			}
			for {
				path, err := p.path()
				if err != nil {
					return nil, err
				}
				term := orderTerm{Path: path}
				if p.isKeyword("desc") || p.isKeyword("descending") {
					term.Desc = true
					p.next()
				} else if p.isKeyword("asc") || p.isKeyword("ascending") {
					p.next()
				}
				q.Order = append(q.Order, term)
				if p.peek().kind != tokComma {
					break
				}
				p.next()
			}
		case p.isKeyword("offset") && !seenOffset:
			p.next()
			n, err := p.count()
			if err != nil {
				return nil, err
			}
			q.Offset, seenOffset = n, true
		case p.isKeyword("limit") && !seenLimit:
			p.next()
			n, err := p.count()
			if err != nil {
				return nil, err
			}
			q.Limit, seenLimit = n, true
		default:
			return q, nil
		}
	}
}

func (p *parser) count() (int, *APIError) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tokNumber || err != nil || n < 0 {
		return 0, p.errAt(t, "expected a non-negative integer, got %q", t.text)
	}
	return n, nil
}

func (p *parser) orExpr() (expr, *APIError) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = boolExpr{"or", l, r}
	}
	return l, nil
}

func (p *parser) andExpr() (expr, *APIError) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = boolExpr{"and", l, r}
	}
	return l, nil
}

func (p *parser) notExpr() (expr, *APIError) {
	if p.isKeyword("not") {
		p.next()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	if p.peek().kind == tokLParen {
		p.next()
		x, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, p.errAt(t, "expected \")\", got %q", t.text)
		}
		return x, nil
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	return p.cond(path)
}

var opAliases = map[string]string{
	"is": "is", "=": "is", "is_not": "is_not", "!=": "is_not",
	">": "gt", "after": "gt", "greater_than": "gt",
	"<": "lt", "before": "lt", "less_than": "lt",
	">=": "ge", "<=": "le",
	"like": "like", "not_like": "not_like",
	"in": "in", "not_in": "not_in", "has": "has", "any": "any",
}

func (p *parser) cond(path string) (expr, *APIError) {
	t := p.next()
	op, ok := "", false
	if t.kind == tokOp || t.kind == tokWord {
		op, ok = opAliases[strings.ToLower(t.text)]
	}
	if !ok {
		return nil, p.errAt(t, "expected an operator after %q, got %q", path, t.text)
	}
	c := &condExpr{Path: path, Op: op}
	switch op {
	case "in", "not_in":
		if lp := p.next(); lp.kind != tokLParen {
			return nil, p.errAt(lp, "expected \"(\" after %s", op)
		}
		if p.isKeyword("select") {
			sub, err := p.query()
			if err != nil {
				return nil, err
			}
			if len(sub.Projections) != 1 {
				return nil, p.errAt(p.peek(), "a subquery must select exactly one attribute")
			}
			c.Sub = sub
		} else if p.peek().kind != tokRParen {
			for {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				c.Values = append(c.Values, v)
				if p.peek().kind != tokComma {
					break
				}
				p.next()
			}
		}
		if rp := p.next(); rp.kind != tokRParen {
			return nil, p.errAt(rp, "expected \")\", got %q", rp.text)
		}
	case "has", "any":
		if lp := p.next(); lp.kind != tokLParen {
			return nil, p.errAt(lp, "expected \"(\" after %s", op)
		}
		if p.peek().kind != tokRParen {
			inner, err := p.orExpr()
			if err != nil {
				return nil, err
			}
			c.Inner = inner
		}
		if rp := p.next(); rp.kind != tokRParen {
			return nil, p.errAt(rp, "expected \")\", got %q", rp.text)
		}
	default:
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.Values = []literal{v}
	}
	return c, nil
}

func (p *parser) value() (literal, *APIError) {
	t := p.next()
	switch t.kind {
	case tokString, tokNumber, tokWord:
		return literal{Kind: t.kind, Text: t.text}, nil
	}
	return literal{}, p.errAt(t, "expected a value, got %q", t.text)
}
