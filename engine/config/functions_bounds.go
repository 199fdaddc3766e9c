package config

// Bounds on the functions of expressions. cty's stdlib trusts its inputs:
// format("%999999999s", x) pads to a gigabyte, replace(s, "", s) and
// regex_replace(s, "x*", s) grow with the square of their input, and a
// Go out-of-memory is fatal, not an error. Each function that can build
// more than it is given is checked before it runs (what it would build is
// computed, or bounded, from its arguments), and every result is checked
// after; a call over a bound is an error naming the function and the
// bound, which the mapping reports for the entry (or validate for the
// file).

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

const (
	// MaxFunctionResult caps a string a function builds: 1 MiB (a
	// username or e-mail address is a few dozen bytes).
	MaxFunctionResult = 1 << 20
	// MaxFunctionList caps the elements of a list a function builds.
	MaxFunctionList = 100_000
	// MaxFormatWidth caps a width or precision in a format verb.
	MaxFormatWidth = 1000
	// maxRegexMatchInts caps the match positions regex_replace holds at
	// once (8 bytes each).
	maxRegexMatchInts = 1 << 22
)

// bounded wraps f: check (when set) vets the arguments before f runs,
// and the result is held to MaxFunctionResult and MaxFunctionList.
func bounded(f function.Function, check func(args []cty.Value) error) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if check != nil {
				if err := check(args); err != nil {
					return cty.NilVal, err
				}
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			return v, checkResult(v)
		},
	})
}

// checkResult holds a known string or list result to the bounds.
func checkResult(v cty.Value) error {
	if !v.IsWhollyKnown() || v.IsNull() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return checkLength(len(v.AsString()))
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		return checkCount(v.LengthInt())
	}
	return nil
}

func checkLength(n int) error {
	if n > MaxFunctionResult {
		return fmt.Errorf("the result would be %d bytes, over the limit of %d (1 MiB)", n, MaxFunctionResult)
	}
	return nil
}

func checkCount(n int) error {
	if n > MaxFunctionList {
		return fmt.Errorf("the result would have %d elements, over the limit of %d", n, MaxFunctionList)
	}
	return nil
}

// knownStrings returns the arguments as Go strings; ok is false when one
// is unknown or null (the function itself decides what that gives).
func knownStrings(args ...cty.Value) ([]string, bool) {
	out := make([]string, len(args))
	for i, a := range args {
		if !a.IsKnown() || a.IsNull() || a.Type() != cty.String {
			return nil, false
		}
		out[i] = a.AsString()
	}
	return out, true
}

// occurrences counts the non-overlapping sub in s as strings.Replace and
// strings.Split do: an empty sub occurs before every character and at the end.
func occurrences(s, sub string) int {
	if sub == "" {
		return utf8.RuneCountInString(s) + 1
	}
	return strings.Count(s, sub)
}

// checkReplace computes the length of replace(str, substr, replacement).
func checkReplace(args []cty.Value) error {
	a, ok := knownStrings(args...)
	if !ok {
		return nil
	}
	str, sub, repl := a[0], a[1], a[2]
	return checkLength(len(str) + occurrences(str, sub)*(len(repl)-len(sub)))
}

// checkSplit computes the elements of split(separator, str).
func checkSplit(args []cty.Value) error {
	a, ok := knownStrings(args...)
	if !ok {
		return nil
	}
	n := occurrences(a[1], a[0])
	if a[0] == "" {
		n-- // strings.Split(s, "") gives one element per character
	}
	return checkCount(n)
}

// checkJoin computes the length of join(separator, lists...).
func checkJoin(args []cty.Value) error {
	if !args[0].IsKnown() || args[0].IsNull() {
		return nil
	}
	sep := len(args[0].AsString())
	total, n := 0, 0
	for _, list := range args[1:] {
		if !list.IsWhollyKnown() || list.IsNull() {
			return nil
		}
		for it := list.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.String {
				return nil // join reports it
			}
			total += len(e.AsString())
			n++
		}
	}
	if n > 1 {
		total += (n - 1) * sep
	}
	return checkLength(total)
}

// checkConcat counts the elements concat would build.
func checkConcat(args []cty.Value) error {
	n := 0
	for _, a := range args {
		if a.IsWhollyKnown() && !a.IsNull() && (a.Type().IsCollectionType() || a.Type().IsTupleType()) {
			n += a.LengthInt()
		}
	}
	return checkCount(n)
}

// checkFormat vets the verbs of a format string: no width or precision
// over MaxFormatWidth, and widths adding up to no more than
// MaxFunctionResult. The verb syntax is cty's: % flags width .precision
// [argument] letter; what does not parse is left to format to report.
func checkFormat(args []cty.Value) error {
	if !args[0].IsKnown() || args[0].IsNull() {
		return nil
	}
	f := args[0].AsString()
	total := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			i++
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("0#-+ ", f[j]) >= 0 {
			j++
		}
		width, j, err := formatNumber(f, j, "width")
		if err != nil {
			return err
		}
		prec := 0
		if j < len(f) && f[j] == '.' {
			if prec, j, err = formatNumber(f, j+1, "precision"); err != nil {
				return err
			}
		}
		total += max(width, prec)
		i = j - 1
	}
	return checkLength(total)
}

// formatNumber reads the decimal number at f[i:] (none is 0) and returns
// it and the position after it; over MaxFormatWidth is an error.
func formatNumber(f string, i int, what string) (int, int, error) {
	n := 0
	for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
		n = n*10 + int(f[i]-'0')
		if n > MaxFormatWidth {
			return 0, i, fmt.Errorf("a format %s over %d is not allowed", what, MaxFormatWidth)
		}
	}
	return n, i, nil
}

// regexReplaceFunc is stdlib's regex_replace (re.ReplaceAllString, $1
// expansions included) built with the bounds in view: the matches are
// found at most maxRegexMatchInts positions at a time, and the result is
// checked before each expansion is appended.
var regexReplaceFunc = function.New(&function.Spec{
	Description: "Applies the given regular expression pattern to the given string and replaces all matches with the given replacement string.",
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "pattern", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		re, err := regexp.Compile(args[1].AsString())
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		out, err := regexReplace(re, args[0].AsString(), args[2].AsString())
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		return cty.StringVal(out), nil
	},
})

// regexReplace is re.ReplaceAllString(s, repl) that stops with an error
// rather than grow past MaxFunctionResult or hold more match positions
// than maxRegexMatchInts.
func regexReplace(re *regexp.Regexp, s, repl string) (string, error) {
	maxMatches := maxRegexMatchInts / (2 * (re.NumSubexp() + 1))
	matches := re.FindAllStringSubmatchIndex(s, maxMatches+1)
	if len(matches) > maxMatches {
		return "", fmt.Errorf("more than %d matches", maxMatches)
	}
	dollars := strings.Count(repl, "$")
	var out []byte
	last := 0
	for _, m := range matches {
		// An expansion is repl with each $ reference replaced by a part of
		// the match: at most len(repl) + dollars*match length.
		if err := checkLength(len(out) + m[0] - last + len(repl) + dollars*(m[1]-m[0])); err != nil {
			return "", err
		}
		out = append(out, s[last:m[0]]...)
		out = re.ExpandString(out, repl, s, m)
		last = m[1]
	}
	if err := checkLength(len(out) + len(s) - last); err != nil {
		return "", err
	}
	return string(append(out, s[last:]...)), nil
}
