variable "pw" {
  sensitive = true
  default   = env("LDAP_PW_NOT_SET") # ERROR: environment variable "LDAP_PW_NOT_SET" is not set
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_password = var.pw
  base_dn       = "ou=users,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = env("FTRACK_KEY_NOT_SET") # ERROR: environment variable "FTRACK_KEY_NOT_SET" is not set
}

mapping "users" {
  source   = source.ldap.corp
  target   = target.ftrack.studio
  username = lower(entry.uid)
  email    = entry.mail
}
