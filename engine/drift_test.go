package engine

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

func TestDrift(t *testing.T) {
	w := newWorld()
	p := w.plan(t, clock)
	if _, err := Apply(context.Background(), w.applyReq(p)); err != nil {
		t.Fatal(err)
	}
	drift := func() *DriftReport {
		t.Helper()
		prior, _ := w.state.Load()
		rep, err := Drift(context.Background(), DriftRequest{Sources: []Source{w.src}, Mapper: w.mapper, Target: w.target, Policy: w.policy, LastApplied: prior, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := drift()
	if rep.Count(DriftPending) != 0 || rep.Count(DriftOutOfBand) != 0 || rep.Count(DriftUnmanaged) != 1 || rep.Items[0].Key != "zoe" {
		t.Fatalf("after apply only zoe is unmanaged: %+v", rep.Items)
	}
	w.target.accounts["id-z"].Active = false
	if drift().HasDrift() {
		t.Fatalf("in sync, but drift found")
	}

	// The directory moves on; someone edits ftrack by hand.
	w.src.entries[0] = entry("alice", "alice@new.example.com", "Alice", "Smith", "sid-a", "groups=Artists")
	w.target.accounts["id-f"].LastName = "Hand" // plan would revert it
	w.target.accounts["id-e"].Active = false    // plan would reactivate
	w.target.accounts["id-z"].Active = true
	rep = drift()
	type row struct {
		Key, Kind, Action, Field string
		Desired, Actual, Last    any
	}
	var got []row
	val := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	for _, it := range rep.Items {
		for _, f := range it.Fields {
			got = append(got, row{it.Key, string(it.Kind), string(it.Action), f.Field, val(f.Desired), val(f.Actual), val(f.LastApplied)})
		}
	}
	want := []row{
		{"alice", "pending", "update", "email", "alice@new.example.com", "asmith@example.com", "asmith@example.com"},
		{"erin", "out_of_band", "reactivate", "is_active", "true", "false", "true"},
		{"frank", "out_of_band", "update", "last_name", "F", "Hand", "F"},
		{"zoe", "unmanaged", "", "username", nil, "zoe", nil},
	}
	if !reflect.DeepEqual(got, want) {
		b, _ := json.MarshalIndent(rep.Items, "", " ")
		t.Fatalf("drift items:\n got %v\nwant %v\n%s", got, want, b)
	}

	// A hand edit the plan would not revert is still out of band: a
	// managed group membership removed by hand when the directory agrees.
	w.target.accounts["id-f"].LastName = "F"
	w.target.accounts["id-e"].Active = true
	w.src.entries[0] = entry("alice", "asmith@example.com", "Alice", "Smith", "sid-a")
	w.target.accounts["id-a"].Groups = nil
	w.target.accounts["id-z"].Active = false
	rep = drift()
	if len(rep.Items) != 1 || rep.Items[0].Kind != DriftOutOfBand || rep.Items[0].Key != "alice" || rep.Items[0].Fields[0].Field != "membership:Artists" ||
		*rep.Items[0].Fields[0].Actual != "absent" || *rep.Items[0].Fields[0].LastApplied != "member" {
		b, _ := json.MarshalIndent(rep.Items, "", " ")
		t.Fatalf("membership removed by hand:\n%s", b)
	}
}

func TestDriftNoState(t *testing.T) {
	w := newWorld()
	rep, err := Drift(context.Background(), DriftRequest{Sources: []Source{w.src}, Mapper: w.mapper, Target: w.target, Policy: w.policy, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	p := w.plan(t, clock)
	// Without last-applied everything a plan would do is pending.
	pend := 0
	for _, it := range rep.Items {
		if it.Kind == DriftOutOfBand {
			t.Errorf("out_of_band without state: %+v", it)
		}
		if it.Kind == DriftPending {
			pend++
		}
	}
	if pend != len(p.Changes) {
		t.Fatalf("%d pending items for %d planned changes", pend, len(p.Changes))
	}
}
