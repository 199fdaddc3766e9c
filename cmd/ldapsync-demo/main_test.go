package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// built holds the binaries buildBinaries built, once for every test of
// the package, in a directory TestMain removes at the end.
var built struct {
	once                sync.Once
	dir, ldapsync, demo string
	err                 error
}

// TestMain runs the tests, then removes the binaries buildBinaries built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinaries builds ldapsync and this demo into a temporary directory,
// the first time a test asks; later tests get the same binaries.
func buildBinaries(t *testing.T) (ldapsync, demo string) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "ldapsync-demo-test-")
		if built.err != nil {
			return
		}
		built.ldapsync, built.demo = filepath.Join(built.dir, "ldapsync"), filepath.Join(built.dir, "ldapsync-demo")
		for _, b := range []struct{ out, pkg string }{{built.ldapsync, "../ldapsync"}, {built.demo, "."}} {
			if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.ldapsync, built.demo
}

// runDemo runs the demo as make demo does and returns its output and the
// working directory it printed.
func runDemo(t *testing.T, ldapsync, demo string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(demo, append([]string{"-ldapsync", ldapsync, "-example", filepath.Join("..", "..", "examples", "quickstart")}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo %v: %v\n%s", args, err, out)
	}
	m := regexp.MustCompile(`(?m)^workdir    (\S+)$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the demo printed no workdir line:\n%s", out)
	}
	return string(out), m[1]
}

// TestDemoOverStartTLS runs the whole demo with -keep: every step
// succeeds against the directory over StartTLS (which refuses a password
// bind before TLS), no command warns about plaintext, and the kept
// working directory holds the CA certificate the demo printed and the
// state the applies wrote.
func TestDemoOverStartTLS(t *testing.T) {
	ldapsync, demo := buildBinaries(t)
	out, dir := runDemo(t, ldapsync, demo, "-keep")
	caFile := filepath.Join(dir, demoCAFile)
	if !strings.Contains(out, "tls        StartTLS before the bind, trusting the demo's throwaway CA: "+caFile+"\n") {
		t.Errorf("the demo does not say it runs over StartTLS with %s:\n%s", caFile, out)
	}
	for _, bad := range []string{"insecure_allow_plaintext", "unencrypted"} {
		if strings.Contains(out, bad) {
			t.Errorf("the demo's output mentions %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "Demo finished") || !strings.Contains(out, "workdir "+dir+" kept (-keep)") {
		t.Errorf("the demo did not finish with its kept workdir:\n%s", out)
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("the kept workdir has no CA certificate: %v", err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatalf("%s is not PEM", caFile)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("%s: not a CA certificate (%v)", caFile, err)
	}
	for _, f := range []string{"ldapsync.hcl", "plan.json", "plan.md", "plan2.json", "ldapsync.state.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the kept workdir lacks %s: %v", f, err)
		}
	}
}

// TestDemoRemovesWorkdir: without -keep the working directory is gone
// at the end, and the demo says so and how to keep it.
func TestDemoRemovesWorkdir(t *testing.T) {
	ldapsync, demo := buildBinaries(t)
	out, dir := runDemo(t, ldapsync, demo)
	if !strings.Contains(out, "workdir "+dir+" removed (run with -keep to keep it)") {
		t.Errorf("the demo does not say it removed %s:\n%s", dir, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after the demo: %v", dir, err)
	}
}
