package ftracktest

// What a site has before anyone uses it (security roles, user types,
// custom attribute types, the API user's User and its role), the
// deterministic ids of those rows, and the Go helpers tests use to add
// projects, security roles and user custom attributes.

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Security role types (SecurityRole.type). The real schema makes type a
// foreign key to SecurityRoleType.id, a type the emulator does not serve;
// that those ids read "PROJECT", "ASSIGNED" and "API" is UNCONFIRMED.
const (
	RoleTypeProject  = "PROJECT"
	RoleTypeAssigned = "ASSIGNED"
	RoleTypeAPI      = "API"
)

// NoDefaultRole, as Options.DefaultRole, gives users created through the
// API no security role.
const NoDefaultRole = "-"

// seededRoles are the security roles every emulator starts with, in order.
var seededRoles = []struct{ name, typ string }{
	{"Administrator", RoleTypeProject},
	{"Project Manager", RoleTypeProject},
	{"User", RoleTypeProject},
	{"Assignee", RoleTypeAssigned},
	{"API Key", RoleTypeAPI},
}

// seededUserTypes are the user types every emulator starts with; the first
// is the default (DefaultUserTypeID).
var seededUserTypes = []string{"ftrack", "ldap", "service", "demo"}

// Custom attribute type names (CustomAttributeType.name) the emulator
// starts with and validates values against.
const (
	CustomAttributeText       = "text"
	CustomAttributeNumber     = "number"
	CustomAttributeBoolean    = "boolean"
	CustomAttributeDate       = "date"
	CustomAttributeEnumerator = "enumerator"
)

var seededCustomAttributeTypes = []string{CustomAttributeText, CustomAttributeNumber, CustomAttributeBoolean, CustomAttributeDate, CustomAttributeEnumerator}

// projectSchemaID is the project_schema_id every Project gets (the
// emulator serves no ProjectSchema).
var projectSchemaID = nameID("project-schema", "default")

// nameID is a name-based (SHA-1) UUID, the same in every run.
func nameID(kind, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ftracktest:"+kind+":"+strings.ToLower(name))).String()
}

// SecurityRoleID is the id of the seeded SecurityRole called name
// ("Administrator", "Project Manager", "User", "Assignee", "API Key"): a
// name-based UUID of the name without case, like APIUserID. Roles added
// with AddSecurityRole get the same kind of id.
func SecurityRoleID(name string) string { return nameID("security-role", name) }

// UserTypeID is the id of the seeded UserType called name: DefaultUserTypeID
// for "ftrack" (the default, id as recorded from a real server), a
// name-based UUID of the name without case for the others ("ldap",
// "service", "demo").
func UserTypeID(name string) string {
	if strings.EqualFold(name, seededUserTypes[0]) {
		return DefaultUserTypeID
	}
	return nameID("user-type", name)
}

// CustomAttributeTypeID is the id of the seeded CustomAttributeType called
// name ("text", "number", "boolean", "date", "enumerator"), a name-based
// UUID; a data file's CustomAttributeConfiguration rows name it in type_id.
func CustomAttributeTypeID(name string) string { return nameID("custom-attribute-type", name) }

// userCustomAttributeID is the id AddUserCustomAttribute gives the
// configuration of key.
func userCustomAttributeID(key string) string { return nameID("custom-attribute:user", key) }

// seedLookups adds the seeded security roles, user types and custom
// attribute types a store lacks: one is added unless a row of its type
// has its id or its name (without case).
func (e *Emulator) seedLookups() {
	add := func(typ, id string, r row) {
		if e.store.get(typ, pkKey([]any{id})) != nil || e.findByName(typ, r["name"].(string)) != nil {
			return
		}
		r["id"] = id
		if _, _, err := e.create(typ, nil, r, false); err != nil {
			panic(err) // fixed data; covered by tests
		}
	}
	for _, ut := range seededUserTypes {
		add("UserType", UserTypeID(ut), row{"name": ut})
	}
	for _, sr := range seededRoles {
		add("SecurityRole", SecurityRoleID(sr.name), row{"name": sr.name, "type": sr.typ})
	}
	for _, ct := range seededCustomAttributeTypes {
		add("CustomAttributeType", CustomAttributeTypeID(ct), row{"name": ct, "core": true})
	}
}

// findByName returns the row of typ named name: the one with the exact
// name first, else one whose name differs only in case (first in
// primary-key order), else nil.
func (e *Emulator) findByName(typ, name string) row {
	var folded row
	for _, k := range e.store.sortedKeys(e.schemas.byType[typ], typ) {
		r := e.store.get(typ, k)
		n, _ := r["name"].(string)
		if n == name {
			return r
		}
		if folded == nil && strings.EqualFold(n, name) {
			folded = r
		}
	}
	return folded
}

// findRole returns the SecurityRole called name, preferring the one with
// the seeded id SecurityRoleID(name) when several share the name.
func (e *Emulator) findRole(name string) row {
	return e.findRoleByKey(name, pkKey([]any{SecurityRoleID(name)}))
}

// findRoleByKey is findRole given the store key of SecurityRoleID(name).
func (e *Emulator) findRoleByKey(name, key string) row {
	if r := e.store.get("SecurityRole", key); r != nil {
		if n, _ := r["name"].(string); strings.EqualFold(n, name) {
			return r
		}
	}
	return e.findByName("SecurityRole", name)
}

// AddProject adds a Project called name (full_name too), private or not,
// and returns its new id. It is a test helper: projects cannot be created
// through the emulator's API.
func (e *Emulator) AddProject(name string, private bool) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := uuid.NewString()
	if err := e.putLocked("Project", map[string]any{"id": id, "name": name, "full_name": name, "is_private": private}); err != nil {
		panic(err) // a new id and valid attributes cannot fail
	}
	return id
}

// AddSecurityRole adds a SecurityRole called name of type typ (RoleTypeProject,
// RoleTypeAssigned, RoleTypeAPI or another string) with the id
// SecurityRoleID(name). It fails (an *APIError) when a role with that id
// exists or typ is empty.
func (e *Emulator) AddSecurityRole(name, typ string) (string, error) {
	if strings.TrimSpace(name) == "" || typ == "" {
		return "", validationf("a security role needs a name and a type.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := SecurityRoleID(name)
	if err := e.putLocked("SecurityRole", map[string]any{"id": id, "name": name, "type": typ}); err != nil {
		return "", err
	}
	return id, nil
}

// AddUserCustomAttribute adds a CustomAttributeConfiguration for users
// (entity_type "user") with key (and label) key, of the seeded custom
// attribute type typeName ("text", "number", "boolean", "date" or
// "enumerator"), and returns its id, a name-based UUID of the key. For an
// enumerator, options are the values it allows (config {"multiSelect":
// false, "data": "[{\"menu\": V, \"value\": V}, ...]"}); without options
// any string is allowed. It fails (an *APIError) for an unknown type or a
// key already configured for users.
func (e *Emulator) AddUserCustomAttribute(key, typeName string, options ...string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ct := e.findByName("CustomAttributeType", typeName)
	if ct == nil {
		return "", validationf("unknown custom attribute type %q.", typeName)
	}
	config := "{}"
	if len(options) > 0 {
		if !strings.EqualFold(typeName, CustomAttributeEnumerator) {
			return "", validationf("only an enumerator custom attribute takes options.")
		}
		items := make([]any, len(options))
		for i, o := range options {
			items[i] = map[string]any{"menu": o, "value": o}
		}
		config = compactJSON(map[string]any{"multiSelect": false, "data": compactJSON(items)})
	}
	id := userCustomAttributeID(key)
	err := e.putLocked("CustomAttributeConfiguration", map[string]any{
		"id": id, "key": key, "label": key, "entity_type": "user", "type_id": ct["id"], "config": config,
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// putLocked is Put with the emulator already locked; data must be decoded
// JSON (strings, float64, bool, maps, slices).
func (e *Emulator) putLocked(typ string, data map[string]any) *APIError {
	e.store.begin()
	if _, _, err := e.create(typ, nil, data, true); err != nil {
		e.store.rollback()
		return err
	}
	e.store.commit()
	return nil
}

// grantDefaultRole gives the User userID, created by the same operation,
// the role Options.DefaultRole on all open projects (nothing with
// NoDefaultRole).
func (e *Emulator) grantDefaultRole(userID any) *APIError {
	if e.defaultRole == NoDefaultRole {
		return nil
	}
	role := e.findRoleByKey(e.defaultRole, e.defaultRoleKey)
	if role == nil {
		return validationf("The default security role %q (Options.DefaultRole) does not exist; new users cannot get it.", e.defaultRole)
	}
	return e.grantNewUser(userID, role)
}

// grantNewUser gives the User userID, created by this very operation,
// role on all open projects. It is addUserRole without the checks that
// cannot fail for a user just created (it exists and holds no role) and
// a role just read from the store (it exists): every User create pays
// for this. The refusal of an API role stays, with addUserRole's message.
func (e *Emulator) grantNewUser(userID any, role row) *APIError {
	if role["type"] == RoleTypeAPI {
		return validationf("API roles cannot be granted to users: SecurityRole %s is of type API.", e.roleName(role["id"]))
	}
	sc := e.schemas.byType["UserSecurityRole"]
	r := make(row, len(sc.defaults)+3)
	r["user_id"], r["security_role_id"], r["is_all_open_projects"] = userID, role["id"], true
	_, _, err := e.insert(sc, r, false)
	return err
}

// seedAPIUserRole gives the API user's seeded User the Administrator role
// on all open projects, with a fixed id.
func (e *Emulator) seedAPIUserRole(userID string) *APIError {
	role := e.findRole("Administrator")
	if role == nil {
		return nil
	}
	_, _, err := e.create("UserSecurityRole", nil, map[string]any{
		"id": nameID("user-security-role", userID+":"+fmt.Sprint(role["id"])), "user_id": userID,
		"security_role_id": role["id"], "is_all_open_projects": true,
	}, true)
	return err
}
