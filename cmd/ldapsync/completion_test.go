package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionListsCommandsAndFlags runs the real binary the way the
// completion scripts do and checks the script itself parses in bash.
func TestCompletionListsCommandsAndFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ldapsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--generate-bash-completion").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"plan", "apply", "drift", "sync", "completion"} {
		if !strings.Contains(string(out), cmd+"\n") {
			t.Errorf("command list lacks %q:\n%s", cmd, out)
		}
	}
	out, err = exec.Command(bin, "plan", "-", "--generate-bash-completion").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "--detailed-exitcode") {
		t.Errorf("plan flag list lacks --detailed-exitcode:\n%s", out)
	}
	script, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("bash"); err == nil {
		check := exec.Command("bash", "-n")
		check.Stdin = bytes.NewReader(script)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("bash rejects the completion script: %v\n%s", err, out)
		}
	}
	if err := exec.Command(bin, "completion", "fish").Run(); err == nil {
		t.Errorf("an unknown shell must be an error")
	}
	_ = os.Remove(bin)
}
