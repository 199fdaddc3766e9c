package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
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
