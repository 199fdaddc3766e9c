// Package ldap is ldapsync's directory source: it reads user entries from an
// LDAP server (OpenLDAP, Active Directory, 389-ds, FreeIPA) over ldap://,
// ldaps:// or StartTLS with a simple bind, and streams them to the engine as
// engine.Entry values.
//
// A read is a paged search (RFC 2696, page size at most 1000) issued one page
// at a time with SearchAsync, so memory stays bounded by one page plus the
// caller's own model. Every entry is copied out of the wire response at
// once. Anything short of a complete answer (bind failure, size or time
// limit, an unknown base DN, a dropped connection, a cancelled context) is an
// error, never a partial directory.
//
// Schema presets (openldap, active_directory, 389ds, freeipa) supply the
// default filter, the stable id attribute and the disabled-account rule.
package ldap
