package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// commonFlags are accepted by every command that reads a configuration.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Value: "ldapsync.hcl", Usage: "configuration `FILE` (.hcl, or the original script's .yaml)"},
		&cli.StringSliceFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable)"},
		&cli.StringSliceFlag{Name: "var-file", Usage: "read variables from an HCL `FILE` (repeatable)"},
		&cli.BoolFlag{Name: "no-color", Usage: "disable colored output (also NO_COLOR, or a non-terminal)"},
		&cli.StringFlag{Name: "log-file", Usage: "append an audit log of this run to `FILE`"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "audit log format: text or json"},
	}
}

// globalArgs are the settings every configuration-reading command shares.
type globalArgs struct {
	ConfigPath string
	Vars       []string
	VarFiles   []string
	NoColor    bool
	LogFile    string
	LogFormat  string
}

func parseGlobalArgs(c *cli.Context) globalArgs {
	return globalArgs{
		ConfigPath: c.String("config"),
		Vars:       c.StringSlice("var"),
		VarFiles:   c.StringSlice("var-file"),
		NoColor:    c.Bool("no-color"),
		LogFile:    c.String("log-file"),
		LogFormat:  c.String("log-format"),
	}
}

// flagsFirst returns the command line with the flags of the command it
// names moved before that command's arguments, keeping their order, so
// that `ldapsync apply plan.json -verify-source=false` and `ldapsync show
// plan.json -json` mean what they say: urfave/cli stops reading flags at
// the first argument and would take the flag for a second file name. A
// flag that takes a value keeps the word after it ("-lock-timeout 2m");
// after "--" every word is an argument, as before. The command line is
// left as it is when it names no command, or asks for shell completion
// (whose flag must stay last).
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 || strings.HasPrefix(args[1], "-") {
		return args
	}
	for _, a := range args {
		if a == "--generate-bash-completion" {
			return args
		}
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	head := 2 // "ldapsync state show …": the subcommand's flags
	if sub := cmd.Command(args[2]); sub != nil {
		cmd, head = sub, 3
	}
	var flags, positional []string
	rest := args[head:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(append([]string{"--"}, positional...), rest[i+1:]...)
			return append(append(append([]string{}, args[:head]...), flags...), positional...)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			if takesValue(cmd, a) && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(append(append([]string{}, args[:head]...), flags...), positional...)
}

// takesValue reports whether arg ("-name" or "--name", without "=value")
// is a flag of cmd that reads the next word as its value.
func takesValue(cmd *cli.Command, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range cmd.Flags {
		v, ok := f.(interface{ TakesValue() bool })
		if !ok || !v.TakesValue() {
			continue
		}
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// noArguments refuses arguments for a command that takes none: `ldapsync
// plan other.hcl` would otherwise plan ldapsync.hcl without a word.
func noArguments(c *cli.Context) error {
	if c.NArg() == 0 {
		return nil
	}
	hint := ""
	if a := c.Args().First(); strings.HasSuffix(a, ".hcl") || strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml") {
		hint = fmt.Sprintf(" Did you mean -config %s?", a)
	}
	return cli.Exit(fmt.Sprintf("Error: %s takes no arguments, but got %q.%s", c.Command.Name, c.Args().First(), hint), exitError)
}
