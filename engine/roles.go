package engine

// Directory groups → ftrack security roles.
//
// A roles block is a groups block whose names are security roles: it is
// read and walked exactly as groups are (groups.go), and each member gets
// a RoleGrant with the block's scope (all open projects, or named
// projects) instead of a group name. The roles differ from groups in
// what may be granted and taken away, so this pass is careful where the
// groups pass is not:
//
//   - a role of type API (for API keys) is never granted; neither is
//     Administrator, unless the configuration lists it in
//     allow_privileged. A refused role is left out of the plan with a
//     warning, and is not managed either: ldapsync never removes it;
//   - a role ftrack does not have, or a project it does not have, is
//     left out with a warning (a typo must not read as "nobody has it");
//   - the site's default role (default_role) is the baseline every new
//     account gets from ftrack: never granted, never removed, never drift;
//   - only managed roles are removed: those the configuration names (a
//     literal map value), those some directory user is given, and those
//     an earlier apply granted (LastApplied.ManagedRoles). A role granted
//     by hand that the configuration does not name is left alone;
//   - the last active Administrator is never removed or deactivated,
//     counting every account the target returned (the API user and
//     protected accounts too): such a change is left out with a warning,
//     and apply checks it again.

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// AdministratorRole is the name of ftrack's all-powerful role: it is
// granted only when allow_privileged lists it, and the last active
// account holding it is never removed or deactivated.
const AdministratorRole = "Administrator"

// RoleTypeAPI is the type of the roles meant for API keys; they cannot be
// granted to users.
const RoleTypeAPI = "API"

// RoleGrant is one security role of a user: desired (what the roles
// blocks give) or actual (what the target holds).
type RoleGrant struct {
	// Role is the security role's name.
	Role string `json:"role"`
	// AllOpen is true when the role covers every open (non-private)
	// project.
	AllOpen bool `json:"all_open_projects,omitempty"`
	// Projects are the names of the projects the role is granted on one
	// by one, sorted.
	Projects []string `json:"projects,omitempty"`
}

// RoleScope is what makes a groups block a roles block: how its roles are
// granted, and the rules every roles block shares.
//
//	roles "studio" {
//	  base_dn          = "ou=groups,dc=studio,dc=test"
//	  map              = { "cn=supervisors,ou=groups,dc=studio,dc=test" = "Project Manager" }
//	  projects         = "all_open"            # or ["Feature A", "Private B"]
//	  default_role     = "User"
//	  allow_privileged = ["Administrator"]
//	}
type RoleScope struct {
	// AllOpen grants the roles on all open projects (projects =
	// "all_open", the default).
	AllOpen bool
	// Projects are project names the roles are granted on, one grant
	// each (private projects need one).
	Projects []string
	// DefaultRole is the role ftrack gives every new account.
	DefaultRole string
	// AllowPrivileged lists privileged roles (Administrator) that may be
	// granted.
	AllowPrivileged []string
}

// RoleCatalog is what the target says about its roles and projects.
type RoleCatalog struct {
	// Types maps each security role's name to its type (PROJECT,
	// ASSIGNED, API).
	Types map[string]string
	// Projects maps each project's name to whether it is private.
	Projects map[string]bool
}

// RoleReader is an optional Target interface: a target that keeps
// security roles.
type RoleReader interface {
	// ReadRoles returns the catalog and, by account id, the roles every
	// account holds (sorted by role).
	ReadRoles(ctx context.Context) (RoleCatalog, map[string][]RoleGrant, error)
}

// RoleMapper is an optional Mapper interface: a mapping whose roles
// expression gives users security roles (on all open projects), besides
// the roles blocks.
type RoleMapper interface {
	// MapsRoles reports whether the mapping gives roles.
	MapsRoles() bool
}

// mapsRoles reports whether m gives roles itself.
func mapsRoles(m Mapper) bool {
	rm, ok := m.(RoleMapper)
	return ok && rm.MapsRoles()
}

// roleRules are the shared rules of the roles blocks.
type roleRules struct {
	defaultRole string
	allowed     map[string]bool
	// unallowed counts, per roles block, the Administrator grants it
	// gave without listing Administrator in its own allow_privileged.
	unallowed map[string]int
}

// roleSpecs splits the groups blocks into groups and roles blocks.
func roleSpecs(specs []GroupSpec) (groups, roles []GroupSpec) {
	for _, s := range specs {
		if s.Roles != nil {
			roles = append(roles, s)
		} else {
			groups = append(groups, s)
		}
	}
	return groups, roles
}

// rolesPass is the roles pass: every roles block's members get its roles.
func rolesPass(ctx context.Context, r readRequest, v *view) error {
	_, specs := roleSpecs(r.Groups)
	byMapping := mapsRoles(r.Mapper)
	if len(specs) == 0 && !byMapping {
		return nil
	}
	v.mapsRoles = true
	if byMapping {
		dropped := 0
		for i := range v.desired {
			u := &v.desired[i]
			u.Roles = slices.DeleteFunc(u.Roles, func(g RoleGrant) bool {
				if g.Role == AdministratorRole {
					dropped++ // the mapping's roles expression has no allow_privileged
					return true
				}
				return false
			})
			for _, g := range u.Roles {
				v.managedRoles[g.Role] = true
			}
		}
		if dropped > 0 {
			v.warnings = append(v.warnings, fmt.Sprintf("mapping %q: its roles expression gives %s to %d %s; privileged roles come only from a roles block that lists them in allow_privileged: not granted", v.mapper, AdministratorRole, dropped, pick(dropped, "user", "users")))
		}
	}
	for _, s := range specs {
		if s.Roles.DefaultRole != "" {
			if v.roles.defaultRole != "" && v.roles.defaultRole != s.Roles.DefaultRole {
				return fmt.Errorf("roles %q: default_role %q differs from another roles block's %q; the site has one default role", s.Name, s.Roles.DefaultRole, v.roles.defaultRole)
			}
			v.roles.defaultRole = s.Roles.DefaultRole
		}
	}
	v.roles.allowed = allowedPrivileged(specs)
	if err := applySpecs(ctx, v, specs, r.Sources); err != nil {
		return err
	}
	for _, name := range sortedKeysOf(v.roles.unallowed) {
		n := v.roles.unallowed[name]
		v.warnings = append(v.warnings, fmt.Sprintf("roles %q: gives %s to %d %s but does not list it in its own allow_privileged: not granted", name, AdministratorRole, n, pick(n, "user", "users")))
	}
	for i := range v.desired {
		if rs := v.desired[i].Roles; len(rs) > 1 {
			slices.SortFunc(rs, func(a, b RoleGrant) int { return strings.Compare(a.Role, b.Role) })
		}
	}
	if r.LastApplied != nil {
		for _, n := range r.LastApplied.ManagedRoles {
			v.managedRoles[n] = true
		}
	}
	return nil
}

// addRoles is the roles blocks' sink: names become grants with the
// block's scope, merged with grants of the same role (all open wins,
// projects are united).
func addRoles(v *view, spec GroupSpec, names []string, members map[int]bool) {
	kept := names[:0:0]
	for _, n := range names {
		if n == AdministratorRole && !slices.Contains(spec.Roles.AllowPrivileged, n) {
			// Privilege is allowed per block: a pattern block must not grant
			// Administrator because another block lists it.
			v.roles.unallowed[spec.Name] += len(members)
			continue
		}
		kept = append(kept, n)
		v.managedRoles[n] = true
	}
	names = kept
	for i := range members {
		u := &v.desired[i]
		if u.Roles == nil {
			u.Roles = []RoleGrant{}
		}
		for _, n := range names {
			j := slices.IndexFunc(u.Roles, func(g RoleGrant) bool { return g.Role == n })
			if j < 0 {
				u.Roles = append(u.Roles, RoleGrant{Role: n})
				j = len(u.Roles) - 1
			}
			g := &u.Roles[j]
			g.AllOpen = g.AllOpen || spec.Roles.AllOpen
			if len(spec.Roles.Projects) > 0 { // else g.Projects is sorted and unique already
				g.Projects = sortedUnique(append(g.Projects, spec.Roles.Projects...))
			}
		}
	}
}

// readTargetRoles reads the target's roles onto the accounts (before the
// hands-off pass, so the Administrator count sees every account), then
// checks the desired grants against the catalog.
func readTargetRoles(ctx context.Context, r readRequest, v *view, accounts []Account) error {
	cat, err := attachRoles(ctx, r.Target, accounts)
	if err != nil {
		return err
	}
	v.roleCatalog = cat
	v.activeAdmins = activeAdmins(accounts)
	v.refuseRoles()
	return nil
}

// attachRoles reads the target's roles and sets every account's Roles.
func attachRoles(ctx context.Context, t Target, accounts []Account) (RoleCatalog, error) {
	rr, ok := targetAs[RoleReader](t)
	if !ok {
		return RoleCatalog{}, fmt.Errorf("target %q cannot read or grant security roles; remove the roles blocks", t.Info().Name)
	}
	cat, byID, err := rr.ReadRoles(ctx)
	if err != nil {
		return RoleCatalog{}, namedError("target", t.Info().Name, err)
	}
	for i := range accounts {
		accounts[i].Roles = byID[accounts[i].ID]
	}
	return cat, nil
}

// wrappedTarget is a Target wrapper of the engine's own (prefetch,
// recording), which hides the wrapped target's optional interfaces.
type wrappedTarget interface{ unwrap() Target }

// targetAs finds the optional interface T of the target under the
// engine's wrappers.
func targetAs[T any](t Target) (T, bool) {
	for {
		if x, ok := t.(T); ok {
			return x, true
		}
		w, ok := t.(wrappedTarget)
		if !ok {
			var zero T
			return zero, false
		}
		t = w.unwrap()
	}
}

// activeAdmins counts the active accounts that hold Administrator.
func activeAdmins(accounts []Account) int {
	n := 0
	for i := range accounts {
		if accounts[i].Active && holdsRole(accounts[i], AdministratorRole) {
			n++
		}
	}
	return n
}

func holdsRole(a Account, role string) bool {
	return slices.ContainsFunc(a.Roles, func(g RoleGrant) bool { return g.Role == role })
}

// roleRefusal says why a role may not be granted, by the catalog and the
// allowed privileged roles, or "".
func roleRefusal(cat RoleCatalog, allowed map[string]bool, role string) string {
	typ, known := cat.Types[role]
	switch {
	case !known:
		return fmt.Sprintf("role %q does not exist in ftrack (its roles: %s)", role, strings.Join(sortedKeysOf(cat.Types), ", "))
	case typ == RoleTypeAPI:
		return fmt.Sprintf("role %q is an API role (for API keys); it is never granted to users", role)
	case role == AdministratorRole && !allowed[role]:
		return fmt.Sprintf("role %q is privileged; list it in the roles block's allow_privileged = [%q] to let the directory grant it", role, role)
	}
	return ""
}

// refuseRoles takes refused roles, the default role and unknown projects
// out of the desired grants and out of the managed roles, with one
// warning each.
func (v *view) refuseRoles() {
	refused := map[string]string{}
	for n := range v.managedRoles {
		if why := roleRefusal(v.roleCatalog, v.roles.allowed, n); why != "" {
			refused[n] = why
		}
	}
	counts := map[string]int{}
	missingProjects := map[string]int{}
	defaultHits := 0
	for i := range v.desired {
		u := &v.desired[i]
		if u.Roles == nil {
			continue
		}
		kept := u.Roles[:0]
		for _, g := range u.Roles {
			if _, bad := refused[g.Role]; bad {
				counts[g.Role]++
				continue
			}
			if g.Role == v.roles.defaultRole {
				defaultHits++
				continue
			}
			var projects []string
			for _, p := range g.Projects {
				if _, ok := v.roleCatalog.Projects[p]; ok {
					projects = append(projects, p)
				} else {
					missingProjects[p]++
				}
			}
			g.Projects = projects
			kept = append(kept, g)
		}
		u.Roles = kept
	}
	for _, n := range sortedKeysOf(refused) {
		delete(v.managedRoles, n)
		v.warnings = append(v.warnings, fmt.Sprintf("roles: %s: not granted to %d %s, and never removed", refused[n], counts[n], pick(counts[n], "user", "users")))
	}
	for _, p := range sortedKeysOf(missingProjects) {
		v.warnings = append(v.warnings, fmt.Sprintf("roles: project %q does not exist in ftrack: %d grants on it left out", p, missingProjects[p]))
	}
	if v.roles.defaultRole != "" {
		delete(v.managedRoles, v.roles.defaultRole)
		if defaultHits > 0 {
			v.warnings = append(v.warnings, fmt.Sprintf("roles: role %q is the default_role, which ftrack gives every new account: ldapsync neither grants nor removes it (%d mapped grants ignored)", v.roles.defaultRole, defaultHits))
		}
	}
}

// roleChange returns one role change.
func roleChange(act Action, reason ChangeReason, key, id, sid string, g RoleGrant, project string) Change {
	c := Change{Address: roleAddress(key, g.Role, project), Action: act, Reason: reason, Key: key, TargetID: id, SourceID: sid, Role: g.Role, Project: project}
	if act == ActionAddRole {
		c.AllOpenProjects = g.AllOpen
	}
	return c
}

// roleAddress is a role change's address: "role.<key>.<role>", or
// "role_project.<key>.<role>.<project>" for a project grant.
func roleAddress(key, role, project string) string {
	if project != "" {
		return "role_project." + key + "." + role + "." + project
	}
	return "role." + key + "." + role
}

// grantChanges grants g to a user who lacks it: the role, then each
// project.
func grantChanges(key, id, sid string, g RoleGrant, reason ChangeReason) []Change {
	cs := []Change{roleChange(ActionAddRole, reason, key, id, sid, g, "")}
	for _, p := range g.Projects {
		cs = append(cs, roleChange(ActionGrantRoleProject, ReasonProjectInConfiguration, key, id, sid, g, p))
	}
	return cs
}

// roleChanges are the role changes of a desired user and its account:
// grants it lacks, project grants added and revoked, a role whose scope
// changed removed and granted again, and managed roles it should not
// have removed.
func roleChanges(u User, a Account, v *view) []Change {
	if !v.mapsRoles {
		return nil
	}
	have := map[string]RoleGrant{}
	for _, g := range a.Roles {
		have[g.Role] = g
	}
	want := map[string]bool{}
	var cs []Change
	for _, w := range u.Roles {
		want[w.Role] = true
		h, held := have[w.Role]
		switch {
		case !held:
			cs = append(cs, grantChanges(u.Key, a.ID, u.SourceID, w, ReasonRoleInDirectory)...)
		case h.AllOpen != w.AllOpen:
			cs = append(cs, roleChange(ActionRemoveRole, ReasonRoleScopeChanged, u.Key, a.ID, u.SourceID, h, ""))
			cs = append(cs, grantChanges(u.Key, a.ID, u.SourceID, w, ReasonRoleScopeChanged)...)
		default:
			for _, p := range w.Projects {
				if !slices.Contains(h.Projects, p) {
					cs = append(cs, roleChange(ActionGrantRoleProject, ReasonProjectInConfiguration, u.Key, a.ID, u.SourceID, w, p))
				}
			}
			for _, p := range h.Projects {
				if !slices.Contains(w.Projects, p) {
					cs = append(cs, roleChange(ActionRevokeRoleProject, ReasonProjectNotInConfiguration, u.Key, a.ID, u.SourceID, h, p))
				}
			}
		}
	}
	for _, h := range a.Roles {
		if !want[h.Role] && v.managedRoles[h.Role] {
			cs = append(cs, roleChange(ActionRemoveRole, ReasonRoleNotInDirectory, u.Key, a.ID, u.SourceID, h, ""))
		}
	}
	return cs
}

// createRoleChanges grants a new account its roles (the default role
// comes from ftrack).
func createRoleChanges(u User, id string, v *view) []Change {
	if !v.mapsRoles {
		return nil
	}
	var cs []Change
	for _, g := range u.Roles {
		cs = append(cs, grantChanges(u.Key, id, u.SourceID, g, ReasonRoleInDirectory)...)
	}
	return cs
}

// takesAdmin reports whether c leaves account a without an active
// Administrator role: its deactivation, or the role's removal while
// active (a scope change removes it too, for a moment).
func takesAdmin(c Change, a *Account) bool {
	if a == nil || !a.Active || !holdsRole(*a, AdministratorRole) {
		return false
	}
	return c.Action == ActionDeactivate || (c.Action == ActionRemoveRole && c.Role == AdministratorRole)
}

// keepLastAdmin leaves out the changes that would leave ftrack without an
// active Administrator (admins counts them now), with a warning each.
// changes are in the safe order; the first ones keep their place.
func keepLastAdmin(changes []Change, byID map[string]*Account, admins int) (kept []Change, warnings []string) {
	left := admins
	taken := map[string]bool{}
	for _, c := range changes {
		a := byID[c.TargetID]
		if !takesAdmin(c, a) || taken[c.TargetID] {
			kept = append(kept, c)
			continue
		}
		if left <= 1 {
			warnings = append(warnings, fmt.Sprintf("%s: %q is the last active Administrator in ftrack: not %s (grant Administrator to another account first)", c.Address, a.Username, pastTense(c.Action)))
			continue
		}
		left--
		taken[c.TargetID] = true
		kept = append(kept, c)
	}
	return kept, warnings
}

func pastTense(a Action) string {
	if a == ActionDeactivate {
		return "deactivated"
	}
	return "removed"
}

// lastAdminGuard runs keepLastAdmin over the diff's changes.
func (lc *lifecycle) lastAdminGuard() {
	v, res := lc.v, lc.res
	if !v.mapsRoles {
		return
	}
	byID := make(map[string]*Account, len(v.accounts))
	for i := range v.accounts {
		byID[v.accounts[i].ID] = &v.accounts[i]
	}
	sortChanges(res.changes)
	var w []string
	res.changes, w = keepLastAdmin(res.changes, byID, v.activeAdmins)
	res.warnings = append(res.warnings, w...)
}

// checkRoleShape refuses a role change whose parts do not fit: a role
// (and for project grants a project), the address they give, nothing
// else.
func (ck *checker) checkRoleShape(c Change) bool {
	bad := func(format string, args ...any) bool {
		ck.problems.add(RefuseInvalid, "%s (%s): %s", c.Address, c.Action, fmt.Sprintf(format, args...))
		return false
	}
	project := c.Action == ActionGrantRoleProject || c.Action == ActionRevokeRoleProject
	switch {
	case c.Role == "" || c.Before != nil || c.After != nil || c.Group != "" || c.MembershipID != "":
		return bad("a role change names a role and has no before, after or group")
	case project != (c.Project != ""):
		return bad("a project grant names a project; no other role change does")
	case c.AllOpenProjects && c.Action != ActionAddRole:
		return bad("only add_role grants on all open projects")
	}
	if err := checkIdentifier("role", c.Role); err != nil {
		return bad("%v", err)
	}
	if err := checkIdentifier("project", c.Project); err != nil {
		return bad("%v", err)
	}
	if want := roleAddress(c.Key, c.Role, c.Project); c.Address != want {
		ck.problems.add(RefuseIdentityMismatch, "%s: the address does not match its key %q and role %q (want %s)", c.Address, c.Key, c.Role, want)
		return false
	}
	return true
}

// checkRoles refuses, whatever the directory says, a plan that grants an
// API role or a privileged role the configuration does not allow, or that
// leaves ftrack without an active Administrator. cat is the target's
// catalog now; accounts (indexed in ck.byID) carry their roles.
func (ck *checker) checkRoles(changes []Change, cat RoleCatalog, allowed map[string]bool, accounts []Account) {
	for _, c := range changes {
		if c.Action != ActionAddRole {
			continue
		}
		if why := roleRefusal(cat, allowed, c.Role); why != "" && (cat.Types[c.Role] == RoleTypeAPI || c.Role == AdministratorRole) {
			ck.problems.add(RefuseProtected, "%s: %s", c.Address, why)
		}
	}
	_, warnings := keepLastAdmin(changes, ck.byID, activeAdmins(accounts))
	for _, w := range warnings {
		ck.problems.add(RefuseProtected, "%s", w)
	}
}

// allowedPrivileged is the union of the roles blocks' allow_privileged.
func allowedPrivileged(specs []GroupSpec) map[string]bool {
	out := map[string]bool{}
	for _, s := range specs {
		if s.Roles != nil {
			for _, p := range s.Roles.AllowPrivileged {
				out[p] = true
			}
		}
	}
	return out
}

// roleCheck is what apply checks role changes with: the target's catalog
// now and, when the directory is not checked, the state's managed roles.
type roleCheck struct {
	cat     RoleCatalog
	managed []string
}

// namedRoles are the roles the roles blocks name literally (map values
// without a $ expansion).
func namedRoles(specs []GroupSpec) map[string]bool {
	out := map[string]bool{}
	for _, s := range specs {
		if s.Roles == nil {
			continue
		}
		for _, r := range s.Rules {
			if !strings.Contains(r.Name, "$") {
				out[r.Name] = true
			}
		}
	}
	return out
}

// checkRolesConfigured refuses, without the directory (-verify-source
// false), the role changes the configuration on disk could not make:
// any, when it manages no roles; a grant of a role it neither names nor
// could give by a pattern or the mapping, the default role, a scope no
// roles block gives, a project no roles block lists; the removal of a
// role that is not managed (named, or granted by an earlier apply).
func (ck *checker) checkRolesConfigured(changes []Change, req ApplyRequest, rc *roleCheck) {
	_, specs := roleSpecs(req.Groups)
	byMapping := mapsRoles(req.Mapper)
	named := namedRoles(specs)
	anyName := byMapping
	allOpen, listed, projects := byMapping, false, map[string]bool{}
	defaultRole := ""
	for _, s := range specs {
		for _, r := range s.Rules {
			anyName = anyName || strings.Contains(r.Name, "$")
		}
		allOpen = allOpen || s.Roles.AllOpen
		listed = listed || !s.Roles.AllOpen
		for _, p := range s.Roles.Projects {
			projects[p] = true
		}
		if s.Roles.DefaultRole != "" {
			defaultRole = s.Roles.DefaultRole
		}
	}
	managed := map[string]bool{}
	for n := range named {
		managed[n] = true
	}
	for _, n := range rc.managed {
		managed[n] = true
	}
	no := func(c Change, format string, args ...any) {
		ck.problems.add(RefuseSourceMismatch, "%s: %s (the directory is not checked, and the configuration alone cannot justify it)", c.Address, fmt.Sprintf(format, args...))
	}
	for _, c := range changes {
		if !isRoleAction(c.Action) {
			continue
		}
		switch {
		case len(specs) == 0 && !byMapping:
			no(c, "the configuration manages no security roles")
			continue
		case c.Role == defaultRole:
			no(c, "role %q is the default_role, which ldapsync never grants or removes", c.Role)
			continue
		}
		if _, ok := rc.cat.Types[c.Role]; !ok && c.Action != ActionRemoveRole {
			no(c, "ftrack has no role %q", c.Role)
			continue
		}
		switch c.Action {
		case ActionAddRole:
			switch {
			case !named[c.Role] && !anyName:
				no(c, "no roles block names role %q", c.Role)
			case c.AllOpenProjects && !allOpen:
				no(c, "no roles block grants roles on all open projects")
			case !c.AllOpenProjects && !listed:
				no(c, "no roles block grants roles on listed projects only")
			}
		case ActionGrantRoleProject:
			switch {
			case !named[c.Role] && !anyName:
				no(c, "no roles block names role %q", c.Role)
			case !projects[c.Project]:
				no(c, "no roles block lists project %q", c.Project)
			}
		case ActionRemoveRole, ActionRevokeRoleProject:
			if !managed[c.Role] {
				no(c, "role %q is not managed: the configuration does not name it and no apply granted it", c.Role)
			}
		}
	}
}
