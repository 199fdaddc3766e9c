package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ldapsync/ldapsync/engine"
)

// Option adjusts how Load and LoadBytes resolve variables and the environment.
type Option func(*loadOptions)

type loadOptions struct {
	vars     map[string]string
	varFiles []string
	env      func(string) (string, bool)
	// noSecrets: see WithoutSecrets.
	noSecrets bool
}

// WithVariables sets variable values as given with -var NAME=VALUE. Values
// are strings, converted to the variable's declared type (number, bool, or
// an HCL expression for collection types).
func WithVariables(vars map[string]string) Option {
	return func(o *loadOptions) {
		if o.vars == nil {
			o.vars = map[string]string{}
		}
		for k, v := range vars {
			o.vars[k] = v
		}
	}
}

// WithVarFiles reads variable values from HCL files of `name = value`
// lines, as given with -var-file; later files override earlier ones.
func WithVarFiles(paths []string) Option {
	return func(o *loadOptions) { o.varFiles = append(o.varFiles, paths...) }
}

// WithEnv replaces os.LookupEnv as the source of env() and of
// LDAPSYNC_VAR_<name> values.
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *loadOptions) { o.env = lookup }
}

// Block is a source or target block; its body stays undecoded for the
// provider, which decodes it with Config.EvalContext.
type Block struct {
	// Type is the first label, e.g. "ldap" or "ftrack".
	Type string
	// Name is the second label.
	Name string
	// Body is the block's whole body.
	Body hcl.Body
	// DeclRange is the range of the block header.
	DeclRange hcl.Range
}

// GroupsBlock is a groups block: LDAP group to ftrack group settings.
type GroupsBlock struct {
	Name string
	// SourceName is the name of the source the groups are read from.
	SourceName string
	BaseDN     string
	Filter     string
	// MemberAttribute is the group attribute listing members (e.g. member).
	MemberAttribute string
	// Map maps a group DN (compared parsed and case-folded), or
	// "re:pattern" matched against the group's name (cn), to an ftrack
	// group name; "$1" in the name expands a pattern's capture. An empty
	// map maps every group to its own name.
	Map map[string]string
	// Nested follows nested group membership.
	Nested bool
	// CreateGroups creates missing ftrack groups.
	CreateGroups bool
	// CreateGroupsSet is true when the block sets create_groups.
	CreateGroupsSet bool
	// Roles is set for a roles block: the map's names are security
	// roles, granted with this scope.
	Roles     *engine.RoleScope
	DeclRange hcl.Range
}

// StateConfig is the state block: which backend keeps the last-applied
// state, and its settings.
//
//	state { path = "ldapsync.state.json" }          # a local file (the default)
//	state "local" { path = "ldapsync.state.json" }  # the same
//	state "http" { address = "https://…" }          # Terraform's http backend protocol
//	state "ftrack" {}                               # in the ftrack site itself
type StateConfig struct {
	// Type is the backend: "local" (also for an unlabelled block and
	// when there is no block), "http" or "ftrack".
	Type string
	// Path is the local state file path, resolved against the
	// configuration file's directory when relative. Default
	// "ldapsync.state.json".
	Path string
	// Block is the block of an http or ftrack backend, its body left for
	// the backend to decode with EvalContext (connection settings: var,
	// env() and file(), sensitive variables allowed); nil for local.
	Block *Block
}

// StateTypes are the state backends a state block may name.
var StateTypes = []string{"local", "http", "ftrack"}

// DefaultStatePath is the state file name used when there is no state block.
const DefaultStatePath = "ldapsync.state.json"

// Config is a loaded configuration.
type Config struct {
	// Path is the configuration file path as given.
	Path string
	// Digest is "sha256:<hex>" over the configuration file's meaning:
	// comments, formatting and the order of attributes and blocks do not
	// change it, any value does; -var values are not part of it (see
	// digest.go).
	Digest string
	// Files holds the parsed files by name, for printing diagnostics.
	Files map[string]*hcl.File
	// Sources are the source blocks in file order.
	Sources []*Block
	// Target is the single target block.
	Target *Block
	// Mappings are the mapping blocks in file order.
	Mappings []*Mapping
	// Groups are the groups and roles blocks in file order (a roles
	// block has Roles set).
	Groups []*GroupsBlock
	// Policy is the policy block over engine.DefaultPolicy.
	Policy engine.Policy
	// PolicyRaw is the policy as written (attribute name -> value text).
	PolicyRaw map[string]string
	// State is the state block.
	State StateConfig
	// Unchecked lists the secret settings that could not be checked
	// because their value is not set, each with what is missing
	// (`target "ftrack" "studio" api_key: environment variable
	// "FTRACK_API_KEY" is not set`). Only Load with WithoutSecrets fills
	// it; without that option a missing secret is an error.
	Unchecked []string

	dir       string
	connCtx   *hcl.EvalContext
	varSecret []string
	// redactor is Redactor's, made on first use (after Load).
	redactor atomic.Pointer[Redactor]
}

// Load reads and decodes a configuration file. A path ending in .yaml or
// .yml is read as the original script's YAML format. The returned Config
// is non-nil whenever the file could be read, so that Files can be used to
// print the diagnostics.
func Load(path string, opts ...Option) (*Config, hcl.Diagnostics) {
	src, err := readLimited(path) // bounds.go: a size cap before anything is held
	if err != nil {
		return &Config{Path: path, Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   err.Error(),
		}}
	}
	return LoadBytes(path, src, opts...)
}

// LoadBytes decodes configuration source; filename names it in diagnostics
// and its directory anchors relative paths.
func LoadBytes(filename string, src []byte, opts ...Option) (*Config, hcl.Diagnostics) {
	o := &loadOptions{env: os.LookupEnv}
	for _, opt := range opts {
		opt(o)
	}
	if o.env == nil {
		o.env = os.LookupEnv
	}
	if isYAML(filename) {
		return loadYAML(filename, src, o)
	}
	return loadHCL(filename, filename, src, "", nil, o)
}

func isYAML(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// Digest returns "sha256:<hex>" of b, the form of Config.Digest.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// EvalContext returns the context for source and target bodies: var.*,
// the function allow-list, env() and file().
func (c *Config) EvalContext() *hcl.EvalContext {
	return c.connCtx
}

// BlockContext is what a provider needs to decode a source or target
// body: the evaluation context and the directory that relative file
// settings (ca_cert_file) are resolved against, as file() and state.path
// are, so that no caller fixes paths up after decoding.
type BlockContext struct {
	// Eval is the evaluation context: var.*, the function allow-list,
	// env() and file().
	Eval *hcl.EvalContext
	// Dir is the configuration file's directory; empty leaves relative
	// paths as they are.
	Dir string
}

// Path resolves a file setting: empty and absolute paths are returned
// as they are, a relative one is joined to Dir.
func (b BlockContext) Path(p string) string {
	if p == "" {
		return p
	}
	return resolvePath(b.Dir, p)
}

// BlockContext returns the context providers decode source and target
// bodies with.
func (c *Config) BlockContext() BlockContext {
	return BlockContext{Eval: c.connCtx, Dir: c.dir}
}

func walkBodyAttrs(body *hclsyntax.Body, fn func(*hclsyntax.Attribute)) {
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fn(body.Attributes[n])
	}
	for _, b := range body.Blocks {
		walkBodyAttrs(b.Body, fn)
	}
}

// stringsIn returns the known, non-null string leaves of v.
func stringsIn(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return []string{v.AsString()}
	case ty.IsPrimitiveType():
		return nil
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}
