# The configuration the GitLab pipeline (gitlab-ci.yml) plans and
# applies. Keep it at the repository root as ldapsync.hcl. Every change to
# it goes through a merge request; the plan comment is the review.
#
# Secrets come from masked, protected CI/CD variables:
# LDAPSYNC_VAR_ldap_password and FTRACK_API_KEY.

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
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}

policy {
  grace_period      = "72h"
  max_deactivations = "5%"
  max_creates       = 25
  protect           = ["admin", "re:^svc-"]
}

# The state file lives on the dedicated runner, outside the build
# directory, so that every pipeline sees the same file (see README.md).
# The runner sets LDAPSYNC_VAR_state_path; the default is for local runs.
variable "state_path" {
  type    = string
  default = "ldapsync.state.json"
}

state {
  path = var.state_path
}
