package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix prefixes environment variables that set input variables:
// LDAPSYNC_VAR_<name>.
const EnvVarPrefix = "LDAPSYNC_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default"},
		{Name: "sensitive"},
		{Name: "type"},
		{Name: "description"},
	},
}

type variable struct {
	name      string
	typ       cty.Type // cty.DynamicPseudoType when not declared
	def       hcl.Expression
	sensitive bool
	declRange hcl.Range
}

// decodeVariables decodes the variable blocks and resolves every value:
// -var, then -var-file, then LDAPSYNC_VAR_<name>, then the default.
func (l *loader) decodeVariables(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var order []*variable
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable name",
				Detail:   "A variable name must start with a letter or underscore and contain only letters, digits, underscores and dashes.",
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if prev, ok := l.vars[name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable declaration",
				Detail:   fmt.Sprintf("A variable named %q was already declared at %s.", name, prev.declRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		v := &variable{name: name, typ: cty.DynamicPseudoType, declRange: b.DefRange}
		content, d := b.Body.Content(variableSchema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["type"]; ok {
			ty, d := typeexpr.TypeConstraint(a.Expr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.typ = ty
			}
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if val.Type() != cty.Bool || val.IsNull() {
					diags = append(diags, attrError(a.Expr, "Invalid sensitive value", "sensitive must be true or false."))
				} else {
					v.sensitive = val.True()
				}
			}
		}
		if a, ok := content.Attributes["description"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() && (val.Type() != cty.String || val.IsNull()) {
				diags = append(diags, attrError(a.Expr, "Invalid description", "description must be a string."))
			}
		}
		if a, ok := content.Attributes["default"]; ok {
			d := l.checkExpr(a.Expr, placeDefault)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.def = a.Expr
			}
		}
		l.vars[name] = v
		order = append(order, v)
	}

	fileVals, d := l.readVarFiles()
	diags = append(diags, d...)
	for _, name := range sortedKeys(l.opts.vars) {
		if _, ok := l.vars[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("-var %s=...: no variable %q is declared in the configuration.", name, name),
			})
		}
	}

	l.varVals = map[string]cty.Value{}
	for _, v := range order {
		val, d := l.resolveVariable(v, fileVals)
		diags = append(diags, d...)
		if d.HasErrors() {
			val = cty.DynamicVal
		}
		l.varVals[v.name] = val
		if v.sensitive && !d.HasErrors() {
			l.cfg.varSecret = append(l.cfg.varSecret, stringsIn(val)...)
		}
	}
	return diags
}

type fileValue struct {
	val  cty.Value
	expr hcl.Expression
}

// readVarFiles parses the -var-file files; later files win.
func (l *loader) readVarFiles() (map[string]fileValue, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]fileValue{}
	for _, p := range l.opts.varFiles {
		src, err := readLimited(p)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variables file",
				Detail:   err.Error(),
			})
			continue
		}
		if d := checkSource(p, src); d != nil {
			if f := quotable(src, d); f != nil {
				l.cfg.Files[p] = f
			}
			diags = append(diags, d)
			continue
		}
		f, d := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		if f != nil {
			l.cfg.Files[p] = f
		}
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		for _, name := range sortedKeys(attrs) {
			a := attrs[name]
			if _, ok := l.vars[name]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("The variables file sets %q, which the configuration does not declare; it is ignored.", name),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			v, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				vals[name] = fileValue{val: v, expr: a.Expr}
			}
		}
	}
	return vals, diags
}

func (l *loader) resolveVariable(v *variable, fileVals map[string]fileValue) (cty.Value, hcl.Diagnostics) {
	if s, ok := l.opts.vars[v.name]; ok {
		return convertString(v, s, fmt.Sprintf("-var %s", v.name))
	}
	if fv, ok := fileVals[v.name]; ok {
		return convertValue(v, fv.val, fv.expr.Range().Ptr())
	}
	if s, ok := l.opts.env(EnvVarPrefix + v.name); ok {
		return convertString(v, s, "environment variable "+EnvVarPrefix+v.name)
	}
	if v.def != nil {
		lookup := l.opts.env
		placeholders := l.opts.noSecrets && v.sensitive
		if placeholders {
			lookup = lookupOrPlaceholder(lookup)
		}
		ctx := &hcl.EvalContext{Functions: connectionFunctions(l.cfg.dir, lookup, placeholders)}
		val, diags := v.def.Value(ctx)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		return convertValue(v, val, v.def.Range().Ptr())
	}
	if l.opts.noSecrets && v.sensitive && (v.typ == cty.DynamicPseudoType || v.typ == cty.String) {
		return cty.StringVal(unsetVarPrefix + v.name + unsetSuffix), nil
	}
	return cty.NilVal, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "No value for required variable",
		Detail:   fmt.Sprintf("Variable %q has no default; set it with -var %s=VALUE, a -var-file, or the environment variable %s%s.", v.name, v.name, EnvVarPrefix, v.name),
		Subject:  v.declRange.Ptr(),
	}}
}

// convertString turns a command-line or environment string into the
// variable's type: primitives by conversion, other types by parsing the
// string as an HCL expression (as Terraform does).
func convertString(v *variable, s, origin string) (cty.Value, hcl.Diagnostics) {
	if v.typ == cty.DynamicPseudoType || v.typ.IsPrimitiveType() {
		val, err := convert.Convert(cty.StringVal(s), typeOrString(v.typ))
		if err != nil {
			return cty.NilVal, invalidVarValue(v, origin, err, nil)
		}
		return val, nil
	}
	if checkSource(origin, []byte(s)) != nil {
		// The value may be a secret: say what is wrong, never where in it.
		return cty.NilVal, invalidVarValue(v, origin, fmt.Errorf("the value is too large or nests too deeply to parse (limits: %d bytes, %d levels)", MaxConfigBytes, MaxNestingDepth), nil)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(s), origin, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, invalidVarValue(v, origin, fmt.Errorf("not a valid %s", v.typ.FriendlyName()), nil)
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, invalidVarValue(v, origin, fmt.Errorf("not a constant %s", v.typ.FriendlyName()), nil)
	}
	return convertValue(v, val, nil)
}

func typeOrString(t cty.Type) cty.Type {
	if t == cty.DynamicPseudoType {
		return cty.String
	}
	return t
}

func convertValue(v *variable, val cty.Value, rng *hcl.Range) (cty.Value, hcl.Diagnostics) {
	if v.typ == cty.DynamicPseudoType {
		return val, nil
	}
	out, err := convert.Convert(val, v.typ)
	if err != nil {
		return cty.NilVal, invalidVarValue(v, "", err, rng)
	}
	return out, nil
}

func invalidVarValue(v *variable, origin string, err error, rng *hcl.Range) hcl.Diagnostics {
	// The value itself is never quoted: it may be a secret.
	detail := fmt.Sprintf("Variable %q wants %s: %s.", v.name, v.typ.FriendlyName(), strings.TrimSuffix(err.Error(), "."))
	if origin != "" {
		detail = fmt.Sprintf("%s: %s", origin, detail)
	}
	if rng == nil {
		rng = v.declRange.Ptr()
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail:   detail,
		Subject:  rng,
	}}
}
