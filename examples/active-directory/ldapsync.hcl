# Active Directory → ftrack.
#
# Secrets never live in this file: the bind password is a sensitive
# variable (set LDAPSYNC_VAR_ldap_password, or -var / -var-file), the ftrack
# API key is read from the environment with env().

variable "ldap_password" {
  description = "Password of the read-only bind account svc-ldapsync"
  type        = string
  sensitive   = true
}

variable "ca_cert_file" {
  description = "PEM file with the CA that issued the domain controllers' LDAPS certificates"
  type        = string
  default     = "/etc/ldapsync/corp-root-ca.pem"
}

source "ldap" "corp" {
  # ldaps:// (port 636). The Global Catalog (3269) also works for a
  # forest-wide read, but returns only the GC's partial attribute set.
  url           = "ldaps://dc01.corp.example.com:636"
  ca_cert_file  = var.ca_cert_file
  bind_dn       = "CN=svc-ldapsync,OU=Service Accounts,DC=corp,DC=example,DC=com"
  bind_password = var.ldap_password
  base_dn       = "OU=Staff,DC=corp,DC=example,DC=com"

  # The active_directory preset supplies the filter
  # (&(objectCategory=person)(objectClass=user)), objectGUID as the stable
  # id, and the disabled rule: userAccountControl has ACCOUNTDISABLE (0x2)
  # or accountExpires is in the past. Here the filter is narrowed to the
  # members of one group, transitively (an AD-only matching rule).
  schema = "active_directory"
  filter = "(&(objectCategory=person)(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=CN=ftrack-users,OU=Groups,DC=corp,DC=example,DC=com))"

  # AD's MaxPageSize is 1000; larger pages are refused by ldapsync.
  page_size = 1000
  timeout   = "60s"
}

target "ftrack" "studio" {
  server_url = "https://studio.ftrackapp.com"
  api_user   = "ldapsync@studio.example.com"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source = source.ldap.corp
  target = target.ftrack.studio

  # sAMAccountName is the pre-Windows 2000 logon name (at most 20
  # characters, unique in the domain). The join key is its lower case.
  username = lower(entry.sAMAccountName)

  # Prefer mail; fall back to the userPrincipalName (user@upn-suffix). An
  # account with neither is skipped with "missing required attributes".
  email = lower(coalesce(entry.mail, entry.userPrincipalName))

  first_name = entry.givenName
  last_name  = entry.sn
}

policy {
  on_missing  = "deactivate"
  on_disabled = "deactivate"
  reactivate  = true

  # A user must be gone from the directory for three days before the
  # account is deactivated (an OU move or a restore gets time to settle).
  grace_period = "72h"

  # A plan that would deactivate more than 2% of the managed users (or
  # create more than 50 accounts) is blocked: exit code 3, nothing applied.
  max_deactivations = "2%"
  max_creates       = 50
  min_source_users  = 100

  # Service and admin accounts are never touched, whatever the directory says.
  protect = ["admin", "ldapsync@studio.example.com", "re:^svc-", "re:^adm-"]

  max_errors = 10
}

state {
  path = "/var/lib/ldapsync/ldapsync.state.json"
}
