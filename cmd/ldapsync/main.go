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
	"errors"
	"fmt"
	"os"

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
	stop := startProfiles(os.Stderr)
	code := run(os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr *os.File) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	var refusal *engine.RefusalError
	if errors.As(err, &refusal) {
		fmt.Fprintf(stderr, "Error: apply refused (%s): %s\n", refusal.Reason, refusal.Message)
		return exitError
	}
	fmt.Fprintf(stderr, "Error: %s\n", err)
	return exitError
}

func newApp(stdout, stderr *os.File) *cli.App {
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
   ldapsync drift -detailed-exitcode                # monitoring: exit 2 on drift`,
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
			syncCommand(),
			fmtCommand(),
			convertCommand(),
			versionCommand(),
			completionCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run() prints errors and picks exit codes
	}
}
