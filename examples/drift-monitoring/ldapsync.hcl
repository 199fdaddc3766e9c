# The configuration a scheduled drift check reads. drift never writes to
# ftrack; it compares the directory (desired), ftrack (actual) and the
# state file (last-applied).

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
}

# drift compares ftrack with the last apply recorded here: run it where
# the applies run (same host), or give it the applies' own state block
# (state "ftrack" {} or state "http" {...}) when they run in CI.
state {
  path = "/var/lib/ldapsync/ldapsync.state.json"
}
