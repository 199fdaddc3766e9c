package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// The check scripts need two things the other scripts do not: an ftrack
// API user without the right to read some entity types, and a directory
// whose ACLs hide an attribute from the sync account. Both are script
// commands (scriptCmds), kept here next to the tests of check.

// ftrack-deny TYPE... makes the emulator refuse, with a PermissionError,
// every operation that reads or writes one of the entity types (a query
// "… from TYPE …", or a create, update or delete of TYPE): an API user
// whose role may not see them. No arguments lifts the refusal.
func cmdFtrackDeny(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: ftrack-deny TYPE...")
	}
	e := ftrackOf(ts).Emulator
	if len(args) == 0 {
		e.SetFaults(ftracktest.Faults{})
		return
	}
	denied := map[string]bool{}
	for _, t := range args {
		denied[strings.ToLower(t)] = true
	}
	e.SetFaults(ftracktest.Faults{FailOperation: func(op map[string]any) *ftracktest.APIError {
		typ, _ := op["entity_type"].(string)
		if expr, ok := op["expression"].(string); ok {
			typ = queriedType(expr)
		}
		if denied[strings.ToLower(typ)] {
			return &ftracktest.APIError{Exception: ftracktest.ExcPermission, Content: fmt.Sprintf("Permission denied: the API user may not access %s.", typ)}
		}
		return nil
	}})
}

// queriedType is the entity type a query expression reads: the word after
// "from", or the first word of an expression without select.
func queriedType(expr string) string {
	f := strings.Fields(expr)
	for i, w := range f {
		if strings.EqualFold(w, "from") && i+1 < len(f) {
			return f[i+1]
		}
	}
	if len(f) > 0 {
		return f[0]
	}
	return ""
}

// ldap-hide ATTR... adds an ACL to the script's slapd that denies the
// sync account (LDAP_BIND_DN) every access to the attributes, as a
// directory whose administrator forgot to grant it: slapd is stopped,
// its cn=config is edited offline with slapmodify, and it is started
// again on the same ports.
func cmdLDAPHide(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: ldap-hide ATTR...")
	}
	s := slapdOf(ts)
	slapmodify := "/usr/sbin/slapmodify"
	if _, err := os.Stat(slapmodify); err != nil {
		ts.Fatalf("slapmodify is not installed (it comes with slapd)")
	}
	ldif := fmt.Sprintf("dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcAccess\nolcAccess: {0}to attrs=%s by dn.exact=\"%s\" none by * break\n",
		strings.Join(args, ","), ldaptest.SyncDN)
	f := filepath.Join(s.Dir, "hide.ldif")
	ts.Check(os.WriteFile(f, []byte(ldif), 0o600))
	ts.Check(s.Stop())
	if err := ts.Exec(slapmodify, "-n0", "-F", filepath.Join(s.Dir, "slapd.d"), "-l", f); err != nil {
		ts.Fatalf("slapmodify: %v", err)
	}
	ts.Check(s.Restart())
}

// TestValueOrigin: the fix for a refused bind or API key names where the
// value comes from, read from the expression, never the value itself.
func TestValueOrigin(t *testing.T) {
	src := `
variable "ldap_password" {
  sensitive = true
  default   = "s3cret-default"
}

source "ldap" "a" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=sync"
  bind_password = var.ldap_password
  base_dn       = "dc=example"
}

source "ldap" "b" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=sync"
  bind_password = trimspace(env("LDAP_PW"))
  base_dn       = "dc=example"
}

source "ldap" "c" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=sync"
  bind_password = "inline-secret"
  base_dn       = "dc=example"
}

target "ftrack" "t" {
  server_url = "https://studio.example.com"
  api_user   = "bot"
  api_key    = file("KEYFILE")
}

mapping "m" {
  source   = [source.ldap.a, source.ldap.b, source.ldap.c]
  target   = target.ftrack.t
  username = entry.uid
  email    = entry.mail
}
`
	keyFile := filepath.Join(t.TempDir(), "ftrack-key")
	if err := os.WriteFile(keyFile, []byte("key-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src = strings.Replace(src, "KEYFILE", keyFile, 1)
	cfg, diags := config.LoadBytes("ldapsync.hcl", []byte(src), config.WithEnv(func(string) (string, bool) { return "x", true }))
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	k := &checker{ws: &workspace{cfg: cfg}}
	for _, tc := range []struct {
		block *config.Block
		attr  string
		want  string
	}{
		{k.block(cfg.Sources, "a"), "bind_password", `variable "ldap_password" (LDAPSYNC_VAR_ldap_password, -var or -var-file)`},
		{k.block(cfg.Sources, "b"), "bind_password", "the environment variable LDAP_PW"},
		{k.block(cfg.Sources, "c"), "bind_password", "bind_password at ldapsync.hcl:"},
		{cfg.Target, "api_key", "the file " + keyFile},
		{k.block(cfg.Sources, "a"), "nonexistent", ""},
		{nil, "bind_password", ""},
	} {
		got := valueOrigin(tc.block, tc.attr)
		if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("valueOrigin(%s) = %q, want %q", tc.attr, got, tc.want)
		}
		for _, secret := range []string{"s3cret-default", "inline-secret", "key-from-file"} {
			if strings.Contains(got, secret) {
				t.Errorf("valueOrigin(%s) = %q shows a secret", tc.attr, got)
			}
		}
	}
}

// TestCheckSection: ids split into the text report's sections.
func TestCheckSection(t *testing.T) {
	for id, want := range map[string][2]string{
		"source.corp.bind":                 {`source "corp"`, "bind"},
		"target.studio.read.user":          {`target "studio"`, "read.user"},
		"mapping.users.attributes":         {`mapping "users"`, "attributes"},
		"state.lock":                       {"state", "lock"},
		"plan.email_collisions":            {"plan", "email_collisions"},
		"source.corp_2.operational":        {`source "corp_2"`, "operational"},
		"target.studio.read.security_role": {`target "studio"`, "read.security_role"},
	} {
		sec, name := checkSection(id)
		if sec != want[0] || name != want[1] {
			t.Errorf("checkSection(%q) = %q, %q; want %q, %q", id, sec, name, want[0], want[1])
		}
	}
	if got := checkID("Corp-West 2"); got != "corp_west_2" {
		t.Errorf("checkID = %q, want corp_west_2", got)
	}
}
