package ldap

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ldapsync/ldapsync/engine/config"
)

func decode(t *testing.T, src string) (Settings, hcl.Diagnostics) {
	t.Helper()
	return decodeIn(t, src, "")
}

// decodeIn decodes the first block of src as if the configuration file
// were in dir.
func decodeIn(t *testing.T, src, dir string) (Settings, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	blk := f.Body.(*hclsyntax.Body).Blocks[0]
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"pw": cty.StringVal("s3cret"), "size": cty.NumberIntVal(250)}),
	}}
	return DecodeSettings(blk.Body, config.BlockContext{Eval: ectx, Dir: dir})
}

func TestDecodeSettings(t *testing.T) {
	s, diags := decode(t, `source "ldap" "corp" {
  url                  = "ldaps://ldap.example.com:636"
  ca_cert_file         = "/etc/ssl/ca.pem"
  bind_dn              = "cn=reader,dc=example,dc=com"
  bind_password        = var.pw
  base_dn              = "ou=users,dc=example,dc=com"
  filter               = "(objectClass=person)"
  schema               = "active_directory"
  page_size            = var.size
  insecure_skip_verify = true
  timeout              = "45s"
  id_attribute         = "objectSid"
}`)
	if diags.HasErrors() {
		t.Fatalf("diags: %s", diags)
	}
	want := Settings{URL: "ldaps://ldap.example.com:636", CACertFile: "/etc/ssl/ca.pem", BindDN: "cn=reader,dc=example,dc=com",
		BindPassword: "s3cret", BaseDN: "ou=users,dc=example,dc=com", Filter: "(objectClass=person)", Schema: "active_directory",
		PageSize: 250, InsecureSkipVerify: true, Timeout: 45 * time.Second, IDAttribute: "objectSid"}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// TestDecodeSettingsRelativeCACert: a relative ca_cert_file is resolved
// against the configuration's directory, an absolute one kept.
func TestDecodeSettingsRelativeCACert(t *testing.T) {
	dir := filepath.Join(string(filepath.Separator)+"etc", "ldapsync")
	for file, want := range map[string]string{"ca.pem": filepath.Join(dir, "ca.pem"), "/etc/ssl/ca.pem": "/etc/ssl/ca.pem"} {
		s, diags := decodeIn(t, fmt.Sprintf(`source "ldap" "corp" {
  url          = "ldaps://ldap.example.com"
  base_dn      = "ou=users,dc=example,dc=com"
  ca_cert_file = %q
}`, file), dir)
		if diags.HasErrors() || s.CACertFile != want {
			t.Errorf("ca_cert_file %q: got %q, want %q (%s)", file, s.CACertFile, want, diags)
		}
	}
}

func TestDecodeSettingsErrors(t *testing.T) {
	cases := []struct {
		name, body, summary string
		line, col           int
	}{
		{"unknown attribute", "url = \"ldaps://x\"\nbase_dn = \"dc=x\"\n  bind_pw = \"x\"", "Unsupported argument", 4, 3},
		{"bad schema", "url = \"ldaps://x\"\nbase_dn = \"dc=x\"\nschema = \"novell\"", "Unknown schema", 4, 10},
		{"bad scheme", "url = \"http://x\"\nbase_dn = \"dc=x\"", "Invalid url", 2, 7},
		{"page size", "url = \"ldaps://x\"\nbase_dn = \"dc=x\"\npage_size = 5000", "Invalid page_size", 4, 13},
		{"timeout", "url = \"ldaps://x\"\nbase_dn = \"dc=x\"\ntimeout = \"soon\"", "Invalid timeout", 4, 11},
		{"plaintext", "url = \"ldap://x\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=a\"\nbind_password = var.pw", "Plaintext password refused", 2, 7},
		{"missing base_dn", "url = \"ldaps://x\"", "Missing required argument", 1, 22},
	}
	for _, tc := range cases {
		_, diags := decode(t, "source \"ldap\" \"corp\" {\n"+tc.body+"\n}")
		if !diags.HasErrors() {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		d := diags[0]
		if d.Summary != tc.summary || d.Subject == nil || d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col {
			t.Errorf("%s: got %q at %v, want %q at %d:%d", tc.name, d.Summary, d.Subject, tc.summary, tc.line, tc.col)
		}
		for _, d := range diags {
			if strings.Contains(d.Detail, "s3cret") {
				t.Errorf("%s: diagnostic leaks the password: %s", tc.name, d.Detail)
			}
		}
	}
	// With the opt-in, plaintext is accepted.
	if _, diags := decode(t, "source \"ldap\" \"corp\" {\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=a\"\nbind_password = var.pw\ninsecure_allow_plaintext = true\n}"); diags.HasErrors() {
		t.Errorf("plaintext with opt-in: %s", diags)
	}
}

func TestNewDefaults(t *testing.T) {
	src, err := New("corp", Settings{URL: "ldaps://h", BaseDN: "dc=x", Schema: "freeipa", PageSize: 4000})
	if err != nil {
		t.Fatal(err)
	}
	got := src.Settings()
	if got.PageSize != MaxPageSize || got.Timeout != DefaultTimeout || got.Filter != "(objectClass=posixAccount)" || got.IDAttribute != "ipaUniqueID" {
		t.Errorf("defaults: %+v", got)
	}
	if src.Info().Type != "ldap" || src.Info().Name != "corp" {
		t.Errorf("Info() = %+v", src.Info())
	}
	for _, bad := range []Settings{
		{URL: "ldaps://h"},
		{URL: "ldaps://h", BaseDN: "dc=x", Schema: "nope"},
		{URL: "ldaps://h", BaseDN: "dc=x", Filter: "(uid=x"},
		{URL: "ldaps://h", BaseDN: "dc=x", StartTLS: true},
		{URL: "ldaps://h", BaseDN: "dc=x", BindDN: "cn=a"},
		{URL: "ldapi:///var/run/ldapi", BaseDN: "dc=x"},
		{URL: "ldaps://h", BaseDN: "dc=x", CACertFile: "/nonexistent/ca.pem"},
	} {
		if _, err := New("corp", bad); err == nil || !strings.HasPrefix(err.Error(), `source "corp": `) {
			t.Errorf("New(%+v) err = %v", bad, err)
		}
	}
}

// TestDecodeSettingsDiagnosticsHideValues: a bad expression that refers to
// the password must not make hcl's printer show the password's value.
func TestDecodeSettingsDiagnosticsHideValues(t *testing.T) {
	_, diags := decode(t, `source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=reader,dc=example,dc=com"
  bind_password = var.pw + 1
  base_dn       = "ou=users,dc=example,dc=com"
}`)
	if !diags.HasErrors() {
		t.Fatal("a string plus a number must be an error")
	}
	var out strings.Builder
	if err := hcl.NewDiagnosticTextWriter(&out, nil, 0, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Invalid operand") {
		t.Errorf("diagnostic does not describe the error:\n%s", out.String())
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("diagnostic shows the bind password:\n%s", out.String())
	}
}

func TestSettingsStringRedactsPassword(t *testing.T) {
	s := Settings{URL: "ldaps://x", BindDN: "cn=r", BindPassword: "hunter2-secret"}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprint(&s)} {
		if strings.Contains(out, "hunter2-secret") || !strings.Contains(out, "ldaps://x") {
			t.Errorf("settings printed as %q", out)
		}
	}
}
