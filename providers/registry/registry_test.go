package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ldap"
)

func load(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, diags := config.LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), []byte(src), config.WithEnv(func(string) (string, bool) { return "", false }))
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg
}

// TestCapabilitiesMatchImplementations: the capability table says what
// the providers' types really implement.
func TestCapabilitiesMatchImplementations(t *testing.T) {
	st, ok := LookupSource("ldap")
	if !ok {
		t.Fatal("ldap is not registered")
	}
	_, reads := any((*ldap.Source)(nil)).(engine.GroupReader)
	if st.Capabilities.ReadsGroups != reads {
		t.Errorf("ldap ReadsGroups = %v, but *ldap.Source implements engine.GroupReader: %v", st.Capabilities.ReadsGroups, reads)
	}
	if _, ok := LookupTarget("ftrack"); !ok {
		t.Error("ftrack is not registered")
	}
}

const twoSources = `
source "ldap" "first" {
  url                  = "ldaps://ldap.example.com"
  base_dn              = "ou=users,dc=example,dc=com"
  insecure_skip_verify = true
}
source "ldap" "second" {
  url          = "ldap://ldap2.example.com"
  base_dn      = "ou=people,dc=example,dc=com"
  ca_cert_file = "certs/ca.pem"
}
target "ftrack" "studio" {
  server_url = "http://127.0.0.1:1"
  api_user   = "api@example.com"
  api_key    = "k-123"
}
mapping "users" {
  source   = [source.ldap.second, source.ldap.first]
  username = entry.uid
  email    = entry.mail
}
groups "g" {
  source        = source.ldap.first
  base_dn       = "ou=groups,dc=example,dc=com"
  create_groups = false
}
`

// TestBuild wires two sources in the mapping's order, resolves a relative
// ca_cert_file against the configuration's directory, applies the groups
// block's create_groups to the target and returns the target's user.
func TestBuild(t *testing.T) {
	cfg := load(t, twoSources)
	var ldapSettings []ldap.Settings
	var ftrackSettings ftrack.Settings
	p, diags := Build(cfg, WithSettings(func(s any) {
		switch s := s.(type) {
		case *ldap.Settings:
			ldapSettings = append(ldapSettings, *s)
		case *ftrack.Settings:
			ftrackSettings = *s
		}
	}))
	if diags.HasErrors() {
		t.Fatalf("Build: %s", diags.Error())
	}
	var names []string
	for _, s := range p.Sources {
		names = append(names, s.Info().Name)
	}
	if strings.Join(names, ",") != "second,first" {
		t.Errorf("sources = %v, want the mapping's order", names)
	}
	if len(ldapSettings) != 2 || ldapSettings[1].CACertFile != filepath.Join(filepath.Dir(cfg.Path), "certs", "ca.pem") {
		t.Errorf("ldap settings = %+v", ldapSettings)
	}
	if ftrackSettings.CreateGroups {
		t.Error("create_groups = false in a groups block did not reach the target")
	}
	if p.Target == nil || p.TargetUser != "api@example.com" || p.Mapping != cfg.Mappings[0] {
		t.Errorf("target %v, user %q, mapping %v", p.Target, p.TargetUser, p.Mapping)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "insecure_skip_verify") {
		t.Errorf("warnings = %q", p.Warnings)
	}
}

// TestBuildDiagnostics: unregistered types are reported at the block
// header, in file order, then the mapping count.
func TestBuildDiagnostics(t *testing.T) {
	cfg := load(t, `
source "ad" "corp" { url = "ldaps://x" }
target "jira" "studio" { url = "https://y" }
mapping "a" {
  username = entry.uid
  email    = entry.mail
}
mapping "b" {
  username = entry.uid
  email    = entry.mail
}
`)
	_, diags := Build(cfg)
	want := []string{
		`2: Unsupported source type: source type "ad" is not supported; use "ldap".`,
		`3: Unsupported target type: target type "jira" is not supported; use "ftrack".`,
		`0: Exactly one mapping block is supported: found 2 mapping blocks`,
	}
	if got := diagLines(diags); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBuildSettingsErrors: a provider's own diagnostics come through, and
// a source that fails to build is left out of the mapping's sources.
func TestBuildSettingsErrors(t *testing.T) {
	cfg := load(t, `
source "ldap" "corp" {
  url     = "ldaps://x"
  base_dn = "dc=x"
  schema  = "nope"
}
target "ftrack" "studio" {
  server_url = "https://y"
  api_user   = "api"
  api_key    = "k"
}
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`)
	p, diags := Build(cfg)
	if got := diagLines(diags); len(got) != 1 || !strings.HasPrefix(got[0], "5: Unknown schema") {
		t.Errorf("diagnostics = %q", got)
	}
	if len(p.Sources) != 0 || p.Target == nil {
		t.Errorf("sources %v, target %v", p.Sources, p.Target)
	}
}

// TestGroupsNeedAGroupReader: a groups block naming a source whose type
// does not read groups is an error at the groups block.
func TestGroupsNeedAGroupReader(t *testing.T) {
	sourceTypes["flat"] = SourceType{New: func(b *config.Block, env Env) (engine.Source, []string, hcl.Diagnostics) {
		return flatSource{b.Name}, nil, nil
	}}
	t.Cleanup(func() { delete(sourceTypes, "flat") })
	cfg := load(t, `
source "flat" "corp" {}
target "ftrack" "studio" {
  server_url = "https://y"
  api_user   = "api"
  api_key    = "k"
}
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
groups "g" { base_dn = "ou=groups" }
`)
	_, diags := Build(cfg)
	want := `12: Source cannot read groups: groups "g" reads source "corp", whose type "flat" does not read directory groups.`
	if got := diagLines(diags); len(got) != 1 || got[0] != want {
		t.Errorf("diagnostics = %q, want %q", got, want)
	}
}

// flatSource is a source type without group reading.
type flatSource struct{ name string }

func (s flatSource) Info() engine.SourceInfo { return engine.SourceInfo{Type: "flat", Name: s.name} }

func (flatSource) Read(_ context.Context, _ []string, _ func(engine.Entry) error) error { return nil }

// diagLines renders diagnostics as "line: summary: detail".
func diagLines(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		out = append(out, fmt.Sprintf("%d: %s: %s", line, d.Summary, d.Detail))
	}
	return out
}
