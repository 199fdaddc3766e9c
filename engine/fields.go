package engine

// The field table: every user field ldapsync manages is declared once,
// here, with where it lives in each view — a change's before/after
// (Fields), the desired user (User), the actual account (Account) and the
// last-applied record (AppliedUser). The diff, apply's checks and
// journal, drift, the renderers and the ftrack write mapping walk this
// table instead of naming the fields one by one.
//
// Adding a field: a member in Fields (with its JSON name), User, Account
// and AppliedUser where it applies, one entry below, and the provider's
// mapping of the name (providers/ftrack: userAttributes or markerKeys).

import "strconv"

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
// field's value as text; a boolean is "true" or "false".
type UserField struct {
	// Name is the field's name in plans, state, drift and the audit log.
	Name string
	Kind FieldKind
	// Bool is true for a boolean field.
	Bool bool

	fields  func(*Fields) (get func() (string, bool), set func(string))
	user    func(*User) *string // nil: the mapping does not give it
	account func(*Account) (get func() string)
	applied func(*AppliedUser) (get func() string, set func(string)) // nil: not recorded
}

// Get returns the field's value in f, and whether f sets it.
func (uf UserField) Get(f *Fields) (string, bool) {
	if f == nil {
		return "", false
	}
	get, _ := uf.fields(f)
	return get()
}

// Set sets the field in f.
func (uf UserField) Set(f *Fields, v string) {
	_, set := uf.fields(f)
	set(v)
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
// the mapping does not give this field.
func (uf UserField) Desired(u User) (string, bool) {
	if uf.user == nil {
		return "", false
	}
	return *uf.user(&u), true
}

// Actual returns the account's value.
func (uf UserField) Actual(a Account) string { return uf.account(&a)() }

// LastApplied returns the last-applied value, and false when the state
// does not record this field.
func (uf UserField) LastApplied(u AppliedUser) (string, bool) {
	if uf.applied == nil {
		return "", false
	}
	get, _ := uf.applied(&u)
	return get(), true
}

// setLastApplied records v as the last-applied value, if recorded.
func (uf UserField) setLastApplied(u *AppliedUser, v string) {
	if uf.applied != nil {
		_, set := uf.applied(u)
		set(v)
	}
}

// userFields is the table, in the order plans, drift and renderers list
// the fields.
var userFields = []UserField{
	textField("username", FieldAttribute, func(f *Fields) **string { return &f.Username }, func(u *User) *string { return &u.Username },
		func(a *Account) *string { return &a.Username }, func(u *AppliedUser) *string { return &u.Username }),
	textField("email", FieldAttribute, func(f *Fields) **string { return &f.Email }, func(u *User) *string { return &u.Email },
		func(a *Account) *string { return &a.Email }, func(u *AppliedUser) *string { return &u.Email }),
	textField("first_name", FieldAttribute, func(f *Fields) **string { return &f.FirstName }, func(u *User) *string { return &u.FirstName },
		func(a *Account) *string { return &a.FirstName }, func(u *AppliedUser) *string { return &u.FirstName }),
	textField("last_name", FieldAttribute, func(f *Fields) **string { return &f.LastName }, func(u *User) *string { return &u.LastName },
		func(a *Account) *string { return &a.LastName }, func(u *AppliedUser) *string { return &u.LastName }),
	{Name: "is_active", Kind: FieldActive, Bool: true,
		fields: func(f *Fields) (func() (string, bool), func(string)) {
			return func() (string, bool) {
					if f.IsActive == nil {
						return "", false
					}
					return strconv.FormatBool(*f.IsActive), true
				}, func(v string) {
					f.IsActive = Bool(v == "true")
				}
		},
		account: func(a *Account) func() string { return func() string { return strconv.FormatBool(a.Active) } },
		applied: func(u *AppliedUser) (func() string, func(string)) {
			return func() string { return strconv.FormatBool(u.Active) }, func(v string) { u.Active = v == "true" }
		}},
	textField("owner", FieldMarker, func(f *Fields) **string { return &f.Owner }, nil, func(a *Account) *string { return &a.Owner }, nil),
	textField("source_id", FieldMarker, func(f *Fields) **string { return &f.SourceID }, func(u *User) *string { return &u.SourceID },
		func(a *Account) *string { return &a.SourceID }, func(u *AppliedUser) *string { return &u.SourceID }),
}

// UserFields returns the field table, in display order.
func UserFields() []UserField { return userFields }

// textField declares a string field from pointers to its members.
func textField(name string, kind FieldKind, fields func(*Fields) **string, user func(*User) *string, account func(*Account) *string, applied func(*AppliedUser) *string) UserField {
	uf := UserField{Name: name, Kind: kind, user: user,
		fields: func(f *Fields) (func() (string, bool), func(string)) {
			p := fields(f)
			return func() (string, bool) {
				if *p == nil {
					return "", false
				}
				return **p, true
			}, func(v string) { *p = Str(v) }
		},
		account: func(a *Account) func() string { p := account(a); return func() string { return *p } },
	}
	if applied != nil {
		uf.applied = func(u *AppliedUser) (func() string, func(string)) {
			p := applied(u)
			return func() string { return *p }, func(v string) { *p = v }
		}
	}
	return uf
}

// FieldValue is one set field of a Fields value.
type FieldValue struct {
	Field UserField
	Value string
}

// SetFields lists the fields f sets, in table order.
func SetFields(f *Fields) []FieldValue {
	var out []FieldValue
	for _, uf := range userFields {
		if v, ok := uf.Get(f); ok {
			out = append(out, FieldValue{uf, v})
		}
	}
	return out
}

// fieldNames lists the names of the fields f sets.
func fieldNames(f *Fields) []string {
	var out []string
	for _, x := range SetFields(f) {
		out = append(out, x.Field.Name)
	}
	return out
}
