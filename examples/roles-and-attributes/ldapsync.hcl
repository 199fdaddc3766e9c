# Security roles, custom attributes and fields ftrack owns after creation.
#
# Supervisors become Project Managers on every open project; the members
# of cn=secret-show get the Assignee role on the private project "Secret
# Show" only; a group named ftrack-role-NAME grants the role NAME (never
# Administrator, which that block does not allow; API roles never);
# members of cn=ftrack-admins are Administrators. Department and
# employee number reach ftrack's user custom attributes; the site is set
# when the account is created and left to ftrack afterwards, like the
# first name.

variable "ldap_password" {
  sensitive = true
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  bind_dn       = "cn=ldapsync,ou=system,dc=example,dc=com"
  bind_password = var.ldap_password
  base_dn       = "ou=people,dc=example,dc=com"
  schema        = "openldap"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "ldapsync-bot"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn

  custom_attributes = {
    department      = entry.departmentNumber
    employee_number = entry.employeeNumber
    site            = "London"
  }
  on_create_only = ["first_name", "custom_attributes.site"]
}

roles "studio" {
  base_dn = "ou=groups,dc=example,dc=com"
  map = {
    "cn=supervisors,ou=groups,dc=example,dc=com" = "Project Manager"
    "re:^ftrack-role-(.+)$"                      = "$1" # never Administrator: not allowed here
  }
  default_role = "User"
}

# Administrator from one named group, in a block of its own: privilege is
# allowed per block, so no ftrack-role-Administrator group can grant it.
roles "admins" {
  base_dn          = "ou=groups,dc=example,dc=com"
  map              = { "cn=ftrack-admins,ou=groups,dc=example,dc=com" = "Administrator" }
  allow_privileged = ["Administrator"]
}

roles "secret-show" {
  base_dn  = "ou=groups,dc=example,dc=com"
  map      = { "cn=secret-show,ou=groups,dc=example,dc=com" = "Assignee" }
  projects = ["Secret Show"]
}

policy {
  max_role_changes = "10%"
  protect          = ["admin", "ldapsync-bot"]
}
