// Package registry wires configuration blocks to providers. Every source
// and target type is registered here once, with its constructor and its
// capabilities as data, and Build turns a loaded configuration into the
// providers a run uses. The CLI and the integration tests both call Build,
// so a configuration is wired one way only.
//
// The path from HCL to a provider: engine/config parses a `source "ldap"
// "corp"` block into a config.Block and leaves its body undecoded; Build
// looks the type up here; the constructor decodes the body with
// Config.BlockContext (evaluation context plus the configuration's
// directory, so relative paths are resolved while decoding) and builds the
// provider.
package registry

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/state"
)

// SourceCapabilities is what every source of a type can do, as data.
type SourceCapabilities struct {
	// ReadsGroups is true when the type's sources read directory groups
	// (they implement engine.GroupReader), so a groups block may name them.
	ReadsGroups bool
	// ReadsSchema is true when the type's sources report the attribute
	// names their directory's schema defines (they implement
	// SchemaReader), so the attributes a mapping reads can be checked
	// before a plan (CheckAttributes).
	ReadsSchema bool
}

// SourceType is a registered source type.
type SourceType struct {
	// Capabilities are what every source of the type can do.
	Capabilities SourceCapabilities
	// New decodes a source block and builds the source. warnings are the
	// settings' security warnings, for the CLI to print. When diags has
	// errors, src is nil.
	New func(b *config.Block, env Env) (src engine.Source, warnings []string, diags hcl.Diagnostics)
}

// TargetType is a registered target type. A target's capabilities are its
// own Capabilities method (engine.TargetCapabilities), because they depend
// on its settings (batch size, parallelism).
type TargetType struct {
	// New decodes a target block and builds the target. user is the
	// account the target signs in as, which plan, apply and drift never
	// change. When diags has errors, t is nil.
	New func(b *config.Block, env Env) (t engine.Target, user string, diags hcl.Diagnostics)
}

// Env is what a constructor gets besides its block.
type Env struct {
	// Block is the context the block's body is decoded with.
	Block config.BlockContext
	// CreateGroups is the groups blocks' create_groups, when
	// CreateGroupsSet: it overrides the target's own (Config.CreateGroups).
	CreateGroups, CreateGroupsSet bool

	adjust func(settings any)
	// onStateRetry hears the state backend's retried requests.
	onStateRetry func(attempt, max int, wait time.Duration, cause error)
	// onStateWarning hears what the state backend leaves out as it reads.
	onStateWarning func(string)
}

// Adjust passes a pointer to a block's decoded settings to the WithSettings
// hook, if any; constructors call it just before building the provider.
func (e Env) Adjust(settings any) {
	if e.adjust != nil {
		e.adjust(settings)
	}
}

// sourceTypes and targetTypes are the registry: type label to type.
var (
	sourceTypes = map[string]SourceType{"ldap": ldapSource}
	targetTypes = map[string]TargetType{"ftrack": ftrackTarget}
)

// LookupSource returns the registered source type called name.
func LookupSource(name string) (SourceType, bool) {
	t, ok := sourceTypes[name]
	return t, ok
}

// LookupTarget returns the registered target type called name.
func LookupTarget(name string) (TargetType, bool) {
	t, ok := targetTypes[name]
	return t, ok
}

// Option adjusts Build.
type Option func(*Env)

// WithSettings calls fn with a pointer to each block's decoded settings
// (*ldap.Settings, *ftrack.Settings), after relative paths are resolved and
// before the provider is built. It exists for tests, to set what HCL
// cannot (the ftrack client's retry timing); the CLI does not use it.
func WithSettings(fn func(settings any)) Option {
	return func(e *Env) { e.adjust = fn }
}

// WithStateRetry has the state backend report each request it retries
// (the http backend's, as the ftrack client's OnRetry does), so that
// retries are said, not silent.
func WithStateRetry(fn func(attempt, max int, wait time.Duration, cause error)) Option {
	return func(e *Env) { e.onStateRetry = fn }
}

// WithStateWarning has the state backend report what it leaves out as
// it reads (a record of the ftrack state that is not ldapsync's, or does
// not decode), so that nothing is dropped without a word.
func WithStateWarning(fn func(string)) Option {
	return func(e *Env) { e.onStateWarning = fn }
}

// Providers are the providers a configuration names, built.
type Providers struct {
	// Sources are the sources of the configuration's one mapping, in the
	// mapping's order (its precedence).
	Sources []engine.Source
	// Mapping is the configuration's one mapping.
	Mapping *config.Mapping
	// Target is the target.
	Target engine.Target
	// TargetUser is the account the target signs in as.
	TargetUser string
	// State is the state backend the state block names.
	State state.Backend
	// Warnings are the sources' security warnings, in file order.
	Warnings []string
}

// Build constructs every source and the target of cfg and picks the
// mapping's sources. The diagnostics come in this order: each source in
// file order (unsupported type, settings, construction), the target, the
// mapping count, then groups blocks that name a source whose type cannot
// read groups. The Providers are complete only when diags has no errors.
func Build(cfg *config.Config, opts ...Option) (*Providers, hcl.Diagnostics) {
	env := Env{Block: cfg.BlockContext()}
	env.CreateGroups, env.CreateGroupsSet = cfg.CreateGroups()
	for _, o := range opts {
		o(&env)
	}
	p := &Providers{}
	byName, diags := p.buildSources(cfg, env)
	diags = append(diags, p.buildTarget(cfg, env)...)
	diags = append(diags, p.buildState(cfg, env)...)
	diags = append(diags, p.pickMapping(cfg, byName)...)
	diags = append(diags, checkGroupSources(cfg)...)
	return p, diags
}

// buildSources builds every source block and returns the sources by name.
func (p *Providers) buildSources(cfg *config.Config, env Env) (map[string]engine.Source, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]engine.Source{}
	for _, b := range cfg.Sources {
		st, ok := sourceTypes[b.Type]
		if !ok {
			diags = append(diags, unsupported("source", b, sourceTypes))
			continue
		}
		src, warnings, d := st.New(b, env)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		p.Warnings = append(p.Warnings, warnings...)
		byName[b.Name] = src
	}
	return byName, diags
}

// buildTarget builds the target block, when there is one (the loader
// reports a missing one).
func (p *Providers) buildTarget(cfg *config.Config, env Env) hcl.Diagnostics {
	b := cfg.Target
	if b == nil {
		return nil
	}
	tt, ok := targetTypes[b.Type]
	if !ok {
		return hcl.Diagnostics{unsupported("target", b, targetTypes)}
	}
	t, user, diags := tt.New(b, env)
	if !diags.HasErrors() {
		p.Target, p.TargetUser = t, user
	}
	return diags
}

// pickMapping takes the one mapping and its sources in its order. A
// source the mapping names but that failed to build is left out; its
// block was reported.
func (p *Providers) pickMapping(cfg *config.Config, byName map[string]engine.Source) hcl.Diagnostics {
	if len(cfg.Mappings) != 1 {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Exactly one mapping block is supported", Detail: fmt.Sprintf("found %d mapping blocks", len(cfg.Mappings))}}
	}
	p.Mapping = cfg.Mappings[0]
	for _, name := range p.Mapping.SourceNames {
		if src, ok := byName[name]; ok {
			p.Sources = append(p.Sources, src)
		}
	}
	return nil
}

// checkGroupSources refuses a groups block whose source's type does not
// read groups, at validate time rather than in the middle of a plan. With
// ldap the only source type this never fires; it is the capability table
// at work for the next type.
func checkGroupSources(cfg *config.Config) hcl.Diagnostics {
	typeOf := map[string]string{}
	for _, b := range cfg.Sources {
		typeOf[b.Name] = b.Type
	}
	var diags hcl.Diagnostics
	for _, g := range cfg.Groups {
		st, ok := sourceTypes[typeOf[g.SourceName]]
		if !ok || st.Capabilities.ReadsGroups {
			continue // an unknown source or type is reported elsewhere
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Source cannot read groups",
			Detail:   fmt.Sprintf("groups %q reads source %q, whose type %q does not read directory groups.", g.Name, g.SourceName, typeOf[g.SourceName]),
			Subject:  g.DeclRange.Ptr(),
		})
	}
	return diags
}

// unsupported reports a block of an unregistered type; kind is "source"
// or "target".
func unsupported[T any](kind string, b *config.Block, registered map[string]T) *hcl.Diagnostic {
	names := make([]string, 0, len(registered))
	for n := range registered {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Unsupported %s type", kind),
		Detail:   fmt.Sprintf("%s type %q is not supported; use %s.", kind, b.Type, strings.Join(names, " or ")),
		Subject:  b.DeclRange.Ptr(),
	}
}
