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
  username = lower(entry.uid)
  email    = entry.mail
  nickname = entry.cn # ERROR: Unsupported argument
}

policy {
  on_missing = "ignore"
  max_delete = 3 # ERROR: An argument named "max_delete" is not expected here
}
