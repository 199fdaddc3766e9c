package engine

// Directory values: what the read pass accepts in the fields a mapping
// gives from the directory. A directory is written by many hands (HR
// imports, self-service portals, scripts), and whatever it holds reaches
// ftrack, terminals, CI logs and pull-request comments. The rules:
//
//   - Identifiers (username, email — every FieldAttribute of the field
//     table that is not a name, so a field added later is strict by
//     default) with a control character (C0, DEL, C1), a format character
//     (Unicode category Cf: zero-width space and joiners, word joiner,
//     byte-order mark, bidi controls …), another default-ignorable code
//     point (Hangul fillers, variation selectors, tags), a line or
//     paragraph separator, or a surrounding white-space or blank
//     character skip the entry. The reason names the code point and its
//     position (1-based, in characters, in the value as mapped), never
//     the value itself: "username contains U+200B ZERO WIDTH SPACE at
//     position 6". An invisible character in a username makes a second
//     account that looks like the first; there is no safe repair.
//   - Names (first_name, last_name) are cleaned, not skipped: a person
//     keeps their account when HR pasted a tab into their surname.
//     Control characters and line or paragraph separators are removed (a
//     run of them that contains a line break or tab becomes one space),
//     and so are the bidi embedding, override and isolate controls
//     (U+202A–U+202E, U+2066–U+2069), which reorder how the rest of the
//     line is displayed. Other format characters stay: ZWNJ and ZWJ are
//     part of correct spelling in Persian and Indic names, LRM and RLM in
//     mixed-direction ones. Each cleaned name is a warning naming the
//     entry, the field and what was removed.
//
// The mapping trims surrounding white space before this runs, so the
// surrounding-character rule mostly catches characters that are not
// white space but show as nothing (U+2800 BRAILLE PATTERN BLANK) and
// values from other mappers.

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// nameFields are the FieldAttribute fields that hold a person's name:
// free text, cleaned rather than skipped. Every other FieldAttribute is
// an identifier.
var nameFields = map[string]bool{"first_name": true, "last_name": true}

// checkWrittenSet applies the identifier and name rules to the fields a
// plan change writes (set, SetFields' of its after), so an edited plan
// cannot write what the read pass would have skipped or cleaned (apply
// -verify-source=false included).
func checkWrittenSet(set []FieldValue) error {
	for _, x := range set {
		if x.Field.Kind != FieldAttribute {
			continue
		}
		if err := checkUserType(x); err != nil {
			return err
		}
		if nameFields[x.Field.Name] {
			if clean, removed := cleanName(x.Value); len(removed) > 0 || clean != x.Value {
				return fmt.Errorf("%s holds %s, which the directory rules remove", x.Field.Name, describeRemoved(removed))
			}
			continue
		}
		if err := checkIdentifier(x.Field.Name, x.Value); err != nil {
			return err
		}
	}
	return nil
}

// checkDirectoryValues applies the rules above to a mapped user: it
// returns the reason to skip the entry, or cleans the names in place and
// adds a warning to v for each one it changed. Identifiers are checked
// first, so a skipped entry leaves no warning behind.
func checkDirectoryValues(u *User, dn string, v *view) error {
	for _, uf := range userFields {
		if uf.Kind != FieldAttribute || !uf.mapped() || nameFields[uf.Name] {
			continue
		}
		if err := checkIdentifier(uf.Name, *uf.user(u)); err != nil {
			return err
		}
	}
	// The join key is the lower-case username unless a mapper gives its
	// own; then it is an identifier too.
	if u.Key != "" && u.Key != strings.ToLower(u.Username) {
		if err := checkIdentifier("key", u.Key); err != nil {
			return err
		}
	}
	for _, uf := range userFields {
		if uf.Kind != FieldAttribute || !uf.mapped() || !nameFields[uf.Name] {
			continue
		}
		p := uf.user(u)
		clean, removed := cleanName(*p)
		if len(removed) > 0 {
			*p = clean
			v.warnings = append(v.warnings, fmt.Sprintf("%s: %s: removed %s", dn, uf.Name, describeRemoved(removed)))
		}
	}
	return nil
}

// checkIdentifier returns why value cannot be the identifier field, or
// nil.
func checkIdentifier(field, value string) error {
	if printableASCII(value) && (value == "" || (value[0] != ' ' && value[len(value)-1] != ' ')) {
		return nil // the common case, without a look at Unicode's tables
	}
	pos := 0
	for _, r := range value {
		pos++
		if invisibleOrControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s contains %s at position %d", field, codePointName(r), pos)
		}
	}
	if r, _ := utf8.DecodeRuneInString(value); value != "" && surrounding(r) {
		return fmt.Errorf("%s begins with %s", field, codePointName(r))
	}
	if r, _ := utf8.DecodeLastRuneInString(value); value != "" && surrounding(r) {
		return fmt.Errorf("%s ends with %s", field, codePointName(r))
	}
	return nil
}

// invisibleOrControl reports a control character (Cc: C0, DEL, C1) or a
// default-ignorable code point: every format character (Cf) and the
// other characters Unicode says render as nothing (Hangul fillers,
// combining grapheme joiner, variation selectors; tag characters are Cf).
func invisibleOrControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) ||
		blankSymbol(r)
}

// blankSymbol reports symbols that render as blank space though Unicode
// does not class them as space or format characters.
func blankSymbol(r rune) bool {
	switch r {
	case '\u2800', // BRAILLE PATTERN BLANK
		'\U0001D159',                                                                                                   // MUSICAL SYMBOL NULL NOTEHEAD
		'\U0001D173', '\U0001D174', '\U0001D175', '\U0001D176', '\U0001D177', '\U0001D178', '\U0001D179', '\U0001D17A': // musical formatting
		return true
	}
	return false
}

// printableASCII reports whether s holds only printable ASCII (space to
// tilde): no control, invisible or blank character can be in it.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f {
			return false
		}
	}
	return true
}

// surrounding reports a character that must not begin or end an
// identifier: white space, or a blank that is not white space.
func surrounding(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || r == '\u2800'
}

// removal is one character cleanName removed, at its 1-based position.
type removal struct {
	r   rune
	pos int
}

// bidiControl reports the explicit bidi embedding, override and isolate
// controls, which reorder the display of the text around them.
func bidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// nameRemoves reports a character cleanName removes from a name.
func nameRemoves(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || bidiControl(r)
}

// cleanName removes control characters, line and paragraph separators
// and bidi controls from a name. A run of removed characters that holds
// a line break or tab becomes one space (none next to a space already),
// so "Ada\r\nLovelace" is "Ada Lovelace"; the result is trimmed.
func cleanName(s string) (string, []removal) {
	if printableASCII(s) || !strings.ContainsFunc(s, nameRemoves) {
		return s, nil // nothing to remove: no copy
	}
	var removed []removal
	var b strings.Builder
	pos, spaceRun := 0, false
	for _, r := range s {
		pos++
		if nameRemoves(r) {
			removed = append(removed, removal{r, pos})
			spaceRun = spaceRun || unicode.IsSpace(r)
			continue
		}
		if spaceRun && !unicode.IsSpace(r) && !endsWithSpace(b.String()) {
			b.WriteByte(' ')
		}
		spaceRun = false
		b.WriteRune(r)
	}
	if len(removed) == 0 {
		return s, nil
	}
	return strings.TrimSpace(b.String()), removed
}

func endsWithSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s == "" || unicode.IsSpace(r)
}

// describeRemoved names what cleanName removed: the first three
// characters with their positions, then a count of the rest.
func describeRemoved(removed []removal) string {
	const shown = 3
	var parts []string
	for i, x := range removed {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(removed)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("%s at position %d", codePointName(x.r), x.pos))
	}
	return strings.Join(parts, ", ")
}

// codePointName names a code point for messages: "U+200B ZERO WIDTH
// SPACE", "U+001B ESCAPE". Control characters, which Unicode names only
// "<control>", get their formal name alias; a code point without a name
// (unassigned, private use) is its number alone.
func codePointName(r rune) string {
	name := controlNames[r]
	if name == "" {
		name = runenames.Name(r)
	}
	if name == "" || strings.HasPrefix(name, "<") {
		return fmt.Sprintf("%U", r)
	}
	return fmt.Sprintf("%U %s", r, name)
}

// controlNames are the formal name aliases of the control characters
// (Unicode NameAliases.txt).
var controlNames = map[rune]string{
	0x00: "NULL", 0x01: "START OF HEADING", 0x02: "START OF TEXT", 0x03: "END OF TEXT",
	0x04: "END OF TRANSMISSION", 0x05: "ENQUIRY", 0x06: "ACKNOWLEDGE", 0x07: "ALERT",
	0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION", 0x0A: "LINE FEED", 0x0B: "LINE TABULATION",
	0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x0E: "SHIFT OUT", 0x0F: "SHIFT IN",
	0x10: "DATA LINK ESCAPE", 0x11: "DEVICE CONTROL ONE", 0x12: "DEVICE CONTROL TWO", 0x13: "DEVICE CONTROL THREE",
	0x14: "DEVICE CONTROL FOUR", 0x15: "NEGATIVE ACKNOWLEDGE", 0x16: "SYNCHRONOUS IDLE", 0x17: "END OF TRANSMISSION BLOCK",
	0x18: "CANCEL", 0x19: "END OF MEDIUM", 0x1A: "SUBSTITUTE", 0x1B: "ESCAPE",
	0x1C: "INFORMATION SEPARATOR FOUR", 0x1D: "INFORMATION SEPARATOR THREE", 0x1E: "INFORMATION SEPARATOR TWO", 0x1F: "INFORMATION SEPARATOR ONE",
	0x7F: "DELETE",
	0x80: "PADDING CHARACTER", 0x81: "HIGH OCTET PRESET", 0x82: "BREAK PERMITTED HERE", 0x83: "NO BREAK HERE",
	0x84: "INDEX", 0x85: "NEXT LINE", 0x86: "START OF SELECTED AREA", 0x87: "END OF SELECTED AREA",
	0x88: "CHARACTER TABULATION SET", 0x89: "CHARACTER TABULATION WITH JUSTIFICATION", 0x8A: "LINE TABULATION SET", 0x8B: "PARTIAL LINE FORWARD",
	0x8C: "PARTIAL LINE BACKWARD", 0x8D: "REVERSE LINE FEED", 0x8E: "SINGLE SHIFT TWO", 0x8F: "SINGLE SHIFT THREE",
	0x90: "DEVICE CONTROL STRING", 0x91: "PRIVATE USE ONE", 0x92: "PRIVATE USE TWO", 0x93: "SET TRANSMIT STATE",
	0x94: "CANCEL CHARACTER", 0x95: "MESSAGE WAITING", 0x96: "START OF GUARDED AREA", 0x97: "END OF GUARDED AREA",
	0x98: "START OF STRING", 0x99: "SINGLE GRAPHIC CHARACTER INTRODUCER", 0x9A: "SINGLE CHARACTER INTRODUCER", 0x9B: "CONTROL SEQUENCE INTRODUCER",
	0x9C: "STRING TERMINATOR", 0x9D: "OPERATING SYSTEM COMMAND", 0x9E: "PRIVACY MESSAGE", 0x9F: "APPLICATION PROGRAM COMMAND",
}

// lookalikeFold is the form two usernames share when they look the same:
// control and default-ignorable characters removed, then NFKC
// (compatibility forms folded: fullwidth "ａｄｍｉｎ" is "admin") and
// lower case. It does not fold confusables across scripts (Cyrillic "а"
// stays itself): that needs the Unicode confusables table, which the
// project does not carry.
func lookalikeFold(s string) string {
	if isPlainASCII(s) {
		return strings.ToLower(strings.TrimSpace(s))
	}
	s = strings.Map(func(r rune) rune {
		if invisibleOrControl(r) {
			return -1
		}
		return r
	}, s)
	// lower case after NFKC can leave a denormalized string; fold again
	s = norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
	return strings.TrimSpace(s)
}

// isPlainASCII reports printable ASCII only: the fold is then lower case.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// MappedUserTypes are the ftrack user types a mapping may give
// (user_type): the kinds of accounts people sign in with. service and
// demo accounts are hands-off (handsoff.go), so no plan makes one.
var MappedUserTypes = []string{"ftrack", "ldap"}

// checkUserType refuses a user_type other than MappedUserTypes.
func checkUserType(x FieldValue) error {
	if x.Field.id != fUserType || slices.Contains(MappedUserTypes, x.Value) {
		return nil
	}
	return fmt.Errorf("user_type %q is not one ldapsync writes (%s)", x.Value, strings.Join(MappedUserTypes, ", "))
}
