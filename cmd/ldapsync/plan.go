package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state/atomicfile"
)

// planArgs are the settings of one `ldapsync plan` run.
type planArgs struct {
	globalArgs
	Out              string
	Markdown         string
	JSON             bool
	DetailedExitcode bool
	Force            bool
	Verbose          bool
	ExpiresIn        time.Duration
	Targets          []string
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "read the directory and ftrack and save the changes as a plan",
		Description: `plan reads every source and the target, applies the mappings and policies,
and shows what apply would do. With -out it saves the plan as JSON for a
later 'ldapsync apply'; with -markdown it writes a pull-request comment.
Nothing is written to ftrack.

Examples:
   ldapsync plan
   ldapsync plan -out plan.json -markdown plan.md
   ldapsync plan -detailed-exitcode    # 0 no changes, 2 changes, 3 blocked
   ldapsync plan -target user.jdoe -out plan.json   # only one new hire, now

With LDAPSYNC_PLAN_KEY set the plan is signed (HMAC-SHA256) and apply
verifies the signature.

Long lists are cut: the text and -markdown show the first 50 changes of
each action (and of the conflicts, skipped entries and warnings), then
a line such as "… and 94,950 more creates (ldapsync show -verbose
plan.json, or -json)". -verbose lists everything; -json and the -out
file always hold every change. Markdown also stops at 60,000 characters
(code hosts cap comments at 65,536).`,
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: "out", Usage: "write the plan as JSON to `FILE`"},
			&cli.StringFlag{Name: "markdown", Usage: "write the plan as Markdown to `FILE` (for a pull-request comment)"},
			&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON on stdout instead of text"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 when there are no changes, 2 when there are, 3 when blocked"},
			&cli.BoolFlag{Name: "force", Usage: "lift a safety-policy block; the override is recorded in the plan"},
			verboseFlag(),
			&cli.DurationFlag{Name: "expires-in", Value: 24 * time.Hour, Usage: "how long the saved plan may be applied"},
			&cli.StringSliceFlag{Name: "target", Usage: "restrict the plan to `user.NAME` (repeatable); the safety limits still count every change"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			return runPlan(c, planArgs{
				globalArgs:       parseGlobalArgs(c),
				Out:              c.String("out"),
				Markdown:         c.String("markdown"),
				JSON:             c.Bool("json"),
				DetailedExitcode: c.Bool("detailed-exitcode"),
				Force:            c.Bool("force"),
				Verbose:          c.Bool("verbose"),
				ExpiresIn:        c.Duration("expires-in"),
				Targets:          c.StringSlice("target"),
			})
		},
	}
}

// planKey returns the plan signing key from LDAPSYNC_PLAN_KEY, or nil.
func planKey() []byte {
	if k := os.Getenv("LDAPSYNC_PLAN_KEY"); k != "" {
		return []byte(k)
	}
	return nil
}

// makePlan builds a plan for the workspace: shared by plan and sync.
func makePlan(c *cli.Context, ws *workspace, force bool, expiresIn time.Duration, targets ...string) (*engine.Plan, error) {
	if err := checkSchema(c, ws); err != nil {
		return nil, err
	}
	prior, err := ws.loadState()
	if err != nil {
		return nil, err
	}
	prog := newProgress(c.App.ErrWriter, ws.args.NoColor)
	defer prog.Finish()
	req := ws.planRequest(prior)
	req.PolicyRaw, req.ConfigDigest, req.ToolVersion = ws.cfg.PolicyRaw, ws.cfg.Digest, version
	req.ExpiresIn, req.Targets, req.Force, req.Progress = expiresIn, targets, force, prog.Stage
	plan, err := engine.BuildPlan(c.Context, req)
	if err != nil {
		ws.log.Error("plan failed", "error", err.Error())
		return nil, err
	}
	plan.Warnings = append(append([]string{}, ws.warnings...), plan.Warnings...)
	logPlan(ws, plan)
	return plan, nil
}

func logPlan(ws *workspace, p *engine.Plan) {
	for _, s := range p.Sources {
		ws.log.Info("source read", "source", s.Name, "type", s.Type, "entries", s.Entries)
	}
	for _, s := range p.Skipped {
		ws.log.Warn("entry skipped", "source", s.Source, "dn", s.DN, "reason", s.Reason)
	}
	for _, w := range p.Warnings {
		ws.log.Warn("warning", "message", w)
	}
	ws.log.Info("plan", "plan_id", p.PlanID, "summary", planSummaryLine(p), "blocked", p.IsBlocked())
}

func runPlan(c *cli.Context, args planArgs) error {
	ws, err := openWorkspace(c, args.globalArgs)
	if err != nil {
		return err
	}
	defer ws.logClose()
	plan, err := makePlan(c, ws, args.Force, args.ExpiresIn, args.Targets...)
	if err != nil {
		return err
	}
	out := c.App.Writer
	// The plan is streamed (engine.WritePlan): to the file, and to stdout
	// as well with -json; never held whole in memory.
	switch {
	case args.Out != "":
		err := atomicfile.WriteStream(args.Out, 0o600, func(w io.Writer) error {
			if args.JSON {
				w = io.MultiWriter(w, out)
			}
			return engine.WritePlan(w, plan, planKey())
		})
		if err != nil {
			return fmt.Errorf("writing plan: %w", err)
		}
	case args.JSON:
		if err := engine.WritePlan(out, plan, planKey()); err != nil {
			return err
		}
	}
	list := listingFor(args.Verbose, args.Out, "plan")
	if args.Markdown != "" {
		if err := atomicfile.WriteFile(args.Markdown, []byte(planMarkdownListing(plan, list)), 0o600); err != nil {
			return fmt.Errorf("writing markdown: %w", err)
		}
	}
	if !args.JSON {
		r := newRenderer(out, useColor(args.NoColor, out))
		r.list = list
		r.Plan(plan)
		switch {
		case args.Out != "" && plan.IsBlocked():
			r.printf("\nSaved the blocked plan to %s for review; apply will refuse it.\n", args.Out)
		case args.Out != "" && applyable(plan):
			force := ""
			if plan.Blocked != nil && plan.Blocked.Overridden && len(planKey()) == 0 {
				force = "-force " // an unsigned plan's override is confirmed at apply
			}
			r.printf("\nSaved the plan to %s. Apply exactly this plan with:\n    ldapsync apply %s%s\n", args.Out, force, args.Out)
		case args.Out != "":
			r.printf("\nSaved the plan to %s.\n", args.Out)
		}
	}
	return planExit(plan, args.DetailedExitcode)
}

// planExit maps a plan to the exit code: 3 when blocked, 2 with
// -detailed-exitcode when there are changes. (sync says how to go on
// from a blocked plan itself: syncBlockedMessage.)
func planExit(p *engine.Plan, detailed bool) error {
	if p.IsBlocked() && p.Seats.Exceeded() {
		return cli.Exit("Error: the plan is blocked: it would leave more accounts active than policy.seats allows, which -force does not lift; free seats, make a plan for fewer users (plan -target), or raise seats once the site has the licences.", exitBlocked)
	}
	if p.IsBlocked() {
		return cli.Exit("Error: the plan is blocked by a safety policy; review it, then re-run plan with -force to override.", exitBlocked)
	}
	if detailed && applyable(p) {
		return cli.Exit("", exitChanges)
	}
	return nil
}

// applyable reports whether applying p would do anything: changes, or
// grace-period clocks to record (plan writes nothing; apply records them).
func applyable(p *engine.Plan) bool {
	return len(p.Changes) > 0 || len(p.Observations) > 0
}

// verboseFlag is -verbose of the commands that render plans.
func verboseFlag() cli.Flag {
	return &cli.BoolFlag{Name: "verbose", Usage: fmt.Sprintf("list every change, conflict, skipped entry and warning (without it each list shows its first %d and counts the rest)", maxListed)}
}

// printJSON writes v as indented JSON.
func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
