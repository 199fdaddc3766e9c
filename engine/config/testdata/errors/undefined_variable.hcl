variable "needed" { # ERROR: Variable "needed" has no default
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_password = var.ldap_password # ERROR: Reference to undeclared input variable
  base_dn       = var.needed
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = "k"
}

mapping "users" {
  username = lower(entry.uid)
  email    = "${entry.uid}@${var.domain}" # ERROR: An input variable named "domain" has not been declared
}
