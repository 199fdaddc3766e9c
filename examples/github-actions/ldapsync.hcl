# The configuration the GitHub Actions workflow (ldapsync.yml) plans and
# applies. Keep it at the repository root as ldapsync.hcl. A change to it
# goes through an ordinary pull request; once merged, the workflow plans
# with it and proposes the changes in the plan pull request.
#
# Secrets come from the `ldapsync` environment's secrets, which the
# workflow passes as LDAPSYNC_VAR_ldap_password, FTRACK_API_KEY and
# LDAPSYNC_PLAN_KEY.

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
  # A dedicated API user, not a person's account (see the main README).
  # With state "ftrack" {} the state lives on this user's account:
  # changing api_user means `ldapsync state migrate` first.
  api_user = "ldapsync-bot"
  api_key  = env("FTRACK_API_KEY")
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
  protect           = ["admin", "ldapsync-bot", "re:^svc-"]
  # A job whose LDAPSYNC_PLAN_KEY secret went missing fails instead of
  # running an unsigned (anyone-could-have-written-it) plan.
  require_signed_plans = true
}

# The state (last-applied values, grace-period clocks, the apply journal)
# lives in the ftrack site itself: on the API user and beside each user's
# ownership marker, with the lock as a Metadata entry. Nothing to host, no
# cache to lose, the same state for every runner.
state "ftrack" {}
