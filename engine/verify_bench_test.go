package engine

import (
	"context"
	"testing"
)

// BenchmarkVerifyChanges10kCreates measures verifyChanges alone (the
// directory and ftrack already read) for the plan of the scale
// benchmark's apply: 10,000 creates, no groups.
//
//	go test -run X -bench VerifyChanges10k -benchmem ./engine
func BenchmarkVerifyChanges10kCreates(b *testing.B) {
	srcs, _ := benchWorld(10000)
	tgt := newTarget()
	mapper := &fakeMapper{name: "users", groups: false}
	req := planReq(srcs, mapper, tgt, DefaultPolicy())
	req.LastApplied = NewLastApplied("lineage-1")
	p := mustPlan(b, req)
	ar := ApplyRequest{Plan: p, Target: tgt, Policy: DefaultPolicy(), Mapper: mapper, Sources: srcs, VerifySource: true}
	fresh, accounts, err := derive(context.Background(), ar, req.LastApplied, clock)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if pending, _, err := verifyChanges(ar, p.Changes, accounts, fresh.view.targetGroups, fresh, nil); err != nil || len(pending) != len(p.Changes) {
			b.Fatalf("%v; %d of %d changes pending", err, len(pending), len(p.Changes))
		}
	}
}
