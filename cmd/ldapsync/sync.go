package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "plan and apply in one step, for cron",
		Description: `sync makes a plan and applies it at once, under the same safety policies:
a plan blocked by a policy applies nothing and exits 3. It reads the
original sync script's YAML configuration unchanged.

Examples:
   ldapsync sync --config config.yaml --log-file sync.log
   ldapsync sync -config ldapsync.hcl -log-format json -log-file /var/log/ldapsync.jsonl`,
		Flags: append(commonFlags(),
			&cli.DurationFlag{Name: "lock-timeout", Value: 30 * time.Second, Usage: "how long to wait for the state lock"},
			&cli.IntFlag{Name: "max-errors", Value: -1, Usage: "stop after this many failed changes (default: the policy's max_errors)"},
		),
		Action: func(c *cli.Context) error {
			args := parseGlobalArgs(c)
			ws, err := openWorkspace(c, args)
			if err != nil {
				return err
			}
			defer ws.logClose()
			plan, err := makePlan(c, ws, false, time.Hour)
			if err != nil {
				return err
			}
			r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
			r.Plan(plan)
			if plan.IsBlocked() {
				ws.log.Error("sync blocked by safety policy; nothing applied", "reasons", plan.Blocked.Reasons)
				return planExit(plan, false)
			}
			if len(plan.Changes) == 0 {
				return nil
			}
			// Round-trip through the plan file format so sync executes the same
			// contract apply would, with the same checks (the directory is
			// read again: a change between the two reads is stale).
			data, err := engine.MarshalPlan(plan, planKey())
			if err != nil {
				return err
			}
			verified, err := engine.UnmarshalPlan(data, planReadOptions(ws))
			if err != nil {
				return err
			}
			r.printf("\n")
			return applyPlan(c, ws, verified, applyOptions{LockTimeout: c.Duration("lock-timeout"), MaxErrors: c.Int("max-errors"), VerifySource: true})
		},
	}
}
