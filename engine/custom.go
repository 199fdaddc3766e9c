package engine

// User custom attributes, and fields ftrack owns after creation.
//
// A mapping may write ftrack's user custom attributes by key. The keys
// must be the site's: the custom pass asks the target for its user
// custom attributes (CustomAttributeReader), refuses the plan when the
// mapping names a key the site lacks (listing the site's keys), converts
// each desired value to the attribute's type and its canonical text
// (CustomValueText; a value that does not convert is left out for that
// user, with one warning per key), and reads every account's values onto
// the accounts, so the diff compares text with text.
//
// Fields named in on_create_only are written when the account is created
// and never again: no update, no drift. ftrack (or a person in it) owns
// them from then on.

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// CustomMapper is an optional Mapper interface: a mapping that writes
// user custom attributes.
type CustomMapper interface {
	// CustomAttributes returns the keys the mapping writes (nil when they
	// are computed) and whether it writes any.
	CustomAttributes() (keys []string, mapped bool)
}

// CreateOnlyMapper is an optional Mapper interface: a mapping with
// fields set at create only.
//
//	mapping "users" {
//	  on_create_only = ["first_name", "custom_attributes.site"]
//	}
type CreateOnlyMapper interface {
	// OnCreateOnly lists the field names ("first_name",
	// "custom_attributes.site").
	OnCreateOnly() []string
}

// CustomAttributeReader is an optional Target interface: a target with
// user custom attributes.
type CustomAttributeReader interface {
	// ReadCustomAttributes returns the site's user custom attributes (key
	// -> type: text, number, boolean, date, enumerator, …) and, by account
	// id, every account's values as CustomValueText gives them.
	ReadCustomAttributes(ctx context.Context) (types map[string]string, values map[string]map[string]string, err error)
}

// CheckCustomValue returns why s cannot be the value of custom attribute
// key, as the identifier rules say (values.go): no control or invisible
// characters, nothing blank around it.
func CheckCustomValue(key, s string) error {
	return checkIdentifier(customPrefix+key, s)
}

// CustomValueText converts a value to the canonical text of a custom
// attribute of type typ: numbers in shortest decimal form, booleans
// "true" or "false", text as it is. ok is false when the value does not
// convert. v is text (from a mapping) or a decoded JSON value (from the
// target: string, float64, json.Number, bool).
func CustomValueText(typ string, v any) (string, bool) {
	switch typ {
	case "number":
		var f *big.Float
		switch x := v.(type) {
		case float64:
			f = big.NewFloat(x)
		case fmt.Stringer: // json.Number
			var ok bool
			if f, ok = new(big.Float).SetString(x.String()); !ok {
				return "", false
			}
		case string:
			var ok bool
			if f, ok = new(big.Float).SetString(strings.TrimSpace(x)); !ok {
				return "", false
			}
		default:
			return "", false
		}
		fv, _ := f.Float64()
		if math.IsInf(fv, 0) {
			return "", false // beyond what the attribute can hold
		}
		return strconv.FormatFloat(fv, 'g', -1, 64), true
	case "boolean":
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x), true
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "yes", "1", "on":
				return "true", true
			case "false", "no", "0", "off":
				return "false", true
			}
		}
		return "", false
	case "text", "enumerator":
		s, ok := v.(string)
		return s, ok
	}
	return "", false
}

// customPass checks the desired custom attributes against the target's
// and reads the accounts' values (see the file comment).
func customPass(ctx context.Context, r readRequest, v *view, accounts []Account) error {
	keys, mapped := customMapped(r.Mapper)
	if !mapped {
		return nil
	}
	cr, ok := targetAs[CustomAttributeReader](r.Target)
	if !ok {
		return fmt.Errorf("mapping %q writes custom_attributes, but target %q has none", v.mapper, r.Target.Info().Name)
	}
	types, values, err := cr.ReadCustomAttributes(ctx)
	if err != nil {
		return namedError("target", r.Target.Info().Name, err)
	}
	for _, k := range keys {
		if err := checkCustomKey(v.mapper, k, types); err != nil {
			return err
		}
	}
	for i := range accounts {
		accounts[i].Custom = values[accounts[i].ID]
	}
	bad := map[string]int{}
	for i := range v.desired {
		u := &v.desired[i]
		for _, k := range sortedKeysOf(u.Custom) {
			if err := checkCustomKey(v.mapper, k, types); err != nil {
				return err
			}
			if txt, ok := CustomValueText(types[k], u.Custom[k]); ok {
				u.Custom[k] = txt
			} else {
				delete(u.Custom, k)
				bad[k]++
			}
		}
	}
	for _, k := range sortedKeysOf(bad) {
		v.warnings = append(v.warnings, fmt.Sprintf("custom_attributes.%s: %d directory %s cannot be converted to the attribute's type %s; left out for those users", k, bad[k], pick(bad[k], "value", "values"), types[k]))
	}
	return nil
}

// checkCustomKey refuses a key the site has no user custom attribute for,
// or one of a type ldapsync does not write.
func checkCustomKey(mapper, k string, types map[string]string) error {
	typ, ok := types[k]
	if !ok {
		site := sortedKeysOf(types)
		list := "none"
		if len(site) > 0 {
			list = strings.Join(site, ", ")
		}
		return fmt.Errorf("mapping %q: custom_attributes.%s: ftrack has no user custom attribute %q (the site's user custom attributes: %s)", mapper, k, k, list)
	}
	switch typ {
	case "text", "number", "boolean", "enumerator":
		return nil
	}
	return fmt.Errorf("mapping %q: custom_attributes.%s: the attribute is of type %s, which ldapsync does not write (text, number, boolean and enumerator)", mapper, k, typ)
}

// createOnly returns the mapping's on_create_only fields as a set.
func createOnly(m Mapper) map[string]bool {
	cm, ok := m.(CreateOnlyMapper)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, n := range cm.OnCreateOnly() {
		out[n] = true
	}
	return out
}

// customNow reads the accounts' custom attribute values onto accounts
// when the plan writes custom attributes and the fresh derivation (which
// reads them) did not run.
func customNow(ctx context.Context, req ApplyRequest, changes []Change, accounts []Account, fresh *derivation) error {
	if fresh != nil {
		if _, mapped := customMapped(req.Mapper); mapped {
			return nil // read onto the same accounts
		}
	}
	writes := false
	for _, c := range changes {
		writes = writes || (c.After != nil && len(c.After.Custom) > 0) || (c.Before != nil && len(c.Before.Custom) > 0)
	}
	if !writes {
		return nil
	}
	cr, ok := targetAs[CustomAttributeReader](req.Target)
	if !ok {
		return fmt.Errorf("apply: the plan writes custom attributes, but target %q has none", req.Target.Info().Name)
	}
	_, values, err := cr.ReadCustomAttributes(ctx)
	if err != nil {
		return namedError("target", req.Target.Info().Name, err)
	}
	for i := range accounts {
		accounts[i].Custom = values[accounts[i].ID]
	}
	return nil
}

// customMapped is CustomMapper.CustomAttributes, false for a mapper
// without custom attributes.
func customMapped(m Mapper) ([]string, bool) {
	if cm, ok := m.(CustomMapper); ok {
		return cm.CustomAttributes()
	}
	return nil, false
}

// checkCustomWrites refuses, from the configuration alone (so also with
// -verify-source=false), a change that writes a custom attribute the
// mapping does not write, a key that is not a clean identifier, or (in an
// update or adopt) a field the mapping sets at create only. Only a bad key
// stops the change's other checks: the rest are source_mismatch, which a
// refusal of an earlier kind (not_owned, …) outranks.
func (ck *checker) checkCustomWrites(c Change) bool {
	keys, mapped := customMapped(ck.mapperImpl)
	for _, f := range []*Fields{c.Before, c.After} {
		if f == nil {
			continue
		}
		for _, k := range sortedKeysOf(f.Custom) {
			if err := checkIdentifier("a custom attribute key", k); err != nil || k == "" {
				ck.problems.add(RefuseInvalid, "%s (%s): %v", c.Address, c.Action, firstErr(err, "a custom attribute key is empty"))
				return false
			}
			if !mapped || (keys != nil && !slices.Contains(keys, k)) {
				ck.problems.add(RefuseSourceMismatch, "%s: mapping %q does not write custom attribute %q", c.Address, ck.mapper, k)
			}
		}
	}
	if c.Action == ActionUpdate || c.Action == ActionAdopt {
		only := createOnly(ck.mapperImpl)
		for _, x := range SetFields(c.After) {
			if only[x.Field.Name] {
				ck.problems.add(RefuseSourceMismatch, "%s: %s is set at create only (on_create_only); ldapsync never updates it", c.Address, x.Field.Name)
			}
		}
	}
	return true
}

// firstErr is err's message, or msg when err is nil.
func firstErr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}
