package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// lifecycle is the lifecycle pass: what happens to each joined pair and
// to each account no desired user joined.
type lifecycle struct {
	v     *view
	pol   Policy
	last  *LastApplied
	now   time.Time
	newID func() string
	res   *diffResult
	// isDesired reports whether a key is a desired user's.
	isDesired func(key string) bool
}

// desiredUser decides for a desired user: create it (unless the
// directory disables it), update the account this mapping owns, adopt an
// unowned one, or leave another mapping's account alone.
func (lc *lifecycle) desiredUser(m match) {
	u, a, v, res := *m.user, m.account, lc.v, lc.res
	switch {
	case a == nil && u.Disabled:
		res.unchanged++ // never create a user the directory disables
	case a == nil:
		res.changes = append(res.changes, createChanges(u, v, lc.newID)...)
	case v.claims(a.Owner):
		cs := ownedChanges(u, *a, v, lc.pol)
		if m.rename && len(cs) > 0 {
			cs[0].Reason = ReasonRenamedInDirectory
		}
		if a.Owner != v.mapper {
			cs = append([]Change{handoverChange(u.Key, *a, v.mapper)}, cs...)
		}
		if len(cs) == 0 {
			res.unchanged++
		}
		res.changes = append(res.changes, cs...)
	case a.Owner != "":
		res.foreign[a.Owner]++
		res.warnings = append(res.warnings, fmt.Sprintf("user.%s is owned by mapping %q, not %q: not changed", u.Key, a.Owner, v.mapper))
	case !lc.pol.AdoptExisting && m.byEmail:
		res.warnings = append(res.warnings, fmt.Sprintf("user.%s: ftrack account %q has its e-mail and no ldapsync marker, and adopt_existing = false: not created (one person, one account)", u.Key, a.Username))
		if a.Active {
			res.unmanaged = append(res.unmanaged, a.Username)
		}
	case !lc.pol.AdoptExisting:
		res.warnings = append(res.warnings, fmt.Sprintf("user.%s exists in ftrack without the ldapsync marker and adopt_existing = false: not changed", u.Key))
		if a.Active {
			res.unmanaged = append(res.unmanaged, a.Username)
		}
	default:
		cs := adoptChanges(u, *a, v, lc.pol)
		if m.byEmail {
			cs[0].Reason, cs[0].ReasonDetail = ReasonEmailMatchesDirectoryUser, fmt.Sprintf("ftrack account %q has the e-mail %q", a.Username, a.Email)
		}
		res.changes = append(res.changes, cs...)
	}
}

// unmatchedAccount decides for an account no desired user joined: an
// unowned active one is reported as unmanaged; an active one this
// mapping owns is deactivated as missing (on_missing), unless its
// directory entries were held, or after its grace period.
func (lc *lifecycle) unmatchedAccount(a *Account) {
	v, res, pol := lc.v, lc.res, lc.pol
	k := strings.ToLower(a.Username)
	if a.Owner == "" {
		if a.Active {
			res.unmanaged = append(res.unmanaged, a.Username)
		}
		return
	}
	if !v.claims(a.Owner) || lc.isDesired(k) {
		return
	}
	if a.Owner != v.mapper {
		res.changes = append(res.changes, handoverChange(k, *a, v.mapper))
	}
	if !a.Active || pol.OnMissing != ModeDeactivate {
		return
	}
	if why, held := v.held[k]; held {
		if why != holdProtected && why != holdDuplicateAccount { // those were reported already
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: directory entries for this username were skipped (%s); not deactivated", k, why))
		}
		return
	}
	if dn, held := v.heldSIDs[a.SourceID]; held { // heldSIDs has no empty key
		res.warnings = append(res.warnings, fmt.Sprintf("user.%s: its directory entry %s could not be mapped (see skipped); not deactivated", k, dn))
		return
	}
	first := lc.now
	if lc.last != nil {
		if t, ok := lc.last.Missing[k]; ok && t.Before(lc.now) {
			first = t
		}
	}
	res.missing[k] = first.UTC()
	ch := Change{
		Address: "user." + k, Action: ActionDeactivate, Reason: ReasonMissingFromDirectory,
		Key: k, TargetID: a.ID, SourceID: a.SourceID,
		Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)},
	}
	if pol.GracePeriod > 0 && lc.now.Sub(first) < pol.GracePeriod {
		due := first.Add(pol.GracePeriod).UTC()
		ch.ReasonDetail = "grace period until " + due.Format(time.RFC3339)
		res.deferred = append(res.deferred, ch)
		res.warnings = append(res.warnings, fmt.Sprintf("user.%s missing from the directory since %s; deactivation after %s (grace_period = %s)",
			k, first.UTC().Format(time.RFC3339), due.Format(time.RFC3339), pol.GracePeriod))
		return
	}
	res.changes = append(res.changes, ch)
}

// groupCreations plans the groups the membership additions need and
// the target lacks: one create_group change per group (run before the
// additions), or, when the target may not create groups, the additions
// left out with a warning. Every group ldapsync makes is in the plan.
func (lc *lifecycle) groupCreations() {
	res, v := lc.res, lc.v
	missing := map[string]int{}
	var names []string
	for _, c := range res.changes {
		if c.Action == ActionAddMembership && !v.targetGroups[c.Group] {
			if missing[c.Group] == 0 {
				names = append(names, c.Group)
			}
			missing[c.Group]++
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	if !v.createGroups {
		res.changes = slices.DeleteFunc(res.changes, func(c Change) bool { return c.Action == ActionAddMembership && missing[c.Group] > 0 })
		for _, g := range names {
			res.warnings = append(res.warnings, fmt.Sprintf("group %q does not exist in ftrack and create_groups = false: %d memberships not added", g, missing[g]))
		}
		return
	}
	for _, g := range names {
		res.changes = append(res.changes, Change{Address: "group." + g, Action: ActionCreateGroup, Reason: ReasonGroupNotInTarget,
			ReasonDetail: fmt.Sprintf("%d members in the directory", missing[g]), TargetID: lc.newID(), Group: g})
	}
}

// handoverChange re-marks an account owned by one of the mapping's
// previous names as the mapping's own: an adopt that writes the owner
// only.
func handoverChange(key string, a Account, mapper string) Change {
	return Change{Address: "user." + key, Action: ActionAdopt, Reason: ReasonPreviousName,
		ReasonDetail: fmt.Sprintf("owned by %q, a previous name of the mapping", a.Owner),
		Key:          key, TargetID: a.ID, SourceID: a.SourceID,
		Before: &Fields{Owner: Str(a.Owner)}, After: &Fields{Owner: Str(mapper)}}
}

// createChanges creates a user with a plan-time id, then its memberships.
func createChanges(u User, v *view, newID func() string) []Change {
	id := newID()
	after := &Fields{IsActive: Bool(true), Owner: Str(v.mapper), SourceID: Str(u.SourceID)}
	for _, uf := range desiredFields(u) {
		if want, ok := uf.Desired(u); ok && uf.Kind == FieldAttribute {
			uf.Set(after, want)
		}
	}
	cs := []Change{{
		Address: "user." + u.Key, Action: ActionCreate, Reason: ReasonNewInDirectory,
		Key: u.Key, TargetID: id, SourceID: u.SourceID, After: after,
	}}
	if v.mapsGroups {
		for _, g := range u.Groups {
			cs = append(cs, membershipChange(ActionAddMembership, u.Key, id, u.SourceID, g, ""))
		}
	}
	return append(cs, createRoleChanges(u, id, v)...)
}

func membershipChange(act Action, key, id, sid, group, mid string) Change {
	reason := ReasonGroupInDirectory
	if act == ActionRemoveMembership {
		reason = ReasonGroupNotInDirectory
	}
	return Change{Address: "membership." + key + "." + group, Action: act, Reason: reason, Key: key, TargetID: id, SourceID: sid, Group: group, MembershipID: mid}
}

// fieldDiff returns the touched fields: before from the account, after
// from the desired user. Fields written at create only are never
// touched again.
func fieldDiff(u User, a Account, createOnly map[string]bool) (before, after Fields, n int) {
	for _, uf := range desiredFields(u) {
		want, ok := uf.Desired(u)
		if have := uf.Actual(a); ok && uf.Kind == FieldAttribute && want != have && !createOnly[uf.Name] {
			uf.Set(&before, have)
			uf.Set(&after, want)
			n++
		}
	}
	return before, after, n
}

func ownedChanges(u User, a Account, v *view, pol Policy) []Change {
	var cs []Change
	before, after, n := fieldDiff(u, a, v.createOnly)
	if u.SourceID != "" && u.SourceID != a.SourceID {
		before.SourceID, after.SourceID = Str(a.SourceID), Str(u.SourceID)
		n++
	}
	if n > 0 {
		// Copies, so that before and after stay on the stack: taking their
		// addresses moved two Fields to the heap for every owned account,
		// changed or not (12 MB of a 100k steady-state plan's allocations).
		b, af := before, after
		cs = append(cs, Change{Address: "user." + u.Key, Action: ActionUpdate, Reason: ReasonAttributesDiffer,
			Key: u.Key, TargetID: a.ID, SourceID: u.SourceID, Before: &b, After: &af})
	}
	cs = append(cs, activeChanges(u, a, pol)...)
	cs = append(cs, membershipChanges(u, a, v)...)
	return append(cs, roleChanges(u, a, v)...)
}

func activeChanges(u User, a Account, pol Policy) []Change {
	switch {
	case u.Disabled && a.Active && pol.OnDisabled == ModeDeactivate:
		return []Change{{Address: "user." + u.Key, Action: ActionDeactivate, Reason: ReasonDisabledInDirectory, ReasonDetail: u.DisabledReason, Key: u.Key, TargetID: a.ID, SourceID: u.SourceID,
			Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}}}
	case !u.Disabled && !a.Active && pol.Reactivate:
		return []Change{{Address: "user." + u.Key, Action: ActionReactivate, Reason: ReasonBackInDirectory, Key: u.Key, TargetID: a.ID, SourceID: u.SourceID,
			Before: &Fields{IsActive: Bool(false)}, After: &Fields{IsActive: Bool(true)}}}
	}
	return nil
}

func membershipChanges(u User, a Account, v *view) []Change {
	if !v.mapsGroups {
		return nil
	}
	want := map[string]bool{}
	for _, g := range u.Groups {
		want[g] = true
	}
	have := map[string]bool{}
	for _, g := range a.Groups {
		have[g] = true
	}
	var cs []Change
	for _, g := range sortedUnique(u.Groups) {
		if !have[g] {
			cs = append(cs, membershipChange(ActionAddMembership, u.Key, a.ID, u.SourceID, g, ""))
		}
	}
	for _, g := range sortedUnique(a.Groups) {
		if !want[g] && v.managedGroups[g] {
			cs = append(cs, membershipChange(ActionRemoveMembership, u.Key, a.ID, u.SourceID, g, a.Memberships[g]))
		}
	}
	return cs
}

func adoptChanges(u User, a Account, v *view, pol Policy) []Change {
	before, after, _ := fieldDiff(u, a, v.createOnly)
	before.Owner, after.Owner = Str(a.Owner), Str(v.mapper)
	before.SourceID, after.SourceID = Str(a.SourceID), Str(u.SourceID)
	cs := []Change{{Address: "user." + u.Key, Action: ActionAdopt, Reason: ReasonMatchesDirectoryUser,
		Key: u.Key, TargetID: a.ID, SourceID: u.SourceID, Before: &before, After: &after}}
	cs = append(cs, activeChanges(u, a, pol)...)
	cs = append(cs, membershipChanges(u, a, v)...)
	return append(cs, roleChanges(u, a, v)...)
}
