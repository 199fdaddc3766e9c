package engine

import (
	"context"
	"testing"
)

// benchView reads benchWorld(n) once into the diff's input.
func benchView(b *testing.B, n int) *view {
	srcs, tgt := benchWorld(n)
	v, err := collect(context.Background(), readRequest{Sources: srcs, Mapper: &fakeMapper{name: "users", groups: true}, Target: tgt, Policy: DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkDiff100k measures the diff alone (join, lifecycle policy,
// change building) over 100k desired users and 100k accounts, a tenth of
// them differing.
func BenchmarkDiff100k(b *testing.B) {
	v := benchView(b, 100000)
	b.ReportAllocs()
	for b.Loop() {
		d := diff(v, DefaultPolicy(), nil, clock, seqID())
		if len(d.changes) != 10000 {
			b.Fatalf("%d changes", len(d.changes))
		}
	}
}

// BenchmarkMarshalPlan100k measures plan encoding (canonical JSON with
// checksum and signature) of a plan with 10k changes over 100k users.
func BenchmarkMarshalPlan100k(b *testing.B) {
	srcs, tgt := benchWorld(100000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users", groups: true}, tgt, DefaultPolicy()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		data, err := MarshalPlan(p, []byte("k"))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}
