#!/usr/bin/env bash
# Allocation failures: for every N, the N-th allocation netinv's own code makes fails (ASan + UBSan
# build, tests/tools/allocfail.c), across a whole dry run, a steady-state commit and a check-in
# against the loopback server. Each run ends in success or a clean error (one "netinv: error:" line,
# an exit code below 128), never a crash, a sanitizer report or a leak, and what was committed is
# never lost: a run that fails leaves acked.state as it was.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
top=$IT_TOP
case $NETINV in */build/netinv) ;; *) echo "# allocation failures are tested with the normal build's sources only"; exit 0 ;; esac
make -C "$top" -s build-alloc/netinv >/dev/null 2>&1 || { notok "build build-alloc/netinv"; exit 1; }
AF=$top/build-alloc/netinv
it_ns alloc || { notok "namespace"; exit 1; }
ns_populate "$ns" && ns_sockets "$ns" || { notok "populate the namespace"; exit 1; }
server_start http || { notok "start the server"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
export NETINV_SERVER_URL=$URL NETINV_TIMEOUT=5 NETINV_IMPORT_FROM=$dir/none
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek" && chmod 600 "$dir/ek"
export NETINV_ENROLLMENT_KEY_FILE=$dir/ek

# what a run that did without the failed allocation must still have got right (none by default)
verify() { true; }
# sweep NAME STATE-DIR ARGS...: run once counting allocations, then once per N
sweep() {
	local name=$1 st=$2 n bad=0 okruns=0 errs=0 i rc before after
	shift 2
	$x env NETINV_ALLOC_COUNT="$dir/count" "$AF" --state-dir "$st" "$@" >/dev/null 2>"$dir/base.err" ||
		{ notok "$name: the run without a failure: $(tail -2 "$dir/base.err")"; return; }
	n=$(cat "$dir/count")
	before=$(sha256sum "$st/acked.state" 2>/dev/null | cut -c1-64)
	rm -rf "$dir/keep"
	[ -d "$st" ] && cp -a "$st" "$dir/keep"
	for i in $(seq 1 "$n"); do
		$x env NETINV_ALLOC_FAIL="$i" "$AF" --state-dir "$st" "$@" >/dev/null 2>"$dir/err"
		rc=$?
		after=$(sha256sum "$st/acked.state" 2>/dev/null | cut -c1-64)
		if [ $rc -ge 128 ] || grep -q "Sanitizer\|runtime error" "$dir/err"; then
			bad=$((bad + 1))
			echo "# $name N=$i: exit $rc $(grep -m2 -E 'ERROR|runtime error|SUMMARY' "$dir/err")"
		elif [ $rc != 0 ]; then
			errs=$((errs + 1))
			if [ "$after" != "$before" ] || ! grep -q "^netinv: error: " "$dir/err"; then
				bad=$((bad + 1))
				echo "# $name N=$i: exit $rc, state $([ "$after" = "$before" ] && echo kept || echo CHANGED): $(tail -2 "$dir/err" | tr '\n' '|')"
			fi
		elif ! verify "$st"; then
			bad=$((bad + 1))
			echo "# $name N=$i: succeeded, but $(cat "$dir/verify.txt")"
		else
			okruns=$((okruns + 1))
		fi
		# every run starts from the same state
		rm -rf "$st"
		[ -d "$dir/keep" ] && cp -a "$dir/keep" "$st"
	done
	[ $bad = 0 ] && ok "$name: each of its $n allocations failed in turn: $errs clean errors, $okruns runs that did without, no crash, leak or lost state" ||
		notok "$name: $bad of $n failed allocations mishandled"
}

# a dry run that succeeded reports every record the run without a failure reports
$x "$NETINV" --dry-run --compact --state-dir "$dir/s0" -o "$dir/want.json" 2>/dev/null
counts() { "$PYTHON" -c "import json,sys; t=json.load(open(sys.argv[1]))['metadata']['stats']['tables']; print({k: v['count'] for k, v in t.items() if k != 'sockets'})" "$1"; }
verify() { [ "$(counts "$dir/out.json")" = "$(counts "$dir/want.json")" ] || { echo "records $(counts "$dir/out.json")" >"$dir/verify.txt"; return 1; }; }
sweep "dry run" "$dir/s0" --dry-run --compact -o "$dir/out.json"
# a commit that succeeded holds every record: the next delta is empty
verify() {
	$x "$NETINV" --dry-run --compact --state-dir "$1" -o "$dir/next.json" 2>/dev/null
	"$PYTHON" - "$dir/next.json" >"$dir/verify.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["metadata"]["stats"]["delta"]
n = {t: v["added"] + v["changed"] + v["removed"] for t, v in d.items() if isinstance(v, dict) and t != "sockets"}
if any(n.values()):
    print("the next delta is not empty:", n)
    sys.exit(1)
PY
}
$x "$NETINV" --state-dir "$dir/s1" --commit-dry-run -o /dev/null 2>/dev/null
ip -n "$ns" route add 203.0.113.128/25 via 192.0.2.1 metric 7
sweep "steady-state commit" "$dir/s1" --commit-dry-run --gzip -o /dev/null
verify() { true; }
$x "$NETINV" --no-jitter --state-dir "$dir/s2" --register-only 2>/dev/null
$x curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$dir/s2/agent_uuid")\"}" "$URL/admin/approve" >/dev/null
$x "$NETINV" --no-jitter --state-dir "$dir/s2" 2>/dev/null
ip -n "$ns" route add 203.0.113.0/26 via 192.0.2.1 metric 9
sweep "check-in" "$dir/s2" --no-jitter --check-in-only --force
exit $((fails > 0))
