package ftrack

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// BenchmarkExecuteCreatesLatency20ms creates 9,500 users in one Execute
// call (batch 100, parallelism 4) against the emulator answering every
// request 20 ms late, and reports the wall time against the ideal
// ceil(operations / 100) / 4 × 20 ms: the client and the emulator alone,
// without apply's checks and journal around them.
//
//	go test -run X -bench ExecuteCreatesLatency -benchtime 3x ./providers/ftrack/
func BenchmarkExecuteCreatesLatency20ms(b *testing.B) {
	const n, latency = 9500, 20 * time.Millisecond
	var ratio float64
	for i := range b.N {
		b.StopTimer()
		var mu sync.Mutex
		var served time.Duration
		s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey, Log: func(_ string, args ...any) {
			if d, ok := args[len(args)-1].(time.Duration); ok {
				mu.Lock()
				served += d
				mu.Unlock()
			}
		}})
		tg, err := NewTarget("bench", testSettings(s.URL))
		if err != nil {
			b.Fatal(err)
		}
		changes := make([]engine.Change, n)
		for k := range changes {
			changes[k] = createChange(fmt.Sprintf("r%d-u%05d", i, k), fmt.Sprintf("r%d-u%05d", i, k), fmt.Sprint(k))
		}
		s.Emulator.SetFaults(ftracktest.Faults{Latency: latency})
		b.StartTimer()
		start := time.Now()
		for _, r := range tg.Execute(context.Background(), changes) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		wall := time.Since(start)
		b.StopTimer()
		st := tg.Stats()
		ideal := math.Ceil(float64(st.Operations)/100) / 4 * latency.Seconds()
		ratio += wall.Seconds() / ideal
		b.Logf("%d requests, %.1f ms each on average at the emulator, wall %s", st.Requests, served.Seconds()*1000/float64(st.Requests), wall.Round(time.Millisecond))
		s.Close()
	}
	b.ReportMetric(ratio/float64(b.N), "x-ideal")
}
