package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/ldapsync/ldapsync/engine"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "target", LabelNames: []string{"type", "name"}},
		{Type: "mapping", LabelNames: []string{"name"}},
		{Type: "groups", LabelNames: []string{"name"}},
		{Type: "roles", LabelNames: []string{"name"}},
		{Type: "policy"},
		{Type: "state"},
	},
}

// rootSchemaFor is rootSchema with the state block's label made to fit
// the file: "state {…}" (a local file, as before backends) and
// "state "http" {…}" are both valid, and a schema's blocks have a fixed
// number of labels. The first state block decides; a second is a
// duplicate anyway.
func rootSchemaFor(body hcl.Body) *hcl.BodySchema {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return rootSchema
	}
	for _, b := range sb.Blocks {
		if b.Type != "state" || len(b.Labels) == 0 {
			continue
		}
		out := &hcl.BodySchema{Blocks: slices.Clone(rootSchema.Blocks)}
		for i := range out.Blocks {
			if out.Blocks[i].Type == "state" {
				out.Blocks[i].LabelNames = []string{"type"}
			}
		}
		return out
	}
	return rootSchema
}

// loader carries the state of one Load.
type loader struct {
	cfg     *Config
	opts    *loadOptions
	vars    map[string]*variable
	varVals map[string]cty.Value
	// exprCtx evaluates policy, state and groups values: var.* and the
	// pure functions, no env() or file().
	exprCtx *hcl.EvalContext
	sources map[string]*Block // by "type.name"
}

// loadHCL parses and decodes src. name is the file name used in
// diagnostics, cfgPath the configuration path (its directory anchors
// relative paths), digest the configuration's digest: "" for src's own
// (hclDigest), computed here from the one parse.
func loadHCL(name, cfgPath string, src []byte, digest string, extra map[string]*hcl.File, o *loadOptions) (*Config, hcl.Diagnostics) {
	own := digest == ""
	if own {
		digest = Digest(src) // what a file that does not parse gets
	}
	cfg := &Config{
		Path:      cfgPath,
		Digest:    digest,
		Files:     map[string]*hcl.File{},
		Policy:    engine.DefaultPolicy(),
		PolicyRaw: map[string]string{},
		dir:       filepath.Dir(cfgPath),
	}
	for k, f := range extra {
		cfg.Files[k] = f
	}
	cfg.State = StateConfig{Type: "local", Path: resolvePath(cfg.dir, DefaultStatePath)}

	if d := checkSource(name, src); d != nil {
		if f := quotable(src, d); f != nil {
			cfg.Files[name] = f
		}
		return cfg, hcl.Diagnostics{d}
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if file != nil {
		cfg.Files[name] = file
	}
	if diags.HasErrors() {
		return cfg, diags
	}
	if own {
		cfg.Digest = hclBodyDigest(file.Body, src)
	}
	content, d := file.Body.Content(rootSchemaFor(file.Body))
	diags = append(diags, d...)

	l := &loader{cfg: cfg, opts: o, vars: map[string]*variable{}, sources: map[string]*Block{}}

	var varBlocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "variable" {
			varBlocks = append(varBlocks, b)
		}
	}
	diags = append(diags, l.decodeVariables(varBlocks)...)

	connEnv := o.env
	if o.noSecrets {
		connEnv = lookupOrPlaceholder(o.env)
	}
	cfg.connCtx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(l.varVals)},
		Functions: connectionFunctions(cfg.dir, connEnv, o.noSecrets),
	}
	l.exprCtx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(l.varVals)},
		Functions: stdFunctions(),
	}

	var policySeen, stateSeen *hcl.Block
	sourceNames := map[string]*Block{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "source", "target":
			blk := &Block{Type: b.Labels[0], Name: b.Labels[1], Body: b.Body, DeclRange: b.DefRange}
			diags = append(diags, l.checkBody(fmt.Sprintf("%s %q %q", b.Type, b.Labels[0], b.Labels[1]), b.Body)...)
			if b.Type == "target" {
				if cfg.Target != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate target block",
						Detail:   fmt.Sprintf("Only one target block is allowed; target %q %q was already declared at %s.", cfg.Target.Type, cfg.Target.Name, cfg.Target.DeclRange),
						Subject:  b.DefRange.Ptr(),
					})
					continue
				}
				cfg.Target = blk
				continue
			}
			if prev, ok := sourceNames[blk.Name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate source name",
					Detail:   fmt.Sprintf("A source named %q was already declared at %s; source names must be unique.", blk.Name, prev.DeclRange),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			sourceNames[blk.Name] = blk
			l.sources[blk.Type+"."+blk.Name] = blk
			cfg.Sources = append(cfg.Sources, blk)
		case "policy":
			if policySeen != nil {
				diags = append(diags, duplicateBlock("policy", policySeen, b))
				continue
			}
			policySeen = b
			diags = append(diags, l.decodePolicy(b)...)
		case "state":
			if stateSeen != nil {
				diags = append(diags, duplicateBlock("state", stateSeen, b))
				continue
			}
			stateSeen = b
			diags = append(diags, l.decodeState(b)...)
		}
	}
	// Mappings and groups refer to sources and targets, so they come
	// after every source and target is known.
	mappingNames := map[string]hcl.Range{}
	groupNames := map[string]map[string]hcl.Range{"groups": {}, "roles": {}}
	for _, b := range content.Blocks {
		switch b.Type {
		case "mapping":
			if prev, ok := mappingNames[b.Labels[0]]; ok {
				diags = append(diags, duplicateNamedBlock("A mapping", b, prev))
				continue
			}
			mappingNames[b.Labels[0]] = b.DefRange
			m, d := l.decodeMapping(b)
			diags = append(diags, d...)
			if m != nil {
				cfg.Mappings = append(cfg.Mappings, m)
			}
		case "groups", "roles":
			if prev, ok := groupNames[b.Type][b.Labels[0]]; ok {
				diags = append(diags, duplicateNamedBlock("A "+b.Type+" block", b, prev))
				continue
			}
			groupNames[b.Type][b.Labels[0]] = b.DefRange
			g, d := l.decodeGroups(b)
			diags = append(diags, d...)
			if g != nil {
				cfg.Groups = append(cfg.Groups, g)
			}
		}
	}

	top := hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
	if len(cfg.Sources) == 0 && !hasBlock(content, "source") {
		diags = append(diags, missingBlock("source", `source "ldap" "corp" { ... }`, top))
	}
	if cfg.Target == nil {
		diags = append(diags, missingBlock("target", `target "ftrack" "studio" { ... }`, top))
	}
	if len(cfg.Mappings) == 0 && !hasBlock(content, "mapping") {
		diags = append(diags, missingBlock("mapping", `mapping "users" { ... }`, top))
	}
	if o.noSecrets {
		l.noteUnusedUnset()
	}
	return cfg, diags
}

func hasBlock(content *hcl.BodyContent, typ string) bool {
	for _, b := range content.Blocks {
		if b.Type == typ {
			return true
		}
	}
	return false
}

func missingBlock(typ, example string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Missing %s block", typ),
		Detail:   fmt.Sprintf("The configuration needs at least one %s block, such as %s.", typ, example),
		Subject:  rng.Ptr(),
	}
}

func duplicateBlock(typ string, prev, b *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", typ),
		Detail:   fmt.Sprintf("Only one %s block is allowed; the first is at %s.", typ, prev.DefRange),
		Subject:  b.DefRange.Ptr(),
	}
}

// duplicateNamedBlock reports a second block with the same name as an
// earlier one, declared at prev; what names the kind ("A mapping").
func duplicateNamedBlock(what string, b *hcl.Block, prev hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
		Detail:   fmt.Sprintf("%s named %q was already declared at %s.", what, b.Labels[0], prev),
		Subject:  b.DefRange.Ptr(),
	}
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// exprPlace says where an expression appears, which decides the
// references and functions it may use.
type exprPlace int

const (
	placeConnection exprPlace = iota // source/target bodies: var, env(), file()
	placeDefault                     // variable defaults: no var, env(), file()
	placeSettings                    // policy, state, groups: var only
	placeMapping                     // mapping: entry, entry_values, var
)

// checkExpr reports references and function calls that are not allowed
// where expr appears, without evaluating anything.
func (l *loader) checkExpr(expr hcl.Expression, place exprPlace) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		diags = append(diags, l.checkTraversal(t, place)...)
	}
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return diags
	}
	std := stdFunctions()
	diags = append(diags, hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		rng := call.Range()
		if connectionOnly[call.Name] {
			if place == placeConnection || place == placeDefault {
				return nil
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Function %s() not allowed here", call.Name),
				Detail:   fmt.Sprintf("%s() is allowed only in variable defaults and in source and target connection settings; pass the value through a variable instead.", call.Name),
				Subject:  &rng,
			}}
		}
		if _, ok := std[call.Name]; !ok {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Call to unknown function",
				Detail:   fmt.Sprintf("There is no function named %q. Available functions: %s, env, file.", call.Name, strings.Join(functionNames(std), ", ")),
				Subject:  &rng,
			}}
		}
		return nil
	})...)
	return diags
}

func (l *loader) checkTraversal(t hcl.Traversal, place exprPlace) hcl.Diagnostics {
	root := t.RootName()
	rng := t.SourceRange()
	switch {
	case root == "var" && place != placeDefault:
		name, ok := stepName(t, 1)
		if !ok {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable reference",
				Detail:   "A variable is referenced as var.NAME.",
				Subject:  &rng,
			}}
		}
		v, ok := l.vars[name]
		if !ok {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Reference to undeclared input variable",
				Detail:   fmt.Sprintf("An input variable named %q has not been declared; add a variable %q block.", name, name),
				Subject:  &rng,
			}}
		}
		if v.sensitive && place != placeConnection {
			// Mapped values, policy and state settings are written into plans,
			// state files and logs; a secret must never get there.
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Sensitive variable not allowed here",
				Detail:   fmt.Sprintf("var.%s is sensitive; it may be used only in source and target connection settings, because values here end up in plans, state files and logs.", name),
				Subject:  &rng,
			}}
		}
		return nil
	case (root == "entry" || root == "entry_values") && place == placeMapping:
		if _, ok := stepName(t, 1); !ok {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid entry reference",
				Detail:   fmt.Sprintf("Directory attributes are read as %s.ATTRIBUTE, e.g. %s.mail.", root, root),
				Subject:  &rng,
			}}
		}
		return nil
	}
	var allowed string
	switch place {
	case placeMapping:
		allowed = "entry.ATTRIBUTE, entry_values.ATTRIBUTE and var.NAME"
	case placeDefault:
		allowed = "no references (a default must be a constant, env() or file())"
	default:
		allowed = "var.NAME"
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid reference",
		Detail:   fmt.Sprintf("A reference to %q is not valid here; allowed: %s.", root, allowed),
		Subject:  &rng,
	}}
}

// stepName returns the attribute name at step i of t: .name or ["name"].
func stepName(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	switch s := t[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// checkBody checks every expression of a source, target or state body;
// what names the block in messages.
func (l *loader) checkBody(what string, body hcl.Body) hcl.Diagnostics {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	walkBodyAttrs(sb, func(a *hclsyntax.Attribute) {
		d := l.checkExpr(a.Expr, placeConnection)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		// Evaluate now so that `validate` reports a missing environment
		// variable or file; the provider decodes the body again later.
		// These settings hold passwords and keys: the diagnostics go
		// without the values their expressions refer to.
		v, d := a.Expr.Value(l.cfg.connCtx)
		diags = append(diags, WithoutValues(d)...)
		if l.opts.noSecrets && !d.HasErrors() {
			diags = append(diags, l.checkUnset(what, a, v)...)
		}
	})
	return diags
}

// evalSetting checks and evaluates a settings expression (policy, state, groups).
func (l *loader) evalSetting(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	if diags := l.checkExpr(expr, placeSettings); diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := expr.Value(l.exprCtx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, diags
}

func attrError(expr hcl.Expression, summary, detail string) *hcl.Diagnostic {
	rng := expr.Range()
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
