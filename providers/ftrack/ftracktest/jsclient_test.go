package ftracktest

// TestOfficialJSClient runs the official ftrack JavaScript client
// (@ftrack/api, pinned in testdata/jsclient/package.json) unchanged against
// the emulator over real HTTP: only a base URL, an API user and a key are
// given to it. testdata/jsclient/conformance.mjs drives the client and
// prints one JSON line per step; this test checks each step's outcome and,
// independently, the emulator's state while the script is paused before
// its delete step and again after it has finished.
//
// The client is installed with npm into testdata/jsclient/node_modules the
// first time (git-ignored; later runs reuse it). Without node/npm or when
// the install fails the test is skipped, except under CI, where it fails.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	jsClientDir     = "testdata/jsclient"
	jsClientVersion = "1.11.2"
	jsUsername      = "js.client@example.com" // fixed in conformance.mjs
	jsGroupName     = "js-client-group"       // fixed in conformance.mjs
)

// jsUnavailable skips the test, or fails it when CI is set.
func jsUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("official JS client conformance cannot run under CI: %s", msg)
	}
	t.Skipf("skipping official JS client conformance: %s", msg)
}

// installedJSClientVersion returns the version of @ftrack/api in
// node_modules, or "" when it is not installed.
func installedJSClientVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", "@ftrack", "api", "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// ensureJSClient finds node and npm and installs the pinned client when
// node_modules does not already hold it. It returns the node binary.
func ensureJSClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		jsUnavailable(t, "node not found in PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		jsUnavailable(t, "node --version: %v", err)
	}
	// The client uses the global fetch, which Node has had since v18.
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".", 2)[0])
	if major < 18 {
		jsUnavailable(t, "node %s is too old (need v18 or later)", strings.TrimSpace(string(out)))
	}
	if installedJSClientVersion(jsClientDir) == jsClientVersion {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		jsUnavailable(t, "npm not found in PATH (needed once to install @ftrack/api %s)", jsClientVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = jsClientDir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		jsUnavailable(t, "npm ci in %s failed after %v: %v\n%s", jsClientDir, time.Since(start).Round(time.Millisecond), err, out)
	}
	if v := installedJSClientVersion(jsClientDir); v != jsClientVersion {
		t.Fatalf("npm ci installed @ftrack/api %q, want %s", v, jsClientVersion)
	}
	t.Logf("installed @ftrack/api %s in %v", jsClientVersion, time.Since(start).Round(time.Millisecond))
	return node
}

// jsStep is one line printed by conformance.mjs.
type jsStep struct {
	Step  string         `json:"step"`
	OK    bool           `json:"ok"`
	Error string         `json:"error"`
	Raw   map[string]any `json:"-"`
}

func (s jsStep) str(key string) string {
	v, _ := s.Raw[key].(string)
	return v
}

func TestOfficialJSClient(t *testing.T) {
	node := ensureJSClient(t)

	const apiUser = "js.api@example.com"
	apiKey := "js-key-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// The emulator's log gives the HTTP status of every request.
	var logMu sync.Mutex
	var statuses []string
	logf := func(format string, args ...any) {
		if len(args) >= 3 {
			logMu.Lock()
			statuses = append(statuses, fmt.Sprint(args[2]))
			logMu.Unlock()
		}
	}
	srv := NewServer(Options{APIUser: apiUser, APIKey: apiKey, Log: logf})
	t.Cleanup(srv.Close)
	em := srv.Emulator

	// Bystanders, so that the client's filtered queries have something to
	// filter out and deletes have something to leave alone.
	for _, ent := range []struct {
		typ  string
		data map[string]any
	}{
		{"User", map[string]any{"id": "11111111-1111-1111-1111-111111111111", "username": "bystander@example.com", "is_active": true}},
		{"Group", map[string]any{"id": "22222222-2222-2222-2222-222222222222", "name": "bystanders", "local": true}},
		{"Membership", map[string]any{"user_id": "11111111-1111-1111-1111-111111111111", "group_id": "22222222-2222-2222-2222-222222222222"}},
	} {
		if err := em.Put(ent.typ, ent.data); err != nil {
			t.Fatalf("seed %s: %v", ent.typ, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "conformance.mjs", srv.URL, apiUser, apiKey, "--pause")
	cmd.Dir = jsClientDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		jsUnavailable(t, "start node: %v", err)
	}

	steps := map[string]jsStep{}
	var order []string
	var stdoutText strings.Builder
	paused := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		stdoutText.WriteString(line + "\n")
		if !strings.HasPrefix(line, "{") {
			t.Logf("node stdout: %s", line)
			continue
		}
		var st jsStep
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Errorf("bad step line %q: %v", line, err)
			continue
		}
		_ = json.Unmarshal([]byte(line), &st.Raw)
		steps[st.Step] = st
		order = append(order, st.Step)
		t.Logf("step %s", line)
		if st.Step == "pause" {
			paused = true
			checkJSStateBeforeDelete(t, em, steps)
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Errorf("resume script: %v", err)
			}
		}
	}
	_ = stdin.Close()
	waitErr := cmd.Wait()
	elapsed := time.Since(start)
	t.Logf("script ran in %v", elapsed.Round(time.Millisecond))

	// The API key must never appear in what the client printed.
	if strings.Contains(stdoutText.String(), apiKey) || strings.Contains(stderr.String(), apiKey) {
		t.Errorf("the API key appears in the script's output")
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) || ctx.Err() != nil {
			t.Fatalf("conformance.mjs failed (%v, ctx %v)\nsteps: %v\nstdout:\n%s\nstderr:\n%s",
				waitErr, ctx.Err(), order, stdoutText.String(), strings.ReplaceAll(stderr.String(), apiKey, "***"))
		}
		t.Fatalf("conformance.mjs: %v", waitErr)
	}
	if !paused {
		t.Errorf("the script never paused before its delete step")
	}

	want := []string{"init", "api_user", "create", "query", "update", "group", "membership_query",
		"strict_query", "duplicate", "strict_duplicate", "bad_key", "pause", "delete", "done"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("steps = %v, want %v", order, want)
	}
	for _, name := range want {
		if st := steps[name]; !st.OK {
			t.Errorf("step %s not ok: %s", name, st.Error)
		}
	}

	// init: what the client read from query_server_information.
	init := steps["init"]
	if got := init.str("schemaHash"); got != em.SchemaHash() {
		t.Errorf("init: client saw schema_hash %q, emulator reports %q", got, em.SchemaHash())
	}
	if got := init.str("version"); got != "dev" {
		t.Errorf("init: client saw version %q, want the default %q", got, "dev")
	}
	if n, _ := init.Raw["schemas"].(float64); n < 3 {
		t.Errorf("init: client saw %v schemas", init.Raw["schemas"])
	}

	// api_user: the client found the User the emulator created for it.
	if au := steps["api_user"]; au.str("id") != APIUserID(apiUser) || au.str("username") != apiUser {
		t.Errorf("api_user: %v, want id %s", au.Raw, APIUserID(apiUser))
	}

	// query: the where clause selected only the new user.
	if q := steps["query"]; q.Raw["rows"] != float64(1) || q.str("id") != steps["create"].str("id") {
		t.Errorf("query: %v", q.Raw)
	}
	// membership_query saw the bystander's membership too.
	if n, _ := steps["membership_query"].Raw["rows"].(float64); n != 2 {
		t.Errorf("membership_query: client saw %v memberships, want 2", steps["membership_query"].Raw["rows"])
	}

	// Rejections: the client's error class and the server's message.
	for _, name := range []string{"duplicate", "strict_duplicate"} {
		st := steps[name]
		if st.str("name") != "ServerError" {
			t.Errorf("%s: error class %q, want ServerError (DuplicateEntryError is not mapped to a subclass)", name, st.str("name"))
		}
		if msg := st.str("message"); !strings.Contains(msg, "Duplicate entry") || !strings.Contains(msg, jsUsername) {
			t.Errorf("%s: message %q does not carry the server's duplicate-entry content", name, msg)
		}
	}
	if bk := steps["bad_key"]; bk.str("name") != "ServerError" || bk.str("message") == "" {
		t.Errorf("bad_key: %v", bk.Raw)
	}
	if n := em.Stats().Unauthorized; n != 1 {
		t.Errorf("emulator counted %d unauthorized requests, want 1 (the bad-key session)", n)
	}
	// Only the strict session's duplicate gets a 4xx status (409); the
	// other session's duplicate comes back as 200 + exception body.
	logMu.Lock()
	count := map[string]int{}
	for _, s := range statuses {
		count[s]++
	}
	logMu.Unlock()
	if count["409"] != 1 || count["401"] != 1 || count["200"] != len(statuses)-2 {
		t.Errorf("HTTP statuses seen by the emulator: %v, want one 409 (strict duplicate), one 401 (bad key), the rest 200", count)
	}

	// After delete: the user and its membership are gone; the group, the
	// bystanders and the API user are untouched.
	userID := steps["create"].str("id")
	for _, u := range em.Entities("User") {
		if u["id"] == userID || u["username"] == jsUsername {
			t.Errorf("user still in the emulator after delete: %v", u)
		}
	}
	if got := jsUsernames(em.Entities("User")); got != "bystander@example.com,"+apiUser {
		t.Errorf("users after delete: %s", got)
	}
	ms := em.Entities("Membership")
	if len(ms) != 1 || ms[0]["user_id"] != "11111111-1111-1111-1111-111111111111" {
		t.Errorf("memberships after delete: %v", ms)
	}
	if gs := em.Entities("Group"); len(gs) != 2 {
		t.Errorf("groups after delete: %v", gs)
	}
}

// checkJSStateBeforeDelete checks the emulator while the script is paused:
// the user exists once with the updated values, and so do the group and
// the membership the client created.
func checkJSStateBeforeDelete(t *testing.T, em *Emulator, steps map[string]jsStep) {
	t.Helper()
	userID := steps["create"].str("id")
	var found []map[string]any
	for _, u := range em.Entities("User") {
		if u["username"] == jsUsername {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		t.Errorf("before delete: %d users named %s, want 1 (the duplicates must have been refused)", len(found), jsUsername)
		return
	}
	u := found[0]
	for attr, want := range map[string]any{
		"id":         userID,
		"first_name": "Adelaide",
		"last_name":  "Client",
		"email":      "adelaide.client@example.com",
		"is_active":  false,
	} {
		if u[attr] != want {
			t.Errorf("before delete: user %s = %v, want %v", attr, u[attr], want)
		}
	}
	groupID := steps["group"].str("groupId")
	var group map[string]any
	for _, g := range em.Entities("Group") {
		if g["id"] == groupID {
			group = g
		}
	}
	if group == nil || group["name"] != jsGroupName {
		t.Errorf("before delete: group %s = %v, want name %s", groupID, group, jsGroupName)
	}
	var member map[string]any
	for _, m := range em.Entities("Membership") {
		if m["id"] == steps["group"].str("membershipId") {
			member = m
		}
	}
	if member == nil || member["user_id"] != userID || member["group_id"] != groupID {
		t.Errorf("before delete: membership = %v, want user %s in group %s", member, userID, groupID)
	}
}

// jsUsernames lists the usernames of users, sorted and comma-separated.
func jsUsernames(users []map[string]any) string {
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, fmt.Sprint(u["username"]))
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
