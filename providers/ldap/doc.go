// Package ldap is ldapsync's directory source: it reads user entries from an
// LDAP server (OpenLDAP, Active Directory, 389-ds, FreeIPA) over ldap://,
// ldaps:// or StartTLS with a simple bind, and streams them to the engine as
// engine.Entry values.
//
// A read is a paged search (RFC 2696, page size at most 1000). go-ldap
// dials, runs TLS or StartTLS and binds; the user search's responses are
// then read from the same connection by ldapsync's own in-place reader
// (search.go), which requests the next page as soon as a page's
// SearchResultDone arrives and copies only the wanted values out of one
// reused buffer, so memory stays bounded by about one page plus the
// caller's own model. Group and schema reads use go-ldap's SearchAsync. Anything short of a complete answer (bind failure, size or time
// limit, an unknown base DN, a dropped connection, a cancelled context) is an
// error, never a partial directory. Search result references (referrals)
// are not followed; they are counted and reported as a plan warning
// (ReadWarnings).
//
// Schema presets (schema = "...") supply the defaults below; each can be
// overridden in the source block (filter, id_attribute) or in the mapping
// (username, and a disabled expression that replaces the preset's verdict):
//
//	preset            filter                                       stable id    disabled when
//	openldap          (objectClass=inetOrgPerson)                  entryUUID    pwdAccountLockedTime is set (ppolicy)
//	active_directory  (&(objectCategory=person)(objectClass=user)) objectGUID   userAccountControl & 0x2, or accountExpires in the past
//	389ds             (objectClass=inetOrgPerson)                  nsUniqueId   nsAccountLock is true
//	freeipa           (objectClass=posixAccount)                   ipaUniqueID  nsAccountLock is true
//
// The username attribute is the mapping's choice: uid on OpenLDAP, 389-ds
// and FreeIPA, sAMAccountName on Active Directory. objectGUID travels as 16
// raw bytes and is used in its canonical text form
// (878ce8b7-2713-41a9-a765-5e3905ab5ef2); userAccountControl is tested on the
// client, so "disabled" and "gone" stay distinct; the plan's deactivation
// reason names the rule that matched.
//
// Text attributes that are not valid UTF-8 are passed on unchanged, so the
// mapping skips the entry with a reason; binary attributes (objectGUID,
// objectSid, photos, certificates) become their canonical text or hex.
//
// Source also implements engine.GroupReader for the groups blocks (see
// groups.go): member and uniqueMember (with Active Directory range
// retrieval, "member;range=0-1499" and onwards, whatever step the server
// uses), posixGroup memberUid, or the users' memberOf. DNs are compared
// through DNKey (parsed, case-folded), never as strings.
package ldap
