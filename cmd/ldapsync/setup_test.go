package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestRedactingWriterEscapedSecrets logs secrets that the JSON and text
// handlers escape (quotes, backslashes, HTML characters, a tab) and checks
// that no form of them reaches the log, while the rest of the line does.
func TestRedactingWriterEscapedSecrets(t *testing.T) {
	secrets := []string{`pa"ss\word<&>`, "tab\tsecret", "plain-secret-1", "plain-secret-12"}
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			w := newRedactingWriter(&buf, secrets)
			var h slog.Handler = slog.NewTextHandler(w, nil)
			if format == "json" {
				h = slog.NewJSONHandler(w, nil)
			}
			log := slog.New(h)
			for _, s := range secrets {
				log.Info("start", "args", "plan -var password="+s+" -out plan.json")
			}
			out := buf.String()
			for _, s := range secrets {
				for _, frag := range []string{s, `ss\"word`, `ss\\word`, "secret-1", "secret-12", "tab"} {
					if strings.Contains(out, frag) {
						t.Errorf("log contains %q (from secret %q):\n%s", frag, s, out)
					}
				}
			}
			if n := strings.Count(out, "(sensitive)"); n != len(secrets) {
				t.Errorf("got %d redactions, want %d:\n%s", n, len(secrets), out)
			}
			if n := strings.Count(out, "-out plan.json"); n != len(secrets) {
				t.Errorf("the rest of the lines was damaged:\n%s", out)
			}
		})
	}
}

// TestRedactingWriterShortSecrets leaves secrets under three characters
// alone: redacting "ab" would mangle every word that contains it.
func TestRedactingWriterShortSecrets(t *testing.T) {
	var buf bytes.Buffer
	w := newRedactingWriter(&buf, []string{"ab"})
	if _, err := w.Write([]byte("table\n")); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "table\n" {
		t.Errorf("got %q, want the line unchanged", buf.String())
	}
}

// TestDiagnosticsRedactKnownSecrets: a diagnostic that quotes a source line
// holding a sensitive value under a harmless-looking name prints no secret.
func TestDiagnosticsRedactKnownSecrets(t *testing.T) {
	src := []byte("reader = \"hunter2-xyz\"\n")
	f, diags := hclsyntax.ParseConfig(src, "secrets.tfvars", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rng := hcl.Range{Filename: "secrets.tfvars", Start: hcl.Pos{Line: 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: 1, Column: 7, Byte: 6}}
	d := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Something about reader", Subject: &rng}}
	var out bytes.Buffer
	writeDiagnostics(&out, map[string]*hcl.File{"secrets.tfvars": f}, d, []string{"hunter2-xyz"}, false)
	if !strings.Contains(out.String(), "secrets.tfvars:1:1") {
		t.Fatalf("diagnostic not printed:\n%s", out.String())
	}
	if strings.Contains(out.String(), "hunter2-xyz") {
		t.Errorf("diagnostic output contains the secret:\n%s", out.String())
	}
}
