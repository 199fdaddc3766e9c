package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// The check scripts need two things the other scripts do not: an ftrack
// API user without the right to read some entity types, and a directory
// whose ACLs hide an attribute from the sync account. Both are script
// commands registered here, next to the scripts that use them.
func init() {
	scriptCmds["ftrack-deny"] = cmdFtrackDeny
	scriptCmds["ldap-hide"] = cmdLDAPHide
}

// ftrack-deny TYPE... makes the emulator refuse, with a PermissionError,
// every operation that reads or writes one of the entity types (a query
// "… from TYPE …", or a create, update or delete of TYPE): an API user
// whose role may not see them. No arguments lifts the refusal.
func cmdFtrackDeny(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: ftrack-deny TYPE...")
	}
	e := ftrackOf(ts).Emulator
	if len(args) == 0 {
		e.SetFaults(ftracktest.Faults{})
		return
	}
	denied := map[string]bool{}
	for _, t := range args {
		denied[strings.ToLower(t)] = true
	}
	e.SetFaults(ftracktest.Faults{FailOperation: func(op map[string]any) *ftracktest.APIError {
		typ, _ := op["entity_type"].(string)
		if expr, ok := op["expression"].(string); ok {
			typ = queriedType(expr)
		}
		if denied[strings.ToLower(typ)] {
			return &ftracktest.APIError{Exception: ftracktest.ExcPermission, Content: fmt.Sprintf("Permission denied: the API user may not access %s.", typ)}
		}
		return nil
	}})
}

// queriedType is the entity type a query expression reads: the word after
// "from", or the first word of an expression without select.
func queriedType(expr string) string {
	f := strings.Fields(expr)
	for i, w := range f {
		if strings.EqualFold(w, "from") && i+1 < len(f) {
			return f[i+1]
		}
	}
	if len(f) > 0 {
		return f[0]
	}
	return ""
}

// ldap-hide ATTR... adds an ACL to the script's slapd that denies the
// sync account (LDAP_BIND_DN) every access to the attributes, as a
// directory whose administrator forgot to grant it: slapd is stopped,
// its cn=config is edited offline with slapmodify, and it is started
// again on the same ports.
func cmdLDAPHide(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: ldap-hide ATTR...")
	}
	s := slapdOf(ts)
	slapmodify := "/usr/sbin/slapmodify"
	if _, err := os.Stat(slapmodify); err != nil {
		ts.Fatalf("slapmodify is not installed (it comes with slapd)")
	}
	ldif := fmt.Sprintf("dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcAccess\nolcAccess: {0}to attrs=%s by dn.exact=\"%s\" none by * break\n",
		strings.Join(args, ","), ldaptest.SyncDN)
	f := filepath.Join(s.Dir, "hide.ldif")
	ts.Check(os.WriteFile(f, []byte(ldif), 0o600))
	ts.Check(s.Stop())
	if err := ts.Exec(slapmodify, "-n0", "-F", filepath.Join(s.Dir, "slapd.d"), "-l", f); err != nil {
		ts.Fatalf("slapmodify: %v", err)
	}
	ts.Check(s.Restart())
}
