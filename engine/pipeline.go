package engine

// The plan pipeline. The diff knows no provider: it compares desired
// users (sources through the mapper) with actual accounts (target) and
// returns plain changes. Plan, drift and apply's verification run the
// same passes, each in a file named after it:
//
//	read       sources → mapped users (mapping errors become skipped
//	           entries), then the target's accounts
//	hands-off  protected users and the target's API user leave both
//	           sides before anything else, so no rule below can touch
//	           them (an input transform, as DNSControl's ignore rules);
//	           so do accounts of the user types service and demo, and
//	           the directory users that would meet them
//	dedupe     one desired user per username: the same entry through
//	           several sources takes the first source, different entries
//	           are a conflict or duplicate skipped entries
//	groups     the groups blocks' memberships join the desired users
//	roles      the roles blocks' security roles join them too (roles.go):
//	           refused, unknown and default roles left out, the target's
//	           roles read onto the accounts
//	join       desired users meet accounts by lower-case username, with
//	           the stable id as a second chance (a renamed uid is an
//	           update, not a create and a deactivation)
//	lifecycle  create, update, adopt, deactivate (missing, disabled,
//	           grace period), reactivate; the groups memberships and the
//	           roles need; never the last active Administrator
//	limits     the safety limits over the result (plan.go blocks on
//	           them; apply counts them again, see verify.go)
//
// Every key and stable id a pass could not decide for ("held": a
// mapping error, a duplicate, a protected user) is recorded in the view,
// so an owned account whose directory entry was held is never
// deactivated as missing.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// view is the input of the diff after reading and the hands-off
// transform.
type view struct {
	mapper string
	// previous are the mapping's previous names: their accounts are
	// handed over.
	previous      map[string]bool
	mapsGroups    bool
	managedGroups map[string]bool
	desired       []User    // sorted by key, unique keys
	accounts      []Account // sorted by lower username
	held          map[string]holdReason
	heldSIDs      map[string]string
	skipped       []Skipped
	conflicts     []Conflict
	warnings      []string
	sources       []SourceSummary
	// precedence notes which source won an entry read through several.
	precedence []string
	// apiUser is the lower-case username the target signs in as.
	apiUser string
	// targetGroups are the target's group names (read when the mapping
	// maps groups); createGroups whether it may create missing ones.
	targetGroups map[string]bool
	createGroups bool
	// mapsRoles is true when roles blocks exist; managedRoles are the
	// roles ldapsync may remove, roles the rules every block shares,
	// roleCatalog the target's roles and projects, activeAdmins the
	// active accounts holding Administrator (every account read).
	mapsRoles    bool
	managedRoles map[string]bool
	roles        roleRules
	roleCatalog  RoleCatalog
	activeAdmins int
	// createOnly are the fields written at create only (on_create_only).
	createOnly map[string]bool
	// seenAttrs are the attributes (as the mapping spells them) some
	// entry had a value for, to tell a misspelt attribute from people
	// without one.
	seenAttrs map[string]bool
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
	// LastApplied is the last-applied view; its managed groups stay
	// managed.
	LastApplied *LastApplied
	// TargetUser is the username the target signs in as: held on both
	// sides like a protected user, so no plan ever adopts, changes or
	// deactivates the account ldapsync itself needs.
	TargetUser string
}

// collect runs the passes up to the join: read, hands-off, dedupe,
// groups, then the target's accounts through hands-off.
func collect(ctx context.Context, r readRequest) (*view, error) {
	if r.Mapper == nil || r.Target == nil {
		return nil, fmt.Errorf("plan: a mapper and a target are required")
	}
	if len(r.Sources) == 0 {
		return nil, fmt.Errorf("plan: no source configured")
	}
	hands, err := newHandsOff(r.Policy.Protect, r.TargetUser)
	if err != nil {
		return nil, err
	}
	v := &view{mapper: r.Mapper.Name(), mapsGroups: r.Mapper.MapsGroups(), managedGroups: map[string]bool{},
		managedRoles: map[string]bool{}, roles: roleRules{unallowed: map[string]int{}},
		held: map[string]holdReason{}, heldSIDs: map[string]string{}, previous: map[string]bool{}, seenAttrs: map[string]bool{}}
	v.apiUser = strings.ToLower(r.TargetUser)
	for _, n := range r.Mapper.PreviousNames() {
		if n != v.mapper {
			v.previous[n] = true
		}
	}
	users, rank, err := readSources(ctx, r, v)
	if err != nil {
		return nil, err
	}
	users = hands.holdDesired(v, users)
	dedupe(v, users, rank)
	if err := groups(ctx, r, v); err != nil {
		return nil, err
	}
	if err := rolesPass(ctx, r, v); err != nil {
		return nil, err
	}
	accounts, err := readTarget(ctx, r)
	if err != nil {
		return nil, err
	}
	if v.mapsRoles {
		if err := readTargetRoles(ctx, r, v, accounts); err != nil {
			return nil, err
		}
	}
	if err := customPass(ctx, r, v, accounts); err != nil {
		return nil, err
	}
	v.createOnly = createOnly(r.Mapper)
	if v.mapsGroups {
		if err := readTargetGroups(ctx, r, v); err != nil {
			return nil, err
		}
	}
	v.accounts = hands.holdAccounts(v, accounts)
	v.warnings = append(v.warnings, hands.warnings()...)
	v.warnings = append(v.warnings, hands.typeWarnings(hands.holdTyped(v))...)
	sortAccounts(v)
	return v, nil
}

// claims reports whether the mapping owns an account with this owner
// marker: its own name, or a previous name (handed over).
func (v *view) claims(owner string) bool { return owner == v.mapper || v.previous[owner] }

// readView runs collect with the target's accounts prefetched while the
// sources are read, and returns the view with every account the target
// returned (the view leaves protected ones out). Plan, drift, explain and
// apply's verification all read this way.
func readView(ctx context.Context, r readRequest) (*view, []Account, error) {
	rec := &recordingTarget{Target: r.Target}
	v, err := withPrefetch(ctx, Target(rec), func(ctx context.Context, t Target) (*view, error) {
		r.Target = t
		return collect(ctx, r)
	})
	return v, rec.accounts, err
}

// recordingTarget keeps what ReadAccounts returned.
type recordingTarget struct {
	Target
	accounts []Account
}

func (r *recordingTarget) unwrap() Target { return r.Target }

// ReadAccounts reads the wrapped target and keeps the result.
func (r *recordingTarget) ReadAccounts(ctx context.Context) ([]Account, error) {
	a, err := r.Target.ReadAccounts(ctx)
	r.accounts = a
	return a, err
}

// diffResult is what the diff decided.
type diffResult struct {
	// foreign counts, per owner, the accounts that match directory users
	// but are owned by a mapping name that is neither this mapping's nor
	// one of its previous names: a renamed mapping blocks the plan.
	foreign   map[string]int
	changes   []Change
	deferred  []Change // deactivations waiting for the grace period
	unchanged int
	warnings  []string
	unmanaged []string
	missing   map[string]time.Time
	owned     int
}

// diff runs the join and the lifecycle rules over a collected view.
func diff(v *view, pol Policy, last *LastApplied, now time.Time, newID func() string) *diffResult {
	res := &diffResult{missing: map[string]time.Time{}, foreign: map[string]int{}}
	j := join(v, res)
	creates := 0
	for _, m := range j.matches {
		if m.account == nil {
			creates++
		}
	}
	// A create is a change at least: room for them up front, not copies
	// of 95,000 changes as the list grows at an initial import.
	res.changes = make([]Change, 0, creates+len(j.matches)/64)
	lc := lifecycle{v: v, pol: pol, last: last, now: now, newID: newID, res: res, isDesired: j.desired}
	for _, m := range j.matches {
		lc.desiredUser(m)
	}
	for _, a := range j.unmatched {
		lc.unmatchedAccount(a)
	}
	lc.groupCreations()
	lc.lastAdminGuard()
	sort.Strings(res.unmanaged)
	sortChanges(res.changes)
	sortChanges(res.deferred)
	return res
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
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
	return slices.Compact(out)
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
