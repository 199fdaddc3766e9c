package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check a configuration (with -online, against the directory's schema too)",
		Description: `validate loads the configuration, evaluates variables and connection
settings and checks every block and attribute. Errors are printed with
file:line:col and the source line. Without -online it contacts no server.

With -online it also connects to every directory the mapping reads (and to
nothing else), reads its schema and refuses a mapping that reads an
attribute the schema does not define (or an alias such as surname, whose
values the directory returns as sn), with a did-you-mean, as plan does.
A schema the bind account may not read is a warning, not an error.

Examples:
   ldapsync validate
   ldapsync validate -online
   ldapsync validate -config examples/active-directory/ldapsync.hcl -var ldap_password=x`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "online", Usage: "also read the directories' schemas and check the attributes the mapping reads"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			args := parseGlobalArgs(c)
			ws, err := openWorkspace(c, args)
			if err != nil {
				return err
			}
			defer ws.logClose()
			var schemaErr error
			if c.Bool("online") {
				schemaErr = checkSchema(c, ws)
			}
			r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
			for _, w := range ws.warnings {
				r.printf("%s %s\n", r.yellow.Sprint("Warning:"), plain(w))
			}
			if schemaErr != nil {
				return schemaErr
			}
			r.printf("%s\n", r.green.Sprint(fmt.Sprintf("Success! The configuration %s is valid.", args.ConfigPath)))
			return nil
		},
	}
}
