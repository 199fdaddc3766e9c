package engine

import (
	"context"
	"fmt"
	"testing"
)

// benchWorld is n directory users and n ftrack accounts, a tenth of them
// differing.
func benchWorld(n int) ([]Source, *fakeTarget) {
	src := &fakeSource{name: "corp"}
	var accts []Account
	for i := range n {
		uid := fmt.Sprintf("user%05d", i)
		src.entries = append(src.entries, entry(uid, uid+"@example.com", "First", "Last", "sid-"+uid, "groups=Artists"))
		email := uid + "@example.com"
		if i%10 == 0 {
			email = uid + "@old.example.com"
		}
		accts = append(accts, owned("id-"+uid, uid, email, "First", "Last", "sid-"+uid, "Artists"))
	}
	return []Source{src}, newTarget(accts...)
}

func BenchmarkBuildPlan10k(b *testing.B) {
	srcs, tgt := benchWorld(10000)
	m := &fakeMapper{name: "users", groups: true}
	b.ResetTimer()
	for b.Loop() {
		p, err := BuildPlan(context.Background(), planReq(srcs, m, tgt, DefaultPolicy()))
		if err != nil || p.Summary.Update != 1000 {
			b.Fatalf("%v %+v", err, p.Summary)
		}
	}
}

func BenchmarkMarshalUnmarshalPlan10k(b *testing.B) {
	srcs, tgt := benchWorld(10000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, tgt, DefaultPolicy()))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		data, err := MarshalPlan(p, []byte("k"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := UnmarshalPlan(data, ReadOptions{Key: []byte("k")}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyVerify10kCreates measures apply's checks (the directory
// re-read, the fresh diff and every change's verification) for a plan of
// 10,000 creates, before its first write.
func BenchmarkApplyVerify10kCreates(b *testing.B) {
	srcs, _ := benchWorld(10000)
	tgt := newTarget() // an empty ftrack: every user is a create
	mapper := &fakeMapper{name: "users", groups: true}
	req := planReq(srcs, mapper, tgt, DefaultPolicy())
	req.LastApplied = NewLastApplied("lineage-1")
	p := mustPlan(b, req)
	ar := ApplyRequest{Plan: p, Target: tgt, Policy: DefaultPolicy(), Mapper: mapper, Sources: srcs, VerifySource: true}
	for b.Loop() {
		fresh, accounts, err := derive(context.Background(), ar, req.LastApplied, clock)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := verifyChanges(ar, p.Changes, accounts, fresh.view.targetGroups, fresh, nil); err != nil {
			b.Fatal(err)
		}
	}
}
