// Command ldapsync keeps ftrack user accounts in step with an LDAP
// directory, the way Terraform keeps infrastructure in step with its
// configuration: plan writes a reviewable plan file, apply executes exactly
// that plan, drift reports differences for monitoring.
//
// The command layer is thin: one file per command, one renderer
// (render.go), and the wiring from configuration to providers (setup.go).
// All decisions live in package engine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ldapsync/ldapsync/engine"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, Terraform's shapes: 2 means changes or drift (only with
// -detailed-exitcode), 3 a plan blocked by a safety policy.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitBlocked = 3
	// exitUnformatted is `fmt -check` finding unformatted files: 3, as
	// terraform fmt -check does, so CI habits carry over.
	exitUnformatted = 3
)

func main() {
	tuneGC()
	stop := startProfiles(os.Stderr)
	code := run(os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// defaultGCPercent is the garbage collector's target when GOGC is not
// set: the heap may grow to 1.75 times what is live, not Go's default of
// 2 times. A plan holds every directory user and every change at once.
// Measured at 100,000 users (README, performance): at 100 the initial
// import peaks at 131 MB RSS and a steady-state plan costs 18 ms of CPU
// per 1,000 users; at 50, 106 MB and 27 ms; at 75, 117-119 MB and
// 25-29 ms (single runs, which vary): 75 keeps the first well under
// 150 MB at little CPU. GOGC in the environment wins.
const defaultGCPercent = 75

// tuneGC sets defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// usageError turns a flag the command line got wrong into one line, as
// every other error, instead of the whole help text.
func usageError(c *cli.Context, err error, _ bool) error {
	name := "ldapsync"
	if c.Command != nil && c.Command.Name != "" {
		name += " " + c.Command.Name
	}
	return cli.Exit(fmt.Sprintf("Error: %v (see %s --help)", err, name), exitError)
}

// run executes the command line and returns the process exit code. Flags
// may follow a command's arguments (see flagsFirst). Every message passes
// through plainMessage, so no Go type name reaches the user.
//
// stdout is buffered (output.go): flushed when the command ends, before
// any write to stderr, and before an exit.
func run(args []string, stdoutFile, stderrFile *os.File) int {
	stdout := newBufferedStdout(stdoutFile)
	stderr := stderrAfterStdout{file: stderrFile, stdout: stdout}
	flushStdout = func() { _ = stdout.Flush() }
	defer stdout.Flush() // also when a command panics
	code := runApp(args, stdout, stderr)
	if err := stdout.Flush(); err != nil && code == exitOK {
		fmt.Fprintf(stderrFile, "Error: writing the output: %s\n", plainMessage(err.Error()))
		return exitError
	}
	return code
}

// runApp is run once the output streams are set up.
func runApp(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
	app.OnUsageError = usageError
	for _, cmd := range app.Commands {
		cmd.OnUsageError = usageError
		for _, sub := range cmd.Subcommands {
			sub.OnUsageError = usageError
		}
	}
	ctx, stop := interruptContext(stderr)
	defer stop()
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, plainMessage(msg))
		}
		return ec.ExitCode()
	}
	var refusal *engine.RefusalError
	if errors.As(err, &refusal) {
		fmt.Fprintf(stderr, "Error: apply refused (%s): %s\n", refusal.Reason, plainMessage(refusal.Message))
		return exitError
	}
	fmt.Fprintf(stderr, "Error: %s\n", plainMessage(err.Error()))
	return exitError
}

// interruptContext is cancelled by the first SIGINT or SIGTERM (Ctrl-C, a
// cancelled CI job): apply then stops between batches, saves the state
// and releases its lock, so a cancelled run leaves none behind. A second
// signal ends the process at once, as without ldapsync's handling.
func interruptContext(stderr io.Writer) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-done:
				return // the run ended: the cleanup's stop cancelled ctx, no signal did
			default:
			}
			stop() // the next signal has its default effect
			fmt.Fprintln(stderr, "Interrupted: finishing the requests under way, saving the state and releasing the lock (a second interrupt stops at once)")
		case <-done:
		}
	}()
	return ctx, func() { close(done); stop() }
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "ldapsync",
		Usage:   "keep ftrack user accounts in step with an LDAP directory",
		Version: version,
		Description: `ldapsync reads the users of one or more LDAP directories, maps them to
ftrack accounts as ldapsync.hcl declares, and plans, reviews and applies the
changes like Terraform does.

   ldapsync plan -out plan.json -markdown plan.md   # read both sides, save a plan
   ldapsync show plan.json                          # review it
   ldapsync apply plan.json                         # execute exactly that plan
   ldapsync drift -detailed-exitcode                # monitoring: exit 2 on drift

Flags may come before or after a command's arguments
(ldapsync apply plan.json -lock-timeout 2m); after "--" everything is an
argument.`,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		HideVersion:               false,
		Commands: []*cli.Command{
			validateCommand(),
			planCommand(),
			showCommand(),
			applyCommand(),
			driftCommand(),
			explainCommand(),
			checkCommand(),
			syncCommand(),
			stateCommand(),
			fmtCommand(),
			convertCommand(),
			versionCommand(),
			completionCommand(),
		},
		Before:         checkCommandName,
		ExitErrHandler: func(*cli.Context, error) {}, // run() prints errors and picks exit codes
	}
}

// checkCommandName refuses an unknown command, also as the topic of
// `ldapsync help`, with exit 1 and a did-you-mean. urfave/cli would show
// the help and exit 0, or exit 3 for help on an unknown topic, and 3 is
// ldapsync's "blocked by a safety policy".
func checkCommandName(c *cli.Context) error {
	args := c.Args()
	name := args.First()
	if name == "help" || name == "h" {
		name = args.Get(1)
	}
	if name == "" || c.App.Command(name) != nil {
		return nil
	}
	msg := fmt.Sprintf("Error: unknown command %q.", name)
	if s := suggestCommand(c.App.VisibleCommands(), name); s != "" {
		msg += fmt.Sprintf(" Did you mean %q?", s)
	}
	return cli.Exit(msg+"\nRun 'ldapsync --help' for the list of commands.", exitError)
}

// suggestCommand returns the visible command name closest to typed: the
// only one it is a prefix of, or else the first within two edits (a
// swapped pair of letters counts as one); "" when none is that close.
func suggestCommand(cmds []*cli.Command, typed string) string {
	var prefixed []string
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd.Name, typed) {
			prefixed = append(prefixed, cmd.Name)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestDist := "", 3
	for _, cmd := range cmds {
		if d := editDistance(typed, cmd.Name); d < bestDist && d < len(typed) {
			best, bestDist = cmd.Name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// letters, each counting one.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
