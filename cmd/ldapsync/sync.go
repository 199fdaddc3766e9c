package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "plan and apply in one step, for cron",
		Description: `sync makes a plan and applies it at once, under the same safety policies:
a plan blocked by a policy applies nothing and exits 3. sync has no
-force: to lift a block, make the plan with 'ldapsync plan -force -out
plan.json', review it, and apply it with 'ldapsync apply -force plan.json'.
It reads the original sync script's YAML configuration unchanged.

The plan it shows lists the first 50 changes of each action and counts
the rest; -verbose lists them all.

Examples:
   ldapsync sync --config config.yaml --log-file sync.log
   ldapsync sync -config ldapsync.hcl -log-format json -log-file /var/log/ldapsync.jsonl`,
		Flags: append(commonFlags(),
			&cli.DurationFlag{Name: "lock-timeout", Value: 30 * time.Second, Usage: "how long to wait for the state lock"},
			&cli.IntFlag{Name: "max-errors", Value: -1, DefaultText: "the policy's max_errors", Usage: "stop after this many failed changes"},
			verboseFlag(),
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
			plan, err := makePlan(c, ws, false, time.Hour)
			if err != nil {
				return err
			}
			r := newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer))
			r.list = listingFor(c.Bool("verbose"), "", "sync")
			r.Plan(plan)
			flushOutput(c.App.Writer) // the plan shows before the apply starts
			if plan.IsBlocked() {
				ws.log.Error("sync blocked by safety policy; nothing applied", "reasons", plan.Blocked.Reasons)
				if plan.Seats.Exceeded() {
					return cli.Exit("Error: the plan is blocked: it would leave more accounts active than policy.seats allows (-force does not lift this); nothing was applied. Free seats, or raise seats once the site has the licences.", exitBlocked)
				}
				return cli.Exit(syncBlockedMessage(args), exitBlocked)
			}
			if !applyable(plan) {
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

// syncBlockedMessage is sync's refusal of a blocked plan. sync has no
// -force: to lift the block, make the plan with plan -force, review it,
// and apply exactly that plan with apply -force.
func syncBlockedMessage(args globalArgs) string {
	flags := configFlags(args)
	return fmt.Sprintf("Error: the plan is blocked by a safety policy; nothing was applied. sync does not override safety limits. "+
		"If the changes are intended, make the plan with the override and review it:\n"+
		"    ldapsync plan%s -force -out plan.json\n"+
		"then apply exactly that plan:\n"+
		"    ldapsync apply%s -force plan.json", flags, flags)
}

// configFlags writes the configuration flags of args as a command line
// would give them (" -config config.yaml -var pw=VALUE"), "" for the
// defaults. Variable values are not written: they may be secrets.
func configFlags(args globalArgs) string {
	var b strings.Builder
	if args.ConfigPath != "" && args.ConfigPath != "ldapsync.hcl" {
		fmt.Fprintf(&b, " -config %s", shellWord(args.ConfigPath))
	}
	for _, f := range args.VarFiles {
		fmt.Fprintf(&b, " -var-file %s", shellWord(f))
	}
	for _, kv := range args.Vars {
		name, _, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, " -var %s=VALUE", shellWord(name))
	}
	return b.String()
}

// shellWord quotes s for a POSIX shell when it is not a plain word.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-=+:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
