package config

// The seed YAML (the original sync_ldap_users script's config.yaml) is
// converted to the equivalent HCL text, which the HCL loader then parses,
// so both formats share one loader and one set of checks. Unknown keys
// are errors pointing at the YAML line.

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"gopkg.in/yaml.v3"
)

// yamlKey describes one accepted key of a YAML section.
type yamlKey struct {
	hcl  string // HCL attribute name
	kind string // "string", "bool", "int", "attr" (a directory attribute name)
}

var yamlSections = map[string]map[string]yamlKey{
	"ldap": {
		"server_url":    {"url", "string"},
		"url":           {"url", "string"},
		"bind_dn":       {"bind_dn", "string"},
		"bind_password": {"bind_password", "string"},
		"base_dn":       {"base_dn", "string"},
		"filter":        {"filter", "string"},
		"user_filter":   {"filter", "string"},
		"search_filter": {"filter", "string"},
		"start_tls":     {"start_tls", "bool"},
		"use_start_tls": {"start_tls", "bool"},
		"ca_cert_file":  {"ca_cert_file", "string"},
		"ca_cert":       {"ca_cert_file", "string"},
		"page_size":     {"page_size", "int"},
	},
	"ftrack": {
		"server_url": {"server_url", "string"},
		"api_key":    {"api_key", "string"},
		"api_user":   {"api_user", "string"},
	},
	"mapping": {
		"username":   {"username", "attr"},
		"email":      {"email", "attr"},
		"full_name":  {"full_name", "attr"},
		"first_name": {"first_name", "attr"},
		"last_name":  {"last_name", "attr"},
	},
	// policy has the HCL policy block's keys (optional; without it the
	// default policy and its default limits apply).
	"policy": {
		"on_missing":           {"on_missing", "string"},
		"on_disabled":          {"on_disabled", "string"},
		"reactivate":           {"reactivate", "bool"},
		"grace_period":         {"grace_period", "string"},
		"max_deactivations":    {"max_deactivations", "limit"},
		"max_creates":          {"max_creates", "limit"},
		"max_updates":          {"max_updates", "limit"},
		"min_source_users":     {"min_source_users", "int"},
		"protect":              {"protect", "list"},
		"adopt_existing":       {"adopt_existing", "bool"},
		"max_errors":           {"max_errors", "int"},
		"require_signed_plans": {"require_signed_plans", "bool"},
	},
}

// yamlSecrets are the keys whose values Convert never writes into the HCL
// it prints (a file meant to be committed): it declares a sensitive
// variable instead, set through the environment.
var yamlSecrets = map[string]string{"bind_password": "ldap_bind_password", "api_key": "ftrack_api_key"}

var yamlRequired = map[string][]string{
	"ldap":   {"url", "base_dn"},
	"ftrack": {"server_url", "api_user", "api_key"},
}

var ldapAttrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

type yamlValue struct {
	text string
	b    bool
	n    int
	list []string
	node *yaml.Node
}

// Convert reads the seed YAML file and returns the equivalent HCL text,
// formatted, for a file to keep: the bind password and the API key become
// sensitive variables (set through LDAPSYNC_VAR_ldap_bind_password and
// LDAPSYNC_VAR_ftrack_api_key), never their values.
func Convert(yamlPath string) ([]byte, hcl.Diagnostics) {
	src, err := readLimited(yamlPath)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration", Detail: err.Error()}}
	}
	return convertYAML(yamlPath, src, false)
}

func loadYAML(filename string, src []byte, o *loadOptions) (*Config, hcl.Diagnostics) {
	yamlFile := &hcl.File{Bytes: src}
	doc, diags := parseYAML(filename, src)
	if diags.HasErrors() {
		return &Config{Path: filename, Digest: Digest(src), Files: map[string]*hcl.File{filename: yamlFile}}, diags
	}
	digest := yamlDocDigest(doc)
	text, diags := convertDoc(filename, src, doc, true)
	if diags.HasErrors() {
		return &Config{Path: filename, Digest: digest, Files: map[string]*hcl.File{filename: yamlFile}}, diags
	}
	cfg, d := loadHCL(filename+" (converted)", filename, text, digest, map[string]*hcl.File{filename: yamlFile}, o)
	return cfg, append(diags, d...)
}

// parseYAML unmarshals the seed YAML.
func parseYAML(filename string, src []byte) (*yaml.Node, hcl.Diagnostics) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid YAML",
			Detail:   err.Error(),
			Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	return &doc, nil
}

// convertYAML converts the seed YAML; inline keeps the secrets' values
// in the text (for loading it, never for printing it).
func convertYAML(filename string, src []byte, inline bool) ([]byte, hcl.Diagnostics) {
	doc, diags := parseYAML(filename, src)
	if diags.HasErrors() {
		return nil, diags
	}
	return convertDoc(filename, src, doc, inline)
}

// convertDoc is convertYAML of the document unmarshalled from src.
func convertDoc(filename string, src []byte, doc *yaml.Node, inline bool) ([]byte, hcl.Diagnostics) {
	rng := func(n *yaml.Node) *hcl.Range {
		pos := yamlPos(src, n.Line, n.Column)
		end := pos
		end.Column += len(n.Value)
		end.Byte += len(n.Value)
		return &hcl.Range{Filename: filename, Start: pos, End: end}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid configuration",
			Detail:   "The YAML configuration must be a mapping with ldap, ftrack and mapping sections.",
			Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	root := doc.Content[0]
	var diags hcl.Diagnostics
	sections := map[string]map[string]yamlValue{}
	sectionNodes := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		keys, ok := yamlSections[k.Value]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown configuration key",
				Detail:   fmt.Sprintf("Unknown key %q; the YAML format has the sections ldap, ftrack and mapping.", k.Value),
				Subject:  rng(k),
			})
			continue
		}
		if _, dup := sections[k.Value]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate configuration key", Detail: fmt.Sprintf("Section %q appears twice.", k.Value), Subject: rng(k)})
			continue
		}
		sectionNodes[k.Value] = k
		vals := map[string]yamlValue{}
		sections[k.Value] = vals
		if v.Kind != yaml.MappingNode {
			if v.Tag == "!!null" {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid configuration", Detail: fmt.Sprintf("%s must be a mapping of keys to values.", k.Value), Subject: rng(k)})
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			kk, vv := v.Content[j], v.Content[j+1]
			spec, ok := keys[kk.Value]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown configuration key",
					Detail:   fmt.Sprintf("Unknown key %q in section %s; known keys: %s.", kk.Value, k.Value, strings.Join(sortedKeys(keys), ", ")),
					Subject:  rng(kk),
				})
				continue
			}
			if _, dup := vals[spec.hcl]; dup {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate configuration key", Detail: fmt.Sprintf("%s.%s is set twice (or under another name).", k.Value, kk.Value), Subject: rng(kk)})
				continue
			}
			if spec.kind == "list" {
				yv, bad := yamlList(vv)
				if bad != "" {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid configuration value", Detail: fmt.Sprintf("%s.%s must be %s.", k.Value, kk.Value, bad), Subject: rng(kk)})
					continue
				}
				vals[spec.hcl] = yv
				continue
			}
			if vv.Kind != yaml.ScalarNode || vv.Tag == "!!null" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid configuration value", Detail: fmt.Sprintf("%s.%s must be a single value.", k.Value, kk.Value), Subject: rng(kk)})
				continue
			}
			yv := yamlValue{text: vv.Value, node: vv}
			bad := ""
			switch spec.kind {
			case "bool":
				if err := vv.Decode(&yv.b); err != nil {
					bad = "true or false"
				}
			case "int":
				n, err := strconv.Atoi(vv.Value)
				if err != nil || n < 0 {
					bad = "a whole number"
				}
				yv.n = n
			case "attr":
				if !ldapAttrName.MatchString(vv.Value) {
					bad = "a directory attribute name such as uid"
				}
			}
			if bad != "" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid configuration value", Detail: fmt.Sprintf("%s.%s must be %s.", k.Value, kk.Value, bad), Subject: rng(vv)})
				continue
			}
			vals[spec.hcl] = yv
		}
	}
	for _, sec := range []string{"ldap", "ftrack"} {
		vals, ok := sections[sec]
		if !ok {
			if _, errored := sectionNodes[sec]; !errored {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing configuration section", Detail: fmt.Sprintf("The YAML configuration has no %s section.", sec), Subject: rng(root)})
			}
			continue
		}
		for _, key := range yamlRequired[sec] {
			if _, ok := vals[key]; !ok {
				yamlName := key
				if key == "url" {
					yamlName = "server_url"
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing configuration value", Detail: fmt.Sprintf("%s.%s is required.", sec, yamlName), Subject: rng(sectionNodes[sec])})
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(renderSeedHCL(filename, sections, inline)), diags
}

// yamlList reads a sequence of strings (policy.protect).
func yamlList(n *yaml.Node) (yamlValue, string) {
	if n.Kind != yaml.SequenceNode {
		return yamlValue{}, "a list of usernames and re: patterns"
	}
	v := yamlValue{node: n, list: []string{}}
	for _, e := range n.Content {
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			return yamlValue{}, "a list of usernames and re: patterns"
		}
		v.list = append(v.list, e.Value)
	}
	return v, ""
}

// renderSeedHCL writes the HCL equivalent of the seed configuration;
// with inline false, secrets become sensitive variables.
func renderSeedHCL(filename string, s map[string]map[string]yamlValue, inline bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Converted from %s (the original sync_ldap_users format).\n\n", strings.ReplaceAll(filename, "\n", " "))
	secret := func(k, text string) string {
		if inline {
			return hclQuote(text)
		}
		return "var." + yamlSecrets[k]
	}
	if !inline {
		for _, k := range []string{"bind_password", "api_key"} {
			if _, ok := s[map[string]string{"bind_password": "ldap", "api_key": "ftrack"}[k]][k]; ok {
				fmt.Fprintf(&b, "# Set it with LDAPSYNC_VAR_%s in the environment (never in this file).\nvariable %q {\n  sensitive = true\n}\n\n", yamlSecrets[k], yamlSecrets[k])
			}
		}
	}
	ldap := s["ldap"]
	b.WriteString("source \"ldap\" \"ldap\" {\n")
	for _, k := range []string{"url", "bind_dn", "bind_password", "base_dn", "filter", "ca_cert_file"} {
		if v, ok := ldap[k]; ok {
			val := hclQuote(v.text)
			if _, isSecret := yamlSecrets[k]; isSecret {
				val = secret(k, v.text)
			}
			fmt.Fprintf(&b, "  %s = %s\n", k, val)
		}
	}
	startTLS := false
	if v, ok := ldap["start_tls"]; ok {
		startTLS = v.b
		fmt.Fprintf(&b, "  start_tls = %t\n", v.b)
	}
	if v, ok := ldap["page_size"]; ok {
		fmt.Fprintf(&b, "  page_size = %d\n", v.n)
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ldap["url"].text)), "ldap://") && !startTLS {
		b.WriteString("  # The original script used plain ldap:// without TLS.\n")
		b.WriteString("  insecure_allow_plaintext = true\n")
	}
	b.WriteString("}\n\n")

	b.WriteString("target \"ftrack\" \"ftrack\" {\n")
	for _, k := range []string{"server_url", "api_user"} {
		fmt.Fprintf(&b, "  %s = %s\n", k, hclQuote(s["ftrack"][k].text))
	}
	fmt.Fprintf(&b, "  api_key = %s\n", secret("api_key", s["ftrack"]["api_key"].text))
	b.WriteString("}\n\n")

	m := s["mapping"]
	attr := func(k, def string) string {
		if v, ok := m[k]; ok {
			return v.text
		}
		return def
	}
	b.WriteString("mapping \"users\" {\n")
	b.WriteString("  source = source.ldap.ldap\n")
	b.WriteString("  target = target.ftrack.ftrack\n")
	fmt.Fprintf(&b, "  username = lower(entry.%s)\n", attr("username", "uid"))
	fmt.Fprintf(&b, "  email = entry.%s\n", attr("email", "mail"))
	_, hasFirst := m["first_name"]
	_, hasLast := m["last_name"]
	if v, ok := m["full_name"]; ok || !hasFirst || !hasLast {
		name := "cn"
		if ok {
			name = v.text
		}
		fmt.Fprintf(&b, "  full_name = entry.%s\n", name)
	}
	if hasFirst {
		fmt.Fprintf(&b, "  first_name = entry.%s\n", m["first_name"].text)
	}
	if hasLast {
		fmt.Fprintf(&b, "  last_name = entry.%s\n", m["last_name"].text)
	}
	b.WriteString("}\n")
	renderSeedPolicy(&b, s["policy"])
	return b.Bytes()
}

// renderSeedPolicy writes the policy section as a policy block, in the
// YAML keys' order of yamlSections.
func renderSeedPolicy(b *bytes.Buffer, p map[string]yamlValue) {
	if len(p) == 0 {
		return
	}
	b.WriteString("\npolicy {\n")
	for _, k := range sortedKeys(yamlSections["policy"]) {
		v, ok := p[k]
		if !ok {
			continue
		}
		switch yamlSections["policy"][k].kind {
		case "bool":
			fmt.Fprintf(b, "  %s = %t\n", k, v.b)
		case "int":
			fmt.Fprintf(b, "  %s = %d\n", k, v.n)
		case "list":
			q := make([]string, len(v.list))
			for i, x := range v.list {
				q[i] = hclQuote(x)
			}
			fmt.Fprintf(b, "  %s = [%s]\n", k, strings.Join(q, ", "))
		default:
			fmt.Fprintf(b, "  %s = %s\n", k, hclQuote(v.text))
		}
	}
	b.WriteString("}\n")
}

// hclQuote renders s as an HCL quoted string literal, escaping template
// sequences so that the value is taken literally.
func hclQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlPos converts a YAML line and column (1-based) to an hcl.Pos with a
// byte offset, which the diagnostic printer needs to show the line.
func yamlPos(src []byte, line, col int) hcl.Pos {
	if line < 1 {
		return hcl.InitialPos
	}
	off := 0
	for l := 1; l < line && off < len(src); l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			off = len(src)
			break
		}
		off += i + 1
	}
	off += col - 1
	if off > len(src) {
		off = len(src)
	}
	return hcl.Pos{Line: line, Column: col, Byte: off}
}
