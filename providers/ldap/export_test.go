package ldap

// UseGoLDAPReader makes s read users through go-ldap's SearchAsync, the
// reference the in-place reader is compared with.
func UseGoLDAPReader(s *Source) { s.goldapReader = true }
