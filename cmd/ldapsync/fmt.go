package main

import (
	"bytes"
	"fmt"
	"os"

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
formatting, for CI.

Examples:
   ldapsync fmt
   ldapsync fmt -check ldapsync.hcl`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "only check; exit 3 when a file is not formatted"},
		},
		Action: func(c *cli.Context) error {
			files := c.Args().Slice()
			if len(files) == 0 {
				files = []string{"ldapsync.hcl"}
			}
			unformatted := 0
			for _, path := range files {
				src, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				out := config.Format(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				fmt.Fprintln(c.App.Writer, path)
				if !c.Bool("check") {
					if err := atomicfile.WriteFile(path, out, 0o644); err != nil {
						return err
					}
				}
			}
			if c.Bool("check") && unformatted > 0 {
				return cli.Exit(fmt.Sprintf("Error: %d file(s) are not formatted; run ldapsync fmt", unformatted), exitUnformatted)
			}
			return nil
		},
	}
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
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "ldapsync %s\n", version)
			return err
		},
	}
}
