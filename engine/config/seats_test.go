package config

import (
	"path/filepath"
	"strings"
	"testing"
)

const seatsBase = `source "ldap" "corp" {
  url     = "ldaps://ldap.example.com"
  base_dn = "ou=users,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.example.com"
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source   = source.ldap.corp
  username = lower(entry.uid)
  email    = lower(entry.mail)
}
`

func TestPolicySeats(t *testing.T) {
	cfg := loadSrc(t, seatsBase+"policy {\n  seats = 250\n}\n")
	if cfg.Policy.Seats != 250 || cfg.PolicyRaw["seats"] != "250" {
		t.Errorf("seats = %d, raw %q; want 250", cfg.Policy.Seats, cfg.PolicyRaw["seats"])
	}
	if cfg := loadSrc(t, seatsBase); cfg.Policy.Seats != 0 {
		t.Errorf("seats without a policy = %d, want 0 (not set)", cfg.Policy.Seats)
	}
	for _, bad := range []string{`"many"`, "-1", "2.5"} {
		_, diags := LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), []byte(seatsBase+"policy {\n  seats = "+bad+"\n}\n"), WithEnv(testEnv(nil)))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "seats must be a whole number") {
			t.Errorf("seats = %s: diagnostics %v, want a whole-number error", bad, diags)
		}
	}
}
