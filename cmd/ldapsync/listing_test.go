package main

import (
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// TestTextPlanCutsLongLists: a list longer than maxListed shows its first
// maxListed items and a line counting the rest and saying how to see
// them; -verbose shows every item; a list of maxListed items is whole.
func TestTextPlanCutsLongLists(t *testing.T) {
	p := bigPlan(95000)
	text := renderText(p)
	if n := strings.Count(text, " will be created "); n != maxListed {
		t.Errorf("%d creates listed, want %d", n, maxListed)
	}
	want := "\n  … and 94,950 more creates (ldapsync show -verbose plan.json, or -json)\n"
	if !strings.Contains(text, want) {
		t.Errorf("no %q in:\n%s", want, lastLines(text, 8))
	}
	if !strings.Contains(text, "Creates (95000)") || !strings.Contains(text, "Plan: 95000 to create, 0 to update, 1 to deactivate.") {
		t.Errorf("the counts must stay complete:\n%s", lastLines(text, 8))
	}
	if !strings.Contains(text, "user.leaver will be deactivated") {
		t.Errorf("a short list must stay whole")
	}

	var b strings.Builder
	r := newRenderer(&b, false)
	r.list = listingFor(true, "plan.json", "show")
	r.Plan(p)
	if n := strings.Count(b.String(), " will be created "); n != 95000 || strings.Contains(b.String(), "more creates") {
		t.Errorf("-verbose listed %d creates, want all 95000 and no cut line", n)
	}

	whole := renderText(bigPlan(maxListed))
	if n := strings.Count(whole, " will be created "); n != maxListed || strings.Contains(whole, "… and") {
		t.Errorf("a list of exactly %d must be whole (%d listed)", maxListed, n)
	}
	one := renderText(bigPlan(maxListed + 1))
	if !strings.Contains(one, "… and 1 more create (") {
		t.Errorf("one hidden create is counted in the singular:\n%s", lastLines(one, 6))
	}
}

// TestListingHints: the cut line names the command that shows everything
// for the plan at hand.
func TestListingHints(t *testing.T) {
	for _, c := range []struct {
		path, command, more, md string
	}{
		{"plan.json", "plan", "ldapsync show -verbose plan.json, or -json", "ldapsync show -verbose plan.json"},
		{"my plans/p.json", "show", "ldapsync show -verbose 'my plans/p.json', or -json", "ldapsync show -verbose 'my plans/p.json'"},
		{"", "plan", "ldapsync plan -verbose, or -json", "ldapsync plan -verbose"},
		{"", "sync", "ldapsync sync -verbose", "ldapsync sync -verbose"},
	} {
		l := listingFor(false, c.path, c.command)
		if l.more != c.more || l.command != c.md {
			t.Errorf("listingFor(%q, %q) = %q / %q, want %q / %q", c.path, c.command, l.more, l.command, c.more, c.md)
		}
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
	if got := thousands(950); got != "950" {
		t.Errorf("thousands = %q", got)
	}
}

// TestMarkdownCutsLongLists: the comment lists maxListed creates and
// counts the rest inside the details element; the summary table is
// whole and nothing is cut at the character limit.
func TestMarkdownCutsLongLists(t *testing.T) {
	md := planMarkdown(bigPlan(95000))
	if n := strings.Count(md, " will be created "); n != maxListed {
		t.Errorf("%d creates listed, want %d", n, maxListed)
	}
	for _, want := range []string{"| 95000 | 0 | 1 |", "- … and 94,950 more creates: `ldapsync show -verbose plan.json`\n\n</details>", "**Plan: 95000 to create, 0 to update, 1 to deactivate.**"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "left out") {
		t.Errorf("a capped comment of one long list needs no cut")
	}
	if problems := mdProblems(md); len(problems) > 0 {
		t.Errorf("markdown problems: %v", problems)
	}
	p := bigPlan(10)
	for i := range 120 {
		p.Changes = append(p.Changes, engine.Change{Address: "user.gone" + thousands(i), Action: engine.ActionDeactivate, Key: "gone", Reason: "missing_from_directory"})
	}
	md = planMarkdown(p)
	if !strings.Contains(md, "\n… and 71 more deactivations: `ldapsync show -verbose plan.json`\n") {
		t.Errorf("the deactivations table must count what it leaves out:\n%s", md)
	}
	if problems := mdProblems(md); len(problems) > 0 {
		t.Errorf("markdown problems: %v", problems)
	}
}
