package ldaptest_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

const tlsUsers = `dn: uid=jdoe,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: jdoe
cn: John Doe
sn: Doe
userPassword: jdoe-pw
`

// startTLSMem serves the base entries and jdoe with StartTLS offered, and
// returns the URL and the certificates.
func startTLSMem(t *testing.T, opts ...ldaptest.MemOption) (string, *ldaptest.TestCerts) {
	t.Helper()
	certs, err := ldaptest.NewTestCerts()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]ldaptest.MemOption{ldaptest.WithStartTLS(certs.Server), ldaptest.WithBindAccount(ldaptest.SyncDN, "syncpw")}, opts...)
	_, url := startMem(t, tlsUsers, opts...)
	return url, certs
}

func ldapCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

func searchUIDs(t *testing.T, c *ldap.Conn) []string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest("ou=users,dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.GetAttributeValue("uid"))
	}
	return out
}

func TestMemStartTLS(t *testing.T) {
	url, certs := startTLSMem(t, ldaptest.WithRequireBind())
	c := dial(t, url)
	if _, ok := c.TLSConnectionState(); ok {
		t.Fatal("the connection uses TLS before StartTLS")
	}
	if err := c.StartTLS(&tls.Config{RootCAs: certs.CAPool(), ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	state, ok := c.TLSConnectionState()
	if !ok || !state.HandshakeComplete || len(state.PeerCertificates) == 0 || state.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Fatalf("after StartTLS: TLS state %v %+v", ok, state)
	}
	if err := c.Bind(ldaptest.SyncDN, "syncpw"); err != nil {
		t.Fatalf("bind over TLS: %v", err)
	}
	if got := searchUIDs(t, c); len(got) != 1 || got[0] != "jdoe" {
		t.Fatalf("search over TLS: %v, want [jdoe]", got)
	}
	// an entry binds with its userPassword over TLS too
	c2 := dial(t, url)
	if err := c2.StartTLS(&tls.Config{RootCAs: certs.CAPool(), ServerName: "localhost"}); err != nil {
		t.Fatalf("StartTLS (localhost): %v", err)
	}
	if err := c2.Bind("uid=jdoe,ou=users,dc=example,dc=com", "jdoe-pw"); err != nil {
		t.Fatalf("entry bind over TLS: %v", err)
	}
}

func TestMemStartTLSRootDSE(t *testing.T) {
	url, _ := startTLSMem(t)
	res, err := dial(t, url).Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedExtension"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("RootDSE: %v %v", res, err)
	}
	if got := res.Entries[0].GetAttributeValues("supportedExtension"); len(got) != 1 || got[0] != "1.3.6.1.4.1.1466.20037" {
		t.Fatalf("supportedExtension = %v, want StartTLS's OID", got)
	}
}

func TestMemStartTLSUntrustedCA(t *testing.T) {
	url, _ := startTLSMem(t)
	other, err := ldaptest.NewTestCerts()
	if err != nil {
		t.Fatal(err)
	}
	err = dial(t, url).StartTLS(&tls.Config{RootCAs: other.CAPool(), ServerName: "127.0.0.1"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("StartTLS trusting another CA: %v, want a certificate verification error", err)
	}
}

func TestMemStartTLSRefusals(t *testing.T) {
	url, certs := startTLSMem(t)
	startTLS := ldap.NewExtendedRequest("1.3.6.1.4.1.1466.20037", nil)

	t.Run("plaintext bind, then StartTLS", func(t *testing.T) {
		c := dial(t, url)
		err := c.Bind(ldaptest.SyncDN, "syncpw")
		if ldapCode(err) != ldap.LDAPResultConfidentialityRequired {
			t.Fatalf("bind with a password before StartTLS: %v, want confidentialityRequired", err)
		}
		_, err = c.Extended(startTLS)
		if ldapCode(err) != ldap.LDAPResultOperationsError || !strings.Contains(err.Error(), "after a bind") {
			t.Fatalf("StartTLS after a bind: %v, want operationsError", err)
		}
		// the session is as it was: plaintext, and it still answers
		if _, ok := c.TLSConnectionState(); ok {
			t.Fatal("the refused StartTLS switched to TLS")
		}
		if got := searchUIDs(t, c); len(got) != 1 {
			t.Fatalf("anonymous search after the refusal: %v", got)
		}
	})

	t.Run("anonymous bind counts as a bind", func(t *testing.T) {
		c := dial(t, url)
		if err := c.UnauthenticatedBind(""); err != nil {
			t.Fatalf("anonymous bind: %v", err)
		}
		if err := c.StartTLS(&tls.Config{RootCAs: certs.CAPool(), ServerName: "127.0.0.1"}); ldapCode(err) != ldap.LDAPResultOperationsError {
			t.Fatalf("StartTLS after an anonymous bind: %v, want operationsError", err)
		}
	})

	t.Run("second StartTLS", func(t *testing.T) {
		c := dial(t, url)
		if err := c.StartTLS(&tls.Config{RootCAs: certs.CAPool(), ServerName: "127.0.0.1"}); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		_, err := c.Extended(startTLS)
		if ldapCode(err) != ldap.LDAPResultOperationsError || !strings.Contains(err.Error(), "already established") {
			t.Fatalf("second StartTLS: %v, want operationsError", err)
		}
		if err := c.Bind(ldaptest.SyncDN, "syncpw"); err != nil {
			t.Fatalf("bind over TLS after the refused second StartTLS: %v", err)
		}
		if got := searchUIDs(t, c); len(got) != 1 {
			t.Fatalf("search: %v", got)
		}
	})
}

func TestMemWithoutStartTLS(t *testing.T) {
	_, url := startMem(t, tlsUsers, ldaptest.WithBindAccount(ldaptest.SyncDN, "syncpw"))
	c := dial(t, url)
	// Extended, not StartTLS: go-ldap's StartTLS leaves a connection
	// unusable when the server refuses
	if _, err := c.Extended(ldap.NewExtendedRequest("1.3.6.1.4.1.1466.20037", nil)); ldapCode(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("StartTLS on a directory without WithStartTLS: %v, want unwillingToPerform", err)
	}
	if err := c.Bind(ldaptest.SyncDN, "syncpw"); err != nil {
		t.Fatalf("plaintext bind without WithStartTLS: %v", err)
	}
}
