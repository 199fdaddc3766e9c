package engine

// What apply re-derives before its first write. The plan file is
// untrusted: its checksum anyone can recompute, and its signature, when
// there is one, only says who made it. So apply executes a change only
// when it can justify it from what it reads itself — the configuration on
// disk (policy, protect list, mapping), ftrack as it is now and, unless
// the caller turns it off, the directory as it is now — never from what
// the plan says about itself (reasons, summary, blocked, policy).
//
// The checks, each with its refusal token, in the order a message names
// them:
//
//	invalid              a change whose parts do not fit its action
//	identity_mismatch    address, key, target_id and the account's
//	                     username disagree
//	conflicting_changes  two changes write one field (or membership) of
//	                     one account
//	protected            policy.protect, the API user apply signs in as, an
//	                     account of user type service or demo, a
//	                     privileged or API role granted, or the last
//	                     active Administrator taken away
//	not_owned            unowned or another mapping's account, other than
//	                     an adopt the policy allows
//	stale                a before that no longer matches ftrack, or a
//	                     directory that moved on since the plan
//	source_mismatch      a change the configuration and the directory
//	                     would not make now
//	blocked              the licence seats, counted against ftrack now over
//	                     the changes still to make (seats.go), and the
//	                     safety limits, counted again over the plan's
//	                     changes with the configuration's policy
//
// The directory check compares every pending change with a fresh diff
// (the same passes plan runs, with the same state): a create's after must
// be exactly what the mapping gives, an update's or adopt's written
// fields must be what it gives, and a deactivation, reactivation or
// membership change must be one the fresh diff makes. Changes already
// done (an interrupted run) write nothing and are not re-justified.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// newIDPlaceholder is the target id the fresh diff gives a create: apply
// compares creates by what they write, not by the id the plan chose.
const newIDPlaceholder = "\x00new"

// derivation is the fresh diff apply compares the plan with.
type derivation struct {
	view    *view
	diff    *diffResult
	changes map[string]Change // by ChangeID
}

// derive re-reads the directory and ftrack and runs plan's passes on
// them; accounts gets every account the target returned (the view leaves
// protected ones out).
func derive(ctx context.Context, req ApplyRequest, la *LastApplied, now time.Time) (*derivation, []Account, error) {
	v, accounts, err := readView(ctx, readRequest{Sources: req.Sources, Mapper: req.Mapper, Target: req.Target, Policy: req.Policy,
		Groups: req.Groups, LastApplied: la, TargetUser: req.TargetUser})
	if err != nil {
		return nil, nil, fmt.Errorf("apply: re-reading the directory to verify the plan (apply -verify-source=false skips this): %w", err)
	}
	d := diff(v, req.Policy, la, now, func() string { return newIDPlaceholder })
	dv := &derivation{view: v, diff: d, changes: make(map[string]Change, len(d.changes))}
	for _, c := range d.changes {
		dv.changes[ChangeID(c)] = c
	}
	return dv, accounts, nil
}

// problems collects what is wrong with a plan's changes, by reason.
type problems map[RefusalReason][]string

func (ps problems) add(r RefusalReason, format string, args ...any) {
	ps[r] = append(ps[r], fmt.Sprintf(format, args...))
}

// refusalOrder is the order in which problems are reported: the first
// reason present is the refusal's token.
var refusalOrder = []RefusalReason{RefuseInvalid, RefuseIdentityMismatch, RefuseConflictingChanges, RefuseProtected, RefuseNotOwned, RefuseStale, RefuseSourceMismatch}

var refusalAdvice = map[RefusalReason]string{
	RefuseInvalid:            "the plan was not written by ldapsync plan or was edited; make a new plan",
	RefuseIdentityMismatch:   "the plan was edited; make a new plan",
	RefuseConflictingChanges: "the plan was edited; make a new plan",
	RefuseProtected:          "make a new plan",
	RefuseNotOwned:           "make a new plan",
	RefuseStale:              "make a new plan",
	RefuseSourceMismatch:     "the plan was edited, or made from another directory or configuration; make a new plan",
}

// refusal returns the first reason's refusal, or nil.
func (ps problems) refusal() *RefusalError {
	for _, r := range refusalOrder {
		msgs := ps[r]
		if len(msgs) == 0 {
			continue
		}
		if n := len(msgs); n > 10 {
			msgs = append(msgs[:10:10], fmt.Sprintf("and %d more", n-10))
		}
		return refuse(r, "%s; %s", strings.Join(msgs, "; "), refusalAdvice[r])
	}
	return nil
}

// checker holds what the checks of one apply run read.
type checker struct {
	plan   *Plan
	mapper string
	policy Policy
	// hands matches protected usernames, the API user and their
	// look-alikes, as plan's hands-off pass does.
	hands   *handsOff
	byID    map[string]*Account
	byKey   map[string]*Account
	created map[string]Change // target id -> the plan's create
	renamed map[string]string // target id -> lower-case username a planned update gives it
	adopted map[string]bool   // target id -> the plan adopts it
	// idUsers counts the changes on user accounts per target id, and
	// createGroups is the target's CreateGroups capability.
	idUsers      map[string]int
	createGroups bool
	// previous are the mapping's previous names (a handover re-marks
	// their accounts).
	previous map[string]bool
	// mapperImpl is the configuration's mapping.
	mapperImpl Mapper
	fresh      *derivation
	// moved is true when the directory's digests differ from those the
	// plan records: a value that differs is then the directory moving on
	// (stale), otherwise an edit of the plan (source_mismatch).
	moved    bool
	force    bool
	problems problems
}

// verifyChanges runs every check on the plan's changes (sorted in the
// safe order) and returns those to execute and those already done, or a
// refusal.
func verifyChanges(req ApplyRequest, changes []Change, accounts []Account, groups map[string]bool, fresh *derivation, roles *roleCheck) (pending, done []Change, err error) {
	hands, err := newHandsOff(req.Policy.Protect, req.TargetUser)
	if err != nil {
		return nil, nil, err
	}
	ck := &checker{plan: req.Plan, mapper: req.Mapper.Name(), policy: req.Policy, hands: hands,
		byID: make(map[string]*Account, len(accounts)), byKey: make(map[string]*Account, len(accounts)), created: make(map[string]Change, len(changes)), renamed: map[string]string{},
		adopted: map[string]bool{}, fresh: fresh, force: req.Force, problems: problems{}, mapperImpl: req.Mapper}
	if fresh != nil {
		ck.moved = !sameDigests(req.Plan.Sources, fresh.view.sources)
	}
	ck.previous = map[string]bool{}
	for _, n := range req.Mapper.PreviousNames() {
		ck.previous[n] = n != ck.mapper
	}
	for i := range accounts {
		a := &accounts[i]
		ck.byID[a.ID] = a
		ck.byKey[strings.ToLower(a.Username)] = a
	}
	ck.idUsers, ck.createGroups = make(map[string]int, len(changes)), req.Target.Capabilities().CreateGroups
	for _, c := range changes {
		if c.Action != ActionCreateGroup {
			ck.idUsers[c.TargetID]++
		}
		switch {
		case c.Action == ActionCreate:
			ck.created[c.TargetID] = c
		case c.Action == ActionAdopt:
			ck.adopted[c.TargetID] = true
		}
		if c.After != nil && c.After.Username != nil && (c.Action == ActionUpdate || c.Action == ActionAdopt) {
			ck.renamed[c.TargetID] = strings.ToLower(*c.After.Username)
		}
	}
	ck.checkConflicts(changes)
	if roles != nil {
		ck.checkRoles(changes, roles.cat, allowedPrivileged(req.Groups), accounts)
		if fresh == nil {
			ck.checkRolesConfigured(changes, req, roles)
		}
	}
	for _, c := range changes {
		if c.Action == ActionCreateGroup {
			if !ck.checkGroupShape(c) {
				continue
			}
		} else if !ck.checkShape(c) || !ck.checkIdentity(c) || !ck.checkHandsOff(c) {
			continue
		}
		st, msg := classify(c, ck.byID, ck.byKey, ck.created, groups)
		switch st {
		case statusDone:
			done = append(done, c)
			continue
		case statusStale:
			ck.problems.add(RefuseStale, "stale plan: ftrack changed since the plan was made: %s", msg)
			continue
		}
		if fresh != nil {
			c = ck.checkSource(c)
		}
		pending = append(pending, c)
	}
	if r := ck.problems.refusal(); r != nil {
		return nil, nil, r
	}
	if err := checkSeatsNow(req.Policy, accounts, pending); err != nil {
		return nil, nil, err
	}
	if err := ck.checkLimits(changes); err != nil {
		return nil, nil, err
	}
	return pending, done, nil
}

// writes lists what a change writes: its fields, its membership or its
// group.
func writes(c Change) []string {
	switch c.Action {
	case ActionAddMembership, ActionRemoveMembership:
		return []string{"membership " + c.Group}
	case ActionCreateGroup:
		return []string{"group " + c.Group}
	case ActionAddRole:
		return []string{"role " + c.Role}
	case ActionRemoveRole: // a scope change removes and grants one role
		return []string{"role removal " + c.Role}
	case ActionGrantRoleProject, ActionRevokeRoleProject:
		return []string{"role " + c.Role + " project " + c.Project}
	}
	return fieldNames(c.After)
}

// checkConflicts refuses two changes that write the same field or
// membership of one account, and a change listed twice.
func (ck *checker) checkConflicts(changes []Change) {
	type write struct{ id, what string }
	seen := map[write]string{} // -> address
	ids := make(map[string]bool, len(changes))
	for _, c := range changes {
		if id := ChangeID(c); ids[id] {
			ck.problems.add(RefuseConflictingChanges, "%s: the %s change is listed twice", c.Address, c.Action)
		} else {
			ids[id] = true
		}
		if c.Action != ActionCreateGroup && ck.idUsers[c.TargetID] < 2 {
			continue // the only change of its account: nothing to conflict with
		}
		for _, w := range writes(c) {
			k := write{c.TargetID, w}
			if other, dup := seen[k]; dup {
				ck.problems.add(RefuseConflictingChanges, "%s and %s both write %s of account %s", other, c.Address, w, c.TargetID)
				continue
			}
			seen[k] = c.Address
		}
	}
}

// checkGroupShape refuses a group creation that is not one: a group
// name, its address, a target id, nothing else.
func (ck *checker) checkGroupShape(c Change) bool {
	if c.Group == "" || c.TargetID == "" || c.Key != "" || c.Before != nil || c.After != nil || c.MembershipID != "" {
		ck.problems.add(RefuseInvalid, "%s (%s): a group creation names a group and a target id, and nothing else", c.Address, c.Action)
		return false
	}
	if !ck.createGroups {
		ck.problems.add(RefuseInvalid, "%s: the target has create_groups = false: ldapsync creates no groups there", c.Address)
		return false
	}
	if err := checkIdentifier("group", c.Group); err != nil {
		ck.problems.add(RefuseInvalid, "%s: %v", c.Address, err)
		return false
	}
	if want := "group." + c.Group; c.Address != want {
		ck.problems.add(RefuseIdentityMismatch, "%s: the address does not match its group %q (want %s)", c.Address, c.Group, want)
		return false
	}
	if ck.byID[c.TargetID] != nil || ck.idUsers[c.TargetID] > 0 {
		ck.problems.add(RefuseIdentityMismatch, "%s: target_id %s is already an account's or another change's id; a group creation needs an id of its own", c.Address, c.TargetID)
		return false
	}
	return true
}

// checkShape refuses a change whose parts do not fit its action: the
// fields it may write, a before for each of them, the address its key and
// group give.
func (ck *checker) checkShape(c Change) bool {
	bad := func(format string, args ...any) bool {
		ck.problems.add(RefuseInvalid, "%s (%s): %s", c.Address, c.Action, fmt.Sprintf(format, args...))
		return false
	}
	if c.Key == "" || c.Key != strings.ToLower(c.Key) || c.TargetID == "" {
		return bad("a change needs a lower-case key and a target_id")
	}
	afterSet := SetFields(c.After) // once, for its names, its required names and its values
	after, before := fieldNamesOf(afterSet), fieldNames(c.Before)
	switch c.Action {
	case ActionAddMembership, ActionRemoveMembership:
		if c.Group == "" || c.Before != nil || c.After != nil {
			return bad("a membership change names a group and has no before or after")
		}
		if want := "membership." + c.Key + "." + c.Group; c.Address != want {
			ck.problems.add(RefuseIdentityMismatch, "%s: the address does not match its key %q and group %q (want %s)", c.Address, c.Key, c.Group, want)
			return false
		}
		return true
	case ActionAddRole, ActionRemoveRole, ActionGrantRoleProject, ActionRevokeRoleProject:
		return ck.checkRoleShape(c)
	case ActionCreate, ActionUpdate, ActionAdopt, ActionDeactivate, ActionReactivate:
	default:
		return bad("unknown action %q", c.Action)
	}
	if want := "user." + c.Key; c.Address != want || c.Group != "" || c.MembershipID != "" {
		ck.problems.add(RefuseIdentityMismatch, "%s: the address does not match its key %q (want %s)", c.Address, c.Key, want)
		return false
	}
	switch c.Action {
	case ActionCreate:
		if len(before) != 0 || !slices.Equal(requiredNamesOf(afterSet), createFieldNames) || !*c.After.IsActive || *c.After.Owner != ck.mapper {
			return bad("a create has no before and writes every field, active, owned by mapping %q", ck.mapper)
		}
		if strings.ToLower(*c.After.Username) != c.Key {
			ck.problems.add(RefuseIdentityMismatch, "%s: creates username %q, not its key %q", c.Address, *c.After.Username, c.Key)
			return false
		}
		if err := checkWrittenSet(afterSet); err != nil {
			return bad("%v", err)
		}
		return ck.checkCustomWrites(c)
	case ActionDeactivate, ActionReactivate:
		active := c.Action == ActionReactivate
		if !slices.Equal(after, []string{"is_active"}) || !slices.Equal(before, after) || *c.After.IsActive != active || *c.Before.IsActive == active {
			return bad("it changes is_active to %t and nothing else", active)
		}
		return true
	}
	// update, adopt
	if err := checkWrittenSet(afterSet); err != nil {
		return bad("%v", err)
	}
	if !ck.checkCustomWrites(c) {
		return false
	}
	if len(after) == 0 || slices.Contains(after, "is_active") {
		return bad("an update or adopt writes at least one field, and never is_active")
	}
	if !slices.Equal(before, after) {
		return bad("before must hold the current value of every field it writes (writes %s, before has %s)", strings.Join(after, ", "), orNone(before))
	}
	hasOwner := c.After.Owner != nil
	if c.Action == ActionAdopt && (!hasOwner || *c.After.Owner != ck.mapper || (*c.Before.Owner != "" && !ck.previous[*c.Before.Owner])) {
		return bad("an adopt writes owner %q over an empty owner or one of the mapping's previous_names", ck.mapper)
	}
	if c.Action == ActionUpdate && hasOwner {
		return bad("an update never writes the owner")
	}
	if c.After.Username != nil && strings.ToLower(*c.After.Username) != c.Key {
		ck.problems.add(RefuseIdentityMismatch, "%s: renames the account to %q, not its key %q", c.Address, *c.After.Username, c.Key)
		return false
	}
	return true
}

// WrittenFields is the table plus the custom attribute fields either
// Fields sets, in key order.
func WrittenFields(a, b *Fields) []UserField {
	custom := map[string]string{}
	for _, f := range []*Fields{a, b} {
		if f != nil {
			maps.Copy(custom, f.Custom)
		}
	}
	return withCustom(custom)
}

// orNone joins names, or says "none".
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkIdentity refuses a change whose target id names an account of
// another user: the account's username must be the change's key, or the
// before of a rename the plan makes to the key.
func (ck *checker) checkIdentity(c Change) bool {
	a := ck.byID[c.TargetID]
	if c.Action == ActionCreate || a == nil {
		if cr, ok := ck.created[c.TargetID]; ok && cr.Key != c.Key {
			ck.problems.add(RefuseIdentityMismatch, "%s: target_id %s is the id the plan creates for user.%s", c.Address, c.TargetID, cr.Key)
			return false
		}
		if c.Action != ActionCreate && !addsToAccount(c.Action) && a == nil {
			ck.problems.add(RefuseStale, "stale plan: ftrack changed since the plan was made: %s: account %s no longer exists in ftrack", c.Address, c.TargetID)
			return false
		}
		return true // a create is checked against ftrack by classify
	}
	have := strings.ToLower(a.Username)
	if have == c.Key || ck.renamed[c.TargetID] == c.Key {
		return true
	}
	ck.problems.add(RefuseIdentityMismatch, "%s: target_id %s is ftrack account %q, not user %q", c.Address, c.TargetID, a.Username, c.Key)
	return false
}

// checkHandsOff refuses changes to protected accounts, to the API user, to
// accounts of a hands-off user type (by the change's account, or the
// account its key names) and to accounts the mapping does not own.
func (ck *checker) checkHandsOff(c Change) bool {
	names := []string{c.Key}
	if c.After != nil && c.After.Username != nil {
		names = append(names, *c.After.Username)
	}
	a := ck.byID[c.TargetID]
	if a != nil {
		names = append(names, a.Username)
	}
	for i, n := range names {
		if e := ck.hands.entryFor(n, n); e != "" {
			if e == apiUserEntry {
				ck.problems.add(RefuseProtected, "%s: %q is the API user ldapsync signs in to ftrack as; it is never changed", c.Address, n)
			} else {
				ck.problems.add(RefuseProtected, "%s: %q is protected by policy.protect %q", c.Address, n, e)
			}
			return false
		}
		if a != nil && i == len(names)-1 {
			continue // the account's own username: matched exactly, as plan does
		}
		// A look-alike the plan would create or rename to, as plan holds them.
		if e := ck.hands.lookalikeFor(n, n); e != "" {
			if e == apiUserEntry {
				e = "the API user"
			}
			ck.problems.add(RefuseProtected, "%s: %q looks like a protected username (%s) once invisible characters are removed and it is folded", c.Address, n, e)
			return false
		}
	}
	for _, acc := range []*Account{a, ck.byKey[c.Key]} {
		if acc != nil && handsOffType(acc.UserType) {
			ck.problems.add(RefuseProtected, "%s: ftrack account %q is of user type %q; ldapsync never changes %s accounts", c.Address, acc.Username, acc.UserType, strings.Join(handsOffUserTypes, " or "))
			return false
		}
	}
	if a == nil || a.Owner == ck.mapper {
		return true
	}
	if ck.previous[a.Owner] && ck.adopted[c.TargetID] {
		return true // the handover, or a change to the account it hands over
	}
	if a.Owner != "" {
		ck.problems.add(RefuseNotOwned, "%s: account %q is owned by mapping %q, not %q", c.Address, a.Username, a.Owner, ck.mapper)
		return false
	}
	if ck.adopted[c.TargetID] && ck.policy.AdoptExisting {
		return true // the adopt, or a change to the account it adopts
	}
	if ck.adopted[c.TargetID] {
		ck.problems.add(RefuseNotOwned, "%s: account %q has no ldapsync owner and the configuration has adopt_existing = false", c.Address, a.Username)
	} else {
		ck.problems.add(RefuseNotOwned, "%s: account %q has no ldapsync owner; ldapsync never changes an account it does not own unless the plan adopts it", c.Address, a.Username)
	}
	return false
}

// checkSource refuses a pending change the fresh diff does not make. It
// returns the change with the fresh diff's reason: the plan's reason is
// the plan's claim, and the journal and the log say why apply made it.
func (ck *checker) checkSource(c Change) Change {
	f, ok := ck.fresh.changes[ChangeID(c)]
	if !ok {
		ck.problems.add(RefuseSourceMismatch, "%s: the configuration and the directory would not %s it now: %s", c.Address, c.Action, ck.explain(c))
		return c
	}
	c.Reason, c.ReasonDetail = f.Reason, f.ReasonDetail
	if f.TargetID != newIDPlaceholder && f.TargetID != c.TargetID {
		ck.problems.add(RefuseSourceMismatch, "%s: the directory joins this user to ftrack account %s, not %s", c.Address, f.TargetID, c.TargetID)
		return c
	}
	if f.TargetID == newIDPlaceholder && c.Action != ActionCreate && c.Action != ActionCreateGroup {
		if _, ok := ck.created[c.TargetID]; !ok {
			ck.problems.add(RefuseSourceMismatch, "%s: the user does not exist in ftrack and the plan does not create it", c.Address)
			return c
		}
	}
	if c.SourceID != f.SourceID {
		ck.differs(c, fmt.Sprintf("its stable id is %q in the directory now, the plan has %q", f.SourceID, c.SourceID))
		return c
	}
	switch c.Action {
	case ActionCreate:
		ck.compareWritten(c, f, true)
	case ActionUpdate, ActionAdopt:
		ck.compareWritten(c, f, false)
	case ActionAddRole:
		if c.AllOpenProjects != f.AllOpenProjects {
			ck.differs(c, fmt.Sprintf("the roles block grants it with all_open_projects = %t, the plan with %t", f.AllOpenProjects, c.AllOpenProjects))
		}
	}
	return c
}

// compareWritten checks the fields a create, update or adopt writes
// against what the mapping gives now. exact asks for every field of the
// fresh change too (a create writes a whole account).
func (ck *checker) compareWritten(c, f Change, exact bool) {
	var moved, unjustified []string
	for _, uf := range WrittenFields(c.After, f.After) {
		have, inPlan := uf.Get(c.After)
		want, given := uf.Get(f.After)
		switch {
		case inPlan && given && want != have:
			moved = append(moved, fmt.Sprintf("the mapping gives %s %q, the plan writes %q", uf.Name, want, have))
		case inPlan && !given:
			unjustified = append(unjustified, fmt.Sprintf("%s %q (the mapping gives the value ftrack already has)", uf.Name, have))
		case exact && !inPlan && given:
			moved = append(moved, fmt.Sprintf("the mapping now also gives %s %q", uf.Name, want))
		}
	}
	if len(unjustified) > 0 {
		ck.problems.add(RefuseSourceMismatch, "%s: the configuration and the directory would not write %s", c.Address, strings.Join(unjustified, ", "))
	}
	if len(moved) > 0 {
		ck.differs(c, strings.Join(moved, "; "))
	}
}

// differs reports a value the directory gives differently from the plan:
// stale when the directory changed since the plan was read, an edited
// plan (source_mismatch) when it did not.
func (ck *checker) differs(c Change, what string) {
	if ck.moved {
		ck.problems.add(RefuseStale, "stale plan: the directory moved on since the plan was made: %s: %s", c.Address, what)
		return
	}
	ck.problems.add(RefuseSourceMismatch, "%s: the directory has not changed since the plan was made, and the plan does not write what it gives: %s", c.Address, what)
}

// sameDigests reports whether two reads of the sources gave the same
// users, by their digests.
func sameDigests(a, b []SourceSummary) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Digest != b[i].Digest {
			return false
		}
	}
	return true
}

// explain says why the fresh diff has no such change, for the common
// cases; a generic sentence otherwise.
func (ck *checker) explain(c Change) string {
	v, pol := ck.fresh.view, ck.policy
	i, found := sort.Find(len(v.desired), func(i int) int { return strings.Compare(c.Key, v.desired[i].Key) })
	var u *User
	if found {
		u = &v.desired[i]
	}
	held, isHeld := v.held[c.Key]
	for _, d := range ck.fresh.diff.deferred {
		if d.Key == c.Key && c.Action == ActionDeactivate {
			return "it is still in its grace period (" + d.ReasonDetail + ")"
		}
	}
	switch {
	case isHeld:
		return fmt.Sprintf("its directory entries are held back (%s)", held)
	case c.Action == ActionDeactivate && u != nil && !u.Disabled:
		return fmt.Sprintf("%s is present and enabled in the directory (%s)", c.Key, u.DN)
	case c.Action == ActionDeactivate && u != nil && pol.OnDisabled != ModeDeactivate:
		return "policy on_disabled = \"ignore\""
	case c.Action == ActionDeactivate && u == nil && pol.OnMissing != ModeDeactivate:
		return "policy on_missing = \"ignore\""
	case c.Action == ActionReactivate && u != nil && u.Disabled:
		return fmt.Sprintf("%s is disabled in the directory (%s)", c.Key, firstNonEmpty(u.DisabledReason, u.DN))
	case c.Action == ActionReactivate && !pol.Reactivate:
		return "policy reactivate = false"
	case c.Action == ActionAdopt && !pol.AdoptExisting:
		return "policy adopt_existing = false"
	case c.Action == ActionCreate && u != nil && u.Disabled:
		return fmt.Sprintf("%s is disabled in the directory", c.Key)
	case u == nil && c.Action != ActionDeactivate && c.Action != ActionRemoveMembership && c.Action != ActionRemoveRole && c.Action != ActionRevokeRoleProject:
		return fmt.Sprintf("no directory entry maps to user %q", c.Key)
	}
	return "the directory and the mapping give no such change"
}

// checkLimits counts the plan's changes again and applies the
// configuration's limits, with the bases read now: the accounts the
// mapping owns in ftrack, and the directory's users (without the
// directory check, the owned accounts again: a smaller base, so a
// percentage limit only gets stricter).
func (ck *checker) checkLimits(changes []Change) error {
	owned := 0
	for _, a := range ck.byID {
		if (a.Owner == ck.mapper || ck.previous[a.Owner]) && ck.hands.prot.match(a.Username) == "" {
			owned++
		}
	}
	desired := owned
	var foreign map[string]int
	if ck.fresh != nil {
		desired, foreign = len(ck.fresh.view.desired), ck.fresh.diff.foreign
	}
	reasons := blockReasons(ck.policy, changes, owned, desired, foreign, ck.mapper)
	if ck.fresh != nil {
		reasons = append(reasons, blankingReasons(ck.fresh.view, changes, ck.mapperImpl)...)
		for _, r := range blankingReasons(ck.fresh.view, ck.fresh.diff.changes, ck.mapperImpl) {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, "with the directory as it is now, "+r)
			}
		}
	}
	if ck.fresh != nil {
		// A plan that carries only part of a blocked plan's changes is
		// still blocked: the limits also hold for what the directory
		// gives now.
		for _, r := range blockReasons(ck.policy, ck.fresh.diff.changes, owned, desired, nil, ck.mapper) {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, "with the directory as it is now, "+r)
			}
		}
	}
	p := ck.plan
	if len(reasons) == 0 && !p.IsBlocked() {
		return nil
	}
	if len(reasons) == 0 {
		reasons = p.Blocked.Reasons
	}
	overridden := p.Blocked != nil && p.Blocked.Overridden && p.Policy.Override != nil && *p.Policy.Override == "force"
	switch {
	case overridden && (p.signed || ck.force):
		return nil
	case overridden:
		return refuse(RefuseBlocked, "the plan exceeds a safety limit (%s); it records a -force override, but it is not signed, so anyone could have written that: run apply -force to confirm the override", strings.Join(reasons, "; "))
	}
	return refuse(RefuseBlocked, "the plan is blocked by a safety policy (%s); review it and make a new plan with -force to override", strings.Join(reasons, "; "))
}
