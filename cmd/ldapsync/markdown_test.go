package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// bigPlan returns a plan with n creates and one deactivation.
func bigPlan(n int) *engine.Plan {
	p := &engine.Plan{PlanID: "p", Target: engine.TargetInfo{Type: "ftrack", Name: "studio"}}
	p.Changes = append(p.Changes, engine.Change{Address: "user.leaver", Action: engine.ActionDeactivate, Reason: "missing_from_directory", Key: "leaver",
		Before: &engine.Fields{IsActive: engine.Bool(true)}, After: &engine.Fields{IsActive: engine.Bool(false)}})
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("user%06d", i)
		p.Changes = append(p.Changes, engine.Change{Address: "user." + key, Action: engine.ActionCreate, Reason: "new_in_directory", Key: key,
			After: &engine.Fields{Username: engine.Str(key), Email: engine.Str(key + "@example.com")}})
	}
	p.Summary.Create = n
	p.Summary.Deactivate = 1
	return p
}

func TestPlanMarkdownStaysUnderLimitAndKeepsDeactivationsFirst(t *testing.T) {
	// -verbose: every create, so the comment reaches the limit (without
	// it, 50 creates are listed and the rest counted).
	md := planMarkdownListing(bigPlan(5000), listingFor(true, "plan.json", "show"))
	if len(md) > markdownLimit {
		t.Fatalf("markdown is %d characters, limit %d", len(md), markdownLimit)
	}
	if !strings.Contains(md, "left out") {
		t.Errorf("a cut plan must say what was left out")
	}
	deact := strings.Index(md, "### Deactivations (1)")
	creates := strings.Index(md, "Creates (5000)")
	if deact < 0 || creates < 0 || deact > creates {
		t.Errorf("deactivations must come before creates (deactivations at %d, creates at %d)", deact, creates)
	}
	if strings.Count(md, "<details>") != strings.Count(md, "</details>") {
		t.Errorf("unbalanced <details> elements")
	}
	if !strings.HasSuffix(strings.TrimSpace(md), "**Plan: 5000 to create, 0 to update, 1 to deactivate.**") {
		t.Errorf("the summary line must close the comment; got tail %q", md[len(md)-120:])
	}
}

func TestPlanMarkdownSmallPlanIsComplete(t *testing.T) {
	md := planMarkdown(bigPlan(3))
	if strings.Contains(md, "left out") {
		t.Errorf("a small plan must not be cut")
	}
	for _, want := range []string{"user000000", "user000002", "| 3 | 0 | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// conflictPlan is a plan whose only news is a conflict between sources.
func conflictPlan() *engine.Plan {
	p := &engine.Plan{PlanID: "p", Target: engine.TargetInfo{Type: "ftrack", Name: "studio"},
		Conflicts: []engine.Conflict{{Key: "bob", Reason: "username claimed by entries of more than one source; none is applied",
			Entries: []engine.ConflictEntry{{Source: "corp", DN: "uid=bob,ou=a"}, {Source: "branch", DN: "uid=bob,ou=b"}}}}}
	p.Summary.Conflicts = 2
	return p
}

// TestConflictsAreRendered: a plan whose only news is a conflict never
// reads as "ftrack matches the directory", in text or Markdown.
func TestConflictsAreRendered(t *testing.T) {
	var text strings.Builder
	newRenderer(&text, false).Plan(conflictPlan())
	for _, want := range []string{"No changes, but the directory has conflicts", "Conflicts (1)", "user.bob", "source branch: uid=bob,ou=b", "1 username in conflict."} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "ftrack matches the directory") {
		t.Errorf("text plan says ftrack matches:\n%s", text.String())
	}
	md := planMarkdown(conflictPlan())
	for _, want := range []string{"### Conflicts (1)", "| `bob` | `branch` | `uid=bob,ou=b` |", "| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestRenderOrderIsApplyOrder: the text plan lists its groups in the
// order apply executes them.
func TestRenderOrderIsApplyOrder(t *testing.T) {
	p := &engine.Plan{PlanID: "p"}
	for _, a := range engine.ApplyOrder() {
		p.Changes = append(p.Changes, engine.Change{Address: "user.x", Action: a, Key: "x", Group: "G"})
	}
	var text strings.Builder
	newRenderer(&text, false).Plan(p)
	last := -1
	for _, a := range engine.ApplyOrder() {
		i := strings.Index(text.String(), actionStyles[a].title+" (")
		if i <= last {
			t.Fatalf("%s is shown out of apply order:\n%s", a, text.String())
		}
		last = i
	}
}
