package ldaptest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestSlapdLoadAddAndRestart(t *testing.T) {
	s := StartSlapd(t)
	for _, f := range []string{s.CACertFile, filepath.Join(s.Dir, "tls", "server.key")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("TLS file: %v", err)
		}
	}
	s.Load(t, GenerateUsers(1000, GenMemberOf()))
	ctx := context.Background()
	if n, err := s.Count(ctx, UsersDN, "(objectClass=inetOrgPerson)"); err != nil || n != 1000 {
		t.Fatalf("after Load: %d users, %v", n, err)
	}
	if n, err := s.Count(ctx, UsersDN, "(memberOf=cn=grp0003,ou=groups,dc=example,dc=com)"); err != nil || n == 0 {
		t.Errorf("memberOf from the LDIF: %d, %v", n, err)
	}
	// Online: lock a user (operational attribute, set by the root DN),
	// add one with changetype, delete one.
	s.Modify(t, GeneratedUser(1).DN, "pwdAccountLockedTime", "000001010000Z")
	s.Add(t, "dn: uid=extra,ou=users,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\nuid: extra\ncn: Extra\nsn: Extra\n")
	s.Delete(t, GeneratedUser(2).DN)
	if n, _ := s.Count(ctx, UsersDN, "(pwdAccountLockedTime=*)"); n != 1000/20+1 {
		t.Errorf("locked users = %d", n)
	}
	if n, _ := s.Count(ctx, UsersDN, "(objectClass=inetOrgPerson)"); n != 1000 {
		t.Errorf("users after add+delete = %d", n)
	}
	// A locked user cannot bind, an active one can.
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(GeneratedUser(3).DN, UserPassword); err != nil {
		t.Errorf("bind as active user: %v", err)
	}
	if err := c.Bind(GeneratedUser(1).DN, UserPassword); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("bind as locked user: %v", err)
	}
	// The data survives a restart on the same ports.
	url := s.URL
	if err := s.Restart(); err != nil || s.URL != url {
		t.Fatalf("Restart: %v (%s -> %s)", err, url, s.URL)
	}
	if n, _ := s.Count(ctx, UsersDN, "(objectClass=inetOrgPerson)"); n != 1000 {
		t.Errorf("users after restart = %d", n)
	}
}

func TestStartSlapdProcess(t *testing.T) {
	if _, _, err := lookupTools(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := StartSlapdProcess(t.TempDir(), WithoutTLS())
	if err != nil {
		t.Fatal(err)
	}
	if s.LDAPSURL != "" || s.CACertFile != "" {
		t.Errorf("WithoutTLS: %q %q", s.LDAPSURL, s.CACertFile)
	}
	if n, err := s.Count(context.Background(), s.BaseDN, "(objectClass=*)"); err != nil || n != 6 {
		t.Errorf("base entries: %d %v", n, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := s.Conn(); err == nil {
		t.Error("connected after Stop")
	}
}
