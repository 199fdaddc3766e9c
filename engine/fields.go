package engine

// The field table: every user field ldapsync manages is declared once,
// here, with where it lives in each view — a change's before/after
// (Fields), the desired user (User), the actual account (Account) and the
// last-applied record (AppliedUser). The diff, apply's checks and
// journal, drift, the renderers and the ftrack write mapping walk this
// table instead of naming the fields one by one.
//
// Adding a field: a member in Fields (with its JSON name), User, Account
// and AppliedUser where it applies; one entry in userFields and its case
// in each accessor below (all in this file); and the provider's mapping
// of the name (providers/ftrack: userAttributes or markerKeys).
//
// User custom attributes are fields too, made per key (CustomField:
// "custom_attributes.department"), kept in the Custom maps of each view.
// SetFields lists them after the table's, in key order, and the diff
// walks desiredFields (the table plus the user's custom keys).

import (
	"maps"
	"strconv"
)

// FieldKind says who sets a field and where the target keeps it.
type FieldKind int

// The field kinds.
const (
	// FieldAttribute is a User attribute the mapping gives from the
	// directory (username, email, names).
	FieldAttribute FieldKind = iota
	// FieldActive is the User's is_active, set by the lifecycle rules.
	FieldActive
	// FieldMarker is part of the ownership marker ldapsync keeps in
	// ftrack's Metadata (owner, source_id); drift does not compare it
	// for out-of-band edits.
	FieldMarker
)

// UserField is one managed user field. The accessors take and give the
// field's value as text; a boolean is "true" or "false". They switch on
// the field instead of calling stored functions, so that they allocate
// nothing: the diff calls them for every user.
type UserField struct {
	// Name is the field's name in plans, state, drift and the audit log.
	Name string
	Kind FieldKind
	// Bool is true for a boolean field.
	Bool bool

	id fieldID
	// key is a custom attribute's key (fCustom).
	key string
}

// customPrefix starts the name of a custom attribute field.
const customPrefix = "custom_attributes."

// CustomField is the field of the user custom attribute key.
func CustomField(key string) UserField {
	return UserField{Name: customPrefix + key, Kind: FieldAttribute, id: fCustom, key: key}
}

// CustomKey returns the custom attribute key of the field, if it is one.
func (uf UserField) CustomKey() (string, bool) { return uf.key, uf.id == fCustom }

// customText returns m[k] and whether it is there.
func customText(m map[string]string, k string) (string, bool) {
	v, ok := m[k]
	return v, ok
}

// setCustom returns m with m[k] = v, making m when nil.
func setCustom(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// desiredFields is the table plus a field per custom attribute the
// mapping gives u, in key order.
func desiredFields(u User) []UserField { return withCustom(u.Custom) }

// withCustom is the table plus a field per key of custom, in key order.
func withCustom(custom map[string]string) []UserField {
	if len(custom) == 0 {
		return userFields
	}
	out := append([]UserField(nil), userFields...)
	for _, k := range sortedKeysOf(custom) {
		out = append(out, CustomField(k))
	}
	return out
}

// fieldID names a field for the accessors' switches.
type fieldID int

const (
	fUsername fieldID = iota
	fEmail
	fFirstName
	fLastName
	fIsActive
	fOwner
	fSourceID
	fUserType
	fCustom
)

// userFields is the table, in the order plans, drift and renderers list
// the fields.
var userFields = []UserField{
	{Name: "username", Kind: FieldAttribute, id: fUsername},
	{Name: "email", Kind: FieldAttribute, id: fEmail},
	{Name: "first_name", Kind: FieldAttribute, id: fFirstName},
	{Name: "last_name", Kind: FieldAttribute, id: fLastName},
	{Name: "user_type", Kind: FieldAttribute, id: fUserType},
	{Name: "is_active", Kind: FieldActive, Bool: true, id: fIsActive},
	{Name: "owner", Kind: FieldMarker, id: fOwner},
	{Name: "source_id", Kind: FieldMarker, id: fSourceID},
}

// UserFields returns the field table, in display order.
func UserFields() []UserField { return userFields }

// text returns *p as a value and whether p is set.
func text(p *string) (string, bool) {
	if p == nil {
		return "", false
	}
	return *p, true
}

// Get returns the field's value in f, and whether f sets it.
func (uf UserField) Get(f *Fields) (string, bool) {
	if f == nil {
		return "", false
	}
	switch uf.id {
	case fUsername:
		return text(f.Username)
	case fEmail:
		return text(f.Email)
	case fFirstName:
		return text(f.FirstName)
	case fLastName:
		return text(f.LastName)
	case fIsActive:
		if f.IsActive == nil {
			return "", false
		}
		return strconv.FormatBool(*f.IsActive), true
	case fOwner:
		return text(f.Owner)
	case fSourceID:
		return text(f.SourceID)
	case fUserType:
		return text(f.UserType)
	case fCustom:
		return customText(f.Custom, uf.key)
	}
	return "", false
}

// Set sets the field in f.
func (uf UserField) Set(f *Fields, v string) {
	switch uf.id {
	case fUsername:
		f.Username = Str(v)
	case fEmail:
		f.Email = Str(v)
	case fFirstName:
		f.FirstName = Str(v)
	case fLastName:
		f.LastName = Str(v)
	case fIsActive:
		f.IsActive = Bool(v == "true")
	case fOwner:
		f.Owner = Str(v)
	case fSourceID:
		f.SourceID = Str(v)
	case fUserType:
		f.UserType = Str(v)
	case fCustom:
		f.Custom = setCustom(f.Custom, uf.key, v)
	}
}

// Value returns the field's value in f as its JSON type (string or
// bool), and whether f sets it.
func (uf UserField) Value(f *Fields) (any, bool) {
	v, ok := uf.Get(f)
	if !ok || !uf.Bool {
		return v, ok
	}
	return v == "true", true
}

// Desired returns the value the mapping gives the user, and false when
// the mapping does not give this field (the lifecycle rules and the
// ownership marker set those).
func (uf UserField) Desired(u User) (string, bool) {
	switch uf.id {
	case fUsername:
		return u.Username, true
	case fEmail:
		return u.Email, true
	case fFirstName:
		return u.FirstName, true
	case fLastName:
		return u.LastName, true
	case fSourceID:
		return u.SourceID, true
	case fUserType:
		return u.UserType, u.UserType != ""
	case fCustom:
		return customText(u.Custom, uf.key)
	}
	return "", false
}

// Actual returns the account's value.
func (uf UserField) Actual(a Account) string {
	switch uf.id {
	case fUsername:
		return a.Username
	case fEmail:
		return a.Email
	case fFirstName:
		return a.FirstName
	case fLastName:
		return a.LastName
	case fIsActive:
		return strconv.FormatBool(a.Active)
	case fOwner:
		return a.Owner
	case fSourceID:
		return a.SourceID
	case fUserType:
		return a.UserType
	case fCustom:
		return a.Custom[uf.key]
	}
	return ""
}

// LastApplied returns the last-applied value, and false when the state
// does not record this field.
func (uf UserField) LastApplied(u AppliedUser) (string, bool) {
	switch uf.id {
	case fUsername:
		return u.Username, true
	case fEmail:
		return u.Email, true
	case fFirstName:
		return u.FirstName, true
	case fLastName:
		return u.LastName, true
	case fIsActive:
		return strconv.FormatBool(u.Active), true
	case fSourceID:
		return u.SourceID, true
	case fUserType:
		return u.UserType, u.UserType != ""
	case fCustom:
		return customText(u.Custom, uf.key)
	}
	return "", false
}

// setLastApplied records v as the last-applied value, if recorded.
func (uf UserField) setLastApplied(u *AppliedUser, v string) {
	switch uf.id {
	case fUsername:
		u.Username = v
	case fEmail:
		u.Email = v
	case fFirstName:
		u.FirstName = v
	case fLastName:
		u.LastName = v
	case fIsActive:
		u.Active = v == "true"
	case fSourceID:
		u.SourceID = v
	case fUserType:
		u.UserType = v
	case fCustom:
		u.Custom = setCustom(maps.Clone(u.Custom), uf.key, v)
	}
}

// FieldValue is one set field of a Fields value.
type FieldValue struct {
	Field UserField
	Value string
}

// SetFields lists the fields f sets, in table order, then its custom
// attributes in key order.
func SetFields(f *Fields) []FieldValue {
	if f == nil {
		return nil
	}
	out := make([]FieldValue, 0, len(userFields)+len(f.Custom))
	for _, uf := range userFields {
		if v, ok := uf.Get(f); ok {
			out = append(out, FieldValue{uf, v})
		}
	}
	for _, k := range sortedKeysOf(f.Custom) {
		out = append(out, FieldValue{CustomField(k), f.Custom[k]})
	}
	return out
}

// optional reports whether a create may leave the field out: user_type
// and custom attributes are written only when the mapping gives them.
func (uf UserField) optional() bool { return uf.id == fUserType || uf.id == fCustom }

// createFieldNames are the fields every create writes, in table order.
var createFieldNames = func() []string {
	var out []string
	for _, uf := range userFields {
		if !uf.optional() {
			out = append(out, uf.Name)
		}
	}
	return out
}()

// requiredNamesOf lists the fields of set (SetFields') that are not
// optional, in table order: those a create must write.
func requiredNamesOf(set []FieldValue) []string {
	out := make([]string, 0, len(set))
	for _, x := range set {
		if !x.Field.optional() {
			out = append(out, x.Field.Name)
		}
	}
	return out
}

// fieldNames lists the names of the fields f sets.
func fieldNames(f *Fields) []string { return fieldNamesOf(SetFields(f)) }

// fieldNamesOf is fieldNames of the fields set lists (SetFields').
func fieldNamesOf(set []FieldValue) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for _, x := range set {
		out = append(out, x.Field.Name)
	}
	return out
}

// user returns a pointer to the field's member in u, or nil when the
// mapping does not give this field; for passes that correct a desired
// value in place.
func (uf UserField) user(u *User) *string {
	switch uf.id {
	case fUsername:
		return &u.Username
	case fEmail:
		return &u.Email
	case fFirstName:
		return &u.FirstName
	case fLastName:
		return &u.LastName
	case fSourceID:
		return &u.SourceID
	case fUserType:
		return &u.UserType
	}
	return nil
}

// mapped reports whether the mapping gives this field (Desired has it).
func (uf UserField) mapped() bool { return uf.id != fIsActive && uf.id != fOwner }
