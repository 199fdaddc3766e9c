package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMalformedVarIsNotEchoed: "-var SECRET" (the name forgotten) and
// "-var =SECRET" are refused without printing what was typed.
func TestMalformedVarIsNotEchoed(t *testing.T) {
	for _, bad := range []string{"hunter2-secret", "=hunter2-secret"} {
		_, err := parseVars([]string{"ok=1", bad})
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, "-var: expected NAME=VALUE") || !strings.Contains(msg, "number 2") {
			t.Errorf("%q: %q", bad, msg)
		}
	}
	vars, err := parseVars([]string{"a=1", "b=x=y", "c="})
	if err != nil || vars["a"] != "1" || vars["b"] != "x=y" || vars["c"] != "" || len(vars) != 3 {
		t.Errorf("good flags: %v, %v", vars, err)
	}
}

// TestVarFileWarningIsPrinted: a -var-file value for a variable the
// configuration does not declare is a warning on stderr, as the README
// says, and the command goes on.
func TestVarFileWarningIsPrinted(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "ldapsync.hcl")
	varFile := filepath.Join(dir, "vars.tfvars")
	writeLoadConfigFile(t, cfgPath, `
variable "domain" { default = "example.com" }
source "ldap" "corp" { url = "ldaps://ldap.example.com" }
target "ftrack" "studio" { server_url = "https://studio.example.com" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`)
	writeLoadConfigFile(t, varFile, "domain = \"corp.example.com\"\nunknown_thing = 1\n")
	var stderr bytes.Buffer
	cfg, err := loadConfig(globalArgs{ConfigPath: cfgPath, VarFiles: []string{varFile}, NoColor: true}, &stderr)
	if err != nil || cfg == nil {
		t.Fatalf("loadConfig: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "Warning: ") || !strings.Contains(out, "Value for undeclared variable") || !strings.Contains(out, `"unknown_thing"`) || !strings.Contains(out, varFile+":2:1") {
		t.Errorf("stderr:\n%s", out)
	}
}

func writeLoadConfigFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
