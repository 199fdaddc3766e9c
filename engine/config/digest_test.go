package config

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"gopkg.in/yaml.v3"
)

// digestBase is a configuration with every kind of value: the pairs
// below are edits of it.
const digestBase = `variable "domain" {
  type    = string
  default = "example.com"
}

variable "limit" {
  type    = number
  default = 7
}

source "ldap" "corp" {
  url       = "ldaps://ldap.example.com"
  base_dn   = "ou=users,dc=example,dc=com"
  page_size = 1000
}

target "ftrack" "studio" {
  server_url = "https://studio.example.com"
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source   = source.ldap.corp
  username = lower(entry.uid)
  email    = lower(coalesce(entry.mail, "${entry.uid}@${var.domain}"))
  disabled = entry.pwdAccountLockedTime != null
  groups   = [for g in entry_values.memberOf : upper(g) if g != ""]
}

groups "studio" {
  base_dn = "ou=groups,dc=example,dc=com"
  nested  = true
  map = {
    "cn=artists,ou=groups,dc=example,dc=com" = "Artists"
    "re:^proj-(.*)$"                         = "Project $1"
  }
}

policy {
  max_creates      = var.limit
  min_source_users = 10
  protect          = ["re:^svc-", "admin"]
  reactivate       = false
}

state { path = "ldapsync.state.json" }
`

// edit returns digestBase with each old (which must occur exactly once)
// replaced by its new, in pairs.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := digestBase
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			t.Fatalf("edit: %q occurs %d times", pairs[i], n)
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func mustParse(t *testing.T, name, src string) {
	t.Helper()
	if _, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos); diags.HasErrors() {
		t.Fatalf("%s does not parse:\n%s\n%s", name, diagList(diags), src)
	}
}

// TestDigestLoaded checks that Load puts the meaning digest into Config.
func TestDigestLoaded(t *testing.T) {
	cfg := loadSrc(t, digestBase)
	if want := hclDigest("x.hcl", []byte(digestBase)); cfg.Digest != want || cfg.Digest == Digest([]byte(digestBase)) {
		t.Errorf("Digest = %s, want %s (not the bytes' %s)", cfg.Digest, want, Digest([]byte(digestBase)))
	}
	if !strings.HasPrefix(cfg.Digest, "sha256:") || len(cfg.Digest) != 71 {
		t.Errorf("Digest %q is not sha256:<64 hex>", cfg.Digest)
	}
	again := loadSrc(t, string(Format([]byte("# reviewed\n"+digestBase))))
	if again.Digest != cfg.Digest {
		t.Error("a comment and ldapsync fmt changed the loaded digest")
	}
}

const messyBase = `variable "domain" { # the mail domain
	type = string // a string
	default = /* fallback */ "example.com"
}
variable   "limit"   {
type=number
default=7
}

/* the directory */
source "ldap" /* type, then name */ "corp" {
  base_dn   =    "ou=users,dc=example,dc=com"
          url = "ldaps://ldap.example.com"
  page_size = 1000 # entries per page
}

target "ftrack" "studio" {
  server_url = "https://studio.example.com"
  api_user = "admin"
  api_key = env( # from the environment
    "FTRACK_API_KEY" )
}

mapping "users" {
  source   = source.ldap.corp
  username = lower( entry.uid )
  email    = lower(coalesce(entry.mail,
     "${ entry.uid }@${var.domain /* interpolated */}"))
  disabled = entry.pwdAccountLockedTime   !=   null
  groups   = [
    for g in entry_values.memberOf : # each group
      upper(g)
      if g != ""
  ]
}

groups "studio" {
  base_dn = "ou=groups,dc=example,dc=com"
  nested = true
  map = {
    "cn=artists,ou=groups,dc=example,dc=com" = "Artists" # a DN
    "re:^proj-(.*)$" = "Project $1" // a pattern
  }
}


policy {
  max_creates = var.limit
  min_source_users = 10
  protect = [
    "re:^svc-", # service accounts
    "admin",
  ]
  reactivate = false
}

state {
  path = "ldapsync.state.json"
}
// the end
`

// TestDigestSameMeaning lists rewrites that keep the meaning: each must
// keep digestBase's digest.
func TestDigestSameMeaning(t *testing.T) {
	tests := map[string]string{
		"leading # comment":       "# ldapsync\n" + digestBase,
		"leading // comment":      "// ldapsync\n" + digestBase,
		"leading /* */ comment":   "/* ldapsync\n   config */\n" + digestBase,
		"trailing comment":        digestBase + "# end\n",
		"comment after value":     edit(t, `page_size = 1000`, `page_size = 1000 # max`),
		"comment after =":         edit(t, `page_size = 1000`, `page_size = /* max */ 1000`),
		"comment between labels":  edit(t, `source "ldap" "corp" {`, `source "ldap" /* x */ "corp" /* y */ {`),
		"comment in a list":       edit(t, `["re:^svc-", "admin"]`, "[\n    \"re:^svc-\", # svc\n    // admin\n    \"admin\", /* last */\n  ]"),
		"comment in an object":    edit(t, `= "Artists"`, `= "Artists" # DN`),
		"comment in call args":    edit(t, `lower(entry.uid)`, `lower(/* the uid */ entry.uid)`),
		"comment in for":          edit(t, `: upper(g) if`, `: /* x */ upper(g) # y`+"\n"+` if`),
		"comment in interpolate":  edit(t, `${var.domain}`, `${var.domain /* d */}`),
		"comment line in body":    edit(t, "  nested  = true\n", "  # nested groups\n  nested  = true\n  // done\n"),
		"tabs and spaces":         strings.ReplaceAll(digestBase, "  ", "\t \t"),
		"no alignment":            edit(t, `url       =`, `url=`, `page_size = 1000`, `page_size=1000`),
		"blank lines":             strings.ReplaceAll(digestBase, "\n", "\n\n"),
		"CRLF line endings":       strings.ReplaceAll(digestBase, "\n", "\r\n"),
		"one-line block":          edit(t, "policy {\n  max_creates      = var.limit\n", "policy {\nmax_creates = var.limit\n"),
		"list over lines":         edit(t, `["re:^svc-", "admin"]`, "[\n\"re:^svc-\",\n\"admin\",\n]"),
		"trailing comma":          edit(t, `["re:^svc-", "admin"]`, `["re:^svc-", "admin", ]`),
		"messy file":              messyBase,
		"fmt of messy file":       string(Format([]byte(messyBase))),
		"reordered attributes":    edit(t, "  url       = \"ldaps://ldap.example.com\"\n  base_dn   = \"ou=users,dc=example,dc=com\"\n", "  base_dn   = \"ou=users,dc=example,dc=com\"\n  url       = \"ldaps://ldap.example.com\"\n"),
		"reordered blocks":        reverseBlocks(t, digestBase),
		"reordered everything":    reverseBlocks(t, reverseAttrs(t, digestBase)),
		"unicode escape":          edit(t, `"admin"]`, `"\u0061dmin"]`),
		"escape of plain char":    edit(t, `"Artists"`, `"\u0041rtists"`),
		"1 vs 1.0":                edit(t, `min_source_users = 10`, `min_source_users = 10.0`),
		"1e3 vs 1000":             edit(t, `page_size = 1000`, `page_size = 1e3`),
		"bare object key":         edit(t, `"re:^proj-(.*)$"                         = "Project $1"`, `"re:^proj-(.*)$" = "Project $1"`+"\n    plain = \"x\""),
		"label as identifier":     edit(t, `groups "studio" {`, `groups studio {`),
		"state block moved":       edit(t, "state { path = \"ldapsync.state.json\" }\n", "state \"ftrack\" {}\n"),
		"state block removed":     edit(t, "state { path = \"ldapsync.state.json\" }\n", ""),
		"strip marker, no space":  edit(t, `@${var.domain}`, `@${~var.domain}`),
		"strip marker, a space":   edit(t, `@${var.domain}`, `@ \t ${~var.domain}`),
		"heredoc for a string":    edit(t, `base_dn = "ou=groups,dc=example,dc=com"`, "base_dn = <<EOT\nou=groups,dc=example,dc=com\nEOT\n"),
		"indented heredoc":        edit(t, `url       = "ldaps://ldap.example.com"`, "url = <<-EOT\n      ldaps://ldap.example.com\n    EOT\n"),
		"colon in object":         edit(t, `= "Artists"`, `: "Artists"`),
		"literal split by escape": edit(t, `"ou=users,dc=example,dc=com"`, `"ou=users,\u0064c=example,dc=com"`),
	}
	// "bare object key" compares with a base that has the extra key.
	withPlain := edit(t, `"re:^proj-(.*)$"                         = "Project $1"`, `"re:^proj-(.*)$" = "Project $1"`+"\n    \"plain\" = \"x\"")
	// "heredoc for a string" and "indented heredoc" include a newline the
	// quoted strings lack; their bases say so.
	withHeredocs := map[string]string{
		"heredoc for a string": edit(t, `base_dn = "ou=groups,dc=example,dc=com"`, `base_dn = "ou=groups,dc=example,dc=com\n"`),
		"indented heredoc":     edit(t, `url       = "ldaps://ldap.example.com"`, `url = "ldaps://ldap.example.com\n"`),
	}
	want := hclDigest("base.hcl", []byte(digestBase))
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			mustParse(t, name, src)
			w := want
			if name == "bare object key" {
				w = hclDigest("base.hcl", []byte(withPlain))
			}
			if b, ok := withHeredocs[name]; ok {
				w = hclDigest("base.hcl", []byte(b))
			}
			if got := hclDigest("x.hcl", []byte(src)); got != w {
				t.Errorf("digest changed:\n%s", src)
			}
		})
	}
}

// TestDigestNestedBlockOrder checks that blocks are sorted at every
// depth, not only at the top (this language has no nested blocks today;
// the rule holds for one that gets them).
func TestDigestNestedBlockOrder(t *testing.T) {
	a := "a \"x\" {\n  b { v = 1 }\n  b { v = 2 }\n  c \"l\" { w = [1, 2] }\n}\n"
	b := "a \"x\" {\n  c \"l\" { w = [1, 2] }\n  b { v = 2 }\n  b { v = 1 }\n}\n"
	moved := "a \"x\" {\n  b {\n    v = 1\n    b { v = 2 }\n  }\n  c \"l\" { w = [1, 2] }\n}\n"
	if hclDigest("a", []byte(a)) != hclDigest("b", []byte(b)) {
		t.Error("reordering nested blocks changed the digest")
	}
	if hclDigest("a", []byte(a)) == hclDigest("m", []byte(moved)) {
		t.Error("moving a block into another did not change the digest")
	}
}

// TestDigestOtherMeaning lists edits that change the meaning: each must
// change digestBase's digest, and no two may share one.
func TestDigestOtherMeaning(t *testing.T) {
	tests := map[string]string{
		"string value":             edit(t, `api_user   = "admin"`, `api_user   = "admim"`),
		"string case":              edit(t, `api_user   = "admin"`, `api_user   = "Admin"`),
		"string whitespace":        edit(t, `api_user   = "admin"`, `api_user   = "admin "`),
		"escape of another char":   edit(t, `"Project $1"`, `"Project\t$1"`),
		"escaped backslash":        edit(t, `"Project $1"`, `"Project \\n$1"`),
		"escaped interpolation":    edit(t, `"${entry.uid}@`, `"$${entry.uid}@`),
		"interpolation":            edit(t, `"Project $1"`, `"Project ${1}"`),
		"number":                   edit(t, `page_size = 1000`, `page_size = 1001`),
		"number fraction":          edit(t, `min_source_users = 10`, `min_source_users = 10.5`),
		"bool":                     edit(t, `nested  = true`, `nested  = false`),
		"null":                     edit(t, `!= null`, `!= ""`),
		"reference":                edit(t, `lower(entry.uid)`, `lower(entry.cn)`),
		"reference root":           edit(t, `lower(entry.uid)`, `lower(entry_values.uid)`),
		"index vs attr":            edit(t, `lower(entry.uid)`, `lower(entry["uid"][0])`),
		"function":                 edit(t, `lower(entry.uid)`, `upper(entry.uid)`),
		"function args":            edit(t, `coalesce(entry.mail, "${`, `coalesce("${`, `var.domain}"))`, `var.domain}", entry.mail))`),
		"expand final":             edit(t, `upper(g)`, `upper(g...)`),
		"operator":                 edit(t, `!= null`, `== null`),
		"unary operator":           edit(t, `!= null`, `!= null && !false`),
		"precedence":               edit(t, `min_source_users = 10`, `min_source_users = (1 + 2) * 3`),
		"no precedence":            edit(t, `min_source_users = 10`, `min_source_users = 1 + 2 * 3`),
		"conditional":              edit(t, `min_source_users = 10`, `min_source_users = true ? 10 : 1`),
		"for condition":            edit(t, ` if g != ""]`, `]`),
		"for variable":             edit(t, `for g in entry_values.memberOf : upper(g) if g != ""`, `for h in entry_values.memberOf : upper(h) if h != ""`),
		"for object":               edit(t, `[for g in entry_values.memberOf : upper(g) if g != ""]`, `{for g in entry_values.memberOf : g => upper(g) if g != ""}`),
		"list order":               edit(t, `["re:^svc-", "admin"]`, `["admin", "re:^svc-"]`),
		"list element added":       edit(t, `["re:^svc-", "admin"]`, `["re:^svc-", "admin", "root"]`),
		"object key":               edit(t, `"re:^proj-(.*)$"   `, `"re:^prj-(.*)$"    `),
		"object value":             edit(t, `= "Artists"`, `= "Artist"`),
		"object key expression":    edit(t, `"re:^proj-(.*)$"                         = "Project $1"`, `(var.domain) = "Project $1"`),
		"splat":                    edit(t, `upper(g)`, `upper(g[*])`),
		"attribute renamed":        edit(t, `reactivate       = false`, `adopt_existing   = false`),
		"attribute added":          edit(t, `reactivate       = false`, "reactivate = false\n  max_errors = 3"),
		"attribute removed":        edit(t, "  reactivate       = false\n", ""),
		"attribute moved":          edit(t, "  page_size = 1000\n", "", `api_user   = "admin"`, "api_user = \"admin\"\n  page_size = 1000"),
		"label":                    edit(t, `mapping "users"`, `mapping "user"`),
		"first label":              edit(t, `source "ldap" "corp"`, `source "ldaps" "corp"`),
		"labels swapped":           edit(t, `source "ldap" "corp"`, `source "corp" "ldap"`),
		"block type":               edit(t, `groups "studio"`, `group "studio"`),
		"block added":              digestBase + "groups \"more\" {\n  base_dn = \"ou=more\"\n}\n",
		"block removed":            edit(t, "groups \"studio\" {\n  base_dn = \"ou=groups,dc=example,dc=com\"\n  nested  = true\n  map = {\n    \"cn=artists,ou=groups,dc=example,dc=com\" = \"Artists\"\n    \"re:^proj-(.*)$\"                         = \"Project $1\"\n  }\n}\n", ""),
		"block moved into block":   edit(t, "state { path = \"ldapsync.state.json\" }\n", "", "  reactivate       = false\n", "  reactivate       = false\n  state { path = \"ldapsync.state.json\" }\n"),
		"block label added":        edit(t, `policy {`, `policy "local" {`),
		"variable default":         edit(t, `default = 7`, `default = 8`),
		"variable default removed": edit(t, "  default = \"example.com\"\n", ""),
		"variable added":           digestBase + "variable \"extra\" {\n  type = number\n}\n",
		"variable default added":   digestBase + "variable \"extra\" {\n  type    = number\n  default = 1\n}\n",
		"variable type":            edit(t, `type    = number`, `type    = string`),
		"heredoc text":             edit(t, `base_dn = "ou=groups,dc=example,dc=com"`, "base_dn = <<EOT\nou=groups,dc=example,dc=org\nEOT\n"),
		"heredoc newline":          edit(t, `base_dn = "ou=groups,dc=example,dc=com"`, "base_dn = <<EOT\nou=groups,dc=example,dc=com\nEOT\n"),
		"heredoc indentation":      edit(t, `base_dn = "ou=groups,dc=example,dc=com"`, "base_dn = <<EOT\n  ou=groups,dc=example,dc=com\nEOT\n"),
		"strip marker":             edit(t, `"${entry.uid}@${var.domain}"`, `"${entry.uid} @ ${~var.domain}"`),
		"template directive":       edit(t, `"${entry.uid}@${var.domain}"`, `"${entry.uid}@%{if var.domain != ""}${var.domain}%{endif}"`),
	}
	base := hclDigest("base.hcl", []byte(digestBase))
	seen := map[string]string{base: "base"}
	for _, name := range sortedKeys(tests) {
		src := tests[name]
		mustParse(t, name, src)
		got := hclDigest("x.hcl", []byte(src))
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same digest as %s:\n%s", name, prev, src)
			continue
		}
		seen[got] = name
	}
}

// TestDigestVariableValues pins the decision that -var values are not
// part of the digest (see digest.go) while defaults in the file are.
func TestDigestVariableValues(t *testing.T) {
	one := loadSrc(t, digestBase, WithVariables(map[string]string{"limit": "1"}))
	two := loadSrc(t, digestBase, WithVariables(map[string]string{"limit": "2", "domain": "example.org"}))
	none := loadSrc(t, digestBase)
	if one.Digest != two.Digest || one.Digest != none.Digest {
		t.Errorf("-var values changed the digest: %s %s %s", one.Digest, two.Digest, none.Digest)
	}
	if one.Policy.MaxCreates.Count == two.Policy.MaxCreates.Count {
		t.Fatal("the test's variables did not take effect")
	}
	def := loadSrc(t, edit(t, `default = 7`, `default = 2`))
	if def.Digest == none.Digest {
		t.Error("a changed variable default kept the digest")
	}
}

// TestDigestUnparsable checks the fallback: a file that does not parse
// or exceeds the bounds gets the digest of its bytes.
func TestDigestUnparsable(t *testing.T) {
	for _, src := range []string{"source {", strings.Repeat("(", MaxNestingDepth+5), "a = \"${\"\n"} {
		if got := hclDigest("x.hcl", []byte(src)); got != Digest([]byte(src)) {
			t.Errorf("%q: digest %s, want the bytes' digest", src, got)
		}
	}
	if got := yamlDigest([]byte("a: [")); got != Digest([]byte("a: [")) {
		t.Errorf("invalid YAML: digest %s, want the bytes' digest", got)
	}
}

const yamlBase = `# seed configuration
ldap:
  server_url: ldap://ldap.example.com
  bind_dn: cn=admin,dc=example,dc=com
  base_dn: ou=users,dc=example,dc=com
  page_size: 500
  start_tls: true
ftrack:
  server_url: https://example.ftrackapp.com
  api_key: key
  api_user: admin
mapping:
  username: uid
policy:
  protect: [admin, "re:^svc-"]
`

// TestDigestYAML checks the seed format: comments, styles and key order
// keep the digest, values change it.
func TestDigestYAML(t *testing.T) {
	same := map[string]string{
		"no comment": strings.Replace(yamlBase, "# seed configuration\n", "", 1),
		"comments":   strings.ReplaceAll(yamlBase, "\n", " # note\n"),
		"quoted":     strings.Replace(yamlBase, "api_user: admin", `api_user: "admin"`, 1),
		"flow style": "{ldap: {start_tls: true, page_size: 500, base_dn: 'ou=users,dc=example,dc=com', bind_dn: 'cn=admin,dc=example,dc=com', server_url: 'ldap://ldap.example.com'},\n" +
			" mapping: {username: uid}, policy: {protect: [admin, 're:^svc-']},\n ftrack: {api_user: admin, api_key: key, server_url: 'https://example.ftrackapp.com'}}\n",
		"indent":     strings.ReplaceAll(yamlBase, "\n  ", "\n      "),
		"block list": strings.Replace(yamlBase, `  protect: [admin, "re:^svc-"]`, "  protect:\n    - admin\n    - re:^svc-", 1),
	}
	differ := map[string]string{
		"string":      strings.Replace(yamlBase, "api_user: admin", "api_user: admins", 1),
		"number":      strings.Replace(yamlBase, "page_size: 500", "page_size: 501", 1),
		"bool":        strings.Replace(yamlBase, "start_tls: true", "start_tls: false", 1),
		"bool string": strings.Replace(yamlBase, "start_tls: true", `start_tls: "true"`, 1),
		"list order":  strings.Replace(yamlBase, `[admin, "re:^svc-"]`, `["re:^svc-", admin]`, 1),
		"key":         strings.Replace(yamlBase, "username: uid", "email: uid", 1),
		"moved key":   strings.Replace(strings.Replace(yamlBase, "  username: uid\n", "", 1), "  api_user: admin\n", "  api_user: admin\n  username: uid\n", 1),
	}
	base := yamlDigest([]byte(yamlBase))
	for name, src := range same {
		if yamlDigest([]byte(src)) != base {
			t.Errorf("%s: digest changed:\n%s", name, src)
		}
	}
	for name, src := range differ {
		if yamlDigest([]byte(src)) == base {
			t.Errorf("%s: digest kept:\n%s", name, src)
		}
	}
	cfg := loadOK(t, writeTemp(t, "config.yaml", yamlBase))
	cfg2 := loadOK(t, writeTemp(t, "config.yaml", same["flow style"]))
	if cfg.Digest != base || cfg2.Digest != base {
		t.Errorf("loaded YAML digests %s and %s, want %s", cfg.Digest, cfg2.Digest, base)
	}
}

func writeTemp(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// digestCorpus is every example and test configuration that parses.
func digestCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	var paths []string
	for _, pat := range []string{"../../examples/*/ldapsync.hcl", "testdata/*.hcl", "testdata/*/*.hcl"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		src := mustRead(t, p)
		if _, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos); diags.HasErrors() {
			continue
		}
		out[p] = src
	}
	if len(out) < 10 {
		t.Fatalf("only %d configurations found", len(out))
	}
	return out
}

// TestDigestPropertyFormatting strips every comment, reformats, adds
// whitespace and comments between all tokens, and reverses the order of
// blocks and attributes, of every example and test configuration: the
// digest never moves.
func TestDigestPropertyFormatting(t *testing.T) {
	for _, p := range sortedKeys(digestCorpus(t)) {
		src := mustRead(t, p)
		want := hclDigest(p, src)
		stripped := stripComments(t, string(src))
		messy := messUp(t, stripped)
		variants := map[string]string{
			"stripped": stripped, "fmt": string(Format(src)), "stripped+fmt": string(Format([]byte(stripped))),
			"messy": messy, "messy+fmt": string(Format([]byte(messy))),
			"reversed": reverseBlocks(t, reverseAttrs(t, stripped)),
		}
		for name, v := range variants {
			mustParse(t, p+" "+name, v)
			if got := hclDigest(p, []byte(v)); got != want {
				t.Errorf("%s: %s changed the digest:\n%s", p, name, v)
			}
		}
	}
}

// TestDigestPropertyMutations changes each literal token of every
// example and test configuration, one at a time (a character of a
// string, label, template or heredoc; a number; a bool; a name): every
// such change must change the digest, except inside the state block,
// where none may.
func TestDigestPropertyMutations(t *testing.T) {
	checked, skipped, inState := 0, 0, 0
	for _, p := range sortedKeys(digestCorpus(t)) {
		src := mustRead(t, p)
		want := hclDigest(p, src)
		state := stateBlockRanges(t, p, src)
		toks, _ := hclsyntax.LexConfig(src, p, hcl.InitialPos)
		for _, tok := range toks {
			repl, ok := mutateToken(tok)
			if !ok {
				continue
			}
			mut := string(src[:tok.Range.Start.Byte]) + repl + string(src[tok.Range.End.Byte:])
			if _, diags := hclsyntax.ParseConfig([]byte(mut), p, hcl.InitialPos); diags.HasErrors() {
				skipped++
				continue
			}
			checked++
			changed := hclDigest(p, []byte(mut)) != want
			switch {
			case inRanges(state, tok.Range.Start.Byte):
				inState++
				if changed {
					t.Errorf("%s:%d:%d: %q -> %q in the state block changed the digest", p, tok.Range.Start.Line, tok.Range.Start.Column, tok.Bytes, repl)
				}
			case !changed:
				t.Errorf("%s:%d:%d: %q -> %q kept the digest", p, tok.Range.Start.Line, tok.Range.Start.Column, tok.Bytes, repl)
			}
		}
	}
	t.Logf("%d mutations checked (%d in state blocks), %d skipped (did not parse)", checked, inState, skipped)
	if inState == 0 {
		t.Errorf("no mutation fell in a state block: the corpus has none")
	}
	if checked < 500 || skipped > checked/20 {
		t.Errorf("%d mutations checked, %d skipped: the corpus or the mutator is off", checked, skipped)
	}
}

// mutateToken returns another spelling of tok with another meaning.
func mutateToken(tok hclsyntax.Token) (string, bool) {
	b := string(tok.Bytes)
	switch tok.Type {
	case hclsyntax.TokenNumberLit:
		return b + "1", true
	case hclsyntax.TokenIdent:
		switch b {
		case "true":
			return "false", true
		case "false":
			return "true", true
		case "null":
			return `"null"`, true
		}
		return b + "x", true
	case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit:
		return flipChar(b)
	}
	return "", false
}

// flipChar changes the first letter or digit of a string literal token
// that is not part of an escape sequence.
func flipChar(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i < len(s) && s[i] == 'u' {
				i += 4
			} else if i < len(s) && s[i] == 'U' {
				i += 8
			}
			continue
		}
		if !isAlnum(c) {
			continue
		}
		n := c + 1
		switch c {
		case 'z':
			n = 'a'
		case 'Z':
			n = 'A'
		case '9':
			n = '0'
		}
		return s[:i] + string(n) + s[i+1:], true
	}
	return "", false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// stripComments removes every comment, keeping a line comment's newline.
func stripComments(t *testing.T, src string) string {
	t.Helper()
	toks, diags := hclsyntax.LexConfig([]byte(src), "x", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	var b strings.Builder
	last := 0
	for _, tok := range toks {
		if tok.Type != hclsyntax.TokenComment {
			continue
		}
		b.WriteString(src[last:tok.Range.Start.Byte])
		if bytes.HasSuffix(tok.Bytes, []byte("\n")) {
			b.WriteString("\n")
		} else {
			b.WriteString(" ")
		}
		last = tok.Range.End.Byte
	}
	b.WriteString(src[last:])
	return b.String()
}

// messUp widens every gap between tokens (the only places whitespace is
// not content), puts a block comment into it, and a line comment before
// every newline.
func messUp(t *testing.T, src string) string {
	t.Helper()
	toks, diags := hclsyntax.LexConfig([]byte(src), "x", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	var b strings.Builder
	for i, tok := range toks {
		if tok.Type == hclsyntax.TokenNewline {
			b.WriteString(" # noise")
		}
		b.Write(tok.Bytes)
		if i+1 == len(toks) {
			break
		}
		gap := src[tok.Range.End.Byte:toks[i+1].Range.Start.Byte]
		if gap == "" {
			continue
		}
		b.WriteString(gap)
		if !strings.Contains(gap, "\n") {
			b.WriteString(" /* noise */\t ")
		}
	}
	return b.String()
}

// reverseBlocks writes src's top-level blocks in reverse order.
func reverseBlocks(t *testing.T, src string) string {
	t.Helper()
	body := parseBody(t, src)
	var parts []string
	for i := len(body.Blocks) - 1; i >= 0; i-- {
		r := body.Blocks[i].Range()
		parts = append(parts, src[r.Start.Byte:r.End.Byte])
	}
	for _, a := range attrsReversed(body) {
		r := a.SrcRange
		parts = append(parts, src[r.Start.Byte:r.End.Byte])
	}
	return strings.Join(parts, "\n\n") + "\n"
}

// reverseAttrs writes every block's attributes in reverse source order.
func reverseAttrs(t *testing.T, src string) string {
	t.Helper()
	body := parseBody(t, src)
	var b strings.Builder
	for _, a := range attrsReversed(body) {
		b.WriteString(src[a.SrcRange.Start.Byte:a.SrcRange.End.Byte] + "\n")
	}
	for _, blk := range body.Blocks {
		b.WriteString(src[blk.TypeRange.Start.Byte:blk.OpenBraceRange.End.Byte] + "\n")
		for _, a := range attrsReversed(blk.Body) {
			b.WriteString(src[a.SrcRange.Start.Byte:a.SrcRange.End.Byte] + "\n")
		}
		for _, inner := range blk.Body.Blocks {
			r := inner.Range()
			b.WriteString(src[r.Start.Byte:r.End.Byte] + "\n")
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// attrsReversed returns body's attributes in reverse source order.
func attrsReversed(body *hclsyntax.Body) []*hclsyntax.Attribute {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte > attrs[j].SrcRange.Start.Byte })
	return attrs
}

func parseBody(t *testing.T, src string) *hclsyntax.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "x", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	return f.Body.(*hclsyntax.Body)
}

// TestDigestPropertyYAML changes each scalar of the seed examples, one at
// a time, and re-encodes the document (other formatting, no comments):
// re-encoding alone keeps the digest, each change moves it.
func TestDigestPropertyYAML(t *testing.T) {
	paths, _ := filepath.Glob("testdata/seed/*.y*ml")
	more, _ := filepath.Glob("../../examples/*/config.yaml")
	checked := 0
	for _, p := range append(paths, more...) {
		src := mustRead(t, p)
		want := yamlDigest(src)
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil {
			t.Fatal(err)
		}
		if got := yamlDigest(encodeYAML(t, &doc)); got != want {
			t.Errorf("%s: re-encoding changed the digest", p)
		}
		for _, n := range yamlScalars(&doc) {
			old, oldTag := n.Value, n.Tag
			n.Value += "x"
			if n.Tag != "!!str" {
				n.Tag = "" // resolved again from the new text
			}
			if yamlDigest(encodeYAML(t, &doc)) == want {
				t.Errorf("%s:%d: %q -> %q kept the digest", p, n.Line, old, n.Value)
			}
			n.Value, n.Tag = old, oldTag
			checked++
		}
	}
	t.Logf("%d YAML mutations checked", checked)
	if checked < 20 {
		t.Errorf("only %d YAML mutations checked", checked)
	}
}

func encodeYAML(t *testing.T, doc *yaml.Node) []byte {
	t.Helper()
	strip(doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(3)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// strip removes comments and styles from n and its children.
func strip(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment, n.Style = "", "", "", 0
	for _, c := range n.Content {
		strip(c)
	}
}

func yamlScalars(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		out = append(out, yamlScalars(c)...)
	}
	return out
}

// stateBlockRanges returns the byte ranges of the top-level state blocks
// of src after their type name: label and body (where the state is kept;
// "statex" is another block).
func stateBlockRanges(t *testing.T, name string, src []byte) []hcl.Range {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var out []hcl.Range
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "state" {
			r := b.Range()
			r.Start = b.TypeRange.End
			out = append(out, r)
		}
	}
	return out
}

// inRanges reports whether byte offset at lies in one of rs.
func inRanges(rs []hcl.Range, at int) bool {
	for _, r := range rs {
		if at >= r.Start.Byte && at < r.End.Byte {
			return true
		}
	}
	return false
}
