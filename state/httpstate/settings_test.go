package httpstate_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/state/httpstate"
)

const configHead = `
variable "token" {
  type      = string
  sensitive = true
  default   = "from-a-variable"
}
source "ldap" "corp" { url = "ldaps://x" }
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = entry.uid
  email    = entry.mail
}
`

// decode loads a configuration whose state block is block and decodes
// the block as cmd/ldapsync does.
func decode(t *testing.T, block string, env map[string]string) (httpstate.Settings, hcl.Diagnostics, string) {
	t.Helper()
	dir := t.TempDir()
	src := configHead + block
	cfg, diags := config.LoadBytes(filepath.Join(dir, "ldapsync.hcl"), []byte(src), config.WithEnv(func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}))
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	if cfg.State.Type != "http" || cfg.State.Block == nil {
		t.Fatalf("state %+v", cfg.State)
	}
	s, d := httpstate.Decode(cfg.State.Block.Body, cfg.EvalContext(), cfg.BlockContext().Dir)
	return s, d, dir
}

func TestDecodeGitLab(t *testing.T) {
	s, diags, dir := decode(t, `
state "http" {
  address        = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync"
  lock_address   = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock"
  unlock_address = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock"
  lock_method    = "POST"
  unlock_method  = "DELETE"
  username       = "gitlab-ci-token"
  password       = env("CI_JOB_TOKEN")
  retry_max      = 5
  retry_wait_min = 2
  retry_wait_max = "1m"
  ca_cert_file   = "certs/ca.pem"
}
`, map[string]string{"CI_JOB_TOKEN": "job-token-value"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := httpstate.Settings{
		Address:       "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync",
		LockAddress:   "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock",
		UnlockAddress: "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock",
		LockMethod:    "POST", UnlockMethod: "DELETE",
		Username: "gitlab-ci-token", Password: "job-token-value",
		RetryMax: 5, RetryWaitMin: 2 * time.Second, RetryWaitMax: time.Minute,
		CACertFile: filepath.Join(dir, "certs", "ca.pem"),
	}
	if s != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", s, want)
	}
	if strings.Contains(fmt.Sprint(s), "job-token-value") {
		t.Errorf("Settings print the password: %v", s)
	}
}

func TestDecodeDefaultsAndForms(t *testing.T) {
	s, diags, _ := decode(t, `
state "http" {
  address  = "https://state.example.com/s"
  username = "u"
  password = var.token
}
`, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if s.Password != "from-a-variable" || s.LockAddress != "" || s.DisableLocking || s.RetryMax != 0 {
		t.Errorf("decoded %+v", s)
	}
	b, err := httpstate.New(s)
	if err != nil {
		t.Fatal(err)
	}
	if b.Describe() != "http state https://state.example.com/s" {
		t.Errorf("Describe %q", b.Describe())
	}

	for _, tc := range []struct {
		attrs string
		check func(httpstate.Settings) bool
	}{
		{`retry_max = 0`, func(s httpstate.Settings) bool { return s.RetryMax == -1 }},
		{`retry_wait_min = "500ms"`, func(s httpstate.Settings) bool { return s.RetryWaitMin == 500*time.Millisecond }},
		{`retry_wait_min = "5"`, func(s httpstate.Settings) bool { return s.RetryWaitMin == 5*time.Second }},
		{`retry_wait_min = 0.25`, func(s httpstate.Settings) bool { return s.RetryWaitMin == 250*time.Millisecond }},
		{`retry_wait_min = 0`, func(s httpstate.Settings) bool { return s.RetryWaitMin < 0 }},
		{`lock_address = ""`, func(s httpstate.Settings) bool { return s.DisableLocking }},
		{"address = \"http://state.example.com/s\"\ninsecure_allow_http = true", func(s httpstate.Settings) bool { return s.InsecureAllowHTTP }},
		{`update_method = "PUT"`, func(s httpstate.Settings) bool { return s.UpdateMethod == "PUT" }},
	} {
		attrs := tc.attrs
		if !strings.HasPrefix(attrs, "address =") {
			attrs = "address = \"https://state.example.com/s\"\n" + attrs
		}
		s, diags, _ := decode(t, "state \"http\" {\n"+attrs+"\n}\n", nil)
		if diags.HasErrors() || !tc.check(s) {
			t.Errorf("%s: %+v %v", tc.attrs, s, diags)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		attrs string
		line  int // of the subject, in the state block (address is line 1)
		want  string
	}{
		{`adress = "x"`, 2, "Unsupported argument"},
		{`lock_method = 5`, 2, "lock_method must be a string"},
		{`retry_max = -1`, 2, "retry_max must be a whole number"},
		{`retry_max = 1.5`, 2, "retry_max must be a whole number"},
		{`retry_wait_min = "soon"`, 2, "retry_wait_min must be a number of seconds or a duration"},
		{`retry_wait_max = -3`, 2, "retry_wait_max must be"},
		{"retry_wait_min = 10\nretry_wait_max = 5", 3, "must not be shorter than retry_wait_min"},
		{`unlock_method = "DELETE"`, 2, "would delete the state"},
		{`lock_method = "POST"`, 2, "would write the lock information as the state"},
		{`lock_address = "http://state.example.com/lock"`, 2, "uses plain http"},
		{"lock_address = \"\"\nunlock_address = \"https://state.example.com/u\"", 3, "must not be set when lock_address"},
		{`unlock_address = ""`, 2, "unlock_address must not be empty"},
		{`password = "p"`, 2, "set username too"},
		{`insecure_allow_http = "maybe"`, 2, "insecure_allow_http must be true or false"},
		{`password = 1234`, 2, "password must be a string"},
		{`username = null`, 2, "must not be null"},
	} {
		s, diags, _ := decode(t, "state \"http\" {\naddress = \"https://state.example.com/s\"\n"+tc.attrs+"\n}\n", nil)
		if !diags.HasErrors() {
			t.Errorf("%s: accepted: %+v", tc.attrs, s)
			continue
		}
		d := diags[0]
		text := d.Summary + ": " + d.Detail
		if !strings.Contains(text, tc.want) {
			t.Errorf("%s: %s, want %q", tc.attrs, text, tc.want)
		}
		stateLine := strings.Count(configHead, "\n") + 2 // the block's first attribute
		if d.Subject == nil || !strings.HasSuffix(d.Subject.Filename, "ldapsync.hcl") || d.Subject.Start.Line != stateLine+tc.line-1 {
			t.Errorf("%s: subject %v, want line %d", tc.attrs, d.Subject, stateLine+tc.line-1)
		}
		if d.Expression != nil || d.EvalContext != nil {
			t.Errorf("%s: the diagnostic keeps its expression (it would print values)", tc.attrs)
		}
	}
	// A missing address names the block.
	_, diags, _ := decode(t, "state \"http\" {\n}\n", nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "address") {
		t.Errorf("no address: %v", diags)
	}
	// The address's http rule at its attribute; the password never shown.
	_, diags, _ = decode(t, "state \"http\" {\naddress = \"http://state.example.com/s\"\nusername = \"u\"\npassword = var.token\n}\n", nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "uses plain http") || strings.Contains(diags.Error(), "from-a-variable") {
		t.Errorf("http address: %v", diags)
	}
}
