# OpenLDAP with the ppolicy overlay → ftrack, over StartTLS.

variable "ldap_password" {
  description = "Password of cn=ldapsync,ou=system,dc=example,dc=com"
  sensitive   = true
}

variable "ca_cert_file" {
  description = "PEM file with the CA that signed the LDAP server's certificate"
  type        = string
  default     = "/etc/ssl/certs/example-ca.pem"
}

source "ldap" "corp" {
  # ldap:// on port 389, upgraded with StartTLS before the bind. Without
  # start_tls = true a bind password over ldap:// is refused.
  url          = "ldap://ldap.example.com:389"
  start_tls    = true
  ca_cert_file = var.ca_cert_file

  bind_dn       = "cn=ldapsync,ou=system,dc=example,dc=com"
  bind_password = var.ldap_password
  base_dn       = "ou=people,dc=example,dc=com"
  filter        = "(&(objectClass=inetOrgPerson)(!(employeeType=external)))"

  # The openldap preset: entryUUID as the stable id, and "disabled" when
  # pwdAccountLockedTime is set. Both are operational attributes; ldapsync
  # asks for them by name.
  schema    = "openldap"
  page_size = 500
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

  # The preset already treats any pwdAccountLockedTime as disabled. This
  # narrows it to the permanent administrative lock (000001010000Z), so a
  # temporary lockout after too many wrong passwords (a timestamp that
  # expires after pwdLockoutDuration) does not deactivate anyone.
  disabled = entry.pwdAccountLockedTime == "000001010000Z"
}

policy {
  on_missing  = "deactivate"
  on_disabled = "deactivate"
  reactivate  = true

  # Leavers keep their ftrack account for a week after their entry is
  # deleted, which covers mistakes and restores from backup.
  grace_period = "168h"

  max_deactivations = "5%"
  protect           = ["admin", "ldapsync-bot", "re:^svc-"]
}

state {
  path = "ldapsync.state.json"
}
