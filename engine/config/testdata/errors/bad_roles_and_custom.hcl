source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=reader,dc=example,dc=com"
  bind_password = "pw"
  base_dn       = "ou=users,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.example.test"
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  username = lower(entry.uid)
  email    = entry.mail
  custom_attributes = {
    department = entry.departmentNumber
  }
  on_create_only = ["username"] # ERROR: "username" cannot be set at create only
}

policy {
  max_role_changes = "half" # ERROR: want a count like 10 or a percentage
}

roles "studio" { # ERROR: The argument "map" is required
  base_dn = "ou=groups,dc=example,dc=com"
}

roles "scoped" {
  base_dn          = "ou=groups,dc=example,dc=com"
  map              = { "cn=a,ou=groups,dc=example,dc=com" = "Project Manager" }
  projects         = "all" # ERROR: projects must be "all_open" or a list of project names
  allow_privileged = ["Project Manager"] # ERROR: "Project Manager" is not one
  create_groups    = true # ERROR: An argument named "create_groups" is not expected here
}

roles "scoped" { # ERROR: A roles block named "scoped"
  base_dn = "ou=groups,dc=example,dc=com"
  map     = {}
}
