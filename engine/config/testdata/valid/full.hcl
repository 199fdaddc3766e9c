variable "ldap_password" {
  sensitive = true
}

variable "domain" {
  type    = string
  default = "example.com"
}

variable "max_deact" {
  type    = number
  default = 7
}

variable "adopt" {
  type    = bool
  default = true
}

source "ldap" "corp" {
  url           = "ldaps://ldap.example.com"
  ca_cert_file  = "/etc/ssl/corp-ca.pem"
  bind_dn       = "cn=reader,dc=example,dc=com"
  bind_password = var.ldap_password
  base_dn       = "ou=users,dc=example,dc=com"
  filter        = "(objectClass=inetOrgPerson)"
  schema        = "openldap"
  page_size     = 1000
}

source "ldap" "contractors" {
  url     = "ldaps://ldap2.example.com"
  base_dn = "ou=contractors,dc=example,dc=com"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source     = [source.ldap.corp, source.ldap.contractors]
  target     = target.ftrack.studio
  username   = lower(entry.uid)
  email      = lower(coalesce(entry.mail, "${entry.uid}@${var.domain}"))
  first_name = entry.givenName
  last_name  = entry.sn
  disabled   = entry.pwdAccountLockedTime != null
  groups     = [for g in entry_values.memberOf : upper(regex("^cn=([^,]+)", g)[0])]
}

groups "studio" {
  source           = source.ldap.corp
  base_dn          = "ou=groups,dc=example,dc=com"
  filter           = "(objectClass=groupOfNames)"
  member_attribute = "member"
  nested           = true
  map = {
    "cn=artists,ou=groups,dc=example,dc=com" = "Artists"
    "re:^proj-(.*)$"                         = "Project $1"
  }
}

policy {
  on_missing        = "deactivate"
  on_disabled       = "ignore"
  reactivate        = false
  grace_period      = "72h"
  max_deactivations = "5%"
  max_creates       = var.max_deact
  min_source_users  = 10
  protect           = ["re:^svc-", "admin"]
  adopt_existing    = var.adopt
  max_errors        = 3
}

state { path = "state/ldapsync.state.json" }
