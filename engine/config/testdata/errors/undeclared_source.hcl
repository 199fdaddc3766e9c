source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=reader,dc=example,dc=com"
  bind_password = "pw"
  base_dn       = "ou=users,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source   = [source.ldap.corp, source.ldap.other] # ERROR: No source "ldap" "other" is declared
  target   = target.ftrack.elsewhere # ERROR: Reference to undeclared target
  username = lower(entry.uid)
  email    = entry.mail
}

groups "studio" {
  source  = source.ad.corp # ERROR: Reference to undeclared source
  base_dn = "ou=groups,dc=example,dc=com"
  map     = { "re:([" = "Artists" } # ERROR: not a valid regular expression
}
