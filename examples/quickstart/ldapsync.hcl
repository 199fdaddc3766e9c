# Quickstart: the configuration `make demo` runs against the embedded demo
# directory and the ftrack emulator. The demo supplies the two URLs and the
# secrets through the environment; env() is allowed in connection settings.

source "ldap" "corp" {
  url                      = env("DEMO_LDAP_URL")
  bind_dn                  = "cn=sync,dc=example,dc=com"
  bind_password            = env("DEMO_LDAP_PASSWORD")
  base_dn                  = "ou=users,dc=example,dc=com"
  schema                   = "openldap"
  insecure_allow_plaintext = true # the demo directory listens on loopback only
}

target "ftrack" "studio" {
  server_url = env("DEMO_FTRACK_URL")
  api_user   = "admin"
  api_key    = env("FTRACK_API_KEY")
}

mapping "users" {
  source     = source.ldap.corp
  target     = target.ftrack.studio
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}

policy {
  on_missing        = "deactivate"
  on_disabled       = "deactivate"
  max_deactivations = "50%"
  protect           = ["admin"]
}

state {
  path = "ldapsync.state.json"
}
