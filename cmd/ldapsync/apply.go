package main

import (
	"fmt"
	"log/slog"
	"runtime/trace"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
)

// applyArgs are the settings of one `ldapsync apply` run.
type applyArgs struct {
	globalArgs
	PlanPath     string
	LockTimeout  time.Duration
	MaxErrors    int
	VerifySource bool
	Force        bool
}

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "execute exactly the changes of a saved plan",
		ArgsUsage: "plan.json",
		Description: `apply executes a plan saved by 'ldapsync plan -out'. The saved plan is the
approval: there is no prompt and no re-planning. Before writing anything
apply refuses a plan that was edited, signed with another key, made for
another target or configuration, expired, already applied, or whose users
changed in ftrack since it was made. It also re-reads ftrack and the
directory and refuses every change the configuration would not make now
(a protected or unowned account, a value the mapping does not give, a
leaver who is back), so an edited plan cannot write what the directory
does not say. Re-running the same plan after an interruption finishes the
rest without doing anything twice.

Flags may also follow the plan file: ldapsync apply plan.json -force.

Examples:
   ldapsync apply plan.json
   LDAPSYNC_PLAN_KEY=... ldapsync apply -lock-timeout 2m plan.json
   ldapsync apply -verify-source=false plan.json   # the apply job cannot reach the directory`,
		Flags: append(commonFlags(),
			&cli.DurationFlag{Name: "lock-timeout", Value: 30 * time.Second, Usage: "how long to wait for the state lock"},
			&cli.IntFlag{Name: "max-errors", Value: -1, DefaultText: "the policy's max_errors", Usage: "stop after this many failed changes"},
			&cli.BoolFlag{Name: "verify-source", Value: true, Usage: "re-read the directory and refuse changes the configuration would not make now; =false where the apply job cannot reach the directory (then only the ftrack checks and the signature guard the plan)"},
			&cli.BoolFlag{Name: "force", Usage: "confirm the -force override recorded in an unsigned plan"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("Error: apply needs exactly one argument: the plan file saved by 'ldapsync plan -out'", exitError)
			}
			return runApply(c, applyArgs{globalArgs: parseGlobalArgs(c), PlanPath: c.Args().First(), LockTimeout: c.Duration("lock-timeout"), MaxErrors: c.Int("max-errors"),
				VerifySource: c.Bool("verify-source"), Force: c.Bool("force")})
		},
	}
}

func runApply(c *cli.Context, args applyArgs) error {
	ws, err := openWorkspace(c, args.globalArgs)
	if err != nil {
		return err
	}
	defer ws.logClose()
	trace.Log(c.Context, "apply", "configuration loaded")
	plan, err := engine.ReadPlanFile(args.PlanPath, planReadOptions(ws))
	if err != nil {
		ws.log.Error("apply refused", "plan", args.PlanPath, "error", err.Error())
		return err
	}
	trace.Log(c.Context, "apply", "plan read")
	return applyPlan(c, ws, plan, applyOptions{LockTimeout: args.LockTimeout, MaxErrors: args.MaxErrors, VerifySource: args.VerifySource, Force: args.Force})
}

// planReadOptions are the plan file's integrity requirements: the signing
// key (LDAPSYNC_PLAN_KEY; unset and empty are the same: none) and the
// policy's require_signed_plans.
func planReadOptions(ws *workspace) engine.ReadOptions {
	return engine.ReadOptions{Key: planKey(), RequireSigned: ws.cfg.Policy.RequireSignedPlans}
}

// applyOptions are the settings applyPlan takes from the command line.
type applyOptions struct {
	LockTimeout  time.Duration
	MaxErrors    int
	VerifySource bool
	Force        bool
}

// applyPlan executes a plan read by engine.UnmarshalPlan: shared by apply
// and sync. engine.Apply re-derives and checks every change first.
func applyPlan(c *cli.Context, ws *workspace, plan *engine.Plan, opts applyOptions) (rerr error) {
	lockTimeout, maxErrors := opts.LockTimeout, opts.MaxErrors
	store, err := ws.openState()
	if err != nil {
		return err
	}
	unlock, err := store.Lock(c.Context, state.NewLockInfo("apply", version), lockTimeout)
	if err != nil {
		return err
	}
	defer func() {
		// A lock that is gone when released (force-unlocked, taken over)
		// means another run may have written meanwhile: an error, not a
		// success.
		if uerr := unlock(); uerr != nil {
			ws.log.Error("state unlock failed", "error", uerr.Error())
			if rerr == nil {
				rerr = uerr
			}
		}
	}()
	if maxErrors < 0 {
		maxErrors = ws.cfg.Policy.MaxErrors
	}
	trace.Log(c.Context, "apply", "state locked")
	prog := newProgress(c.App.ErrWriter, ws.args.NoColor)
	defer prog.Finish()
	ws.log.Info("apply", "plan_id", plan.PlanID, "summary", planSummaryLine(plan), "verify_source", opts.VerifySource, "signed", plan.Signed())
	if !opts.VerifySource {
		ws.log.Warn("apply -verify-source=false: the directory is not checked; only the ftrack checks and the signature guard this plan", "plan_id", plan.PlanID)
		fmt.Fprintln(c.App.ErrWriter, "Warning: -verify-source=false: the directory is not checked; only the ftrack checks and the plan's signature guard what this apply writes.")
	}
	logChange := func(ch engine.Change, outcome engine.Outcome, cerr error) {
		attrs := []any{"address", ch.Address, "action", string(ch.Action), "reason", ch.Why(), "target_id", ch.TargetID, "outcome", string(outcome)}
		for _, f := range diffFields(ch) {
			attrs = append(attrs, f.name+".before", f.before, f.name+".after", f.after)
		}
		switch {
		case cerr != nil:
			ws.log.Error("change failed", append(attrs, "error", cerr.Error())...)
		case outcome == engine.OutcomeAlreadyDone:
			ws.log.Info("change already done", attrs...)
		default:
			ws.log.Info("change applied", attrs...)
		}
	}
	if !ws.log.Enabled(c.Context, slog.LevelError) {
		logChange = nil // no audit log: the engine builds no line for it
	}
	report, err := engine.Apply(c.Context, engine.ApplyRequest{
		Plan:         plan,
		Target:       ws.target,
		State:        store,
		ConfigDigest: ws.cfg.Digest,
		Policy:       ws.cfg.Policy,
		Mapper:       ws.mapper,
		Sources:      ws.sources,
		Groups:       ws.cfg.GroupSpecs(),
		VerifySource: opts.VerifySource,
		TargetUser:   ws.targetUser,
		Force:        opts.Force,
		Now:          now().UTC(),
		MaxErrors:    maxErrors,
		Progress:     func(done, total int) { prog.Counted("applying", done, total) },
		Log:          logChange,
	})
	prog.Finish()
	trace.Log(c.Context, "apply", "engine returned")
	if report != nil {
		renderApplyReport(newRenderer(c.App.Writer, useColor(ws.args.NoColor, c.App.Writer)), report)
		ws.log.Info("apply finished", "plan_id", plan.PlanID, "executed", report.Executed.Total(), "failed", report.Failed.Total(), "already_done", report.AlreadyDone.Total())
	}
	if err != nil {
		ws.log.Error("apply failed", "plan_id", plan.PlanID, "error", err.Error())
		return err
	}
	return nil
}

// renderApplyReport prints the failures and one summary line: "Apply
// complete" only when every change of the plan is done, otherwise "Apply
// incomplete" with the count of failed (or not attempted) changes.
func renderApplyReport(r *renderer, rep *engine.ApplyReport) {
	for _, f := range rep.Failures {
		r.printf("  %s %s: %s\n", r.red.Sprint("✗"), plain(f.Address), plain(f.Err.Error()))
	}
	word := "complete"
	if !rep.Complete {
		word = "incomplete"
	}
	line := fmt.Sprintf("Apply %s: %d of %d planned changes executed (%d created, %d updated, %d deactivated, %d reactivated, %d adopted, %d memberships added, %d removed)",
		word, rep.Executed.Total(), rep.Planned.Total(),
		rep.Executed.Create, rep.Executed.Update, rep.Executed.Deactivate, rep.Executed.Reactivate, rep.Executed.Adopt, rep.Executed.AddMembership, rep.Executed.RemoveMembership)
	if n := rep.AlreadyDone.Total(); n > 0 {
		line += fmt.Sprintf(", %d already done", n)
	}
	if n := rep.Observations; n > 0 {
		line += fmt.Sprintf("; %d grace-period %s recorded", n, pick(n, "clock", "clocks"))
	}
	if !rep.SourceVerified {
		line += " (directory not checked: -verify-source=false)"
	}
	if n := rep.Failed.Total(); n > 0 {
		line += fmt.Sprintf(", %d FAILED", n)
	}
	if n := rep.NoSeats; n > 0 {
		line += fmt.Sprintf(" (%d of them waiting for a licence seat: no seat free in ftrack; free seats and run apply again)", n)
	}
	if !rep.Complete {
		r.printf("%s\n", r.red.Sprint(line+"."))
		return
	}
	r.printf("%s\n", r.green.Sprint(line+"."))
}
