#!/usr/bin/env bash
# A busy host's first check-in against replies shaped like the Graphēon server's: the bench's
# medium namespace (100 addresses, 10,000 routes, 2,000 neighbours, about 2,000 sockets) sent under
# the default policy (262,144-byte parts), each accepted part answered with every address of the
# part echoed three times. Every part is read and accepted, the run exits 0, the server's
# inventory matches the host, and the largest reply is far past the old 64 KiB cap.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_tmpdir busy || exit 1
ns=netinv-busy-$$
NS_CREATED+=("$ns")
x="ip netns exec $ns"
# bench.build creates the namespace and its socket holder; the holder ends with this helper
mkfifo "$dir/ready"
"$PYTHON" - "$ns" "$IT_TOP/tests/bench" >"$dir/ready" 2>"$dir/build.log" <<'PY' &
import os, signal, sys
sys.path.insert(0, sys.argv[2])
import bench
holder = bench.build(sys.argv[1], "medium")
def stop(*_):
    if holder:
        holder.kill()
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
signal.pause()
PY
PIDS_STARTED+=("$!")
read -r line <"$dir/ready"
[ "$line" = ready ] || { notok "build the medium namespace: $(tail -3 "$dir/build.log")"; exit 1; }
# no IPv6 on the bench's links: the kernel's multicast neighbour entries would otherwise appear in
# the middle of the run, and the comparison is about what was sent, not about a moving host
$x sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.b0.disable_ipv6=1 net.ipv6.conf.b1.disable_ipv6=1
server_start http || { notok "start the test server"; exit 1; }
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek" && chmod 600 "$dir/ek"
S=$dir/state
export NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_STATE_DIR=$S NETINV_TIMEOUT=30
export NETINV_IMPORT_FROM=$dir/none
$x "$NETINV" --no-jitter --register-only 2>>"$dir/log"
UUID=$(cat "$S/agent_uuid")
$x curl -s -X POST -d "{\"agent_uuid\":\"$UUID\"}" "$URL/admin/approve" >/dev/null
$x "$NETINV" --no-jitter --no-processes 2>"$dir/err"
rc=$?
cat "$dir/err" >>"$dir/log"
parts=$(sed -n 's/.*; \([0-9]*\) parts accepted.*/\1/p' "$dir/err")
maxreply=$($x curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['stats']['max_reply_bytes'])")
if [ "$rc" = 0 ] && [ "${parts:-0}" -ge 4 ] && [ "$maxreply" -gt 65536 ]; then
	ok "medium host, first check-in: exit 0 in $parts parts, largest reply $maxreply bytes"
else
	notok "medium host, first check-in: exit $rc, ${parts:-?} parts, largest reply $maxreply; $(tail -3 "$dir/err")"
fi
compare_inventory && ok "medium host: the server's inventory matches the host" ||
	notok "medium host: the inventory differs"
# a steady run afterwards: nothing to resend, one small part
$x "$NETINV" --no-jitter --no-processes --check-in-only 2>"$dir/err"
rc=$?
[ "$rc" = 0 ] && grep -q "1 part accepted" "$dir/err" && ok "medium host: the next run is one part" ||
	notok "medium host, steady run: exit $rc $(tail -2 "$dir/err")"
exit $((fails > 0))
