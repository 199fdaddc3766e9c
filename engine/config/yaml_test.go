package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/engine"
)

type seedLDAP struct {
	URL       string   `hcl:"url"`
	BindDN    string   `hcl:"bind_dn,optional"`
	Password  string   `hcl:"bind_password,optional"`
	BaseDN    string   `hcl:"base_dn"`
	Filter    string   `hcl:"filter,optional"`
	StartTLS  bool     `hcl:"start_tls,optional"`
	CACert    string   `hcl:"ca_cert_file,optional"`
	Plaintext bool     `hcl:"insecure_allow_plaintext,optional"`
	Rest      hcl.Body `hcl:",remain"`
}

type seedFtrack struct {
	ServerURL string `hcl:"server_url"`
	APIUser   string `hcl:"api_user"`
	APIKey    string `hcl:"api_key"`
}

func decodeSeed(t *testing.T, cfg *Config) (seedLDAP, seedFtrack) {
	t.Helper()
	var l seedLDAP
	var f seedFtrack
	if d := gohcl.DecodeBody(cfg.Sources[0].Body, cfg.EvalContext(), &l); d.HasErrors() {
		t.Fatal(diagList(d))
	}
	if d := gohcl.DecodeBody(cfg.Target.Body, cfg.EvalContext(), &f); d.HasErrors() {
		t.Fatal(diagList(d))
	}
	return l, f
}

func TestSeedYAMLStyles(t *testing.T) {
	flow := loadOK(t, "testdata/seed/flow.yaml")
	block := loadOK(t, "testdata/seed/block.yml")
	for _, cfg := range []*Config{flow, block} {
		if cfg.Digest != yamlDigest(mustRead(t, cfg.Path)) {
			t.Errorf("%s: digest is not over the YAML document", cfg.Path)
		}
		if cfg.Sources[0].Type != "ldap" || cfg.Sources[0].Name != "ldap" || cfg.Target.Type != "ftrack" || cfg.Target.Name != "ftrack" {
			t.Errorf("%s: blocks %+v %+v", cfg.Path, cfg.Sources[0], cfg.Target)
		}
		if cfg.Files[cfg.Path] == nil {
			t.Errorf("%s: YAML source missing from Files", cfg.Path)
		}
		if !reflect.DeepEqual(cfg.Policy, engine.DefaultPolicy()) {
			t.Errorf("%s: policy %+v", cfg.Path, cfg.Policy)
		}
	}
	lf, ff := decodeSeed(t, flow)
	lb, fb := decodeSeed(t, block)
	lf.Rest, lb.Rest = nil, nil
	if !reflect.DeepEqual(lf, lb) || ff != fb {
		t.Errorf("flow and block differ:\n%+v %+v\n%+v %+v", lf, ff, lb, fb)
	}
	want := seedLDAP{URL: "ldap://ldap.example.com", BindDN: "cn=admin,dc=example,dc=com", Password: "password", BaseDN: "ou=users,dc=example,dc=com", Plaintext: true}
	if !reflect.DeepEqual(lf, want) {
		t.Errorf("ldap = %+v", lf)
	}
	if ff != (seedFtrack{ServerURL: "https://example.ftrackapp.com", APIUser: "admin", APIKey: "your-api-key"}) {
		t.Errorf("ftrack = %+v", ff)
	}
	for _, s := range []string{"password", "your-api-key"} {
		if !slices.Contains(flow.Secrets(), s) {
			t.Errorf("Secrets() = %q lacks %q", flow.Secrets(), s)
		}
	}
	e := entry(map[string][]string{"uid": {"JDoe"}, "mail": {"jdoe@example.com"}, "cn": {"John Doe"}})
	for _, cfg := range []*Config{flow, block} {
		m := cfg.Mappings[0]
		if m.Name() != "users" || !slices.Equal(m.Attributes(), []string{"cn", "mail", "uid"}) {
			t.Errorf("mapping %q %v", m.Name(), m.Attributes())
		}
		u, err := m.Map(e)
		if err != nil || u.Key != "jdoe" || u.Username != "jdoe" || u.Email != "jdoe@example.com" || u.FirstName != "John" || u.LastName != "Doe" {
			t.Errorf("Map = %+v, %v", u, err)
		}
	}
}

func TestConvertRoundTrip(t *testing.T) {
	for _, path := range []string{"testdata/seed/flow.yaml", "testdata/seed/extras.yaml"} {
		text, diags := Convert(path)
		if diags.HasErrors() {
			t.Fatal(diagList(diags))
		}
		if !bytes.Equal(Format(text), text) {
			t.Errorf("%s: Convert output not formatted:\n%s", path, text)
		}
		secrets := seedSecrets(t, path)
		for _, v := range secrets {
			if v != "" && bytes.Contains(text, []byte(`"`+v+`"`)) {
				t.Errorf("%s: Convert wrote a secret value into the HCL:\n%s", path, text)
			}
		}
		env := map[string]string{"LDAPSYNC_VAR_ldap_bind_password": secrets["bind_password"], "LDAPSYNC_VAR_ftrack_api_key": secrets["api_key"]}
		fromHCL, diags := LoadBytes(filepath.Join(filepath.Dir(path), "converted.hcl"), text, WithEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
		if diags.HasErrors() {
			t.Fatalf("%s: converted HCL does not load:\n%s\n%s", path, diagList(diags), text)
		}
		fromYAML := loadOK(t, path)
		a, b := fromHCL.Mappings[0], fromYAML.Mappings[0]
		if !slices.Equal(a.Attributes(), b.Attributes()) {
			t.Errorf("attributes differ: %v vs %v", a.Attributes(), b.Attributes())
		}
		for _, e := range []engine.Entry{
			entry(map[string][]string{"uid": {"JDoe"}, "sAMAccountName": {"JDoe"}, "mail": {"j@x"}, "userPrincipalName": {"j@x"}, "cn": {"John Q Doe"}, "givenName": {"John"}, "sn": {"Doe"}}),
			entry(map[string][]string{"uid": {"JDoe"}, "sAMAccountName": {"JDoe"}}),
		} {
			ua, ea := a.Map(e)
			ub, eb := b.Map(e)
			if !reflect.DeepEqual(ua, ub) || (ea == nil) != (eb == nil) || (ea != nil && ea.Error() != eb.Error()) {
				t.Errorf("%s: converted mapping differs: %+v %v vs %+v %v", path, ua, ea, ub, eb)
			}
		}
		la, fa := decodeSeed(t, fromHCL)
		lb, fb := decodeSeed(t, fromYAML)
		la.Rest, lb.Rest = nil, nil
		if !reflect.DeepEqual(la, lb) || fa != fb {
			t.Errorf("%s: connection settings differ", path)
		}
	}
}

// seedSecrets reads the bind password and API key of a seed YAML file.
func seedSecrets(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		LDAP   map[string]string `yaml:"ldap"`
		Ftrack map[string]string `yaml:"ftrack"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"bind_password": doc.LDAP["bind_password"], "api_key": doc.Ftrack["api_key"]}
}

func TestSeedExtras(t *testing.T) {
	cfg := loadOK(t, "testdata/seed/extras.yaml")
	l, f := decodeSeed(t, cfg)
	if l.Filter != "(&(objectClass=person)(!(uid=svc-*)))" || !l.StartTLS || l.Plaintext || l.CACert != "ca.pem" {
		t.Errorf("ldap = %+v", l)
	}
	if f.APIKey != `k${x}%{y}"z` {
		t.Errorf("api_key not taken literally: %q", f.APIKey)
	}
	u, err := cfg.Mappings[0].Map(entry(map[string][]string{"sAMAccountName": {"ADUser"}, "userPrincipalName": {"aduser@corp"}, "givenName": {"Ad"}, "sn": {"User"}}))
	if err != nil || u.Key != "aduser" || u.Email != "aduser@corp" || u.FirstName != "Ad" || u.LastName != "User" {
		t.Errorf("Map = %+v, %v", u, err)
	}
}

func TestSeedUnknownKeys(t *testing.T) {
	path := "testdata/seed/unknown_key.yaml"
	cfg, diags := Load(path)
	if !diags.HasErrors() {
		t.Fatal("no error")
	}
	want := map[int]string{4: `Unknown key "bind_passwd" in section ldap`, 12: `Unknown key "logging"`}
	for line, substr := range want {
		found := false
		for _, d := range diags {
			if d.Subject != nil && d.Subject.Start.Line == line && strings.Contains(d.Detail, substr) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error %q at line %d:\n%s", substr, line, diagList(diags))
		}
	}
	if len(diags) != len(want) {
		t.Errorf("diags:\n%s", diagList(diags))
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, cfg.Files, diags, false); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, path+":4:3:") || !strings.Contains(out, "4:   bind_passwd: ******") {
		t.Errorf("output:\n%s", out)
	}
}

func TestSeedMissingSection(t *testing.T) {
	_, diags := LoadBytes("c.yaml", []byte("ldap: {server_url: ldaps://x}\nmapping: {username: uid}\n"))
	msgs := diagList(diags)
	for _, s := range []string{"ldap.base_dn is required", "no ftrack section"} {
		if !strings.Contains(msgs, s) {
			t.Errorf("missing %q in:\n%s", s, msgs)
		}
	}
	_, diags = LoadBytes("c.yaml", []byte("ldap: {server_url: ldaps://x, base_dn: dc=x}\nftrack: {server_url: x, api_user: a, api_key: k}\nmapping: {username: \"uid; drop\"}\n"))
	if !strings.Contains(diagList(diags), "mapping.username must be a directory attribute name") {
		t.Errorf("bad attribute name:\n%s", diagList(diags))
	}
}
