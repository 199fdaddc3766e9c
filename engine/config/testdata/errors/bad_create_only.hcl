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
  on_create_only = ["custom_attributes.site"] # ERROR: "custom_attributes.site" names no key of custom_attributes (its keys: department)
}
