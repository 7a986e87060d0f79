#!/usr/bin/env bash
# deploy/install.sh and uninstall.sh in a scratch root: install, upgrade, rollback, uninstall keeping
# the state, and --purge removing it.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
top=$IT_TOP
it_tmpdir inst || exit 1
R=$dir/root
I="$top/deploy/install.sh"
U="$top/deploy/uninstall.sh"
V=$(cat "$top/VERSION")
"$I" install --root "$R" >"$dir/out" 2>&1
[ "$(readlink "$R/opt/netinv/current")" = "$V" ] && [ -x "$R/opt/netinv/$V/sbin/netinv" ] &&
	[ "$(readlink "$R/usr/local/sbin/netinv")" = /opt/netinv/current/sbin/netinv ] &&
	grep -q "^ExecStart=/usr/local/sbin/netinv$" "$R/opt/netinv/$V/systemd/netinv.service" &&
	[ "$(stat -c %a "$R/etc/netinv/netinv.conf")" = 600 ] && [ "$(readlink "$R/etc/systemd/system/netinv.timer")" = /opt/netinv/current/systemd/netinv.timer ] &&
	[ "$(stat -c %a "$R/etc/credstore")" = 700 ] && [ "$(readlink "$R/etc/credstore/netinv.enrollment_key")" = /etc/netinv/enrollment.key ] &&
	ok "install: $V under /opt/netinv, links, units, config 0600, the credential link" || notok "install: $(cat "$dir/out")"
# an agent's state and a customised config appear
mkdir -p -m 0700 "$R/var/lib/netinv" && echo 123e4567-e89b-42d3-a456-426614174000 >"$R/var/lib/netinv/agent_uuid"
echo "NETINV_SERVER_URL=https://custom.example" >"$R/etc/netinv/netinv.conf"
"$I" install --root "$R" --version 9.9.9 >"$dir/out" 2>&1
[ "$(readlink "$R/opt/netinv/current")" = 9.9.9 ] && [ "$(readlink "$R/opt/netinv/previous")" = "$V" ] &&
	grep -q custom "$R/etc/netinv/netinv.conf" && ok "upgrade to 9.9.9: previous kept, configuration untouched" ||
	notok "upgrade: $(cat "$dir/out")"
"$I" rollback --root "$R" >"$dir/out" 2>&1
[ "$(readlink "$R/opt/netinv/current")" = "$V" ] && [ "$(readlink "$R/opt/netinv/previous")" = 9.9.9 ] &&
	ok "rollback: back to $V" || notok "rollback: $(cat "$dir/out")"
"$U" --root "$R" >"$dir/out" 2>&1
[ ! -e "$R/opt/netinv" ] && [ ! -e "$R/usr/local/sbin/netinv" ] && [ ! -e "$R/etc/systemd/system/netinv.service" ] &&
	[ -f "$R/var/lib/netinv/agent_uuid" ] && [ -f "$R/etc/netinv/netinv.conf" ] &&
	ok "uninstall: program gone, identity and configuration kept" || notok "uninstall: $(cat "$dir/out")"
"$I" install --root "$R" >/dev/null 2>&1 && "$U" --purge --root "$R" >"$dir/out" 2>&1
[ ! -e "$R/var/lib/netinv" ] && [ ! -e "$R/etc/netinv" ] && [ ! -e "$R/opt/netinv" ] && [ ! -L "$R/etc/credstore/netinv.enrollment_key" ] &&
	ok "uninstall --purge: state, configuration and the credential link removed too" || notok "purge: $(cat "$dir/out")"
"$I" rollback --root "$R" >"$dir/out" 2>&1
[ $? = 69 ] && grep -q "no previous version" "$dir/out" && ok "rollback with nothing to roll back to: clear error" ||
	notok "rollback without previous: $(cat "$dir/out")"
"$I" --bogus >"$dir/out" 2>&1
[ $? = 64 ] && grep -q "unknown argument '--bogus'" "$dir/out" && ok "install.sh: a bad argument is named" || notok "bad argument"
exit $((fails > 0))
