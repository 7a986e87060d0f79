#!/usr/bin/env bash
# TLS to the fleet server: verification is on (an unknown CA is refused), ca_file makes it pass,
# pinned public keys are enforced (a wrong pin refuses, the right one among several passes), and
# plain http is refused for a non-loopback server. A trust, CA-file or pin failure is a
# configuration error (exit 78, error priority, the setting named), never backed off like an
# outage: the next run tries again at once.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_ns tls || { notok "namespace"; exit 1; }
tls_cert || { notok "openssl could not make a certificate"; exit 1; }
PIN="sha256//$(openssl x509 -in "$dir/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)"
server_start https --tls "$dir/cert.pem" "$dir/key.pem" || { notok "start the test server"; exit 1; }
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek"
chmod 600 "$dir/ek"
export NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_IMPORT_FROM=$dir/none NETINV_TIMEOUT=5
reg() { # state-dir, then extra flags
	local s=$1
	shift
	$x "$NETINV" --register-only --server-url "$URL" --state-dir "$dir/$s" "$@" 2>"$dir/err"
}
reg s1
[ $? = 78 ] && grep -q "error: server certificate not trusted by the system's CA store (set ca_file)" "$dir/err" &&
	ok "unknown CA refused as a configuration error (exit 78): $(head -c 160 "$dir/err")" ||
	notok "an unverifiable server: $(cat "$dir/err")"
reg s1
[ $? = 78 ] && ! grep -q "backing off" "$dir/err" && ! grep -q "^failures=[1-9]" "$dir/s1/agent.status" &&
	ok "the next run tries again at once: no backoff, no failure count" ||
	notok "a configuration error was backed off: $(cat "$dir/err") $(grep failures "$dir/s1/agent.status")"
reg s1b --ca-file "$dir/nonexistent.pem"
[ $? = 78 ] && grep -q "error: the CA file cannot be used (ca_file=$dir/nonexistent.pem)" "$dir/err" &&
	ok "a missing CA file names ca_file (exit 78)" || notok "missing CA file: $(cat "$dir/err")"
reg s2 --ca-file "$dir/cert.pem"
[ $? = 0 ] && grep -q "waiting for approval" "$dir/err" && ok "with ca_file the server verifies and registration proceeds" ||
	notok "ca_file: $(cat "$dir/err")"
reg s3 --ca-file "$dir/cert.pem" --pin-pubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
[ $? = 78 ] && grep -q "error: the server's public key matches none of the pins (pin_pubkey)" "$dir/err" &&
	ok "a wrong pinned key is refused as a configuration error (exit 78)" ||
	notok "wrong pin accepted: $(cat "$dir/err")"
reg s4 --ca-file "$dir/cert.pem" --pin-pubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;$PIN"
[ $? = 0 ] && ok "the right key among several pins is accepted" || notok "right pin refused: $(cat "$dir/err")"
$x "$NETINV" --register-only --server-url http://198.51.100.7/ --state-dir "$dir/s5" 2>"$dir/err"
[ $? = 78 ] && grep -q "plain http to a non-loopback host" "$dir/err" && ok "plain http to a non-loopback host refused" ||
	notok "insecure URL: $(cat "$dir/err")"
exit $((fails > 0))
