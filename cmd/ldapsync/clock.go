package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// nowEnv names the clock override: an RFC 3339 time (for example
// LDAPSYNC_NOW=2030-01-02T03:04:05Z) that every command takes as the
// current time instead of the wall clock. It exists for tests, so that
// plan expiry and the grace period can be exercised without sleeping; it
// is not meant for production. It moves only ldapsync's own decisions
// (created_at, expires_at and the expiry check, missing-since and grace
// periods, drift's report time), not TLS certificate checks or timeouts.
// Whoever sets the environment of apply could also make a new plan, so
// the override grants nothing new; apply still warns when it is set.
const nowEnv = "LDAPSYNC_NOW"

// warnClock makes sure the override is announced once per process.
var warnClock sync.Once

// now returns the current time in UTC: the wall clock, or the time in
// LDAPSYNC_NOW when that is set. A value that is not an RFC 3339 time
// ends the process with an error rather than silently using the wall
// clock, which would let a test pass for the wrong reason.
func now() time.Time {
	v := os.Getenv(nowEnv)
	if v == "" {
		return time.Now().UTC()
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		flushStdout()
		fmt.Fprintf(os.Stderr, "Error: %s=%q is not an RFC 3339 time (e.g. 2030-01-02T03:04:05Z)\n", nowEnv, v)
		os.Exit(exitError)
	}
	warnClock.Do(func() {
		flushStdout()
		fmt.Fprintf(os.Stderr, "Warning: %s is set: the clock reads %s, not the wall clock (for tests only)\n", nowEnv, t.UTC().Format(time.RFC3339Nano))
	})
	return t.UTC()
}
