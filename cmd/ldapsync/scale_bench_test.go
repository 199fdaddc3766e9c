package main

// BenchmarkScale is the driver behind `make bench` (issue 7): it measures
// the real ldapsync binary, run as a subprocess so that its peak RSS comes
// from the kernel (rusage ru_maxrss), against a private slapd bulk-loaded
// with slapadd and the ftrack emulator on loopback, at N directory users
// (LDAPSYNC_SCALE_N, default "10000,100000"). It is a benchmark, not a test,
// so `go test ./...` never runs it; run it once with -benchtime 1x.
//
// Per N it measures, interleaving the runs so that they share conditions:
//   - plan in steady state (ftrack already holds every user with the
//     ownership marker, so the plan is empty) against ldapsearch reading the
//     same entries and attributes (-E pr=1000/noprompt) from the same slapd;
//   - plan with 10% changes (a third creates, a third updates, a third
//     deactivations), saving the plan file;
//   - drift on the changed state.
//
// At 10k (LDAPSYNC_SCALE_APPLY_N) it also measures apply of 10,000 creates
// with the emulator adding 20 ms per request against the ideal
// ceil(write operations / batch size) / parallelism × 20 ms, and the same
// apply done the original script's way, one request per user (batch_size =
// the operations of one user, parallelism = 1), on a 1,000-user sample
// extrapolated to 10,000. LDAPSYNC_SCALE_APPLY_ONLY=1 measures only the
// apply cases (at the apply N), skipping plan and drift.
//
// Timings are medians of LDAPSYNC_SCALE_RUNS runs (default 3); peak RSS is
// the largest of those runs. Ratios are reported, never judged. The table
// goes to stdout and the numbers to bin/bench/results.json.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

const (
	scaleAPIKey  = "bench-api-key-0123456789"
	scaleLatency = 20 * time.Millisecond
)

// scaleRow is one line of the results table.
type scaleRow struct {
	Case     string    `json:"case"`
	N        int       `json:"n"`
	WallS    float64   `json:"wall_s"`
	PeakRSS  float64   `json:"peak_rss_mb,omitempty"`
	Baseline string    `json:"baseline,omitempty"`
	BaseS    float64   `json:"baseline_s,omitempty"`
	Ratio    float64   `json:"ratio,omitempty"`
	Requests int64     `json:"requests,omitempty"`
	Ops      int64     `json:"write_operations,omitempty"`
	Note     string    `json:"note,omitempty"`
	Runs     []float64 `json:"runs_s,omitempty"`
}

// scaleRun is one measured subprocess run.
type scaleRun struct {
	wall   time.Duration
	rssMB  float64
	code   int
	stdout string
	stderr string
}

type scaleEnv struct {
	b      *testing.B
	dir    string
	bin    string
	slapd  *ldaptest.Slapd
	ftrack *ftracktest.Server
	env    []string
	attrs  []string
	filter string
	runs   int
	trace  *reqTrace
	// profile is the directory for pprof profiles of every ldapsync run
	// (LDAPSYNC_SCALE_PROFILE); label names the case in the file names.
	profile, label string
}

func BenchmarkScale(b *testing.B) {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		b.Fatalf("ldapsearch is needed for the baseline: %v (Debian: apt-get install ldap-utils)", err)
	}
	ns := scaleInts(b, envOr("LDAPSYNC_SCALE_N", "10000,100000"))
	applyN := scaleInts(b, envOr("LDAPSYNC_SCALE_APPLY_N", "10000"))[0]
	runs := scaleInts(b, envOr("LDAPSYNC_SCALE_RUNS", "3"))[0]
	dir := b.TempDir()
	bin := filepath.Join(dir, "ldapsync")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var rows []scaleRow
	for range b.N { // run with -benchtime 1x
		rows = nil
		for _, n := range ns {
			rows = append(rows, scaleAtN(b, dir, bin, n, runs, n == applyN)...)
		}
	}
	b.StopTimer()
	printScale(rows)
	if err := writeScaleJSON(rows); err != nil {
		b.Fatal(err)
	}
}

// scaleAtN runs every case at n users.
func scaleAtN(b *testing.B, root, bin string, n, runs int, withApply bool) []scaleRow {
	dir := filepath.Join(root, fmt.Sprintf("n%d", n))
	t0 := time.Now()
	slapd, err := ldaptest.StartSlapdProcess(filepath.Join(dir, "slapd"), ldaptest.WithLDIF(ldaptest.GenerateUsers(n)), ldaptest.WithoutTLS())
	if err != nil {
		b.Fatal(err)
	}
	defer slapd.Stop()
	b.Logf("N=%d: slapd loaded with slapadd in %s", n, time.Since(t0).Round(time.Millisecond))
	tr := &reqTrace{}
	opts := ftracktest.Options{APIUser: "admin", APIKey: scaleAPIKey}
	if os.Getenv("LDAPSYNC_SCALE_TRACE") == "1" {
		opts.Log = tr.log
	}
	srv := ftracktest.NewServer(opts)
	defer srv.Close()
	e := &scaleEnv{b: b, dir: dir, bin: bin, slapd: slapd, ftrack: srv, trace: tr, runs: runs, profile: os.Getenv("LDAPSYNC_SCALE_PROFILE")}
	if e.profile != "" {
		if err := os.MkdirAll(e.profile, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	e.env = append(os.Environ(),
		"BENCH_LDAP_URL="+slapd.URL, "BENCH_LDAP_PASSWORD="+slapd.SyncPassword,
		"BENCH_FTRACK_URL="+srv.URL, "FTRACK_API_KEY="+scaleAPIKey, "NO_COLOR=1")
	e.writeConfig("ldapsync.hcl", 100, 4)
	e.queryShape()

	// Initial plan: every user is a create. Its creates seed ftrack.
	e.label = fmt.Sprintf("%d-initial", n)
	first := e.plan("ldapsync.hcl", "initial.plan.json")
	initial := e.readPlan("initial.plan.json")
	if initial.Summary.Create == 0 {
		b.Fatalf("N=%d: initial plan has no creates: %+v\n%s", n, initial.Summary, first.stderr)
	}
	var rows []scaleRow
	if withApply && os.Getenv("LDAPSYNC_SCALE_APPLY_ONLY") == "1" {
		return e.applyRows(initial)
	}

	// 1. steady state
	e.label = fmt.Sprintf("%d-steady", n)
	e.seed(initial, nil)
	var plans, searches []scaleRun
	for range e.runs {
		searches = append(searches, e.ldapsearch())
		r := e.plan("ldapsync.hcl", "")
		if r.code != 0 {
			b.Fatalf("N=%d: steady-state plan is not empty (exit %d):\n%s%s", n, r.code, r.stdout, r.stderr)
		}
		plans = append(plans, r)
	}
	ps, ls := median(plans), median(searches)
	rows = append(rows,
		scaleRow{Case: "ldapsearch -E pr=1000/noprompt (baseline)", N: n, WallS: ls.wall.Seconds(), PeakRSS: ls.rssMB, Runs: walls(searches)},
		scaleRow{Case: "plan, initial import (-out plan.json; one run)", N: n, WallS: first.wall.Seconds(), PeakRSS: first.rssMB,
			Baseline: "ldapsearch", BaseS: ls.wall.Seconds(), Ratio: first.wall.Seconds() / ls.wall.Seconds(),
			Note: fmt.Sprintf("%d creates", initial.Summary.Create), Runs: []float64{first.wall.Seconds()}},
		scaleRow{Case: "plan, steady state (0 changes)", N: n, WallS: ps.wall.Seconds(), PeakRSS: ps.rssMB,
			Baseline: "ldapsearch", BaseS: ls.wall.Seconds(), Ratio: ps.wall.Seconds() / ls.wall.Seconds(), Runs: walls(plans)})

	// 2. 10% changes, and drift on the same state
	e.label = fmt.Sprintf("%d-changes", n)
	summary := e.seed(initial, func(i int) string { return []string{"create", "update", "deactivate"}[i%3] })
	plans = nil
	var drifts []scaleRun
	for range e.runs {
		r := e.plan("ldapsync.hcl", "changes.plan.json")
		if r.code != 2 {
			b.Fatalf("N=%d: plan with changes exited %d:\n%s", n, r.code, r.stderr)
		}
		plans = append(plans, r)
		d := e.cmd("drift", "-config", e.path("ldapsync.hcl"), "-detailed-exitcode")
		if d.code != 2 {
			b.Fatalf("N=%d: drift exited %d:\n%s%s", n, d.code, d.stdout, d.stderr)
		}
		drifts = append(drifts, d)
	}
	got := e.readPlan("changes.plan.json").Summary
	if got.Create != summary["create"] || got.Update != summary["update"] || got.Deactivate != summary["deactivate"] {
		b.Fatalf("N=%d: plan summary %+v, want %v", n, got, summary)
	}
	ps, ds := median(plans), median(drifts)
	note := fmt.Sprintf("%d creates, %d updates, %d deactivations", got.Create, got.Update, got.Deactivate)
	rows = append(rows,
		scaleRow{Case: "plan, 10% changes (-out plan.json)", N: n, WallS: ps.wall.Seconds(), PeakRSS: ps.rssMB,
			Baseline: "ldapsearch", BaseS: ls.wall.Seconds(), Ratio: ps.wall.Seconds() / ls.wall.Seconds(), Note: note, Runs: walls(plans)},
		scaleRow{Case: "drift, 10% changes", N: n, WallS: ds.wall.Seconds(), PeakRSS: ds.rssMB,
			Baseline: "ldapsearch", BaseS: ls.wall.Seconds(), Ratio: ds.wall.Seconds() / ls.wall.Seconds(), Runs: walls(drifts)})

	if withApply {
		rows = append(rows, e.applyRows(initial)...)
	}
	return rows
}

// applyRows measures apply of every create of the initial plan with 20 ms
// latency per request, batched and the original script's way.
func (e *scaleEnv) applyRows(initial *engine.Plan) []scaleRow {
	b := e.b
	n := initial.Summary.Create
	// Batched, as configured by default.
	e.label = fmt.Sprintf("%d-apply", n)
	var applies []applyRun
	for range e.runs {
		e.seedKeep(initial, func(int) bool { return false })
		os.Remove(e.path("ldapsync.state.json"))
		if r := e.plan("ldapsync.hcl", "apply.plan.json"); r.code != 2 {
			b.Fatalf("plan for apply exited %d:\n%s", r.code, r.stderr)
		}
		applies = append(applies, e.apply("ldapsync.hcl", "apply.plan.json"))
	}
	var runs []scaleRun
	for _, a := range applies {
		runs = append(runs, a.scaleRun)
	}
	med := median(runs)
	var batched applyRun
	for _, a := range applies {
		if a.wall == med.wall {
			batched = a
		}
	}
	batched.rssMB = med.rssMB
	batchSize, par := 100, 4
	ideal := math.Ceil(float64(batched.ops)/float64(batchSize)) / float64(par) * scaleLatency.Seconds()
	rows := []scaleRow{{
		Case: fmt.Sprintf("apply, %d creates, 20 ms/request (batch %d, parallelism %d)", n, batchSize, par), N: n,
		WallS: batched.wall.Seconds(), PeakRSS: batched.rssMB, Baseline: "ideal", BaseS: ideal, Ratio: batched.wall.Seconds() / ideal,
		Requests: batched.requests, Ops: batched.ops, Runs: walls(runs),
		Note: fmt.Sprintf("ideal = ceil(%d ops / %d) / %d × 20 ms", batched.ops, batchSize, par),
	}}

	// One request per user: a sample, extrapolated.
	if os.Getenv("LDAPSYNC_SCALE_SERIAL") == "0" {
		return rows
	}
	e.label = fmt.Sprintf("%d-serial", n)
	sample := min(1000, n)
	opsPerUser := int(math.Round(float64(batched.ops) / float64(n)))
	e.writeConfig("serial.hcl", opsPerUser, 1)
	kept := 0
	e.seedKeep(initial, func(int) bool { kept++; return kept > sample })
	os.Remove(e.path("ldapsync.state.json"))
	if r := e.plan("serial.hcl", "serial.plan.json"); r.code != 2 {
		b.Fatalf("plan for the serial apply exited %d:\n%s", r.code, r.stderr)
	}
	serial := e.apply("serial.hcl", "serial.plan.json")
	scale := float64(n) / float64(sample)
	est := serial.wall.Seconds() * scale
	rows = append(rows, scaleRow{
		Case: fmt.Sprintf("apply, one request per user (batch_size %d, parallelism 1)", opsPerUser), N: n,
		WallS: est, PeakRSS: serial.rssMB, Baseline: "batched apply", BaseS: batched.wall.Seconds(), Ratio: est / batched.wall.Seconds(),
		Requests: int64(math.Round(float64(serial.requests) * scale)), Ops: int64(math.Round(float64(serial.ops) * scale)),
		Note: fmt.Sprintf("measured on %d users in %.2f s (%d requests), extrapolated ×%.0f", sample, serial.wall.Seconds(), serial.requests, scale),
	})
	return rows
}

type applyRun struct {
	scaleRun
	requests, ops int64
}

// apply runs `ldapsync apply` with the emulator's latency on and counts
// what reached the emulator.
func (e *scaleEnv) apply(config, planFile string) applyRun {
	em := e.ftrack.Emulator
	em.ResetStats()
	em.SetFaults(ftracktest.Faults{Latency: scaleLatency})
	e.trace.reset()
	r := e.cmd("apply", "-config", e.path(config), e.path(planFile))
	em.SetFaults(ftracktest.Faults{})
	e.trace.report(e.b, time.Now().Add(-r.wall), r.wall)
	if r.code != 0 {
		e.b.Fatalf("apply exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	st := em.Stats()
	return applyRun{scaleRun: r, requests: st.Requests, ops: st.Actions["create"] + st.Actions["update"] + st.Actions["delete"]}
}

// writeConfig writes an HCL configuration in the work directory.
func (e *scaleEnv) writeConfig(name string, batch, par int) {
	cfg := fmt.Sprintf(`source "ldap" "corp" {
  url                      = env("BENCH_LDAP_URL")
  bind_dn                  = %q
  bind_password            = env("BENCH_LDAP_PASSWORD")
  base_dn                  = %q
  schema                   = "openldap"
  page_size                = 1000
  insecure_allow_plaintext = true
}

target "ftrack" "studio" {
  server_url  = env("BENCH_FTRACK_URL")
  api_user    = "admin"
  api_key     = env("FTRACK_API_KEY")
  batch_size  = %d
  parallelism = %d
}

mapping "users" {
  source     = source.ldap.corp
  target     = target.ftrack.studio
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}

policy {
  on_missing  = "deactivate"
  on_disabled = "deactivate"
}

state {
  path = "ldapsync.state.json"
}
`, e.slapd.SyncDN, ldaptest.UsersDN, batch, par)
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		e.b.Fatal(err)
	}
	if err := os.WriteFile(e.path(name), []byte(cfg), 0o644); err != nil {
		e.b.Fatal(err)
	}
}

// queryShape derives the filter and the attribute list ldapsync requests,
// so that ldapsearch reads exactly the same.
func (e *scaleEnv) queryShape() {
	src, err := ldap.New("corp", ldap.Settings{URL: e.slapd.URL, BindDN: e.slapd.SyncDN, BindPassword: "x", BaseDN: ldaptest.UsersDN, Schema: "openldap", InsecureAllowPlaintext: true})
	if err != nil {
		e.b.Fatal(err)
	}
	e.filter = src.Settings().Filter
	e.attrs = append([]string{"givenName", "mail", "sn", "uid", src.Settings().IDAttribute}, src.Preset().DisabledAttributes...)
}

func (e *scaleEnv) path(name string) string { return filepath.Join(e.dir, name) }

// ldapsearch reads the users the way the baseline asks for.
func (e *scaleEnv) ldapsearch() scaleRun {
	args := append([]string{"-x", "-LLL", "-H", e.slapd.URL, "-D", e.slapd.SyncDN, "-w", e.slapd.SyncPassword,
		"-b", ldaptest.UsersDN, "-E", "pr=1000/noprompt", e.filter}, e.attrs...)
	r := e.exec("ldapsearch", args...)
	if r.code != 0 {
		e.b.Fatalf("ldapsearch exited %d: %s", r.code, r.stderr)
	}
	return r
}

// plan runs `ldapsync plan -detailed-exitcode`, saving to out when set.
func (e *scaleEnv) plan(config, out string) scaleRun {
	args := []string{"plan", "-config", e.path(config), "-detailed-exitcode"}
	if out != "" {
		args = append(args, "-out", e.path(out))
	}
	r := e.cmd(args...)
	if r.code != 0 && r.code != 2 {
		e.b.Fatalf("plan exited %d:\n%s", r.code, r.stderr)
	}
	return r
}

func (e *scaleEnv) cmd(args ...string) scaleRun { return e.exec(e.bin, args...) }

// exec runs a command with stdout to a file (so that a pipe never
// throttles it) and measures wall time and peak RSS. The peak RSS comes
// from GNU time (/usr/bin/time -f %M) when it is installed: the rusage of a
// child started straight from this process would count this process's own
// RSS, since Linux carries the pre-exec peak of the vfork-shared memory
// over into the child.
func (e *scaleEnv) exec(name string, args ...string) scaleRun {
	out, err := os.CreateTemp(e.dir, "stdout")
	if err != nil {
		e.b.Fatal(err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	rssFile := out.Name() + ".rss"
	defer os.Remove(rssFile)
	env := e.env
	if e.profile != "" && name == e.bin {
		base := filepath.Join(e.profile, fmt.Sprintf("%s-%s", e.label, args[0]))
		env = append(slices.Clone(env), "LDAPSYNC_CPUPROFILE="+base+".cpu.pprof", "LDAPSYNC_MEMPROFILE="+base+".mem.pprof", "LDAPSYNC_TRACE="+base+".trace")
	}
	var c *exec.Cmd
	if gnuTime != "" {
		c = exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile, name}, args...)...)
	} else {
		c = exec.Command(name, args...)
	}
	var stderr bytes.Buffer
	c.Dir = e.dir
	c.Env = env
	c.Stdout, c.Stderr = out, &stderr
	start := time.Now()
	err = c.Run()
	wall := time.Since(start)
	r := scaleRun{wall: wall, stderr: stderr.String()}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			e.b.Fatalf("%s: %v", name, err)
		}
	}
	r.code = c.ProcessState.ExitCode()
	if gnuTime != "" {
		data, _ := os.ReadFile(rssFile)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		kb, err := strconv.ParseFloat(strings.TrimSpace(lines[len(lines)-1]), 64)
		if err != nil {
			e.b.Fatalf("%s: reading GNU time's output %q: %v", name, data, err)
		}
		r.rssMB = kb / 1024
	} else if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rssMB = float64(ru.Maxrss) / 1024 // KiB on Linux; an upper bound, see above
	}
	if data, err := os.ReadFile(out.Name()); err == nil && len(data) < 1<<16 {
		r.stdout = string(data)
	}
	return r
}

// gnuTime is the path of GNU time, or empty.
var gnuTime = func() string {
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		return "/usr/bin/time"
	}
	return ""
}()

func (e *scaleEnv) readPlan(name string) *engine.Plan {
	data, err := os.ReadFile(e.path(name))
	if err != nil {
		e.b.Fatal(err)
	}
	p, err := engine.UnmarshalPlan(data, engine.ReadOptions{})
	if err != nil {
		e.b.Fatal(err)
	}
	return p
}

// seed resets ftrack to hold every user the initial plan creates, owned,
// as if applied. With mutate, every tenth user is changed: mutate(k)
// names the change the next plan must show for it ("create": left out,
// "update": another email, "deactivate": an owned user the directory does
// not have, added beside it). It returns the expected counts.
func (e *scaleEnv) seed(p *engine.Plan, mutate func(k int) string) map[string]int {
	em := e.ftrack.Emulator
	em.Reset()
	counts := map[string]int{}
	k := 0
	for i, c := range p.Changes {
		if c.Action != engine.ActionCreate {
			continue
		}
		what := ""
		if mutate != nil && i%10 == 0 {
			what = mutate(k)
			k++
		}
		a := *c.After
		switch what {
		case "create":
			counts[what]++
			continue
		case "update":
			counts[what]++
			a.Email = engine.Str("changed." + *a.Email)
		case "deactivate":
			counts[what]++
			e.putUser(engine.Change{TargetID: "dddddddd-0000-4000-8000-" + fmt.Sprintf("%012d", i), SourceID: "gone-" + c.SourceID,
				After: &engine.Fields{Username: engine.Str("gone" + *a.Username), Email: engine.Str("gone" + *a.Email), FirstName: a.FirstName,
					LastName: a.LastName, IsActive: engine.Bool(true), Owner: a.Owner, SourceID: engine.Str("gone-" + c.SourceID)}})
		}
		c.After = &a
		e.putUser(c)
	}
	return counts
}

// seedKeep resets ftrack to hold the initial plan's users for which keep
// returns true.
func (e *scaleEnv) seedKeep(p *engine.Plan, keep func(int) bool) {
	e.ftrack.Emulator.Reset()
	for i, c := range p.Changes {
		if c.Action == engine.ActionCreate && keep(i) {
			e.putUser(c)
		}
	}
}

// putUser stores a create's user and its ownership marker.
func (e *scaleEnv) putUser(c engine.Change) {
	em := e.ftrack.Emulator
	a := c.After
	active := true
	if a.IsActive != nil {
		active = *a.IsActive
	}
	u := map[string]any{"id": c.TargetID, "username": *a.Username, "is_active": active}
	for k, v := range map[string]*string{"email": a.Email, "first_name": a.FirstName, "last_name": a.LastName} {
		if v != nil {
			u[k] = *v
		}
	}
	if err := em.Put("User", u); err != nil {
		e.b.Fatal(err)
	}
	for k, v := range map[string]*string{ftrack.MetaOwner: a.Owner, ftrack.MetaSourceID: a.SourceID} {
		if v == nil {
			continue
		}
		if err := em.Put("Metadata", map[string]any{"parent_id": c.TargetID, "key": k, "value": *v, "parent_type": "User"}); err != nil {
			e.b.Fatal(err)
		}
	}
}

func median(rs []scaleRun) scaleRun {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b scaleRun) int { return int(a.wall - b.wall) })
	m := s[len(s)/2]
	for _, r := range rs {
		m.rssMB = max(m.rssMB, r.rssMB)
	}
	return m
}

func walls(rs []scaleRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = math.Round(r.wall.Seconds()*1000) / 1000
	}
	return out
}

func printScale(rows []scaleRow) {
	fmt.Printf("\nldapsync scale benchmark — %s, %d CPUs (%s), Go %s\n\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "N\tcase\twall s\tpeak RSS MB\tratio\tvs\trequests\tnote")
	for _, r := range rows {
		ratio, req, rss := "", "", ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		if r.Requests > 0 {
			req = strconv.FormatInt(r.Requests, 10)
		}
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f", r.PeakRSS)
		}
		vs := r.Baseline
		if vs != "" {
			vs += fmt.Sprintf(" %.2f s", r.BaseS)
		}
		fmt.Fprintf(w, "%d\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n", r.N, r.Case, r.WallS, rss, ratio, vs, req, r.Note)
	}
	w.Flush()
}

func writeScaleJSON(rows []scaleRow) error {
	out := filepath.Join("..", "..", "bin", "bench", "results.json")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	doc := map[string]any{
		"machine": map[string]any{"cpu": cpuModel(), "cpus": runtime.NumCPU(), "memory": memTotal(), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH},
		"date":    time.Now().UTC().Format(time.RFC3339),
		"rows":    rows,
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(out)
	fmt.Printf("\nresults written to %s\n", abs)
	return nil
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.1f GiB RAM", kb/1024/1024)
		}
	}
	return "unknown RAM"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func scaleInts(b *testing.B, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out
}

// reqTrace records when each emulator request started and ended
// (LDAPSYNC_SCALE_TRACE=1), to show where an apply's wall time goes: the
// time before the first request, the idle gaps with no request in
// flight, and the time after the last.
type reqTrace struct {
	mu    sync.Mutex
	spans [][2]time.Time
}

func (t *reqTrace) log(format string, args ...any) {
	if len(args) == 0 {
		return
	}
	d, ok := args[len(args)-1].(time.Duration)
	if !ok {
		return
	}
	end := time.Now()
	t.mu.Lock()
	t.spans = append(t.spans, [2]time.Time{end.Add(-d), end})
	t.mu.Unlock()
}

func (t *reqTrace) reset() {
	t.mu.Lock()
	t.spans = nil
	t.mu.Unlock()
}

// report logs the timeline of one run that started at start.
func (t *reqTrace) report(b *testing.B, start time.Time, wall time.Duration) {
	t.mu.Lock()
	spans := slices.Clone(t.spans)
	t.mu.Unlock()
	if len(spans) == 0 {
		return
	}
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0fms", d.Seconds()*1000) }
	var lines []string
	busyEnd := spans[0][1]
	idle := time.Duration(0)
	for _, s := range spans[1:] {
		if s[0].After(busyEnd) {
			gap := s[0].Sub(busyEnd)
			idle += gap
			lines = append(lines, fmt.Sprintf("idle %s at %s", ms(gap), ms(busyEnd.Sub(start))))
		}
		if s[1].After(busyEnd) {
			busyEnd = s[1]
		}
	}
	// mean requests in flight while any is
	var sum time.Duration
	for _, s := range spans {
		sum += s[1].Sub(s[0])
	}
	b.Logf("trace: %d requests; first starts at %s, last ends at %s of %s; idle between requests %s; mean request %s; in flight %.2f on average over %s",
		len(spans), ms(spans[0][0].Sub(start)), ms(busyEnd.Sub(start)), ms(wall), ms(idle),
		ms(sum/time.Duration(len(spans))), float64(sum)/float64(busyEnd.Sub(spans[0][0])-idle), ms(busyEnd.Sub(spans[0][0])-idle))
	for _, l := range lines {
		b.Logf("trace: %s", l)
	}
}
