package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ldapsync/ldapsync/engine"
)

// hostileValues are strings a directory entry or an edited plan file can
// hold, each aimed at a renderer.
var hostileValues = []string{
	"\x1b[31mred\x1b[0m\x1b]0;title\x07",
	"a\rb", "a\nb", "a\r\n# forged heading", "a\tb", "\x00nul", "del\x7f", "\u0085nel", "\u009b31m",
	"\u202eevil", "a\u2028b", "\u200bzwsp",
	"[click](https://evil.test)", "![img](https://evil.test/x.png)", "[ref]: https://evil.test",
	"<img src=x onerror=alert(1)>", "</details><script>x</script>", "<https://evil.test>",
	"`code` and ``two``", "```", "`", " ` ", "a|b", `\`, `\|`, `\[click](https://evil.test)`,
	"**bold** _em_ ~~strike~~ $x$", "# heading", "  - nested", "1. list", "> quote", "---",
	"www.evil.test", "https://evil.test", "&lt;img&gt; &#91;x&#93;", "\xff\xfe",
	"",
}

// hostilePlan is a plan with the given strings in every place a
// directory or a plan file can supply one: keys, DNs, field values,
// reasons, warnings, limits, the target and sources.
func hostilePlan(key, dn, value, reason, warning string) *engine.Plan {
	p := &engine.Plan{PlanID: key, CreatedAt: value, ExpiresAt: reason,
		Target:   engine.TargetInfo{Type: value, Name: key},
		Sources:  []engine.SourceSummary{{Type: reason, Name: dn, Entries: 1}},
		Limits:   []engine.LimitInForce{{Name: key, Limit: value, Source: reason}, {Name: key, Limit: value, Source: reason, AppliesFrom: 3}},
		Blocked:  &engine.Block{Reasons: []string{reason, warning}},
		Warnings: []string{warning, reason},
		Skipped:  []engine.Skipped{{Source: key, DN: dn, Reason: reason}},
		Conflicts: []engine.Conflict{{Key: key, Reason: reason,
			Entries: []engine.ConflictEntry{{Source: value, DN: dn}}}},
	}
	f := &engine.Fields{Username: &value, Email: &value, FirstName: &value, LastName: &value, Owner: &value, SourceID: &dn}
	for _, a := range engine.ApplyOrder() {
		p.Changes = append(p.Changes, engine.Change{Address: "user." + key, Action: a, Key: key, Group: value,
			Reason: engine.ChangeReason(reason), ReasonDetail: warning, Before: f, After: f})
	}
	// the update twice: once with only a before, once with only an after
	p.Changes = append(p.Changes,
		engine.Change{Address: "user." + key, Action: engine.ActionUpdate, Key: key, Reason: engine.ChangeReason(reason), Before: f},
		engine.Change{Address: "user." + key, Action: engine.ActionUpdate, Key: key, Reason: engine.ChangeReason(reason), After: f})
	return p
}

// renderText renders p with the text renderer, without color.
func renderText(p *engine.Plan) string {
	var b strings.Builder
	newRenderer(&b, false).Plan(p)
	return b.String()
}

// nonPrintable returns the first character of out that is neither
// printable nor a line feed (control bytes, ESC, DEL, C1, bidi
// controls, bytes that are not UTF-8), or "".
func nonPrintable(out string) string {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("byte %#x at %d", out[i], i)
		}
		if r != '\n' && !strconv.IsPrint(r) {
			return fmt.Sprintf("%U at %d", r, i)
		}
		i += size
	}
	return ""
}

// mdSpan is a code span found by scanLine: its content as CommonMark
// renders it.
type mdSpan struct{ content string }

// scanLine splits one line of Markdown like CommonMark's inline parser
// does for backslash escapes and code spans (GFM table pipes "\|" are
// taken out first when cell is true). It returns the unescaped
// characters outside code spans (an escaped character becomes "\x00"),
// the code spans, and an error for a backtick run that closes nothing:
// the renderer never writes one, so one means a code span broke.
func scanLine(line string, cell bool) (outside string, spans []mdSpan, err error) {
	if cell {
		line = strings.ReplaceAll(line, `\|`, "\x01") // an escaped pipe: neither text nor delimiter
	}
	var b strings.Builder
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && isASCIIPunct(line[i+1]):
			b.WriteByte(0)
			i += 2
		case c == '`':
			n := runAt(line, i)
			end := closingRun(line, i+n, n)
			if end < 0 {
				return "", nil, fmt.Errorf("unmatched run of %d backticks at %d in %q", n, i, line)
			}
			spans = append(spans, mdSpan{spanContent(strings.ReplaceAll(line[i+n:end], "\x01", "|"))})
			b.WriteByte('C')
			i = end + n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), spans, nil
}

func isASCIIPunct(c byte) bool {
	return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}

// runAt is the length of the backtick run at s[i].
func runAt(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

// closingRun finds the next run of exactly n backticks from i, or -1.
func closingRun(s string, i, n int) int {
	for i < len(s) {
		if s[i] != '`' {
			i++
			continue
		}
		m := runAt(s, i)
		if m == n {
			return i
		}
		i += m
	}
	return -1
}

// spanContent strips one space from both ends when both are spaces and
// the content is not only spaces, as CommonMark does.
func spanContent(s string) string {
	if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "" {
		return s[1 : len(s)-1]
	}
	return s
}

// ourMarkup is the Markdown and HTML the renderer writes itself.
var ourMarkup = strings.NewReplacer("<details>", "", "</details>", "", "<summary>", "", "</summary>", "",
	"[!CAUTION]", "", "[!WARNING]", "")

// mdProblems lists what in md could render as more than the text it
// shows: a control or non-printable character, a broken code span, and
// outside code spans an unescaped link or image bracket, HTML, an
// address GitHub would link, or a table row whose cell count differs
// from its header's.
func mdProblems(md string) []string {
	var out []string
	if np := nonPrintable(md); np != "" {
		out = append(out, "non-printable "+np)
	}
	cells := -1
	for n, line := range strings.Split(md, "\n") {
		table := strings.HasPrefix(line, "|")
		outside, _, err := scanLine(line, table)
		if err != nil {
			out = append(out, fmt.Sprintf("line %d: %v", n+1, err))
			continue
		}
		rest := ourMarkup.Replace(outside)
		for _, bad := range []string{"[", "]", "<", "://", "www."} {
			if strings.Contains(rest, bad) {
				out = append(out, fmt.Sprintf("line %d: unescaped %q outside code spans: %q", n+1, bad, line))
			}
		}
		delims := strings.Count(line, "|") - strings.Count(line, `\|`) // GFM splits before code spans
		switch {
		case !table:
			cells = -1
		case cells < 0:
			cells = delims
		case delims != cells:
			out = append(out, fmt.Sprintf("line %d: %d cell delimiters, the table has %d: %q", n+1, delims, cells, line))
		}
	}
	return out
}

// baseline is p's shape with every string "x": the same number of
// lines, if no value can start one.
func baseline() *engine.Plan { return hostilePlan("x", "x", "x", "x", "x") }

// TestRenderersEscapeHostileValues: each hostile string in every place
// of a plan renders, as text, without a control or non-printable
// character and without a line of its own; as Markdown, also without a
// live link, image, HTML or broken table.
func TestRenderersEscapeHostileValues(t *testing.T) {
	textLines := strings.Count(renderText(baseline()), "\n")
	mdLines := strings.Count(planMarkdown(baseline()), "\n")
	for _, s := range hostileValues {
		p := hostilePlan(s, s, s, s, s)
		text := renderText(p)
		if np := nonPrintable(text); np != "" {
			t.Errorf("%q: text plan has non-printable %s:\n%s", s, np, text)
		}
		if n := strings.Count(text, "\n"); n != textLines {
			t.Errorf("%q: text plan has %d lines, want %d:\n%s", s, n, textLines, text)
		}
		md := planMarkdown(p)
		for _, problem := range mdProblems(md) {
			t.Errorf("%q: %s", s, problem)
		}
		if n := strings.Count(md, "\n"); n != mdLines {
			t.Errorf("%q: markdown has %d lines, want %d:\n%s", s, n, mdLines, md)
		}
	}
}

// TestMarkdownShowsValuesAsWritten: code spans and escaped text render
// back to the value (its non-printables escaped), so escaping loses
// nothing a reviewer needs.
func TestMarkdownShowsValuesAsWritten(t *testing.T) {
	for _, s := range hostileValues {
		for _, cell := range []bool{false, true} {
			md := mdCode(s)
			if cell {
				md = mdCell(s)
			}
			_, spans, err := scanLine(md, cell)
			want := plain(s)
			if want == "" {
				want = " "
			}
			if err != nil || len(spans) != 1 || spans[0].content != want {
				t.Errorf("mdCode(%q) = %q renders %+v, %v; want one span %q", s, md, spans, err, want)
			}
		}
		if got := unescapeText(mdText(s)); got != plain(s) {
			t.Errorf("mdText(%q) = %q renders %q, want %q", s, mdText(s), got, plain(s))
		}
	}
}

// unescapeText removes CommonMark backslash escapes.
func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestHostilePlanRendering pins what a reviewer sees of the link, the
// ESC and the newline.
func TestHostilePlanRendering(t *testing.T) {
	link := "[click](https://evil.test)"
	p := hostilePlan("bob", "uid=bob\nX,dc=example", link, "reason with "+link, "warning \x1b[2J"+link)
	md := planMarkdown(p)
	for _, want := range []string{
		"| `bob` | reason with \\[click\\]\\(https\\://evil.test\\): warning", // deactivation reason, escaped text
		"  - first_name: `\"[click](https://evil.test)\"`",                    // value, in a code span
		"- warning \\\\x1b\\[2J\\[click\\]",                                   // ESC shown as \x1b
		"| `uid=bob\\nX,dc=example` | reason with",                            // the DN's newline shown as \n
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	text := renderText(p)
	for _, want := range []string{
		`  ! uid=bob\nX,dc=example: reason with [click](https://evil.test)`,
		`  ! warning \x1b[2J[click](https://evil.test)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
}

func TestPlain(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"a\x1b[31mb":      `a\x1b[31mb`,
		"a\r\nb\tc":       `a\r\nb\tc`,
		"\u202eevil":      `\u202eevil`,
		"\u009b":          `\u009b`,
		"\xff":            `\xff`,
		`cn=Smith\, Jr.`:  `cn=Smith\, Jr.`,
		"Zoë Ångström 名前": "Zoë Ångström 名前",
	} {
		if got := plain(in); got != want {
			t.Errorf("plain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMdProblemsFindsWhatTheOldRendererWrote: the checker is not
// vacuous; it flags each way the old escaping let a value through.
func TestMdProblemsFindsWhatTheOldRendererWrote(t *testing.T) {
	header := "| DN | reason |\n|---|---|\n"
	for _, md := range []string{
		header + "| `uid=x` | [click](https://evil.test) |", // a reason outside a code span
		"- `a`b` will be created",                           // a backtick ends the span early
		header + "| `a|b` | x |",                            // a pipe splits the row
		"- <img src=x>",                                     // HTML
		"- see https://evil.test",                           // a bare address
		"- a\rb",                                            // CR
		"- \x1b[31m",                                        // ESC
	} {
		if len(mdProblems(md)) == 0 {
			t.Errorf("no problem found in %q", md)
		}
	}
	if p := mdProblems(planMarkdown(bigPlan(3))); len(p) > 0 {
		t.Errorf("an ordinary plan has problems: %v", p)
	}
}
