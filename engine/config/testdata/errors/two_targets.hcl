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
  source   = source.ldap.corp
  target   = target.ftrack.studio
  username = lower(entry.uid)
  email    = entry.mail
}

target "ftrack" "other" { # ERROR: Only one target block is allowed
  server_url = "https://other.ftrackapp.com"
}
