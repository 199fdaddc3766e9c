package engine

import (
	"fmt"
	"slices"
	"sort"
)

// Conflict is a username claimed by entries of different sources; none of
// them is applied until the directory is fixed.
type Conflict struct {
	Key     string          `json:"key"`
	Reason  string          `json:"reason"`
	Entries []ConflictEntry `json:"entries"`
}

// ConflictEntry is one side of a conflict.
type ConflictEntry struct {
	Source   string `json:"source"`
	DN       string `json:"dn"`
	SourceID string `json:"source_id,omitempty"`
}

// maxPrecedenceNotes caps the precedence warnings listed one by one.
const maxPrecedenceNotes = 10

// dedupe leaves one desired user per key in v.desired. A key of one user
// keeps it; the same entry (one stable id) read through several sources
// keeps the one of the source declared first, with a warning; entries of
// different sources are a conflict; several entries of one source are
// skipped as duplicates. Conflicting and duplicate keys are held.
//
// A stable sort by key makes each key's users one run of users, in source
// order (each source is sorted by key already, so one source costs a
// check, not a sort). desired is compacted into users' own array: each
// run appends at most one user, at an index no later than the run's
// start, and only after the run has been read.
func dedupe(v *view, users []User, rank map[string]int) {
	if !sort.SliceIsSorted(users, func(i, j int) bool { return users[i].Key < users[j].Key }) {
		sort.SliceStable(users, func(i, j int) bool { return users[i].Key < users[j].Key })
	}
	v.desired = users[:0]
	for start := 0; start < len(users); {
		end := start + 1
		for end < len(users) && users[end].Key == users[start].Key {
			end++
		}
		run := users[start:end]
		start = end
		if len(run) == 1 {
			v.desired = append(v.desired, run[0])
			continue
		}
		dedupeRun(v, run, rank)
	}
	for i, w := range v.precedence {
		if i == maxPrecedenceNotes {
			v.warnings = append(v.warnings, fmt.Sprintf("… and %d more entries read through several sources; the source declared first takes precedence", len(v.precedence)-i))
			break
		}
		v.warnings = append(v.warnings, w)
	}
	sort.Slice(v.skipped, func(i, j int) bool {
		a, b := v.skipped[i], v.skipped[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.DN != b.DN {
			return a.DN < b.DN
		}
		return a.Reason < b.Reason
	})
}

// dedupeRun decides for the users of one key.
func dedupeRun(v *view, run []User, rank map[string]int) {
	k := run[0].Key
	multiSource := false
	for _, u := range run[1:] {
		if u.Source != run[0].Source {
			multiSource = true
		}
	}
	switch {
	case multiSource && sameSourceID(run):
		// The same directory entry reached through several sources
		// (overlapping bases or filters): the source declared first wins.
		win := run[0]
		for _, u := range run[1:] {
			if rank[u.Source] < rank[win.Source] || rank[u.Source] == rank[win.Source] && u.DN < win.DN {
				win = u
			}
		}
		var others []string
		for _, u := range run {
			if u.Source != win.Source && !slices.Contains(others, u.Source) {
				others = append(others, u.Source)
			}
		}
		sort.Strings(others)
		v.precedence = append(v.precedence, fmt.Sprintf("user.%s: the same entry (stable id %s) is in sources %q and %s; source %q takes precedence", k, win.SourceID, win.Source, quoteAll(others), win.Source))
		v.desired = append(v.desired, win)
	case multiSource:
		v.held[k] = holdDuplicate
		c := Conflict{Key: k, Reason: "username claimed by entries of more than one source; none is applied"}
		for _, u := range run {
			c.Entries = append(c.Entries, ConflictEntry{Source: u.Source, DN: u.DN, SourceID: u.SourceID})
		}
		sort.Slice(c.Entries, func(i, j int) bool {
			if c.Entries[i].Source != c.Entries[j].Source {
				return c.Entries[i].Source < c.Entries[j].Source
			}
			return c.Entries[i].DN < c.Entries[j].DN
		})
		v.conflicts = append(v.conflicts, c)
	default:
		v.held[k] = holdDuplicate
		for _, u := range run {
			v.skipped = append(v.skipped, Skipped{Source: u.Source, DN: u.DN, Reason: fmt.Sprintf("duplicate username %q (%d entries map to it)", k, len(run))})
		}
	}
}

// sameSourceID reports whether every user carries the same non-empty
// stable id.
func sameSourceID(us []User) bool {
	for _, u := range us {
		if u.SourceID == "" || u.SourceID != us[0].SourceID {
			return false
		}
	}
	return true
}
