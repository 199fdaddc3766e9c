package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say why a user is (or is not) created, updated or deactivated",
		ArgsUsage: "NAME...",
		Description: `explain reads the directory and ftrack as plan does, writes nothing, and
for each NAME (a username, uid or DN) shows the directory entry as mapped,
the ftrack account, the rules that apply and the change a plan would make
now, or why there is none.

Examples:
   ldapsync explain jdoe
   ldapsync explain jdoe "uid=anna,ou=users,dc=example,dc=com"
   ldapsync explain -json jdoe`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the explanations as JSON"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("Error: explain needs at least one name: a username, uid or DN", exitError)
			}
			return runExplain(c, parseGlobalArgs(c), c.Args().Slice(), c.Bool("json"))
		},
	}
}

func runExplain(c *cli.Context, args globalArgs, names []string, asJSON bool) error {
	ws, err := openWorkspace(c, args)
	if err != nil {
		return err
	}
	defer ws.logClose()
	prior, err := ws.loadState()
	if err != nil {
		return err
	}
	out, err := engine.Explain(c.Context, ws.planRequest(prior), names)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c, out)
	}
	r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
	for i, e := range out {
		if i > 0 {
			r.printf("\n")
		}
		r.explanation(e)
	}
	return nil
}

// rolesText is "Project Manager (all open projects), Assignee (Secret)".
func rolesText(roles []engine.RoleGrant) string {
	parts := make([]string, 0, len(roles))
	for _, g := range roles {
		var where []string
		if g.AllOpen {
			where = append(where, "all open projects")
		}
		where = append(where, g.Projects...)
		if len(where) == 0 {
			where = []string{"no project"}
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", g.Role, strings.Join(where, ", ")))
	}
	return strings.Join(parts, ", ")
}

// explanation renders one explanation as text.
func (r *renderer) explanation(e engine.Explanation) {
	r.printf("%s\n", r.bold.Sprintf("%s", plain(e.Query)))
	if en := e.Entry; en != nil {
		r.printf("  directory  %s (source %s, stable id %s)\n", plain(en.DN), plain(en.Source), plain(en.SourceID))
		keys := make([]string, 0, len(en.Fields))
		for k := range en.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.printf("      %-12s %q\n", plain(k)+":", en.Fields[k])
		}
		if len(en.Groups) > 0 {
			r.printf("      %-12s %s\n", "groups:", plain(strings.Join(en.Groups, ", ")))
		}
		if len(en.Roles) > 0 {
			r.printf("      %-12s %s\n", "roles:", plain(rolesText(en.Roles)))
		}
		if en.Disabled != "" {
			r.printf("      %-12s %s\n", "disabled:", plain(en.Disabled))
		}
	} else {
		r.printf("  directory  no mapped entry\n")
	}
	for _, s := range e.Skipped {
		r.printf("  skipped    %s: %s\n", plain(s.DN), plain(s.Reason))
	}
	if a := e.Account; a != nil {
		owner := a.Owner
		if owner == "" {
			owner = "none (unmanaged)"
		}
		r.printf("  ftrack     %s (id %s, owner %s, active %t)\n", plain(a.Username), plain(a.ID), plain(owner), a.Active)
		if len(a.Roles) > 0 {
			r.printf("      %-12s %s\n", "roles:", plain(rolesText(a.Roles)))
		}
	} else {
		r.printf("  ftrack     no account\n")
	}
	if e.Held != "" {
		r.printf("  held       %s\n", plain(e.Held))
	}
	for _, n := range e.Notes {
		r.printf("  note       %s\n", plain(n))
	}
	for _, ch := range e.Changes {
		r.printf("  change     %s %s (%s)\n", ch.Action, plain(describe(ch)), plain(ch.Why()))
	}
	r.printf("  → %s\n", plain(e.Outcome))
}
