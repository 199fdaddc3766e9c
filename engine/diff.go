package engine

// The diff knows no provider: it compares desired users (sources through
// the mapper) with actual accounts (target) and returns plain changes.
//
// Pipeline, shared by plan and drift:
//  1. collect: stream every source through the mapper; mapping errors and
//     duplicate usernames become skipped entries (or conflicts when two
//     sources disagree), and their keys and stable ids are "held": an owned
//     account whose directory entry could not be mapped is never
//     deactivated as missing.
//  2. protect is an input transform: protected usernames are removed from
//     both sides before the diff, so no rule below can touch them.
//  3. diff joins on the lower-case username, with the stable id as a second
//     chance (a renamed uid becomes an update of username, not a create and
//     a deactivation), and applies the lifecycle policy.
//
// Group rule: when the mapper maps groups, the managed groups are every
// group some desired user maps to — plus every group an earlier apply added
// members to (LastApplied.ManagedGroups), so a group whose last directory
// member left does not keep its ftrack memberships forever. A managed user's membership in a managed
// group follows the directory exactly; groups outside that set are never
// touched.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// ReadWarner is an optional Source method: warnings about the last Read
// that are not about one entry (e.g. referrals that were not followed).
// collect adds them to the plan's warnings after each Read.
type ReadWarner interface {
	ReadWarnings() []string
}

// Conflict is a username claimed by entries of different sources; none of
// them is applied until the directory is fixed.
type Conflict struct {
	Key     string          `json:"key"`
	Reason  string          `json:"reason"`
	Entries []ConflictEntry `json:"entries"`
}

// ConflictEntry is one side of a conflict.
type ConflictEntry struct {
	Source   string `json:"source"`
	DN       string `json:"dn"`
	SourceID string `json:"source_id,omitempty"`
}

// SourceSummary describes one source read in a plan.
type SourceSummary struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Entries int    `json:"entries"`
	Digest  string `json:"digest"`
}

// view is the input of the diff after reading and the protect transform.
type view struct {
	mapper        string
	mapsGroups    bool
	managedGroups map[string]bool
	desired       []User    // sorted by key, unique keys
	accounts      []Account // sorted by lower username
	heldKeys      map[string]string
	heldSIDs      map[string]string
	skipped       []Skipped
	conflicts     []Conflict
	warnings      []string
	sources       []SourceSummary
	// precedence notes which source won an entry read through several.
	precedence []string
}

// readRequest is what collect needs.
type readRequest struct {
	Sources  []Source
	Mapper   Mapper
	Target   Target
	Policy   Policy
	Progress func(stage string, done int)
	// Groups are the groups blocks whose memberships are added to the
	// desired users (see groups.go).
	Groups []GroupSpec
	// Prior is the last-applied view; its managed groups stay managed.
	Prior *LastApplied
	// TargetUser is the username the target signs in as: held on both
	// sides like a protected user, so no plan ever adopts, changes or
	// deactivates the account ldapsync itself needs.
	TargetUser string
}

// maxFieldLen is the longest username, email or name accepted from the
// directory, in characters; a longer value skips the entry instead of
// failing at apply time.
const maxFieldLen = 1024

// fieldTooLong names the first mapped field longer than maxFieldLen.
func fieldTooLong(u User) error {
	for _, uf := range userFields {
		if v, ok := uf.Desired(u); ok && uf.Kind == FieldAttribute {
			if n := utf8.RuneCountInString(v); n > maxFieldLen {
				return fmt.Errorf("%s is %d characters long (at most %d are accepted)", uf.Name, n, maxFieldLen)
			}
		}
	}
	return nil
}

// apiUserHold marks the target's own API user among the protected keys.
const apiUserHold = "\x00api_user"

// maxPrecedenceNotes caps the precedence warnings listed one by one.
const maxPrecedenceNotes = 10

func collect(ctx context.Context, r readRequest) (*view, error) {
	if r.Mapper == nil || r.Target == nil {
		return nil, fmt.Errorf("plan: a mapper and a target are required")
	}
	if len(r.Sources) == 0 {
		return nil, fmt.Errorf("plan: no source configured")
	}
	prot, err := newProtector(r.Policy.Protect)
	if err != nil {
		return nil, err
	}
	progress := r.Progress
	if progress == nil {
		progress = func(string, int) {}
	}
	v := &view{
		mapper:        r.Mapper.Name(),
		mapsGroups:    r.Mapper.MapsGroups(),
		managedGroups: map[string]bool{},
		heldKeys:      map[string]string{},
		heldSIDs:      map[string]string{},
	}
	attrs := r.Mapper.Attributes()
	var all []User
	rank := map[string]int{} // source name -> precedence (lower wins)
	for _, src := range r.Sources {
		info := src.Info()
		if _, ok := rank[info.Name]; !ok {
			rank[info.Name] = len(rank)
		}
		stage := "reading source " + info.Name
		entries := 0
		var users []User
		err := src.Read(ctx, attrs, func(e Entry) error {
			if e.Source == "" {
				e.Source = info.Name
			}
			entries++
			if entries%500 == 0 {
				progress(stage, entries)
			}
			u, err := r.Mapper.Map(e)
			if err == nil && strings.TrimSpace(u.Username) == "" && strings.TrimSpace(u.Key) == "" {
				err = fmt.Errorf("username is empty")
			}
			if err == nil {
				err = fieldTooLong(u)
			}
			if err != nil {
				v.skipped = append(v.skipped, Skipped{Source: e.Source, DN: e.DN, Reason: err.Error()})
				if e.StableID != "" {
					v.heldSIDs[e.StableID] = e.DN
				}
				return nil
			}
			if u.Key == "" {
				u.Key = u.Username
			}
			u.Key = strings.ToLower(strings.TrimSpace(u.Key))
			if u.Source == "" {
				u.Source = e.Source
			}
			if u.SourceID == "" {
				u.SourceID = e.StableID
			}
			if u.DN == "" {
				u.DN = e.DN
			}
			if u.Groups != nil {
				u.Groups = sortedUnique(u.Groups)
			}
			users = append(users, u)
			return nil
		})
		if err != nil {
			return nil, namedError("source", info.Name, err)
		}
		if entries == 0 && r.Policy.MinSourceUsers > 0 {
			// With several sources the total may still pass min_source_users;
			// one empty answer must not read as "everyone in it left".
			return nil, fmt.Errorf("source %q returned no entries; refusing to plan — an empty directory answer must never read as \"everyone left\"; check its base_dn and filter (set min_source_users = 0 to allow an empty source)", info.Name)
		}
		progress(stage, entries)
		if rw, ok := src.(ReadWarner); ok {
			v.warnings = append(v.warnings, rw.ReadWarnings()...)
		}
		sort.Slice(users, func(i, j int) bool { return userLess(users[i], users[j]) })
		v.sources = append(v.sources, SourceSummary{Type: info.Type, Name: info.Name, Entries: entries, Digest: digestUsers(users)})
		if all == nil {
			all = users // one source: no copy
		} else {
			all = append(all, users...)
		}
	}
	if n := len(all); n < r.Policy.MinSourceUsers {
		what := fmt.Sprintf("directory returned %d users", n)
		switch {
		case n == 1:
			what = "directory returned only 1 user"
		case n > 1:
			what = fmt.Sprintf("directory returned only %d users", n)
		}
		return nil, fmt.Errorf("%s; refusing to plan — min_source_users = %d: an empty or partial directory answer must never read as \"everyone left\" (%d entries skipped); check the sources' base_dn and filter", what, r.Policy.MinSourceUsers, len(v.skipped))
	}

	// Duplicates: group by key. A stable sort by key makes each key's
	// users one run of all, in source order (each source is sorted by key
	// already, so one source costs a check, not a sort); this replaces a
	// map of per-key copies, which at 100k users held a third copy of
	// every user. desired is compacted into all's own array: each run
	// appends at most one user, at an index no later than the run's
	// start, and only after the run has been read.
	protected := map[string]string{} // key -> protect entry
	// holdProtected takes a protected desired user out of the diff.
	apiUser := strings.ToLower(r.TargetUser)
	holdProtected := func(u User, k string) bool {
		e := firstNonEmpty(prot.match(u.Username), prot.match(k))
		if e == "" && apiUser != "" && (k == apiUser || strings.ToLower(u.Username) == apiUser) {
			e = apiUserHold
		}
		if e == "" {
			return false
		}
		protected[k] = e
		v.heldKeys[k] = "protected"
		return true
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Key < all[j].Key }) {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	}
	v.desired = all[:0]
	for start := 0; start < len(all); {
		end := start + 1
		for end < len(all) && all[end].Key == all[start].Key {
			end++
		}
		us, k := all[start:end], all[start].Key
		start = end
		if len(us) == 1 {
			u := us[0]
			if holdProtected(u, k) {
				continue
			}
			v.desired = append(v.desired, u)
			continue
		}
		v.heldKeys[k] = "duplicate"
		multiSource := false
		for _, u := range us[1:] {
			if u.Source != us[0].Source {
				multiSource = true
			}
		}
		if multiSource && sameSourceID(us) {
			// The same directory entry reached through several sources
			// (overlapping bases or filters): the source declared first wins.
			win := us[0]
			var others []string
			for _, u := range us[1:] {
				if rank[u.Source] < rank[win.Source] || rank[u.Source] == rank[win.Source] && u.DN < win.DN {
					win = u
				}
			}
			for _, u := range us {
				if u.Source != win.Source && !slices.Contains(others, u.Source) {
					others = append(others, u.Source)
				}
			}
			sort.Strings(others)
			delete(v.heldKeys, k)
			if holdProtected(win, k) {
				continue
			}
			v.precedence = append(v.precedence, fmt.Sprintf("user.%s: the same entry (stable id %s) is in sources %q and %s; source %q takes precedence", k, win.SourceID, win.Source, quoteAll(others), win.Source))
			v.desired = append(v.desired, win)
			continue
		}
		if multiSource {
			c := Conflict{Key: k, Reason: "username claimed by entries of more than one source; none is applied"}
			for _, u := range us {
				c.Entries = append(c.Entries, ConflictEntry{Source: u.Source, DN: u.DN, SourceID: u.SourceID})
			}
			sort.Slice(c.Entries, func(i, j int) bool {
				if c.Entries[i].Source != c.Entries[j].Source {
					return c.Entries[i].Source < c.Entries[j].Source
				}
				return c.Entries[i].DN < c.Entries[j].DN
			})
			v.conflicts = append(v.conflicts, c)
			continue
		}
		for _, u := range us {
			v.skipped = append(v.skipped, Skipped{Source: u.Source, DN: u.DN, Reason: fmt.Sprintf("duplicate username %q (%d entries map to it)", k, len(us))})
		}
	}
	for i, w := range v.precedence {
		if i == maxPrecedenceNotes {
			v.warnings = append(v.warnings, fmt.Sprintf("… and %d more entries read through several sources; the source declared first takes precedence", len(v.precedence)-i))
			break
		}
		v.warnings = append(v.warnings, w)
	}
	sort.Slice(v.skipped, func(i, j int) bool {
		a, b := v.skipped[i], v.skipped[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.DN != b.DN {
			return a.DN < b.DN
		}
		return a.Reason < b.Reason
	})

	if len(r.Groups) > 0 {
		v.mapsGroups = true
		if err := applyGroups(ctx, v, r.Groups, r.Sources); err != nil {
			return nil, err
		}
	}
	if v.mapsGroups {
		for _, u := range v.desired {
			for _, g := range u.Groups {
				v.managedGroups[g] = true
			}
		}
		if r.Prior != nil {
			for _, g := range r.Prior.ManagedGroups {
				v.managedGroups[g] = true
			}
		}
	}

	progress("reading target", 0)
	accounts, err := r.Target.ReadAccounts(ctx)
	if err != nil {
		ti := r.Target.Info()
		return nil, namedError("target", ti.Name, err)
	}
	progress("reading target", len(accounts))
	// v.accounts shares the target's slice until an account is left out or
	// it needs sorting: the engine never writes into the target's result.
	aliased := true
	for i, a := range accounts {
		e := prot.match(a.Username)
		if e == "" && apiUser != "" && a.Owner == v.mapper && strings.ToLower(a.Username) == apiUser {
			e = apiUserHold
		}
		if e != "" {
			protected[strings.ToLower(a.Username)] = e
			if aliased {
				v.accounts, aliased = append(make([]Account, 0, len(accounts)), accounts[:i]...), false
			}
			continue
		}
		if !aliased {
			v.accounts = append(v.accounts, a)
		}
	}
	if aliased {
		v.accounts = accounts
	}
	pkeys := make([]string, 0, len(protected))
	for k := range protected {
		pkeys = append(pkeys, k)
	}
	sort.Strings(pkeys)
	for _, k := range pkeys {
		if protected[k] == apiUserHold {
			v.warnings = append(v.warnings, fmt.Sprintf("user.%s is the API user ldapsync signs in to ftrack as (the target's api_user): not changed", k))
			continue
		}
		v.warnings = append(v.warnings, fmt.Sprintf("user.%s is protected by policy.protect %q: not changed", k, protected[k]))
	}
	accountLess := func(i, j int) bool {
		a, b := strings.ToLower(v.accounts[i].Username), strings.ToLower(v.accounts[j].Username)
		if a != b {
			return a < b
		}
		return v.accounts[i].ID < v.accounts[j].ID
	}
	if !sort.SliceIsSorted(v.accounts, accountLess) { // the ftrack target returns them sorted
		if aliased {
			v.accounts = slices.Clone(v.accounts)
		}
		sort.Slice(v.accounts, accountLess)
	}
	return v, nil
}

// sameSourceID reports whether every user carries the same non-empty
// stable id.
func sameSourceID(us []User) bool {
	for _, u := range us {
		if u.SourceID == "" || u.SourceID != us[0].SourceID {
			return false
		}
	}
	return true
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func userLess(a, b User) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return a.DN < b.DN
}

// digestUsers is sha256 over the canonical JSON of the sorted desired users.
func digestUsers(us []User) string {
	type du struct {
		Key, Username, Email, FirstName, LastName, SourceID, DN string
		Disabled                                                bool
		Groups                                                  []string
	}
	list := make([]du, len(us))
	for i, u := range us {
		list[i] = du{u.Key, u.Username, u.Email, u.FirstName, u.LastName, u.SourceID, u.DN, u.Disabled, u.Groups}
	}
	b, _ := json.Marshal(list)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func sortedUnique(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	n := 0
	for i, x := range out {
		if i == 0 || x != out[n-1] {
			out[n] = x
			n++
		}
	}
	return out[:n]
}

// diffResult is what the diff decided.
type diffResult struct {
	changes   []Change
	deferred  []Change // deactivations waiting for the grace period
	unchanged int
	warnings  []string
	unmanaged []string
	missing   map[string]time.Time
	owned     int
}

func diff(v *view, pol Policy, prior *LastApplied, now time.Time, newID func() string) *diffResult {
	res := &diffResult{missing: map[string]time.Time{}}
	byKey := map[string]*Account{}
	ownedBySID := map[string]*Account{}
	for i := range v.accounts {
		a := &v.accounts[i]
		k := strings.ToLower(a.Username)
		if a.Owner == v.mapper {
			res.owned++ // every owned account counts toward the limits' base
		}
		if other, dup := byKey[k]; dup {
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: ftrack has more than one account with this username (%s, %s); not changed", k, other.ID, a.ID))
			v.heldKeys[k] = "duplicate account"
			continue
		}
		byKey[k] = a
		if a.Owner == v.mapper && a.SourceID != "" {
			ownedBySID[a.SourceID] = a
		}
	}
	desiredKeys := map[string]bool{}
	for _, u := range v.desired {
		desiredKeys[u.Key] = true
	}
	consumed := map[string]bool{} // account ids matched to a desired user
	for _, u := range v.desired {
		if v.heldKeys[u.Key] == "duplicate account" {
			continue
		}
		a := byKey[u.Key]
		rename := false
		if a == nil && u.SourceID != "" {
			if b := ownedBySID[u.SourceID]; b != nil && !desiredKeys[strings.ToLower(b.Username)] && !consumed[b.ID] {
				a, rename = b, true
			}
		}
		if a == nil {
			if u.Disabled {
				res.unchanged++ // never create a user the directory disables
				continue
			}
			res.changes = append(res.changes, createChanges(u, v, newID)...)
			continue
		}
		consumed[a.ID] = true
		switch {
		case a.Owner == v.mapper:
			cs := ownedChanges(u, *a, v, pol)
			if rename && len(cs) > 0 {
				cs[0].Reason = "renamed_in_directory"
			}
			if len(cs) == 0 {
				res.unchanged++
			}
			res.changes = append(res.changes, cs...)
		case a.Owner != "":
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s is owned by mapping %q, not %q: not changed", u.Key, a.Owner, v.mapper))
		case !pol.AdoptExisting:
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s exists in ftrack without the ldapsync marker and adopt_existing = false: not changed", u.Key))
			if a.Active {
				res.unmanaged = append(res.unmanaged, a.Username)
			}
		default:
			res.changes = append(res.changes, adoptChanges(u, *a, v, pol)...)
		}
	}
	for i := range v.accounts {
		a := &v.accounts[i]
		if consumed[a.ID] {
			continue
		}
		k := strings.ToLower(a.Username)
		if a.Owner == "" {
			if a.Active {
				res.unmanaged = append(res.unmanaged, a.Username)
			}
			continue
		}
		if a.Owner != v.mapper || desiredKeys[k] {
			continue
		}
		if !a.Active || pol.OnMissing != "deactivate" {
			continue
		}
		if why, held := v.heldKeys[k]; held {
			if why != "protected" && why != "duplicate account" { // those were reported already
				res.warnings = append(res.warnings, fmt.Sprintf("user.%s: directory entries for this username were skipped (%s); not deactivated", k, why))
			}
			continue
		}
		if dn, held := v.heldSIDs[a.SourceID]; held { // heldSIDs has no empty key
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: its directory entry %s could not be mapped (see skipped); not deactivated", k, dn))
			continue
		}
		first := now
		if prior != nil {
			if t, ok := prior.Missing[k]; ok && t.Before(now) {
				first = t
			}
		}
		res.missing[k] = first.UTC()
		ch := Change{
			Address: "user." + k, Action: ActionDeactivate, Reason: "missing_from_directory",
			Key: k, TargetID: a.ID, SourceID: a.SourceID,
			Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)},
		}
		if pol.GracePeriod > 0 && now.Sub(first) < pol.GracePeriod {
			due := first.Add(pol.GracePeriod).UTC()
			ch.Reason = "missing_from_directory (grace period until " + due.Format(time.RFC3339) + ")"
			res.deferred = append(res.deferred, ch)
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s missing from the directory since %s; deactivation after %s (grace_period = %s)",
				k, first.UTC().Format(time.RFC3339), due.Format(time.RFC3339), pol.GracePeriod))
			continue
		}
		res.changes = append(res.changes, ch)
	}
	sort.Strings(res.unmanaged)
	sortChanges(res.changes)
	sortChanges(res.deferred)
	return res
}

// createChanges creates a user with a plan-time id, then its memberships.
func createChanges(u User, v *view, newID func() string) []Change {
	id := newID()
	after := &Fields{IsActive: Bool(true), Owner: Str(v.mapper), SourceID: Str(u.SourceID)}
	for _, uf := range userFields {
		if want, ok := uf.Desired(u); ok && uf.Kind == FieldAttribute {
			uf.Set(after, want)
		}
	}
	cs := []Change{{
		Address: "user." + u.Key, Action: ActionCreate, Reason: "new_in_directory",
		Key: u.Key, TargetID: id, SourceID: u.SourceID, After: after,
	}}
	if v.mapsGroups {
		for _, g := range u.Groups {
			cs = append(cs, membershipChange(ActionAddMembership, u.Key, id, u.SourceID, g, ""))
		}
	}
	return cs
}

func membershipChange(act Action, key, id, sid, group, mid string) Change {
	reason := "group_in_directory"
	if act == ActionRemoveMembership {
		reason = "group_not_in_directory"
	}
	return Change{Address: "membership." + key + "." + group, Action: act, Reason: reason, Key: key, TargetID: id, SourceID: sid, Group: group, MembershipID: mid}
}

// fieldDiff returns the touched fields: before from the account, after
// from the desired user.
func fieldDiff(u User, a Account) (before, after Fields, n int) {
	for _, uf := range userFields {
		want, ok := uf.Desired(u)
		if have := uf.Actual(a); ok && uf.Kind == FieldAttribute && want != have {
			uf.Set(&before, have)
			uf.Set(&after, want)
			n++
		}
	}
	return before, after, n
}

func ownedChanges(u User, a Account, v *view, pol Policy) []Change {
	var cs []Change
	before, after, n := fieldDiff(u, a)
	if u.SourceID != "" && u.SourceID != a.SourceID {
		before.SourceID, after.SourceID = Str(a.SourceID), Str(u.SourceID)
		n++
	}
	if n > 0 {
		cs = append(cs, Change{Address: "user." + u.Key, Action: ActionUpdate, Reason: "attributes_differ",
			Key: u.Key, TargetID: a.ID, SourceID: u.SourceID, Before: &before, After: &after})
	}
	cs = append(cs, activeChanges(u, a, pol)...)
	return append(cs, membershipChanges(u, a, v)...)
}

func activeChanges(u User, a Account, pol Policy) []Change {
	switch {
	case u.Disabled && a.Active && pol.OnDisabled == "deactivate":
		reason := "disabled_in_directory"
		if u.DisabledReason != "" {
			reason += ": " + u.DisabledReason
		}
		return []Change{{Address: "user." + u.Key, Action: ActionDeactivate, Reason: reason, Key: u.Key, TargetID: a.ID, SourceID: u.SourceID,
			Before: &Fields{IsActive: Bool(true)}, After: &Fields{IsActive: Bool(false)}}}
	case !u.Disabled && !a.Active && pol.Reactivate:
		return []Change{{Address: "user." + u.Key, Action: ActionReactivate, Reason: "back_in_directory", Key: u.Key, TargetID: a.ID, SourceID: u.SourceID,
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
	before, after, _ := fieldDiff(u, a)
	before.Owner, after.Owner = Str(a.Owner), Str(v.mapper)
	before.SourceID, after.SourceID = Str(a.SourceID), Str(u.SourceID)
	cs := []Change{{Address: "user." + u.Key, Action: ActionAdopt, Reason: "matches_directory_user",
		Key: u.Key, TargetID: a.ID, SourceID: u.SourceID, Before: &before, After: &after}}
	cs = append(cs, activeChanges(u, a, pol)...)
	return append(cs, membershipChanges(u, a, v)...)
}

// actionRank is the safe execution order, also the order of the plan:
// deactivations and membership removals first, then updates, adoptions
// and reactivations, then creates and membership additions.
func actionRank(a Action) int {
	switch a {
	case ActionDeactivate:
		return 0
	case ActionRemoveMembership:
		return 1
	case ActionUpdate:
		return 2
	case ActionAdopt:
		return 3
	case ActionReactivate:
		return 4
	case ActionCreate:
		return 5
	case ActionAddMembership:
		return 6
	}
	return 7
}

// actionPhase groups the ranks into apply's three phases.
func actionPhase(a Action) int {
	switch r := actionRank(a); {
	case r <= 1:
		return 0
	case r <= 4:
		return 1
	default:
		return 2
	}
}

// sortChanges orders changes by action rank, then address: the plan's
// order and, since phases follow ranks, apply's safe execution order.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		ri, rj := actionRank(cs[i].Action), actionRank(cs[j].Action)
		if ri != rj {
			return ri < rj
		}
		return cs[i].Address < cs[j].Address
	})
}

// namedError prefixes err with the provider's kind and name unless the
// provider already did, so messages never say `source "corp": source "corp":`.
func namedError(kind, name string, err error) error {
	prefix := fmt.Sprintf("%s %q: ", kind, name)
	if strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s%w", prefix, err)
}
