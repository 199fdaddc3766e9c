package main

import (
	"fmt"
	"io"
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
	mem := os.Getenv("LDAPSYNC_MEMPROFILE")
	var stops []func()
	// stream starts a recording into the file the variable names.
	stream := func(variable string, start func(io.Writer) error, stop func()) {
		path := os.Getenv(variable)
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err == nil {
			err = start(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "Warning: %s: %v\n", variable, err)
			return
		}
		stops = append(stops, func() { stop(); f.Close() })
	}
	stream("LDAPSYNC_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile)
	stream("LDAPSYNC_TRACE", trace.Start, trace.Stop)
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
