package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// openldapTypes is a slice of what OpenLDAP's subschema lists (primary
// names first, operational attributes included).
var openldapTypes = types(
	"objectClass", "cn commonName", "sn surname", "givenName gn", "mail rfc822Mailbox",
	"uid userid", "displayName", "entryUUID", "memberOf", "pwdAccountLockedTime", "employeeNumber",
	"userCertificate", "l localityName", "o organizationName", "c countryName",
)

// types builds attribute types from space-separated name lists.
func types(lists ...string) []AttributeType {
	var out []AttributeType
	for _, l := range lists {
		out = append(out, AttributeType{Names: strings.Fields(l)})
	}
	return out
}

// allNames lists every name of ts.
func allNames(ts []AttributeType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Names...)
	}
	return out
}

// diagAt renders a diagnostic as "line:col: severity: summary: detail".
func diagAt(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	pos := "-"
	if d.Subject != nil {
		pos = fmt.Sprintf("%d:%d-%d", d.Subject.Start.Line, d.Subject.Start.Column, d.Subject.End.Column)
	}
	return fmt.Sprintf("%s: %s: %s: %s", pos, sev, d.Summary, d.Detail)
}

func diagsAt(diags hcl.Diagnostics) string {
	var out []string
	for _, d := range diags {
		out = append(out, diagAt(d))
	}
	return strings.Join(out, "\n")
}

// TestCheckAttributes: a misspelt attribute is an error at the reference
// (line:col of entry.NAME), with the schema's spelling as did-you-mean;
// known names pass in any case, with options and through entry_values and
// index syntax; an alias is refused with its primary name as the
// did-you-mean (the directory returns values under that name only); dn,
// id and numeric OIDs are not checked.
func TestCheckAttributes(t *testing.T) {
	m := mappingFrom(t, `  username   = lower(entry.uid)
  email      = lower(entry.mial)
  first_name = entry.givenNmae
  last_name  = coalesce(entry.SN, entry["sn;lang-de"], entry.dn, entry.id, entry.surname)
  full_name  = entry["2.5.4.3"]
  disabled   = entry.pwdAccountLockedTime != null
  groups     = concat(entry_values.memberOf, entry_values["memberOff"], [entry.xyzzy])`)
	diags := m.CheckAttributes(map[string][]AttributeType{"corp": openldapTypes})
	want := strings.Join([]string{
		`6:22-32: error: Unknown directory attribute: The directory's schema (source "corp") has no attribute "mial": no entry can have it. Did you mean "mail"?`,
		`7:16-31: error: Unknown directory attribute: The directory's schema (source "corp") has no attribute "givenNmae": no entry can have it. Did you mean "givenName"?`,
		`8:76-89: error: Attribute alias the directory does not return: In the directory's schema (source "corp") "surname" is an alias of "sn", and the directory returns the values under "sn" only, so "surname" would never be set. Did you mean "sn"?`,
		`11:46-71: error: Unknown directory attribute: The directory's schema (source "corp") has no attribute "memberOff": no entry can have it. Did you mean "memberOf"?`,
		`11:74-85: error: Unknown directory attribute: The directory's schema (source "corp") has no attribute "xyzzy": no entry can have it.`,
	}, "\n")
	if got := diagsAt(diags); got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	for _, d := range diags {
		if d.Context == nil || d.Context.Start.Line != d.Subject.Start.Line || d.Context.Start.Column > d.Subject.Start.Column {
			t.Errorf("%s: context %v does not hold the reference", diagAt(d), d.Context)
		}
	}
	if !strings.HasSuffix(diags[0].Subject.Filename, "ldapsync.hcl") {
		t.Errorf("filename %q", diags[0].Subject.Filename)
	}
}

// TestCheckAttributesSources: with several sources an attribute is refused
// only when no schema defines it; an unread schema turns the refusal into a
// warning; without any schema there is nothing to say.
func TestCheckAttributesSources(t *testing.T) {
	cfg := loadSrc(t, `
source "ldap" "ol" { url = "ldaps://x" }
source "ldap" "ad" { url = "ldaps://y" }
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  source   = [source.ldap.ol, source.ldap.ad]
  username = lower(coalesce(entry.uid, entry.sAMAccountName))
  email    = entry.mial
}
`)
	m := cfg.Mappings[0]
	ad := types("sAMAccountName", "mail", "userPrincipalName", "cn")
	both := map[string][]AttributeType{"ol": openldapTypes, "ad": ad}
	want := `8:14-24: error: Unknown directory attribute: The directories' schemas (sources "ol" and "ad") have no attribute "mial": no entry can have it. Did you mean "mail"?`
	if got := diagsAt(m.CheckAttributes(both)); got != want {
		t.Errorf("both schemas:\n%s\nwant:\n%s", got, want)
	}
	want = strings.Join([]string{
		`7:40-60: warning: Directory attribute not checked: The directory's schema (source "ol") has no attribute "sAMAccountName"; the schema of source "ad" could not be read, so the attribute is not refused.`,
		`8:14-24: warning: Directory attribute not checked: The directory's schema (source "ol") has no attribute "mial"; the schema of source "ad" could not be read, so the attribute is not refused. Did you mean "mail"?`,
	}, "\n")
	if got := diagsAt(m.CheckAttributes(map[string][]AttributeType{"ol": openldapTypes})); got != want {
		t.Errorf("one schema unread:\n%s\nwant:\n%s", got, want)
	}
	if got := m.CheckAttributes(nil); len(got) != 0 {
		t.Errorf("no schema: %s", diagsAt(got))
	}
	if got := m.CheckAttributes(map[string][]AttributeType{"other": ad}); len(got) != 0 {
		t.Errorf("schema of a source the mapping does not read: %s", diagsAt(got))
	}
}

// TestSuggestPrimary: a misspelt alias suggests the attribute's primary
// name, the one that reads values.
func TestSuggestPrimary(t *testing.T) {
	k := newSchemaIndex("corp", openldapTypes)
	for given, want := range map[string]string{"surnmae": "sn", "comonName": "cn", "givnName": "givenName", "gm": "givenName"} {
		if got := k.suggest(given); got != want {
			t.Errorf("suggest(%q) = %q, want %q", given, got, want)
		}
	}
}

func TestAttributeRefs(t *testing.T) {
	m := mappingFrom(t, `  email    = entry_values["mail"][0]
  username = lower(entry.uid)
  groups   = entry.dn`)
	var got []string
	for _, r := range m.AttributeRefs() {
		got = append(got, fmt.Sprintf("%s %s %d:%d", r.Field, r.Name, r.Range.Start.Line, r.Range.Start.Column))
	}
	want := "email mail 5:14|username uid 6:20"
	if strings.Join(got, "|") != want {
		t.Errorf("refs = %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestAttributeSuggestion(t *testing.T) {
	for _, tc := range []struct{ given, want string }{
		{"mial", "mail"},           // a transposition is one edit
		{"givenNmae", "givenName"}, // spelled as the schema spells it
		{"GIVENNAME", ""},          // the same name is no suggestion
		{"surnmae", "surname"},     //
		{"emplyeeNumbr", "employeeNumber"},
		{"sm", "sn"},
		{"xy", ""}, // two edits are too many for a short name
		{"mx", ""}, //
		{"zzzzzz", ""},
		{"2.5.4.4", ""}, // OIDs are never suggested, nor suggested for
	} {
		if got := AttributeSuggestion(tc.given, append(allNames(openldapTypes), "2.5.4.3")); got != tc.want {
			t.Errorf("AttributeSuggestion(%q) = %q, want %q", tc.given, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"mial", "mail", 1}, {"kitten", "sitting", 3},
		{"ca", "abc", 3}, {"givennmae", "givenname", 1}, {"abc", "abc", 0},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
