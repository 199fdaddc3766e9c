package ftrack

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ldapsync/ldapsync/engine/config"
)

// Settings are the attributes of a `target "ftrack" "NAME" { ... }` block.
type Settings struct {
	// ServerURL is the ftrack site; https unless loopback or InsecureAllowHTTP.
	ServerURL string
	// APIUser and APIKey authenticate every request.
	APIUser string
	APIKey  string
	// BatchSize is the number of operations per request (default 100).
	BatchSize int
	// Parallelism is the number of requests in flight (default 4).
	Parallelism int
	// InsecureAllowHTTP permits plain http to a non-loopback host.
	InsecureAllowHTTP bool
	// CACertFile is an optional PEM file of extra trusted CAs.
	CACertFile string
	// Timeout bounds one HTTP exchange (default 60s).
	Timeout time.Duration
	// MaxRetries bounds the retries of one request: 0 means the default
	// (8), a negative value none (max_retries = 0 in HCL decodes to -1).
	MaxRetries int
	// CreateGroups creates missing groups for add_membership (default true
	// when decoded from HCL).
	CreateGroups bool
	// OnRetry, when set, is told of every retry (see RetryPolicy.OnRetry);
	// set by the program, not by the configuration.
	OnRetry func(attempt, max int, wait time.Duration, cause error)
	// RetryInitialInterval is the first retry delay (default 250ms); not
	// settable from HCL.
	RetryInitialInterval time.Duration
	// RetryMaxElapsed caps the time spent retrying one request (default
	// 3m); not settable from HCL.
	RetryMaxElapsed time.Duration
	// PageSize is the number of rows per query page (default 500); not
	// settable from HCL.
	PageSize int
}

var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "server_url", Required: true},
	{Name: "api_user", Required: true},
	{Name: "api_key", Required: true},
	{Name: "batch_size"},
	{Name: "parallelism"},
	{Name: "insecure_allow_http"},
	{Name: "ca_cert_file"},
	{Name: "timeout"},
	{Name: "max_retries"},
	{Name: "create_groups"},
}}

// DecodeSettings decodes the body of a target "ftrack" block with the
// configuration's block context; a relative ca_cert_file is resolved
// against the context's directory. Unknown attributes, missing required
// ones and values of the wrong type are errors at their source ranges,
// without the values their expressions refer to (config.WithoutValues:
// they hold the API key); api_key must be a string (a number is refused so
// that a key is never silently reformatted).
func DecodeSettings(body hcl.Body, bc config.BlockContext) (Settings, hcl.Diagnostics) {
	s := Settings{BatchSize: 100, Parallelism: 4, Timeout: DefaultTimeout, MaxRetries: DefaultMaxRetries, CreateGroups: true}
	content, diags := body.Content(settingsSchema)
	if content == nil {
		return s, config.WithoutValues(diags)
	}
	ev := config.SettingEval{Attrs: content.Attributes, Eval: bc.Eval, Summary: "Invalid ftrack setting", Diags: diags}
	integer := func(name string, lo int, dst *int) {
		v, a, ok := ev.Typed(name, cty.Number, false)
		if !ok {
			return
		}
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || n < int64(lo) || n > 100000 {
			ev.Bad(a, fmt.Sprintf("%s must be a whole number between %d and 100000.", name, lo))
			return
		}
		*dst = int(n)
	}
	boolean := func(name string, dst *bool) {
		if v, _, ok := ev.Typed(name, cty.Bool, false); ok {
			*dst = v.True()
		}
	}

	boolean("insecure_allow_http", &s.InsecureAllowHTTP)
	if a := ev.String("server_url", true, &s.ServerURL); a != nil && s.ServerURL != "" {
		if _, err := CheckServerURL(s.ServerURL, s.InsecureAllowHTTP); err != nil {
			ev.Error(a, "Invalid ftrack server_url", err.Error())
		}
	}
	if a := ev.String("api_user", true, &s.APIUser); a != nil && strings.TrimSpace(s.APIUser) == "" && !ev.Diags.HasErrors() {
		ev.Bad(a, "api_user must not be empty.")
	}
	if a := ev.String("api_key", true, &s.APIKey); a != nil && s.APIKey == "" && !ev.Diags.HasErrors() {
		ev.Bad(a, "api_key must not be empty.")
	}
	integer("batch_size", 1, &s.BatchSize)
	integer("parallelism", 1, &s.Parallelism)
	integer("max_retries", 0, &s.MaxRetries)
	if s.MaxRetries == 0 {
		s.MaxRetries = -1 // explicit 0: no retries
		if _, set := ev.Attrs["max_retries"]; !set {
			s.MaxRetries = DefaultMaxRetries
		}
	}
	ev.String("ca_cert_file", false, &s.CACertFile)
	s.CACertFile = bc.Path(s.CACertFile)
	boolean("create_groups", &s.CreateGroups)
	var timeout string
	if a := ev.String("timeout", true, &timeout); a != nil && timeout != "" {
		d, err := time.ParseDuration(strings.TrimSpace(timeout))
		if err != nil || d <= 0 {
			ev.Bad(a, `timeout must be a positive duration such as "30s" or "2m".`)
		} else {
			s.Timeout = d
		}
	}
	return s, config.WithoutValues(ev.Diags)
}

// String describes the settings with the API key redacted, so a stray %v
// never prints it.
func (s Settings) String() string {
	c := s
	if c.APIKey != "" {
		c.APIKey = "(sensitive)"
	}
	type plain Settings // drops this method, so fmt does not recurse
	return fmt.Sprintf("%+v", plain(c))
}
