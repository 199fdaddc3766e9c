package main

import (
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// TestMigrateDestination: migrate copies into an empty destination or
// over an older copy of the same state, and refuses to replace another
// state or roll one back (a higher serial, or a journal entry the copy
// lacks: a replay would then pass the journal).
func TestMigrateDestination(t *testing.T) {
	state := func(lineage string, serial int64, plans ...string) *engine.LastApplied {
		la := engine.NewLastApplied(lineage)
		la.Serial, la.Exists = serial, true
		for _, p := range plans {
			la.Plans[p] = engine.AppliedPlan{Status: engine.PlanApplied}
		}
		return la
	}
	src := state("L", 3, "p1", "p2")
	for _, tc := range []struct {
		name string
		dst  *engine.LastApplied
		want string // "" allowed
	}{
		{"empty", engine.NewLastApplied("fresh"), ""},
		{"older copy", state("L", 2, "p1"), ""},
		{"same", state("L", 3, "p1", "p2"), ""},
		{"another lineage", state("M", 1), "another state than the one being copied"},
		{"newer", state("L", 4, "p1", "p2"), "it would be rolled back"},
		{"journal ahead", state("L", 3, "p1", "p9"), "its journal has plan p9"},
	} {
		err := checkMigrateDestination(src, tc.dst, "state file x")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
