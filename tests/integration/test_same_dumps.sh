#!/usr/bin/env bash
# Routes and neighbours not parsed when they are the same (netlink/collect.h): once two commits in a
# row held the same dump, a run dumps the table only to digest it and, when the digest is the one
# the acknowledged records came from, carries them (same_dump). Checked here on 3,000 routes of
# both families, one of them expiring (its RTA_EXPIRES moves every second): an unchanged table is
# carried with its count and no change; an added route, a changed gateway or protocol is found
# (the digest differs, the routes are dumped again and parsed); a state whose records are damaged
# behind an intact header, reports never confirmed and --full all mean the routes are parsed. Then
# on 500 neighbours: carried while a dynamic one goes from reachable to stale and while a NOARP
# multicast entry comes and goes; found when one is added, changes its address or fails; parsed
# again when a link is renamed.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_ns same || { notok "namespace"; exit 1; }
ip -n "$ns" link add m0 type veth peer name m1 && ip -n "$ns" link set m0 up && ip -n "$ns" link set m1 up &&
	ip -n "$ns" addr add 10.0.0.1/16 dev m0 || { notok "links"; exit 1; }
{
	for i in $(seq 0 2499); do echo "route add 10.$((100 + i / 256)).$((i % 256)).0/24 via 10.0.0.2"; done
	for i in $(seq 0 498); do echo "route add 2001:db8:$i::/64 via fe80::2 dev m0"; done
	echo "route add 2001:db8:ffff::/64 via fe80::2 dev m0 expires 3600"
} >"$dir/routes"
ip -n "$ns" -batch "$dir/routes" || { notok "routes"; exit 1; }
# the table under test ($TAB: routes, then neighbors) and its state directory ($S)
TAB=routes S=$dir/s
run() { $x "$NETINV" --compact --no-processes --only "$TAB" --state-dir "$S" "$@"; }
# "same count added changed removed full listed" of a dry run
look() {
	run --dry-run -o "$dir/d.json" "$@" 2>"$dir/derr" || { echo "fail $?: $(cat "$dir/derr")"; return; }
	"$PYTHON" - "$dir/d.json" "$TAB" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); st = d['metadata']['stats']; tab = sys.argv[2]
t, x = st['tables'][tab], st['delta'][tab]
print(t.get('same_dump', False), t['count'], x['added'], x['changed'], x['removed'], st['delta']['full_snapshot'],
      len(d[tab]))
PY
}
# the header's route (neighbour) digest and its repeat flag: "none", "once" or "repeated"
runs() { "$PYTHON" - "$S/acked.state" "${1:-routes}" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(128)
off, bit = (112, 2) if sys.argv[2] == "routes" else (120, 4)
d, = struct.unpack_from('<Q', b, off); f, = struct.unpack_from('<I', b, 36)
print("none" if not d else "repeated" if f & bit else "once")
PY
}
commit() { run --commit-dry-run -o /dev/null 2>"$dir/err" || notok "commit: $(cat "$dir/err")"; }

n6=$($x ip -6 -j route show table all | "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)))")
n4=$($x ip -4 -j route show table all | "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)))")
all=$((n4 + n6))
commit
[ "$(runs)" = once ] && ok "a first commit keeps the route digest" || notok "digest after one commit: $(runs)"
got=$(look)
[ "$got" = "False $all 0 0 0 False 0" ] && ok "one commit: the routes are parsed, nothing changed" || notok "after one commit: $got"
commit
[ "$(runs)" = repeated ] && ok "the same dump in a second commit: a repeat" || notok "digest after two commits: $(runs)"
sleep 1.1 # the expiring route's RTA_EXPIRES has moved
got=$(look)
[ "$got" = "True $all 0 0 0 False 0" ] &&
	ok "the same routes ($all, one expiring) are carried, not parsed: same_dump, no change" || notok "steady: $got"

# a change is found: the digest differs, the routes are dumped again and parsed
ip -n "$ns" route add 10.250.0.0/24 via 10.0.0.2
got=$(look)
[ "$got" = "False $((all + 1)) 1 0 0 False 1" ] && ok "an added route is found (dumped again, parsed)" || notok "added: $got"
ip -n "$ns" route del 10.250.0.0/24
ip -n "$ns" route replace 10.100.7.0/24 via 10.0.0.3
got=$(look)
# a single path's gateway is part of its identity: one route gone, one come
[ "$got" = "False $all 1 0 1 False 1" ] && ok "a changed gateway is found" || notok "gateway: $got"
ip -n "$ns" route replace 10.100.7.0/24 via 10.0.0.2 proto static
got=$(look)
[ "$got" = "False $all 0 1 0 False 1" ] && ok "a changed protocol is found" || notok "protocol: $got"
ip -n "$ns" route replace 10.100.7.0/24 via 10.0.0.2 proto boot
got=$(look)
[ "$got" = "True $all 0 0 0 False 0" ] && ok "back as it was: the same again" || notok "restored: $got"

# after a change is committed, two commits of the same dump before a run carries it again
ip -n "$ns" route add 10.251.0.0/24 via 10.0.0.2
commit
[ "$(runs)" = once ] || notok "digest after a changed commit: $(runs)"
got=$(look)
[ "$got" = "False $((all + 1)) 0 0 0 False 0" ] && ok "after a change is committed: parsed until it repeats" || notok "after change: $got"
commit
got=$(look)
[ "$got" = "True $((all + 1)) 0 0 0 False 0" ] && ok "repeated once: carried again" || notok "repeated: $got"

# what cannot stand for the dump: the routes are parsed
got=$(look --full)
[ "$got" = "False $((all + 1)) $((all + 1)) 0 0 True $((all + 1))" ] && ok "--full parses every route" || notok "--full: $got"
cp -a "$S" "$dir/keep"
"$PYTHON" -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2] ^= 0x10; open(p,'wb').write(b)" "$S/acked.state"
got=$(look)
[ "$got" = "False $((all + 1)) $((all + 1)) 0 0 True $((all + 1))" ] && grep -q "checksum" "$dir/derr" &&
	ok "a damaged state behind an intact header: the routes dumped again, a full snapshot" || notok "damaged: $got"
rm -rf "$S" && cp -a "$dir/keep" "$S"
cp "$S/acked.state" "$S/unconfirmed.state"
got=$(look)
[ "${got%% *}" = False ] && [ "$(echo "$got" | cut -d' ' -f2)" = $((all + 1)) ] &&
	ok "reports never confirmed: the routes are parsed ($got)" || notok "unconfirmed: $got"
rm -f "$S/unconfirmed.state"
got=$(look)
[ "$got" = "True $((all + 1)) 0 0 0 False 0" ] && ok "and carried again once they are gone" || notok "after unconfirmed: $got"

# neighbours: 500 permanent ones and one dynamic
{
	for i in $(seq 0 499); do
		printf 'neigh add 10.0.%d.%d lladdr 02:00:00:00:%02x:%02x dev m0 nud permanent\n' \
			$((1 + i / 250)) $((i % 250 + 1)) $((i / 256)) $((i % 256))
	done
	echo "neigh add 10.0.9.9 lladdr 02:00:00:00:09:09 dev m0 nud reachable"
} >"$dir/neigh"
ip -n "$ns" -batch "$dir/neigh" || { notok "neighbours"; exit 1; }
S_SAVE=$S S=$dir/n TAB=neighbors
run --commit-dry-run -o /dev/null 2>"$dir/err" || notok "neighbour commit: $(cat "$dir/err")"
base=$(look)
nn=$(echo "$base" | cut -d' ' -f2)
[ "$base" = "False $nn 0 0 0 False 0" ] && [ "$nn" -ge 501 ] || notok "neighbours after one commit: $base"
run --commit-dry-run -o /dev/null 2>"$dir/err" && [ "$(runs neigh)" = repeated ] ||
	notok "neighbour commits: $(cat "$dir/err") $(runs neigh)"
got=$(look)
[ "$got" = "True $nn 0 0 0 False 0" ] && ok "the same $nn neighbours are carried, not parsed" || notok "neighbours steady: $got"
ip -n "$ns" neigh change 10.0.9.9 lladdr 02:00:00:00:09:09 dev m0 nud stale
got=$(look)
[ "$got" = "True $nn 0 0 0 False 0" ] && ok "a neighbour going from reachable to stale is no change: still carried" ||
	notok "stale: $got"
ip -n "$ns" neigh add 10.0.9.10 lladdr 02:00:00:00:09:0a dev m0 nud permanent
got=$(look)
[ "$got" = "False $((nn + 1)) 1 0 0 False 1" ] && ok "an added neighbour is found" || notok "neighbour added: $got"
ip -n "$ns" neigh del 10.0.9.10 dev m0
ip -n "$ns" neigh change 10.0.1.5 lladdr 02:00:00:00:aa:bb dev m0 nud permanent
got=$(look)
[ "$got" = "False $nn 0 1 0 False 1" ] && ok "a changed link-layer address is found" || notok "lladdr: $got"
ip -n "$ns" neigh change 10.0.1.5 lladdr 02:00:00:00:00:04 dev m0 nud permanent
ip -n "$ns" neigh change 10.0.9.9 lladdr 02:00:00:00:09:09 dev m0 nud failed 2>/dev/null ||
	ip -n "$ns" neigh change 10.0.9.9 dev m0 nud failed
got=$(look)
[ "${got%% *}" = False ] && [ "$(echo "$got" | cut -d' ' -f4)" = 1 ] && ok "a neighbour that failed is found ($got)" ||
	notok "failed: $got"
ip -n "$ns" neigh change 10.0.9.9 lladdr 02:00:00:00:09:09 dev m0 nud reachable
got=$(look)
[ "$got" = "True $nn 0 0 0 False 0" ] && ok "back as it was: carried again" || notok "neighbours restored: $got"
# a multicast pseudo-neighbour (NUD_NOARP, left out of the snapshot) comes and goes: still carried
ip -n "$ns" neigh add ff02::99 lladdr 33:33:00:00:00:99 dev m0 nud noarp || notok "add a NOARP entry"
got=$(look)
[ "$got" = "True $((nn + 1)) 0 0 0 False 0" ] &&
	ok "a NOARP multicast entry appears: no change, still carried (the dump held $((nn + 1)))" || notok "noarp added: $got"
ip -n "$ns" neigh del ff02::99 dev m0
got=$(look)
[ "$got" = "True $nn 0 0 0 False 0" ] && ok "and goes: still carried" || notok "noarp removed: $got"
# a neighbour's identity names its device: the digest covers every link's name, so a renamed link
# (here one without neighbours, which a rename needs down) means the neighbours are parsed
ip -n "$ns" link add r0 type veth peer name r1 && ip -n "$ns" link set r0 name r0x || notok "rename a link"
got=$(look)
[ "$got" = "False $nn 0 0 0 False 0" ] && ok "a link renamed: the neighbours are parsed again, nothing changed" ||
	notok "rename: $got"
ip -n "$ns" link del r0x
got=$(look)
[ "$got" = "True $nn 0 0 0 False 0" ] && ok "the links as they were: carried again" || notok "after the rename: $got"
S=$S_SAVE TAB=routes

# check-ins against the loopback server: a quiet check-in commits nothing, so agent.status says
# the routes were found as acknowledged, and the next check-in carries them; the server's
# inventory still matches after a route changes
$x "$PYTHON" "$IT_DIR/server.py" "$dir/port" >"$dir/server.log" 2>&1 &
PIDS_STARTED+=("$!")
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$dir/port")
printf 'gaek_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n' >"$dir/ek" && chmod 600 "$dir/ek"
C=$dir/c
ci() { NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_LOG_LEVEL=debug \
	$x "$NETINV" --no-jitter --no-processes --only routes --state-dir "$C" "$@" 2>"$dir/cerr"; }
ci --register-only
$x curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$C/agent_uuid")\"}" "$URL/admin/approve" >/dev/null
ci && [ -s "$C/api_key" ] && ci --check-in-only && grep -q "^routes_seen=[0-9a-f]\{16\}$" "$C/agent.status" &&
	! grep -q "^routes_seen=0000000000000000$" "$C/agent.status" &&
	ok "a quiet check-in records the routes as found ($(grep routes_seen "$C/agent.status"))" ||
	notok "quiet check-in: $(cat "$dir/cerr") $(cat "$C/agent.status")"
ci --check-in-only && grep -q "routes dump was the acknowledged one.*records carried, not parsed" "$dir/cerr" &&
	ok "the next check-in carries them: $(grep -o '[0-9]* records carried, not parsed' "$dir/cerr")" ||
	notok "third check-in: $(cat "$dir/cerr")"
ip -n "$ns" route add 10.252.0.0/24 via 10.0.0.2
ci --check-in-only && ! grep -q "not parsed" "$dir/cerr" && grep -q "^routes_seen=0000000000000000$" "$C/agent.status" &&
	ok "a check-in with a changed route parses them and clears the hint" || notok "changed check-in: $(cat "$dir/cerr")"
UUID=$(cat "$C/agent_uuid")
$x "$NETINV" --dry-run --full --compact --no-processes --only routes -o "$dir/full.json" 2>/dev/null
$x curl -s "$URL/admin/inventory?agent_uuid=$UUID" >"$dir/inv.json"
"$PYTHON" - "$dir/full.json" "$dir/inv.json" "$IT_DIR" <<'PY' && ok "the server's routes match a full snapshot" || notok "server inventory differs"
import json, sys
sys.path.insert(0, sys.argv[3])
from server import ident
full = json.load(open(sys.argv[1])); inv = json.load(open(sys.argv[2]))
a = {json.dumps(ident("routes", r), default=str) for r in full["routes"]}
b = {json.dumps(ident("routes", r), default=str) for r in inv.get("routes", [])}
print(len(a), len(b), sorted(a - b)[:2], sorted(b - a)[:2])
sys.exit(0 if a == b and len(a) > 3000 else 1)
PY
exit $((fails > 0))
