package ldap_test

import (
	"context"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

const benchUsers = 10000

func benchRead(b *testing.B, set ldap.Settings) {
	src, err := ldap.New("bench", set)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		err := src.Read(context.Background(), userAttrs, func(engine.Entry) error { n++; return nil })
		if err != nil || n != benchUsers {
			b.Fatalf("read %d entries: %v", n, err)
		}
	}
	b.ReportMetric(float64(benchUsers*b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkReadSlapd reads 10k users from a real slapd over ldap://, page 1000.
func BenchmarkReadSlapd(b *testing.B) {
	s := ldaptest.StartSlapd(b, ldaptest.WithLDIF(ldaptest.GenerateUsers(benchUsers)))
	set := syncSettings(s)
	set.PageSize = 1000
	benchRead(b, set)
}

// BenchmarkReadSlapdLDAPS is BenchmarkReadSlapd over ldaps://.
func BenchmarkReadSlapdLDAPS(b *testing.B) {
	s := ldaptest.StartSlapd(b, ldaptest.WithLDIF(ldaptest.GenerateUsers(benchUsers)))
	set := syncSettings(s)
	set.URL, set.CACertFile, set.PageSize = s.LDAPSURL, s.CACertFile, 1000
	benchRead(b, set)
}

// BenchmarkReadMemDirectory reads 10k users from the in-process demo directory.
func BenchmarkReadMemDirectory(b *testing.B) {
	_, url := ldaptest.StartMem(b, "dn: dc=example,dc=com\nobjectClass: top\ndc: example\n\ndn: ou=users,dc=example,dc=com\nobjectClass: organizationalUnit\nou: users\n\n"+ldaptest.GenerateUsers(benchUsers))
	benchRead(b, ldap.Settings{URL: url, BaseDN: ldaptest.UsersDN, PageSize: 1000})
}
