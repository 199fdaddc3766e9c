package config

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestSecretNameOneRule: the names that make Secrets collect a value are
// the names whose values maskedFiles masks in quoted source lines.
func TestSecretNameOneRule(t *testing.T) {
	for name, want := range map[string]bool{
		"bind_password": true, "bind_pasword": true, "api_key": true, "client_secret": true, "token": true,
		"pwd": true, "credentials": true, "passphrase": true,
		"url": false, "bind_dn": false, "base_dn": false, "api_user": false, "ca_cert_file": false, "timeout": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
		masked := string(maskSecretLines([]byte(name + ` = "v4lue"`)))
		if got := !strings.Contains(masked, "v4lue"); got != want {
			t.Errorf("%s: masked %v (%q), SecretName %v", name, got, masked, want)
		}
	}
}

// TestSecretsCollectMisspelledPassword: a misspelled bind_pasword's value
// is a secret too (it used to be masked in source lines but not redacted).
func TestSecretsCollectMisspelledPassword(t *testing.T) {
	cfg, _ := LoadBytes("c.hcl", []byte(`
source "ldap" "corp" {
  url          = "ldaps://x"
  bind_pasword = "hunter2-typo"
}
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`), WithEnv(testEnv(nil)))
	if !slices.Contains(cfg.Secrets(), "hunter2-typo") {
		t.Errorf("Secrets() = %q", cfg.Secrets())
	}
}

// TestRedactEscapedForms: a secret is replaced as written and in the forms
// JSON and Go quoting give it; longer secrets go whole.
func TestRedactEscapedForms(t *testing.T) {
	r := NewRedactor([]string{`pa"ss<word>`, "plain-secret-1", "plain-secret-12"})
	for in, want := range map[string]string{
		`pw=pa"ss<word>`:                "pw=" + Redacted,
		`"pw":"pa\"ss\u003cword\u003e"`: `"pw":"` + Redacted + `"`,
		`"pw":"pa\"ss<word>"`:           `"pw":"` + Redacted + `"`,
		"a plain-secret-12 b":           "a " + Redacted + " b",
		"a plain-secret-1 b":            "a " + Redacted + " b",
	} {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactShortSecrets: a secret under four bytes is redacted where it
// stands as a whole token, and left inside words, where redacting "ab"
// would mangle every word that contains it and hide nothing.
func TestRedactShortSecrets(t *testing.T) {
	r := NewRedactor([]string{"ab", "x", "a-"})
	for in, want := range map[string]string{
		"table":               "table",
		"key ab refused":      "key " + Redacted + " refused",
		"ab":                  Redacted,
		`"pw":"ab"`:           `"pw":"` + Redacted + `"`,
		"-var pw=x -out p":    "-var pw=" + Redacted + " -out p",
		"max, x1, xab":        "max, x1, xab",
		"a- then a-b and ba-": Redacted + " then " + Redacted + "b and ba-", // "-" ends a word itself
	} {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	var nilRedactor *Redactor
	if got := nilRedactor.Redact("s3cret"); got != "s3cret" {
		t.Errorf("nil redactor: got %q", got)
	}
}

// TestRedactPrefixNeverCutsASecret: wherever a secret stands relative to
// the cut, and however many secrets before it shorten the text, the
// prefix shows no four bytes of it.
func TestRedactPrefixNeverCutsASecret(t *testing.T) {
	const secret = "SECRET-KEY-0f1e2d3c4b5a"
	r := NewRedactor([]string{secret})
	for early := 0; early <= 20; early += 5 {
		for off := 150; off <= 210; off++ {
			s := strings.Repeat(secret, early) + strings.Repeat("x", off) + secret + strings.Repeat("y", 1000)
			got, more := r.RedactPrefix(s, 200)
			if !more || len(got) > 200+len(Redacted) {
				t.Fatalf("early %d off %d: %d bytes, more %v", early, off, len(got), more)
			}
			for i := 0; i+4 <= len(secret); i++ {
				if strings.Contains(got, secret[i:i+4]) {
					t.Fatalf("early %d off %d: %q shows %q", early, off, got, secret[i:i+4])
				}
			}
		}
	}
	if got, more := r.RedactPrefix("short "+secret, 200); more || got != "short "+Redacted {
		t.Errorf("short text: %q, %v", got, more)
	}
	if got, more := (*Redactor)(nil).RedactPrefix("abcdef", 3); !more || got != "abc" {
		t.Errorf("nil redactor: %q, %v", got, more)
	}
}

// TestRedactLeftmostLongest: overlapping secrets go leftmost first and a
// replacement is never redacted again.
func TestRedactLeftmostLongest(t *testing.T) {
	r := NewRedactor([]string{"sens", "abcd", "bcdefg"})
	if got, want := r.Redact("abcdefg sens"), Redacted+"efg "+Redacted; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestReplaceAttr redacts strings, string slices (keeping their type),
// other values that print a secret, and the message; other values keep
// their kind.
func TestReplaceAttr(t *testing.T) {
	r := NewRedactor([]string{"s3cret-value"})
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: r.ReplaceAttr}))
	log.Info("bind as s3cret-value", "args", "-var pw=s3cret-value", "reasons", []string{"ok", "has s3cret-value"},
		"error", errors.New("bind s3cret-value refused"), "count", 3, "flag", true)
	out := buf.String()
	if strings.Contains(out, "s3cret-value") {
		t.Errorf("log contains the secret:\n%s", out)
	}
	for _, want := range []string{`"msg":"bind as (sensitive)"`, `"reasons":["ok","has (sensitive)"]`, `"error":"bind (sensitive) refused"`, `"count":3`, `"flag":true`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// TestRedactorWriteDiagnostics: a diagnostic that quotes a source line
// holding a known secret under a harmless-looking name prints no secret.
func TestRedactorWriteDiagnostics(t *testing.T) {
	src := []byte("reader = \"hunter2-xyz\"\n")
	f, diags := hclsyntax.ParseConfig(src, "secrets.tfvars", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rng := hcl.Range{Filename: "secrets.tfvars", Start: hcl.Pos{Line: 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: 1, Column: 7, Byte: 6}}
	d := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Something about reader", Subject: &rng}}
	var out bytes.Buffer
	if err := NewRedactor([]string{"hunter2-xyz"}).WriteDiagnostics(&out, map[string]*hcl.File{"secrets.tfvars": f}, d, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "secrets.tfvars:1:1") {
		t.Fatalf("diagnostic not printed:\n%s", out.String())
	}
	if strings.Contains(out.String(), "hunter2-xyz") {
		t.Errorf("diagnostic output contains the secret:\n%s", out.String())
	}
}

// TestConnectionDiagnosticsHideValues: a source setting that fails to
// evaluate is reported without the values it refers to, even a variable
// not marked sensitive (hcl's printer would show "with var.pw as ...").
func TestConnectionDiagnosticsHideValues(t *testing.T) {
	cfg, diags := LoadBytes("c.hcl", []byte(`
variable "pw" { default = "plain-pw-value" }
source "ldap" "corp" {
  url           = "ldaps://x"
  bind_password = var.pw + 1
}
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`), WithEnv(testEnv(nil)))
	if !diags.HasErrors() {
		t.Fatal("a string plus a number must be an error")
	}
	var out bytes.Buffer
	if err := cfg.Redactor().WriteDiagnostics(&out, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Invalid operand") || strings.Contains(out.String(), "plain-pw-value") {
		t.Errorf("diagnostics:\n%s", out.String())
	}
}
