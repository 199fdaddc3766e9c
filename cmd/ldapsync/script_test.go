package main

// The script tests run the real ldapsync command, as its own process,
// against a private OpenLDAP slapd (ldaps, with its own CA) and the ftrack
// emulator over HTTP. Each testdata/script/*.txtar file proves one
// behaviour; the custom commands below seed and inspect both sides.
//
// Every script gets its own slapd and emulator (startup is well under a
// second), a random bind password and a random API key, exported as
// LDAP_URL, LDAP_CA, LDAP_BIND_DN, LDAP_BIND_PASSWORD, LDAP_BASE_DN,
// FTRACK_URL and FTRACK_API_KEY for the scripts' configurations.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/httpstate/httpstatetest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ldapsync": func() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) },
	})
}

// Values stored in testscript.Env.Values for the custom commands.
type scriptKey string

const (
	keySlapd  scriptKey = "slapd"
	keyFtrack scriptKey = "ftrack"
	keyHTTP   scriptKey = "http-state"
)

// scriptAPIUser is the API user of every script's emulator (the
// configurations' api_user). Like a real site, the emulator starts with an
// active User of that name.
const scriptAPIUser = "admin"

func TestScripts(t *testing.T) {
	requireSlapd(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		Setup:               setupScript,
		Cmds:                scriptCmds,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// notIf is "not " when neg, for a negated command's failure: "want not 3".
func notIf(neg bool) string {
	if neg {
		return "not "
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setupScript starts the script's slapd and ftrack emulator.
func setupScript(env *testscript.Env) error {
	dir, err := os.MkdirTemp("", "ldapsync-script-slapd-")
	if err != nil {
		return err
	}
	s, err := ldaptest.StartSlapdProcess(dir)
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("start slapd: %w", err)
	}
	env.Defer(func() {
		_ = s.Stop()
		_ = os.RemoveAll(dir)
	})
	bindPassword := "bindpw-" + randomHex(8)
	if err := setSyncPassword(s, bindPassword); err != nil {
		return fmt.Errorf("set sync password: %w", err)
	}
	apiKey := "apikey-" + randomHex(12)
	srv := ftracktest.NewServer(ftracktest.Options{APIUser: scriptAPIUser, APIKey: apiKey})
	env.Defer(srv.Close)
	env.Values[keySlapd] = s
	env.Values[keyFtrack] = srv
	if err := startHTTPState(env); err != nil {
		return err
	}
	env.Setenv("LDAP_URL", s.LDAPSURL)
	env.Setenv("LDAP_CA", s.CACertFile)
	env.Setenv("LDAP_BIND_DN", s.SyncDN)
	env.Setenv("LDAP_BIND_PASSWORD", bindPassword)
	env.Setenv("LDAP_BASE_DN", ldaptest.UsersDN)
	env.Setenv("FTRACK_URL", srv.URL)
	env.Setenv("FTRACK_API_KEY", apiKey)
	env.Setenv("NO_COLOR", "1")
	return nil
}

// setSyncPassword sets the password of the slapd's bind account
// (s.SyncDN), as the root DN.
func setSyncPassword(s *ldaptest.Slapd, password string) error {
	return s.ApplyLDIF(fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n", s.SyncDN, password))
}

var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"ldap-modify":       cmdLDAPModify,
	"ftrack-put":        cmdFtrackPut,
	"ftrack-edit":       cmdFtrackEdit,
	"ftrack-user":       cmdFtrackUser,
	"ftrack-count":      cmdFtrackCount,
	"ftrack-faults":     cmdFtrackFaults,
	"ftrack-dump":       cmdFtrackDump,
	"ftrack-second":     cmdFtrackSecond,
	"plan-edit":         cmdPlanEdit,
	"plan-append":       cmdPlanAppend,
	"plan-insert":       cmdPlanInsert,
	"plan-delete":       cmdPlanDelete,
	"plan-replace":      cmdPlanReplace,
	"plan-rechecksum":   cmdPlanRechecksum,
	"json-field":        cmdJSONField,
	"envsubst":          cmdEnvsubst,
	"no-secrets":        cmdNoSecrets,
	"grep-count":        cmdGrepCount,
	"ldap-load-many":    cmdLDAPLoadMany,
	"exitcode":          cmdExitcode,
	"order":             cmdOrder,
	"writes-planned":    cmdWritesPlanned,
	"http-state":        cmdHTTPState,
	"ftrack-meta":       cmdFtrackMeta,
	"ftrack-roles":      cmdFtrackRoles,
	"ftrack-project":    cmdFtrackProject,
	"ftrack-grant":      cmdFtrackGrant,
	"ftrack-custom":     cmdFtrackCustom,
	"ftrack-custom-set": cmdFtrackCustomSet,
	"ftrack-ungrant":    cmdFtrackUngrant,
	"ftrack-seats":      cmdFtrackSeats,
	"ftrack-user-type":  cmdFtrackUserType,
	"ftrack-deny":       cmdFtrackDeny,
	"ldap-hide":         cmdLDAPHide,
}

// order FILE REGEXP... asserts that the regular expressions first match
// FILE at increasing offsets, in the order given.
func cmdOrder(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: order FILE REGEXP REGEXP...")
	}
	content := ts.ReadFile(args[0])
	last, lastPat := -1, ""
	for _, pat := range args[1:] {
		re, err := regexp.Compile(pat)
		ts.Check(err)
		loc := re.FindStringIndex(content)
		if loc == nil {
			ts.Fatalf("%s: no match for %q", args[0], pat)
		}
		if loc[0] <= last {
			ts.Fatalf("%s: %q appears before %q", args[0], pat, lastPat)
		}
		last, lastPat = loc[0], pat
	}
}

// exitcode N COMMAND ARGS... runs COMMAND like exec and asserts that it
// exits with status N (exec alone only tells zero from non-zero).
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N COMMAND ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

func slapdOf(ts *testscript.TestScript) *ldaptest.Slapd {
	return ts.Value(keySlapd).(*ldaptest.Slapd)
}

func ftrackOf(ts *testscript.TestScript) *ftracktest.Server {
	return ts.Value(keyFtrack).(*ftracktest.Server)
}

// ldap-modify FILE applies LDIF records (content records or changetype
// add/modify/delete/modrdn) as the root DN.
func cmdLDAPModify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: ldap-modify FILE")
	}
	err := slapdOf(ts).ApplyLDIF(ts.ReadFile(args[0]))
	if neg {
		if err == nil {
			ts.Fatalf("ldap-modify %s succeeded unexpectedly", args[0])
		}
		return
	}
	ts.Check(err)
}

// ldap-load-many N [first] adds N generated inetOrgPerson users
// userNNNNNN (none of them locked) online.
func cmdLDAPLoadMany(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: ldap-load-many N [first]")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	first := 1
	if len(args) == 2 {
		first, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	ts.Check(slapdOf(ts).ApplyLDIF(plainUsersLDIF(first, n)))
}

// plainUsersLDIF returns n inetOrgPerson users numbered from first, none
// of them locked, with ASCII names.
func plainUsersLDIF(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		uid := fmt.Sprintf("user%06d", i)
		fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\ngivenName: User\nsn: Number%d\nmail: %s@example.com\n\n",
			uid, ldaptest.UsersDN, uid, i, i, uid)
	}
	return b.String()
}

// ftrack-put TYPE JSON seeds an entity in the emulator. A User named like
// the API user (admin) replaces the one the emulator starts with.
func cmdFtrackPut(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: ftrack-put TYPE JSON")
	}
	var data map[string]any
	ts.Check(json.Unmarshal([]byte(args[1]), &data))
	e := ftrackOf(ts).Emulator
	if args[0] == "User" {
		replaceAPIUser(ts, e, data)
	}
	err := e.Put(args[0], data)
	if neg {
		if err == nil {
			ts.Fatalf("ftrack-put succeeded unexpectedly")
		}
		return
	}
	if err != nil {
		ts.Fatalf("ftrack-put %s: %v", args[0], err)
	}
}

// replaceAPIUser makes room when a script puts the API user's own User
// (username "admin"): that User then replaces the one the emulator made at
// start-up, so the script decides its id and fields. Only the start-up
// User is removed; putting "admin" twice still collides.
func replaceAPIUser(ts *testscript.TestScript, e *ftracktest.Emulator, data map[string]any) {
	name, _ := data["username"].(string)
	if !strings.EqualFold(name, scriptAPIUser) {
		return
	}
	if u := findUser(e, scriptAPIUser); u != nil && u["id"] == ftracktest.APIUserID(scriptAPIUser) {
		ts.Check(e.Delete("User", u["id"]))
	}
}

// fieldValue parses a command-line value: true/false become booleans.
func fieldValue(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

// ftrack-edit USERNAME field=value... updates a user through the
// emulator's HTTP API, as an administrator in the ftrack web UI would.
func cmdFtrackEdit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ftrack-edit USERNAME field=value...")
	}
	srv := ftrackOf(ts)
	u := findUser(srv.Emulator, args[0])
	if u == nil {
		ts.Fatalf("no ftrack user %q", args[0])
	}
	data := map[string]any{"__entity_type__": "User"}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("ftrack-edit: %q is not field=value", kv)
		}
		data[k] = fieldValue(v)
	}
	ftrackAPI(ts, map[string]any{
		"action": "update", "entity_type": "User", "entity_key": []string{fmt.Sprint(u["id"])},
		"entity_data": data,
	})
}

// ftrackAPI sends one operation to the emulator's HTTP API as the API
// user and fails the script on an exception.
func ftrackAPI(ts *testscript.TestScript, op map[string]any) {
	ts.Check(postFtrackOp(ftrackOf(ts).URL, ts.Getenv("FTRACK_API_KEY"), op))
}

// postFtrackOp sends one operation to the ftrack API at url as the API
// user with apiKey; an answer that is not 200 or holds an exception is
// an error.
func postFtrackOp(url, apiKey string, op map[string]any) error {
	body, err := json.Marshal([]map[string]any{op})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url+"/api", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ftrack-user", scriptAPIUser)
	req.Header.Set("ftrack-api-key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"exception"`)) {
		return fmt.Errorf("ftrack update: %s: %s", resp.Status, reply)
	}
	return nil
}

func findUser(e *ftracktest.Emulator, username string) map[string]any {
	for _, u := range e.Entities("User") {
		if strings.EqualFold(fmt.Sprint(u["username"]), username) {
			return u
		}
	}
	return nil
}

// ftrack-meta USERNAME KEY VALUE sets the Metadata KEY of the User
// USERNAME to VALUE, as someone editing ftrack by hand would.
func cmdFtrackMeta(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ftrack-meta USERNAME KEY VALUE")
	}
	e := ftrackOf(ts).Emulator
	u := findUser(e, args[0])
	if u == nil {
		ts.Fatalf("no ftrack user %q", args[0])
	}
	_ = e.Delete("Metadata", u["id"], args[1])
	ts.Check(e.Put("Metadata", map[string]any{"parent_id": u["id"], "parent_type": "User", "key": args[1], "value": args[2]}))
}

// userView is a user with its ldapsync metadata as plain fields
// ("owner", "source_id") and its group names ("groups", comma-separated).
func userViews(e *ftracktest.Emulator) []map[string]string {
	meta := map[string]map[string]string{}
	for _, m := range e.Entities("Metadata") {
		id := fmt.Sprint(m["parent_id"])
		if meta[id] == nil {
			meta[id] = map[string]string{}
		}
		switch m["key"] {
		case "ldapsync.owner":
			meta[id]["owner"] = fmt.Sprint(m["value"])
		case "ldapsync.source_id":
			meta[id]["source_id"] = fmt.Sprint(m["value"])
		}
	}
	typeName := map[string]string{}
	for _, t := range e.Entities("UserType") {
		typeName[fmt.Sprint(t["id"])] = fmt.Sprint(t["name"])
	}
	var out []map[string]string
	for _, u := range e.Entities("User") {
		v := map[string]string{}
		for k, val := range u {
			if val == nil {
				continue
			}
			v[k] = fmt.Sprint(val)
		}
		v["owner"] = meta[fmt.Sprint(u["id"])]["owner"]
		v["source_id"] = meta[fmt.Sprint(u["id"])]["source_id"]
		v["user_type"] = typeName[fmt.Sprint(u["user_type_id"])]
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["username"] < out[j]["username"] })
	return out
}

// ftrack-user USERNAME [field=value...] asserts that the user exists with
// those values (owner and source_id are the ldapsync metadata, user_type
// the name of its user type). Negated:
// the user does not exist, or (with fields) some field differs.
func cmdFtrackUser(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: ftrack-user USERNAME [field=value...]")
	}
	var user map[string]string
	for _, v := range userViews(ftrackOf(ts).Emulator) {
		if v["username"] == args[0] {
			user = v
		}
	}
	var mismatch []string
	if user == nil {
		mismatch = append(mismatch, "no such user")
	} else {
		for _, kv := range args[1:] {
			k, want, ok := strings.Cut(kv, "=")
			if !ok {
				ts.Fatalf("ftrack-user: %q is not field=value", kv)
			}
			if got := user[k]; got != want {
				mismatch = append(mismatch, fmt.Sprintf("%s is %q, want %q", k, got, want))
			}
		}
	}
	switch {
	case neg && len(mismatch) == 0:
		ts.Fatalf("ftrack user %s matches %v unexpectedly", args[0], args[1:])
	case !neg && len(mismatch) > 0:
		ts.Fatalf("ftrack user %s: %s", args[0], strings.Join(mismatch, "; "))
	}
}

// ftrack-count TYPE [field=value...] N asserts how many entities of TYPE
// match every filter. TYPE "User" filters also see owner and source_id.
// Users include the API user admin, which every emulator starts with.
func cmdFtrackCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: ftrack-count TYPE [field=value...] N")
	}
	want, err := strconv.Atoi(args[len(args)-1])
	ts.Check(err)
	e := ftrackOf(ts).Emulator
	var rows []map[string]string
	if args[0] == "User" {
		rows = userViews(e)
	} else {
		for _, ent := range e.Entities(args[0]) {
			v := map[string]string{}
			for k, val := range ent {
				v[k] = fmt.Sprint(val)
			}
			rows = append(rows, v)
		}
	}
	n := 0
rows:
	for _, r := range rows {
		for _, kv := range args[1 : len(args)-1] {
			k, v, _ := strings.Cut(kv, "=")
			if r[k] != v {
				continue rows
			}
		}
		n++
	}
	if (n == want) == neg {
		ts.Fatalf("ftrack-count %s: %d match, want %s%d", strings.Join(args[:len(args)-1], " "), n, notIf(neg), want)
	}
}

// ftrack-faults [latency=D] [ratelimit=N] [errorrate=F] [seed=N]
// [drop=N] [fail=USERNAME] [failevery=N] sets the emulator's injected faults; no
// arguments clears them. fail refuses every batch that creates or updates
// the User USERNAME (failUser).
func cmdFtrackFaults(ts *testscript.TestScript, neg bool, args []string) {
	var f ftracktest.Faults
	for _, kv := range args {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "latency":
			f.Latency, err = time.ParseDuration(v)
		case "ratelimit":
			f.RateLimitEvery, err = strconv.Atoi(v)
		case "errorrate":
			f.ErrorRate, err = strconv.ParseFloat(v, 64)
		case "seed":
			f.Seed, err = strconv.ParseInt(v, 10, 64)
		case "drop":
			f.DropAfterOperations, err = strconv.Atoi(v)
		case "fail":
			f.FailOperation = failUser(ftrackOf(ts).Emulator, v)
		case "failevery":
			f.FailEvery, err = strconv.Atoi(v)
		default:
			ts.Fatalf("ftrack-faults: unknown fault %q", k)
		}
		ts.Check(err)
	}
	ftrackOf(ts).Emulator.SetFaults(f)
}

// failUser returns a Faults.FailOperation that answers a PermissionError
// to every operation creating or updating the User username: one whose
// entity_data names it, or whose entity_key is the id of the user of that
// name at the time the fault is set.
func failUser(e *ftracktest.Emulator, username string) func(op map[string]any) *ftracktest.APIError {
	id := ""
	if u := findUser(e, username); u != nil {
		id = fmt.Sprint(u["id"])
	}
	return func(op map[string]any) *ftracktest.APIError {
		if op["entity_type"] != "User" {
			return nil
		}
		data, _ := op["entity_data"].(map[string]any)
		name, _ := data["username"].(string)
		keys, _ := op["entity_key"].([]any)
		if strings.EqualFold(name, username) || (id != "" && len(keys) == 1 && fmt.Sprint(keys[0]) == id) {
			return &ftracktest.APIError{Exception: ftracktest.ExcPermission, Content: "Permission denied (injected fault)."}
		}
		return nil
	}
}

// ftrack-dump FILE writes every User, Metadata, Group and Membership as
// sorted JSON, so that `cmp` can prove that nothing changed.
func cmdFtrackDump(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: ftrack-dump FILE")
	}
	e := ftrackOf(ts).Emulator
	dump := map[string]any{}
	for _, typ := range []string{"User", "Metadata", "Group", "Membership", "SecurityRole", "UserSecurityRole", "UserSecurityRoleProject"} {
		dump[typ] = e.Entities(typ)
	}
	data, err := json.MarshalIndent(dump, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), append(data, '\n'), 0o644))
}

// writes-planned PLAN BEFORE AFTER compares what apply wrote (the
// difference between two ftrack-dump files) with the plan: every User,
// Group, Membership and Metadata row created or changed must be the work
// of a change of the plan (its target id, its group, its role), so
// nothing is written on the side. A new user's default role is ftrack's
// own doing: one role row of a user the plan creates that no change
// grants is accepted as the row the create brings.
func cmdWritesPlanned(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: writes-planned PLAN BEFORE AFTER")
	}
	var plan struct {
		Changes []struct {
			Action   string `json:"action"`
			TargetID string `json:"target_id"`
			Group    string `json:"group"`
			Role     string `json:"role"`
		} `json:"changes"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &plan))
	users, groups, members, roles, created := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]int{}
	for _, c := range plan.Changes {
		switch c.Action {
		case "create_group":
			groups[c.TargetID+" "+c.Group] = true
		case "add_membership", "remove_membership":
			members[c.TargetID+" "+c.Group] = true
		case "add_role", "remove_role", "grant_role_project", "revoke_role_project":
			roles[c.TargetID+" "+c.Role] = true
		case "create":
			created[c.TargetID] = 1
			users[c.TargetID] = true
		default:
			users[c.TargetID] = true
		}
	}
	load := func(path string) map[string]map[string]string {
		var dump map[string][]map[string]any
		ts.Check(json.Unmarshal([]byte(ts.ReadFile(path)), &dump))
		out := map[string]map[string]string{}
		for typ, rows := range dump {
			out[typ] = map[string]string{}
			for _, r := range rows {
				b, _ := json.Marshal(r)
				key := fmt.Sprint(r["id"])
				if typ == "Metadata" {
					key = fmt.Sprint(r["parent_id"], " ", r["key"])
				}
				out[typ][key] = string(b)
			}
		}
		return out
	}
	before, after := load(args[1]), load(args[2])
	groupName, roleName, usrOf := map[string]string{}, map[string]string{}, map[string]string{}
	for _, d := range []map[string]map[string]string{before, after} {
		for id, row := range d["Group"] {
			var g map[string]any
			_ = json.Unmarshal([]byte(row), &g)
			groupName[id] = fmt.Sprint(g["name"])
		}
		for id, row := range d["SecurityRole"] {
			var g map[string]any
			_ = json.Unmarshal([]byte(row), &g)
			roleName[id] = fmt.Sprint(g["name"])
		}
		for id, row := range d["UserSecurityRole"] {
			var g map[string]any
			_ = json.Unmarshal([]byte(row), &g)
			usrOf[id] = fmt.Sprint(g["user_id"], " ", roleName[fmt.Sprint(g["security_role_id"])])
		}
	}
	writes := 0
	for typ, rows := range after {
		for key, row := range rows {
			if before[typ][key] == row {
				continue
			}
			writes++
			var r map[string]any
			_ = json.Unmarshal([]byte(row), &r)
			ok := false
			switch typ {
			case "User":
				ok = users[key]
			case "Metadata":
				ok = users[fmt.Sprint(r["parent_id"])]
			case "Group":
				ok = groups[key+" "+fmt.Sprint(r["name"])]
			case "Membership":
				ok = members[fmt.Sprint(r["user_id"])+" "+groupName[fmt.Sprint(r["group_id"])]]
			case "UserSecurityRole":
				user := fmt.Sprint(r["user_id"])
				ok = roles[user+" "+roleName[fmt.Sprint(r["security_role_id"])]]
				if !ok && created[user] == 1 { // the default role ftrack gives a new account
					created[user]++
					ok = true
				}
			case "UserSecurityRoleProject":
				ok = roles[usrOf[fmt.Sprint(r["user_security_role_id"])]]
			}
			if !ok {
				ts.Fatalf("%s %s was written but no change of %s accounts for it: %s", typ, key, args[0], row)
			}
		}
	}
	for typ, rows := range before {
		for key := range rows {
			if _, kept := after[typ][key]; !kept && typ == "Membership" {
				writes++ // a removal: checked by the plan's remove_membership changes in the script
			}
			if _, kept := after[typ][key]; !kept && (typ == "UserSecurityRole" || typ == "UserSecurityRoleProject") {
				if !roles[usrOf[key]] && typ == "UserSecurityRole" {
					ts.Fatalf("%s %s was removed but no change of %s accounts for it", typ, key, args[0])
				}
				writes++
			}
		}
	}
	ts.Logf("%d rows written, each by a change of the plan", writes)
}

// ftrack-second starts another emulator with the same API key and
// exports its URL as FTRACK_URL2.
func cmdFtrackSecond(ts *testscript.TestScript, neg bool, args []string) {
	srv := ftracktest.NewServer(ftracktest.Options{APIUser: scriptAPIUser, APIKey: ts.Getenv("FTRACK_API_KEY")})
	ts.Defer(srv.Close)
	ts.Setenv("FTRACK_URL2", srv.URL)
}

// startHTTPState starts the script's server for Terraform's http backend
// (https, basic auth) and exports STATE_HTTP_URL, STATE_HTTP_LOCK_URL,
// STATE_HTTP_CA, STATE_HTTP_USER and STATE_HTTP_PASSWORD for a
// configuration's state "http" block.
func startHTTPState(env *testscript.Env) error {
	user, pass := "ci-token", "statepw-"+randomHex(8)
	srv := httpstatetest.Start(httpstatetest.WithTLS(), httpstatetest.WithBasicAuth(user, pass))
	env.Defer(srv.Close)
	ca := filepath.Join(env.WorkDir, ".state-ca.pem")
	if err := os.WriteFile(ca, srv.CertificatePEM(), 0o600); err != nil {
		return err
	}
	env.Values[keyHTTP] = srv
	env.Setenv("STATE_HTTP_URL", srv.URL())
	env.Setenv("STATE_HTTP_LOCK_URL", srv.LockURL())
	env.Setenv("STATE_HTTP_CA", ca)
	env.Setenv("STATE_HTTP_USER", user)
	env.Setenv("STATE_HTTP_PASSWORD", pass)
	return nil
}

// http-state serial N | hold ID WHO | holder ID | versions N | fail STATUS | saw METHOD SUFFIX
// inspects and drives the script's http state server: the stored
// document's write serial, a lock held as another run left it, the
// holder's ID, the number of versions kept, and one failed answer.
func cmdHTTPState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: http-state serial N | hold ID WHO | holder ID | versions N | fail STATUS")
	}
	srv := ts.Value(keyHTTP).(*httpstatetest.Server)
	switch args[0] {
	case "serial":
		got, ok := srv.Serial()
		if want := args[1]; (ok && strconv.FormatInt(got, 10) == want) == neg {
			ts.Fatalf("http state serial %d (stored %v), want %s%s", got, ok, notIf(neg), want)
		}
	case "versions":
		if got := len(srv.Serials()); (strconv.Itoa(got) == args[1]) == neg {
			ts.Fatalf("http state has %d versions, want %s", got, args[1])
		}
	case "hold":
		if !srv.Hold(state.LockInfo{ID: args[1], Operation: "apply", Who: args[2], Version: "test", Created: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}) {
			ts.Fatalf("http state: the lock is held already")
		}
	case "fail":
		status, err := strconv.Atoi(args[1])
		ts.Check(err)
		srv.FailNext(status)
	case "saw": // saw METHOD PATH-SUFFIX: a request of that method to a path ending so was answered 2xx
		for _, r := range srv.Requests() {
			if r.Method == args[1] && strings.HasSuffix(r.Path, args[2]) && r.Status/100 == 2 {
				if neg {
					ts.Fatalf("http state server saw %s %s", args[1], args[2])
				}
				return
			}
		}
		if !neg {
			ts.Fatalf("http state server saw no answered %s …%s", args[1], args[2])
		}
	case "holder":
		h, ok := srv.Holder()
		if (ok && h.ID == args[1]) == neg {
			ts.Fatalf("http state lock holder %q (held %v), want %s%s", h.ID, ok, notIf(neg), args[1])
		}
	default:
		ts.Fatalf("http-state: unknown subcommand %q", args[0])
	}
}

// jsonPath walks a dotted path (object keys and array indexes).
func jsonPath(ts *testscript.TestScript, root any, path string) (parent any, last string, v any) {
	parts := strings.Split(path, ".")
	cur := root
	for i, p := range parts {
		parent, last = cur, p
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(c) {
				ts.Fatalf("json path %s: no element %q", path, p)
			}
			cur = c[n]
		default:
			if i < len(parts) {
				ts.Fatalf("json path %s: %q is not an object or array", path, strings.Join(parts[:i], "."))
			}
		}
	}
	return parent, last, cur
}

// parseValue reads a command-line value as JSON when it is JSON, else as
// a string.
func parseValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

// plan-edit FILE PATH VALUE sets the value at a dotted path of a JSON
// file (VALUE is JSON, or else a string), as a hand edit would.
func cmdPlanEdit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: plan-edit FILE PATH VALUE")
	}
	var root any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &root))
	parent, last, _ := jsonPath(ts, root, args[1])
	switch p := parent.(type) {
	case map[string]any:
		p[last] = parseValue(args[2])
	case []any:
		n, _ := strconv.Atoi(last)
		p[n] = parseValue(args[2])
	}
	data, err := json.MarshalIndent(root, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

// plan-append FILE PATH VALUE appends VALUE (JSON, or else a string) to
// the array at a dotted path of a JSON file, as a hand edit would (a
// change an attacker adds to a plan's "changes").
func cmdPlanAppend(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: plan-append FILE PATH VALUE")
	}
	planInsert(ts, args[0], args[1], -1, args[2])
}

// plan-insert FILE PATH.N VALUE inserts VALUE (JSON, or else a string)
// into the array at PATH before its element N (N may be its length), as
// a hand edit would: to put an added change where plan would list it.
func cmdPlanInsert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: plan-insert FILE PATH.N VALUE")
	}
	i := strings.LastIndex(args[1], ".")
	n, err := strconv.Atoi(args[1][i+1:])
	if i < 0 || err != nil || n < 0 {
		ts.Fatalf("plan-insert: %s does not end in an array index", args[1])
	}
	planInsert(ts, args[0], args[1][:i], n, args[2])
}

// planInsert inserts value into the array at path before element at
// (at < 0: at its end) and writes the file back.
func planInsert(ts *testscript.TestScript, file, path string, at int, value string) {
	var root any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(file)), &root))
	parent, last, cur := jsonPath(ts, root, path)
	arr, ok := cur.([]any)
	if !ok {
		ts.Fatalf("%s: %s is not an array", file, path)
	}
	if at < 0 {
		at = len(arr)
	}
	if at > len(arr) {
		ts.Fatalf("%s: %s has %d elements, cannot insert at %d", file, path, len(arr), at)
	}
	arr = append(arr[:at:at], append([]any{parseValue(value)}, arr[at:]...)...)
	switch p := parent.(type) {
	case map[string]any:
		p[last] = arr
	case []any:
		n, _ := strconv.Atoi(last)
		p[n] = arr
	}
	data, err := json.MarshalIndent(root, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(file), data, 0o644))
}

// plan-delete FILE PATH removes the object member or array element at a
// dotted path of a JSON file, as a hand edit would.
func cmdPlanDelete(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: plan-delete FILE PATH")
	}
	var root any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &root))
	parent, last, _ := jsonPath(ts, root, args[1])
	switch p := parent.(type) {
	case map[string]any:
		if _, ok := p[last]; !ok {
			ts.Fatalf("plan-delete: %s: no such member", args[1])
		}
		delete(p, last)
	case []any:
		n, _ := strconv.Atoi(last)
		arr := append(p[:n:n], p[n+1:]...)
		i := strings.LastIndex(args[1], ".")
		if i < 0 {
			ts.Fatalf("plan-delete: %s: cannot delete from the top-level array", args[1])
		}
		gp, gl, _ := jsonPath(ts, root, args[1][:i])
		switch g := gp.(type) {
		case map[string]any:
			g[gl] = arr
		case []any:
			k, _ := strconv.Atoi(gl)
			g[k] = arr
		}
	}
	data, err := json.MarshalIndent(root, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

// plan-replace FILE OLD NEW replaces the first occurrence of the literal
// text OLD in FILE with NEW, without parsing it: to write what a JSON
// encoder never would, such as a repeated object key.
func cmdPlanReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: plan-replace FILE OLD NEW")
	}
	content := ts.ReadFile(args[0])
	if !strings.Contains(content, args[1]) {
		ts.Fatalf("plan-replace: %s does not contain %q", args[0], args[1])
	}
	content = strings.Replace(content, args[1], args[2], 1)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(content), 0o644))
}

var checksumMember = regexp.MustCompile(`("checksum"\s*:\s*)"[^"]*"`)

// plan-rechecksum FILE recomputes a plan file's checksum after an edit,
// as anyone who can read the documentation can (engine.PlanChecksum),
// and writes it into the "checksum" member's value by a text
// replacement, so that the rest of the file stays byte for byte as it
// is. The file must have a checksum member. (PlanChecksum refuses a
// document with repeated keys, so it cannot re-checksum those; a signed
// plan with repeated keys needs no new checksum to be tried.)
func cmdPlanRechecksum(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: plan-rechecksum FILE")
	}
	data := []byte(ts.ReadFile(args[0]))
	locs := checksumMember.FindAllSubmatchIndex(data, -1)
	if len(locs) == 0 {
		ts.Fatalf("plan-rechecksum: %s has no \"checksum\" member", args[0])
	}
	sum, err := engine.PlanChecksum(data)
	if err != nil {
		ts.Fatalf("plan-rechecksum %s: %v", args[0], err)
	}
	// a plan has one checksum member, at the top level; of repeated ones
	// the last is the one a reader takes
	loc := locs[len(locs)-1]
	var out []byte
	out = append(out, data[:loc[3]]...)
	out = append(out, '"')
	out = append(out, sum...)
	out = append(out, '"')
	out = append(out, data[loc[1]:]...)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), out, 0o644))
}

// json-field FILE PATH WANT asserts the value at a dotted path; WANT is
// compared as JSON (strings may be written bare).
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: json-field FILE PATH WANT")
	}
	var root any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &root))
	_, _, got := jsonPath(ts, root, args[1])
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(parseValue(args[2]))
	if bytes.Equal(gj, wj) == neg {
		ts.Fatalf("%s: %s is %s, want %s%s", args[0], args[1], gj, notIf(neg), wj)
	}
}

var envRef = regexp.MustCompile(`\$[A-Z_][A-Z0-9_]*`)

// envsubst FILE replaces $NAME references in FILE with the environment's
// values (for the seed YAML, which has no env()).
func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: envsubst FILE")
	}
	out := envRef.ReplaceAllStringFunc(ts.ReadFile(args[0]), func(ref string) string { return ts.Getenv(ref[1:]) })
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(out), 0o644))
}

// no-secrets [FILE...] asserts that neither the bind password nor the API
// key appears in the files, the last command's stdout and stderr, or any
// plan, state or log file in the work directory.
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("no-secrets does not support negation")
	}
	secrets := []string{ts.Getenv("LDAP_BIND_PASSWORD"), ts.Getenv("FTRACK_API_KEY"), ts.Getenv("STATE_HTTP_PASSWORD")}
	check := func(name, content string) {
		for _, s := range secrets {
			if s != "" && strings.Contains(content, s) {
				ts.Fatalf("%s contains a secret", name)
			}
		}
	}
	check("stdout", ts.ReadFile("stdout"))
	check("stderr", ts.ReadFile("stderr"))
	files := append([]string{}, args...)
	work := ts.Getenv("WORK")
	entries, err := os.ReadDir(work)
	ts.Check(err)
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".md") || strings.HasSuffix(n, ".log") || strings.HasSuffix(n, ".jsonl")) {
			files = append(files, n)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(ts.MkAbs(f))
		ts.Check(err)
		check(f, string(data))
	}
}

// grep-count PATTERN FILE N asserts how many lines of FILE match PATTERN.
func cmdGrepCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: grep-count PATTERN FILE N")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	var content string
	switch args[1] {
	case "stdout", "stderr":
		content = ts.ReadFile(args[1])
	default:
		content = ts.ReadFile(args[1])
	}
	n := 0
	for _, line := range strings.Split(content, "\n") {
		if re.MatchString(line) {
			n++
		}
	}
	if n != want {
		ts.Fatalf("grep-count %q %s: %d lines match, want %d", args[0], args[1], n, want)
	}
}

// requireSlapd skips the test when OpenLDAP is not installed, or fails it
// when the CI environment variable is set.
func requireSlapd(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"slapd", "slapadd"} {
		if _, err := exec.LookPath(tool); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join("/usr/sbin", tool)); err == nil {
			continue
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set, so this is a failure)", ldaptest.InstallHint)
		}
		t.Skip(ldaptest.InstallHint)
	}
}
