#!/bin/sh
# drift-check.sh: scheduled drift report; alerts on drift (exit 2) and on
# errors (exit 1). Run it from cron or a systemd timer on the host that
# runs ldapsync apply/sync, so that it sees the same state file.
#
#   ALERT_WEBHOOK  URL that accepts a JSON {"text": "..."} POST (chat
#                  incoming webhook); empty = print only.
#   LDAPSYNC_CONFIG  configuration file (default /etc/ldapsync/ldapsync.hcl)
#   LDAPSYNC_ENV_FILE  file of NAME=value lines with the secrets, mode 0600
#                  (default /etc/ldapsync/secrets.env):
#                  LDAPSYNC_VAR_ldap_password=…  FTRACK_API_KEY=…
set -u

config=${LDAPSYNC_CONFIG:-/etc/ldapsync/ldapsync.hcl}
envfile=${LDAPSYNC_ENV_FILE:-/etc/ldapsync/secrets.env}
if [ -r "$envfile" ]; then
	set -a
	. "$envfile"
	set +a
fi
report=$(mktemp) || exit 1
trap 'rm -f "$report"' EXIT

ldapsync drift -config "$config" -detailed-exitcode -markdown -no-color >"$report" 2>&1
rc=$?

alert() {
	# $1 = title; the report (Markdown) follows.
	printf '%s\n\n' "$1"
	cat "$report"
	if [ -n "${ALERT_WEBHOOK:-}" ]; then
		{ printf '%s\n\n' "$1"; cat "$report"; } |
			jq -Rs '{text: .}' |
			curl --fail --silent --show-error --max-time 30 \
				--header 'Content-Type: application/json' --data @- "$ALERT_WEBHOOK" >/dev/null
	fi
}

case $rc in
0) ;; # in sync: stay quiet
2) alert "ldapsync: ftrack has drifted from the directory on $(hostname)" ;;
*) alert "ldapsync drift check failed (exit $rc) on $(hostname)" ;;
esac
exit "$rc"
