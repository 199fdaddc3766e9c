package ldap_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// TestTimeLimitIsAnError: a search the server cuts off with result code 3
// is an error that names the fix, never a partial directory.
func TestTimeLimitIsAnError(t *testing.T) {
	_, url := ldaptest.StartMem(t, baseOU+ldaptest.GenerateUsers(30), ldaptest.WithTimeLimitAfter(12))
	set := ldap.Settings{URL: url, BaseDN: ldaptest.UsersDN, PageSize: 5}
	got, err := tryRead(context.Background(), newSource(t, set), "uid")
	if err == nil {
		t.Fatalf("read %d entries without error", len(got))
	}
	for _, want := range []string{"time limit exceeded (result code 3) after 12 entries", "olcLimits", "MaxQueryDuration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultTimeLimitExceeded) {
		t.Errorf("err does not wrap result code 3: %v", err)
	}
}

// TestSilentServerTimesOut: a server that accepts the connection and never
// answers makes the read fail after the configured timeout.
func TestSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	set := ldap.Settings{URL: "ldap://" + ln.Addr().String(), BaseDN: "dc=example,dc=com", BindDN: "cn=x", BindPassword: "pw-silent",
		InsecureAllowPlaintext: true, Timeout: 200 * time.Millisecond}
	_, err = tryRead(context.Background(), newSource(t, set), "uid")
	if err == nil || !strings.Contains(err.Error(), `source "corp": bind as "cn=x"`) || strings.Contains(err.Error(), "pw-silent") {
		t.Errorf("silent server: err = %v", err)
	}
	set.BindDN, set.BindPassword = "", ""
	_, err = tryRead(context.Background(), newSource(t, set), "uid")
	if err == nil || !strings.Contains(err.Error(), "no complete answer within 200ms") {
		t.Errorf("silent server, anonymous search: err = %v", err)
	}
}

const baseOU = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=users,dc=example,dc=com
objectClass: organizationalUnit
ou: users

`
