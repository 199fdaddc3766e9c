// Package ldaptest provides LDAP servers for tests, benchmarks and the demo:
//
//   - StartSlapd / StartSlapdProcess run a private OpenLDAP slapd (the real
//     thing: schema, ppolicy, memberof, size limits, TLS) in a temporary
//     directory on free loopback ports, with helpers to add, modify, rename
//     and bulk-load entries.
//   - NewMemDirectory is a small in-process directory on gldap that needs
//     nothing installed, for `make demo` and fast tests. With
//     WithActiveDirectory it answers the way Active Directory does (binary
//     objectGUID, memberOf as an ordinary attribute, "member;range=0-1499"
//     range retrieval with a configurable MaxValRange, bit-AND filters on
//     userAccountControl); WithSizeLimit and WithTimeLimitAfter cut searches
//     off with result codes 4 and 3; WithStartTLS offers StartTLS and
//     refuses binds with a password until the connection is encrypted.
//   - NewTestCerts makes a throwaway CA and a server certificate for
//     localhost and 127.0.0.1 (the slapd's TLS, WithStartTLS, the demo).
//   - GenerateUsers writes test users (non-ASCII names, every 20th locked)
//     as LDIF; ParseLDIF reads LDIF content and change records.
package ldaptest
