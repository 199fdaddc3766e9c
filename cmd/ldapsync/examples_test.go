package main

// The examples test builds the real ldapsync binary once and runs it on
// every configuration under examples/: each ldapsync.hcl and config.yaml
// must pass `ldapsync validate`, HCL files must be in `ldapsync fmt` form,
// the seed YAML must convert to HCL that validates too, and the CI files
// must be well-formed YAML. Secrets are supplied the way users supply them:
// through LDAPSYNC_VAR_<name> and the variables env() reads.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// buildExampleBinary builds ./cmd/ldapsync (the test's own directory)
// into a temporary directory.
func buildExampleBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ldapsync")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeTestCA writes a self-signed CA certificate in PEM form, for the
// examples whose ca_cert_file validate reads.
func writeTestCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ldapsync examples test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// exampleEnv is the environment the examples expect: secrets through
// LDAPSYNC_VAR_* and env(), the quickstart's demo URLs, no colors.
func exampleEnv(caFile string, drop ...string) []string {
	set := map[string]string{
		"LDAPSYNC_VAR_ldap_password": "x-ldap-password",
		"LDAPSYNC_VAR_ca_cert_file":  caFile,
		"FTRACK_API_KEY":             "x-ftrack-api-key",
		"DEMO_LDAP_URL":              "ldap://127.0.0.1:1389",
		"DEMO_LDAP_PASSWORD":         "x-demo-password",
		"DEMO_FTRACK_URL":            "http://127.0.0.1:1",
		"NO_COLOR":                   "1",
	}
	for _, d := range drop {
		delete(set, d)
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ours := set[name]; ours || strings.HasPrefix(name, "LDAPSYNC_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// runLdapsync runs the binary and returns stdout, stderr and the exit code.
func runLdapsync(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running ldapsync %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// exampleDirs lists examples/*/ from the repository root.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("..", "..", "examples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	if len(out) < 8 {
		t.Fatalf("found %d example directories under examples/, want at least 8: %v", len(out), out)
	}
	return out
}

// TestExamples builds the binary once and checks every example with it.
func TestExamples(t *testing.T) {
	bin := buildExampleBinary(t)
	t.Run("validate", func(t *testing.T) { testExamplesValidate(t, bin) })
	t.Run("secrets_required", func(t *testing.T) { testExamplesNeedTheirSecrets(t, bin) })
	t.Run("seed_converts", func(t *testing.T) { testExampleSeedConverts(t, bin) })
	t.Run("ci_yaml", testExampleCIFilesAreYAML)
}

func testExamplesValidate(t *testing.T, bin string) {
	env := exampleEnv(writeTestCA(t))
	configs := 0
	for _, dir := range exampleDirs(t) {
		name := filepath.Base(dir)
		if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
			t.Errorf("examples/%s has no README.md", name)
		}
		found := false
		for _, file := range []string{"ldapsync.hcl", "config.yaml"} {
			path := filepath.Join(dir, file)
			if _, err := os.Stat(path); err != nil {
				continue
			}
			found = true
			configs++
			t.Run(name+"/"+file, func(t *testing.T) {
				stdout, stderr, code := runLdapsync(t, bin, env, "validate", "-config", path, "-no-color")
				if code != 0 {
					t.Fatalf("ldapsync validate -config %s: exit %d\nstdout:\n%s\nstderr:\n%s", path, code, stdout, stderr)
				}
				want := "Success! The configuration " + path + " is valid."
				if !strings.Contains(stdout, want) {
					t.Errorf("validate output lacks %q:\n%s", want, stdout)
				}
				for _, secret := range []string{"x-ldap-password", "x-ftrack-api-key", "x-demo-password"} {
					if strings.Contains(stdout+stderr, secret) {
						t.Errorf("validate printed the secret %q:\n%s%s", secret, stdout, stderr)
					}
				}
				if strings.HasSuffix(path, ".hcl") {
					out, errOut, code := runLdapsync(t, bin, env, "fmt", "-check", path)
					if code != 0 {
						t.Errorf("ldapsync fmt -check %s: exit %d (the example is not in canonical format)\n%s%s", path, code, out, errOut)
					}
				}
			})
		}
		if !found {
			t.Errorf("examples/%s has neither ldapsync.hcl nor config.yaml", name)
		}
	}
	if configs < 8 {
		t.Errorf("validated %d example configurations, want at least 8", configs)
	}
}

// testExamplesNeedTheirSecrets checks that the test above proves
// something: without the sensitive variable, validate fails and names it.
func testExamplesNeedTheirSecrets(t *testing.T, bin string) {
	path := filepath.Join("..", "..", "examples", "active-directory", "ldapsync.hcl")
	env := exampleEnv(writeTestCA(t), "LDAPSYNC_VAR_ldap_password")
	stdout, stderr, code := runLdapsync(t, bin, env, "validate", "-config", path, "-no-color")
	if code != 1 {
		t.Fatalf("validate without LDAPSYNC_VAR_ldap_password: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "ldap_password") || strings.Contains(stdout, "Success!") {
		t.Errorf("validate without the password should name ldap_password and not succeed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// testExampleSeedConverts converts the cron example's config.yaml with
// `ldapsync convert` and validates the resulting HCL.
func testExampleSeedConverts(t *testing.T, bin string) {
	env := exampleEnv(writeTestCA(t))
	seed := filepath.Join("..", "..", "examples", "cron", "config.yaml")
	hcl, stderr, code := runLdapsync(t, bin, env, "convert", seed)
	if code != 0 {
		t.Fatalf("ldapsync convert %s: exit %d\n%s", seed, code, stderr)
	}
	for _, want := range []string{`source "ldap"`, `target "ftrack"`, `mapping "users"`, "full_name = entry.cn"} {
		if !strings.Contains(hcl, want) {
			t.Errorf("converted configuration lacks %q:\n%s", want, hcl)
		}
	}
	path := filepath.Join(t.TempDir(), "ldapsync.hcl")
	if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"bind_password = \"", "api_key = \""} {
		if strings.Contains(hcl, secret) {
			t.Errorf("converted configuration holds a secret value (%s…):\n%s", secret, hcl)
		}
	}
	env = append(env, "LDAPSYNC_VAR_ldap_bind_password=from-the-environment", "LDAPSYNC_VAR_ftrack_api_key=from-the-environment")
	stdout, stderr, code := runLdapsync(t, bin, env, "validate", "-config", path, "-no-color")
	if code != 0 || !strings.Contains(stdout, "Success!") {
		t.Fatalf("validate of the converted configuration: exit %d\n%s%s", code, stdout, stderr)
	}
}

// testExampleCIFilesAreYAML parses the pipeline definitions and checks the
// commands the README promises are in them.
func testExampleCIFilesAreYAML(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	for file, wants := range map[string][]string{
		"github-actions/ldapsync.yml": {"ldapsync plan -no-color -out plan.json -markdown plan.md", "ldapsync apply", "LDAPSYNC_PLAN_KEY", "upload-artifact"},
		"gitlab-ci/gitlab-ci.yml":     {"ldapsync plan -no-color -out plan.json -markdown plan.md", "ldapsync apply", "resource_group", "LDAPSYNC_VAR_state_path"},
		"drift-monitoring/drift.yml":  {"ldapsync drift -detailed-exitcode -markdown"},
	} {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Error(err)
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Errorf("%s is not valid YAML: %v", file, err)
			continue
		}
		if len(doc) == 0 {
			t.Errorf("%s is empty", file)
		}
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s does not contain %q", file, w)
			}
		}
	}
}
