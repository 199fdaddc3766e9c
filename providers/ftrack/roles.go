package ftrack

// Security roles. A user's role is one UserSecurityRole row (user,
// role, is_all_open_projects), limited or extended to single projects by
// UserSecurityRoleProject rows. They are changed only through the five
// dedicated batch operations (add_user_security_role,
// remove_user_security_role, update_user_security_role,
// grant_user_security_role_project, revoke_user_security_role_project),
// which are not idempotent: a second grant raises. So every role change is
// planned against the user's roles read just before (userState.roles),
// and a write whose first attempt went unanswered is settled by reading
// the roles back (appliedRoles), never by sending the grant again.

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/ldapsync/ldapsync/engine"
)

// The role operations' action names.
const (
	opAddRole     = "add_user_security_role"
	opRemoveRole  = "remove_user_security_role"
	opGrantRole   = "grant_user_security_role_project"
	opRevokeRole  = "revoke_user_security_role_project"
	roleQuery     = "select id, user_id, security_role_id, is_all_open_projects from UserSecurityRole"
	roleProjQuery = "select id, user_security_role_id, project_id from UserSecurityRoleProject"
)

// isRoleOp reports whether op is one of the role operations.
func isRoleOp(op Operation) bool {
	switch op.Action {
	case opAddRole, opRemoveRole, opGrantRole, opRevokeRole, "update_user_security_role":
		return true
	}
	return false
}

// RoleOp returns a role operation: action is one of the five security-role
// operations; projectID is for project grants, allOpen for
// add_user_security_role.
func RoleOp(action, userID, roleID, projectID string, allOpen bool) Operation {
	op := Operation{Action: action, UserID: userID, RoleID: roleID, ProjectID: projectID}
	if action == opAddRole {
		op.AllOpenProjects = &allOpen
	}
	return op
}

// roleCatalog is the site's roles and projects, by name and by id.
type roleCatalog struct {
	roleID, projectID     map[string]string // name -> id (the first by id)
	roleName, projectName map[string]string // id -> name
	public                engine.RoleCatalog
}

func newRoleCatalog(roles, projects []Entity) *roleCatalog {
	c := &roleCatalog{roleID: map[string]string{}, projectID: map[string]string{}, roleName: map[string]string{}, projectName: map[string]string{},
		public: engine.RoleCatalog{Types: map[string]string{}, Projects: map[string]bool{}}}
	for _, r := range roles { // ordered by id
		name := r.String("name")
		c.roleName[r.String("id")] = name
		if _, dup := c.roleID[name]; !dup {
			c.roleID[name] = r.String("id")
			c.public.Types[name] = r.String("type")
		}
	}
	for _, p := range projects {
		name := p.String("name")
		c.projectName[p.String("id")] = name
		if _, dup := c.projectID[name]; !dup {
			c.projectID[name] = p.String("id")
			private, _ := p.Bool("is_private")
			c.public.Projects[name] = private
		}
	}
	return c
}

// heldRole is one role a user holds, by ids.
type heldRole struct {
	allOpen  bool
	projects map[string]bool // project id
}

// ReadRoles reads the site's security roles and projects and every
// user's roles (engine.RoleReader).
func (t *Target) ReadRoles(ctx context.Context) (engine.RoleCatalog, map[string][]engine.RoleGrant, error) {
	res, err := t.client.QueryMany(ctx, roleCatalogQueries(PagedQuery{Expression: roleQuery}, PagedQuery{Expression: roleProjQuery})...)
	if err != nil {
		return engine.RoleCatalog{}, nil, fmt.Errorf("target %q: reading security roles: %w", t.name, err)
	}
	cat := newRoleCatalog(res[0], res[1])
	keep(t, &t.roleCat, cat)
	held := heldRoles(res[2], res[3])
	out := map[string][]engine.RoleGrant{}
	for user, roles := range held {
		out[user] = cat.grants(roles)
	}
	return cat.public, out, nil
}

// heldRoles joins UserSecurityRole and UserSecurityRoleProject rows into
// user id -> role id -> held role.
func heldRoles(roles, projects []Entity) map[string]map[string]*heldRole {
	out := map[string]map[string]*heldRole{}
	byUSR := map[string]*heldRole{}
	for _, r := range roles {
		user, role := r.String("user_id"), r.String("security_role_id")
		if out[user] == nil {
			out[user] = map[string]*heldRole{}
		}
		if _, dup := out[user][role]; dup {
			continue
		}
		all, _ := r.Bool("is_all_open_projects")
		h := &heldRole{allOpen: all, projects: map[string]bool{}}
		out[user][role] = h
		byUSR[r.String("id")] = h
	}
	for _, p := range projects {
		if h := byUSR[p.String("user_security_role_id")]; h != nil {
			h.projects[p.String("project_id")] = true
		}
	}
	return out
}

// grants names a user's held roles, sorted; roles and projects the
// catalog does not name are left out.
func (c *roleCatalog) grants(roles map[string]*heldRole) []engine.RoleGrant {
	var out []engine.RoleGrant
	for id, h := range roles {
		name, ok := c.roleName[id]
		if !ok {
			continue
		}
		g := engine.RoleGrant{Role: name, AllOpen: h.allOpen}
		for pid := range h.projects {
			if pn, ok := c.projectName[pid]; ok {
				g.Projects = append(g.Projects, pn)
			}
		}
		sort.Strings(g.Projects)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

// roleCatalogQueries returns the SecurityRole and Project queries
// newRoleCatalog takes, followed by more.
func roleCatalogQueries(more ...PagedQuery) []PagedQuery {
	return append([]PagedQuery{
		{Expression: "select id, name, type from SecurityRole"},
		{Expression: "select id, name, is_private from Project"},
	}, more...)
}

// catalog returns the role catalog, read when this target has not read it
// yet or lacks one of names (roles) or projects.
func (t *Target) catalog(ctx context.Context, roles, projects []string) (*roleCatalog, error) {
	complete := func(cat *roleCatalog) bool {
		if cat == nil {
			return false
		}
		for _, n := range roles {
			if cat.roleID[n] == "" {
				return false
			}
		}
		for _, n := range projects {
			if cat.projectID[n] == "" {
				return false
			}
		}
		return true
	}
	return cached(t, &t.roleCat, complete, func() (*roleCatalog, error) {
		res, err := t.client.QueryMany(ctx, roleCatalogQueries()...)
		if err != nil {
			return nil, fmt.Errorf("reading security roles: %w", err)
		}
		return newRoleCatalog(res[0], res[1]), nil
	})
}

// readRoleState reads the roles of the users ids into states.
func (t *Target) readRoleState(ctx context.Context, ids []string, states map[string]*userState) error {
	return byIDChunks(ids, func(part []string) error {
		qs, err := heldRoleQueries(part)
		if err != nil {
			return err
		}
		res, err := t.client.QueryMany(ctx, qs...)
		if err != nil {
			return err
		}
		for user, roles := range heldRoles(res[0], res[1]) {
			if st := states[user]; st != nil {
				st.roles = roles
			}
		}
		return nil
	})
}

// heldRoleQueries returns the UserSecurityRole and UserSecurityRoleProject
// queries of the users ids, for heldRoles.
func heldRoleQueries(ids []string) ([]PagedQuery, error) {
	byUser, err1 := In("user_id", ids)
	byRoleUser, err2 := In("user_security_role.user_id", ids)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return []PagedQuery{{Expression: roleQuery + " where " + byUser}, {Expression: roleProjQuery + " where " + byRoleUser}}, nil
}

// planRoleChange returns the operation that brings the user's roles in
// st to what c asks, none when they are there already (st is updated as
// if it had run).
func planRoleChange(c engine.Change, st *userState, cat *roleCatalog) ([]Operation, error) {
	if cat == nil {
		return nil, errors.New("the security roles could not be read")
	}
	if !st.exists {
		return nil, fmt.Errorf("user %s does not exist in ftrack: %w", c.TargetID, ErrNotFound)
	}
	rid, ok := cat.roleID[c.Role]
	if !ok {
		return nil, fmt.Errorf("security role %q does not exist in ftrack: %w", c.Role, ErrNotFound)
	}
	h := st.roles[rid]
	var pid string
	if c.Project != "" {
		if pid, ok = cat.projectID[c.Project]; !ok {
			return nil, fmt.Errorf("project %q does not exist in ftrack: %w", c.Project, ErrNotFound)
		}
	}
	switch c.Action {
	case engine.ActionAddRole:
		if h != nil {
			if h.allOpen != c.AllOpenProjects {
				return nil, fmt.Errorf("the user holds role %q with all_open_projects = %t already", c.Role, h.allOpen)
			}
			return nil, nil
		}
		st.roles[rid] = &heldRole{allOpen: c.AllOpenProjects, projects: map[string]bool{}}
		return []Operation{RoleOp(opAddRole, c.TargetID, rid, "", c.AllOpenProjects)}, nil
	case engine.ActionRemoveRole:
		if h == nil {
			return nil, nil
		}
		delete(st.roles, rid)
		return []Operation{RoleOp(opRemoveRole, c.TargetID, rid, "", false)}, nil
	case engine.ActionGrantRoleProject:
		if h == nil {
			return nil, fmt.Errorf("the user does not hold role %q, so it cannot be granted on project %q", c.Role, c.Project)
		}
		if h.projects[pid] {
			return nil, nil
		}
		h.projects[pid] = true
		return []Operation{RoleOp(opGrantRole, c.TargetID, rid, pid, false)}, nil
	case engine.ActionRevokeRoleProject:
		if h == nil || !h.projects[pid] {
			return nil, nil
		}
		delete(h.projects, pid)
		return []Operation{RoleOp(opRevokeRole, c.TargetID, rid, pid, false)}, nil
	}
	return nil, fmt.Errorf("unsupported action %q", c.Action)
}

// appliedRoles reads back which of the role operations ops are in place,
// for Write's settling: a grant held, a removal gone. Others are false.
func (c *Client) appliedRoles(ctx context.Context, ops []Operation) ([]bool, error) {
	var users []string
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op.UserID] {
			seen[op.UserID] = true
			users = append(users, op.UserID)
		}
	}
	out := make([]bool, len(ops))
	if len(users) == 0 {
		return out, nil
	}
	sort.Strings(users)
	held := map[string]map[string]*heldRole{}
	err := byIDChunks(users, func(part []string) error {
		qs, err := heldRoleQueries(part)
		if err != nil {
			return fmt.Errorf("cannot verify role operations: %w", err)
		}
		res, err := c.QueryMany(ctx, qs...)
		if err != nil {
			return err
		}
		for u, r := range heldRoles(res[0], res[1]) {
			held[u] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, op := range ops {
		h := held[op.UserID][op.RoleID]
		switch op.Action {
		case opAddRole:
			out[i] = h != nil
		case opRemoveRole:
			out[i] = h == nil
		case opGrantRole:
			out[i] = h != nil && h.projects[op.ProjectID]
		case opRevokeRole:
			out[i] = h == nil || !h.projects[op.ProjectID]
		}
	}
	return out, nil
}
