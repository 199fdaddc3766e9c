package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check a configuration without contacting any server",
		Description: `validate loads the configuration, evaluates variables and connection
settings and checks every block and attribute. Errors are printed with
file:line:col and the source line.

Examples:
   ldapsync validate
   ldapsync validate -config examples/active-directory/ldapsync.hcl -var ldap_password=x`,
		Flags: commonFlags(),
		Action: func(c *cli.Context) error {
			args := parseGlobalArgs(c)
			ws, err := openWorkspace(c, args)
			if err != nil {
				return err
			}
			defer ws.logClose()
			r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
			for _, w := range ws.warnings {
				r.printf("%s %s\n", r.yellow.Sprint("Warning:"), w)
			}
			r.printf("%s\n", r.green.Sprint(fmt.Sprintf("Success! The configuration %s is valid.", args.ConfigPath)))
			return nil
		},
	}
}
