package main

// Markdown rendering for pull-request comments. Code hosts cap comments
// (GitHub at 65,536 characters), so the document is built in sections of
// decreasing importance — summary, block, warnings, deactivations, then
// per-user details — and cut at markdownLimit with a note of what was left
// out. Everything the reviewer must see comes before the cut.

import (
	"fmt"
	"strings"

	"github.com/ldapsync/ldapsync/engine"
)

// markdownLimit keeps a comment under code hosts' size caps.
const markdownLimit = 60000

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "`", "'", "\n", " ")
	return r.Replace(s)
}

// planMarkdown renders a plan for a pull-request comment.
func planMarkdown(p *engine.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## ldapsync plan for %s `%s`\n\n", p.Target.Type, mdEscape(p.Target.Name))
	if p.IsBlocked() {
		b.WriteString("> [!CAUTION]\n> **This plan is blocked by a safety policy and cannot be applied.**\n")
		for _, r := range p.Blocked.Reasons {
			fmt.Fprintf(&b, "> - %s\n", mdEscape(r))
		}
		b.WriteString("\n")
	} else if p.Blocked != nil && len(p.Blocked.Reasons) > 0 {
		b.WriteString("> [!WARNING]\n> **Safety limits were overridden with `-force`:**\n")
		for _, r := range p.Blocked.Reasons {
			fmt.Fprintf(&b, "> - %s\n", mdEscape(r))
		}
		b.WriteString("\n")
	}
	s := p.Summary
	b.WriteString("| create | update | deactivate | reactivate | adopt | add membership | remove membership | unchanged | skipped | conflicts |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n\n",
		s.Create, s.Update, s.Deactivate, s.Reactivate, s.Adopt, s.AddMembership, s.RemoveMembership, s.Unchanged, s.Skipped, len(p.Conflicts))
	if line := limitsLine(p.Limits); line != "" {
		fmt.Fprintf(&b, "%s\n\n", mdEscape(line))
	}
	fmt.Fprintf(&b, "Plan `%s`, created %s, expires %s. Sources:", p.PlanID, p.CreatedAt, p.ExpiresAt)
	for _, src := range p.Sources {
		fmt.Fprintf(&b, " %s `%s` (%d entries)", src.Type, mdEscape(src.Name), src.Entries)
	}
	b.WriteString(".\n\n")

	sections := []string{}
	if len(p.Warnings) > 0 {
		var w strings.Builder
		w.WriteString("### Warnings\n\n")
		for _, x := range p.Warnings {
			fmt.Fprintf(&w, "- %s\n", mdEscape(x))
		}
		sections = append(sections, w.String()+"\n")
	}
	if len(p.Conflicts) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "### Conflicts (%d)\n\nNone of these entries is applied until the directory is fixed.\n\n| user | source | DN |\n|---|---|---|\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			for _, e := range c.Entries {
				fmt.Fprintf(&d, "| `%s` | `%s` | `%s` |\n", mdEscape(c.Key), mdEscape(e.Source), mdEscape(e.DN))
			}
		}
		sections = append(sections, d.String()+"\n")
	}
	groups := groupChanges(p.Changes)
	if list := groups[engine.ActionDeactivate]; len(list) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "### Deactivations (%d)\n\n| user | reason |\n|---|---|\n", len(list))
		for _, c := range list {
			fmt.Fprintf(&d, "| `%s` | %s |\n", mdEscape(c.Key), mdEscape(c.Why()))
		}
		sections = append(sections, d.String()+"\n")
	}
	for _, a := range actionOrder {
		list := groups[a]
		if len(list) == 0 {
			continue
		}
		st := actionStyles[a]
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>%s %s (%d)</summary>\n\n", st.symbol, st.title, len(list))
		for _, c := range list {
			fmt.Fprintf(&d, "- `%s` %s _(%s)_\n", mdEscape(describe(c)), st.verb, mdEscape(c.Why()))
			for _, f := range diffFields(c) {
				switch {
				case f.hasBefore && f.hasAfter:
					fmt.Fprintf(&d, "  - %s: `%s` → `%s`\n", f.name, mdEscape(f.before), mdEscape(f.after))
				case f.hasAfter:
					fmt.Fprintf(&d, "  - %s: `%s`\n", f.name, mdEscape(f.after))
				default:
					fmt.Fprintf(&d, "  - %s: `%s`\n", f.name, mdEscape(f.before))
				}
			}
		}
		d.WriteString("\n</details>\n\n")
		sections = append(sections, d.String())
	}
	if len(p.Skipped) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "<details><summary>Skipped directory entries (%d)</summary>\n\n| DN | reason |\n|---|---|\n", len(p.Skipped))
		for _, x := range p.Skipped {
			fmt.Fprintf(&d, "| `%s` | %s |\n", mdEscape(x.DN), mdEscape(x.Reason))
		}
		d.WriteString("\n</details>\n\n")
		sections = append(sections, d.String())
	}
	footer := fmt.Sprintf("**%s**\n", planSummaryLine(p))
	return appendWithinLimit(&b, sections, footer)
}

// appendWithinLimit adds sections in order while the whole stays under
// markdownLimit. The first section that does not fit is cut at a line
// boundary (its <details> element closed again); what was left out is
// counted in a closing note.
func appendWithinLimit(b *strings.Builder, sections []string, footer string) string {
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
		fmt.Fprintf(b, "_%d more line(s) were left out to keep this comment under %d characters; run `ldapsync show plan.json` for the full plan._\n\n", cutLines, markdownLimit)
	}
	b.WriteString(footer)
	return b.String()
}
