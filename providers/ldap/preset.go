package ldap

// Schema presets. Each directory product marks disabled accounts and stable
// ids differently (see the table in ldap-notes §3 and §6):
//
//   - OpenLDAP + ppolicy: pwdAccountLockedTime present (operational).
//   - Active Directory: userAccountControl bit 0x2 (ACCOUNTDISABLE), tested
//     on the client so "disabled" and "gone" stay distinguishable, or
//     accountExpires (a FILETIME, 100 ns ticks since 1601) in the past; 0 and
//     0x7FFFFFFFFFFFFFFF mean never.
//   - 389-ds / FreeIPA: nsAccountLock = true, case-insensitive (operational).
//
// objectGUID travels as 16 raw bytes whose first three fields are
// little-endian (Microsoft GUID layout); the canonical text form swaps them
// back, so b7e88c87-1327-a941-… on the wire displays as 878ce8b7-2713-41a9-….

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultSchema is the preset used when a source names none.
const DefaultSchema = "openldap"

// Preset is the set of defaults one directory product needs.
type Preset struct {
	// Name is the schema name as written in the configuration.
	Name string
	// Filter is the default search filter for user entries.
	Filter string
	// IDAttribute is the stable identifier attribute.
	IDAttribute string
	// DisabledAttributes are the attributes the disabled rule reads; they
	// are always requested (several are operational).
	DisabledAttributes []string
	// DisabledRule describes the disabled rule for humans.
	DisabledRule string

	disabled func(get func(string) []string, now time.Time) (bool, string)
}

// Presets holds every schema preset by name.
var Presets = map[string]Preset{
	"openldap": {
		Name:               "openldap",
		Filter:             "(objectClass=inetOrgPerson)",
		IDAttribute:        "entryUUID",
		DisabledAttributes: []string{"pwdAccountLockedTime"},
		DisabledRule:       "pwdAccountLockedTime is set (ppolicy lock)",
		disabled:           ppolicyDisabled,
	},
	"active_directory": {
		Name:               "active_directory",
		Filter:             "(&(objectCategory=person)(objectClass=user))",
		IDAttribute:        "objectGUID",
		DisabledAttributes: []string{"userAccountControl", "accountExpires"},
		DisabledRule:       "userAccountControl has ACCOUNTDISABLE (0x2), or accountExpires is in the past",
		disabled:           adDisabled,
	},
	"389ds": {
		Name:               "389ds",
		Filter:             "(objectClass=inetOrgPerson)",
		IDAttribute:        "nsUniqueId",
		DisabledAttributes: []string{"nsAccountLock"},
		DisabledRule:       "nsAccountLock is true",
		disabled:           nsAccountLockDisabled,
	},
	"freeipa": {
		Name:               "freeipa",
		Filter:             "(objectClass=posixAccount)",
		IDAttribute:        "ipaUniqueID",
		DisabledAttributes: []string{"nsAccountLock"},
		DisabledRule:       "nsAccountLock is true",
		disabled:           nsAccountLockDisabled,
	},
}

// PresetNames returns the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PresetFor returns the preset called name; an empty name means
// DefaultSchema.
func PresetFor(name string) (Preset, bool) {
	if name == "" {
		name = DefaultSchema
	}
	p, ok := Presets[name]
	return p, ok
}

// Disabled applies the preset's disabled rule to an entry's attributes
// (names matched without case) at time now. It returns the verdict and, when
// disabled, the reason.
func (p Preset) Disabled(attrs map[string][]string, now time.Time) (bool, string) {
	if p.disabled == nil {
		return false, ""
	}
	return p.disabled(func(name string) []string {
		if v, ok := attrs[name]; ok {
			return v
		}
		for k, v := range attrs {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return nil
	}, now)
}

func ppolicyDisabled(get func(string) []string, _ time.Time) (bool, string) {
	if v := get("pwdAccountLockedTime"); len(v) > 0 {
		return true, "pwdAccountLockedTime is set"
	}
	return false, ""
}

func nsAccountLockDisabled(get func(string) []string, _ time.Time) (bool, string) {
	for _, v := range get("nsAccountLock") {
		if strings.EqualFold(strings.TrimSpace(v), "true") {
			return true, "nsAccountLock is true"
		}
	}
	return false, ""
}

// accountDisable is the ACCOUNTDISABLE bit of userAccountControl.
const accountDisable = 0x2

func adDisabled(get func(string) []string, now time.Time) (bool, string) {
	if v := get("userAccountControl"); len(v) > 0 {
		uac, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
		if err == nil && uac&accountDisable != 0 {
			return true, "userAccountControl has ACCOUNTDISABLE (0x2)"
		}
	}
	if v := get("accountExpires"); len(v) > 0 {
		if t, ok := FileTime(v[0]); ok && !t.After(now) {
			return true, "accountExpires is in the past (" + t.UTC().Format(time.RFC3339) + ")"
		}
	}
	return false, ""
}

// fileTimeEpochOffset is the number of 100 ns ticks from 1601-01-01 to
// 1970-01-01.
const fileTimeEpochOffset = 116444736000000000

// FileTime converts an Active Directory FILETIME value (decimal 100 ns ticks
// since 1601-01-01 UTC) to a time. ok is false for "never" (0 and
// 0x7FFFFFFFFFFFFFFF) and for values that do not parse.
func FileTime(v string) (t time.Time, ok bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 || n == math.MaxInt64 {
		return time.Time{}, false
	}
	ticks := n - fileTimeEpochOffset
	return time.Unix(ticks/10_000_000, (ticks%10_000_000)*100).UTC(), true
}

// FormatGUID renders a 16-byte Active Directory objectGUID in the canonical
// Microsoft text form (first three fields byte-swapped). ok is false when b
// is not 16 bytes long.
func FormatGUID(b []byte) (string, bool) {
	if len(b) != 16 {
		return "", false
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), true
}

// FormatSID renders a binary Windows security identifier (objectSid) as
// S-1-5-21-…; ok is false when b is not a well-formed SID.
func FormatSID(b []byte) (string, bool) {
	if len(b) < 8 || b[0] != 1 {
		return "", false
	}
	n := int(b[1])
	if len(b) != 8+4*n {
		return "", false
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String(), true
}

// binaryAttrs are attributes whose values are binary by definition; their
// values are rendered as hex when they are not valid UTF-8.
var binaryAttrs = map[string]bool{
	"jpegphoto": true, "photo": true, "thumbnailphoto": true, "audio": true,
	"usercertificate": true, "cacertificate": true, "usersmimecertificate": true, "userpkcs12": true,
	"objectguid": true, "objectsid": true, "sidhistory": true, "msexchmailboxguid": true,
}

// valueKind says how textValue renders an attribute's values; it depends
// on the attribute name only, so a reader can work it out once per name.
type valueKind uint8

const (
	kindText   valueKind = iota // as is
	kindGUID                    // objectGUID: canonical GUID text, else as binary
	kindSID                     // objectSid: S-1-..., else as binary
	kindBinary                  // hex unless valid UTF-8
)

// kindOf returns the value kind of attribute attr.
func kindOf(attr string) valueKind {
	switch {
	case strings.EqualFold(attr, "objectGUID"):
		return kindGUID
	case strings.EqualFold(attr, "objectSid"):
		return kindSID
	}
	l := strings.ToLower(attr)
	if binaryAttrs[l] || strings.HasSuffix(l, ";binary") {
		return kindBinary
	}
	return kindText
}

// formatValue renders raw as kind k requires. It returns false when the
// text is raw itself, so the caller can copy the bytes where it likes.
func formatValue(k valueKind, raw []byte) (string, bool) {
	switch k {
	case kindText:
		return "", false
	case kindGUID:
		if s, ok := FormatGUID(raw); ok {
			return s, true
		}
	case kindSID:
		if s, ok := FormatSID(raw); ok {
			return s, true
		}
	}
	if utf8.Valid(raw) {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// textValue renders an attribute value as text: objectGUID and objectSid in
// their canonical forms, binary attributes as hex when they are not valid
// UTF-8, and every other value as is. A text attribute holding invalid
// UTF-8 is passed on unchanged, so that the mapping reports the entry as
// skipped ("not valid UTF-8") instead of mapping a hex string as a name.
func textValue(attr string, raw []byte) string {
	if s, ok := formatValue(kindOf(attr), raw); ok {
		return s
	}
	return string(raw)
}
