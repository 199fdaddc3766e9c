package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// readmeCommand is one ldapsync command line of the README's shell code
// blocks, with the lines of output the README shows for it (from a
// "$ ldapsync …" line of an output block).
type readmeCommand struct {
	line   int      // README line
	block  int      // which code block (counted from 1)
	args   []string // "ldapsync", ...
	output []string // the lines shown after it, in an output block
	// fromOutput: a "$ " line of an output block, not a sh block's line
	fromOutput bool
	// stdoutTo is the file a "> FILE" redirection names, if any
	stdoutTo string
}

// readmeCommands extracts, in order, every ldapsync command line of the
// README's code blocks: each line of a sh/bash block, and each "$ " line
// of a plain block (the tour's real output), split at &&.
func readmeCommands(t *testing.T, path string) []readmeCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeCommand
	lang, in, block := "", false, 0
	var last *readmeCommand
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if strings.HasPrefix(text, "```") {
			if in {
				in, last = false, nil
			} else {
				in, lang = true, strings.TrimPrefix(text, "```")
				block++
			}
			continue
		}
		if !in {
			continue
		}
		switch lang {
		case "sh", "bash", "shell":
			for _, part := range strings.Split(text, " && ") {
				if args := exampleArgs(part); args != nil {
					c := readmeCommand{line: n, block: block, args: args}
					if _, after, ok := strings.Cut(part, " > "); ok {
						c.stdoutTo = strings.Fields(after)[0]
					}
					out = append(out, c)
				}
			}
		case "":
			if cmd, ok := strings.CutPrefix(text, "$ "); ok {
				last = nil
				for _, part := range strings.Split(cmd, " && ") {
					if args := exampleArgs(part); args != nil {
						out = append(out, readmeCommand{line: n, block: block, args: args, fromOutput: true, output: []string{}})
						last = &out[len(out)-1]
					}
				}
			} else if last != nil && text != "" {
				last.output = append(last.output, text)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readmeNotRun lists the README command lines the test cannot run, each
// with the reason. A new README example that does not run fails the test
// until it runs or is listed here.
var readmeNotRun = map[string]string{
	"ldapsync sync --config config.yaml --log-file sync.log": "the original script's YAML holds the site's URLs and secrets in clear text (ldap.example.com); sync_yaml.txtar runs this command line against slapd and the emulator",
}

// TestReadmeCommands runs every ldapsync command line of the README's
// code blocks, for real: the built binary, the quickstart configuration
// (examples/quickstart), its directory loaded into a private OpenLDAP
// slapd reached over StartTLS with the slapd's CA (as make demo reaches
// its directory), and the ftrack emulator over HTTP seeded as make demo
// seeds it.
//
// Each sh block runs in a world of its own (a fresh slapd, emulator and
// work directory); the output blocks of the tour ("$ ldapsync …" lines)
// are one story and share one world, with the tour's events in between
// (the directory change and the hand edits it describes). A command must
// exit 0 (2 where the README shows drift or changes with
// -detailed-exitcode, 1 where it shows an Error), and the lines the README
// shows that do not vary between runs — the Plan:, Apply complete:,
// Drift:, Success!, No changes. and Safety limits: lines, every change
// line (+ ~ - & !) and the refusal's reason — must be in its output.
func TestReadmeCommands(t *testing.T) {
	requireSlapd(t)
	bin := buildExampleBinary(t)
	cmds := readmeCommands(t, filepath.Join("..", "..", "README.md"))
	if len(cmds) < 15 {
		t.Fatalf("found %d command lines in the README, want at least 15 (is the extraction broken?)", len(cmds))
	}
	var w *readmeWorld
	lastOutputBlock := false
	prevBlock := -1
	for _, c := range cmds {
		cmdline := strings.Join(c.args, " ")
		if reason, ok := readmeNotRun[cmdline]; ok {
			t.Logf("README line %d: not run: %s (%s)", c.line, cmdline, reason)
			continue
		}
		outputBlock := c.fromOutput
		// a new world for every sh block, and one for the tour's output blocks
		if w == nil || (!outputBlock && c.block != prevBlock) || (outputBlock && !lastOutputBlock) {
			w = newReadmeWorld(t, bin)
		}
		lastOutputBlock, prevBlock = outputBlock, c.block
		if outputBlock {
			w.tourEvent(t, cmdline)
		}
		stdout, stderr, code := w.run(t, c.args)
		if c.stdoutTo != "" && code == 0 {
			if err := os.WriteFile(filepath.Join(w.dir, c.stdoutTo), []byte(stdout), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want := readmeWantExit(c)
		if !slices.Contains(want, code) {
			t.Errorf("README line %d: %s exited %d, want %v\nstdout:\n%s\nstderr:\n%s", c.line, cmdline, code, want, stdout, stderr)
			continue
		}
		for _, l := range c.output {
			if !readmeStableLine(l) {
				continue
			}
			if prefix, ok := strings.CutPrefix(l, "Error: apply refused ("); ok {
				reason, _, _ := strings.Cut(prefix, ")")
				if !strings.Contains(stderr, "Error: apply refused ("+reason+")") {
					t.Errorf("README line %d: %s: stderr lacks the refusal %q:\n%s", c.line, cmdline, reason, stderr)
				}
				continue
			}
			if !strings.Contains(stdout, l) {
				t.Errorf("README line %d: %s: the README shows %q, the output lacks it:\n%s", c.line, cmdline, l, stdout)
			}
		}
	}
	for cmdline := range readmeNotRun {
		found := false
		for _, c := range cmds {
			found = found || strings.Join(c.args, " ") == cmdline
		}
		if !found {
			t.Errorf("readmeNotRun lists %q, which the README no longer has", cmdline)
		}
	}
}

// readmeStableLine reports whether a README output line is one the test
// compares: the same on every run (no ids or times) and not abridged.
func readmeStableLine(l string) bool {
	if strings.Contains(l, "…") {
		return false
	}
	for _, p := range []string{"Plan: ", "Apply complete: ", "Drift: ", "Success! ", "No changes.", "No drift.", "Safety limits: ", "Error: apply refused ("} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	t := strings.TrimSpace(l)
	for _, p := range []string{"+ user.", "~ user.", "- user.", "& user.", "! uid=", "! cgarcia", "! fnguyen", "! gweber", "! inovak"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// readmeWantExit is the exit status the README implies for c.
func readmeWantExit(c readmeCommand) []int {
	for _, l := range c.output {
		if strings.HasPrefix(l, "Error:") {
			return []int{1}
		}
	}
	if slices.Contains(c.args, "-detailed-exitcode") {
		for _, l := range c.output {
			if strings.HasPrefix(l, "Drift: ") && !strings.HasPrefix(l, "Drift: 0 pending, 0 out-of-band") {
				return []int{2}
			}
			if strings.HasPrefix(l, "No changes.") || strings.HasPrefix(l, "No drift.") {
				return []int{0}
			}
		}
		return []int{0, 2}
	}
	return []int{0}
}

// readmeWorld is one slapd with the quickstart directory, one seeded
// emulator and a work directory with the quickstart configuration.
type readmeWorld struct {
	bin    string
	dir    string
	env    []string
	slapd  *ldaptest.Slapd
	ftrack *ftracktest.Server
	apiKey string
	events map[string]bool
}

func newReadmeWorld(t *testing.T, bin string) *readmeWorld {
	t.Helper()
	sdir := t.TempDir()
	s, err := ldaptest.StartSlapdProcess(sdir)
	if err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	const password = "demo-sync-password"
	if err := setSyncPassword(s, password); err != nil {
		t.Fatal(err)
	}
	ldif, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "directory.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range strings.Split(string(ldif), "\n\n") {
		if strings.Contains(rec, "dn: uid=") { // slapd has the base, the OUs and cn=sync
			if err := s.ApplyLDIF(rec[strings.Index(rec, "dn: uid="):] + "\n"); err != nil {
				t.Fatalf("load the quickstart directory: %v", err)
			}
		}
	}
	apiKey := "readme-" + randomHex(8)
	srv := ftracktest.NewServer(ftracktest.Options{APIUser: scriptAPIUser, APIKey: apiKey})
	t.Cleanup(srv.Close)
	seedLikeDemo(t, srv.Emulator)
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{filepath.Join("..", "..", "examples", "quickstart", "ldapsync.hcl"), "ldapsync.hcl"},
		{filepath.Join("..", "..", "examples", "cron", "config.yaml"), "config.yaml"},
	} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &readmeWorld{bin: bin, dir: dir, slapd: s, ftrack: srv, apiKey: apiKey, events: map[string]bool{}, env: []string{
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir, "NO_COLOR=1",
		// the slapd's ldap:// URL with its CA, over StartTLS as the
		// demo's directory is reached
		"DEMO_LDAP_URL=" + s.URL, "DEMO_LDAP_CA_FILE=" + s.CACertFile, "DEMO_LDAP_PASSWORD=" + password,
		"DEMO_FTRACK_URL=" + srv.URL, "FTRACK_API_KEY=" + apiKey,
	}}
}

// run runs the README's command line in the world's work directory.
func (w *readmeWorld) run(t *testing.T, args []string) (string, string, int) {
	t.Helper()
	return runLdapsyncIn(t, w.bin, w.dir, w.env, args[1:]...)
}

// tourEvent makes the tour's events happen before the command that
// shows them: a week later the directory changes and Clara's last name
// is edited in ftrack (before the first drift), and edited again before
// plan2.json is applied.
func (w *readmeWorld) tourEvent(t *testing.T, cmdline string) {
	t.Helper()
	switch {
	case cmdline == "ldapsync drift -detailed-exitcode" && !w.events["week"]:
		w.events["week"] = true
		change, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "directory-change.ldif"))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.slapd.ApplyLDIF(string(change)); err != nil {
			t.Fatalf("directory change: %v", err)
		}
		w.editUser(t, "cgarcia", "last_name", "Garcia (VFX)")
	case cmdline == "ldapsync apply plan2.json" && !w.events["again"]:
		w.events["again"] = true
		w.editUser(t, "cgarcia", "last_name", "Garcia (Comp)")
	}
}

// editUser changes one field through the emulator's HTTP API, as an
// administrator in the ftrack web UI would.
func (w *readmeWorld) editUser(t *testing.T, username, field, value string) {
	t.Helper()
	u := findUser(w.ftrack.Emulator, username)
	if u == nil {
		t.Fatalf("no ftrack user %q", username)
	}
	if err := postFtrackOp(w.ftrack.URL, w.apiKey, map[string]any{
		"action": "update", "entity_type": "User", "entity_key": []string{fmt.Sprint(u["id"])},
		"entity_data": map[string]any{"__entity_type__": "User", field: value},
	}); err != nil {
		t.Fatal(err)
	}
}

// seedLikeDemo seeds the emulator as make demo does
// (cmd/ldapsync-demo/seed.go): the administrator, asmith and jdoe owned by
// an earlier run, dobrien created by hand.
func seedLikeDemo(t *testing.T, e *ftracktest.Emulator) {
	t.Helper()
	adminID := ftracktest.APIUserID(scriptAPIUser)
	if err := e.Delete("User", adminID); err != nil {
		t.Fatal(err)
	}
	for _, u := range []map[string]any{
		{"id": adminID, "username": scriptAPIUser, "email": "it@example.com", "first_name": "Studio", "last_name": "Admin", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000002", "username": "asmith", "email": "alice.smith@old-domain.example.com", "first_name": "Alice", "last_name": "Smith", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000003", "username": "jdoe", "email": "jdoe@example.com", "first_name": "John", "last_name": "Doe", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000004", "username": "dobrien", "email": "dobrien@example.com", "first_name": "David", "last_name": "O'Brien", "is_active": true},
	} {
		if err := e.Put("User", u); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"} {
		if err := e.Put("Metadata", map[string]any{"parent_id": id, "parent_type": "User", "key": "ldapsync.owner", "value": "users"}); err != nil {
			t.Fatal(err)
		}
	}
}
