#!/usr/bin/env bash
# make demo: a full register -> approve -> check-in cycle against the bundled loopback test server,
# in a scratch network namespace that is removed afterwards. Shows what an operator sees.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_tmpdir demo || exit 1
ns=netinv-demo-$$
ns_new "$ns" && ns_populate "$ns" || exit 1
x="ip netns exec $ns"
$x "$PYTHON" "$IT_DIR/server.py" "$dir/port" >/dev/null 2>&1 &
PIDS_STARTED+=("$!")
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$dir/port")
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/enrollment.key"
chmod 600 "$dir/enrollment.key"
export NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/enrollment.key NETINV_STATE_DIR=$dir/state
export NETINV_IMPORT_FROM=$dir/none
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step "netinv --register-only"
$x "$NETINV" --register-only
step "(the administrator approves the agent on the server)"
$x curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$dir/state/agent_uuid")\"}" "$URL/admin/approve"; echo
step "netinv            # the timer's run: stores the key, sends the first (full) report"
$x "$NETINV" --no-jitter
step "ip route add 198.18.0.0/15 via 192.0.2.1; netinv --check-in-only   # a change goes as a delta"
ip -n "$ns" route add 198.18.0.0/15 via 192.0.2.1
$x "$NETINV" --check-in-only
step "netinv status"
$x "$NETINV" status
step "what the server holds"
$x curl -s "$URL/admin/state"; echo
