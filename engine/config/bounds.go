package config

// Bounds on input, checked before hcl sees it. hcl's parser recurses once
// per nesting level (brackets, strings, interpolations, prefix operators)
// and its evaluator once per binary operator of a chain, on the goroutine
// stack: 70,000 parentheses in a 140 KB file overflow Go's 1 GB stack, a
// fatal error no recover() catches. So the bytes are scanned first, by a
// small lexer that knows just enough HCL to tell code from strings,
// heredocs and comments, and nothing deeper than any real configuration
// needs gets through. Files are read with a size cap for the same reason
// (`-var-file /dev/zero` would otherwise read until memory runs out).

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

const (
	// MaxConfigBytes caps a configuration or variables file, and a -var
	// or LDAPSYNC_VAR_ value parsed as HCL: 1 MiB, hundreds of times a
	// real configuration.
	MaxConfigBytes = 1 << 20
	// MaxNestingDepth caps how deep brackets, braces, parentheses, quoted
	// strings, heredocs, template interpolations and prefix operators
	// (!, unary -) nest; a real configuration needs fewer than ten levels.
	MaxNestingDepth = 100
	// MaxOperatorChain caps the binary operators in one chain at one
	// nesting level (a + b + ...); list alternatives with contains()
	// instead of a thousand == and ||.
	MaxOperatorChain = 1000
)

// errTooLarge is the error of a file over MaxConfigBytes.
var errTooLarge = fmt.Errorf("larger than %d bytes (1 MiB), the limit for a file ldapsync reads into its configuration", MaxConfigBytes)

// ReadFile reads a configuration-sized file (at most MaxConfigBytes):
// what `ldapsync fmt` and convert read. A larger one, or /dev/zero, is an
// error, never an out-of-memory crash.
func ReadFile(path string) ([]byte, error) { return readLimited(path) }

// readLimited reads a file of at most MaxConfigBytes (a configuration, a
// variables file, a file() argument); a larger one (or /dev/zero) is an
// *fs.PathError wrapping errTooLarge.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigBytes {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errTooLarge}
	}
	return data, nil
}

// checkSource returns an error diagnostic, at the byte where a limit is
// crossed, when src is too large or nests too deeply for hcl; nil when it
// may be parsed. name is the file name for the diagnostic.
func checkSource(name string, src []byte) *hcl.Diagnostic {
	if len(src) > MaxConfigBytes {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Configuration too large",
			Detail:   fmt.Sprintf("%s is %d bytes; the limit is %d (1 MiB).", name, len(src), MaxConfigBytes),
			Subject:  posRange(name, src, 0).Ptr(),
		}
	}
	at, what := scanNesting(src)
	if at < 0 {
		return nil
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Subject: posRange(name, src, at).Ptr()}
	if what == limitOperators {
		d.Summary = "Expression too long"
		d.Detail = fmt.Sprintf("More than %d operators in one chain; ldapsync refuses this before parsing. Split the expression, or test membership with contains([...], value).", MaxOperatorChain)
	} else {
		d.Summary = "Configuration nested too deeply"
		d.Detail = fmt.Sprintf("Brackets, strings, interpolations and prefix operators nest more than %d levels deep here; ldapsync refuses this before parsing (a real configuration needs a few).", MaxNestingDepth)
	}
	return d
}

// maxQuotedLine is the longest source line a bounds diagnostic quotes; a
// longer one (140 KB of parentheses) is left out.
const maxQuotedLine = 500

// quotable returns src as a file for printing d's source line, or nil
// when that line is too long to print.
func quotable(src []byte, d *hcl.Diagnostic) *hcl.File {
	at := d.Subject.Start.Byte
	start := bytes.LastIndexByte(src[:at], '\n') + 1
	end := bytes.IndexByte(src[at:], '\n')
	if end < 0 {
		end = len(src) - at
	}
	if at+end-start > maxQuotedLine {
		return nil
	}
	return &hcl.File{Bytes: src}
}

// posRange is the one-character range at byte offset at of src, with
// hcl's 1-based line and column (counted in characters).
func posRange(name string, src []byte, at int) hcl.Range {
	line := 1 + bytes.Count(src[:at], []byte("\n"))
	col := 1 + utf8.RuneCount(src[bytes.LastIndexByte(src[:at], '\n')+1:at])
	start := hcl.Pos{Line: line, Column: col, Byte: at}
	end := start
	if at < len(src) {
		end.Column++
		end.Byte++
	}
	return hcl.Range{Filename: name, Start: start, End: end}
}

// Which limit scanNesting found crossed.
const (
	limitDepth = iota
	limitOperators
)

// nestFrame is one open nesting level of scanNesting.
type nestFrame struct {
	kind   byte   // '(', '[', '{', '$' (interpolation), '"' or '<' (heredoc)
	marker []byte // a heredoc's closing marker
	base   int    // nesting depth of this level
	unary  int    // prefix operators in a row here
	ops    int    // binary operators (and ?) in the current chain here
	// directives counts the %{ if } and %{ for } open in a template.
	directives int
}

// nestScanner walks HCL source keeping the stack of open levels.
type nestScanner struct {
	src     []byte
	pos     int
	stack   []nestFrame
	operand bool // the last token ended an operand (so - is binary)
}

// scanNesting returns the offset where src crosses MaxNestingDepth or
// MaxOperatorChain and which one, or -1. Where it is unsure it counts
// more, not less (a - in 1e-5 counts as an operator, a backslash before a
// newline does not continue a string). Syntax errors are hcl's business:
// the scan resynchronises and goes on.
func scanNesting(src []byte) (at, what int) {
	s := &nestScanner{src: src, stack: []nestFrame{{kind: '{'}}}
	for s.pos < len(s.src) {
		var ok bool
		switch s.top().kind {
		case '"':
			ok = s.stringByte()
		case '<':
			ok = s.heredocByte()
		default:
			var w int
			ok, w = s.codeByte()
			if !ok {
				return s.pos, w
			}
		}
		if !ok {
			return s.pos, limitDepth
		}
	}
	return -1, 0
}

func (s *nestScanner) top() *nestFrame { return &s.stack[len(s.stack)-1] }

func (s *nestScanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

// push opens a level of kind; false when that is one too deep.
func (s *nestScanner) push(kind byte, marker []byte) bool {
	t := s.top()
	depth := t.base + t.unary + t.directives + 1
	if depth > MaxNestingDepth {
		return false
	}
	s.stack = append(s.stack, nestFrame{kind: kind, marker: marker, base: depth})
	s.operand = false
	return true
}

// pop closes the innermost level (never the file's own).
func (s *nestScanner) pop() {
	if len(s.stack) > 1 {
		s.stack = s.stack[:len(s.stack)-1]
	}
	s.operand = true
	s.top().unary = 0
}

// codeByte consumes one token of expression code; false with the limit
// crossed at s.pos.
func (s *nestScanner) codeByte() (bool, int) {
	c := s.src[s.pos]
	switch {
	case c == '#' || c == '/' && s.peek(1) == '/':
		s.skipPast("\n", false)
	case c == '/' && s.peek(1) == '*':
		s.pos += 2
		s.skipPast("*/", true)
	case c == '"':
		if !s.push('"', nil) {
			return false, limitDepth
		}
		s.pos++
	case c == '<' && s.peek(1) == '<':
		return s.heredocStart(), limitDepth
	case c == '(' || c == '[' || c == '{':
		if !s.push(c, nil) {
			return false, limitDepth
		}
		s.pos++
	case c == ')' || c == ']' || c == '}':
		s.pop()
		s.pos++
	default:
		return s.codeOther(c)
	}
	return true, 0
}

// codeOther handles separators, operators and operand characters.
func (s *nestScanner) codeOther(c byte) (bool, int) {
	t := s.top()
	next := s.peek(1)
	switch {
	case c == '\n':
		if t.kind == '{' {
			t.ops = 0 // a new attribute or object item (elsewhere newlines do not end an expression)
		}
		s.operand = false
	case c == ' ' || c == '\t' || c == '\r':
	case c == ',' || c == '=' && next != '=' && next != '>':
		t.ops, t.unary = 0, 0
		s.operand = false
	case c == '=' && next == '>':
		s.pos++
		s.operand = false
	case c == '!' && next != '=' || c == '-' && !s.operand:
		t.unary++
		s.operand = false
		if t.base+t.unary > MaxNestingDepth {
			return false, limitDepth
		}
	case isOperatorByte(c) || c == '?': // a conditional nests like an operator chain
		if (c == '&' || c == '|' || c == '=' || c == '!' || c == '<' || c == '>') && (next == c || next == '=') {
			s.pos++ // two-byte operator: && || == != <= >=
		}
		t.ops++
		t.unary = 0
		s.operand = false
		if t.ops > MaxOperatorChain {
			return false, limitOperators
		}
	default: // identifier, number, dot, anything else: part of an operand
		t.unary = 0
		s.operand = true
	}
	s.pos++
	return true, 0
}

func isOperatorByte(c byte) bool {
	switch c {
	case '+', '-', '*', '/', '%', '&', '|', '=', '!', '<', '>':
		return true
	}
	return false
}

// skipPast moves past the next end (or to it when !past), or to the end.
func (s *nestScanner) skipPast(end string, past bool) {
	i := bytes.Index(s.src[s.pos:], []byte(end))
	switch {
	case i < 0:
		s.pos = len(s.src)
	case past:
		s.pos += i + len(end)
	default:
		s.pos += i
	}
}

// heredocStart reads <<MARKER or <<-MARKER to the end of its line and
// opens the heredoc; "<<" not followed by a marker is consumed as two
// operators (a syntax error hcl reports).
func (s *nestScanner) heredocStart() bool {
	i := s.pos + 2
	if i < len(s.src) && s.src[i] == '-' {
		i++
	}
	j := i
	for j < len(s.src) && (isIdentByte(s.src[j]) || j > i && s.src[j] == '-') {
		j++
	}
	if j == i {
		s.pos += 2
		return true
	}
	eol := j
	if eol < len(s.src) && s.src[eol] == '\r' {
		eol++
	}
	if eol < len(s.src) && s.src[eol] != '\n' {
		s.pos += 2 // hcl wants the line to end after the marker: not a heredoc
		return true
	}
	marker := s.src[i:j]
	if !s.push('<', marker) {
		return false
	}
	s.pos = j
	s.skipPast("\n", true)
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// stringByte consumes one piece of a quoted string.
func (s *nestScanner) stringByte() bool {
	switch c := s.src[s.pos]; c {
	case '\\':
		s.pos++
		if s.peek(0) != '\n' { // a backslash does not continue a line; the newline ends the string
			s.pos++
		}
	case '"', '\n':
		s.pop() // a newline ends an unterminated string for hcl too
		s.pos++
	case '$', '%':
		return s.templateSequence(c)
	default:
		s.pos++
	}
	return true
}

// heredocByte consumes one piece of a heredoc: a closing marker line, an
// interpolation or a literal byte.
func (s *nestScanner) heredocByte() bool {
	if s.pos == 0 || s.src[s.pos-1] == '\n' {
		line := s.src[s.pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if bytes.Equal(bytes.TrimSpace(line), s.top().marker) {
			s.pos += len(line)
			s.pop()
			return true
		}
	}
	if c := s.src[s.pos]; c == '$' || c == '%' {
		return s.templateSequence(c)
	}
	s.pos++
	return true
}

// templateSequence handles $ or % in a template: $${ and %%{ are
// literal, ${ and %{ open an interpolation or directive. hcl parses the
// parts between %{ if } or %{ for } and their end recursively, so those
// nest too.
func (s *nestScanner) templateSequence(c byte) bool {
	switch {
	case s.peek(1) == c && s.peek(2) == '{':
		s.pos += 3
	case s.peek(1) == '{':
		if c == '%' && !s.directive() {
			return false
		}
		if !s.push('$', nil) {
			return false
		}
		s.pos += 2
	default:
		s.pos++
	}
	return true
}

// directive counts the %{ if } / %{ for } (and their ends) at s.pos in
// the template on top; false when that is one too deep.
func (s *nestScanner) directive() bool {
	word := bytes.TrimLeft(s.src[s.pos+2:], "~ \t\r\n")
	end := 0
	for end < len(word) && isIdentByte(word[end]) {
		end++
	}
	t := s.top()
	switch string(word[:end]) {
	case "if", "for":
		t.directives++
		return t.base+t.directives <= MaxNestingDepth
	case "endif", "endfor":
		t.directives = max(t.directives-1, 0)
	}
	return true
}
