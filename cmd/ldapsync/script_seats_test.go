package main

import (
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// ftrack-seats N sets the emulator's user licences (0: unlimited): from
// then on an activation past N active Users fails with LicenseError.
func cmdFtrackSeats(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: ftrack-seats N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		ts.Fatalf("ftrack-seats: %q is not a count", args[0])
	}
	ftrackOf(ts).Emulator.SetSeats(n)
}

// ftrack-user-type USERNAME TYPE gives an ftrack user one of the seeded
// user types (ftrack, ldap, service, demo), as an administrator would.
func cmdFtrackUserType(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ftrack-user-type USERNAME TYPE")
	}
	cmdFtrackEdit(ts, false, []string{args[0], "user_type_id=" + ftracktest.UserTypeID(args[1])})
}
