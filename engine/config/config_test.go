package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/ldapsync/ldapsync/engine"
)

func loadOK(t *testing.T, path string, opts ...Option) *Config {
	t.Helper()
	cfg, diags := Load(path, opts...)
	if diags.HasErrors() {
		t.Fatalf("Load(%s):\n%s", path, diagList(diags))
	}
	return cfg
}

func loadSrc(t *testing.T, src string, opts ...Option) *Config {
	t.Helper()
	opts = append([]Option{WithEnv(testEnv(nil))}, opts...)
	cfg, diags := LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), []byte(src), opts...)
	if diags.HasErrors() {
		t.Fatalf("LoadBytes:\n%s", diagList(diags))
	}
	return cfg
}

func TestFullConfig(t *testing.T) {
	path := "testdata/valid/full.hcl"
	cfg := loadOK(t, path, WithEnv(testEnv(nil)), WithVariables(map[string]string{"ldap_password": "s3cret-bind"}))

	if want := hclDigest(path, mustRead(t, path)); cfg.Digest != want || !strings.HasPrefix(cfg.Digest, "sha256:") || len(cfg.Digest) != 71 {
		t.Errorf("Digest = %q, want %q", cfg.Digest, want)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[0].Name != "corp" || cfg.Sources[1].Name != "contractors" || cfg.Sources[0].Type != "ldap" {
		t.Fatalf("sources = %+v", cfg.Sources)
	}
	if cfg.Target == nil || cfg.Target.Type != "ftrack" || cfg.Target.Name != "studio" || cfg.Target.DeclRange.Start.Line != 36 {
		t.Fatalf("target = %+v", cfg.Target)
	}
	if len(cfg.Mappings) != 1 {
		t.Fatalf("mappings = %d", len(cfg.Mappings))
	}
	m := cfg.Mappings[0]
	if m.Name() != "users" || !slices.Equal(m.SourceNames, []string{"corp", "contractors"}) || m.TargetName != "studio" {
		t.Errorf("mapping = %q %v %q", m.Name(), m.SourceNames, m.TargetName)
	}
	if !m.HandlesSource("contractors") || m.HandlesSource("other") {
		t.Error("HandlesSource wrong")
	}
	if got, want := m.Attributes(), []string{"givenName", "mail", "memberOf", "pwdAccountLockedTime", "sn", "uid"}; !slices.Equal(got, want) {
		t.Errorf("Attributes = %v, want %v", got, want)
	}
	if !m.MapsGroups() {
		t.Error("MapsGroups = false")
	}

	p := cfg.Policy
	wantPolicy := engine.Policy{
		OnMissing: "deactivate", OnDisabled: "ignore", Reactivate: false, GracePeriod: 72 * time.Hour,
		MaxDeactivations: engine.Limit{Raw: "5%", Percent: true, Value: 5},
		MaxCreates:       engine.Limit{Raw: "7", Count: 7},
		MinSourceUsers:   10, Protect: []string{"re:^svc-", "admin"}, AdoptExisting: true, MaxErrors: 3,
	}
	if !reflect.DeepEqual(p, wantPolicy) {
		t.Errorf("Policy =\n%+v\nwant\n%+v", p, wantPolicy)
	}
	wantRaw := map[string]string{
		"on_missing": "deactivate", "on_disabled": "ignore", "reactivate": "false", "grace_period": "72h",
		"max_deactivations": "5%", "max_creates": "7", "min_source_users": "10", "protect": "admin, re:^svc-",
		"adopt_existing": "true", "max_errors": "3",
	}
	if !reflect.DeepEqual(cfg.PolicyRaw, wantRaw) {
		t.Errorf("PolicyRaw = %v", cfg.PolicyRaw)
	}
	if want := filepath.Join("testdata", "valid", "state", "ldapsync.state.json"); cfg.State.Path != want {
		t.Errorf("State.Path = %q, want %q", cfg.State.Path, want)
	}
	if len(cfg.Groups) != 1 {
		t.Fatalf("groups = %d", len(cfg.Groups))
	}
	g := cfg.Groups[0]
	if g.Name != "studio" || g.SourceName != "corp" || g.BaseDN != "ou=groups,dc=example,dc=com" || g.MemberAttribute != "member" ||
		!g.Nested || g.CreateGroups || g.Filter != "(objectClass=groupOfNames)" ||
		!reflect.DeepEqual(g.Map, map[string]string{"cn=artists,ou=groups,dc=example,dc=com": "Artists", "re:^proj-(.*)$": "Project $1"}) {
		t.Errorf("groups = %+v", g)
	}

	// A provider decodes its body with EvalContext: var.*, env().
	var conn struct {
		URL          string   `hcl:"url"`
		BindPassword string   `hcl:"bind_password,optional"`
		BindDN       string   `hcl:"bind_dn,optional"`
		BaseDN       string   `hcl:"base_dn"`
		Rest         hcl.Body `hcl:",remain"`
	}
	if diags := gohcl.DecodeBody(cfg.Sources[0].Body, cfg.EvalContext(), &conn); diags.HasErrors() {
		t.Fatalf("decode source: %s", diagList(diags))
	}
	if conn.URL != "ldaps://ldap.example.com" || conn.BindPassword != "s3cret-bind" {
		t.Errorf("source = %+v", conn)
	}
	var tgt struct {
		APIKey string   `hcl:"api_key"`
		Rest   hcl.Body `hcl:",remain"`
	}
	if diags := gohcl.DecodeBody(cfg.Target.Body, cfg.EvalContext(), &tgt); diags.HasErrors() || tgt.APIKey != "ftrack-secret-key" {
		t.Errorf("target api_key = %q %s", tgt.APIKey, diagList(diags))
	}

	secrets := cfg.Secrets()
	for _, s := range []string{"s3cret-bind", "ftrack-secret-key"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("Secrets() = %q lacks %q", secrets, s)
		}
	}
	for _, s := range []string{"admin", "example.com", "ldaps://ldap.example.com"} {
		if slices.Contains(secrets, s) {
			t.Errorf("Secrets() has non-secret %q", s)
		}
	}

	// Mapping through the full config: var.domain in a fallback, groups.
	u, err := m.Map(engine.Entry{Source: "corp", DN: "uid=x,ou=users", StableID: "id-1", Attrs: map[string][]string{
		"uid": {"XUser"}, "memberOf": {"cn=b,ou=g", "cn=a,ou=g", "cn=b,ou=g"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "xuser@example.com" || !slices.Equal(u.Groups, []string{"A", "B"}) || u.Disabled {
		t.Errorf("user = %+v", u)
	}
}

func TestDefaults(t *testing.T) {
	cfg := loadSrc(t, `
source "ldap" "corp" { url = "ldaps://x" }
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`)
	if !reflect.DeepEqual(cfg.Policy, engine.DefaultPolicy()) {
		t.Errorf("Policy = %+v", cfg.Policy)
	}
	if len(cfg.PolicyRaw) != 0 || cfg.PolicyRaw == nil {
		t.Errorf("PolicyRaw = %v", cfg.PolicyRaw)
	}
	if filepath.Base(cfg.State.Path) != DefaultStatePath || !filepath.IsAbs(cfg.State.Path) {
		t.Errorf("State.Path = %q", cfg.State.Path)
	}
	m := cfg.Mappings[0]
	if !slices.Equal(m.SourceNames, []string{"corp"}) || m.TargetName != "studio" || m.MapsGroups() {
		t.Errorf("mapping defaults: %v %q %v", m.SourceNames, m.TargetName, m.MapsGroups())
	}
	if len(cfg.Secrets()) != 0 {
		t.Errorf("Secrets() = %q", cfg.Secrets())
	}
}

func TestLimitAsNumberAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
source "ldap" "corp" {
  url           = "ldaps://x"
  bind_password = file("pw.txt")
}
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
policy {
  max_updates = 25
  max_errors  = 0
}
`
	cfg, diags := LoadBytes(filepath.Join(dir, "c.hcl"), []byte(src), WithEnv(testEnv(nil)))
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	if cfg.Policy.MaxUpdates != (engine.Limit{Raw: "25", Count: 25}) || cfg.PolicyRaw["max_updates"] != "25" {
		t.Errorf("max_updates = %+v", cfg.Policy.MaxUpdates)
	}
	if s := cfg.Secrets(); !slices.Contains(s, "file-secret") || !slices.Contains(s, "file-secret\n") {
		t.Errorf("Secrets() = %q", s)
	}
	// A missing file is an error at load.
	_, diags = LoadBytes(filepath.Join(t.TempDir(), "c.hcl"), []byte(src), WithEnv(testEnv(nil)))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "pw.txt") || diags[0].Subject.Start.Line != 4 {
		t.Errorf("missing file: %s", diagList(diags))
	}
}

func TestFormatIdempotent(t *testing.T) {
	src := []byte("source \"ldap\" \"corp\" {\nurl=\"x\"\n    base_dn   =  \"y\"\n}\n")
	once := Format(src)
	if bytes.Equal(once, src) {
		t.Fatal("Format changed nothing on unformatted input")
	}
	if !bytes.Contains(once, []byte("  url     = \"x\"\n  base_dn = \"y\"")) {
		t.Errorf("Format =\n%s", once)
	}
	if twice := Format(once); !bytes.Equal(once, twice) {
		t.Errorf("Format not idempotent:\n%s\n---\n%s", once, twice)
	}
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	for _, f := range files {
		src := mustRead(t, f)
		if got := Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not canonically formatted", f)
		}
	}
}

func TestDiagnosticsNeverPrintSecretValues(t *testing.T) {
	src := []byte("ldap:\n  server_url: \"ldaps://ldap.example.com\"\n  bind_pasword: \"hunter2-secret\"\n  base_dn: \"dc=example,dc=com\"\nftrack: { server_url: \"https://x.example.com\", api_key: \"k-123456\", api_user: \"admin\" }\n")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path)
	if !diags.HasErrors() {
		t.Fatal("a misspelled key must be an error")
	}
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, files, diags, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "bind_pasword") {
		t.Errorf("the diagnostic should still name the key:\n%s", out)
	}
	for _, secret := range []string{"hunter2-secret", "k-123456"} {
		if strings.Contains(out, secret) {
			t.Errorf("diagnostic output contains the secret %q:\n%s", secret, out)
		}
	}
}
