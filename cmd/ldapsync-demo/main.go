// Command ldapsync-demo runs the quickstart story behind `make demo`: it
// serves the demo directory (examples/quickstart/directory.ldif) from
// memory over StartTLS (a throwaway CA whose certificate it writes into its
// working directory) and starts the ftrack emulator, both on loopback,
// then runs the
// real ldapsync binary through plan → show → apply → a directory change →
// drift → plan → apply, printing each command and what a user would see.
// It needs nothing installed beyond Go. The working directory (the
// configuration, the CA certificate, the plans, the Markdown and the
// state) is removed at the end unless -keep is given; its path is printed
// either way.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// demoAPIUser is the API user ldapsync signs in to the emulator as (the
// example configuration's api_user).
const demoAPIUser = "admin"

// demoCAFile is the CA certificate the demo writes into its working
// directory: the quickstart's ca_cert_file (through DEMO_LDAP_CA_FILE).
const demoCAFile = "demo-ca.crt"

// demo holds the running servers and the working directory.
type demo struct {
	bin     string
	dir     string
	env     []string
	example string
}

func run() error {
	bin := flag.String("ldapsync", "bin/ldapsync", "path to the ldapsync binary")
	example := flag.String("example", "examples/quickstart", "the quickstart example directory")
	keep := flag.Bool("keep", false, "keep the working directory")
	flag.Parse()
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ldapsync-demo-")
	if err != nil {
		return err
	}
	defer func() {
		if *keep {
			fmt.Printf("\nworkdir %s kept (-keep): the configuration, %s, the plans, plan.md and the state\n", dir, demoCAFile)
			return
		}
		os.RemoveAll(dir)
		fmt.Printf("\nworkdir %s removed (run with -keep to keep it)\n", dir)
	}()

	certs, err := ldaptest.NewTestCerts()
	if err != nil {
		return fmt.Errorf("demo certificates: %w", err)
	}
	caFile := filepath.Join(dir, demoCAFile)
	if err := os.WriteFile(caFile, certs.CAPEM, 0o644); err != nil {
		return err
	}

	ldif, err := os.Open(filepath.Join(*example, "directory.ldif"))
	if err != nil {
		return err
	}
	directory, err := ldaptest.NewMemDirectory(ldif, ldaptest.WithSubschema(), ldaptest.WithStartTLS(certs.Server))
	ldif.Close()
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	ldapURL, err := directory.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	defer directory.Stop()

	apiKey := randomKey()
	ftrack := ftracktest.NewServer(ftracktest.Options{APIUser: demoAPIUser, APIKey: apiKey})
	defer ftrack.Close()
	if err := seedFtrack(ftrack.Emulator); err != nil {
		return fmt.Errorf("seeding ftrack: %w", err)
	}

	cfg, err := os.ReadFile(filepath.Join(*example, "ldapsync.hcl"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ldapsync.hcl"), cfg, 0o644); err != nil {
		return err
	}
	d := &demo{bin: absBin, dir: dir, example: *example, env: append(os.Environ(),
		"DEMO_LDAP_URL="+ldapURL,
		"DEMO_LDAP_CA_FILE="+caFile,
		"DEMO_LDAP_PASSWORD=demo-sync-password",
		"DEMO_FTRACK_URL="+ftrack.URL,
		"FTRACK_API_KEY="+apiKey,
		"NO_COLOR=",
	)}

	banner("The demo studio: a directory of 8 people, an ftrack site with 4 accounts")
	fmt.Printf("directory  %s  (examples/quickstart/directory.ldif, served from memory)\n", ldapURL)
	fmt.Printf("tls        StartTLS before the bind, trusting the demo's throwaway CA: %s\n", caFile)
	fmt.Printf("ftrack     %s  (the ftrack API emulator)\n", ftrack.URL)
	fmt.Printf("workdir    %s\n", dir)
	listUsers(ftrack.Emulator)

	banner("1. Check the configuration")
	if err := d.ldapsync(0, "validate"); err != nil {
		return err
	}
	banner("2. Plan: read both sides and save the plan for review")
	if err := d.ldapsync(0, "plan", "-out", "plan.json", "-markdown", "plan.md"); err != nil {
		return err
	}
	md, _ := os.ReadFile(filepath.Join(dir, "plan.md"))
	fmt.Printf("\nplan.md (posted as a pull-request comment) starts with:\n\n%s\n", indent(firstLines(string(md), 8)))

	banner("3. Review the saved plan")
	if err := d.ldapsync(0, "show", "plan.json"); err != nil {
		return err
	}
	banner("4. Apply exactly that plan (as CI does after approval)")
	if err := d.ldapsync(0, "apply", "plan.json"); err != nil {
		return err
	}
	listUsers(ftrack.Emulator)
	banner("5. The same plan again is refused: it was already applied")
	if err := d.ldapsync(1, "apply", "plan.json"); err != nil {
		return err
	}
	banner("6. Converged: a new plan has no changes")
	if err := d.ldapsync(0, "plan", "-detailed-exitcode"); err != nil {
		return err
	}

	banner("7. A week later: the directory changes, and someone edits ftrack by hand")
	change, err := os.Open(filepath.Join(*example, "directory-change.ldif"))
	if err != nil {
		return err
	}
	err = directory.Apply(change)
	change.Close()
	if err != nil {
		return fmt.Errorf("directory change: %w", err)
	}
	fmt.Println("directory: inovak joins, gweber changes her name and mail, fnguyen leaves")
	if err := editByHand(ftrack, demoAPIUser, apiKey, "cgarcia", "last_name", "Garcia (VFX)"); err != nil {
		return err
	}
	fmt.Println("ftrack:    an admin renames cgarcia's last name in the ftrack web UI")

	banner("8. Drift report for monitoring (exit code 2: drift found)")
	if err := d.ldapsync(2, "drift", "-detailed-exitcode"); err != nil {
		return err
	}
	banner("9. Plan and apply the changes")
	if err := d.ldapsync(0, "plan", "-out", "plan2.json"); err != nil {
		return err
	}
	if err := d.ldapsync(0, "apply", "plan2.json"); err != nil {
		return err
	}
	banner("10. In sync again")
	if err := d.ldapsync(0, "drift", "-detailed-exitcode"); err != nil {
		return err
	}
	listUsers(ftrack.Emulator)
	fmt.Println("\nDemo finished: plan → review → apply → drift, with every step run by the real ldapsync binary.")
	return nil
}

// ldapsync runs the real binary in the work directory, echoing the command
// line, and checks its exit code.
func (d *demo) ldapsync(wantExit int, args ...string) error {
	fmt.Printf("\n$ ldapsync %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.bin, args...)
	cmd.Dir = d.dir
	cmd.Env = d.env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stdout
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		return err
	}
	fmt.Printf("(exit code %d)\n", code)
	if code != wantExit {
		return fmt.Errorf("ldapsync %s: exit code %d, expected %d", strings.Join(args, " "), code, wantExit)
	}
	return nil
}

func banner(title string) {
	if os.Getenv("NO_COLOR") == "" && isatty.IsTerminal(os.Stdout.Fd()) {
		fmt.Printf("\n\033[1m=== %s ===\033[0m\n", title)
		return
	}
	fmt.Printf("\n=== %s ===\n", title)
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
