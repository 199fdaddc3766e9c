package engine

import (
	"fmt"
	"slices"
	"strings"
)

// changeStatus is what classify found.
type changeStatus int

const (
	statusPending changeStatus = iota
	statusDone
	statusStale
)

func classify(c Change, byID, byKey map[string]*Account, created map[string]Change, groups map[string]bool) (changeStatus, string) {
	a := byID[c.TargetID]
	switch c.Action {
	case ActionCreateGroup:
		if groups[c.Group] {
			return statusDone, "" // created by an interrupted run, or by hand: nothing to do
		}
		return statusPending, ""
	case ActionCreate:
		if a != nil {
			if mm := mismatches(*a, c.After); len(mm) == 0 {
				return statusDone, ""
			}
			return statusStale, fmt.Sprintf("%s: an account with the planned id %s exists but differs from the plan", c.Address, c.TargetID)
		}
		if c.After != nil && c.After.Username != nil {
			if b := byKey[strings.ToLower(*c.After.Username)]; b != nil {
				return statusStale, fmt.Sprintf("%s now exists in ftrack (id %s), created since the plan was made", c.Address, b.ID)
			}
		}
		return statusPending, ""
	case ActionAddMembership, ActionRemoveMembership, ActionAddRole, ActionRemoveRole, ActionGrantRoleProject, ActionRevokeRoleProject:
		if a == nil {
			if _, planned := created[c.TargetID]; planned && addsToAccount(c.Action) {
				return statusPending, ""
			}
			return statusStale, fmt.Sprintf("%s: user %s no longer exists in ftrack", c.Address, c.TargetID)
		}
		if isRoleAction(c.Action) {
			return classifyRole(c, a), ""
		}
		has := slices.Contains(a.Groups, c.Group)
		if c.Action == ActionAddMembership {
			if has {
				return statusDone, ""
			}
			return statusPending, ""
		}
		if !has {
			return statusDone, ""
		}
		if cur := a.Memberships[c.Group]; c.MembershipID != "" && cur != "" && cur != c.MembershipID {
			return statusStale, fmt.Sprintf("%s: the membership was replaced since the plan was made (id is now %s, plan expected %s)", c.Address, cur, c.MembershipID)
		}
		return statusPending, ""
	}
	if a == nil {
		return statusStale, fmt.Sprintf("%s: account %s no longer exists in ftrack", c.Address, c.TargetID)
	}
	mm := mismatches(*a, c.Before)
	if len(mm) == 0 {
		return statusPending, ""
	}
	if len(mismatches(*a, c.After)) == 0 {
		return statusDone, ""
	}
	return statusStale, c.Address + " " + strings.Join(mm, ", ")
}

// classifyRole classifies a role change against the account's roles: a
// grant it holds already is done, a removal of what it lacks is done.
func classifyRole(c Change, a *Account) changeStatus {
	var held *RoleGrant
	for i := range a.Roles {
		if a.Roles[i].Role == c.Role {
			held = &a.Roles[i]
		}
	}
	var done bool
	switch c.Action {
	case ActionAddRole:
		done = held != nil && held.AllOpen == c.AllOpenProjects
	case ActionRemoveRole:
		done = held == nil
	case ActionGrantRoleProject:
		done = held != nil && slices.Contains(held.Projects, c.Project)
	case ActionRevokeRoleProject:
		done = held == nil || !slices.Contains(held.Projects, c.Project)
	}
	if done {
		return statusDone
	}
	return statusPending
}

// mismatches lists the fields of f that differ from the account, as
// "email is now "x", plan expected "y"".
func mismatches(a Account, f *Fields) []string {
	if f == nil {
		return nil
	}
	var out []string
	for _, x := range SetFields(f) {
		if have := x.Field.Actual(a); have != x.Value {
			if x.Field.Bool {
				out = append(out, fmt.Sprintf("%s is now %s, plan expected %s", x.Field.Name, have, x.Value))
			} else {
				out = append(out, fmt.Sprintf("%s is now %q, plan expected %q", x.Field.Name, have, x.Value))
			}
		}
	}
	return out
}
