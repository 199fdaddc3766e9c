package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
	"github.com/ldapsync/ldapsync/providers/registry"
)

// hasName reports whether names holds name, spelled exactly so.
func hasName(names []string, name string) bool { return slices.Contains(names, name) }

// hasNameFold reports whether names holds name in any case.
func hasNameFold(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}

// TestAttributeNamesSlapd reads a real slapd's subschema subentry as the
// sync account, over ldaps:// with the test CA: every name and alias
// (cn/commonName, sn/surname, mail/rfc822Mailbox, uid/userid), the
// operational attributes the presets read (entryUUID, memberOf from the
// memberof overlay, pwdAccountLockedTime from ppolicy), spelled as the
// schema spells them, once each and sorted without case; names the schema
// does not define are absent.
func TestAttributeNamesSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	set := syncSettings(s)
	set.URL, set.CACertFile, set.InsecureAllowPlaintext = s.LDAPSURL, s.CACertFile, false
	names, err := newSource(t, set).AttributeNames(context.Background())
	if err != nil {
		t.Fatalf("AttributeNames: %v", err)
	}
	for _, n := range []string{
		"cn", "commonName", "sn", "surname", "givenName", "gn", "mail", "rfc822Mailbox", "uid", "userid",
		"displayName", "objectClass", "entryUUID", "memberOf", "member", "pwdAccountLockedTime", "createTimestamp",
		"subschemaSubentry",
	} {
		if !hasName(names, n) {
			t.Errorf("%s is not among the %d names", n, len(names))
		}
	}
	for _, n := range []string{"givenNmae", "mial", "nsAccountLock", "objectGUID", "sAMAccountName"} {
		if hasNameFold(names, n) {
			t.Errorf("%s is among the names", n)
		}
	}
	types, err := newSource(t, set).AttributeTypes(context.Background())
	if err != nil {
		t.Fatalf("AttributeTypes: %v", err)
	}
	primary := map[string]string{}
	for _, at := range types {
		for _, n := range at.Names {
			primary[n] = at.Names[0]
		}
	}
	for alias, want := range map[string]string{"commonName": "cn", "cn": "cn", "surname": "sn", "gn": "givenName", "rfc822Mailbox": "mail", "userid": "uid", "entryUUID": "entryUUID"} {
		if primary[alias] != want {
			t.Errorf("primary name of %s = %q, want %q", alias, primary[alias], want)
		}
	}
	seen := map[string]bool{}
	for i, n := range names {
		l := strings.ToLower(n)
		if seen[l] {
			t.Errorf("%s listed twice", n)
		}
		seen[l] = true
		if i > 0 && strings.ToLower(names[i-1]) > l {
			t.Errorf("not sorted: %s before %s", names[i-1], n)
		}
	}
}

// TestAttributeNamesTestSchema: a schema loaded into cn=config (the
// 389-ds/FreeIPA attributes of the test schema) is seen.
func TestAttributeNamesTestSchema(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithTestSchema(), ldaptest.WithoutTLS())
	names, err := newSource(t, syncSettings(s)).AttributeNames(context.Background())
	if err != nil {
		t.Fatalf("AttributeNames: %v", err)
	}
	for _, n := range []string{"nsAccountLock", "nsUniqueId", "ipaUniqueID", "ldapsyncRawName"} {
		if !hasName(names, n) {
			t.Errorf("%s is not among the names", n)
		}
	}
}

// TestAttributeNamesErrors: a directory that cannot be reached or bound
// to is an error, not an unreadable schema.
func TestAttributeNamesErrors(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithoutTLS())
	set := syncSettings(s)
	set.BindPassword = "wrong"
	_, err := newSource(t, set).AttributeNames(context.Background())
	if err == nil || errors.Is(err, ldap.ErrSchemaUnavailable) || !strings.Contains(err.Error(), "bind as") {
		t.Errorf("wrong password: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newSource(t, syncSettings(s)).AttributeNames(ctx); err == nil || errors.Is(err, ldap.ErrSchemaUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
}

const memBase = `dn: dc=example,dc=com
objectClass: domain
dc: example

dn: ou=users,dc=example,dc=com
objectClass: organizationalUnit
ou: users
`

// startMemDir serves ldif from a MemDirectory (which has no subschema
// subentry of its own) and returns settings that read it.
func startMemDir(t *testing.T, ldif string, opts ...ldaptest.MemOption) ldap.Settings {
	t.Helper()
	_, url := ldaptest.StartMem(t, ldif, opts...)
	return ldap.Settings{URL: url, BaseDN: "ou=users,dc=example,dc=com"}
}

// TestAttributeNamesUnavailable: a directory that names no subschema
// subentry, or hides it, has an unreadable schema (ErrSchemaUnavailable,
// with the reason), and the registry's check then warns instead of
// refusing anything.
func TestAttributeNamesUnavailable(t *testing.T) {
	for name, tc := range map[string]struct{ ldif, reason string }{
		"no subschemaSubentry": {memBase, "neither the RootDSE nor the base DN names a subschemaSubentry"},
		"hidden subentry": {
			strings.Replace(memBase, "ou: users\n", "ou: users\nsubschemaSubentry: cn=Subschema\n", 1),
			`reading "cn=Subschema": the server answered "No Such Object" (result code 32)`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			set := startMemDir(t, tc.ldif)
			_, err := newSource(t, set).AttributeNames(context.Background())
			if !errors.Is(err, ldap.ErrSchemaUnavailable) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want ErrSchemaUnavailable with %q", err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), `source "corp": the directory's schema could not be read: `) {
				t.Errorf("message %q", err)
			}
		})
	}
}

// subschemaLDIF is a subschema subentry with n attribute types named
// attrN (alias aN), plus the given definitions.
func subschemaLDIF(n int, defs ...string) string {
	var b strings.Builder
	b.WriteString("dn: cn=Subschema\nobjectClass: top\nobjectClass: subschema\ncn: Subschema\n")
	for i := range n {
		fmt.Fprintf(&b, "attributeTypes: ( 1.3.6.1.4.1.99999.1.%d NAME ( 'attr%d' 'a%d' ) SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )\n", i, i, i)
	}
	for _, d := range defs {
		b.WriteString("attributeTypes: " + d + "\n")
	}
	return b.String() + "\n"
}

// TestAttributeNamesFromBaseEntry: without a subschemaSubentry in the
// RootDSE, the base entry's names the subentry (RFC 4512 §4.2); in Active
// Directory mode a long attributeTypes list comes back in ranges, which
// are read to the end.
func TestAttributeNamesFromBaseEntry(t *testing.T) {
	base := strings.Replace(memBase, "ou: users\n", "ou: users\nsubschemaSubentry: cn=Subschema\n", 1) + "\n"
	for name, opts := range map[string][]ldaptest.MemOption{
		"plain":           nil,
		"ranged (AD, 10)": {ldaptest.WithActiveDirectory(10)},
	} {
		t.Run(name, func(t *testing.T) {
			set := startMemDir(t, base+subschemaLDIF(25, "( 2.5.4.42 NAME ( 'givenName' 'gn' ) SUP name )"), opts...)
			names, err := newSource(t, set).AttributeNames(context.Background())
			if err != nil {
				t.Fatalf("AttributeNames: %v", err)
			}
			if len(names) != 52 || !hasName(names, "attr0") || !hasName(names, "a24") || !hasName(names, "givenName") || !hasName(names, "gn") {
				t.Errorf("%d names: %v", len(names), names)
			}
		})
	}
}

// TestParseAttributeTypes parses attributeTypes values the way OpenLDAP,
// 389-ds and Active Directory write them.
func TestParseAttributeTypes(t *testing.T) {
	types, err := ldap.ParseAttributeTypes([]string{
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
		"( 2.5.4.4 NAME ( 'sn' 'surname' ) DESC 'RFC2256: last (family) name(s) for which the entity is known by' SUP name )",
		"( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
		"( 1.3.6.1.1.16.4 NAME 'entryUUID' DESC 'UUID of the entry' EQUALITY UUIDMatch ORDERING UUIDOrderingMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )", // AD quotes the syntax
		"( 2.16.840.1.113730.3.1.1 NAME 'carLicense' DESC 'vehicle license or registration plate' X-ORIGIN ( 'RFC 2798' 'user defined' ) )",
		"( 1.2.3.8 DESC 'a NAME ( decoy ) in a description' NAME 'realName' )",
		"(1.2.3.4 NAME('tight''Packed')SUP name)",
		"( 1.2.3.5 DESC 'known by its OID only' )",
		"( 1.2.3.6 NAME 'it\\27s' )",
		"( 1.2.3.7 NAME 'CN' )", // a duplicate in another case
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, at := range types {
		got = append(got, strings.Join(at.Names, "+"))
	}
	// Sorted by primary name, aliases after it; a duplicate in another
	// case stays (ldap.AttributeNames drops it).
	want := []string{"carLicense", "cn+commonName", "CN", "entryUUID", "it's", "mail+rfc822Mailbox", "realName", "sAMAccountName", "sn+surname", "tight+Packed"}
	if !slices.Equal(got, want) {
		t.Errorf("types = %q\nwant    %q", got, want)
	}
	for _, bad := range []string{
		"2.5.4.3 NAME 'cn'",       // no parentheses
		"( 'cn' NAME 'x' )",       // no OID
		"( 2.5.4.3 NAME )",        // NAME without a value
		"( 2.5.4.3 NAME ( ) )",    // an empty list
		"( 2.5.4.3 NAME ( 'cn' )", // unterminated list
		"( 2.5.4.3 NAME 'cn )",    // unterminated string
		"( 2.5.4.3 NAME cn )",     // a bare word
		"( 2.5.4.3 NAME ( cn ) )", // a bare word in the list
	} {
		if types, err := ldap.ParseAttributeTypes([]string{bad}); err == nil {
			t.Errorf("%q parsed as %v", bad, types)
		}
	}
}

// TestCheckAttributesAgainstSlapd: the registry reads the schema of the
// mapping's source and refuses the misspelt attributes at their
// references, with a did-you-mean, and an alias that reads nothing
// (OpenLDAP returns surname's values as sn), while operational attributes
// (pwdAccountLockedTime, memberOf, entryUUID) and any case pass.
func TestCheckAttributesAgainstSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithoutTLS())
	hcl := fmt.Sprintf(`source "ldap" "corp" {
  url                      = %q
  bind_dn                  = %q
  bind_password            = %q
  base_dn                  = %q
  insecure_allow_plaintext = true
}
target "ftrack" "studio" {
  server_url = "http://127.0.0.1:1"
  api_user   = "api"
  api_key    = "k"
}
mapping "users" {
  username   = lower(entry.UID)
  email      = lower(entry.mial)
  first_name = entry.givenNmae
  last_name  = entry.surname
  full_name  = "${entry.CN} ${entry.entryUUID}"
  disabled   = entry.pwdAccountLockedTime != null
  groups     = entry_values.memberOf
}
`, s.URL, s.SyncDN, s.SyncPassword, ldaptest.UsersDN)
	_, p := loadProviders(t, hcl)
	diags, warnings, err := registry.CheckAttributes(context.Background(), p.Sources, p.Mapping)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%s:%d:%d: %s", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column, d.Detail))
	}
	want := []string{
		`ldapsync.hcl:15:22: The directory's schema (source "corp") has no attribute "mial": no entry can have it. Did you mean "mail"?`,
		`ldapsync.hcl:16:16: The directory's schema (source "corp") has no attribute "givenNmae": no entry can have it. Did you mean "givenName"?`,
		`ldapsync.hcl:17:16: In the directory's schema (source "corp") "surname" is an alias of "sn", and the directory returns the values under "sn" only, so "surname" would never be set. Did you mean "sn"?`,
	}
	if !slices.Equal(got, want) || !diags.HasErrors() {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckAttributesUnreadableSchema: an unreadable schema is a warning
// naming the source; nothing is refused.
func TestCheckAttributesUnreadableSchema(t *testing.T) {
	set := startMemDir(t, memBase)
	_, p := loadProviders(t, fmt.Sprintf(`source "ldap" "corp" {
  url     = %q
  base_dn = %q
}
target "ftrack" "studio" {
  server_url = "http://127.0.0.1:1"
  api_user   = "api"
  api_key    = "k"
}
mapping "users" {
  username = entry.uid
  email    = entry.mial
}
`, set.URL, set.BaseDN))
	diags, warnings, err := registry.CheckAttributes(context.Background(), p.Sources, p.Mapping)
	if err != nil || len(diags) != 0 {
		t.Fatalf("err %v, diags %v", err, diags)
	}
	want := `source "corp": the directory's schema could not be read: neither the RootDSE nor the base DN names a subschemaSubentry; the attributes mapping "users" reads are not checked against it`
	if len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings = %q\nwant %q", warnings, want)
	}
}
