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
  username = lower(entry.uid
} # ERROR: Missing argument separator
