# Group memberships from the directory: every LDAP group whose name starts
# with "ftrack-" becomes an ftrack group of the same name without the
# prefix (cn=ftrack-Artists,ou=groups,... → "Artists").
#
# memberOf is maintained by OpenLDAP's memberof overlay (and by Active
# Directory); it is multi-valued, so it is read as entry_values.memberOf
# (a list of strings; an empty list when the entry has none). entry.X gives
# one string and refuses attributes with several values.

variable "ldap_password" {
  sensitive = true
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=ldapsync,ou=system,dc=example,dc=com"
  bind_password = var.ldap_password
  base_dn       = "ou=people,dc=example,dc=com"
  schema        = "openldap"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  # A dedicated API user, not a person's account (see the main README).
  api_user = "ldapsync-bot"
  api_key  = env("FTRACK_API_KEY")
}

mapping "users" {
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn

  # A for expression with a filter: keep the DNs that match the pattern,
  # turn each into the group name. regex_replace returns "" for a DN the
  # whole pattern matches when the replacement is "", which is the filter.
  groups = [
    for dn in entry_values.memberOf :
    regex_replace(dn, "(?i)^cn=ftrack-([^,]+),ou=groups,dc=example,dc=com$", "$1")
    if regex_replace(dn, "(?i)^cn=ftrack-([^,]+),ou=groups,dc=example,dc=com$", "") == ""
  ]
}

policy {
  max_deactivations = "5%"
  protect           = ["admin", "ldapsync-bot"]
}
