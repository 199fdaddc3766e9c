package main

import (
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets put arbitrary strings into every place of a plan a
// directory or a plan file can supply (hostilePlan) and check the
// rendered output: `go test` runs the seeds, `go test -fuzz
// FuzzPlanMarkdown` (or FuzzPlanText) searches further.

// cutNote matches the note of a comment cut at markdownLimit: at the
// start of a line, where no input can put it.
var cutNote = regexp.MustCompile(`(?m)^_\d+ more line\(s\) were left out`)

// seedRenderers adds the hostile values as seeds, each in every place
// and one combination.
func seedRenderers(f *testing.F) {
	for _, s := range hostileValues {
		f.Add(s, s, s, s, s)
	}
	f.Add("bob", "uid=bob,ou=users,dc=example,dc=com", "[click](https://evil.test)", "missing_from_directory", "user.bob\n# forged")
	f.Add("a`b", "cn=x\r\n| forged | row |", "<img src=x>", "\x1b[2J", "\u202e`")
}

// FuzzPlanMarkdown: planMarkdown never panics; its output has no control
// or non-printable character but "\n", no code span that breaks, no
// link, image, HTML or bare address outside code spans, no table row
// with more or fewer cells than its header, and no line an input added (unless the comment was cut).
func FuzzPlanMarkdown(f *testing.F) {
	seedRenderers(f)
	lines := strings.Count(planMarkdown(baseline()), "\n")
	f.Fuzz(func(t *testing.T, key, dn, value, reason, warning string) {
		md := planMarkdown(hostilePlan(key, dn, value, reason, warning))
		for _, p := range mdProblems(md) {
			t.Error(p)
		}
		if n := strings.Count(md, "\n"); n != lines && !cutNote.MatchString(md) {
			t.Errorf("%d lines, want %d:\n%s", n, lines, md)
		}
	})
}

// FuzzPlanText: the text plan never panics and has no byte below 0x20
// but "\n", no DEL, ESC or C1 control, nothing that is not UTF-8, and no
// line an input added.
func FuzzPlanText(f *testing.F) {
	seedRenderers(f)
	lines := strings.Count(renderText(baseline()), "\n")
	f.Fuzz(func(t *testing.T, key, dn, value, reason, warning string) {
		text := renderText(hostilePlan(key, dn, value, reason, warning))
		if np := nonPrintable(text); np != "" {
			t.Errorf("non-printable %s in:\n%s", np, text)
		}
		if n := strings.Count(text, "\n"); n != lines {
			t.Errorf("%d lines, want %d:\n%s", n, lines, text)
		}
	})
}
