package ftracktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Exception names the emulator answers with.
const (
	ExcValidation         = "ValidationError"
	ExcDuplicateEntry     = "DuplicateEntryError"
	ExcNotFound           = "NotFoundError" // update/delete of a missing entity (real name UNCONFIRMED)
	ExcInvalidCredentials = "InvalidCredentialsError"
	ExcPermission         = "PermissionError"
	ExcServer             = "ServerError"
	ExcLicense            = "LicenseError" // no user licence free (real name UNCONFIRMED)
)

// APIError is an ftrack exception: the body that replaces the whole result
// list when any operation of a batch fails.
type APIError struct {
	Exception string `json:"exception"`
	Content   string `json:"content"`
	ErrorCode string `json:"-"` // sent as "error_code" (null when empty)
}

// Error implements error.
func (e *APIError) Error() string { return e.Exception + ": " + e.Content }

// MarshalJSON encodes the ftrack exception body.
func (e *APIError) MarshalJSON() ([]byte, error) {
	var code any
	if e.ErrorCode != "" {
		code = e.ErrorCode
	}
	return json.Marshal(map[string]any{"exception": e.Exception, "content": e.Content, "error_code": code})
}

// StrictStatus is the HTTP status sent for e when the client asked for
// ftrack-strict-api: true (without it errors come back with 200).
func (e *APIError) StrictStatus() int {
	switch e.Exception {
	case ExcValidation:
		return http.StatusBadRequest
	case ExcInvalidCredentials, "FTAuthenticationError":
		return http.StatusUnauthorized
	case ExcPermission:
		return http.StatusForbidden
	case ExcNotFound:
		return http.StatusNotFound
	case ExcDuplicateEntry:
		return http.StatusConflict
	case ExcLicense:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func validationf(format string, args ...any) *APIError {
	return &APIError{Exception: ExcValidation, Content: fmt.Sprintf(format, args...)}
}

// typeSchema returns the schema of a concrete (creatable) type.
func (e *Emulator) typeSchema(typ string, concrete bool) (*schema, *APIError) {
	sc := e.schemas.byType[typ]
	if sc == nil {
		return nil, validationf("Unknown entity type %q.", typ)
	}
	if concrete && sc.Abstract {
		return nil, validationf("Entity type %q is abstract; create one of %s.", typ, strings.Join(subtypes[typ], ", "))
	}
	return sc, nil
}

// normalizeValue checks v against the attribute's schema type and returns
// the value to store. Datetimes are stored as their naive ISO string.
func normalizeValue(sc *schema, name string, v any) (any, *APIError) {
	p := sc.Properties[name]
	if v == nil {
		return nil, nil
	}
	if p.Format == "date-time" || p.Format == "date" {
		if m, ok := v.(map[string]any); ok {
			v = m["value"]
		}
		s, ok := v.(string)
		if !ok {
			return nil, validationf("%s.%s: expected a %s.", sc.ID, name, p.Format)
		}
		return normalizeTime(s, p.Format == "date")
	}
	bad := func() (any, *APIError) {
		return nil, validationf("%s.%s: invalid value %s for type %s.", sc.ID, name, shortJSON(v), typeName(p))
	}
	switch p.Type {
	case "string", "":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return bad()
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return bad()
		}
	}
	return deepCopy(v), nil
}

func typeName(p property) string {
	if p.Type == "" {
		return "string"
	}
	return p.Type
}

func normalizeTime(s string, dateOnly bool) (any, *APIError) {
	if dateOnly {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, validationf("invalid date %q.", s)
		}
		return t.Format("2006-01-02"), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format("2006-01-02T15:04:05.999999"), nil
		}
	}
	return nil, validationf("invalid datetime %q.", s)
}

func shortJSON(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 60 {
		return string(data[:60]) + "..."
	}
	return string(data)
}

// applyData validates entity_data attributes and writes them into r.
// creating allows immutable attributes; an update gets the list of the
// attributes set.
func (e *Emulator) applyData(sc *schema, r row, data map[string]any, creating bool) ([]string, *APIError) {
	var buf [16]string // (entity_data rarely has more members)
	names := buf[:0]
	for k := range data {
		names = append(names, k)
	}
	slices.Sort(names)
	var set []string
	for _, name := range names {
		v := data[name]
		if name == "__entity_type__" {
			if s, _ := v.(string); s != sc.ID && !(s == "" && v == nil) {
				return nil, validationf("__entity_type__ %s does not match entity type %q.", shortJSON(v), sc.ID)
			}
			continue
		}
		p, ok := sc.Properties[name]
		if !ok {
			return nil, validationf("%s has no attribute %q.", sc.ID, name)
		}
		if sc.has(sc.Computed, name) {
			return nil, validationf("%s.%s is computed and cannot be set.", sc.ID, name)
		}
		if p.isRelation() {
			rel, ok := relations[sc.ID][name]
			if p.ItemsRef != "" || !ok {
				return nil, validationf("%s.%s is a collection; create or delete the related entities instead.", sc.ID, name)
			}
			// A scalar relation given as an entity reference sets the foreign key.
			var fk any
			if v != nil {
				m, ok := v.(map[string]any)
				if !ok {
					return nil, validationf("%s.%s: expected an entity reference.", sc.ID, name)
				}
				fk = m[rel.Remote]
			}
			name, v = rel.Local, fk
			p = sc.Properties[name]
		}
		if !creating && sc.has(sc.Immutable, name) {
			if cur, exists := r[name]; exists && compareValues(cur, v) == 0 {
				continue // repeating the current value is harmless
			}
			return nil, validationf("%s.%s is immutable.", sc.ID, name)
		}
		nv, err := normalizeValue(sc, name, v)
		if err != nil {
			return nil, err
		}
		if nv == nil {
			delete(r, name)
		} else {
			r[name] = nv
		}
		if !creating { // (create ignores the list)
			set = append(set, name)
		}
	}
	return set, nil
}

// checkRow enforces required attributes, foreign keys and unique
// constraints for r stored under key.
func (e *Emulator) checkRow(sc *schema, key string, r row, checkRefs bool) *APIError {
	for _, name := range sc.Required {
		if r[name] == nil {
			return validationf("%s.%s is required.", sc.ID, name)
		}
	}
	if sc.ID == "User" {
		if u, _ := r["username"].(string); strings.TrimSpace(u) == "" {
			return validationf("User.username must not be empty.")
		}
	}
	if c, bad := e.store.conflict(sc.ID, key, r); bad {
		vals := make([]string, len(c.Attrs))
		for i, a := range c.Attrs {
			vals[i] = fmt.Sprintf("%s=%v", a, r[a])
		}
		return &APIError{Exception: ExcDuplicateEntry, Content: fmt.Sprintf("Duplicate entry: a %s with %s already exists.", sc.ID, strings.Join(vals, ", "))}
	}
	if !checkRefs {
		return nil
	}
	return e.checkRefs(sc, r)
}

func (e *Emulator) checkRefs(sc *schema, r row) *APIError {
	for _, rel := range sc.refs {
		v := r[rel.Local]
		if v == nil {
			continue
		}
		if e.store.get(rel.Target, pkKey([]any{v})) == nil {
			return validationf("%s.%s: %s %v does not exist.", sc.ID, rel.Local, rel.Target, v)
		}
	}
	switch sc.ID {
	case "UserCustomAttributeValue":
		return e.checkCustomAttributeValue(r)
	case "UserSecurityRole":
		if role := e.store.get("SecurityRole", pkKey([]any{r["security_role_id"]})); role != nil && role["type"] == RoleTypeAPI {
			return validationf("API roles cannot be granted to users: SecurityRole %s is of type API.", e.roleName(r["security_role_id"]))
		}
	}
	if sc.ID == "Metadata" {
		pt, _ := r["parent_type"].(string)
		if ps := e.schemas.byType[pt]; ps != nil && len(ps.PrimaryKey) == 1 && !ps.Abstract {
			if e.store.get(pt, pkKey([]any{r["parent_id"]})) == nil {
				return validationf("Metadata.parent_id: %s %v does not exist.", pt, r["parent_id"])
			}
		}
	}
	return nil
}

// entityKey turns an entity_key (list or plain string) into pk values.
func entityKey(sc *schema, raw any) ([]any, *APIError) {
	var vals []any
	switch t := raw.(type) {
	case []any:
		vals = t
	case string:
		vals = []any{t}
	case nil:
		return nil, nil
	default:
		return nil, validationf("entity_key must be a list of primary key values.")
	}
	if len(vals) != len(sc.PrimaryKey) {
		return nil, validationf("entity_key for %s needs %d value(s) (%s), got %d.", sc.ID, len(sc.PrimaryKey), strings.Join(sc.PrimaryKey, ", "), len(vals))
	}
	for i, v := range vals {
		nv, err := normalizeValue(sc, sc.PrimaryKey[i], v)
		if err != nil {
			return nil, err
		}
		if nv == nil {
			return nil, validationf("entity_key value %d is null.", i)
		}
		vals[i] = nv
	}
	return vals, nil
}

// create inserts a new entity and returns the stored row.
func (e *Emulator) create(typ string, key any, data map[string]any, checkRefs bool) (string, row, *APIError) {
	sc, err := e.typeSchema(typ, true)
	if err != nil {
		return "", nil, err
	}
	r := make(row, len(data)+len(sc.defaults))
	if _, err := e.applyData(sc, r, data, true); err != nil {
		return "", nil, err
	}
	if key != nil {
		vals, err := entityKey(sc, key)
		if err != nil {
			return "", nil, err
		}
		for i, k := range sc.PrimaryKey {
			if cur, ok := r[k]; ok && compareValues(cur, vals[i]) != 0 {
				return "", nil, validationf("entity_key does not match %s.%s in entity_data.", sc.ID, k)
			}
			r[k] = vals[i]
		}
	}
	return e.insert(sc, r, checkRefs)
}

// insert completes the new row r of sc, whose attributes are valid
// values (applyData's), with the defaults and derived attributes, checks
// it (its references only if checkRefs) and stores it.
func (e *Emulator) insert(sc *schema, r row, checkRefs bool) (string, row, *APIError) {
	for _, d := range sc.defaults {
		if _, ok := r[d.name]; ok {
			continue
		}
		if d.uid {
			r[d.name] = uuid.NewString()
		} else {
			r[d.name] = d.value
		}
	}
	if sc.ID == "UserCustomAttributeValue" {
		if err := e.deriveCustomAttributeKey(r); err != nil {
			return "", nil, err
		}
	}
	if sc.ID == "Metadata" && r["parent_type"] == nil && r["parent_id"] != nil {
		if t := e.typeOfID(r["parent_id"]); t != "" {
			r["parent_type"] = t
		}
	}
	for _, k := range sc.PrimaryKey {
		if r[k] == nil {
			return "", nil, validationf("%s.%s is required.", sc.ID, k)
		}
	}
	k := rowKey(sc, r)
	if e.store.get(sc.ID, k) != nil {
		return "", nil, &APIError{Exception: ExcDuplicateEntry, Content: fmt.Sprintf("Duplicate entry: %s %s already exists.", sc.ID, k)}
	}
	// k is the key typeOfID(r["id"]) would look for.
	if _, str := r["id"].(string); str && sc.PrimaryKey[0] == "id" && len(sc.PrimaryKey) == 1 && e.typeOfKey(k) != "" {
		return "", nil, &APIError{Exception: ExcDuplicateEntry, Content: fmt.Sprintf("Duplicate entry: id %v already exists.", r["id"])}
	}
	if err := e.checkRow(sc, k, r, checkRefs); err != nil {
		return "", nil, err
	}
	e.store.set(sc.ID, k, r)
	return k, r, nil
}

// typeOfID finds the type of the entity with id (single-column "id" keys).
func (e *Emulator) typeOfID(id any) string {
	if _, ok := id.(string); !ok {
		return ""
	}
	return e.typeOfKey(pkKey([]any{id}))
}

// typeOfKey finds the first type, in served order, with a row stored
// under the one-value key k (only types keyed by one column can have one).
func (e *Emulator) typeOfKey(k string) string {
	for _, t := range e.schemas.keyTypes {
		if e.store.get(t, k) != nil {
			return t
		}
	}
	return ""
}

func (e *Emulator) update(typ string, key any, data map[string]any) (row, *APIError) {
	sc, err := e.typeSchema(typ, true)
	if err != nil {
		return nil, err
	}
	vals, err := entityKey(sc, key)
	if err != nil {
		return nil, err
	}
	if vals == nil {
		return nil, validationf("update needs an entity_key.")
	}
	k := pkKey(vals)
	cur := e.store.get(sc.ID, k)
	if cur == nil {
		return nil, &APIError{Exception: ExcNotFound, Content: fmt.Sprintf("%s %s not found.", sc.ID, k)}
	}
	r := copyRow(cur)
	set, err := e.applyData(sc, r, data, false)
	if err != nil {
		return nil, err
	}
	if sc.ID == "UserCustomAttributeValue" {
		if err := e.deriveCustomAttributeKey(r); err != nil {
			return nil, err
		}
	}
	if err := e.checkRow(sc, k, r, true); err != nil {
		return nil, err
	}
	e.store.set(sc.ID, k, r)
	out := row{"__entity_type__": sc.ID}
	for _, a := range sc.PrimaryKey {
		out[a] = r[a]
	}
	for _, a := range sc.SystemProjections {
		if _, ok := sc.Properties[a]; ok {
			out[a] = deepCopy(r[a])
		}
	}
	for _, a := range set {
		out[a] = deepCopy(r[a])
	}
	return out, nil
}

func (e *Emulator) delete(typ string, key any) *APIError {
	sc, err := e.typeSchema(typ, true)
	if err != nil {
		return err
	}
	vals, err := entityKey(sc, key)
	if err != nil {
		return err
	}
	if vals == nil {
		return validationf("delete needs an entity_key.")
	}
	k := pkKey(vals)
	if e.store.get(sc.ID, k) == nil {
		return &APIError{Exception: ExcNotFound, Content: fmt.Sprintf("%s %s not found.", sc.ID, k)}
	}
	return e.deleteRow(sc, k)
}

// deleteRow removes a row, cascading to dependent collections and refusing
// when a "restrict" collection or any foreign key still refers to it.
func (e *Emulator) deleteRow(sc *schema, k string) *APIError {
	r := e.store.get(sc.ID, k)
	if r == nil {
		return nil
	}
	rels := relations[sc.ID]
	for _, n := range relationNames()[sc.ID] {
		rel := rels[n]
		if !rel.Many {
			continue
		}
		ts := e.schemas.byType[rel.Target]
		var dependents []string
		for ck, cr := range e.store.rows[rel.Target] {
			if compareValues(cr[rel.Remote], r[rel.Local]) == 0 {
				dependents = append(dependents, ck)
			}
		}
		sort.Strings(dependents)
		for _, ck := range dependents {
			if rel.OnDelete == "restrict" {
				return validationf("Cannot delete %s %s: it still has %s.", sc.ID, k, n)
			}
			if err := e.deleteRow(ts, ck); err != nil {
				return err
			}
		}
	}
	e.store.del(sc.ID, k)
	// Any remaining foreign key pointing here blocks the delete.
	for _, t := range e.schemas.order {
		for n, rel := range relations[t] {
			if rel.Many || rel.Target != sc.ID {
				continue
			}
			for _, cr := range e.store.rows[t] {
				if cr[rel.Local] != nil && compareValues(cr[rel.Local], r[rel.Remote]) == 0 {
					return validationf("Cannot delete %s %s: still referenced by %s.%s.", sc.ID, k, t, n)
				}
			}
		}
	}
	return nil
}

// relationNames lists each type's relation names, sorted: the order in
// which checkRefs reports a missing reference.
var relationNames = sync.OnceValue(func() map[string][]string {
	out := make(map[string][]string, len(relations))
	for typ, rels := range relations {
		out[typ] = slices.Sorted(maps.Keys(rels))
	}
	return out
})
