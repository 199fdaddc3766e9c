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
  username   = lower(entry.uid)
  email      = entry.mail
  first_name = self.name # ERROR: A reference to "self" is not valid here
  last_name  = titlecase(entry.sn) # ERROR: There is no function named "titlecase"
  full_name  = entry # ERROR: Invalid entry reference
}

state {
  path = entry.uid # ERROR: A reference to "entry" is not valid here
}
