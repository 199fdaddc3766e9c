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
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
		"DEMO_LDAP_CA_FILE":          caFile,
		"DEMO_LDAP_PASSWORD":         "x-demo-password",
		"DEMO_FTRACK_URL":            "http://127.0.0.1:1",
		"NO_COLOR":                   "1",
		// The GitLab example's state "http" block (GitLab-managed
		// Terraform state) reads these predefined CI/CD variables.
		"CI_API_V4_URL": "https://gitlab.example.com/api/v4",
		"CI_PROJECT_ID": "42",
		"CI_JOB_TOKEN":  "x-ci-job-token",
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
	return runLdapsyncIn(t, bin, "", env, args...)
}

// runLdapsyncIn is runLdapsync in the working directory dir ("": the
// test's).
func runLdapsyncIn(t *testing.T, bin, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
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
	t.Run("secrets_named", func(t *testing.T) { testExamplesNameTheirSecrets(t, bin) })
	t.Run("seed_converts", func(t *testing.T) { testExampleSeedConverts(t, bin) })
	t.Run("ci_yaml", testExampleCIFilesAreYAML)
	t.Run("github_workflow", testExampleGitHubWorkflow)
	t.Run("github_pr_workflow", testExampleGitHubPRWorkflow)
	t.Run("gitlab_pipeline", testExampleGitLabPipeline)
	t.Run("actionlint", testExampleWorkflowsActionlint)
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
				for _, secret := range []string{"x-ldap-password", "x-ftrack-api-key", "x-demo-password", "x-ci-job-token"} {
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

// testExamplesNameTheirSecrets checks that the test above proves
// something about secrets: without the sensitive variable validate still
// checks the rest and succeeds, but names the setting it could not check,
// and plan (which needs it) fails naming it.
func testExamplesNameTheirSecrets(t *testing.T, bin string) {
	path := filepath.Join("..", "..", "examples", "active-directory", "ldapsync.hcl")
	env := exampleEnv(writeTestCA(t), "LDAPSYNC_VAR_ldap_password")
	stdout, stderr, code := runLdapsync(t, bin, env, "validate", "-config", path, "-no-color")
	if code != 0 {
		t.Fatalf("validate without LDAPSYNC_VAR_ldap_password: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `not checked without its value: source "ldap" "corp" bind_password: sensitive variable "ldap_password" has no value`) || !strings.Contains(stdout, "1 secret setting was not checked") {
		t.Errorf("validate without the password should name ldap_password as not checked:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	stdout, stderr, code = runLdapsync(t, bin, env, "plan", "-config", path, "-no-color")
	if code != 1 || !strings.Contains(stderr, "ldap_password") || strings.Contains(stdout, "Plan:") {
		t.Errorf("plan without the password: exit %d, want 1 naming ldap_password:\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
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
		"github-actions/ldapsync.yml":    {"ldapsync plan -no-color -out plan.json -markdown plan.md -detailed-exitcode", "ldapsync apply -no-color", "LDAPSYNC_PLAN_KEY", "upload-artifact", "gh workflow run", "gh pr create", ".observations | length > 0", "ldapsync state force-unlock -force"},
		"github-actions/ldapsync-pr.yml": {"ldapsync fmt -check", "statuses: write", "context=ldapsync/plan"},
		"gitlab-ci/gitlab-ci.yml":        {"ldapsync plan -no-color -out plan.json -markdown plan.md -detailed-exitcode", "ldapsync apply -no-color", "resource_group", "ldapsync state force-unlock -force", "trigger/pipeline", ".observations | length > 0"},
		"github-actions/ldapsync.hcl":    {`state "ftrack" {}`, "require_signed_plans = true"},
		"gitlab-ci/ldapsync.hcl":         {`state "http"`, `env("CI_JOB_TOKEN")`, `lock_method    = "POST"`, `unlock_method  = "DELETE"`, "require_signed_plans = true"},
		"drift-monitoring/drift.yml":     {"ldapsync drift -detailed-exitcode -markdown"},
	} {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Error(err)
			continue
		}
		if strings.HasSuffix(file, ".yml") {
			var doc map[string]any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Errorf("%s is not valid YAML: %v", file, err)
				continue
			}
			if len(doc) == 0 {
				t.Errorf("%s is empty", file)
			}
		}
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s does not contain %q", file, w)
			}
		}
	}
}

// yamlMap returns doc[key] as a map (nil when it is not one).
func yamlMap(doc map[string]any, key string) map[string]any {
	m, _ := doc[key].(map[string]any)
	return m
}

// readYAMLExample reads the YAML file at path, and its document as a map.
func readYAMLExample(t *testing.T, path string) ([]byte, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data, doc
}

// testExampleGitHubWorkflow checks the shape of the GitHub workflow the
// README describes: the triggers (no pull_request: forks never run it with
// secrets), the force and unlock_id inputs, least-privilege permissions,
// and the concurrency groups: plan in one, apply in another (a queued plan
// cancels only a pending job of its own group, never an apply), neither
// cancelling a running job, and force-unlock in the apply's group.
func testExampleGitHubWorkflow(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "github-actions", "ldapsync.yml")
	data, doc := readYAMLExample(t, path)
	on := yamlMap(doc, "on")
	for _, ev := range []string{"schedule", "workflow_dispatch", "push"} {
		if _, ok := on[ev]; !ok {
			t.Errorf("on: lacks %s", ev)
		}
	}
	for _, ev := range []string{"pull_request", "pull_request_target"} {
		if _, ok := on[ev]; ok {
			t.Errorf("on: has %s: the workflow must not run for pull requests (forks get no secrets, and the plan is a pull request of its own)", ev)
		}
	}
	force := yamlMap(yamlMap(yamlMap(on, "workflow_dispatch"), "inputs"), "force")
	if force["type"] != "boolean" {
		t.Errorf("workflow_dispatch input force: type %v, want boolean", force["type"])
	}
	if unlock := yamlMap(yamlMap(yamlMap(on, "workflow_dispatch"), "inputs"), "unlock_id"); unlock["type"] != "string" {
		t.Errorf("workflow_dispatch input unlock_id: type %v, want string", unlock["type"])
	}
	if paths, _ := yamlMap(on, "push")["paths"].([]any); !slices.Contains(paths, any("plan.json")) {
		t.Errorf("on.push.paths %v lacks plan.json", paths)
	}
	if p, ok := doc["permissions"].(map[string]any); !ok || len(p) != 0 {
		t.Errorf("top-level permissions: %v, want {} (each job asks for its own)", doc["permissions"])
	}
	jobs := yamlMap(doc, "jobs")
	group := map[string]any{}
	for _, name := range []string{"plan", "apply", "force-unlock"} {
		job := yamlMap(jobs, name)
		if job == nil {
			t.Errorf("jobs.%s is missing", name)
			continue
		}
		if _, ok := job["permissions"].(map[string]any); !ok {
			t.Errorf("jobs.%s has no permissions block", name)
		}
		group[name] = yamlMap(job, "concurrency")["group"]
		if c := yamlMap(job, "concurrency"); c["cancel-in-progress"] != false {
			t.Errorf("jobs.%s.concurrency.cancel-in-progress = %v, want false (an apply must never be cancelled)", name, c["cancel-in-progress"])
		}
	}
	if group["plan"] == nil || group["apply"] == nil || group["plan"] == group["apply"] {
		t.Errorf("plan and apply must each have a concurrency group, and not the same one (a queued plan would cancel a pending apply): %v", group)
	}
	if group["force-unlock"] != group["apply"] {
		t.Errorf("force-unlock must be in the apply's concurrency group: %v", group)
	}
	if !strings.Contains(string(data), `ldapsync state force-unlock -force "$UNLOCK_ID"`) || strings.Contains(string(data), "force-unlock -force ${{") {
		t.Errorf("%s: force-unlock must run `ldapsync state force-unlock -force \"$UNLOCK_ID\"` (the input through env:)", path)
	}
	if strings.Contains(string(data), "actions/cache") {
		t.Errorf("%s uses the Actions cache: the state lives in ftrack (state \"ftrack\" {})", path)
	}
}

// testExampleGitHubPRWorkflow checks the secret-free pull request
// workflow: on pull_request only, no secrets or environment, the status
// job with statuses: write alone, never for the plan branch.
func testExampleGitHubPRWorkflow(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "github-actions", "ldapsync-pr.yml")
	data, doc := readYAMLExample(t, path)
	on := yamlMap(doc, "on")
	if _, ok := on["pull_request"]; !ok || len(on) != 1 {
		t.Errorf("%s: on: %v, want pull_request only", path, on)
	}
	for _, bad := range []string{"secrets.", "environment:", "pull_request_target"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("%s contains %q: it must run without secrets", path, bad)
		}
	}
	if !strings.Contains(string(data), "ldapsync fmt -check") {
		t.Errorf("%s does not run ldapsync fmt -check", path)
	}
	jobs := yamlMap(doc, "jobs")
	status := yamlMap(jobs, "plan-status")
	if p, _ := status["permissions"].(map[string]any); len(p) != 1 || p["statuses"] != "write" {
		t.Errorf("jobs.plan-status.permissions = %v, want statuses: write only", status["permissions"])
	}
	if cond := fmt.Sprint(status["if"]); !strings.Contains(cond, "github.head_ref != 'ldapsync/plan'") {
		t.Errorf("jobs.plan-status.if = %q: it must never set ldapsync/plan for the plan branch", cond)
	}
	if !strings.Contains(string(data), "context=ldapsync/plan") {
		t.Errorf("%s does not set the ldapsync/plan status", path)
	}
}

// testExampleGitLabPipeline checks the GitLab pipeline's structure: the
// jobs the README describes, on the rules it describes, every job that
// plans, applies or unlocks in resource_group ldapsync, every stage
// declared.
func testExampleGitLabPipeline(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "gitlab-ci", "gitlab-ci.yml")
	_, doc := readYAMLExample(t, path)
	stages := map[string]bool{}
	list, _ := doc["stages"].([]any)
	for _, s := range list {
		stages[fmt.Sprint(s)] = true
	}
	// job returns a job with its extends (one level, as the file uses it)
	// merged under it.
	job := func(name string) map[string]any {
		j := yamlMap(doc, name)
		if j == nil {
			return nil
		}
		out := map[string]any{}
		if base, ok := j["extends"].(string); ok {
			for k, v := range yamlMap(doc, base) {
				out[k] = v
			}
		}
		for k, v := range j {
			out[k] = v
		}
		return out
	}
	rulesText := func(j map[string]any) string {
		b, _ := yaml.Marshal(j["rules"])
		return string(b)
	}
	for name, want := range map[string]struct {
		resourceGroup bool
		rules         []string
		script        []string
	}{
		"ldapsync-plan":         {true, []string{`$CI_PIPELINE_SOURCE =~ /^(schedule|web|pipeline|trigger)$/`, "ldapsync.hcl", "when: never"}, []string{"ldapsync plan", "-detailed-exitcode", "merge_requests", "git push"}},
		"ldapsync-apply":        {true, []string{`$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`, "plan.json"}, []string{"ldapsync apply", "apply refused", "trigger/pipeline"}},
		"ldapsync-drift":        {false, []string{`$CI_PIPELINE_SOURCE == "schedule"`, `$LDAPSYNC_JOB == "drift"`}, []string{"ldapsync drift -detailed-exitcode -markdown"}},
		"ldapsync-plan-check":   {false, []string{`$CI_PIPELINE_SOURCE == "merge_request_event"`, "$PLAN_BRANCH"}, []string{"blocked"}},
		"ldapsync-force-unlock": {true, []string{`$LDAPSYNC_LOCK_ID`}, []string{"ldapsync state force-unlock"}},
	} {
		j := job(name)
		if j == nil {
			t.Errorf("%s: no job %s", path, name)
			continue
		}
		if st := fmt.Sprint(j["stage"]); !stages[st] {
			t.Errorf("%s: stage %q is not in stages %v", name, st, list)
		}
		if rg := j["resource_group"]; want.resourceGroup && rg != "ldapsync" {
			t.Errorf("%s: resource_group = %v, want ldapsync", name, rg)
		}
		rules := rulesText(j)
		for _, r := range want.rules {
			if !strings.Contains(rules, r) {
				t.Errorf("%s: rules lack %q:\n%s", name, r, rules)
			}
		}
		script, _ := yaml.Marshal(j["script"])
		for _, s := range want.script {
			if !strings.Contains(string(script), s) {
				t.Errorf("%s: script lacks %q", name, s)
			}
		}
	}
	if env := yamlMap(job("ldapsync-apply"), "environment"); env["name"] == nil {
		t.Errorf("ldapsync-apply has no environment")
	}
}

// actionlintVersion is the Makefile's ACTIONLINT_VERSION, so that make lint
// and make test run one pinned version.
func actionlintVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ACTIONLINT_VERSION\s*:?=\s*(v\S+)\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Makefile: no ACTIONLINT_VERSION := vX.Y.Z line")
	}
	return string(m[1])
}

// testExampleWorkflowsActionlint runs the pinned actionlint (with
// shellcheck on the run: scripts when it is installed) on the example
// GitHub workflows. Building actionlint needs the Go module proxy once;
// without it the test skips, except under CI.
func testExampleWorkflowsActionlint(t *testing.T) {
	version := actionlintVersion(t)
	bin := t.TempDir()
	install := exec.Command("go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+version)
	install.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	if out, err := install.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go install actionlint@%s: %v\n%s", version, err, out)
		}
		t.Skipf("go install actionlint@%s failed (no module proxy?): %v\n%s", version, err, out)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "github-actions", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "examples", "drift-monitoring", "drift.yml"))
	if len(files) < 2 {
		t.Fatalf("no workflows to check: %v", files)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not installed: actionlint checks the workflows without it")
	}
	cmd := exec.Command(filepath.Join(bin, "actionlint"), append([]string{"-no-color"}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint %s: %v\n%s", version, err, out)
	}
}
