package ldap

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// BenchmarkConvertEntry measures copying one wire entry (the attributes a
// typical mapping asks for, the stable id and the disabled rule's
// attribute) into an engine.Entry: the per-entry cost of Read outside the
// BER decoding.
func BenchmarkConvertEntry(b *testing.B) {
	src, err := New("bench", Settings{URL: "ldap://127.0.0.1:389", BaseDN: "ou=users,dc=example,dc=com", Schema: "openldap"})
	if err != nil {
		b.Fatal(err)
	}
	e := ldap.NewEntry("uid=user000042,ou=users,dc=example,dc=com", map[string][]string{
		"uid": {"user000042"}, "mail": {"user000042@example.com"}, "givenName": {"Sören"}, "sn": {"Müller"},
		"cn": {"Sören Müller 42"}, "entryUUID": {"1f0c8e1a-5d2b-103f-8a4e-0b1c2d3e4f50"},
		"pwdAccountLockedTime": {"000001010000Z"},
	})
	want := map[string][]string{"uid": {"uid"}, "mail": {"mail"}, "givenname": {"givenName"}, "sn": {"sn"}}
	disabled := map[string]bool{}
	for _, a := range src.Preset().DisabledAttributes {
		disabled[lowerASCII(a)] = true
	}
	idAttr := lowerASCII(src.Settings().IDAttribute)
	b.ReportAllocs()
	for b.Loop() {
		out, err := src.convert(e, want, idAttr, disabled)
		if err != nil || out.StableID == "" || !out.Disabled {
			b.Fatalf("%+v %v", out, err)
		}
	}
}

func lowerASCII(s string) string {
	out := []byte(s)
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return string(out)
}
