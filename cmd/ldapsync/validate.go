package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine/config"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check a configuration (with -online, against the directory's schema too)",
		Description: `validate loads the configuration, evaluates variables and connection
settings and checks every block and attribute. Errors are printed with
file:line:col and the source line. Without -online it contacts no server
and needs no secret: a sensitive variable without a value, or an unset
environment variable read by env() in a password, key or token setting,
is named in a warning ("not checked without its value") instead of failing
validate; plan, apply and check still need them.

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
			online := c.Bool("online")
			var opts []config.Option
			if !online { // -online connects, and needs the bind passwords
				opts = append(opts, config.WithoutSecrets())
			}
			ws, err := openWorkspace(c, args, opts...)
			if err != nil {
				return err
			}
			defer ws.logClose()
			var schemaErr error
			if online {
				schemaErr = checkSchema(c, ws)
			}
			r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
			for _, w := range ws.warnings {
				r.printf("%s %s\n", r.yellow.Sprint("Warning:"), plain(w))
			}
			for _, u := range ws.cfg.Unchecked {
				r.printf("%s not checked without its value: %s\n", r.yellow.Sprint("Warning:"), plain(u))
			}
			if schemaErr != nil {
				return schemaErr
			}
			msg := fmt.Sprintf("Success! The configuration %s is valid.", args.ConfigPath)
			switch n := len(ws.cfg.Unchecked); {
			case n == 1:
				msg = fmt.Sprintf("Success! The configuration %s is valid; 1 secret setting was not checked: set it for plan and apply.", args.ConfigPath)
			case n > 1:
				msg = fmt.Sprintf("Success! The configuration %s is valid; %d secret settings were not checked: set them for plan and apply.", args.ConfigPath, n)
			}
			r.printf("%s\n", r.green.Sprint(msg))
			return nil
		},
	}
}
