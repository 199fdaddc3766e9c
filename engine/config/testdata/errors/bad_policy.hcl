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

policy {
  on_missing        = "delete" # ERROR: on_missing must be "deactivate" or "ignore"
  on_disabled       = "ignore"
  grace_period      = "3 days" # ERROR: grace_period must be a duration
  max_deactivations = "5 percent" # ERROR: want a count like 10 or a percentage
  max_creates       = "150%" # ERROR: max_creates
  max_updates       = 20
  min_source_users  = -1 # ERROR: min_source_users must be a whole number
  protect = [
    "admin",
    "re:^svc-",
    "re:([a-z", # ERROR: not a valid regular expression
  ]
}
