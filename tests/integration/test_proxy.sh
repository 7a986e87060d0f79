#!/usr/bin/env bash
# Through a proxy: the `proxy` setting and the https_proxy / no_proxy environment reach the fleet
# server (TLS, in a namespace of its own) through a loopback CONNECT proxy; a proxy that refuses is
# a temporary failure; one that wants credentials is a configuration error naming the setting (exit
# 78) until they are given, and then they are never shown: not in a log line, not in curl's trace,
# not in --check-config.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_ns proxy || { notok "namespace"; exit 1; }
tls_cert || { notok "openssl could not make a certificate"; exit 1; }
server_start https --tls "$dir/cert.pem" "$dir/key.pem" || { notok "start the test server"; exit 1; }
proxy() { # proxy NAME MODE [USER:PASS]: sets P_NAME to its port
	$x "$PYTHON" "$IT_DIR/proxy.py" "$dir/$1.port" "$dir/$1.log" "$2" "${3:-}" >/dev/null 2>&1 &
	PIDS_STARTED+=("$!")
	for _ in $(seq 50); do [ -s "$dir/$1.port" ] && break; sleep 0.1; done
	eval "P_$1=$(cat "$dir/$1.port")"
}
proxy good ok
proxy deny refuse
proxy locked auth "fleet:s3cr3t-pw"
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek"
chmod 600 "$dir/ek"
export NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_TIMEOUT=5 NETINV_CA_FILE=$dir/cert.pem
SPORT=${URL##*:}
reg() { # state-dir, then extra flags (environment before the call)
	local s=$1
	shift
	$x "$NETINV" --register-only --server-url "$URL" --state-dir "$dir/$s" "$@" 2>"$dir/err"
}

reg s1 --proxy "http://127.0.0.1:$P_good"
[ $? = 0 ] && grep -q "waiting for approval" "$dir/err" && grep -q "^CONNECT 127.0.0.1:$SPORT -> 200$" "$dir/good.log" &&
	ok "proxy setting: registered through the CONNECT proxy" || notok "proxy setting: $(cat "$dir/err" "$dir/good.log")"
: >"$dir/good.log"
https_proxy=http://127.0.0.1:$P_good reg s2
[ $? = 0 ] && grep -q "^CONNECT 127.0.0.1:$SPORT -> 200$" "$dir/good.log" &&
	ok "https_proxy from the environment is used" || notok "https_proxy: $(cat "$dir/err" "$dir/good.log")"
: >"$dir/good.log"
https_proxy=http://127.0.0.1:$P_good no_proxy=127.0.0.1 reg s3
[ $? = 0 ] && [ ! -s "$dir/good.log" ] && ok "no_proxy: the server is reached directly" ||
	notok "no_proxy: $(cat "$dir/err" "$dir/good.log")"
reg s4 --proxy "http://127.0.0.1:$P_deny"
[ $? = 75 ] && grep -q "^CONNECT 127.0.0.1:$SPORT -> 403$" "$dir/deny.log" && grep -q "warning: cannot reach the server" "$dir/err" &&
	ok "a proxy that refuses: a temporary failure (75), backed off" || notok "refusing proxy: $(cat "$dir/err")"
reg s5 --proxy "http://127.0.0.1:$P_locked"
[ $? = 78 ] && grep -q "error: the proxy asks for credentials (proxy=http://127.0.0.1:$P_locked)" "$dir/err" &&
	ok "a proxy that wants credentials: a configuration error naming proxy (78)" || notok "auth proxy: $(cat "$dir/err")"
reg s6 --proxy "http://fleet:s3cr3t-pw@127.0.0.1:$P_locked" --log-level debug
rc=$?
$x "$NETINV" --check-config --proxy "http://fleet:s3cr3t-pw@127.0.0.1:$P_locked" --server-url "$URL" >"$dir/cc" 2>&1
https_proxy=http://fleet:s3cr3t-pw@127.0.0.1:$P_locked reg s7 --log-level debug
rc7=$?
cat "$dir/err" >>"$dir/all.err"
if [ $rc = 0 ] && [ $rc7 = 0 ] && [ "$(grep -c "(authenticated)" "$dir/locked.log")" = 2 ] &&
	grep -q "curl: > CONNECT 127.0.0.1:$SPORT" "$dir/err" && grep -q "^proxy *= http://<redacted>@127.0.0.1:$P_locked" "$dir/cc" &&
	! grep -q "s3cr3t" "$dir/err" "$dir/cc" "$dir/all.err" && ! grep -q "$(printf 'fleet:s3cr3t-pw' | base64)" "$dir/err"; then
	ok "with credentials (setting or https_proxy) it passes; the password is in no log, trace or --check-config"
else
	notok "proxy credentials: exit $rc/$rc7 $(grep -i "s3cr3t\|authoriz\|proxy" "$dir/err" "$dir/cc" | head -5)"
fi
exit $((fails > 0))
