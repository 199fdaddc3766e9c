package main

// Markdown rendering for pull-request comments. Code hosts cap comments
// (GitHub at 65,536 characters), so the document is built in sections of
// decreasing importance — summary, block, warnings, deactivations, then
// per-user details — and cut at markdownLimit with a note of what was left
// out. Everything the reviewer must see comes before the cut.

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ldapsync/ldapsync/engine"
)

// markdownLimit keeps a comment under code hosts' size caps.
const markdownLimit = 60000

// mdEscape is mdText with backticks turned into apostrophes: safe both
// as text and inside a single-backtick code span in a table cell (the
// drift report's use). Inside a code span its backslash escapes show, as
// "&lt;" did before; new code uses mdText, mdCode and mdCell.
func mdEscape(s string) string {
	return mdText(strings.ReplaceAll(s, "`", "'"))
}

// planMarkdown renders a plan for a pull-request comment, each list cut
// at maxListed items (defaultListing).
func planMarkdown(p *engine.Plan) string { return planMarkdownListing(p, defaultListing) }

// mdMore is the list item or paragraph after a list cut at shown of n
// items, "" when it was not: "… and 94,950 more creates: `ldapsync show
// -verbose plan.json`".
func mdMore(l listing, shown, n int, one, many, prefix string) string {
	if shown == n {
		return ""
	}
	return fmt.Sprintf("%s… and %s more %s: %s\n", prefix, thousands(n-shown), pick(n-shown, one, many), mdCode(l.command))
}

// planMarkdownListing renders a plan for a pull-request comment: the
// summary table always complete, then the sections, each list cut at
// maxListed items unless l.all, the whole cut at markdownLimit.
func planMarkdownListing(p *engine.Plan, l listing) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## ldapsync plan for %s %s\n\n", mdText(p.Target.Type), mdCode(p.Target.Name))
	if len(p.Targets) > 0 {
		b.WriteString("> [!NOTE]\n> **Targeted plan:** only")
		for _, t := range p.Targets {
			b.WriteString(" " + mdCode("user."+t))
		}
		b.WriteString("; other changes are left for a later plan.\n\n")
	}
	if p.IsBlocked() {
		b.WriteString("> [!CAUTION]\n> **This plan is blocked by a safety policy and cannot be applied.**\n")
		for _, r := range p.Blocked.Reasons {
			fmt.Fprintf(&b, "> - %s\n", mdText(r))
		}
		b.WriteString("\n")
	} else if p.Blocked != nil && len(p.Blocked.Reasons) > 0 {
		b.WriteString("> [!WARNING]\n> **Safety limits were overridden with `-force`:**\n")
		for _, r := range p.Blocked.Reasons {
			fmt.Fprintf(&b, "> - %s\n", mdText(r))
		}
		b.WriteString("\n")
	}
	if n := len(p.Observations); n > 0 {
		b.WriteString("> [!NOTE]\n> **Applying this plan also records grace-period clocks** (users newly missing from the directory, or back):")
		for i, k := range p.Observations {
			if i == 20 {
				fmt.Fprintf(&b, " and %d more", n-20)
				break
			}
			b.WriteString(" " + mdCode("user."+k))
		}
		b.WriteString(".\n\n")
	}
	s := p.Summary
	b.WriteString("| create | update | deactivate | reactivate | adopt | add membership | remove membership | create group | unchanged | skipped | conflicts |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n\n",
		s.Create, s.Update, s.Deactivate, s.Reactivate, s.Adopt, s.AddMembership, s.RemoveMembership, s.CreateGroup, s.Unchanged, s.Skipped, len(p.Conflicts))
	if r := roleCountsPhrase(s); r != "" {
		fmt.Fprintf(&b, "**Security roles:** %s.\n\n", mdText(r))
	}
	if line := seatsLine(p.Seats); line != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdText(line))
	}
	if line := limitsLine(p.Limits); line != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(line))
	}
	fmt.Fprintf(&b, "Plan %s, created %s, expires %s. Sources:", mdCode(p.PlanID), mdText(p.CreatedAt), mdText(p.ExpiresAt))
	for _, src := range p.Sources {
		fmt.Fprintf(&b, " %s %s (%d entries)", mdText(src.Type), mdCode(src.Name), src.Entries)
	}
	b.WriteString(".\n\n")

	sections := []string{}
	if len(p.Warnings) > 0 {
		var w strings.Builder
		w.WriteString("### Warnings\n\n")
		shown := l.shown(len(p.Warnings))
		for _, x := range p.Warnings[:shown] {
			fmt.Fprintf(&w, "- %s\n", mdText(x))
		}
		w.WriteString(mdMore(l, shown, len(p.Warnings), "warning", "warnings", "- "))
		sections = append(sections, w.String()+"\n")
	}
	if len(p.Conflicts) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "### Conflicts (%d)\n\nNone of these entries is applied until the directory is fixed.\n\n| user | source | DN |\n|---|---|---|\n", len(p.Conflicts))
		shown := l.shown(len(p.Conflicts))
		for _, c := range p.Conflicts[:shown] {
			for _, e := range c.Entries {
				fmt.Fprintf(&d, "| %s | %s | %s |\n", mdCell(c.Key), mdCell(e.Source), mdCell(e.DN))
			}
		}
		d.WriteString(mdMore(l, shown, len(p.Conflicts), "conflict", "conflicts", "\n"))
		sections = append(sections, d.String()+"\n")
	}
	groups := groupChanges(p.Changes)
	if list := groups[engine.ActionDeactivate]; len(list) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "### Deactivations (%d)\n\n| user | reason |\n|---|---|\n", len(list))
		shown := l.shown(len(list))
		for _, c := range list[:shown] {
			fmt.Fprintf(&d, "| %s | %s |\n", mdCell(c.Key), mdText(c.Why()))
		}
		d.WriteString(mdMore(l, shown, len(list), "deactivation", "deactivations", "\n"))
		sections = append(sections, d.String()+"\n")
	}
	if sec := mdRoleSection(l, p.Changes); sec != "" {
		sections = append(sections, sec)
	}
	for _, a := range actionOrder {
		list := groups[a]
		if len(list) == 0 {
			continue
		}
		st := actionStyles[a]
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>%s %s (%d)</summary>\n\n", st.symbol, st.title, len(list))
		shown := l.shown(len(list))
		for _, c := range list[:shown] {
			fmt.Fprintf(&d, "- %s %s _(%s)_\n", mdCode(describe(c)), st.verb, mdText(c.Why()))
			for _, f := range diffFields(c) {
				switch {
				case f.hasBefore && f.hasAfter:
					fmt.Fprintf(&d, "  - %s: %s → %s\n", mdText(f.name), mdCode(f.before), mdCode(f.after))
				case f.hasAfter:
					fmt.Fprintf(&d, "  - %s: %s\n", mdText(f.name), mdCode(f.after))
				default:
					fmt.Fprintf(&d, "  - %s: %s\n", mdText(f.name), mdCode(f.before))
				}
			}
		}
		one, many := actionNoun(a)
		d.WriteString(mdMore(l, shown, len(list), one, many, "- "))
		d.WriteString("\n</details>\n\n")
		sections = append(sections, d.String())
	}
	if len(p.Unmanaged) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>Unmanaged accounts (%d): active, without the ldapsync marker, never changed</summary>\n\n", len(p.Unmanaged))
		shown := l.shown(len(p.Unmanaged))
		for _, u := range p.Unmanaged[:shown] {
			fmt.Fprintf(&d, "- %s\n", mdCode(u))
		}
		d.WriteString(mdMore(l, shown, len(p.Unmanaged), "unmanaged account", "unmanaged accounts", "- "))
		d.WriteString("\n</details>\n\n")
		sections = append(sections, d.String())
	}
	if len(p.Skipped) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>Skipped directory entries (%d)</summary>\n\n| DN | reason |\n|---|---|\n", len(p.Skipped))
		shown := l.shown(len(p.Skipped))
		for _, x := range p.Skipped[:shown] {
			fmt.Fprintf(&d, "| %s | %s |\n", mdCell(x.DN), mdText(x.Reason))
		}
		d.WriteString(mdMore(l, shown, len(p.Skipped), "skipped entry", "skipped entries", "\n"))
		d.WriteString("\n</details>\n\n")
		sections = append(sections, d.String())
	}
	footer := fmt.Sprintf("**%s**\n", planSummaryLine(p))
	return appendWithinLimit(&b, sections, footer, l.command)
}

// appendWithinLimit adds sections in order while the whole stays under
// markdownLimit. The first section that does not fit is cut at a line
// boundary (its <details> element closed again); what was left out is
// counted in a closing note, which names command to see everything.
func appendWithinLimit(b *strings.Builder, sections []string, footer, command string) string {
	const noteRoom = 300
	cutLines := 0
	full := false
	for _, s := range sections {
		if full {
			cutLines += strings.Count(s, "\n")
			continue
		}
		if b.Len()+len(s)+len(footer)+noteRoom <= markdownLimit {
			b.WriteString(s)
			continue
		}
		full = true
		closing := ""
		if strings.HasPrefix(s, "<details>") {
			closing = "\n</details>\n\n"
		}
		lines := strings.SplitAfter(s, "\n")
		kept := 0
		for _, line := range lines {
			if b.Len()+len(line)+len(closing)+len(footer)+noteRoom > markdownLimit {
				break
			}
			b.WriteString(line)
			kept++
		}
		cutLines += len(lines) - kept
		if kept > 0 {
			b.WriteString(closing)
		}
	}
	if cutLines > 0 {
		fmt.Fprintf(b, "_%d more line(s) were left out to keep this comment under %d characters; run %s for the full plan._\n\n", cutLines, markdownLimit, mdCode(command))
	}
	b.WriteString(footer)
	return b.String()
}

// The escapers. Everything a plan holds came from the directory, the
// target or a plan file anyone could have edited, so none of it is
// written as Markdown: values (keys, DNs, field values, names) go into
// code spans, where nothing is interpreted, and text (reasons, warnings,
// the limits line) is escaped so that it renders as written. Both show
// non-printable characters as escapes (plain: "\x1b", "\n", "\u202e"), so
// no CR or LF can end a table row or list item early and no bidi control
// can reorder the comment around it.

// mdCode returns s as a code span: fenced with one backtick more than the
// longest run of backticks in s, padded with a space where CommonMark
// would otherwise strip or merge one. For text outside tables.
func mdCode(s string) string {
	s = plain(s)
	if s == "" {
		return "` `" // "``" would be literal backticks, not an empty span
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		(strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.Trim(s, " ") != "") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell is mdCode for a table cell: GFM splits a row at every pipe not
// preceded by a backslash, code spans included, and takes "\|" back out
// as "|" before rendering the span.
func mdCell(s string) string {
	return strings.ReplaceAll(mdCode(s), "|", `\|`)
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			n = 0
			continue
		}
		n++
		longest = max(longest, n)
	}
	return longest
}

// mdInline are the ASCII punctuation characters that can start inline
// Markdown (links, images, emphasis, code, HTML, autolinks, entities,
// strikethrough, table cells, GitHub math): always backslash-escaped.
const mdInline = "\\`*[]()!<>|~&$"

// mdText escapes s to render as written, in a paragraph, list item,
// quote or table cell: a backslash before every character in mdInline,
// before "_" unless it is inside a word (where CommonMark ignores it, so
// missing_from_directory stays readable), before a character that would
// start a block at the beginning, after spaces only ("#", "-", "+", "=",
// "1." or "1)"), and before the ":" of "://" and the "." of "www." so
// that GitHub does not turn a bare address into a link (best effort:
// GitHub's autolinker is not specified; the escapes render as the plain
// characters either way). It does not stop GitHub's @mentions and #123
// references, which GitHub finds in the rendered text: only a code span
// keeps those inert.
func mdText(s string) string {
	s = plain(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if mdNeedsEscape(s, i) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mdNeedsEscape reports whether mdText escapes the byte s[i].
func mdNeedsEscape(s string, i int) bool {
	c := s[i]
	switch {
	case strings.IndexByte(mdInline, c) >= 0:
		return true
	case c == '_':
		return !(wordBefore(s, i) && wordAfter(s, i+1))
	case strings.IndexByte("#-+=", c) >= 0 && strings.TrimLeft(s[:i], " ") == "":
		return true
	case (c == '.' || c == ')') && atListNumber(s[:i]):
		return true // "1." or "1)" would start an ordered list
	case c == ':' && strings.HasPrefix(s[i:], "://"):
		return true
	case c == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www"):
		return true
	}
	return false
}

// atListNumber reports whether prefix is digits after optional spaces:
// a "." or ")" after it would start an ordered list.
func atListNumber(prefix string) bool {
	digits := strings.TrimLeft(prefix, " ")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// wordBefore reports a letter or digit just before s[i].
func wordBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return i > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// wordAfter reports a letter or digit at s[i].
func wordAfter(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return i < len(s) && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// mdRoleSection is the security-role changes as one table near the top:
// who gains or loses which role, where, and why. Roles are rights, so
// the reviewer sees them before the long lists.
func mdRoleSection(l listing, changes []engine.Change) string {
	var roles []engine.Change
	for _, c := range changes {
		if c.Role != "" {
			roles = append(roles, c)
		}
	}
	if len(roles) == 0 {
		return ""
	}
	var d strings.Builder
	fmt.Fprintf(&d, "### Security roles (%d)\n\n| user | change | role | projects | reason |\n|---|---|---|---|---|\n", len(roles))
	shown := l.shown(len(roles))
	for _, c := range roles[:shown] {
		where := "its projects only"
		switch {
		case c.Project != "":
			where = mdCell(c.Project)
		case c.AllOpenProjects:
			where = "all open projects"
		case c.Action == engine.ActionRemoveRole:
			where = "every project"
		}
		fmt.Fprintf(&d, "| %s | %s %s | %s | %s | %s |\n", mdCell(c.Key), actionStyles[c.Action].symbol, mdCell(string(c.Action)), mdCell(c.Role), where, mdText(c.Why()))
	}
	d.WriteString(mdMore(l, shown, len(roles), "role change", "role changes", "\n"))
	return d.String() + "\n"
}
