package main

// End-to-end tests that need a real process to kill or a real terminal:
// apply resuming after SIGKILL in the middle of 2,000 creates, and the
// progress bar that appears on a TTY and nowhere else. They build the
// ldapsync binary with `go build` and run it against a private slapd and
// the ftrack emulator.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// bigEnv is a slapd with n users, an emulator and a work directory with a
// configuration that talks to both.
type bigEnv struct {
	bin    string
	dir    string
	env    []string
	ftrack *ftracktest.Server
	apiKey string
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ldapsync")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const bigConfig = `source "ldap" "corp" {
  url           = env("LDAP_URL")
  ca_cert_file  = env("LDAP_CA")
  bind_dn       = env("LDAP_BIND_DN")
  bind_password = env("LDAP_BIND_PASSWORD")
  base_dn       = env("LDAP_BASE_DN")
  schema        = "openldap"
}

target "ftrack" "studio" {
  server_url  = env("FTRACK_URL")
  api_user    = "admin"
  api_key     = env("FTRACK_API_KEY")
  batch_size  = 10
  parallelism = 1
}

mapping "users" {
  source     = source.ldap.corp
  target     = target.ftrack.studio
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}

state {
  path = "ldapsync.state.json"
}
`

func newBigEnv(t *testing.T, users int) *bigEnv {
	t.Helper()
	requireSlapd(t)
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(plainUsersLDIF(1, users)))
	apiKey := "apikey-" + randomHex(12)
	srv := ftracktest.NewServer(ftracktest.Options{APIUser: scriptAPIUser, APIKey: apiKey})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ldapsync.hcl"), []byte(bigConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "LDAPSYNC_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"LDAP_URL="+s.LDAPSURL, "LDAP_CA="+s.CACertFile,
		"LDAP_BIND_DN="+s.SyncDN, "LDAP_BIND_PASSWORD="+s.SyncPassword,
		"LDAP_BASE_DN="+ldaptest.UsersDN,
		"FTRACK_URL="+srv.URL, "FTRACK_API_KEY="+apiKey,
	)
	return &bigEnv{bin: buildBinary(t), dir: dir, env: env, ftrack: srv, apiKey: apiKey}
}

// command returns an ldapsync command in the work directory.
func (b *bigEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command(b.bin, args...)
	cmd.Dir = b.dir
	cmd.Env = b.env
	return cmd
}

// run runs ldapsync and returns its exit code and combined output.
func (b *bigEnv) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := b.command(args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("ldapsync %s: %v", strings.Join(args, " "), err)
		return -1, ""
	}
}

// createdUsers counts the Users besides the API user's, which the emulator
// starts with and ldapsync never touches.
func createdUsers(e *ftracktest.Emulator) int { return len(e.Entities("User")) - 1 }

// ownedUsers counts users by username and ownership marker.
func ownedUsers(e *ftracktest.Emulator) (byName map[string]int, owned int) {
	byName = map[string]int{}
	for _, u := range userViews(e) {
		byName[u["username"]]++
		if u["owner"] == "users" {
			owned++
		}
	}
	return byName, owned
}

func TestApplyResumesAfterSIGKILL(t *testing.T) {
	const n = 2000
	b := newBigEnv(t, n)
	e := b.ftrack.Emulator

	if code, out := b.run(t, "plan", "-out", "plan.json", "-no-color"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, out)
	} else if !strings.Contains(out, fmt.Sprintf("Plan: %d to create, 0 to update, 0 to deactivate.", n)) {
		t.Fatalf("plan does not create %d users:\n%s", n, lastLines(out, 5))
	}

	// Slow the emulator down so that the apply takes several seconds, then
	// kill it once some, but not all, users exist.
	e.SetFaults(ftracktest.Faults{Latency: 20 * time.Millisecond})
	cmd := b.command("apply", "plan.json")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	killedAt := 0
poll:
	for {
		select {
		case err := <-exited:
			t.Fatalf("apply finished before it could be killed (%v); users: %d\n%s", err, createdUsers(e), out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("apply made no progress within 2 minutes; stats %+v", e.Stats())
		case <-time.After(10 * time.Millisecond):
			if c := createdUsers(e); c >= 250 {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killedAt = c
				break poll
			}
		}
	}
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("apply was not killed by SIGKILL: %v", err)
	}
	after := createdUsers(e)
	if after < killedAt || after >= n {
		t.Fatalf("after SIGKILL ftrack has %d users; want some but not all of %d", after, n)
	}
	t.Logf("killed apply with %d of %d users created (%d when the signal was sent)", after, n, killedAt)

	// Resume at full speed: the same plan finishes the rest.
	e.SetFaults(ftracktest.Faults{})
	code, resumed := b.run(t, "apply", "-no-color", "plan.json")
	if code != 0 {
		t.Fatalf("resumed apply: exit %d\n%s", code, resumed)
	}
	if !strings.Contains(resumed, "already done") {
		t.Errorf("resumed apply does not report the changes already done:\n%s", resumed)
	}
	byName, owned := ownedUsers(e)
	if len(byName) != n+1 || owned != n || byName[scriptAPIUser] != 1 {
		t.Fatalf("after resume: %d distinct users, %d owned; want %d and %d, and the API user", len(byName), owned, n+1, n)
	}
	for name, c := range byName {
		if c != 1 {
			t.Errorf("user %s exists %d times", name, c)
		}
	}
	if got := createdUsers(e); got != n {
		t.Errorf("ftrack has %d users besides the API user's, want exactly %d", got, n)
	}
	markers := map[string]int{}
	for _, m := range e.Entities("Metadata") {
		if m["key"] == "ldapsync.owner" {
			markers[fmt.Sprint(m["parent_id"])]++
		}
	}
	for _, u := range e.Entities("User") {
		want := 1
		if u["username"] == scriptAPIUser {
			want = 0 // never touched
		}
		if got := markers[fmt.Sprint(u["id"])]; got != want {
			t.Errorf("user %v has %d ownership markers, want %d", u["username"], got, want)
		}
	}

	// A third run is refused; the directory and ftrack have converged.
	code, third := b.run(t, "apply", "-no-color", "plan.json")
	if code != 1 || !strings.Contains(third, "apply refused (already_applied)") {
		t.Errorf("third apply: exit %d, want 1 with already_applied:\n%s", code, third)
	}
	code, again := b.run(t, "plan", "-detailed-exitcode", "-no-color")
	if code != 0 {
		t.Errorf("plan after resume: exit %d, want 0 (converged):\n%s", code, lastLines(again, 10))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestProgressOnlyOnTTY runs plan under a pseudo-terminal, where a
// progress bar is drawn on stderr, and with stderr redirected to a file,
// where none is.
func TestProgressOnlyOnTTY(t *testing.T) {
	b := newBigEnv(t, 2000)
	// Slow ftrack down so that reading the target outlasts the bar's
	// 100ms render throttle.
	b.ftrack.Emulator.SetFaults(ftracktest.Faults{Latency: 300 * time.Millisecond})

	cmd := b.command("plan")
	cmd.Env = append(cmd.Env, "TERM=xterm")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var terminal bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = io.Copy(&terminal, ptmx) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("plan under a pty: %v\n%s", err, terminal.String())
	}
	ptmx.Close()
	wg.Wait()
	if !strings.Contains(stdout.String(), "Plan: 2000 to create") {
		t.Fatalf("plan output:\n%s", lastLines(stdout.String(), 5))
	}
	tr := terminal.String()
	// A spinner bar redrawn in place: "\r| reading target (0/-, ...) [0s]".
	bar := regexp.MustCompile(`\r[|/\\-] reading (source corp|target) \(\d+/-, [^)]*items/[a-z]+\) \[\d+s\]`)
	if got := len(bar.FindAllString(tr, -1)); got < 2 {
		t.Errorf("want a progress bar drawn at least twice on the terminal's stderr, found %d; got %q", got, tr)
	}

	// The same run with stderr redirected: no bar.
	cmd = b.command("plan")
	cmd.Env = append(cmd.Env, "TERM=xterm")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plan without a tty: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr without a tty is not empty: %q", stderr.String())
	}
}
