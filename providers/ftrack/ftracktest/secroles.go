package ftracktest

// The dedicated security-role operations of a batch (not plain CRUD):
// add_user_security_role, remove_user_security_role,
// update_user_security_role, grant_user_security_role_project and
// revoke_user_security_role_project. Each works on the UserSecurityRole
// and UserSecurityRoleProject rows and is undone with the batch like any
// create or delete.

import (
	"fmt"
	"sort"
	"strings"
)

// securityRoleOps lists each operation's fields: required strings and
// optional ones ("all_open_projects", a boolean). Every operation also
// takes "action" and an optional "metadata" object, which is ignored.
var securityRoleOps = map[string]struct{ required, optional []string }{
	"add_user_security_role":            {[]string{"user_id", "role_id"}, []string{"all_open_projects"}},
	"remove_user_security_role":         {[]string{"user_id", "role_id"}, nil},
	"update_user_security_role":         {[]string{"user_id", "role_id", "new_role_id"}, nil},
	"grant_user_security_role_project":  {[]string{"user_id", "role_id", "project_id"}, nil},
	"revoke_user_security_role_project": {[]string{"user_id", "role_id", "project_id"}, nil},
}

// securityRoleOp runs one security-role operation.
func (e *Emulator) securityRoleOp(action string, op map[string]any) (any, *APIError) {
	spec := securityRoleOps[action]
	fields := append(append([]string{}, spec.required...), spec.optional...)
	allowed := map[string]bool{"action": true, "metadata": true}
	for _, f := range fields {
		allowed[f] = true
	}
	names := make([]string, 0, len(op))
	for k := range op {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed[k] {
			return nil, validationf("%s has no field %q (fields: %s).", action, k, strings.Join(fields, ", "))
		}
	}
	if m, ok := op["metadata"]; ok && m != nil {
		if _, ok := m.(map[string]any); !ok {
			return nil, validationf("%s: metadata must be an object.", action)
		}
	}
	f := map[string]string{}
	for _, k := range spec.required {
		s, ok := op[k].(string)
		if !ok || s == "" {
			return nil, validationf("%s needs %q, a non-empty string.", action, k)
		}
		f[k] = s
	}
	allOpen := false
	if v, ok := op["all_open_projects"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, validationf("%s: all_open_projects must be a boolean, got %s.", action, shortJSON(v))
		}
		allOpen = b
	}
	answer := func(data any) (any, *APIError) {
		return map[string]any{"action": action, "data": data}, nil
	}

	switch action {
	case "add_user_security_role":
		r, err := e.addUserRole(f["user_id"], f["role_id"], allOpen)
		if err != nil {
			return nil, err
		}
		return answer(e.encodeRow("UserSecurityRole", r))
	case "remove_user_security_role":
		k, _, err := e.heldRole(f["user_id"], f["role_id"])
		if err != nil {
			return nil, err
		}
		if err := e.deleteRow(e.schemas.byType["UserSecurityRole"], k); err != nil {
			return nil, err
		}
		return answer(true)
	case "update_user_security_role":
		k, cur, err := e.heldRole(f["user_id"], f["role_id"])
		if err != nil {
			return nil, err
		}
		if _, err := e.grantableRole(f["user_id"], f["new_role_id"]); err != nil {
			return nil, err
		}
		sc := e.schemas.byType["UserSecurityRole"]
		r := copyRow(cur)
		r["security_role_id"] = f["new_role_id"]
		if err := e.checkRow(sc, k, r, true); err != nil {
			return nil, err
		}
		e.store.set(sc.ID, k, r)
		return answer(e.encodeRow(sc.ID, r))
	case "grant_user_security_role_project":
		_, usr, err := e.heldRole(f["user_id"], f["role_id"])
		if err != nil {
			return nil, err
		}
		if e.store.get("Project", pkKey([]any{f["project_id"]})) == nil {
			return nil, validationf("Project %s does not exist.", f["project_id"])
		}
		if _, ok := e.store.lookupUnique("UserSecurityRoleProject", row{"user_security_role_id": usr["id"], "project_id": f["project_id"]}); ok {
			return nil, validationf("User %s already has the security role %s on project %s.", f["user_id"], e.roleName(f["role_id"]), f["project_id"])
		}
		_, r, err := e.create("UserSecurityRoleProject", nil, map[string]any{"user_security_role_id": usr["id"], "project_id": f["project_id"]}, true)
		if err != nil {
			return nil, err
		}
		return answer(e.encodeRow("UserSecurityRoleProject", r))
	default: // revoke_user_security_role_project
		_, usr, err := e.heldRole(f["user_id"], f["role_id"])
		if err != nil {
			return nil, err
		}
		k, ok := e.store.lookupUnique("UserSecurityRoleProject", row{"user_security_role_id": usr["id"], "project_id": f["project_id"]})
		if !ok {
			return nil, validationf("User %s does not have the security role %s on project %s.", f["user_id"], e.roleName(f["role_id"]), f["project_id"])
		}
		if err := e.deleteRow(e.schemas.byType["UserSecurityRoleProject"], k); err != nil {
			return nil, err
		}
		return answer(true)
	}
}

// roleName quotes the name of role id for messages (the id when unknown).
func (e *Emulator) roleName(id any) string {
	if r := e.store.get("SecurityRole", pkKey([]any{id})); r != nil {
		return fmt.Sprintf("%q (%v)", r["name"], id)
	}
	return fmt.Sprint(id)
}

// grantableRole checks that userID is a User and roleID a SecurityRole
// that may be granted to users (not of type API) and that the user does
// not hold yet; it returns the role.
func (e *Emulator) grantableRole(userID, roleID any) (row, *APIError) {
	role, err := e.userAndRole(userID, roleID)
	if err != nil {
		return nil, err
	}
	if role["type"] == RoleTypeAPI {
		return nil, validationf("API roles cannot be granted to users: SecurityRole %s is of type API.", e.roleName(roleID))
	}
	if _, ok := e.store.lookupUnique("UserSecurityRole", row{"user_id": userID, "security_role_id": roleID}); ok {
		return nil, validationf("User %v already has the security role %s.", userID, e.roleName(roleID))
	}
	return role, nil
}

// addUserRole creates the UserSecurityRole giving userID the role roleID.
func (e *Emulator) addUserRole(userID, roleID any, allOpen bool) (row, *APIError) {
	if _, err := e.grantableRole(userID, roleID); err != nil {
		return nil, err
	}
	_, r, err := e.create("UserSecurityRole", nil, map[string]any{"user_id": userID, "security_role_id": roleID, "is_all_open_projects": allOpen}, true)
	return r, err
}

// heldRole returns the key and row of the UserSecurityRole giving userID
// the role roleID, or an error naming what is missing.
func (e *Emulator) heldRole(userID, roleID string) (string, row, *APIError) {
	if _, err := e.userAndRole(userID, roleID); err != nil {
		return "", nil, err
	}
	k, ok := e.store.lookupUnique("UserSecurityRole", row{"user_id": userID, "security_role_id": roleID})
	if !ok {
		return "", nil, validationf("User %s does not have the security role %s.", userID, e.roleName(roleID))
	}
	return k, e.store.get("UserSecurityRole", k), nil
}

// userAndRole checks that userID is a User and roleID a SecurityRole, and
// returns the role.
func (e *Emulator) userAndRole(userID, roleID any) (row, *APIError) {
	if e.store.get("User", pkKey([]any{userID})) == nil {
		return nil, validationf("User %v does not exist.", userID)
	}
	role := e.store.get("SecurityRole", pkKey([]any{roleID}))
	if role == nil {
		return nil, validationf("SecurityRole %v does not exist.", roleID)
	}
	return role, nil
}
