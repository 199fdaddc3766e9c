package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

const varsConfig = `
variable "ldap_password" { sensitive = true }
variable "domain" {
  type    = string
  default = "default.example.com"
}
variable "page_size" {
  type    = number
  default = 100
}
variable "tls" {
  type    = bool
  default = false
}
variable "hosts" {
  type    = list(string)
  default = ["a"]
}

source "ldap" "corp" {
  url           = "ldaps://x"
  bind_password = var.ldap_password
  base_dn       = var.domain
  page_size     = var.page_size
  start_tls     = var.tls
  hosts         = var.hosts
}
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`

type varsBody struct {
	Password string   `hcl:"bind_password"`
	BaseDN   string   `hcl:"base_dn"`
	PageSize int      `hcl:"page_size"`
	StartTLS bool     `hcl:"start_tls"`
	Hosts    []string `hcl:"hosts"`
	Rest     hcl.Body `hcl:",remain"`
}

func decodeVars(t *testing.T, opts ...Option) (*Config, varsBody) {
	t.Helper()
	cfg := loadSrc(t, varsConfig, opts...)
	var b varsBody
	if diags := gohcl.DecodeBody(cfg.Sources[0].Body, cfg.EvalContext(), &b); diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	return cfg, b
}

func TestVariablePrecedence(t *testing.T) {
	// Defaults, and LDAPSYNC_VAR_ from the environment.
	env := WithEnv(testEnv(map[string]string{"LDAPSYNC_VAR_ldap_password": "env-pw", "LDAPSYNC_VAR_page_size": "250"}))
	cfg, b := decodeVars(t, env)
	if b.Password != "env-pw" || b.BaseDN != "default.example.com" || b.PageSize != 250 || b.StartTLS || !slices.Equal(b.Hosts, []string{"a"}) {
		t.Errorf("env/defaults: %+v", b)
	}
	if !slices.Contains(cfg.Secrets(), "env-pw") {
		t.Errorf("Secrets() = %q", cfg.Secrets())
	}

	// A var file beats the environment; -var beats both.
	_, b = decodeVars(t, env, WithVarFiles([]string{"testdata/vars.hcl"}))
	if b.Password != "from-var-file" || b.BaseDN != "file.example.com" {
		t.Errorf("var file: %+v", b)
	}
	cfg, b = decodeVars(t, env, WithVarFiles([]string{"testdata/vars.hcl"}),
		WithVariables(map[string]string{"ldap_password": "cli-pw", "tls": "true", "page_size": "5", "hosts": `["h1", "h2"]`}))
	if b.Password != "cli-pw" || b.BaseDN != "file.example.com" || b.PageSize != 5 || !b.StartTLS || !slices.Equal(b.Hosts, []string{"h1", "h2"}) {
		t.Errorf("-var: %+v", b)
	}
	secrets := cfg.Secrets()
	if !slices.Contains(secrets, "cli-pw") || slices.Contains(secrets, "env-pw") || slices.Contains(secrets, "file.example.com") {
		t.Errorf("Secrets() = %q", secrets)
	}
}

func TestVariableErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want string
		line int // 0: no range expected
	}{
		{"missing required", nil, `Variable "ldap_password" has no default`, 2},
		{"bad number", []Option{WithVariables(map[string]string{"ldap_password": "p", "page_size": "many"})}, `Variable "page_size" wants number`, 7},
		{"bad bool from env", []Option{WithEnv(testEnv(map[string]string{"LDAPSYNC_VAR_ldap_password": "p", "LDAPSYNC_VAR_tls": "yes please"}))}, "environment variable LDAPSYNC_VAR_tls", 11},
		{"undeclared -var", []Option{WithVariables(map[string]string{"ldap_password": "p", "nope": "1"})}, `no variable "nope" is declared`, 0},
		{"unreadable var file", []Option{WithVariables(map[string]string{"ldap_password": "p"}), WithVarFiles([]string{"testdata/none.hcl"})}, "Cannot read variables file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithEnv(testEnv(nil))}, tt.opts...)
			_, diags := LoadBytes("v.hcl", []byte(varsConfig), opts...)
			found := false
			for _, d := range diags {
				if d.Severity == hcl.DiagError && strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					found = true
					if tt.line != 0 && (d.Subject == nil || d.Subject.Start.Line != tt.line) {
						t.Errorf("diagnostic at %v, want line %d", d.Subject, tt.line)
					}
				}
			}
			if !found {
				t.Errorf("no error containing %q:\n%s", tt.want, diagList(diags))
			}
			// The rejected value never appears in a message.
			for _, d := range diags {
				if strings.Contains(d.Detail, "yes please") || strings.Contains(d.Detail, "many") {
					t.Errorf("value leaked into %q", d.Detail)
				}
			}
		})
	}
}

func TestVarFileUndeclaredIsWarning(t *testing.T) {
	_, diags := LoadBytes("v.hcl", []byte(varsConfig), WithEnv(testEnv(nil)), WithVarFiles([]string{"testdata/vars.hcl"}))
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "unknown_thing") || diags[0].Subject.Start.Line != 3 {
		t.Errorf("diags:\n%s", diagList(diags))
	}
}

func TestSensitiveDefaultFromEnv(t *testing.T) {
	cfg := loadSrc(t, `
variable "key" {
  sensitive = true
  default   = env("MY_KEY")
}
`+mapHeader+`
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`, WithEnv(testEnv(map[string]string{"MY_KEY": "xyzzy-key"})))
	if s := cfg.Secrets(); !slices.Contains(s, "xyzzy-key") {
		t.Errorf("Secrets() = %q", s)
	}
	if v := cfg.EvalContext().Variables["var"].GetAttr("key").AsString(); v != "xyzzy-key" {
		t.Errorf("var.key = %q", v)
	}
}
