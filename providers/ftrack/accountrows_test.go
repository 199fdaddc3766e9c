package ftrack

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestAccountRowsMarkersAsAfterTheRead: markers taken as they arrive,
// before or after their account's row, with repeated markers and a
// repeated user id, end up as applying them all after the read, in
// arrival order, to the last row of their id (what ReadAccounts did).
func TestAccountRowsMarkersAsAfterTheRead(t *testing.T) {
	type event struct {
		row            bool
		id, key, value string
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		var events []event
		for range 60 {
			id := fmt.Sprintf("u%d", r.IntN(15))
			if r.IntN(3) == 0 {
				events = append(events, event{row: true, id: id})
				continue
			}
			key := []string{MetaOwner, MetaSourceID, "other.key"}[r.IntN(3)]
			events = append(events, event{id: id, key: key, value: fmt.Sprintf("v%d", len(events))})
		}
		a := newAccountRows()
		var rowIDs []string
		for _, e := range events {
			if e.row {
				a.add(acctRow{id: e.id})
				rowIDs = append(rowIDs, e.id)
			} else {
				a.marker(e.id, e.key, e.value)
			}
		}
		a.finish()
		// The reference: every marker after the read, in order, onto the
		// last row of its id.
		last := map[string]int{}
		for i, id := range rowIDs {
			last[id] = i
		}
		owner, sid := make([]string, len(rowIDs)), make([]string, len(rowIDs))
		for _, e := range events {
			i, ok := last[e.id]
			if e.row || !ok {
				continue
			}
			switch e.key {
			case MetaOwner:
				owner[i] = e.value
			case MetaSourceID:
				sid[i] = e.value
			}
		}
		for i := range rowIDs {
			if got := a.rows.at(i); got.owner != owner[i] || got.sourceID != sid[i] {
				t.Fatalf("seed %d: row %d (%s): owner %q source_id %q, want %q %q", seed, i, rowIDs[i], got.owner, got.sourceID, owner[i], sid[i])
			}
		}
	}
}
