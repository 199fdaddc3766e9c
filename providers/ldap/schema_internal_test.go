package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// The Active Directory schema container path, against the in-process
// directory in AD mode. That directory's RootDSE names no
// schemaNamingContext, so the container is read here directly, as
// AttributeTypes does once the RootDSE names it.

const adSchemaNC = "CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com"

func adSchemaLDIF(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: DC=corp,DC=example,DC=com\nobjectClass: domain\ndc: corp\n\n")
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dMD\ncn: Schema\n\n", adSchemaNC)
	attr := func(cn, display string) {
		fmt.Fprintf(&b, "dn: CN=%s,%s\nobjectClass: top\nobjectClass: attributeSchema\ncn: %s\nlDAPDisplayName: %s\n\n", cn, adSchemaNC, cn, display)
	}
	attr("Given-Name", "givenName")
	attr("SAM-Account-Name", "sAMAccountName")
	attr("Is-Member-Of-DL", "memberOf")
	attr("User-Account-Control", "userAccountControl")
	for i := range n {
		attr(fmt.Sprintf("Extension-%04d", i), fmt.Sprintf("extensionAttribute%d", i))
	}
	// A class is not an attribute.
	fmt.Fprintf(&b, "dn: CN=User,%s\nobjectClass: top\nobjectClass: classSchema\ncn: User\nlDAPDisplayName: user\n\n", adSchemaNC)
	return b.String()
}

func startADSchema(t *testing.T, n int) *Source {
	t.Helper()
	_, url := ldaptest.StartMem(t, adSchemaLDIF(n), ldaptest.WithActiveDirectory(0))
	src, err := New("ad", Settings{URL: url, BaseDN: "DC=corp,DC=example,DC=com", Schema: "active_directory", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestSchemaContainerTypes reads every attributeSchema object's
// lDAPDisplayName, page by page, and no classSchema object; a container
// that does not exist is a refusal, so AttributeTypes falls back to the
// subschema subentry.
func TestSchemaContainerTypes(t *testing.T) {
	src := startADSchema(t, 250) // three pages of 100
	ctx := context.Background()
	conn, err := src.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetTimeout(0)
	types, err := src.schemaContainerTypes(ctx, conn, adSchemaNC)
	if err != nil {
		t.Fatalf("schemaContainerTypes: %v", err)
	}
	var names []string
	for _, at := range types {
		if len(at.Names) != 1 {
			t.Errorf("names %q: an AD attribute has one name", at.Names)
		}
		names = append(names, at.Names...)
	}
	if len(names) != 254 || slices.Contains(names, "user") {
		t.Errorf("%d names, want 254 attributes and no class", len(names))
	}
	for _, n := range []string{"givenName", "sAMAccountName", "memberOf", "userAccountControl", "extensionAttribute249"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s missing", n)
		}
	}
	_, err = src.schemaContainerTypes(ctx, conn, "CN=Schema,CN=Configuration,DC=other,DC=com")
	var r *schemaRefusal
	if !errors.As(err, &r) || !strings.Contains(err.Error(), `result code 32`) {
		t.Errorf("missing container: %v", err)
	}
}

// TestSchemaContainerTypesParse: one attribute type per attributeSchema
// entry with an lDAPDisplayName, whatever the attribute's case, sorted.
func TestSchemaContainerTypesParse(t *testing.T) {
	e := func(vals ...string) *goldap.Entry {
		return goldap.NewEntry("CN=x,"+adSchemaNC, map[string][]string{"ldapdisplayname": vals, "cn": {"x"}})
	}
	var got []string
	for _, at := range SchemaContainerTypes([]*goldap.Entry{e("sn"), e("givenName"), e(""), e("mail")}) {
		got = append(got, strings.Join(at.Names, "+"))
	}
	if want := []string{"givenName", "mail", "sn"}; !slices.Equal(got, want) {
		t.Errorf("types = %q, want %q", got, want)
	}
}
