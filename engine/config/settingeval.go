package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// SettingEval evaluates the attributes of a provider's or state backend's
// settings block one by one, collecting errors at each attribute's
// expression range. Its diagnostics carry no Expression (a printer would
// show the values, secrets, that it refers to); a DecodeSettings still
// returns them through WithoutValues, since hcl's own diagnostics carry
// one:
//
//	content, diags := body.Content(schema)
//	if content == nil {
//		return s, config.WithoutValues(diags)
//	}
//	ev := config.SettingEval{Attrs: content.Attributes, Eval: bc.Eval, Summary: "Invalid ftrack setting", Diags: diags}
//	if a := ev.String("api_key", true, &s.APIKey); a != nil && s.APIKey == "" {
//		ev.Bad(a, "api_key must not be empty.")
//	}
//	if v, a, ok := ev.Typed("batch_size", cty.Number, false); ok {
//		... // a range check, with ev.Bad(a, ...)
//	}
//	return s, config.WithoutValues(ev.Diags)
type SettingEval struct {
	// Attrs are the block's attributes (hcl.BodyContent.Attributes).
	Attrs hcl.Attributes
	// Eval is the evaluation context (BlockContext.Eval).
	Eval *hcl.EvalContext
	// Summary is the summary of the errors Bad, Value and Typed record.
	Summary string
	// Diags collects the diagnostics; start it with the body's.
	Diags hcl.Diagnostics
}

// Bad records an error with Summary at a's expression.
func (ev *SettingEval) Bad(a *hcl.Attribute, detail string) {
	ev.Error(a, ev.Summary, detail)
}

// Error records an error with its own summary at a's expression.
func (ev *SettingEval) Error(a *hcl.Attribute, summary, detail string) {
	ev.Diags = append(ev.Diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr()}) // no Expression: a printer would show the values (secrets) it refers to
}

// Value evaluates the attribute name, unmarked. ok is false when the
// attribute is absent (a is nil then) or its evaluation failed, or when
// the value is null or not wholly known ("NAME must not be null.");
// either error is recorded.
func (ev *SettingEval) Value(name string) (v cty.Value, a *hcl.Attribute, ok bool) {
	a, ok = ev.Attrs[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, d := a.Expr.Value(ev.Eval)
	ev.Diags = append(ev.Diags, d...)
	if d.HasErrors() {
		return cty.NilVal, a, false
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsWhollyKnown() {
		ev.Bad(a, name+" must not be null.")
		return cty.NilVal, a, false
	}
	return v, a, true
}

// Typed is Value converted to want; strict refuses a value of another
// type rather than converting it ("NAME must be a string, not a number."),
// and a value that does not convert is "NAME must be a string.".
func (ev *SettingEval) Typed(name string, want cty.Type, strict bool) (cty.Value, *hcl.Attribute, bool) {
	v, a, ok := ev.Value(name)
	if !ok {
		return cty.NilVal, a, false
	}
	if strict && !v.Type().Equals(want) {
		ev.Bad(a, fmt.Sprintf("%s must be a %s, not a %s.", name, want.FriendlyName(), v.Type().FriendlyName()))
		return cty.NilVal, a, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		ev.Bad(a, fmt.Sprintf("%s must be a %s.", name, want.FriendlyName()))
		return cty.NilVal, a, false
	}
	return cv, a, true
}

// String sets *dst to the string attribute name (see Typed) and returns
// the attribute, nil when absent; *dst is left alone when the attribute
// is absent or bad.
func (ev *SettingEval) String(name string, strict bool, dst *string) *hcl.Attribute {
	v, a, ok := ev.Typed(name, cty.String, strict)
	if ok {
		*dst = v.AsString()
	}
	return a
}
