package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// deepMapping is a configuration whose mapping username is expr.
func deepMapping(expr string) []byte {
	return []byte(mapHeader + "mapping \"users\" {\n  username = " + expr + "\n  email = entry.mail\n}\n")
}

// onlyError asserts diags is one error with summary at line:col.
func onlyError(t *testing.T, diags hcl.Diagnostics, summary string, line, col int) {
	t.Helper()
	if len(diags) != 1 || diags[0].Severity != hcl.DiagError || diags[0].Summary != summary {
		t.Fatalf("want one %q error, got:\n%s", summary, diagList(diags))
	}
	if s := diags[0].Subject; s == nil || s.Start.Line != line || s.Start.Column != col {
		t.Fatalf("%q at %v, want line %d column %d", summary, diags[0].Subject, line, col)
	}
}

// TestDeepConfigIsADiagnostic: the 140 KB configuration of 70,000 nested
// parentheses that overflowed the stack is refused before parsing, at the
// parenthesis one level too deep, quickly and with file:line:col.
func TestDeepConfigIsADiagnostic(t *testing.T) {
	src := deepMapping(strings.Repeat("(", 70000) + "entry.uid" + strings.Repeat(")", 70000))
	path := filepath.Join(t.TempDir(), "deep.hcl")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg, diags := Load(path, WithEnv(testEnv(nil)))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	// The mapping block is the first level, so the parenthesis at
	// MaxNestingDepth is one too many.
	line := 1 + bytes.Count(src[:bytes.IndexByte(src, '(')], []byte("\n"))
	col := len("  username = ") + MaxNestingDepth
	onlyError(t, diags, "Configuration nested too deeply", line, col)
	var out bytes.Buffer
	if err := cfg.Redactor().WriteDiagnostics(&out, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s:%d:%d: Configuration nested too deeply", path, line, col); !strings.Contains(out.String(), want) {
		t.Errorf("printed:\n%s\nwant %q", out.String(), want)
	}
	if out.Len() > 2000 {
		t.Errorf("the 140 KB line was quoted: %d bytes printed", out.Len())
	}
	// On a line of ordinary length the diagnostic quotes it.
	src = deepMapping(strings.Repeat("[\n", MaxNestingDepth) + "1" + strings.Repeat("]", MaxNestingDepth))
	cfg, diags = LoadBytes("lines.hcl", src, WithEnv(testEnv(nil)))
	out.Reset()
	_ = cfg.Redactor().WriteDiagnostics(&out, cfg.Files, diags, false)
	if !strings.Contains(out.String(), "Configuration nested too deeply") || strings.Contains(out.String(), "source code not available") {
		t.Errorf("printed:\n%s", out.String())
	}
}

// TestNestingKinds: every construct that hcl parses recursively counts,
// and an operator chain too long for the evaluator is refused; one level
// less than the limit passes the scan.
func TestNestingKinds(t *testing.T) {
	n := MaxNestingDepth
	nested := func(open, mid, close string, k int) string {
		return strings.Repeat(open, k) + mid + strings.Repeat(close, k)
	}
	for name, tc := range map[string]struct {
		deep, ok string
		summary  string
	}{
		"parens":         {nested("(", "1", ")", 70000), nested("(", "1", ")", n), "Configuration nested too deeply"},
		"brackets":       {nested("[", "1", "]", n+1), nested("[", "1", "]", n), "Configuration nested too deeply"},
		"braces":         {nested("{a=", "1", "}", n+1), nested("{a=", "1", "}", n-1), "Configuration nested too deeply"},
		"bang":           {strings.Repeat("!", 500000) + "true", strings.Repeat("!", n) + "true", "Configuration nested too deeply"},
		"minus":          {strings.Repeat("-", 500000) + "1", "1 - " + strings.Repeat("-", n-1) + "1", "Configuration nested too deeply"},
		"interpolations": {nested(`"${`, "1", `}"`, n/2+1), nested(`"${`, "1", `}"`, n/2), "Configuration nested too deeply"},
		"directives":     {`"` + strings.Repeat("%{if true}", n+1) + strings.Repeat("%{endif}", n+1) + `"`, `"` + strings.Repeat("%{if true}x%{endif}", 10000) + `"`, "Configuration nested too deeply"},
		"plus chain":     {"1" + strings.Repeat("+1", 500000), "1" + strings.Repeat("+1", MaxOperatorChain), "Expression too long"},
		"ternary chain":  {strings.Repeat("true ? 1 : ", MaxOperatorChain+1) + "1", strings.Repeat("true ? 1 : ", 10) + "1", "Expression too long"},
	} {
		t.Run(name, func(t *testing.T) {
			if at, _ := scanNesting([]byte("a = " + tc.ok + "\n")); at >= 0 {
				t.Errorf("the allowed form was refused at byte %d", at)
			}
			_, diags := LoadBytes("deep.hcl", deepMapping(tc.deep), WithEnv(testEnv(nil)))
			if len(diags) != 1 || diags[0].Summary != tc.summary {
				t.Fatalf("got:\n%s", diagList(diags))
			}
		})
	}
}

// TestNestingSkipsStringsAndComments: brackets and operators inside
// strings, heredocs and comments are text, not nesting.
func TestNestingSkipsStringsAndComments(t *testing.T) {
	many := strings.Repeat("(", 5*MaxNestingDepth) + strings.Repeat("+!-", MaxOperatorChain)
	src := "a = \"" + many + "\" # " + many + "\n" +
		"b = 1 // " + many + "\n" +
		"/* " + many + "\n" + many + " */\n" +
		"c = <<EOT\n" + many + "\n  EOT not the end\n$${ literal " + many + "\nEOT\n" +
		"d = <<-EOT\n  ${\"x\"} " + many + "\n  EOT\n" +
		"e = \"esc \\\" " + many + "\"\n" +
		"f = \"$${" + many + "}\"\n"
	if at, _ := scanNesting([]byte(src)); at >= 0 {
		t.Fatalf("refused at byte %d: %q", at, src[at:min(at+20, len(src))])
	}
	if _, diags := hclsyntax.ParseConfig([]byte(src), "x.hcl", hcl.InitialPos); diags.HasErrors() {
		t.Fatalf("the test input is not valid HCL: %s", diags)
	}
}

// TestNestingAcceptsRealConfigs: nothing in the repository's examples and
// test data comes near the limits.
func TestNestingAcceptsRealConfigs(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/*/*.hcl", "testdata/*.hcl", "../../examples/*/*.hcl", "../../examples/*.hcl"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if at, _ := scanNesting(src); at >= 0 {
			t.Errorf("%s refused at byte %d", f, at)
		}
	}
}

// TestFilesAreReadWithACap: a configuration, a variables file and a
// file() argument over 1 MiB, /dev/zero among them, are errors, not an
// out-of-memory.
func TestFilesAreReadWithACap(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.hcl")
	if err := os.WriteFile(big, append([]byte("a = 1\n"), bytes.Repeat([]byte("#\n"), MaxConfigBytes/2)...), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{big}
	if _, err := os.Stat("/dev/zero"); err == nil {
		paths = append(paths, "/dev/zero")
	}
	for _, p := range paths {
		_, diags := Load(p)
		if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "larger than 1048576 bytes") {
			t.Errorf("Load(%s): %s", p, diagList(diags))
		}
		_, diags = LoadBytes("v.hcl", []byte(varsConfig), WithEnv(testEnv(nil)), WithVarFiles([]string{p}))
		if !diags.HasErrors() || !strings.Contains(diagList(diags), "larger than 1048576 bytes") {
			t.Errorf("-var-file %s: %s", p, diagList(diags))
		}
		_, err := readLimited(p)
		if !errors.Is(err, errTooLarge) {
			t.Errorf("readLimited(%s): %v", p, err)
		}
	}
}

// TestDeepVarFileAndValue: a variables file and a -var value parsed as
// HCL are checked like the configuration; the value is never quoted.
func TestDeepVarFileAndValue(t *testing.T) {
	deep := strings.Repeat("[", 70000) + strings.Repeat("]", 70000)
	vf := filepath.Join(t.TempDir(), "deep.tfvars")
	if err := os.WriteFile(vf, []byte("groups = "+deep+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := mapHeader + `
variable "groups" { type = list(string) }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`
	_, diags := LoadBytes("c.hcl", []byte(src), WithEnv(testEnv(nil)), WithVarFiles([]string{vf}))
	if !strings.Contains(diagList(diags), "Configuration nested too deeply") {
		t.Errorf("var file: %s", diagList(diags))
	}
	_, diags = LoadBytes("c.hcl", []byte(src), WithEnv(testEnv(nil)), WithVariables(map[string]string{"groups": deep}))
	if got := diagList(diags); !strings.Contains(got, "nests too deeply") || strings.Contains(got, "[[[[") {
		t.Errorf("-var: %s", got)
	}
}

// call evaluates expr with the bounded functions.
func call(t *testing.T, expr string, vars map[string]cty.Value) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(expr), "f.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return e.Value(&hcl.EvalContext{Functions: stdFunctions(), Variables: vars})
}

// TestFunctionBounds: calls that would build gigabytes are clear errors,
// before the memory is taken; ordinary calls are unchanged.
func TestFunctionBounds(t *testing.T) {
	big := cty.StringVal(strings.Repeat("x", 100_000))
	vars := map[string]cty.Value{"big": big, "widths": cty.StringVal(strings.Repeat("%1000s", 1100))}
	for expr, want := range map[string]string{
		`format("%999999999s", "x")`:                        "format width over 1000",
		`format("%.999999999f", 1)`:                         "format precision over 1000",
		`format("%99999999999999999999d", 1)`:               "format width over 1000",
		`format(widths, "x")`:                               "over the limit of 1048576",
		`replace(big, "", big)`:                             "over the limit of 1048576",
		`regex_replace(big, "y*", big)`:                     "over the limit of 1048576",
		`regex_replace(big, "x", "$0$0$0$0$0$0$0$0$0$0$0")`: "over the limit of 1048576",
		`split("", join("", [big, big]))`:                   "elements, over the limit of 100000",
		`join(big, split("", big))`:                         "over the limit of 1048576",
		`concat(split("", big), split("", big))`:            "elements, over the limit of 100000",
	} {
		_, diags := call(t, expr, vars)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", expr, diags, want)
		}
	}
	for expr, want := range map[string]string{
		`format("%-5s|%5.2f|%03d", "ab", 3.14159, 7)`:              "ab   | 3.14|007",
		`replace("a.b.c", ".", "-")`:                               "a-b-c",
		`regex_replace("John Smith", "^(\\w+) (\\w+)$", "$2, $1")`: "Smith, John",
		`regex_replace("aaa", "a*", "-")`:                          "-",
		`regex_replace("abc", "x*", "-")`:                          "-a-b-c-",
		`join(",", split(".", "a.b.c"))`:                           "a,b,c",
		`lower("ÄB")`:                                              "äb",
	} {
		v, diags := call(t, expr, vars)
		if diags.HasErrors() || v.AsString() != want {
			t.Errorf("%s = %#v, %v; want %q", expr, v, diags, want)
		}
	}
}

// TestRegexReplaceMatchesStdlib: the bounded regex_replace gives what
// re.ReplaceAllString gives.
func TestRegexReplaceMatchesStdlib(t *testing.T) {
	for _, c := range []struct{ s, re, repl string }{
		{"abc", "", "-"}, {"aaa", "a*", "<$0>"}, {"a1b22c333", `\d+`, "[$0]"}, {"x y", `(?P<w>\w)`, "${w}$$"},
		{"héllo wörld", `\b\w`, "_"}, {"abab", "(a)(b)?", "$2$1"}, {"", "x*", "e"}, {"line1\nline2", "(?m)^", "> "},
	} {
		re := regexp.MustCompile(c.re)
		got, err := regexReplace(re, c.s, c.repl)
		if want := re.ReplaceAllString(c.s, c.repl); err != nil || got != want {
			t.Errorf("%q %q %q: got %q (%v), want %q", c.s, c.re, c.repl, got, err, want)
		}
	}
}

// TestMappingFormatHugeWidth: the fatal out-of-memory of the review,
// format("%999999999s", …) in a mapping, is an error for the entry.
func TestMappingFormatHugeWidth(t *testing.T) {
	m := mappingFrom(t, `
  username = format("%999999999s", entry.uid)
  email    = entry.mail
`)
	_, err := m.Map(entry(map[string][]string{"uid": {"ann"}, "mail": {"ann@example.com"}}))
	if err == nil || !strings.Contains(err.Error(), "format width over 1000") {
		t.Fatalf("got %v", err)
	}
}
