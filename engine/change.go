package engine

import (
	"slices"
	"sort"
)

// Action is what a change does.
type Action string

// The actions a plan can hold.
const (
	ActionCreate           Action = "create"
	ActionUpdate           Action = "update"
	ActionDeactivate       Action = "deactivate"
	ActionReactivate       Action = "reactivate"
	ActionAdopt            Action = "adopt"
	ActionAddMembership    Action = "add_membership"
	ActionRemoveMembership Action = "remove_membership"
	// ActionCreateGroup creates an ftrack group a membership addition
	// needs (Group names it; TargetID is its plan-time id).
	ActionCreateGroup Action = "create_group"
	// ActionAddRole grants a security role (Role) to a user, on all open
	// projects when AllOpenProjects is set; ActionRemoveRole takes it
	// away (with its project grants).
	ActionAddRole    Action = "add_role"
	ActionRemoveRole Action = "remove_role"
	// ActionGrantRoleProject gives a user's role one more project
	// (Project); ActionRevokeRoleProject takes one away.
	ActionGrantRoleProject  Action = "grant_role_project"
	ActionRevokeRoleProject Action = "revoke_role_project"
)

// Change is one planned operation on the target, as plain data.
type Change struct {
	// Address names the change: "user.<key>", "membership.<key>.<group>",
	// "group.<group>", "role.<key>.<role>" or
	// "role_project.<key>.<role>.<project>".
	Address string `json:"address"`
	Action  Action `json:"action"`
	// Reason is informational: why the change is planned, a stable token.
	// apply never trusts it; it journals and logs the reason its own
	// derivation gives.
	Reason ChangeReason `json:"reason"`
	// ReasonDetail is the human detail of the reason, e.g. the disabled
	// rule that matched ("pwdAccountLockedTime is set").
	ReasonDetail string `json:"reason_detail,omitempty"`
	// Key is the user's join key (lower-case username).
	Key string `json:"key"`
	// TargetID is the ftrack User id; for a create it is generated at plan
	// time so that a repeated apply recognises a create already done.
	TargetID string `json:"target_id,omitempty"`
	// SourceID is the directory stable id.
	SourceID string `json:"source_id,omitempty"`
	// Group is the ftrack group name for membership changes.
	Group string `json:"group,omitempty"`
	// MembershipID is the ftrack Membership id for removals.
	MembershipID string `json:"membership_id,omitempty"`
	// Role is the ftrack security role's name for role changes.
	Role string `json:"role,omitempty"`
	// AllOpenProjects is set on an add_role that grants the role on all
	// open (non-private) projects.
	AllOpenProjects bool `json:"all_open_projects,omitempty"`
	// Project is the ftrack project's name for project grants.
	Project string `json:"project,omitempty"`
	// Before holds the actual values of every field the change touches.
	Before *Fields `json:"before,omitempty"`
	// After holds the desired values of those fields.
	After *Fields `json:"after,omitempty"`
}

// ChangeReason is why a change is planned: a stable snake_case token.
type ChangeReason string

// The change reasons.
const (
	// ReasonNewInDirectory: a create, for a directory user ftrack lacks.
	ReasonNewInDirectory ChangeReason = "new_in_directory"
	// ReasonAttributesDiffer: an update, for mapped values ftrack does
	// not hold.
	ReasonAttributesDiffer ChangeReason = "attributes_differ"
	// ReasonRenamedInDirectory: an update of the username, for an entry
	// whose stable id is the account's but whose uid changed.
	ReasonRenamedInDirectory ChangeReason = "renamed_in_directory"
	// ReasonMissingFromDirectory: a deactivation, for an owned account no
	// directory entry maps to any more (detail: the grace period's end,
	// while it runs).
	ReasonMissingFromDirectory ChangeReason = "missing_from_directory"
	// ReasonDisabledInDirectory: a deactivation, for a user the directory
	// disables (detail: the rule that matched).
	ReasonDisabledInDirectory ChangeReason = "disabled_in_directory"
	// ReasonBackInDirectory: a reactivation, for a user enabled again.
	ReasonBackInDirectory ChangeReason = "back_in_directory"
	// ReasonMatchesDirectoryUser: an adopt, for an unowned account whose
	// username a directory user has.
	ReasonMatchesDirectoryUser ChangeReason = "matches_directory_user"
	// ReasonEmailMatchesDirectoryUser: an adopt, for an unowned account
	// whose e-mail a directory user has (detail: the account's username
	// and e-mail); the adopt renames it to the directory's username.
	ReasonEmailMatchesDirectoryUser ChangeReason = "email_matches_directory_user"
	// ReasonPreviousName: an adopt that writes only the owner, for an
	// account owned by one of the mapping's previous_names (a handover).
	ReasonPreviousName ChangeReason = "previous_name"
	// ReasonGroupInDirectory: a membership addition.
	ReasonGroupInDirectory ChangeReason = "group_in_directory"
	// ReasonGroupNotInDirectory: a membership removal, from a managed
	// group the directory no longer gives the user.
	ReasonGroupNotInDirectory ChangeReason = "group_not_in_directory"
	// ReasonGroupNotInTarget: a group creation, for a group the directory
	// gives members of and ftrack lacks.
	ReasonGroupNotInTarget ChangeReason = "group_not_in_ftrack"
	// ReasonRoleInDirectory: a role grant (add_role), for a role a roles
	// block gives the user.
	ReasonRoleInDirectory ChangeReason = "role_in_directory"
	// ReasonRoleNotInDirectory: a role removal, of a managed role the
	// directory no longer gives the user.
	ReasonRoleNotInDirectory ChangeReason = "role_not_in_directory"
	// ReasonRoleScopeChanged: a role removed and granted again because
	// its scope (all open projects or named projects) changed.
	ReasonRoleScopeChanged ChangeReason = "role_scope_changed"
	// ReasonProjectInConfiguration: a project grant the roles block
	// names; ReasonProjectNotInConfiguration: a project grant of a
	// managed role the configuration no longer names.
	ReasonProjectInConfiguration    ChangeReason = "project_in_configuration"
	ReasonProjectNotInConfiguration ChangeReason = "project_not_in_configuration"
)

// Why is the reason with its detail, for people: "disabled_in_directory:
// pwdAccountLockedTime is set".
func (c Change) Why() string {
	if c.ReasonDetail == "" {
		return string(c.Reason)
	}
	return string(c.Reason) + ": " + c.ReasonDetail
}

// Fields is a partial user record; nil fields are not touched.
type Fields struct {
	Username  *string `json:"username,omitempty"`
	Email     *string `json:"email,omitempty"`
	FirstName *string `json:"first_name,omitempty"`
	LastName  *string `json:"last_name,omitempty"`
	IsActive  *bool   `json:"is_active,omitempty"`
	// Owner is the ownership marker (ftrack metadata ldapsync.owner).
	Owner *string `json:"owner,omitempty"`
	// SourceID is the ftrack metadata ldapsync.source_id.
	SourceID *string `json:"source_id,omitempty"`
	// UserType is the ftrack user type's name ("ldap" or "ftrack"),
	// written when the mapping gives user_type.
	UserType *string `json:"user_type,omitempty"`
	// Custom holds user custom attribute values by key, as text (see
	// CustomValueText); a key that is absent is not touched.
	Custom map[string]string `json:"custom_attributes,omitempty"`
}

// Skipped is a directory entry that could not be mapped.
type Skipped struct {
	Source string `json:"source"`
	DN     string `json:"dn"`
	Reason string `json:"reason"`
}

// Str returns a pointer to s, for building Fields.
func Str(s string) *string { return &s }

// Bool returns a pointer to b, for building Fields.
func Bool(b bool) *bool { return &b }

// actionRank is the safe execution order, also the order of the plan:
// deactivations, membership and role removals first, then updates,
// adoptions and reactivations, then creates, membership additions and
// role grants.
func actionRank(a Action) int {
	if i := slices.Index(applyOrder, a); i >= 0 {
		return i
	}
	return len(applyOrder)
}

// applyOrder is the actions in the safe execution order (actionRank).
var applyOrder = []Action{
	ActionDeactivate, ActionRemoveMembership, ActionRevokeRoleProject, ActionRemoveRole,
	ActionUpdate, ActionAdopt, ActionReactivate,
	ActionCreate, ActionCreateGroup, ActionAddMembership, ActionAddRole,
	ActionGrantRoleProject,
}

// ApplyOrder returns the actions in the order apply executes them, the
// order plans list them and renderers show them in.
func ApplyOrder() []Action { return slices.Clone(applyOrder) }

// actionPhase groups the actions into apply's phases: removals, then
// changes to existing accounts, then creations (users and groups), then
// membership additions and role grants (which need both), then project
// grants (which need the role). A batch never spans two phases, and
// batches run concurrently only within one.
func actionPhase(a Action) int {
	switch a {
	case ActionDeactivate, ActionRemoveMembership, ActionRevokeRoleProject, ActionRemoveRole:
		return 0
	case ActionUpdate, ActionAdopt, ActionReactivate:
		return 1
	case ActionCreate, ActionCreateGroup:
		return 2
	case ActionAddMembership, ActionAddRole:
		return 3
	}
	return 4
}

// isRoleAction reports whether a is one of the four role actions.
func isRoleAction(a Action) bool {
	switch a {
	case ActionAddRole, ActionRemoveRole, ActionGrantRoleProject, ActionRevokeRoleProject:
		return true
	}
	return false
}

// addsToAccount reports whether a adds to an account (a membership or a
// role grant), so it may follow the plan's create of that account: the
// account's absence from ftrack is then no sign of a stale plan.
func addsToAccount(a Action) bool {
	switch a {
	case ActionAddMembership, ActionAddRole, ActionGrantRoleProject:
		return true
	}
	return false
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
