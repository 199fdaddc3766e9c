package ldap_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// benchScaleUsers is the directory size of BenchmarkReadScale;
// LDAPSYNC_BENCH_READ_N overrides it.
func benchScaleUsers(b *testing.B) int {
	if v := os.Getenv("LDAPSYNC_BENCH_READ_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("LDAPSYNC_BENCH_READ_N=%q", v)
		}
		return n
	}
	return 100000
}

// BenchmarkReadScale reads every user of a slapadd-loaded slapd (100,000
// by default) with page size 1000, the same attributes and the same bind,
// three ways in one run: OpenLDAP's ldapsearch -E pr=1000/noprompt (the
// floor on this machine), the source's in-place reader, and the go-ldap
// SearchAsync reader. The Go variants report x-ldapsearch, their time over
// that of ldapsearch runs made between their reads (outside the timer), so
// the ratio holds on a machine whose load changes during the run.
func BenchmarkReadScale(b *testing.B) {
	n := benchScaleUsers(b)
	s := ldaptest.StartSlapd(b, ldaptest.WithLDIF(ldaptest.GenerateUsers(n)))
	set := syncSettings(s)
	set.PageSize = 1000
	probe, err := ldap.New("bench", set)
	if err != nil {
		b.Fatal(err)
	}
	// The attributes Read asks for: the mapping's, the stable id and the
	// preset's disabled rule.
	attrs := append(append(slices.Clone(userAttrs), probe.Settings().IDAttribute), probe.Preset().DisabledAttributes...)
	args := append([]string{"-x", "-LLL", "-H", s.URL, "-D", s.SyncDN, "-w", s.SyncPassword, "-b", ldaptest.UsersDN,
		"-E", "pr=1000/noprompt", probe.Settings().Filter}, attrs...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	ldapsearch := func() time.Duration {
		cmd := exec.Command("ldapsearch", args...)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = devnull, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("ldapsearch: %v\n%s", err, stderr.String())
		}
		return time.Since(start)
	}
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		b.Skip("ldapsearch (ldap-utils) is not installed")
	}
	ldapsearch() // warm slapd's caches
	b.Logf("ldapsearch %s", strings.Join(args, " "))

	b.Run("ldapsearch", func(b *testing.B) {
		for b.Loop() {
			ldapsearch()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	read := func(b *testing.B, src *ldap.Source) {
		b.ReportAllocs()
		var floor time.Duration // ldapsearch, run between the reads
		for b.Loop() {
			b.StopTimer()
			floor += ldapsearch()
			b.StartTimer()
			got := 0
			err := src.Read(context.Background(), userAttrs, func(engine.Entry) error { got++; return nil })
			if err != nil || got != n {
				b.Fatalf("read %d entries: %v", got, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(b.Elapsed().Seconds()/floor.Seconds(), "x-ldapsearch")
	}
	b.Run("inplace", func(b *testing.B) { read(b, newBenchSource(b, set, false)) })
	b.Run("goldap", func(b *testing.B) { read(b, newBenchSource(b, set, true)) })
}

func newBenchSource(b *testing.B, set ldap.Settings, goldap bool) *ldap.Source {
	src, err := ldap.New("bench", set)
	if err != nil {
		b.Fatal(err)
	}
	if goldap {
		ldap.UseGoLDAPReader(src)
	}
	return src
}
