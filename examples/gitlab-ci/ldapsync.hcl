# The configuration the GitLab pipeline (gitlab-ci.yml) plans and
# applies. Keep it at the repository root as ldapsync.hcl. A change to it
# goes through an ordinary merge request; once merged, the pipeline plans
# with it and proposes the changes in the plan merge request.
#
# Secrets come from masked, protected CI/CD variables:
# LDAPSYNC_VAR_ldap_password, FTRACK_API_KEY and LDAPSYNC_PLAN_KEY.

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
  # A job whose LDAPSYNC_PLAN_KEY variable went missing fails instead of
  # running an unsigned (anyone-could-have-written-it) plan.
  require_signed_plans = true
}

# GitLab-managed Terraform state: the project's state "ldapsync", through
# Terraform's http backend protocol, with the job's own CI_JOB_TOKEN (the
# role of the user who started the pipeline: Developer reads, Maintainer
# locks and writes). Nothing to host; every runner sees the same state.
state "http" {
  address        = "${env("CI_API_V4_URL")}/projects/${env("CI_PROJECT_ID")}/terraform/state/ldapsync"
  lock_address   = "${env("CI_API_V4_URL")}/projects/${env("CI_PROJECT_ID")}/terraform/state/ldapsync/lock"
  unlock_address = "${env("CI_API_V4_URL")}/projects/${env("CI_PROJECT_ID")}/terraform/state/ldapsync/lock"
  lock_method    = "POST"
  unlock_method  = "DELETE"
  username       = "gitlab-ci-token"
  password       = env("CI_JOB_TOKEN")
  retry_max      = 5
  retry_wait_min = 1
  retry_wait_max = 30
}
