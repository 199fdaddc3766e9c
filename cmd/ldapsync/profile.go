package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles starts the pprof profiles named by the environment, for
// performance work on the real binary (make bench profiles plan and apply
// this way):
//
//	LDAPSYNC_CPUPROFILE=cpu.out  CPU profile of the whole run
//	LDAPSYNC_MEMPROFILE=mem.out  heap profile (allocations) at exit
//	LDAPSYNC_TRACE=trace.out     execution trace (go tool trace): where
//	                             the wall time goes, goroutine by goroutine
//
// The returned function writes and closes them; it is a no-op when neither
// is set.
func startProfiles(stderr *os.File) func() {
	cpu, mem := os.Getenv("LDAPSYNC_CPUPROFILE"), os.Getenv("LDAPSYNC_MEMPROFILE")
	var stops []func()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "Warning: LDAPSYNC_CPUPROFILE: %v\n", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if tr := os.Getenv("LDAPSYNC_TRACE"); tr != "" {
		f, err := os.Create(tr)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "Warning: LDAPSYNC_TRACE: %v\n", err)
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	if mem != "" {
		stops = append(stops, func() {
			f, err := os.Create(mem)
			if err == nil {
				runtime.GC()
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "Warning: LDAPSYNC_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
