package ldap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/ldapsync/ldapsync/engine/config"
)

// Defaults and limits of the source settings.
const (
	DefaultPageSize = 500
	MaxPageSize     = 1000
	DefaultTimeout  = 30 * time.Second
)

// Settings configures one LDAP source: the body of `source "ldap" "NAME"`.
type Settings struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// CACertFile is a PEM file of CA certificates trusted for the server;
	// empty means the system pool.
	CACertFile string
	// BindDN and BindPassword are the simple-bind credentials; an empty
	// BindDN reads anonymously.
	BindDN, BindPassword string
	// BaseDN is the search base; Filter overrides the preset's filter.
	BaseDN, Filter string
	// Schema names the preset: openldap (default), active_directory,
	// 389ds or freeipa.
	Schema string
	// PageSize is the paged-results page size, default 500, at most 1000.
	PageSize int
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool
	// InsecureAllowPlaintext allows sending a bind password over plain
	// ldap:// without StartTLS.
	InsecureAllowPlaintext bool
	// InsecureSkipVerify disables server certificate verification.
	InsecureSkipVerify bool
	// Timeout bounds connecting and every single operation (one page of a
	// search), default 30s.
	Timeout time.Duration
	// IDAttribute overrides the preset's stable id attribute.
	IDAttribute string
}

// settingsSchema is the HCL shape of Settings; attributes are decoded one by
// one so that bad values are reported at their own range.
var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "url", Required: true}, {Name: "ca_cert_file"}, {Name: "bind_dn"}, {Name: "bind_password"},
	{Name: "base_dn", Required: true}, {Name: "filter"}, {Name: "schema"}, {Name: "page_size"},
	{Name: "start_tls"}, {Name: "insecure_allow_plaintext"}, {Name: "insecure_skip_verify"},
	{Name: "timeout"}, {Name: "id_attribute"},
}}

// DecodeSettings decodes the body of a `source "ldap" "NAME"` block with the
// configuration's block context; a relative ca_cert_file is resolved
// against the context's directory. Unknown attributes, bad values (schema
// name, URL scheme, page size, timeout) and plaintext passwords without the
// opt-in are diagnostics at the attribute's range, without the values
// their expressions refer to (config.WithoutValues: they hold the bind
// password).
func DecodeSettings(body hcl.Body, bc config.BlockContext) (Settings, hcl.Diagnostics) {
	var s Settings
	content, diags := body.Content(settingsSchema)
	if content == nil {
		return s, config.WithoutValues(diags)
	}
	ectx := bc.Eval
	attrs := content.Attributes
	decode := func(name string, dst any) {
		if a, ok := attrs[name]; ok {
			diags = append(diags, gohcl.DecodeExpression(a.Expr, ectx, dst)...)
		}
	}
	decode("url", &s.URL)
	decode("ca_cert_file", &s.CACertFile)
	s.CACertFile = bc.Path(s.CACertFile)
	decode("bind_dn", &s.BindDN)
	decode("bind_password", &s.BindPassword)
	decode("base_dn", &s.BaseDN)
	decode("filter", &s.Filter)
	decode("schema", &s.Schema)
	decode("id_attribute", &s.IDAttribute)
	decode("start_tls", &s.StartTLS)
	decode("insecure_allow_plaintext", &s.InsecureAllowPlaintext)
	decode("insecure_skip_verify", &s.InsecureSkipVerify)
	if a, ok := attrs["page_size"]; ok {
		d := gohcl.DecodeExpression(a.Expr, ectx, &s.PageSize)
		diags = append(diags, d...)
		if !d.HasErrors() && (s.PageSize < 1 || s.PageSize > MaxPageSize) {
			diags = append(diags, attrDiag(a, "Invalid page_size",
				fmt.Sprintf("page_size must be between 1 and %d (Active Directory's MaxPageSize caps pages at 1000).", MaxPageSize)))
		}
	}
	if a, ok := attrs["timeout"]; ok {
		var raw string
		d := gohcl.DecodeExpression(a.Expr, ectx, &raw)
		diags = append(diags, d...)
		if !d.HasErrors() {
			t, err := time.ParseDuration(strings.TrimSpace(raw))
			if err != nil || t <= 0 {
				diags = append(diags, attrDiag(a, "Invalid timeout", `timeout must be a positive duration such as "30s" or "2m".`))
			} else {
				s.Timeout = t
			}
		}
	}
	if a, ok := attrs["schema"]; ok && s.Schema != "" {
		if _, known := Presets[s.Schema]; !known {
			diags = append(diags, attrDiag(a, "Unknown schema",
				fmt.Sprintf("schema %q is not a preset; use one of %s.", s.Schema, strings.Join(quoted(PresetNames()), ", "))))
		}
	}
	if a, ok := attrs["url"]; ok && s.URL != "" {
		if _, err := parseURL(s.URL); err != nil {
			diags = append(diags, attrDiag(a, "Invalid url", err.Error()+"."))
		} else if err := checkPlaintext(s); err != nil {
			diags = append(diags, attrDiag(a, "Plaintext password refused", err.Error()+"."))
		}
	}
	return s, config.WithoutValues(diags)
}

func attrDiag(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  a.Expr.Range().Ptr(),
		Context:  a.Range.Ptr(),
	}
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// parseURL checks an LDAP URL: ldap or ldaps scheme and a host.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q does not parse: %v", raw, err)
	}
	switch u.Scheme {
	case "ldap", "ldaps":
	default:
		return nil, fmt.Errorf("url %q must start with ldaps:// or ldap://", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q has no host", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("url %q must not carry a DN or query; set base_dn and filter instead", raw)
	}
	return u, nil
}

// errPlaintext is the refusal of a password over an unencrypted connection.
var errPlaintext = errors.New("bind_password would be sent unencrypted over ldap://: use ldaps://, set start_tls = true, or (for tests only) insecure_allow_plaintext = true")

func checkPlaintext(s Settings) error {
	if strings.HasPrefix(strings.ToLower(s.URL), "ldap://") && !s.StartTLS && s.BindPassword != "" && !s.InsecureAllowPlaintext {
		return errPlaintext
	}
	return nil
}

// withDefaults validates s and fills in defaults.
func (s Settings) withDefaults() (Settings, Preset, error) {
	p, ok := PresetFor(s.Schema)
	if !ok {
		return s, p, fmt.Errorf("unknown schema %q (presets: %s)", s.Schema, strings.Join(PresetNames(), ", "))
	}
	s.Schema = p.Name
	u, err := parseURL(s.URL)
	if err != nil {
		return s, p, err
	}
	if u.Scheme == "ldaps" && s.StartTLS {
		return s, p, fmt.Errorf("start_tls is for ldap:// URLs; %q is already TLS", s.URL)
	}
	if err := checkPlaintext(s); err != nil {
		return s, p, err
	}
	if s.BaseDN == "" {
		return s, p, errors.New("base_dn is required")
	}
	if s.BindDN == "" && s.BindPassword != "" {
		return s, p, errors.New("bind_password is set but bind_dn is empty")
	}
	if s.BindDN != "" && s.BindPassword == "" {
		return s, p, errors.New("bind_dn is set but bind_password is empty (an empty password is an unauthenticated bind, which servers accept without checking anything)")
	}
	switch {
	case s.PageSize == 0:
		s.PageSize = DefaultPageSize
	case s.PageSize < 0:
		return s, p, fmt.Errorf("page_size %d must be positive", s.PageSize)
	case s.PageSize > MaxPageSize:
		s.PageSize = MaxPageSize
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Filter == "" {
		s.Filter = p.Filter
	}
	if s.IDAttribute == "" {
		s.IDAttribute = p.IDAttribute
	}
	return s, p, nil
}

// String describes the settings with the bind password redacted, so a
// stray %v never prints it.
func (s Settings) String() string {
	c := s
	if c.BindPassword != "" {
		c.BindPassword = "(sensitive)"
	}
	type plain Settings // drops this method, so fmt does not recurse
	return fmt.Sprintf("%+v", plain(c))
}
