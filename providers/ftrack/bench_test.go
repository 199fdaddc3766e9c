package ftrack

import (
	"context"
	"fmt"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// BenchmarkExecuteCreates measures creating users through the Target
// against the emulator and reports requests and operations per user.
func BenchmarkExecuteCreates(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey})
		tg, err := NewTarget("bench", testSettings(s.URL))
		if err != nil {
			b.Fatal(err)
		}
		changes := make([]engine.Change, n)
		for i := range changes {
			changes[i] = createChange(fmt.Sprintf("u%05d", i), fmt.Sprintf("u%05d", i), fmt.Sprint(i))
		}
		b.StartTimer()
		for _, r := range tg.Execute(context.Background(), changes) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		b.StopTimer()
		st := tg.Stats()
		b.ReportMetric(float64(st.Requests)/n, "requests/user")
		b.ReportMetric(float64(st.Operations)/n, "ops/user")
		s.Close()
	}
}
