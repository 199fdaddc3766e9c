variable "ldap_password" {
  sensitive = true
  default   = "not-a-real-password"
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=reader,dc=example,dc=com"
  bind_password = var.ldap_password
  base_dn       = "ou=users,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = "k"
}

mapping "users" {
  username = lower(entry.uid)
  email    = var.ldap_password # ERROR: Sensitive variable not allowed here
}
