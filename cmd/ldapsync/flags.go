package main

import (
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
