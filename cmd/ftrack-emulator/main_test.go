package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the command, starts it on a random port, creates a user
// over HTTP, stops it with SIGTERM and checks the saved data file (the
// user and the API user's, there from the start); a second run loads the
// file back.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := buildEmulator(t, dir)
	dataFile := filepath.Join(dir, "data.json")
	urlFile := filepath.Join(dir, "url")

	start := func() (*exec.Cmd, string) {
		cmd, url := startEmulator(t, bin, "-data", dataFile, "-url-file", urlFile)
		fromFile, err := os.ReadFile(urlFile)
		if err != nil || strings.TrimSpace(string(fromFile)) != url {
			t.Fatalf("url file %q (%v), banner URL %q", fromFile, err, url)
		}
		return cmd, url
	}
	send := func(url, body string) []any {
		status, reply := postAPI(t, url, body)
		var out []any
		if err := json.Unmarshal(reply, &out); err != nil || status != 200 {
			t.Fatalf("status %d, decode: %v", status, err)
		}
		return out
	}
	stop := func(cmd *exec.Cmd) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("emulator did not exit after SIGTERM")
		}
	}

	cmd, url := start()
	send(url, `[{"action":"create","entity_type":"User","entity_data":{"username":"jane.doe","is_active":true}}]`)
	stop(cmd)

	data, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatalf("data file: %v", err)
	}
	var df struct {
		Entities map[string][]map[string]any `json:"entities"`
	}
	if err := json.Unmarshal(data, &df); err != nil {
		t.Fatalf("data file: %v", err)
	}
	active := map[string]any{}
	for _, u := range df.Entities["User"] {
		active[u["username"].(string)] = u["is_active"]
	}
	if len(active) != 2 || active["admin"] != true || active["jane.doe"] != true {
		t.Fatalf("saved users %v, want admin (the API user) and jane.doe, both active", df.Entities["User"])
	}

	cmd, url = start()
	out := send(url, `[{"action":"query","expression":"select username from User order by username"}]`)
	rows := out[0].(map[string]any)["data"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["username"] != "admin" || rows[1].(map[string]any)["username"] != "jane.doe" {
		t.Fatalf("after reload: %v", rows)
	}
	stop(cmd)
}

func TestFlagsRequireCredentials(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-listen", "127.0.0.1:0"}, io.Discard, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-api-user") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// TestSeed starts the command with -seed: the seed's users are served
// (the README's example format), the file is never written, and a seed
// with a bad row stops the start with the row named.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	bin := buildEmulator(t, dir)
	seed := filepath.Join(dir, "seed.json")
	const doc = `{"entities": {
  "User": [{"id": "6f0c0000-0000-4000-8000-000000000001", "username": "jdoe", "email": "jdoe@example.com", "first_name": "John", "last_name": "Doe", "is_active": true}],
  "Group": [{"id": "9a1e0000-0000-4000-8000-000000000001", "name": "Artists"}],
  "Membership": [{"id": "c3d20000-0000-4000-8000-000000000001", "user_id": "6f0c0000-0000-4000-8000-000000000001", "group_id": "9a1e0000-0000-4000-8000-000000000001"}],
  "Metadata": [{"parent_id": "6f0c0000-0000-4000-8000-000000000001", "parent_type": "User", "key": "ldapsync.owner", "value": "users"}]
}}
`
	if err := os.WriteFile(seed, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, url := startEmulator(t, bin, "-seed", seed)
	_, body := postAPI(t, url, `[{"action":"query","expression":"select username, memberships.group.name from User where username is \"jdoe\""}]`)
	if !strings.Contains(string(body), `"jdoe"`) || !strings.Contains(string(body), `"Artists"`) {
		t.Fatalf("seeded user not served: %s", body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got, _ := os.ReadFile(seed); string(got) != doc {
		t.Fatalf("the seed file was written:\n%s", got)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"entities": {"Membership": [{"user_id": "no-such-user", "group_id": "no-such-group"}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	c := exec.Command(bin, "-api-user", "admin", "-api-key", "k3y", "-seed", bad)
	c.Stderr = &errOut
	if err := c.Run(); err == nil {
		t.Fatal("a seed with a dangling reference started")
	}
	if !strings.Contains(errOut.String(), "-seed") || !strings.Contains(errOut.String(), "bad.json") {
		t.Fatalf("error does not name the seed: %s", errOut.String())
	}
}

// buildEmulator builds the command into dir.
func buildEmulator(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ftrack-emulator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// emulatorArgs is args after the flags every test starts the emulator
// with: a random loopback port, the test's API user and key.
func emulatorArgs(args ...string) []string {
	return append([]string{"-listen", "127.0.0.1:0", "-api-user", "admin", "-api-key", "k3y"}, args...)
}

// postAPI posts body to the API at url as the test's API user and
// returns the status code and the reply.
func postAPI(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("ftrack-user", "admin")
	req.Header.Set("ftrack-api-key", "k3y")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	return resp.StatusCode, reply
}

// startEmulator starts bin on a random loopback port with the test's API
// user and key and args, and returns it (killed when the test ends) and
// the URL its banner names.
func startEmulator(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, emulatorArgs(args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading banner: %v", err)
	}
	const prefix = "ftrack emulator listening on "
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("banner %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, prefix))
}

// TestRolesSeatsAndCustomAttributes starts the command with a seed of the
// documented format (projects, roles, custom attributes), -seats and
// -default-role: the seed is served, a create beyond the seats is refused,
// a created user gets the default role, values are checked against their
// configuration; a -default-role the emulator lacks and negative -seats
// stop the start.
func TestRolesSeatsAndCustomAttributes(t *testing.T) {
	dir := t.TempDir()
	bin := buildEmulator(t, dir)
	seed := filepath.Join(dir, "seed.json")
	const doc = `{"entities": {
  "User": [{"id": "6f0c0000-0000-4000-8000-000000000001", "username": "jdoe", "is_active": true}],
  "Project": [{"id": "5b1a0000-0000-4000-8000-000000000001", "name": "alpha", "full_name": "Alpha", "is_private": false}],
  "UserSecurityRole": [{"id": "d4e50000-0000-4000-8000-000000000001", "user_id": "6f0c0000-0000-4000-8000-000000000001",
            "security_role_id": "8b0809de-776a-5f7a-b70c-c0079f979e2a", "is_all_open_projects": false}],
  "UserSecurityRoleProject": [{"id": "e6f70000-0000-4000-8000-000000000001", "user_security_role_id": "d4e50000-0000-4000-8000-000000000001", "project_id": "5b1a0000-0000-4000-8000-000000000001"}],
  "CustomAttributeConfiguration": [
    {"id": "f8a90000-0000-4000-8000-000000000001", "key": "department", "label": "Department",
     "entity_type": "user", "type_id": "5d6b2cec-41f6-583a-803b-9b7eb20c9f46", "config": "{}"},
    {"id": "f8a90000-0000-4000-8000-000000000002", "key": "site", "label": "Site", "entity_type": "user",
     "type_id": "e261b904-4714-5541-a96e-72c530709d9c",
     "config": "{\"multiSelect\": false, \"data\": [{\"menu\": \"Paris\", \"value\": \"paris\"}]}"}],
  "UserCustomAttributeValue": [{"configuration_id": "f8a90000-0000-4000-8000-000000000001", "entity_id": "6f0c0000-0000-4000-8000-000000000001", "value": "Lighting"}]
}}
`
	if err := os.WriteFile(seed, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, url := startEmulator(t, bin, "-seed", seed, "-seats", "2", "-default-role", "Project Manager")
	post := func(body string) any {
		t.Helper()
		_, reply := postAPI(t, url, body)
		var out any
		if err := json.Unmarshal(reply, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	exception := func(out any) string {
		m, _ := out.(map[string]any)
		s, _ := m["exception"].(string)
		return s + ": " + fmt.Sprint(m["content"])
	}

	out := post(`[{"action":"query","expression":"select key, value from UserCustomAttributeValue"},
		{"action":"query","expression":"select user_security_role.security_role.name, project.full_name from UserSecurityRoleProject"}]`)
	text, _ := json.Marshal(out)
	for _, want := range []string{`"key":"department"`, `"value":"Lighting"`, `"name":"Project Manager"`, `"full_name":"Alpha"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("seed not served (%s missing): %s", want, text)
		}
	}
	// admin and jdoe take both seats.
	if got := exception(post(`[{"action":"create","entity_type":"User","entity_data":{"username":"new","is_active":true}}]`)); got != "LicenseError: No user licence free: 2 of 2 seats are in use." {
		t.Errorf("create beyond the seats: %s", got)
	}
	out = post(`[{"action":"create","entity_type":"User","entity_data":{"id":"7a000000-0000-4000-8000-000000000001","username":"idle","is_active":false}},
		{"action":"query","expression":"select security_role.name, is_all_open_projects from UserSecurityRole where user_id is \"7a000000-0000-4000-8000-000000000001\""}]`)
	text, _ = json.Marshal(out)
	if !strings.Contains(string(text), `"name":"Project Manager"`) || !strings.Contains(string(text), `"is_all_open_projects":true`) {
		t.Errorf("default role: %s", text)
	}
	if got := exception(post(`[{"action":"create","entity_type":"UserCustomAttributeValue","entity_data":{"configuration_id":"f8a90000-0000-4000-8000-000000000002","entity_id":"6f0c0000-0000-4000-8000-000000000001","value":"tokyo"}}]`)); !strings.Contains(got, `ValidationError: Custom attribute "site" is of type enumerator`) {
		t.Errorf("enumerator value outside its options: %s", got)
	}
	if got := post(`[{"action":"create","entity_type":"UserCustomAttributeValue","entity_data":{"configuration_id":"f8a90000-0000-4000-8000-000000000002","entity_id":"6f0c0000-0000-4000-8000-000000000001","value":"paris"}}]`); exception(got) != ": <nil>" {
		t.Errorf("enumerator value among its options: %v", got)
	}

	for _, args := range [][]string{{"-default-role", "Nobody"}, {"-seats", "-1"}} {
		var errOut bytes.Buffer
		c := exec.Command(bin, emulatorArgs(args...)...)
		c.Stderr = &errOut
		err := c.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), args[0]) {
			t.Errorf("%v: %v, stderr %q; want exit 2 naming the flag", args, err, errOut.String())
		}
	}
}
