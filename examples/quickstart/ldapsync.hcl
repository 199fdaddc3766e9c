# Quickstart: the configuration `make demo` runs against the embedded demo
# directory and the ftrack emulator. The demo supplies the two URLs, the
# path of its CA certificate and the secrets through the environment;
# env() is allowed in connection settings.

source "ldap" "corp" {
  url           = env("DEMO_LDAP_URL") # ldap://127.0.0.1:PORT
  start_tls     = true                 # upgraded to TLS before the bind
  ca_cert_file  = env("DEMO_LDAP_CA_FILE")
  bind_dn       = "cn=sync,dc=example,dc=com"
  bind_password = env("DEMO_LDAP_PASSWORD")
  base_dn       = "ou=users,dc=example,dc=com"
  schema        = "openldap"
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
