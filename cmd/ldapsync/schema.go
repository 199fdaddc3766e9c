package main

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/providers/registry"
)

// checkSchema reads the schema of every directory the mapping reads and
// refuses a mapping that reads an attribute no schema defines, or an alias
// the directory returns no values under (surname for sn): the diagnostics are printed like the configuration's (file:line:col, the
// source line, a did-you-mean) and the command exits 1. A schema that
// cannot be read is a warning added to ws.warnings (printed by validate,
// carried into the plan by makePlan), never a refusal. It connects to the
// directories and to nothing else. validate -online calls it; so does
// makePlan, before anything else, so a refused mapping leaves no state
// file and no plan.
func checkSchema(c *cli.Context, ws *workspace) error {
	diags, warnings, err := registry.CheckAttributes(c.Context, ws.sources, ws.mapper)
	ws.warnings = append(ws.warnings, warnings...)
	for _, w := range warnings {
		ws.log.Warn("schema not checked", "message", w)
	}
	if err != nil {
		ws.log.Error("schema check failed", "error", err.Error())
		return err
	}
	if len(diags) == 0 {
		return nil
	}
	stderr := c.App.ErrWriter
	writeDiagnostics(stderr, ws.cfg, diags, useColor(ws.args.NoColor, stderr))
	for _, d := range diags {
		at := ""
		if d.Subject != nil {
			at = d.Subject.String()
		}
		if d.Severity == hcl.DiagError {
			ws.log.Error("attribute refused", "at", at, "summary", d.Summary, "detail", d.Detail)
		} else {
			ws.log.Warn("attribute not checked", "at", at, "summary", d.Summary, "detail", d.Detail)
		}
	}
	if diags.HasErrors() {
		return cli.Exit("", exitError)
	}
	return nil
}
