package config

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ldapsync/ldapsync/engine"
)

var policySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "on_missing"}, {Name: "on_disabled"}, {Name: "reactivate"},
	{Name: "grace_period"}, {Name: "max_deactivations"}, {Name: "max_creates"},
	{Name: "max_updates"}, {Name: "min_source_users"}, {Name: "protect"},
	{Name: "adopt_existing"}, {Name: "max_errors"}, {Name: "require_signed_plans"},
	{Name: "max_role_changes"}, {Name: "seats"},
}}

var stateSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path"}}}

var groupsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source"}, {Name: "base_dn", Required: true}, {Name: "filter"},
	{Name: "member_attribute"}, {Name: "map"}, {Name: "nested"}, {Name: "create_groups"},
}}

// rolesSchema is a groups block's reading settings, with the role
// settings instead of create_groups; map is required (a role is never
// granted by a group's own name).
var rolesSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source"}, {Name: "base_dn", Required: true}, {Name: "filter"},
	{Name: "member_attribute"}, {Name: "map", Required: true}, {Name: "nested"},
	{Name: "projects"}, {Name: "default_role"}, {Name: "allow_privileged"},
}}

func (l *loader) decodePolicy(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(policySchema)
	p := &l.cfg.Policy
	raw := l.cfg.PolicyRaw
	for _, name := range sortedKeys(content.Attributes) {
		a := content.Attributes[name]
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if v.IsNull() {
			diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf("%s must not be null.", name)))
			continue
		}
		switch name {
		case "on_missing", "on_disabled":
			s, ok := asString(v)
			if !ok || (engine.LifecycleMode(s) != engine.ModeDeactivate && engine.LifecycleMode(s) != engine.ModeIgnore) {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf(`%s must be "deactivate" or "ignore".`, name)))
				continue
			}
			if name == "on_missing" {
				p.OnMissing = engine.LifecycleMode(s)
			} else {
				p.OnDisabled = engine.LifecycleMode(s)
			}
			raw[name] = s
		case "reactivate", "adopt_existing", "require_signed_plans":
			bv, err := convert.Convert(v, cty.Bool)
			if err != nil {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf("%s must be true or false.", name)))
				continue
			}
			switch name {
			case "reactivate":
				p.Reactivate = bv.True()
			case "adopt_existing":
				p.AdoptExisting = bv.True()
			default:
				p.RequireSignedPlans = bv.True()
			}
			raw[name] = fmt.Sprint(bv.True())
		case "grace_period":
			s, ok := asString(v)
			dur, err := time.ParseDuration(strings.TrimSpace(s))
			if !ok || err != nil || dur < 0 {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", `grace_period must be a duration such as "72h" or "30m".`))
				continue
			}
			p.GracePeriod = dur
			raw[name] = s
		case "max_deactivations", "max_creates", "max_updates", "max_role_changes":
			s, ok := asString(v)
			if !ok {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf(`%s must be a count like 10 or a percentage like "5%%".`, name)))
				continue
			}
			lim, err := engine.ParseLimit(s)
			if err != nil {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf("%s: %v.", name, err)))
				continue
			}
			switch name {
			case "max_deactivations":
				p.MaxDeactivations = lim
			case "max_creates":
				p.MaxCreates = lim
			case "max_role_changes":
				p.MaxRoleChanges = lim
			default:
				p.MaxUpdates = lim
			}
			raw[name] = lim.Raw
		case "min_source_users", "max_errors", "seats":
			n, ok := asCount(v)
			if !ok {
				diags = append(diags, attrError(a.Expr, "Invalid policy value", fmt.Sprintf("%s must be a whole number, 0 or more.", name)))
				continue
			}
			switch name {
			case "min_source_users":
				p.MinSourceUsers = n
			case "seats":
				p.Seats = n
			default:
				p.MaxErrors = n
			}
			raw[name] = fmt.Sprint(n)
		case "protect":
			list, d := l.decodeProtect(a.Expr, v)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			p.Protect = list
			sorted := append([]string(nil), list...)
			sort.Strings(sorted)
			raw[name] = strings.Join(sorted, ", ")
		}
	}
	return diags
}

// decodeProtect checks every protect entry; a bad "re:" pattern is
// reported at the element's own range when the list is written literally.
func (l *loader) decodeProtect(expr hcl.Expression, v cty.Value) ([]string, hcl.Diagnostics) {
	ty := v.Type()
	if !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
		return nil, hcl.Diagnostics{attrError(expr, "Invalid policy value", `protect must be a list of usernames and "re:" patterns.`)}
	}
	var elemExprs []hclsyntax.Expression
	if tup, ok := expr.(*hclsyntax.TupleConsExpr); ok && len(tup.Exprs) == v.LengthInt() {
		elemExprs = tup.Exprs
	}
	var diags hcl.Diagnostics
	var out []string
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		at := expr
		if elemExprs != nil {
			at = elemExprs[i]
		}
		s, ok := asString(e)
		if !ok || strings.TrimSpace(s) == "" {
			diags = append(diags, attrError(at, "Invalid protect entry", "Each protect entry must be a non-empty string."))
			continue
		}
		if pat, isRe := strings.CutPrefix(s, "re:"); isRe {
			if _, err := regexp.Compile(pat); err != nil {
				diags = append(diags, attrError(at, "Invalid protect pattern", fmt.Sprintf("%q is not a valid regular expression: %v.", pat, err)))
				continue
			}
		}
		out = append(out, s)
	}
	return out, diags
}

func (l *loader) decodeState(b *hcl.Block) hcl.Diagnostics {
	typ := "local"
	if len(b.Labels) > 0 {
		typ = b.Labels[0]
	}
	switch typ {
	case "local":
	case "http", "ftrack":
		l.cfg.State = StateConfig{Type: typ, Block: &Block{Type: typ, Name: typ, Body: b.Body, DeclRange: b.DefRange}}
		return l.checkBody(fmt.Sprintf("state %q", typ), b.Body)
	default:
		rng := b.LabelRanges[0]
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown state backend",
			Detail:   fmt.Sprintf("There is no state backend %q; use one of %s.", typ, strings.Join(StateTypes, ", ")),
			Subject:  &rng,
		}}
	}
	content, diags := b.Body.Content(stateSchema)
	if a, ok := content.Attributes["path"]; ok {
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		s, ok := asString(v)
		if !ok || strings.TrimSpace(s) == "" {
			return append(diags, attrError(a.Expr, "Invalid state path", "path must be a non-empty string."))
		}
		l.cfg.State.Path = resolvePath(l.cfg.dir, s)
	}
	return diags
}

func (l *loader) decodeGroups(b *hcl.Block) (*GroupsBlock, hcl.Diagnostics) {
	schema := groupsSchema
	if b.Type == "roles" {
		schema = rolesSchema
	}
	content, diags := b.Body.Content(schema)
	g := &GroupsBlock{Name: b.Labels[0], DeclRange: b.DefRange, Map: map[string]string{}}
	if b.Type == "roles" {
		g.Roles = &engine.RoleScope{AllOpen: true}
		diags = append(diags, l.decodeRoleSettings(content, g.Roles)...)
	}
	if a, ok := content.Attributes["source"]; ok {
		names, d := l.sourceRefs(a.Expr)
		diags = append(diags, d...)
		if len(names) > 1 {
			diags = append(diags, attrError(a.Expr, "Invalid source reference", fmt.Sprintf("A %s block reads from a single source.", b.Type)))
		} else if len(names) == 1 {
			g.SourceName = names[0]
		}
	} else if len(l.cfg.Sources) == 1 {
		g.SourceName = l.cfg.Sources[0].Name
	} else if len(l.cfg.Sources) > 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing source",
			Detail:   fmt.Sprintf("With several sources, a %s block must say which one it reads: source = source.TYPE.NAME.", b.Type),
			Subject:  b.DefRange.Ptr(),
		})
	}
	strAttr := func(name string, dst *string) {
		a, ok := content.Attributes[name]
		if !ok {
			return
		}
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		s, ok := asString(v)
		if !ok {
			diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("%s must be a string.", name)))
			return
		}
		*dst = s
	}
	boolAttr := func(name string, dst *bool) {
		a, ok := content.Attributes[name]
		if !ok {
			return
		}
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		bv, err := convert.Convert(v, cty.Bool)
		if err != nil || bv.IsNull() {
			diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("%s must be true or false.", name)))
			return
		}
		*dst = bv.True()
	}
	strAttr("base_dn", &g.BaseDN)
	strAttr("filter", &g.Filter)
	strAttr("member_attribute", &g.MemberAttribute)
	boolAttr("nested", &g.Nested)
	boolAttr("create_groups", &g.CreateGroups)
	_, g.CreateGroupsSet = content.Attributes["create_groups"]
	if a, ok := content.Attributes["map"]; ok {
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			mv, err := convert.Convert(v, cty.Map(cty.String))
			if err != nil || mv.IsNull() {
				diags = append(diags, attrError(a.Expr, "Invalid value", `map must map group DNs (or "re:" patterns) to ftrack group names.`))
			} else {
				entries := mv.AsValueMap()
				for _, k := range sortedKeys(entries) {
					e := entries[k]
					if pat, isRe := strings.CutPrefix(k, "re:"); isRe {
						if _, err := regexp.Compile(pat); err != nil {
							diags = append(diags, attrError(a.Expr, "Invalid group pattern", fmt.Sprintf("%q is not a valid regular expression: %v.", pat, err)))
							continue
						}
					}
					if e.IsNull() || strings.TrimSpace(e.AsString()) == "" {
						diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("map[%q] must be a non-empty group name.", k)))
						continue
					}
					g.Map[k] = strings.TrimSpace(e.AsString())
				}
			}
		}
	}
	return g, diags
}

// decodeRoleSettings reads a roles block's own settings:
//
//	projects         = "all_open"                 # the default
//	projects         = ["Feature A", "Private B"] # one grant each
//	default_role     = "User"
//	allow_privileged = ["Administrator"]
func (l *loader) decodeRoleSettings(content *hcl.BodyContent, rs *engine.RoleScope) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := func(a *hcl.Attribute, what string) ([]string, bool) {
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, false
		}
		lv, err := convert.Convert(v, cty.List(cty.String))
		if err != nil || lv.IsNull() {
			diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("%s must be a list of names.", what)))
			return nil, false
		}
		var out []string
		for _, e := range lv.AsValueSlice() {
			if e.IsNull() || strings.TrimSpace(e.AsString()) == "" {
				diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("%s must not hold an empty name.", what)))
				return nil, false
			}
			out = append(out, strings.TrimSpace(e.AsString()))
		}
		sort.Strings(out)
		return out, true
	}
	if a, ok := content.Attributes["projects"]; ok {
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if s, isStr := asString(v); isStr && v.Type() == cty.String {
				if s != "all_open" {
					diags = append(diags, attrError(a.Expr, "Invalid value", `projects must be "all_open" or a list of project names.`))
				}
			} else if ps, ok := names(a, "projects"); ok {
				rs.AllOpen, rs.Projects = false, ps
			}
		}
	}
	if a, ok := content.Attributes["default_role"]; ok {
		v, d := l.evalSetting(a.Expr)
		diags = append(diags, d...)
		if s, ok := asString(v); !d.HasErrors() && (!ok || strings.TrimSpace(s) == "") {
			diags = append(diags, attrError(a.Expr, "Invalid value", "default_role must be a role name."))
		} else if !d.HasErrors() {
			rs.DefaultRole = strings.TrimSpace(s)
		}
	}
	if a, ok := content.Attributes["allow_privileged"]; ok {
		if ps, ok := names(a, "allow_privileged"); ok {
			for _, p := range ps {
				if p != engine.AdministratorRole {
					diags = append(diags, attrError(a.Expr, "Invalid value", fmt.Sprintf("allow_privileged lists privileged roles; %q is not one (the privileged role is %q).", p, engine.AdministratorRole)))
				}
			}
			rs.AllowPrivileged = ps
		}
	}
	return diags
}

// asString converts a string, number or bool value to its string form.
func asString(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	if v.Type() == cty.Number {
		return v.AsBigFloat().Text('f', -1), true
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() {
		return "", false
	}
	return sv.AsString(), true
}

// asCount converts v to a non-negative int.
func asCount(v cty.Value) (int, bool) {
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() {
		return 0, false
	}
	bf := nv.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(1<<31)) >= 0 {
		return 0, false
	}
	n, _ := bf.Int64()
	return int(n), true
}
