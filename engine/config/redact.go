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
	forms []string
}

// Redactor returns the redactor for every secret value the configuration
// knows (Secrets). It is nil-safe: a nil *Config gives a nil Redactor.
func (c *Config) Redactor() *Redactor {
	if c == nil {
		return nil
	}
	return NewRedactor(c.Secrets())
}

// NewRedactor returns a redactor for secrets and their escaped forms: a
// secret holding quotes, backslashes, HTML or control characters reaches
// text in an escaped form (a quoted source line, an error quoting a value
// with %q). Secrets shorter than three characters are left alone:
// redacting them would mangle ordinary text.
func NewRedactor(secrets []string) *Redactor {
	seen := map[string]bool{}
	var forms []string
	for _, secret := range secrets {
		if len(secret) < 3 {
			continue
		}
		for _, f := range []string{secret, jsonEscaped(secret, false), jsonEscaped(secret, true), strings.Trim(strconv.Quote(secret), `"`)} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return &Redactor{forms: forms}
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
	if r == nil {
		return s
	}
	for _, f := range r.forms {
		s = strings.ReplaceAll(s, f, Redacted)
	}
	return s
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
