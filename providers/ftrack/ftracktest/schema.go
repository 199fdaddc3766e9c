package ftracktest

import (
	"bytes"
	"crypto/md5"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf16"
)

// schemasJSON is the query_schemas answer the emulator serves. It is written
// for this package (a subset of the attributes the real server publishes for
// the user-related types) and kept consistent with the recorded real schemas
// by the conformance test.
//
//go:embed schemas.json
var schemasJSON []byte

// DefaultUserTypeID is the user_type_id the server fills in when a User is
// created without one (value seen in the recorded create_user response;
// its name there is UNCONFIRMED). The emulator seeds it as the UserType
// "ftrack", so UserTypeID("ftrack") returns it.
const DefaultUserTypeID = "ac9fa5aa-4361-11e0-b7cc-0019bb4983d8"

// property is one attribute of an entity schema.
type property struct {
	Type     string // string, boolean, integer, number, object, array, mapped_array, variable, ""
	Format   string // foreign_key, date-time, date
	Ref      string // scalar relation target
	ItemsRef string // collection relation target
	Default  any
}

func (p property) isRelation() bool { return p.Ref != "" || p.ItemsRef != "" }

// schema is the parsed form of one entity schema.
type schema struct {
	ID                 string
	PrimaryKey         []string
	Required           []string
	Immutable          []string
	Computed           []string
	DefaultProjections []string
	SystemProjections  []string
	Properties         map[string]property
	Abstract           bool // polymorphic base type (Resource): queryable, not creatable

	// Facts derived from the above (and from relations and
	// serverDefaults) once, as every create needs them.
	defaults []attrDefault // what create fills in for attributes left out
	refs     []relation    // scalar relations, in relationNames order
}

// attrDefault is a value create gives an attribute the caller left out:
// a schema default (a new UUID for "{uid}") or a serverDefaults value.
type attrDefault struct {
	name  string
	value any
	uid   bool
}

// deriveFacts fills in s.defaults and s.refs. Schema defaults come
// before server defaults, which apply only to attributes the schema
// gives none, as create applied them one after the other.
func (s *schema) deriveFacts() {
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		if d := s.Properties[name].Default; d != nil {
			s.defaults = append(s.defaults, attrDefault{name: name, value: d, uid: d == "{uid}"})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(serverDefaults[s.ID])) {
		if s.Properties[name].Default == nil {
			s.defaults = append(s.defaults, attrDefault{name: name, value: serverDefaults[s.ID][name]})
		}
	}
	for _, n := range relationNames()[s.ID] {
		if rel := relations[s.ID][n]; !rel.Many {
			s.refs = append(s.refs, rel)
		}
	}
}

func (s *schema) has(list []string, name string) bool {
	for _, v := range list {
		if v == name {
			return true
		}
	}
	return false
}

// relation describes how a relation attribute is resolved: rows of Target
// whose Remote attribute equals this row's Local attribute.
type relation struct {
	Target   string
	Many     bool
	Local    string
	Remote   string
	OnDelete string // "cascade" (delete related rows), "restrict" (refuse if any) or "" (scalar)
}

// relations lists the relation attributes the emulator can traverse. Every
// relation property in schemas.json must appear here (checked by a test).
var relations = map[string]map[string]relation{
	"User": {
		"user_type":           {Target: "UserType", Local: "user_type_id", Remote: "id"},
		"memberships":         {Target: "Membership", Many: true, Local: "id", Remote: "user_id", OnDelete: "cascade"},
		"user_security_roles": {Target: "UserSecurityRole", Many: true, Local: "id", Remote: "user_id", OnDelete: "cascade"},
		"metadata":            {Target: "Metadata", Many: true, Local: "id", Remote: "parent_id", OnDelete: "cascade"},
		"custom_attributes":   {Target: "UserCustomAttributeValue", Many: true, Local: "id", Remote: "entity_id", OnDelete: "cascade"},
	},
	"Group": {
		"parent":      {Target: "Group", Local: "parent_id", Remote: "id"},
		"children":    {Target: "Group", Many: true, Local: "id", Remote: "parent_id", OnDelete: "restrict"},
		"memberships": {Target: "Membership", Many: true, Local: "id", Remote: "group_id", OnDelete: "cascade"},
	},
	"Membership": {
		"user":  {Target: "User", Local: "user_id", Remote: "id"},
		"group": {Target: "Group", Local: "group_id", Remote: "id"},
	},
	"SecurityRole": {
		"user_security_roles": {Target: "UserSecurityRole", Many: true, Local: "id", Remote: "security_role_id", OnDelete: "cascade"},
	},
	"UserSecurityRole": {
		"user":                        {Target: "User", Local: "user_id", Remote: "id"},
		"security_role":               {Target: "SecurityRole", Local: "security_role_id", Remote: "id"},
		"user_security_role_projects": {Target: "UserSecurityRoleProject", Many: true, Local: "id", Remote: "user_security_role_id", OnDelete: "cascade"},
	},
	"Project": {
		"user_security_role_projects": {Target: "UserSecurityRoleProject", Many: true, Local: "id", Remote: "project_id", OnDelete: "cascade"},
	},
	"UserSecurityRoleProject": {
		"user_security_role": {Target: "UserSecurityRole", Local: "user_security_role_id", Remote: "id"},
		"project":            {Target: "Project", Local: "project_id", Remote: "id"},
	},
	"CustomAttributeConfiguration": {
		"type": {Target: "CustomAttributeType", Local: "type_id", Remote: "id"},
	},
	"UserCustomAttributeValue": {
		"configuration": {Target: "CustomAttributeConfiguration", Local: "configuration_id", Remote: "id"},
	},
}

// subtypes maps an abstract (polymorphic) type to its concrete types.
var subtypes = map[string][]string{"Resource": {"User", "Group"}}

// serverDefaults are values the server fills in on create when the caller
// leaves the attribute out (beyond the schema "default" values).
var serverDefaults = map[string]map[string]any{
	"User": {
		"is_active":              false,
		"is_otp_enabled":         false,
		"is_totp_enabled":        false,
		"require_details_update": false,
		"user_type_id":           DefaultUserTypeID,
	},
	"Group":            {"local": false},
	"UserSecurityRole": {"is_all_open_projects": false},
	// UNCONFIRMED: what a real server fills in for a Project created
	// without them; the emulator serves no ProjectSchema, so the schema id
	// is a fixed placeholder.
	"Project": {"status": "active", "context_type": "show", "project_schema_id": projectSchemaID},
	// config is required by the schema; a configuration seeded without one
	// gets an empty JSON object (UNCONFIRMED).
	"CustomAttributeConfiguration": {"config": "{}"},
}

// uniqueConstraints lists attribute sets that must be unique per type;
// fold means compared case-insensitively.
type uniqueConstraint struct {
	Type  string
	Attrs []string
	Fold  bool
}

var uniqueConstraints = []uniqueConstraint{
	{Type: "User", Attrs: []string{"username"}, Fold: true},
	{Type: "Membership", Attrs: []string{"user_id", "group_id"}},
	{Type: "UserSecurityRole", Attrs: []string{"user_id", "security_role_id"}},
	{Type: "UserSecurityRoleProject", Attrs: []string{"user_security_role_id", "project_id"}},
	// "Attribute name unique to entity type" (the schema's description).
	{Type: "CustomAttributeConfiguration", Attrs: []string{"entity_type", "key"}},
}

// schemaSet is the parsed, immutable schema catalogue plus its wire forms.
type schemaSet struct {
	byType map[string]*schema
	order  []string // types in served order
	// keyTypes lists, in served order, the types with a single-column
	// primary key: the only ones a one-value key can name (typeOfKey).
	keyTypes []string
	raw      []any  // decoded schemas.json, served by query_schemas
	hash     string // md5 of the Python-style sorted-key serialisation
}

func loadSchemas() (*schemaSet, error) {
	var raw []any
	if err := json.Unmarshal(schemasJSON, &raw); err != nil {
		return nil, fmt.Errorf("schemas.json: %w", err)
	}
	set := &schemaSet{byType: map[string]*schema{}, raw: raw}
	for _, r := range raw {
		m := r.(map[string]any)
		s := &schema{
			ID:                 m["id"].(string),
			PrimaryKey:         stringList(m["primary_key"]),
			Required:           stringList(m["required"]),
			Immutable:          stringList(m["immutable"]),
			Computed:           stringList(m["computed"]),
			DefaultProjections: stringList(m["default_projections"]),
			SystemProjections:  stringList(m["system_projections"]),
			Properties:         map[string]property{},
		}
		_, s.Abstract = subtypes[s.ID]
		for name, pv := range m["properties"].(map[string]any) {
			pm := pv.(map[string]any)
			p := property{Default: pm["default"]}
			p.Type, _ = pm["type"].(string)
			p.Format, _ = pm["format"].(string)
			p.Ref, _ = pm["$ref"].(string)
			if items, ok := pm["items"].(map[string]any); ok {
				p.ItemsRef, _ = items["$ref"].(string)
			}
			s.Properties[name] = p
		}
		s.deriveFacts()
		set.byType[s.ID] = s
		set.order = append(set.order, s.ID)
		if len(s.PrimaryKey) == 1 {
			set.keyTypes = append(set.keyTypes, s.ID)
		}
	}
	sum := md5.Sum([]byte(pythonJSON(raw)))
	set.hash = hex.EncodeToString(sum[:])
	return set, nil
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// pythonJSON serialises decoded JSON exactly like Python's
// json.dumps(v, sort_keys=True): ", " and ": " separators, sorted keys and
// non-ASCII escaped as \uXXXX. ftrack's schema_hash is the MD5 of that text
// (the Python client recomputes it to decide whether to re-fetch schemas).
func pythonJSON(v any) string {
	var b bytes.Buffer
	writePython(&b, v)
	return b.String()
}

func writePython(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			b.WriteString(strconv.FormatInt(int64(t), 10))
		} else {
			b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
		}
	case json.Number:
		b.WriteString(t.String())
	case string:
		b.WriteByte('"')
		for _, r := range t {
			switch {
			case r == '"':
				b.WriteString(`\"`)
			case r == '\\':
				b.WriteString(`\\`)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\t':
				b.WriteString(`\t`)
			case r == '\b':
				b.WriteString(`\b`)
			case r == '\f':
				b.WriteString(`\f`)
			case r < 0x20 || (r >= 0x7f && r <= 0xffff):
				fmt.Fprintf(b, `\u%04x`, r)
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writePython(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePython(b, k)
			b.WriteString(": ")
			writePython(b, t[k])
		}
		b.WriteByte('}')
	default:
		data, _ := json.Marshal(t)
		b.Write(data)
	}
}
