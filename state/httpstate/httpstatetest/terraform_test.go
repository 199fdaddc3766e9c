package httpstatetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/httpstate/httpstatetest"
)

// TestTerraformAgainstServer proves the test server faithful to the
// protocol with the real Terraform CLI: init and apply store a Terraform
// state with a serial, an apply waits for a lock another holds and names
// it, force-unlock releases it, and the next apply stores a new serial.
// It skips when terraform is not on PATH, except under CI, where a
// missing terraform fails.
func TestTerraformAgainstServer(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("terraform is not on PATH, and CI is set: the test server's faithfulness must be proved with Terraform (%v)", err)
		}
		t.Skip("terraform is not on PATH")
	}
	srv := httpstatetest.NewServer(t, httpstatetest.WithBasicAuth("tf-user", "tf-secret"))

	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	home := filepath.Join(dir, "home")
	for _, d := range []string{work, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const config = `terraform {
  backend "http" {}
}

variable "v" {
  type = string
}

resource "terraform_data" "x" {
  input = var.v
}
`
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"TF_CLI_CONFIG_FILE=" + cliConfig,
		"TF_DATA_DIR=" + filepath.Join(dir, "tfdata"),
		"NO_COLOR=1",
	}
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tf, append([]string{args[0], "-no-color"}, args[1:]...)...)
		cmd.Dir = work
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if wantOK && err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		if !wantOK && err == nil {
			t.Fatalf("terraform %s succeeded; want a failure\n%s", strings.Join(args, " "), out.String())
		}
		return out.String()
	}

	run(true, "init", "-input=false",
		"-backend-config=address="+srv.URL(),
		"-backend-config=lock_address="+srv.LockURL(),
		"-backend-config=unlock_address="+srv.LockURL(),
		"-backend-config=lock_method=POST",
		"-backend-config=unlock_method=DELETE",
		"-backend-config=username=tf-user",
		"-backend-config=password=tf-secret",
		"-backend-config=retry_wait_min=0",
	)
	run(true, "apply", "-auto-approve", "-input=false", "-var=v=one")
	first := terraformState(t, srv.State())
	if first.Serial < 1 || first.Lineage == "" || first.TerraformVersion == "" || !strings.Contains(string(srv.State()), `"one"`) {
		t.Fatalf("stored state: %+v\n%s", first, srv.State())
	}
	if v, ok := srv.Version(first.Serial); !ok || !bytes.Equal(v, srv.State()) {
		t.Errorf("version %d is not the current state", first.Serial)
	}
	if _, held := srv.Holder(); held {
		t.Error("the lock is still held after apply")
	}
	sawLock := false
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == strings.TrimPrefix(srv.LockURL(), srvBase(srv)) {
			sawLock = true
		}
		if r.Method == "POST" && r.Path != strings.TrimPrefix(srv.LockURL(), srvBase(srv)) {
			if r.Query.Get("ID") == "" || r.ContentMD5 == "" || r.ContentType != "application/json" {
				t.Errorf("a state write without ?ID=, Content-MD5 or Content-Type: %+v", r)
			}
		}
	}
	if !sawLock {
		t.Error("terraform apply did not lock")
	}

	// Another holder: apply waits, fails and names it.
	other := state.LockInfo{ID: "4c1e2b7a-0d2f-4a6e-9b0c-other-holder", Operation: "OperationTypeApply", Who: "someone@elsewhere", Version: "1.11.4", Created: time.Now().UTC()}
	if !srv.Hold(other) {
		t.Fatal("the lock is held")
	}
	out := run(false, "apply", "-auto-approve", "-input=false", "-lock-timeout=2s", "-var=v=two")
	if !strings.Contains(out, other.ID) {
		t.Errorf("apply's lock error does not name the holder %s:\n%s", other.ID, out)
	}
	if s, _ := srv.Serial(); s != first.Serial {
		t.Errorf("serial changed while locked: %d → %d", first.Serial, s)
	}
	// Terraform's force-unlock sends no ID (an empty body), so the
	// server's refusal of a wrong ID is not Terraform's to check: the
	// httpstate tests check it with ForceUnlock, which sends the ID.
	before := len(srv.Requests())
	run(true, "force-unlock", "-force", other.ID)
	for _, r := range srv.Requests()[before:] {
		if r.Method == "DELETE" && len(r.Body) > 0 && !strings.Contains(string(r.Body), other.ID) {
			t.Errorf("force-unlock sent a body without the ID: %s", r.Body)
		}
	}
	if _, held := srv.Holder(); held {
		t.Fatal("force-unlock did not release the lock")
	}
	run(true, "apply", "-auto-approve", "-input=false", "-var=v=two")
	second := terraformState(t, srv.State())
	if second.Serial <= first.Serial || second.Lineage != first.Lineage || !strings.Contains(string(srv.State()), `"two"`) {
		t.Errorf("after the second apply: %+v (first %+v)", second, first)
	}
	if _, ok := srv.Version(first.Serial); !ok {
		t.Errorf("version %d is gone; versions %v", first.Serial, srv.Serials())
	}
}

type tfState struct {
	Version          int    `json:"version"`
	TerraformVersion string `json:"terraform_version"`
	Serial           int64  `json:"serial"`
	Lineage          string `json:"lineage"`
}

func terraformState(t *testing.T, doc []byte) tfState {
	t.Helper()
	var s tfState
	if err := json.Unmarshal(doc, &s); err != nil {
		t.Fatalf("stored state is not JSON: %v\n%s", err, doc)
	}
	return s
}

// srvBase is the scheme and host of the server's URL.
func srvBase(srv *httpstatetest.Server) string {
	u := srv.URL()
	i := strings.Index(u, "/api/")
	return u[:i]
}
