package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// connectionOnly names the functions allowed only in variable defaults and
// in source/target bodies.
var connectionOnly = map[string]bool{"env": true, "file": true}

// stdFunctions returns the allow-list of pure functions available
// everywhere expressions are evaluated, each bounded (functions_bounds.go):
// no call can build a string over MaxFunctionResult bytes or a list over
// MaxFunctionList elements, and what could would be refused before the
// memory is taken.
func stdFunctions() map[string]function.Function {
	return maps.Clone(stdFuncs)
}

// stdFuncs is the allow-list, built once (stdFunctions hands out copies,
// which connectionFunctions extends).
var stdFuncs = map[string]function.Function{
	"lower":         bounded(stdlib.LowerFunc, nil),
	"upper":         bounded(stdlib.UpperFunc, nil),
	"trimspace":     bounded(stdlib.TrimSpaceFunc, nil),
	"replace":       bounded(stdlib.ReplaceFunc, checkReplace),
	"regex":         bounded(stdlib.RegexFunc, nil),
	"regex_replace": regexReplaceFunc,
	"split":         bounded(stdlib.SplitFunc, checkSplit),
	"join":          bounded(stdlib.JoinFunc, checkJoin),
	"format":        bounded(stdlib.FormatFunc, checkFormat),
	"coalesce":      stdlib.CoalesceFunc,
	"contains":      stdlib.ContainsFunc,
	"length":        lengthFunc,
	"concat":        bounded(stdlib.ConcatFunc, checkConcat),
}

// connectionFunctions returns the allow-list plus env() and file().
// file() paths are relative to dir, the configuration file's directory;
// with missingOK (validate without secrets) a file that does not exist
// reads as a placeholder naming it (see unchecked.go).
func connectionFunctions(dir string, lookup func(string) (string, bool), missingOK bool) map[string]function.Function {
	fns := stdFunctions()
	fns["env"] = envFunc(lookup)
	fns["file"] = fileFunc(dir, missingOK)
	return fns
}

// functionNames lists the names of fns, sorted, for messages.
func functionNames(fns map[string]function.Function) []string {
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lengthFunc is stdlib's length extended to strings (character count), as
// Terraform users expect.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of characters in a string or elements in a collection.",
	Params: []function.Parameter{
		{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		if ty == cty.String || ty.IsTupleType() || ty.IsListType() || ty.IsMapType() || ty.IsSetType() || ty.IsObjectType() || ty == cty.DynamicPseudoType {
			return cty.Number, nil
		}
		return cty.NilType, fmt.Errorf("argument must be a string or a collection")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch {
		case v.Type() == cty.String:
			return stdlib.Strlen(v)
		case v.Type().IsObjectType():
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))), nil
		default:
			return v.Length(), nil
		}
	},
})

func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable; an unset variable is an error.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := lookup(name)
			if !ok {
				return cty.NilVal, fmt.Errorf("environment variable %q is not set", name)
			}
			return cty.StringVal(v), nil
		},
	})
}

func fileFunc(dir string, missingOK bool) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, relative to the configuration file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := readLimited(p)
			if missingOK && errors.Is(err, fs.ErrNotExist) {
				return cty.StringVal(missingFilePlaceholder(p)), nil
			}
			if err != nil {
				// The path is configuration, not a secret; the contents never appear.
				return cty.NilVal, fmt.Errorf("read %s: %w", p, unwrapPathError(err))
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// unwrapPathError drops the *fs.PathError wrapper so the path is not
// repeated in the message.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
