# The configuration the GitHub Actions workflow (ldapsync.yml) plans and
# applies. Keep it at the repository root as ldapsync.hcl. Every change to
# it goes through a pull request; the plan comment is the review.
#
# Secrets come from the workflow's environment (repository or environment
# secrets): LDAPSYNC_VAR_ldap_password and FTRACK_API_KEY.

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
  # A job whose LDAPSYNC_PLAN_KEY secret went missing fails instead of
  # running an unsigned (anyone-could-have-written-it) plan.
  require_signed_plans = true
}

# The workflow keeps this file in the Actions cache between runs.
state {
  path = "ldapsync.state.json"
}
