package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
)

// stateCommand is `ldapsync state`: look at the state backend, release a
// lock a crashed run left behind, copy the state to another backend.
func stateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "show the state, release a left-behind lock, or migrate the state to another backend",
		Description: `The state is ldapsync's last-applied view (what it wrote, the grace-period
clocks and the apply journal), kept by the backend the configuration's state
block names: a local file, a server for Terraform's http backend, or the
ftrack site itself.

Examples:
   ldapsync state show
   ldapsync state show -json
   ldapsync state force-unlock 6f1c2a7e-0d7b-4c35-9a43-3cf1b2f6e0d1
   ldapsync state migrate -to ldapsync.ftrack-state.hcl`,
		Subcommands: []*cli.Command{stateShowCommand(), stateForceUnlockCommand(), stateMigrateCommand()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("Error: state needs a subcommand: show, force-unlock or migrate (see ldapsync state --help)", exitError)
			}
			return cli.Exit(fmt.Sprintf("Error: unknown state subcommand %q: use show, force-unlock or migrate (see ldapsync state --help)", c.Args().First()), exitError)
		},
	}
}

func stateShowCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "print the backend, lock holder, lineage, serial, users and recent applies",
		Description: `show reads the state and prints what it holds. It also says who holds the
state lock now: it tries the lock without waiting, and releases it at once
when it was free. A lock another run holds is shown with its ID, operation,
who and since when, not as an error.

Examples:
   ldapsync state show
   ldapsync state show -json -applies 3
   ldapsync state show -json | jq .lock`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
			&cli.IntFlag{Name: "applies", Value: 10, Usage: "how many recent applies to list"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			ws, err := openWorkspace(c, parseGlobalArgs(c))
			if err != nil {
				return err
			}
			defer ws.logClose()
			la, err := ws.loadState()
			if err != nil {
				return err
			}
			sum := summarizeState(ws.state, la, c.Int("applies"))
			sum.Lock = probeLock(c, ws.state)
			if c.Bool("json") {
				return printJSON(c, sum)
			}
			renderStateSummary(newRenderer(c.App.Writer, useColor(ws.args.NoColor, c.App.Writer)), sum)
			return nil
		},
	}
}

// stateSummary is what `state show` prints.
type stateSummary struct {
	Backend       string         `json:"backend"`
	Type          string         `json:"type"`
	Exists        bool           `json:"exists"`
	Lineage       string         `json:"lineage,omitempty"`
	Serial        int64          `json:"serial"`
	Users         int            `json:"users"`
	ActiveUsers   int            `json:"active_users"`
	GraceClocks   int            `json:"grace_clocks"`
	ManagedGroups []string       `json:"managed_groups"`
	ManagedRoles  []string       `json:"managed_roles,omitempty"`
	Plans         int            `json:"plans"`
	RecentApplies []stateApplied `json:"recent_applies"`
	// Lock is who holds the state lock now, if anyone.
	Lock stateLock `json:"lock"`
}

// stateLock is the state lock as `state show` found it: "free" (it took
// the lock and released it at once), "locked" (with the holder as far as
// the backend says) or "error" (the backend did not answer the lock).
type stateLock struct {
	Status    string    `json:"status"`
	ID        string    `json:"id,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Who       string    `json:"who,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Info      string    `json:"info,omitempty"`
	// Holder is the holder in words (for a local lock file, its note).
	Holder string `json:"holder,omitempty"`
	// Remedy says what to do about it.
	Remedy string `json:"remedy,omitempty"`
	Error  string `json:"error,omitempty"`
}

// probeLock finds out who holds b's lock by trying to take it without
// waiting: a lock it gets is released at once. No backend can tell the
// holder otherwise (Terraform's http protocol has no way to read a lock).
func probeLock(c *cli.Context, b state.Backend) stateLock {
	unlock, err := b.Lock(c.Context, state.NewLockInfo("state show", version), 0)
	var le *state.LockedError
	switch {
	case errors.As(err, &le):
		l := stateLock{Status: "locked", Holder: lockHolder(le), Remedy: lockRemedy(b, le)}
		if h := le.Holder; h != nil {
			l.ID, l.Operation, l.Who, l.Since, l.Info = h.ID, h.Operation, h.Who, h.Created, h.Info
		}
		return l
	case err != nil:
		return stateLock{Status: "error", Error: plainMessage(err.Error())}
	}
	if err := unlock(); err != nil {
		return stateLock{Status: "error", Error: "the lock was free, but releasing it again failed: " + plainMessage(err.Error())}
	}
	return stateLock{Status: "free"}
}

// lockHolder is who holds the lock of le, in words.
func lockHolder(le *state.LockedError) string {
	if h := le.Holder; h != nil {
		return fmt.Sprintf("lock %s (%s by %s since %s)", plain(h.ID), plain(h.Operation), plain(h.Who), h.Created.UTC().Format(time.RFC3339))
	}
	if le.HolderText != "" {
		return plain(le.HolderText)
	}
	return "another run"
}

// lockRemedy is what to do about a lock another run holds on b.
func lockRemedy(b state.Backend, le *state.LockedError) string {
	if h := le.Holder; h != nil && stateLockCanBeLeft(b) {
		return fmt.Sprintf("wait for that run to finish; if it is gone (a crashed run), release its lock with: ldapsync state force-unlock %s", plain(h.ID))
	}
	return "wait for that run to finish"
}

// stateApplied is one plan of the apply journal, for `state show`.
type stateApplied struct {
	PlanID      string    `json:"plan_id"`
	Status      string    `json:"status"`
	BaseSerial  int64     `json:"base_serial"`
	Serial      int64     `json:"serial"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Done        int       `json:"done"`
	AlreadyDone int       `json:"already_done"`
	Failed      int       `json:"failed"`
}

// summarizeState counts la for `state show`, with the n most recent
// applies (latest first).
func summarizeState(b state.Backend, la *engine.LastApplied, n int) stateSummary {
	sum := stateSummary{Backend: b.Describe(), Type: b.Type(), Exists: la.Exists, ManagedGroups: append([]string{}, la.ManagedGroups...), ManagedRoles: la.ManagedRoles, RecentApplies: []stateApplied{}}
	if !la.Exists {
		return sum
	}
	sum.Lineage, sum.Serial, sum.Users, sum.GraceClocks, sum.Plans = la.Lineage, la.Serial, len(la.Users), len(la.Missing), len(la.Plans)
	for _, u := range la.Users {
		if u.Active {
			sum.ActiveUsers++
		}
	}
	for id, p := range la.Plans {
		a := stateApplied{PlanID: id, Status: p.Status, BaseSerial: p.BaseSerial, Serial: p.Serial, StartedAt: p.StartedAt, FinishedAt: p.FinishedAt}
		for _, o := range p.Outcomes {
			switch o {
			case engine.OutcomeDone:
				a.Done++
			case engine.OutcomeAlreadyDone:
				a.AlreadyDone++
			default:
				a.Failed++
			}
		}
		sum.RecentApplies = append(sum.RecentApplies, a)
	}
	sort.Slice(sum.RecentApplies, func(i, j int) bool {
		a, b := sum.RecentApplies[i], sum.RecentApplies[j]
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.After(b.StartedAt)
		}
		return a.PlanID < b.PlanID
	})
	if n >= 0 && len(sum.RecentApplies) > n {
		sum.RecentApplies = sum.RecentApplies[:n]
	}
	return sum
}

// renderStateSummary prints sum as text.
func renderStateSummary(r *renderer, sum stateSummary) {
	r.printf("Backend:  %s\n", plain(sum.Backend))
	switch l := sum.Lock; l.Status {
	case "free":
		r.printf("Lock:     free\n")
	case "locked":
		r.printf("Lock:     %s %s\n", r.yellow.Sprint("held by "+l.Holder+";"), l.Remedy)
	default:
		r.printf("Lock:     %s %s\n", r.red.Sprint("unknown:"), l.Error)
	}
	if !sum.Exists {
		r.printf("%s the first apply creates it.\n", r.yellow.Sprint("No state yet:"))
		return
	}
	r.printf("Lineage:  %s\n", plain(sum.Lineage))
	r.printf("Serial:   %d\n", sum.Serial)
	r.printf("Users:    %d managed (%d active), %d grace-period %s running\n", sum.Users, sum.ActiveUsers, sum.GraceClocks, pick(sum.GraceClocks, "clock", "clocks"))
	r.printf("Groups:   %d managed\n", len(sum.ManagedGroups))
	if n := len(sum.ManagedRoles); n > 0 {
		r.printf("Roles:    %d managed (%s)\n", n, plain(strings.Join(sum.ManagedRoles, ", ")))
	}
	if len(sum.RecentApplies) == 0 {
		r.printf("Applies:  none yet\n")
		return
	}
	r.printf("Recent applies (%d of %d, latest first):\n", len(sum.RecentApplies), sum.Plans)
	for _, a := range sum.RecentApplies {
		when := a.StartedAt.UTC().Format(time.RFC3339)
		r.printf("  %s  %-11s %s  serial %d -> %d  (%d done, %d already done, %d failed)\n",
			plain(a.PlanID), a.Status, when, a.BaseSerial, a.Serial, a.Done, a.AlreadyDone, a.Failed)
	}
}

func stateForceUnlockCommand() *cli.Command {
	return &cli.Command{
		Name:      "force-unlock",
		Usage:     "release the state lock a crashed run left behind",
		ArgsUsage: "LOCK_ID",
		Description: `force-unlock releases the lock with the ID the lock error shows, as
'terraform force-unlock' does. Only do it when the run that holds the lock is
gone (the lock error names who and since when): two applies at once can
each write what the other does not expect. A local state's lock is a flock,
which ends with its process; there is nothing to release. 'ldapsync state
show' names the holder of the lock and since when.

Examples:
   ldapsync state force-unlock 6f1c2a7e-0d7b-4c35-9a43-3cf1b2f6e0d1
   ldapsync state force-unlock -force 6f1c2a7e-0d7b-4c35-9a43-3cf1b2f6e0d1   # in CI, without a terminal`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "force", Usage: "do not ask for confirmation"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("Error: force-unlock needs the lock's ID (the one the lock error shows), and nothing else", exitError)
			}
			id := c.Args().First()
			ws, err := openWorkspace(c, parseGlobalArgs(c))
			if err != nil {
				return err
			}
			defer ws.logClose()
			if !c.Bool("force") {
				if !isTerminal(c.App.Reader) {
					return cli.Exit("Error: force-unlock needs a yes, and there is no terminal to ask on: pass -force (after making sure the run holding the lock is gone); nothing was changed", exitError)
				}
				if !confirm(c, fmt.Sprintf("Release lock %s on %s? Only do this when the run holding it is gone.", plain(id), plain(ws.state.Describe()))) {
					return cli.Exit("Error: force-unlock cancelled; nothing was changed", exitError)
				}
			}
			if err := ws.state.ForceUnlock(c.Context, id); err != nil {
				ws.log.Error("force-unlock failed", "lock_id", id, "error", err.Error())
				return err
			}
			ws.log.Warn("force-unlock", "lock_id", id, "backend", ws.state.Describe())
			fmt.Fprintf(c.App.Writer, "Released lock %s on %s.\n", plain(id), plain(ws.state.Describe()))
			return nil
		},
	}
}

// isTerminal reports whether r is a terminal (a character device).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// confirm asks question on stderr and reads the answer from stdin: only
// "yes" is yes, as Terraform asks.
func confirm(c *cli.Context, question string) bool {
	fmt.Fprintf(c.App.ErrWriter, "%s\nOnly 'yes' will be accepted: ", question)
	line, _ := bufio.NewReader(c.App.Reader).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func stateMigrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "copy the state to the backend another configuration names",
		Description: `migrate copies the state of this configuration's backend (-config) to the
backend the state block of another configuration names (-to), holding both
locks, and reads it back to check. The lineage and serial are kept, so
plans made before the move still apply after it. The old state is left as
it was. Then make the new state block the configuration's.

Examples:
   cp ldapsync.hcl ldapsync.new.hcl     # and change its state block to state "ftrack" {}
   ldapsync state migrate -to ldapsync.new.hcl
   mv ldapsync.new.hcl ldapsync.hcl
   ldapsync state migrate -to backup.hcl -lock-timeout 2m   # a scheduled copy to a local file

The destination must hold no state, or an older copy of the same one (same
lineage, a serial no higher, no applied plan the source does not know):
migrate never rolls a state back, nor replaces another one. To replace
another state on purpose, delete it where it is kept first.`,
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: "to", Usage: "the configuration `FILE` whose state block names the destination", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "migrate although the two configurations target different ftrack sites"},
			&cli.DurationFlag{Name: "lock-timeout", Value: 30 * time.Second, Usage: "how long to wait for each lock"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			args := parseGlobalArgs(c)
			src, err := openWorkspace(c, args)
			if err != nil {
				return err
			}
			defer src.logClose()
			dstArgs := args
			dstArgs.ConfigPath, dstArgs.LogFile = c.String("to"), ""
			dst, err := openWorkspace(c, dstArgs)
			if err != nil {
				return err
			}
			return migrateState(c, src, dst, c.Bool("force"), c.Duration("lock-timeout"))
		},
	}
}

// migrateState copies src's state to dst's backend, holding both locks,
// and checks the copy by reading it back.
func migrateState(c *cli.Context, src, dst *workspace, force bool, timeout time.Duration) error {
	from, to := src.state, dst.state
	if from.Describe() == to.Describe() {
		return cli.Exit(fmt.Sprintf("Error: -to names the same state (%s); nothing to migrate", plain(from.Describe())), exitError)
	}
	if a, b := src.target.Info(), dst.target.Info(); a.Endpoint != b.Endpoint && !force {
		return cli.Exit(fmt.Sprintf("Error: %s targets %s, but %s targets %s: a state belongs to one ftrack site; pass -force if this is intended", plain(src.cfg.Path), plain(a.Endpoint), plain(dst.cfg.Path), plain(b.Endpoint)), exitError)
	}
	info := state.NewLockInfo("state migrate", version)
	unlockFrom, err := from.Lock(c.Context, info, timeout)
	if err != nil {
		return err
	}
	defer unlockFrom()
	unlockTo, err := to.Lock(c.Context, info, timeout)
	if err != nil {
		return err
	}
	defer unlockTo()
	la, err := from.Load()
	if err != nil {
		return err
	}
	if !la.Exists {
		return cli.Exit(fmt.Sprintf("Error: there is no state in %s to migrate", plain(from.Describe())), exitError)
	}
	cur, err := to.Load()
	if err != nil {
		return err
	}
	if err := checkMigrateDestination(la, cur, to.Describe()); err != nil {
		return err
	}
	if err := to.Save(la); err != nil {
		return fmt.Errorf("writing the state to %s: %w", to.Describe(), err)
	}
	back, err := to.Load()
	if err != nil {
		return fmt.Errorf("reading the state back from %s: %w", to.Describe(), err)
	}
	if err := sameState(la, back); err != nil {
		return fmt.Errorf("the state read back from %s differs from the one written (%v); the old state in %s is untouched", to.Describe(), err, from.Describe())
	}
	src.log.Info("state migrated", "from", from.Describe(), "to", to.Describe(), "lineage", la.Lineage, "serial", la.Serial)
	fmt.Fprintf(c.App.Writer, "Copied the state (lineage %s, serial %d: %d users, %d plans in the journal) from %s to %s and read it back.\n"+
		"Make %s's state block the configuration's; the old state is left as it was (remove it once the new one is in use).\n",
		plain(la.Lineage), la.Serial, len(la.Users), len(la.Plans), plain(from.Describe()), plain(to.Describe()), plain(dst.cfg.Path))
	return nil
}

// checkMigrateDestination refuses a destination that holds a state which
// the copy would replace or roll back: another lineage, a higher serial,
// or an applied plan the source's journal does not have (a replay would
// then pass the journal). An older copy of the same state is brought up to
// date.
func checkMigrateDestination(src, dst *engine.LastApplied, where string) error {
	if !dst.Exists {
		return nil
	}
	refuse := func(why string) error {
		return cli.Exit(fmt.Sprintf("Error: %s already holds a state (lineage %s, serial %d, %d plans in its journal): %s; nothing was written. Delete it where it is kept first if it is to be replaced", plain(where), plain(dst.Lineage), dst.Serial, len(dst.Plans), why), exitError)
	}
	if dst.Lineage != src.Lineage {
		return refuse(fmt.Sprintf("another state than the one being copied (lineage %s)", plain(src.Lineage)))
	}
	if dst.Serial > src.Serial {
		return refuse(fmt.Sprintf("newer than the one being copied (serial %d): it would be rolled back", src.Serial))
	}
	for id := range dst.Plans {
		if _, ok := src.Plans[id]; !ok {
			return refuse(fmt.Sprintf("its journal has plan %s, which the copy does not: the copy would forget that it ran", plain(id)))
		}
	}
	return nil
}

// sameState compares two views by their state documents.
func sameState(a, b *engine.LastApplied) error {
	da, err := state.Marshal(a)
	if err != nil {
		return err
	}
	db, err := state.Marshal(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(da, db) {
		return fmt.Errorf("lineage %s serial %d with %d users, read back as lineage %s serial %d with %d users", a.Lineage, a.Serial, len(a.Users), b.Lineage, b.Serial, len(b.Users))
	}
	return nil
}
