#!/usr/bin/env bash
# Dump consistency under churn: routes are added and removed continuously in a scratch namespace while
# netinv collects. Every report must hold each route once, the retry count must stay within the
# budget, and the stability check must notice the churn (a retry or an inconsistent mark) rather than
# silently report a torn table.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP
it_tmpdir churn || exit 1
ns=netinv-churn-$$
ns_new "$ns" || { notok "namespace"; exit 1; }
ip -n "$ns" link add c0 type veth peer name c1 && ip -n "$ns" link set c0 up && ip -n "$ns" link set c1 up &&
	ip -n "$ns" addr add 10.0.0.1/16 dev c0 || { notok "links"; exit 1; }
for i in $(seq 0 3999); do echo "route add 10.$((100 + i / 250)).$((i % 250)).0/24 via 10.0.0.2"; done >"$dir/base"
ip -n "$ns" -batch "$dir/base" || { notok "base routes"; exit 1; }
for i in $(seq 0 499); do echo "route add 10.200.$((i / 250)).$((i % 250))/32 via 10.0.0.3"; done >"$dir/add"
sed 's/^route add/route del/' "$dir/add" >"$dir/del"

# bounded churn: at most 60 s, killed by the trap in any case
( end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do
	ip -n "$ns" -batch "$dir/add" 2>/dev/null; ip -n "$ns" -batch "$dir/del" 2>/dev/null; done ) &
PIDS_STARTED+=("$!")
sleep 0.3

noticed=0 runs=0 bad=0
for run in $(seq 1 40); do
	runs=$run
	ip netns exec "$ns" "$NETINV" --dry-run --compact --only routes -o "$dir/r.json" 2>"$dir/err" ||
		{ bad=1; notok "run $run exit $?: $(cat "$dir/err")"; break; }
	res=$("$PYTHON" - "$dir/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
st = r["metadata"]["stats"]["tables"]["routes"]
keys = [json.dumps(x, sort_keys=True) for x in r["routes"]]
dups = len(keys) - len(set(keys))
base = sum(1 for x in r["routes"] if x["destination"].startswith("10.") and x["destination"].endswith("/24")
           and x["gateway"] == "10.0.0.2")
print(dups, st["attempts"], int(st["inconsistent"]), base)
PY
)
	read -r dups attempts inconsistent base <<<"$res"
	if [ "$dups" != 0 ] || [ "$attempts" -lt 1 ] || [ "$attempts" -gt 4 ]; then
		bad=1
		notok "run $run: $dups duplicate routes, $attempts attempts"
	fi
	# a stable dump never loses an untouched route; an inconsistent one is flagged as such
	if [ "$inconsistent" = 0 ] && [ "$base" != 4000 ]; then
		bad=1
		notok "run $run: a dump judged stable lost untouched routes ($base of 4000)"
	fi
	if [ "$attempts" -gt 1 ] || [ "$inconsistent" = 1 ]; then noticed=$((noticed + 1)); fi
	[ $noticed -ge 3 ] && [ $run -ge 10 ] && break
done
[ "$bad" = 0 ] && ok "$runs runs under churn: no duplicate routes, attempts within 1..4, stable dumps complete"
[ $noticed -ge 1 ] && ok "the stability check noticed the churn in $noticed of $runs runs" ||
	notok "churn never noticed in $runs runs"
exit $((fails > 0))
