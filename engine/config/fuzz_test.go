package config

import (
	"path/filepath"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// FuzzLoadConfig: whatever bytes a configuration file holds, loading
// never panics or crashes (deep nesting, huge values, garbage): it
// returns a configuration or diagnostics.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		`mapping "users" { username = entry.uid email = entry.mail }`,
		`variable "x" { default = ((((((1)))))) }`,
		"source \"ldap\" \"corp\" {\n  url = \"ldaps://x\"\n  base_dn = \"dc=x\"\n}\n",
		`policy { max_deactivations = "5%" protect = ["admin", "re:^svc-"] }`,
		`mapping "m" { username = format("%999999999s", entry.uid) email = entry.mail }`,
		"\x00\xff{{{{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), src, WithEnv(func(string) (string, bool) { return "", false }))
		if cfg == nil && !diags.HasErrors() {
			t.Fatalf("no configuration and no error for %q", src)
		}
	})
}

// FuzzMappingEval: whatever values a directory entry carries, evaluating
// a mapping that uses the usual functions never panics: it maps the entry
// or gives the reason to skip it.
func FuzzMappingEval(f *testing.F) {
	src := []byte(`
source "ldap" "corp" {
  url     = "ldaps://ldap.example.test"
  base_dn = "dc=example,dc=test"
}
target "ftrack" "studio" {
  server_url = "https://studio.example.test"
  api_user   = "admin"
  api_key    = "k"
}
mapping "users" {
  username   = lower(trimspace(entry.uid))
  email      = lower(coalesce(entry.mail, format("%s@example.test", entry.uid)))
  full_name  = entry.cn
  first_name = regex_replace(entry.givenName, "[^A-Za-z]", "")
  groups     = [for g in entry_values.memberOf : regex_replace(g, "^cn=([^,]+),.*$", "$1")]
}
`)
	cfg, diags := LoadBytes(filepath.Join(f.TempDir(), "ldapsync.hcl"), src)
	if diags.HasErrors() {
		f.Fatal(diags.Error())
	}
	m := cfg.Mappings[0]
	f.Add("jdoe", "j@example.test", "John Doe", "John", "cn=Artists,ou=groups")
	f.Add("", "", "", "", "")
	f.Add("x\x00y", "a\nb", "Ada  King Lovelace", "\xff", "cn=,")
	f.Fuzz(func(t *testing.T, uid, mail, cn, given, group string) {
		e := engine.Entry{Source: "corp", DN: "uid=x,dc=example,dc=test", Attrs: map[string][]string{
			"uid": {uid}, "mail": {mail}, "cn": {cn}, "givenName": {given}, "memberOf": {group, group + "2"},
		}}
		if _, err := m.Map(e); err != nil && err.Error() == "" {
			t.Fatal("an error without a reason")
		}
	})
}
