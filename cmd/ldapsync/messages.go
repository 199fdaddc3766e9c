package main

// Messages without Go type names. Errors from the JSON decoders name the
// Go type they decode into ("json: cannot unmarshal string into Go value
// of type engine.Plan"); ldapsync's users know the file formats, not the
// Go types. Where the CLI decodes JSON itself it describes the error from
// its fields (jsonProblem); messages that arrive as text from the engine
// or the state store are rewritten by plainMessage before they are
// printed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ldapsync/ldapsync/engine"
)

// jsonProblem describes an error of encoding/json decoding data in the
// file format's words: what is where (a syntax error's line and column),
// and what belongs there. Other errors are returned as plainMessage makes
// them.
func jsonProblem(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset-1)
		return fmt.Sprintf("it is not valid JSON: %s (line %d, column %d)", syn.Error(), line, col)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return typeProblem(typ.Field, typ.Value, kindOf(typ.Type))
	}
	var sem *jsonv2.SemanticError
	if errors.As(err, &sem) && sem.JSONKind != 0 {
		return typeProblem(string(sem.JSONPointer), jsonKinds[sem.JSONKind], kindOf(sem.GoType))
	}
	return plainMessage(err.Error())
}

// jsonKinds names the kinds of JSON value as go-json-experiment tells
// them.
var jsonKinds = map[jsontext.Kind]string{
	'n': "null", 'f': "boolean", 't': "boolean", '"': "string", '0': "number", '{': "object", '[': "array",
}

// locateTypeError returns a type error of encoding/json decoding data
// into v as go-json-experiment reports it, which names the member by its
// full path, array indexes included ("changes.0.action", where
// encoding/json says "changes.action"); any other error as it is.
func locateTypeError(data []byte, v any, err error) error {
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) {
		return err
	}
	var sem *jsonv2.SemanticError
	if verr := jsonv2.Unmarshal(data, v); errors.As(verr, &sem) && sem.JSONKind != 0 && sem.JSONPointer != "" {
		return sem
	}
	return err
}

// jsonKindWord writes encoding/json's "bool" as "boolean", the JSON word;
// the other kinds it names (string, number, object, array) are JSON's.
func jsonKindWord(kind string) string {
	if kind == "bool" {
		return "boolean"
	}
	return kind
}

// lineCol returns the 1-based line and column (in bytes) of offset in
// data, clamped to data.
func lineCol(data []byte, offset int64) (line, col int) {
	off := int(max(0, min(offset, int64(len(data)))))
	before := data[:off]
	return bytes.Count(before, []byte("\n")) + 1, off - bytes.LastIndexByte(before, '\n')
}

// typeProblem says that the member at path (a dotted path or a JSON
// pointer; "" is the whole document) holds a JSON value of kind got
// where want belongs (want "" when it cannot be said).
func typeProblem(path, got, want string) string {
	got = jsonKindWord(got)
	subject := "the document"
	if p := memberPath(path); p != "" {
		subject = "member " + p
	}
	if want == "" {
		return fmt.Sprintf("%s cannot be a JSON %s", subject, got)
	}
	return fmt.Sprintf("%s must be %s, not a JSON %s", subject, want, got)
}

// memberPath writes a JSON pointer ("/changes/0/action") or a decoder's
// dotted field path ("changes.action") as a dotted path of member names
// and indexes, as the file has them ("changes.0.action"). In a dotted
// path, parts that start with a capital letter are the Go names of
// embedded structs, not members of the file (ldapsync's formats spell
// members in snake_case), and are left out.
func memberPath(path string) string {
	sep := "."
	if strings.HasPrefix(path, "/") {
		sep = "/"
	}
	var parts []string
	for _, p := range strings.Split(strings.Trim(path, sep), sep) {
		if sep == "/" {
			p = strings.NewReplacer("~1", "/", "~0", "~").Replace(p)
		}
		if p == "" || (sep == "." && p[0] >= 'A' && p[0] <= 'Z') {
			continue
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

// kindOf names the JSON value a Go type is decoded from: "a string",
// "an object", ...; "" when it cannot be said.
func kindOf(t reflect.Type) string {
	if t == nil {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return ""
}

var textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()

// Decoder messages that name Go types, as encoding/json (v1) and
// github.com/go-json-experiment/json (v2) write them.
var (
	// json: cannot unmarshal number into Go struct field Plan.plan_id of type string
	v1Field = regexp.MustCompile(`json: (?:cannot|unable to) unmarshal (\w+)(?: [^ ]+)? into Go struct field [\w]+\.([\w.]+) of type ([^\s;,)]+)`)
	// json: cannot unmarshal array into Go value of type engine.Plan
	// (or of type struct { ... })
	v1Value = regexp.MustCompile(`json: (?:cannot|unable to) unmarshal (\w+)(?: [^ ]+)? into Go value of type (struct \{[^{}]*\}|[^\s;,)]+)`)
	// json: cannot unmarshal JSON number into Go engine.Action within "/changes/0/action"
	// (also "unable to unmarshal")
	v2Value = regexp.MustCompile(`json: (?:cannot|unable to) unmarshal JSON (\w+)(?: (?:"(?:[^"\\]|\\.)*"|[^\s"]+))? into Go (struct \{[^{}]*\}|[^\s;,)]+)(?: within "((?:[^"\\]|\\.)*)")?`)
	// any other decoder phrase naming a Go type: "... into Go engine.Plan"
	goType = regexp.MustCompile(` (?:into|from|with) Go (?:value of type |struct field [\w.]+ of type )?(?:struct \{[^{}]*\}|[\w.*\[\]]+)`)
)

// plainMessage rewrites the decoder phrases of a message that name Go
// types into the file format's words, and drops the decoders' package
// prefixes ("jsontext: "). Everything else is kept as it is.
func plainMessage(msg string) string {
	msg = v1Field.ReplaceAllStringFunc(msg, func(m string) string {
		g := v1Field.FindStringSubmatch(m)
		return typeProblem(g[2], g[1], kindOfName(g[3]))
	})
	msg = v1Value.ReplaceAllStringFunc(msg, func(m string) string {
		g := v1Value.FindStringSubmatch(m)
		return typeProblem("", g[1], kindOfName(g[2]))
	})
	msg = v2Value.ReplaceAllStringFunc(msg, func(m string) string {
		g := v2Value.FindStringSubmatch(m)
		return typeProblem(g[3], g[1], kindOfName(g[2]))
	})
	msg = goType.ReplaceAllString(msg, "")
	return strings.ReplaceAll(msg, "jsontext: ", "")
}

// kindOfName is kindOf for a Go type as the decoders print it: the
// types of the plan file are known by name (planTypeKinds), other named
// types than time.Time give "".
func kindOfName(name string) string {
	name = strings.TrimLeft(name, "*")
	if k, ok := planTypeKinds()[name]; ok {
		return k
	}
	switch {
	case name == "string", name == "time.Time":
		return "a string"
	case name == "bool":
		return "true or false"
	case strings.HasPrefix(name, "int"), strings.HasPrefix(name, "uint"), strings.HasPrefix(name, "float"):
		return "a number"
	case strings.HasPrefix(name, "[]"):
		return "an array"
	case strings.HasPrefix(name, "map["), strings.HasPrefix(name, "struct {"):
		return "an object"
	}
	return ""
}

// planTypeKinds maps the name of every type in engine.Plan (as
// reflect.Type.String writes it) to its kindOf.
var planTypeKinds = sync.OnceValue(func() map[string]string {
	kinds := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if _, seen := kinds[t.String()]; seen {
			return
		}
		kinds[t.String()] = kindOf(t)
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				if f := t.Field(i); f.IsExported() {
					walk(f.Type)
				}
			}
		}
	}
	walk(reflect.TypeFor[engine.Plan]())
	return kinds
})
