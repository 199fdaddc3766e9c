package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file() secret whose file is missing is unchecked in validate (named
// with its path, quoted even when the path holds the placeholder's own
// closing parenthesis) and an error when the secrets are needed.
func TestWithoutSecretsMissingFile(t *testing.T) {
	dir := t.TempDir()
	src := `
source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=sync,dc=example,dc=com"
  bind_password = trimspace(file("secrets (old)/pw"))
  base_dn       = "dc=example,dc=com"
}
target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = "k"
}
mapping "users" {
  username = lower(entry.uid)
  email    = lower(entry.mail)
}
`
	path := filepath.Join(dir, "ldapsync.hcl")
	cfg, diags := LoadBytes(path, []byte(src), WithEnv(testEnv(nil)), WithoutSecrets())
	if diags.HasErrors() {
		t.Fatalf("validate without the file:\n%s", diagList(diags))
	}
	want := `source "ldap" "corp" bind_password: file "` + filepath.Join(dir, "secrets (old)", "pw") + `" does not exist`
	if len(cfg.Unchecked) != 1 || cfg.Unchecked[0] != want {
		t.Fatalf("Unchecked = %q, want [%q]", cfg.Unchecked, want)
	}

	_, diags = LoadBytes(path, []byte(src), WithEnv(testEnv(nil)))
	if !diags.HasErrors() || !strings.Contains(diagList(diags), "no such file or directory") {
		t.Fatalf("with the secrets needed, a missing file is an error; got:\n%s", diagList(diags))
	}

	if err := os.MkdirAll(filepath.Join(dir, "secrets (old)"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets (old)", "pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags = LoadBytes(path, []byte(src), WithEnv(testEnv(nil)), WithoutSecrets())
	if diags.HasErrors() || len(cfg.Unchecked) != 0 {
		t.Fatalf("with the file there: Unchecked %q, diagnostics:\n%s", cfg.Unchecked, diagList(diags))
	}
}
