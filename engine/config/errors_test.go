package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// testEnv is the environment every test configuration sees.
func testEnv(extra map[string]string) func(string) (string, bool) {
	env := map[string]string{"FTRACK_API_KEY": "ftrack-secret-key"}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

type wantDiag struct {
	line   int
	substr string
}

// expectedErrors reads the "# ERROR: <substring>" comments of src (several
// may share a line); each names a diagnostic that must point at that line.
func expectedErrors(t *testing.T, src []byte) []wantDiag {
	t.Helper()
	var out []wantDiag
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		parts := strings.Split(sc.Text(), "# ERROR:")
		for _, p := range parts[1:] {
			out = append(out, wantDiag{line: line, substr: strings.TrimSpace(p)})
		}
	}
	return out
}

// TestErrorFiles loads every testdata/errors/*.hcl file and checks that
// each "# ERROR:" comment has a matching error diagnostic at its line and
// that every error diagnostic was expected.
func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, src)
			if len(want) == 0 {
				t.Fatal("file has no # ERROR: comments")
			}
			_, diags := Load(path, WithEnv(testEnv(nil)))
			if !diags.HasErrors() {
				t.Fatal("Load returned no errors")
			}
			for _, w := range want {
				found := false
				for _, d := range diags {
					if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Start.Line == w.line &&
						(strings.Contains(d.Summary, w.substr) || strings.Contains(d.Detail, w.substr)) {
						found = true
					}
				}
				if !found {
					t.Errorf("line %d: no error containing %q; got:\n%s", w.line, w.substr, diagList(diags))
				}
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				expected := false
				for _, w := range want {
					if d.Subject != nil && d.Subject.Start.Line == w.line {
						expected = true
					}
				}
				if !expected {
					t.Errorf("unexpected error: %s", diagString(d))
				}
			}
		})
	}
}

func diagString(d *hcl.Diagnostic) string {
	where := "(no range)"
	if d.Subject != nil {
		where = d.Subject.String()
	}
	return where + ": " + d.Summary + ": " + d.Detail
}

func diagList(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + diagString(d) + "\n")
	}
	return b.String()
}

// TestWriteDiagnostics checks that printed diagnostics carry
// file:line:col and the offending source line.
func TestWriteDiagnostics(t *testing.T) {
	path := filepath.Join("testdata", "errors", "syntax_error.hcl")
	cfg, diags := Load(path, WithEnv(testEnv(nil)))
	if !diags.HasErrors() {
		t.Fatal("expected a syntax error")
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	want := expectedErrors(t, mustRead(t, path))[0]
	for _, s := range []string{
		path + ":" + strconv.Itoa(want.line) + ":1: Missing argument separator",
		strconv.Itoa(want.line) + ": }",
		"Error: ",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("color codes with color=false:\n%s", out)
	}
	buf.Reset()
	if err := WriteDiagnostics(&buf, cfg.Files, diags, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("no color codes with color=true:\n%s", buf.String())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
