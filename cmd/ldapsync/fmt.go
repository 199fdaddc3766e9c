package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/state/atomicfile"
)

func fmtCommand() *cli.Command {
	return &cli.Command{
		Name:      "fmt",
		Usage:     "rewrite configuration files in the canonical format",
		ArgsUsage: "[FILE...]",
		Description: `fmt rewrites HCL files in the canonical layout (default: ldapsync.hcl).
With -check nothing is written and the exit code is 3 when a file needs
formatting, for CI. A file that does not parse is never rewritten: fmt
prints its errors (file:line:col), goes on with the other files and exits
1. fmt formats HCL only; the original script's YAML is left to convert.

Flags may also follow the file names: ldapsync fmt ldapsync.hcl -check.

Examples:
   ldapsync fmt
   ldapsync fmt -check ldapsync.hcl`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "only check; exit 3 when a file is not formatted"},
		},
		Action: runFmt,
	}
}

// runFmt formats (or with -check, checks) each file, leaving every file
// that does not parse untouched.
func runFmt(c *cli.Context) error {
	files := c.Args().Slice()
	if len(files) == 0 {
		files = []string{"ldapsync.hcl"}
	}
	unformatted, broken := 0, 0
	for _, path := range files {
		changed, err := fmtFile(c, path)
		switch {
		case errors.Is(err, errNotParsed):
			broken++
		case err != nil:
			return err
		case changed:
			unformatted++
		}
	}
	if broken > 0 {
		return cli.Exit(fmt.Sprintf("Error: %d file(s) could not be formatted and were left as they are (see above)", broken), exitError)
	}
	if c.Bool("check") && unformatted > 0 {
		return cli.Exit(fmt.Sprintf("Error: %d file(s) are not formatted; run ldapsync fmt", unformatted), exitUnformatted)
	}
	return nil
}

// errNotParsed is fmtFile's answer for a file that does not parse (its
// diagnostics are printed already).
var errNotParsed = errors.New("the file does not parse")

// fmtFile formats one file (with -check only reports it) and says whether
// it was not formatted. A file that does not parse, or is YAML, is
// reported on stderr and left untouched (errNotParsed): the formatter
// would rewrite what it cannot read.
func fmtFile(c *cli.Context, path string) (bool, error) {
	src, err := config.ReadFile(path)
	if err != nil {
		return false, err
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		fmt.Fprintf(c.App.ErrWriter, "Error: %s is YAML: fmt formats HCL only; 'ldapsync convert %s' prints its HCL equivalent\n", path, path)
		return false, errNotParsed
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		_ = config.WriteDiagnostics(c.App.ErrWriter, map[string]*hcl.File{path: file}, diags, useColor(false, c.App.ErrWriter))
		return false, errNotParsed
	}
	out := config.Format(src)
	if bytes.Equal(src, out) {
		return false, nil
	}
	fmt.Fprintln(c.App.Writer, path)
	if c.Bool("check") {
		return true, nil
	}
	return true, atomicfile.WriteFile(path, out, 0o644)
}

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "print the HCL equivalent of the original script's config.yaml",
		ArgsUsage: "config.yaml",
		Description: `convert reads the YAML configuration of the original sync script and
prints the equivalent ldapsync.hcl on stdout.

Example:
   ldapsync convert config.yaml > ldapsync.hcl`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("Error: convert needs exactly one argument: the YAML file", exitError)
			}
			out, diags := config.Convert(c.Args().First())
			if diags.HasErrors() {
				_ = config.WriteDiagnostics(c.App.ErrWriter, nil, diags, false)
				return cli.Exit("", exitError)
			}
			_, err := c.App.Writer.Write(out)
			return err
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Description: `version prints the ldapsync version (set at build time, or the module
version of a 'go install' build), the Go version and the platform, as
'ldapsync --version' does.

Examples:
   ldapsync version
   ldapsync --version`,
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintln(c.App.Writer, versionLine())
			return err
		},
	}
}

// versionLine is what `ldapsync version` and `ldapsync --version` print:
// the version (from -ldflags, else the module version of a `go install`
// build), the Go version and the platform.
func versionLine() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("ldapsync %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
