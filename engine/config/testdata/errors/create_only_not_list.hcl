source "ldap" "corp" { url = "ldaps://x" }
target "ftrack" "studio" { server_url = "https://y" }
mapping "users" {
  username = lower(entry.uid)
  email    = entry.mail
  on_create_only = "first_name" # ERROR: on_create_only must be a list of field names
}
