package ftrack

import (
	"fmt"
	"path/filepath"
	"reflect"
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

// decodeIn decodes src as if the configuration file were in dir.
func decodeIn(t *testing.T, src, dir string) (Settings, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"key": cty.StringVal("k-123").Mark("sensitive"),
	})}}
	return DecodeSettings(f.Body, config.BlockContext{Eval: ectx, Dir: dir})
}

func TestDecodeSettings(t *testing.T) {
	s, diags := decode(t, `
server_url = "https://studio.ftrackapp.com"
api_user   = "admin"
api_key    = var.key
batch_size = 50
parallelism = 8
timeout    = "30s"
max_retries = 3
ca_cert_file = "/etc/ssl/ca.pem"
create_groups = false
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := Settings{ServerURL: "https://studio.ftrackapp.com", APIUser: "admin", APIKey: "k-123", BatchSize: 50, Parallelism: 8,
		Timeout: 30 * time.Second, MaxRetries: 3, CACertFile: "/etc/ssl/ca.pem", CreateGroups: false}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	s, diags = decode(t, `
server_url = "http://127.0.0.1:8080"
api_user   = "admin"
api_key    = "k"
`)
	if diags.HasErrors() || !s.CreateGroups || s.BatchSize != 100 || s.Parallelism != 4 || s.Timeout != DefaultTimeout || s.MaxRetries != DefaultMaxRetries {
		t.Fatalf("defaults: %+v %v", s, diags)
	}
	s, diags = decode(t, `
server_url = "http://ftrack.internal"
api_user   = "admin"
api_key    = "k"
insecure_allow_http = true
max_retries = 0
`)
	if diags.HasErrors() || !s.InsecureAllowHTTP || s.MaxRetries != -1 {
		t.Fatalf("insecure: %+v %v", s, diags)
	}
}

// TestDecodeSettingsRelativeCACert: a relative ca_cert_file is resolved
// against the configuration's directory, an absolute one kept.
func TestDecodeSettingsRelativeCACert(t *testing.T) {
	dir := filepath.Join(string(filepath.Separator)+"etc", "ldapsync")
	for file, want := range map[string]string{"ca.pem": filepath.Join(dir, "ca.pem"), "/etc/ssl/ca.pem": "/etc/ssl/ca.pem"} {
		s, diags := decodeIn(t, fmt.Sprintf(`
server_url   = "https://studio.ftrackapp.com"
api_user     = "admin"
api_key      = "k"
ca_cert_file = %q
`, file), dir)
		if diags.HasErrors() || s.CACertFile != want {
			t.Errorf("ca_cert_file %q: got %q, want %q (%s)", file, s.CACertFile, want, diags)
		}
	}
}

func TestDecodeSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		line            int
	}{
		{"unknown attribute", `server_url = "https://x.example"
api_user = "a"
api_key = "k"
api_token = "t"`, `An argument named "api_token" is not expected here`, 4},
		{"missing server_url", `api_user = "a"
api_key = "k"`, `The argument "server_url" is required`, 0},
		{"numeric api_key", `server_url = "https://x.example"
api_user = "a"
api_key = 12345`, "api_key must be a string", 3},
		{"plain http", `server_url = "http://ftrack.example.com"
api_user = "a"
api_key = "k"`, "https is required", 1},
		{"bad timeout", `server_url = "https://x.example"
api_user = "a"
api_key = "k"
timeout = "soon"`, "timeout must be a positive duration", 4},
		{"bad batch", `server_url = "https://x.example"
api_user = "a"
api_key = "k"
batch_size = 0`, "batch_size must be a whole number", 4},
		{"empty key", `server_url = "https://x.example"
api_user = "a"
api_key = ""`, "api_key must not be empty", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decode(t, tc.src)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if !strings.Contains(d.Summary+" "+d.Detail, tc.want) {
				t.Fatalf("got %q / %q, want %q", d.Summary, d.Detail, tc.want)
			}
			if d.Subject == nil || d.Subject.Filename != "main.hcl" {
				t.Fatalf("no range: %+v", d)
			}
			if tc.line > 0 && d.Subject.Start.Line != tc.line {
				t.Fatalf("error at line %d, want %d", d.Subject.Start.Line, tc.line)
			}
			if strings.Contains(diags.Error(), "k-123") {
				t.Fatal("diagnostics show the key")
			}
		})
	}
}

// TestDecodeSettingsDiagnosticsHideValues: a bad expression that refers to
// a variable holding the API key must not make hcl's printer show it.
func TestDecodeSettingsDiagnosticsHideValues(t *testing.T) {
	f, diags := hclsyntax.ParseConfig([]byte(`
server_url = "https://studio.ftrackapp.com"
api_user   = "admin"
api_key    = var.plain_key + 1
`), "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"plain_key": cty.StringVal("k-unmarked-456"),
	})}}
	_, diags = DecodeSettings(f.Body, config.BlockContext{Eval: ectx})
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
	if strings.Contains(out.String(), "k-unmarked-456") {
		t.Errorf("diagnostic shows the API key:\n%s", out.String())
	}
}

func TestSettingsStringRedactsAPIKey(t *testing.T) {
	s := Settings{ServerURL: "https://x.example.com", APIUser: "admin", APIKey: "k-hunter2-secret"}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprint(&s)} {
		if strings.Contains(out, "k-hunter2-secret") || !strings.Contains(out, "https://x.example.com") {
			t.Errorf("settings printed as %q", out)
		}
	}
}
