package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

// TestPlainMessageDropsGoTypes feeds plainMessage the messages the JSON
// decoders write, as the engine and the state store pass them on.
func TestPlainMessageDropsGoTypes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`the plan file is not a valid plan: json: cannot unmarshal JSON number into Go engine.Action within "/changes/0/action"`,
			`the plan file is not a valid plan: member changes.0.action must be a string, not a JSON number`},
		{`the plan file is not a valid plan: json: unable to unmarshal JSON string "x" into Go int64 within "/prior_state/serial"`,
			`the plan file is not a valid plan: member prior_state.serial must be a number, not a JSON string`},
		{`json: cannot unmarshal JSON array into Go engine.TargetInfo within "/target"`,
			`member target must be an object, not a JSON array`},
		{`state s.json is corrupt: json: cannot unmarshal number into Go struct field file.LastApplied.lineage of type string; restore it`,
			`state s.json is corrupt: member lineage must be a string, not a JSON number; restore it`},
		{`state s.json is corrupt (not valid JSON: json: cannot unmarshal array into Go value of type struct { FormatVersion string "json:\"format_version\"" }); restore it`,
			`state s.json is corrupt (not valid JSON: the document must be an object, not a JSON array); restore it`},
		{`json: cannot unmarshal bool into Go value of type *engine.Plan`,
			`the document must be an object, not a JSON boolean`},
		{`json: cannot unmarshal JSON object into Go mystery.Type within "/a~1b"`,
			`member a/b cannot be a JSON object`},
		{`the plan file is not strictly valid JSON: jsontext: invalid character 'g' at start of value`,
			`the plan file is not strictly valid JSON: invalid character 'g' at start of value`},
		{`state x is locked by another ldapsync run`, `state x is locked by another ldapsync run`},
	} {
		if got := plainMessage(tc.in); got != tc.want {
			t.Errorf("plainMessage(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if got := plainMessage(tc.in); strings.Contains(got, "Go ") || strings.Contains(got, "engine.") {
			t.Errorf("plainMessage(%q) still names a Go type: %q", tc.in, got)
		}
	}
}

// TestJSONProblem describes encoding/json's own errors by position and
// member path, and finds the full path of a type error with locateTypeError.
func TestJSONProblem(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  x\n}")
	err := json.Unmarshal(data, new(map[string]any))
	if got, want := jsonProblem(data, err), "it is not valid JSON: invalid character 'x' looking for beginning of object key string (line 3, column 3)"; got != want {
		t.Errorf("syntax error:\n got %q\nwant %q", got, want)
	}
	data = []byte(`{"plan_id":"p","changes":[{},{"action":7}]}`)
	_, err = engine.DecodePlanUnverified(data)
	if got, want := jsonProblem(data, err), "member changes.action must be a string, not a JSON number"; got != want {
		t.Errorf("type error:\n got %q\nwant %q", got, want)
	}
	if got, want := jsonProblem(data, locateTypeError(data, new(engine.Plan), err)), "member changes.1.action must be a string, not a JSON number"; got != want {
		t.Errorf("located type error:\n got %q\nwant %q", got, want)
	}
}

// TestNotAPlan tells plan documents (valid or not) from other JSON.
func TestNotAPlan(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                                     "it has no format_version, plan_id, target or changes",
		`{"a":1}`:                                "it has no format_version, plan_id, target or changes",
		`[]`:                                     "a plan file is one JSON object, this is a JSON array",
		`"plan"`:                                 "a plan file is one JSON object, this is a JSON string",
		`null`:                                   "a plan file is one JSON object, this is JSON null",
		`{"plan_id":"x","format_version":"9.0"}`: "it has no target or changes",
		`{"format_version":"1.0","plan_id":"x","target":{},"changes":[]}`: "",
	} {
		if got := notAPlan([]byte(in)); got != want {
			t.Errorf("notAPlan(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestSuggestCommand suggests only close commands.
func TestSuggestCommand(t *testing.T) {
	cmds := []*cli.Command{{Name: "validate"}, {Name: "plan"}, {Name: "show"}, {Name: "apply"}, {Name: "drift"}, {Name: "sync"}, {Name: "fmt"}}
	for typed, want := range map[string]string{
		"aply": "apply", "appyl": "apply", "plna": "plan", "shwo": "show", "val": "validate",
		"drfit": "drift", "fnt": "fmt", "frobnicate": "", "x": "", "s": "",
	} {
		if got := suggestCommand(cmds, typed); got != want {
			t.Errorf("suggestCommand(%q) = %q, want %q", typed, got, want)
		}
	}
}

// TestFlagsFirst moves a command's flags before its arguments, keeping
// each flag's value with it.
func TestFlagsFirst(t *testing.T) {
	app := newApp(nil, nil)
	for _, tc := range []struct{ in, want string }{
		{"ldapsync apply plan.json -verify-source=false", "ldapsync apply -verify-source=false plan.json"},
		{"ldapsync apply plan.json -lock-timeout 2m -force", "ldapsync apply -lock-timeout 2m -force plan.json"},
		{"ldapsync apply -config c.hcl plan.json --max-errors -1", "ldapsync apply -config c.hcl --max-errors -1 plan.json"},
		{"ldapsync show plan.json -json", "ldapsync show -json plan.json"},
		{"ldapsync show -- -plan.json -json", "ldapsync show -- -plan.json -json"},
		{"ldapsync show plan.json -json -- -x", "ldapsync show -json -- plan.json -x"},
		{"ldapsync fmt a.hcl -check b.hcl", "ldapsync fmt -check a.hcl b.hcl"},
		{"ldapsync apply - -force", "ldapsync apply -force -"},
		{"ldapsync aply plan.json -force", "ldapsync aply plan.json -force"},
		{"ldapsync --help apply", "ldapsync --help apply"},
		{"ldapsync plan - --generate-bash-completion", "ldapsync plan - --generate-bash-completion"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("flagsFirst(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestSyncBlockedMessage gives plan and apply command lines with sync's
// configuration flags, never a variable's value.
func TestSyncBlockedMessage(t *testing.T) {
	msg := syncBlockedMessage(globalArgs{ConfigPath: "my config.yaml", Vars: []string{"pw=secret"}, VarFiles: []string{"v.hcl"}})
	for _, want := range []string{
		"    ldapsync plan -config 'my config.yaml' -var-file v.hcl -var pw=VALUE -force -out plan.json\n",
		"    ldapsync apply -config 'my config.yaml' -var-file v.hcl -var pw=VALUE -force plan.json",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("message shows a variable's value:\n%s", msg)
	}
	if strings.Contains(syncBlockedMessage(globalArgs{ConfigPath: "ldapsync.hcl"}), "-config") {
		t.Errorf("the default configuration needs no -config")
	}
}

// TestPlainMessageKeepsOtherText leaves text alone that only looks like
// a decoder's phrase.
func TestPlainMessageKeepsOtherText(t *testing.T) {
	for _, msg := range []string{
		`user.golang: cn "Go Team" is not a valid name`,
		`Go ahead and run ldapsync plan`,
	} {
		if got := plainMessage(msg); got != msg {
			t.Errorf("plainMessage(%q) = %q", msg, got)
		}
	}
}
