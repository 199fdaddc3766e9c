package engine

import (
	"context"
	"os"
	"sync"
	"testing"
)

// importPlan95k is the plan of an initial import (issue 17): 95,000
// directory users and an empty ftrack, so 95,000 creates. Built once.
var importPlan95k = sync.OnceValue(func() *Plan {
	srcs, _ := benchWorld(95000)
	p, err := BuildPlan(context.Background(), planReq(srcs, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	if err != nil || p.Summary.Create != 95000 {
		panic(err)
	}
	return p
})

// BenchmarkMarshalPlan95kCreates encodes, checksums and signs the plan of
// an initial import of 95,000 users: what plan -out does after the plan
// is made. b.SetBytes is the file's size, so MB/s is the file's rate.
func BenchmarkMarshalPlan95kCreates(b *testing.B) {
	p := importPlan95k()
	data, err := MarshalPlan(p, []byte("k"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := MarshalPlan(p, []byte("k")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalPlan95kCreates reads and verifies that plan, what
// apply does first.
func BenchmarkUnmarshalPlan95kCreates(b *testing.B) {
	data, err := MarshalPlan(importPlan95k(), []byte("k"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := UnmarshalPlan(data, ReadOptions{Key: []byte("k")}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePlan95kCreates streams that plan to a file (/dev/null):
// what plan -out does, without the plan's bytes in memory.
func BenchmarkWritePlan95kCreates(b *testing.B) {
	p := importPlan95k()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data, _ := MarshalPlan(p, []byte("k"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := WritePlan(f, p, []byte("k")); err != nil {
			b.Fatal(err)
		}
	}
}
