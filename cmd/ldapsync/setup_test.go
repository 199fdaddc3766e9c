package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine/config"
)

// TestLogHandlerEscapedSecrets logs secrets that the JSON and text
// handlers escape (quotes, backslashes, HTML characters, a tab) and checks
// that no form of them reaches the log, while the rest of the line does.
// The redaction itself is engine/config's (redact_test.go); this checks
// that the audit log's handler uses it.
func TestLogHandlerEscapedSecrets(t *testing.T) {
	secrets := []string{`pa"ss\word<&>`, "tab\tsecret", "plain-secret-1", "plain-secret-12"}
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			h, ok := newLogHandler(&buf, format, config.NewRedactor(secrets))
			if !ok {
				t.Fatalf("format %q refused", format)
			}
			log := slog.New(h).With("run", "plan")
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

// TestLogHandlerFormats: text and the default are text, json is JSON, and
// anything else is refused.
func TestLogHandlerFormats(t *testing.T) {
	for format, want := range map[string]string{"": "msg=start", "text": "msg=start", "json": `"msg":"start"`} {
		var buf bytes.Buffer
		h, ok := newLogHandler(&buf, format, nil)
		if !ok {
			t.Fatalf("format %q refused", format)
		}
		slog.New(h).Info("start")
		if !strings.Contains(buf.String(), want) {
			t.Errorf("format %q: %q lacks %q", format, buf.String(), want)
		}
	}
	if _, ok := newLogHandler(&bytes.Buffer{}, "xml", nil); ok {
		t.Error("format xml accepted")
	}
}
