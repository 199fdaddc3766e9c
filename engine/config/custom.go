package config

// Custom attributes and fields ftrack owns after creation.
//
//	mapping "users" {
//	  custom_attributes = {
//	    department = entry.departmentNumber
//	    site       = "London"
//	  }
//	  on_create_only = ["first_name", "custom_attributes.site"]
//	}
//
// custom_attributes is evaluated with cty for every entry (after the
// compiled fields): an object whose values are strings, numbers or bools,
// written as text; a null value leaves that attribute alone for the user.
// The keys are checked against the site's user custom attributes at plan
// time (the engine asks the target), and values are converted to each
// attribute's type there.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ldapsync/ldapsync/engine"
)

// createOnlyFields are the fields on_create_only may name, besides
// custom_attributes.KEY.
var createOnlyFields = []string{"email", "first_name", "last_name"}

// decodeCustomAttributes reads custom_attributes, roles and user_type (expressions
// evaluated with cty after the compiled fields, their attributes read
// like the other fields') and on_create_only.
func (l *loader) decodeCustomAttributes(content *hcl.BodyContent, m *Mapping, seen *seenAttrs, maxDepth *int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a, ok := content.Attributes["custom_attributes"]; ok {
		depth, d := l.addFieldExpr(m, "custom_attributes", a, seen)
		*maxDepth = max(*maxDepth, depth)
		diags = append(diags, d...)
		if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok && !d.HasErrors() {
			m.customKeys = []string{}
			for _, item := range obj.Items {
				k, kd := item.KeyExpr.Value(nil)
				if kd.HasErrors() || k.Type() != cty.String || k.IsNull() {
					diags = append(diags, attrError(item.KeyExpr, "Invalid custom attribute key", "custom_attributes keys are the keys of ftrack user custom attributes, written literally."))
					continue
				}
				m.customKeys = append(m.customKeys, k.AsString())
			}
			sort.Strings(m.customKeys)
		}
	}
	for _, field := range []string{"roles", "user_type"} {
		if a, ok := content.Attributes[field]; ok {
			depth, d := l.addFieldExpr(m, field, a, seen)
			*maxDepth = max(*maxDepth, depth)
			diags = append(diags, d...)
		}
	}
	if a, ok := content.Attributes["on_create_only"]; ok {
		names, d := l.decodeNameList(a.Expr, "on_create_only", "field names")
		diags = append(diags, d...)
		for _, n := range names {
			key, custom := strings.CutPrefix(n, "custom_attributes.")
			switch {
			case custom && m.customKeys != nil && !slices.Contains(m.customKeys, key):
				diags = append(diags, attrError(a.Expr, "Invalid on_create_only field", fmt.Sprintf("%q names no key of custom_attributes (its keys: %s).", n, strings.Join(m.customKeys, ", "))))
			case custom && m.exprs["custom_attributes"] == nil:
				diags = append(diags, attrError(a.Expr, "Invalid on_create_only field", fmt.Sprintf("%q: the mapping has no custom_attributes.", n)))
			case !custom && !slices.Contains(createOnlyFields, n):
				diags = append(diags, attrError(a.Expr, "Invalid on_create_only field", fmt.Sprintf("%q cannot be set at create only; use one of %s or custom_attributes.KEY.", n, strings.Join(createOnlyFields, ", "))))
			default:
				m.createOnly = append(m.createOnly, n)
			}
		}
		sort.Strings(m.createOnly)
	}
	return diags
}

// CustomAttributes reports whether the mapping writes custom attributes,
// and their keys when custom_attributes is a literal object (nil when its
// keys are computed).
func (m *Mapping) CustomAttributes() (keys []string, mapped bool) {
	return m.customKeys, m.exprs["custom_attributes"] != nil
}

// OnCreateOnly lists the fields set when an account is created and never
// updated (engine.CreateOnlyMapper).
func (m *Mapping) OnCreateOnly() []string { return m.createOnly }

var _ engine.CreateOnlyMapper = (*Mapping)(nil)

// mapCustom evaluates custom_attributes for one entry, as text.
func (m *Mapping) mapCustom(ev *mapEval) (map[string]string, error) {
	v, err := ev.value("custom_attributes")
	if err != nil {
		return nil, err
	}
	ty := v.Type()
	if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
		return nil, fmt.Errorf("custom_attributes: must be an object of keys and values, not %s", ty.FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		key := k.AsString()
		if val.IsNull() {
			continue
		}
		if !val.IsKnown() {
			return nil, fmt.Errorf("custom_attributes.%s: the value is not known", key)
		}
		var s string
		switch val.Type() {
		case cty.Number:
			s = val.AsBigFloat().Text('f', -1)
		default:
			sv, err := convert.Convert(val, cty.String)
			if err != nil {
				return nil, fmt.Errorf("custom_attributes.%s: must be a string, number or bool, not %s", key, val.Type().FriendlyName())
			}
			s = sv.AsString()
		}
		if err := engine.CheckCustomValue(key, s); err != nil {
			return nil, fmt.Errorf("custom_attributes.%s: %v", key, err)
		}
		out[key] = s
	}
	return out, nil
}
