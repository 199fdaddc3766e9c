package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
)

// driftArgs are the settings of one `ldapsync drift` run.
type driftArgs struct {
	globalArgs
	JSON             bool
	Markdown         bool
	DetailedExitcode bool
}

func driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "report how ftrack differs from the directory and from the last apply",
		Description: `drift compares three views: desired (the directory), actual (ftrack now)
and last-applied (the state file). It reports pending changes (the directory
moved on), out-of-band edits (someone changed ftrack by hand since the last
apply) and unmanaged active users. It writes nothing to ftrack.

Examples:
   ldapsync drift
   ldapsync drift -detailed-exitcode     # 0 in sync, 1 error, 2 drift found
   ldapsync drift -markdown > drift.md`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the report as Markdown"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 when in sync, 2 when drift is found"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			return runDrift(c, driftArgs{globalArgs: parseGlobalArgs(c), JSON: c.Bool("json"), Markdown: c.Bool("markdown"), DetailedExitcode: c.Bool("detailed-exitcode")})
		},
	}
}

func runDrift(c *cli.Context, args driftArgs) error {
	ws, err := openWorkspace(c, args.globalArgs)
	if err != nil {
		return err
	}
	defer ws.logClose()
	prior, err := ws.loadState()
	if err != nil {
		return err
	}
	noState := missingStateWarning(ws.state, prior)
	prog := newProgress(c.App.ErrWriter, args.NoColor)
	report, err := engine.Drift(c.Context, engine.DriftRequest{
		Sources:     ws.sources,
		Mapper:      ws.mapper,
		Target:      ws.target,
		Policy:      ws.cfg.Policy,
		LastApplied: prior,
		Now:         now().UTC(),
		Progress:    prog.Stage,
		Groups:      ws.cfg.GroupSpecs(),
		TargetUser:  ws.targetUser,
	})
	prog.Finish()
	if err != nil {
		ws.log.Error("drift failed", "error", err.Error())
		return err
	}
	report.Warnings = append(append(append([]string{}, noState...), ws.warnings...), report.Warnings...)
	for _, it := range report.Items {
		ws.log.Info("drift", "key", it.Key, "kind", string(it.Kind), "action", string(it.Action), "reason", it.Reason)
	}
	ws.log.Info("drift finished", "items", len(report.Items))
	switch {
	case args.JSON:
		if err := printJSON(c, report); err != nil {
			return err
		}
	case args.Markdown:
		fmt.Fprint(c.App.Writer, driftMarkdown(report))
	default:
		newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer)).Drift(report)
	}
	if args.DetailedExitcode && report.HasDrift() {
		return cli.Exit("", exitChanges)
	}
	return nil
}

// missingStateWarning warns, when the backend holds no state, that drift
// has no last-applied values: a hand edit in ftrack then looks like a
// change the directory asks for, and is reported as pending.
func missingStateWarning(store state.Backend, la *engine.LastApplied) []string {
	if la.Exists {
		return nil
	}
	return []string{fmt.Sprintf("no state in %s: drift has no last-applied values to compare with, so edits made in ftrack by hand cannot be told apart from pending directory changes and are reported as pending; ldapsync apply records those values in the state (the state block)", store.Describe())}
}

// driftKinds is the order drift kinds are shown in, with their titles.
var driftKinds = []struct {
	kind  engine.DriftKind
	title string
	hint  string
}{
	{engine.DriftOutOfBand, "Edited in ftrack since the last apply (out-of-band)", "the next apply restores the directory's values"},
	{engine.DriftPending, "Pending: the directory moved on", "run ldapsync plan to review the changes"},
	{engine.DriftUnmanaged, "Active ftrack users ldapsync does not manage", "never changed by ldapsync"},
}

func fieldView(field string, s *string) string {
	if s == nil {
		return "-"
	}
	for _, uf := range engine.UserFields() {
		if uf.Name == field && uf.Bool {
			return *s // booleans bare, as the plan shows them
		}
	}
	return fmt.Sprintf("%q", *s)
}

// Drift renders a drift report as text.
func (r *renderer) Drift(rep *engine.DriftReport) {
	if !rep.HasDrift() {
		r.printf("%s Managed users in ftrack match the directory and the last apply.\n", r.green.Sprint("No drift."))
	}
	for _, k := range driftKinds {
		var items []engine.DriftItem
		for _, it := range rep.Items {
			if it.Kind == k.kind {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			continue
		}
		r.printf("\n%s %s\n", r.bold.Sprintf("%s (%d)", k.title, len(items)), r.faint.Sprintf("— %s", k.hint))
		for _, it := range items {
			line := "  " + r.yellow.Sprint("!") + " " + r.bold.Sprint(plain(it.Key))
			if it.Action != "" {
				line += " would be " + strings.TrimPrefix(actionStyles[it.Action].verb, "will be ")
			}
			if it.Reason != "" {
				line += r.faint.Sprintf(" (%s)", plain(it.Reason))
			}
			r.printf("%s\n", line)
			for _, f := range it.Fields {
				r.printf("      %-12s directory %s, ftrack %s, last applied %s\n", plain(f.Field)+":", fieldView(f.Field, f.Desired), fieldView(f.Field, f.Actual), fieldView(f.Field, f.LastApplied))
			}
		}
	}
	for _, w := range rep.Warnings {
		r.printf("\n%s %s", r.yellow.Sprint("Warning:"), plain(w))
	}
	if len(rep.Warnings) > 0 {
		r.printf("\n")
	}
	r.printf("\n%s\n", r.bold.Sprintf("Drift: %d pending, %d out-of-band, %d unmanaged.",
		rep.Count(engine.DriftPending), rep.Count(engine.DriftOutOfBand), rep.Count(engine.DriftUnmanaged)))
}

// driftMarkdown renders a drift report for an issue or a chat message.
func driftMarkdown(rep *engine.DriftReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## ldapsync drift report for %s `%s`\n\n", rep.Target.Type, mdEscape(rep.Target.Name))
	fmt.Fprintf(&b, "| pending | out-of-band | unmanaged |\n|---:|---:|---:|\n| %d | %d | %d |\n\n",
		rep.Count(engine.DriftPending), rep.Count(engine.DriftOutOfBand), rep.Count(engine.DriftUnmanaged))
	var sections []string
	if len(rep.Warnings) > 0 {
		var s strings.Builder
		s.WriteString("### Warnings\n\n")
		for _, w := range rep.Warnings {
			fmt.Fprintf(&s, "- %s\n", mdEscape(w))
		}
		sections = append(sections, s.String()+"\n")
	}
	for _, k := range driftKinds {
		var s strings.Builder
		n := 0
		for _, it := range rep.Items {
			if it.Kind != k.kind {
				continue
			}
			if n == 0 {
				fmt.Fprintf(&s, "### %s\n\n| user | change | field | directory | ftrack | last applied |\n|---|---|---|---|---|---|\n", k.title)
			}
			n++
			if len(it.Fields) == 0 {
				fmt.Fprintf(&s, "| `%s` | %s | | | | |\n", mdEscape(it.Key), mdEscape(string(it.Action)))
			}
			for _, f := range it.Fields {
				fmt.Fprintf(&s, "| `%s` | %s | %s | %s | %s | %s |\n", mdEscape(it.Key), mdEscape(string(it.Action)), mdEscape(f.Field),
					mdEscape(fieldView(f.Field, f.Desired)), mdEscape(fieldView(f.Field, f.Actual)), mdEscape(fieldView(f.Field, f.LastApplied)))
			}
		}
		if n > 0 {
			sections = append(sections, s.String()+"\n")
		}
	}
	footer := fmt.Sprintf("Checked at %s.\n", rep.CheckedAt)
	return appendWithinLimit(&b, sections, footer, "ldapsync show plan.json") // the note as it always read
}
