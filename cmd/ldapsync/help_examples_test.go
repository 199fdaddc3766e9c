package main

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestHelpExamples parses every example that a command's --help shows
// against that command, as the real command line would be parsed (flags
// after arguments included): the example must reach the command it is
// listed under, and every flag and flag value must be accepted. Every
// command has at least one example. The commands' actions are replaced by
// a recorder, so nothing runs; the README test (readme_test.go) runs the
// commands for real.
func TestHelpExamples(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	total := 0
	for path, cmd := range commandPaths(app.Commands, "") {
		examples := helpExamples(cmd.Description + "\n" + cmd.UsageText)
		reached := 0
		for _, ex := range examples {
			args := exampleArgs(ex)
			if args == nil {
				continue // a shell step around the example (cp, mv)
			}
			total++
			got, err := parseOnly(args)
			if err != nil {
				t.Errorf("ldapsync %s --help: example %q does not parse: %v", path, ex, err)
				continue
			}
			if got == path {
				reached++
			} else if !strings.HasPrefix(got, path+" ") && !strings.HasPrefix(path, got+" ") {
				t.Errorf("ldapsync %s --help: example %q runs %q, not this command", path, ex, got)
			}
		}
		if len(cmd.Subcommands) == 0 && reached == 0 {
			t.Errorf("ldapsync %s --help has no example of the command itself (Examples: lines in its Description)", path)
		}
	}
	for _, ex := range helpExamples(app.Description) {
		if args := exampleArgs(ex); args != nil {
			total++
			if _, err := parseOnly(args); err != nil {
				t.Errorf("ldapsync --help: example %q does not parse: %v", ex, err)
			}
		}
	}
	if total < 30 {
		t.Errorf("found %d help examples, want at least 30 (is the Examples: block still recognised?)", total)
	}
}

// TestExampleArgs pins the example extraction the test above relies on.
func TestExampleArgs(t *testing.T) {
	for line, want := range map[string]string{
		`ldapsync plan -detailed-exitcode    # 0 no changes`:                        "ldapsync plan -detailed-exitcode",
		`LDAPSYNC_PLAN_KEY=... ldapsync apply -lock-timeout 2m plan.json`:           "ldapsync apply -lock-timeout 2m plan.json",
		`ldapsync check -json | jq '.checks[] | select(.status != "ok")'`:           "ldapsync check -json",
		`source <(ldapsync completion bash)            # in ~/.bashrc`:              "ldapsync completion bash",
		`ldapsync show -markdown plan.json > plan.md`:                               "ldapsync show -markdown plan.json",
		`ldapsync explain jdoe "uid=anna,ou=users,dc=example,dc=com"`:               "ldapsync explain jdoe uid=anna,ou=users,dc=example,dc=com",
		`ldapsync plan -out plan3.json && ldapsync apply plan3.json`:                "ldapsync plan -out plan3.json",
		`cp ldapsync.hcl ldapsync.new.hcl     # and change its state block`:         "",
		`export LDAPSYNC_VAR_ldap_password='…' FTRACK_API_KEY='…'`:                  "",
		`ldapsync completion zsh > "${fpath[1]}/_ldapsync"`:                         "ldapsync completion zsh",
		`ldapsync validate -config examples/active-directory/ldapsync.hcl -var a=x`: "ldapsync validate -config examples/active-directory/ldapsync.hcl -var a=x",
	} {
		if got := strings.Join(exampleArgs(line), " "); got != want {
			t.Errorf("exampleArgs(%q) = %q, want %q", line, got, want)
		}
	}
	for _, bad := range [][]string{
		{"ldapsync", "plan", "-outt", "plan.json"},
		{"ldapsync", "plan", "-expires-in", "soon"},
		{"ldapsync", "apply", "plan.json", "-max-errors", "many"},
		{"ldapsync", "state", "migrate"}, // -to is required
	} {
		if _, err := parseOnly(bad); err == nil {
			t.Errorf("parseOnly(%q) accepted a bad command line", bad)
		}
	}
	if got, err := parseOnly([]string{"ldapsync", "state", "show", "-json"}); err != nil || got != "state show" {
		t.Errorf("parseOnly(state show -json) = %q, %v", got, err)
	}
	ex := helpExamples("Intro text.\n\nExamples:\n   ldapsync a\n   ldapsync b   # c\n\nMore text.\n   ldapsync not-an-example\n")
	if strings.Join(ex, "|") != "ldapsync a|ldapsync b   # c" {
		t.Errorf("helpExamples = %q", ex)
	}
}

// commandPaths maps "state show" and the like to every command.
func commandPaths(cmds []*cli.Command, prefix string) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		p := strings.TrimSpace(prefix + " " + c.Name)
		out[p] = c
		for k, v := range commandPaths(c.Subcommands, p) {
			out[k] = v
		}
	}
	return out
}

var examplesHeader = regexp.MustCompile(`^\s*Examples?:\s*$`)

// helpExamples returns the lines of the "Examples:" block of a help
// text: the indented lines after the header, up to a blank line.
func helpExamples(text string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case examplesHeader.MatchString(line):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// exampleArgs returns the ldapsync command line of a shell line: the
// words from "ldapsync" up to a comment, pipe, redirection or && (quotes
// removed as the shell would), after any VAR=value assignments, export or
// source <(…). nil when the line runs no ldapsync command.
func exampleArgs(line string) []string {
	words := shellWords(line)
	for i, w := range words {
		w = strings.TrimPrefix(w, "<(")
		if w == "ldapsync" {
			var args []string
			for _, a := range words[i:] {
				if a == "|" || a == ">" || a == "&&" || a == "2>" || strings.HasPrefix(a, "#") {
					break
				}
				args = append(args, strings.TrimSuffix(strings.TrimPrefix(a, "<("), ")"))
			}
			return args
		}
		if !strings.Contains(w, "=") && w != "source" {
			return nil // cp, mv, export …: not an ldapsync command
		}
	}
	return nil
}

// shellWords splits a line into words as sh would for these examples:
// white space separates, single and double quotes group (and are
// removed), an unquoted # starts a comment word.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	have := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, have = r, true
		case r == ' ' || r == '\t':
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	return words
}

// parseOnly parses args (args[0] is "ldapsync") as the real command line
// is, with every command's action replaced by a recorder; it returns the
// command path reached.
func parseOnly(args []string) (string, error) {
	app := newApp(io.Discard, io.Discard)
	reached := ""
	for path, cmd := range commandPaths(app.Commands, "") {
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return err }
		if cmd.Action != nil || len(cmd.Subcommands) == 0 {
			cmd.Action = func(*cli.Context) error { reached = path; return nil }
		}
	}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return err }
	app.Action = func(*cli.Context) error { reached = ""; return nil }
	if err := app.Run(flagsFirst(app, args)); err != nil {
		return reached, err
	}
	if len(args) > 1 && (args[1] == "--version" || args[1] == "-v") {
		return "version", nil
	}
	return reached, nil
}
