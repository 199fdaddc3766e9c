package config

// Secrets are handled here and nowhere else: which setting names say a
// value is secret (one heuristic, secretWords), which values are secret
// (Config.Secrets), and how they are kept out of output: Redactor for
// text, log records and printed diagnostics, WithoutValues for the
// diagnostics a provider returns.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// secretWords are the fragments that make a setting's name say it holds a
// secret: password, passphrase, pwd, api_key, client_secret, token,
// credentials. "pasw" catches the misspelling bind_pasword, which a
// diagnostic quotes precisely because it is misspelled.
var secretWords = []string{"pass", "pasw", "pwd", "key", "secret", "token", "credential"}

// SecretName reports whether a setting called name holds a secret by its
// name (see secretWords); the match ignores case.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Secrets returns every secret value known: the values of sensitive
// variables and of source/target attributes whose names suggest a secret
// (SecretName), each also with surrounding space trimmed (file() keeps a
// trailing newline). The list is sorted longest first, so that a redactor
// replacing in order never leaves part of a longer secret behind.
func (c *Config) Secrets() []string {
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), c.varSecret...), c.namedSecrets()...) {
		if s == "" {
			continue
		}
		set[s] = true
		if t := strings.TrimSpace(s); t != "" {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// namedSecrets evaluates the source and target attributes that SecretName
// picks and returns their string values. An attribute that does not
// evaluate holds no value to leak; the loader reported it.
func (c *Config) namedSecrets() []string {
	if c.connCtx == nil {
		return nil
	}
	blocks := append([]*Block(nil), c.Sources...)
	if c.Target != nil {
		blocks = append(blocks, c.Target)
	}
	if c.State.Block != nil {
		blocks = append(blocks, c.State.Block)
	}
	var out []string
	for _, b := range blocks {
		body, ok := b.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		walkBodyAttrs(body, func(a *hclsyntax.Attribute) {
			if !SecretName(a.Name) {
				return
			}
			if v, diags := a.Expr.Value(c.connCtx); !diags.HasErrors() {
				out = append(out, stringsIn(v)...)
			}
		})
	}
	return out
}

// secretLine finds a setting named by SecretName's rule and captures its
// value, in HCL (`=`) and YAML (`:`) syntax alike. It is a regular
// expression rather than a call to SecretName because it scans raw source
// text, including lines that do not parse.
var secretLine = regexp.MustCompile(`(?i)\b[a-z_]*(` + strings.Join(secretWords, "|") + `)[a-z_]*\s*[:=]\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}#]+)`)

// maskedFiles returns copies of the files in which the values of settings
// that look like secrets by name are overwritten with '*' of the same
// length, so a diagnostic that quotes a source line (say, a misspelled
// bind_pasword) never prints a password. Lengths are kept so ranges still
// point right. References such as var.x or env("X") are not secrets and
// stay readable.
func maskedFiles(files map[string]*hcl.File) map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		if f == nil {
			continue
		}
		out[name] = &hcl.File{Body: f.Body, Bytes: maskSecretLines(f.Bytes), Nav: f.Nav}
	}
	return out
}

// maskSecretLines returns a copy of src with secret-named values masked.
func maskSecretLines(src []byte) []byte {
	src = append([]byte(nil), src...)
	for _, m := range secretLine.FindAllSubmatchIndex(src, -1) {
		start, end := m[4], m[5]
		value := string(src[start:end])
		if strings.HasPrefix(value, "var.") || strings.HasPrefix(value, "env(") || strings.HasPrefix(value, "file(") {
			continue
		}
		if value[0] == '"' || value[0] == '\'' {
			start, end = start+1, end-1
		}
		for i := start; i < end; i++ {
			src[i] = '*'
		}
	}
	return src
}

// WithoutValues drops the expression and evaluation context from diags,
// in place, and returns them: with them, hcl's diagnostic printer shows
// the values of the variables an expression refers to ("with var.pw as
// ..."), and connection settings hold passwords and keys. Providers call it
// on what their DecodeSettings returns; the loader on what it finds in
// source and target bodies.
func WithoutValues(diags hcl.Diagnostics) hcl.Diagnostics {
	for i, d := range diags {
		c := *d
		c.Expression, c.EvalContext = nil, nil
		diags[i] = &c
	}
	return diags
}

// Redacted is what a redacted secret is replaced with.
const Redacted = "(sensitive)"

// Redactor replaces known secret values with Redacted. A nil *Redactor is
// valid and redacts nothing (there are no known secrets before a
// configuration is read).
type Redactor struct {
	// forms are the secrets as written and as the JSON and text log
	// handlers and Go quoting escape them, longest first, so a secret that
	// contains another goes whole.
	forms []secretForm
	// longest is the length of the longest form, in bytes.
	longest int
}

// secretForm is one form of a secret. A short secret (under
// minSubstringSecret bytes) is replaced only where it stands as a whole
// token: "ab" goes in "key ab refused" but stays in "table", where
// replacing it would mangle ordinary text and hide nothing.
type secretForm struct {
	text  string
	token bool
}

// minSubstringSecret is the length from which a secret is replaced
// wherever it occurs, inside words too.
const minSubstringSecret = 4

// Redactor returns the redactor for every secret value the configuration
// knows (Secrets). It is nil-safe: a nil *Config gives a nil Redactor.
func (c *Config) Redactor() *Redactor {
	if c == nil {
		return nil
	}
	// The secrets are known once Load has returned, and finding them
	// evaluates every secret setting again (env(), file()): made once,
	// not on every warning and log line that passes through it.
	if r := c.redactor.Load(); r != nil {
		return r
	}
	r := NewRedactor(c.Secrets())
	c.redactor.CompareAndSwap(nil, r)
	return c.redactor.Load()
}

// NewRedactor returns a redactor for secrets and their escaped forms: a
// secret holding quotes, backslashes, HTML or control characters reaches
// text in an escaped form (a quoted source line, an error quoting a value
// with %q). Every non-empty secret is redacted; one shorter than four
// bytes only where it stands as a whole token (see secretForm).
func NewRedactor(secrets []string) *Redactor {
	seen := map[string]bool{}
	r := &Redactor{}
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		for _, f := range []string{secret, jsonEscaped(secret, false), jsonEscaped(secret, true), strings.Trim(strconv.Quote(secret), `"`)} {
			if f != "" && !seen[f] {
				seen[f] = true
				r.forms = append(r.forms, secretForm{text: f, token: len(secret) < minSubstringSecret})
				r.longest = max(r.longest, len(f))
			}
		}
	}
	sort.SliceStable(r.forms, func(i, j int) bool { return len(r.forms[i].text) > len(r.forms[j].text) })
	return r
}

// jsonEscaped returns s as it stands inside a JSON string, with or without
// encoding/json's HTML escaping (slog's JSON handler does not escape HTML).
func jsonEscaped(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// Redact returns s with every form of every known secret replaced.
func (r *Redactor) Redact(s string) string {
	out, _ := r.scan(s, -1)
	return out
}

// RedactPrefix returns the first n bytes (or a little more: a
// replacement is never cut) of s redacted, and whether s went on. It
// redacts before it cuts, so a secret that straddles byte n is never
// printed in part; it reads only as much of s as that needs.
func (r *Redactor) RedactPrefix(s string, n int) (string, bool) {
	return r.scan(s, max(n, 0))
}

// PrefixWindow returns how many leading bytes of a text RedactPrefix
// reads for a prefix of n bytes, so that a caller holding a large []byte
// converts only those. Reaching n bytes of output takes at most
// n/len(Redacted)+1 replacements, each consuming at most the longest
// form; a secret that starts later is never reached.
func (r *Redactor) PrefixWindow(n int) int {
	longest := 0
	if r != nil {
		longest = r.longest
	}
	return max(n, 0) + (max(n, 0)/len(Redacted)+2)*longest + 1
}

// scan copies s, replacing secrets leftmost first (the longest form at a
// position wins), until the copy holds limit bytes; a negative limit
// copies all of s.
func (r *Redactor) scan(s string, limit int) (string, bool) {
	if r == nil || len(r.forms) == 0 {
		return cut(s, limit)
	}
	if window := r.PrefixWindow(limit); limit >= 0 && len(s) > window {
		out, _ := r.scan(s[:window], limit)
		return out, true
	}
	next := make([]int, len(r.forms)) // next occurrence of each form at or after pos; -1: none
	for i := range next {
		next[i] = r.find(s, 0, i)
	}
	var b strings.Builder
	pos := 0
	for pos < len(s) {
		best := r.nextForm(s, pos, next)
		end := len(s)
		if best >= 0 {
			end = next[best]
		}
		if limit >= 0 && b.Len()+end-pos > limit {
			b.WriteString(s[pos : pos+limit-b.Len()])
			return b.String(), true
		}
		b.WriteString(s[pos:end])
		if best < 0 {
			break
		}
		b.WriteString(Redacted)
		pos = end + len(r.forms[best].text)
		if limit >= 0 && b.Len() >= limit {
			return b.String(), pos < len(s)
		}
	}
	return b.String(), false
}

// nextForm returns the form that occurs first at or after pos (the
// longest one at that position), or -1; next caches each form's next
// occurrence and is brought up to pos.
func (r *Redactor) nextForm(s string, pos int, next []int) int {
	best := -1
	for i := range r.forms {
		if next[i] >= 0 && next[i] < pos {
			next[i] = r.find(s, pos, i)
		}
		if next[i] >= 0 && (best < 0 || next[i] < next[best]) {
			best = i
		}
	}
	return best
}

// cut returns the first limit bytes of s (all of it for a negative
// limit) and whether anything was left off.
func cut(s string, limit int) (string, bool) {
	if limit < 0 || len(s) <= limit {
		return s, false
	}
	return s[:limit], true
}

// find returns the first position at or after from where form i occurs
// (as a whole token, for a short secret's form), or -1.
func (r *Redactor) find(s string, from, i int) int {
	f := r.forms[i]
	for from <= len(s) {
		j := strings.Index(s[from:], f.text)
		if j < 0 {
			return -1
		}
		at := from + j
		if !f.token || tokenAt(s, at, at+len(f.text)) {
			return at
		}
		from = at + 1
	}
	return -1
}

// tokenAt reports whether s[start:end] stands as a whole token: a word
// character at either edge is not continued by another one.
func tokenAt(s string, start, end int) bool {
	if first, _ := utf8.DecodeRuneInString(s[start:]); isWordRune(first) && start > 0 {
		if before, _ := utf8.DecodeLastRuneInString(s[:start]); isWordRune(before) {
			return false
		}
	}
	if last, _ := utf8.DecodeLastRuneInString(s[:end]); isWordRune(last) && end < len(s) {
		if after, _ := utf8.DecodeRuneInString(s[end:]); isWordRune(after) {
			return false
		}
	}
	return true
}

func isWordRune(c rune) bool {
	return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c)
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that redacts every
// attribute, the message included (the built-in handlers pass it here as
// "msg"), before the handler formats it, so escaping never hides a secret
// from the redactor. A string slice keeps its type; another non-string
// value that holds a secret when printed becomes its redacted %+v text,
// and is left untouched otherwise, so the log's shape changes only where
// a secret would have been.
func (r *Redactor) ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if r == nil || len(r.forms) == 0 {
		return a
	}
	a.Value = r.redactValue(a.Value)
	return a
}

func (r *Redactor) redactValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(r.Redact(v.String()))
	case slog.KindAny:
		if list, ok := v.Any().([]string); ok {
			out := make([]string, len(list))
			for i, s := range list {
				out[i] = r.Redact(s)
			}
			return slog.AnyValue(out)
		}
		s := fmt.Sprintf("%+v", v.Any())
		if red := r.Redact(s); red != s {
			return slog.StringValue(red)
		}
	}
	return v
}

// WriteDiagnostics prints diags like the package's WriteDiagnostics and
// then redacts every known secret value from the text: a diagnostic may
// quote a source line, and a sensitive variable's value can stand on a
// line whose setting name looks harmless, where the name rule of the
// masking does not reach.
func (r *Redactor) WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, files, diags, color); err != nil {
		return err
	}
	_, err := io.WriteString(w, r.Redact(buf.String()))
	return err
}
