#!/usr/bin/env bash
# Deltas in a namespace: after a baseline is acknowledged, each kind of change shows up exactly once
# (added, changed, removed with its key), unchanged tables cost nothing, TIME_WAIT and reconnecting
# clients are kept out as documented, and a no-change report stays under 1 KiB of gzip.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP
it_tmpdir delta || exit 1
ns=netinv-delta-$$
ns_new "$ns" && ns_populate "$ns" && ns_sockets "$ns" || { notok "build the namespace"; exit 1; }
x="ip netns exec $ns"
S=$dir/s
sleep 1 # let the namespace's own neighbour entries settle
run() { $x "$NETINV" --compact --import-from "$dir/none" --state-dir "$S" "$@"; }

# a dry run that commits nothing builds its full snapshot without identities: the same report
run --dry-run --no-processes --state-dir "$dir/fresh" -o "$dir/unkeyed.json" 2>/dev/null &&
	run --commit-dry-run --no-processes --state-dir "$dir/fresh" -o "$dir/keyed.json" 2>/dev/null ||
	{ notok "full snapshots"; exit 1; }
"$PYTHON" - "$dir/unkeyed.json" "$dir/keyed.json" <<'PY' && ok "a full dry run without identities reports what a committing one does" ||
import json, sys
u, k = (json.load(open(p)) for p in sys.argv[1:3])
assert u["full_snapshot"] and k["full_snapshot"]
n = 0
for key in ("links", "addresses", "neighbors", "routes", "connections", "listeners", "rules", "nexthops"):
    assert u[key] == k[key], key
    n += len(u[key])
assert n > 20, n
assert u["metadata"]["stats"]["delta"]["routes"] == k["metadata"]["stats"]["delta"]["routes"]
PY
	notok "the unkeyed full dry run differs from the committing one"

run --commit-dry-run -o "$dir/base.json" 2>/dev/null || { notok "baseline commit"; exit 1; }
run --dry-run -o "$dir/none.json" 2>/dev/null
"$PYTHON" - "$dir/none.json" <<'PY' && ok "nothing changed: every list empty, nothing removed" || notok "a no-change delta is not empty"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["full_snapshot"] is False
for k in ("links", "addresses", "neighbors", "routes", "connections", "listeners", "rules", "nexthops"):
    assert r[k] == [], (k, r[k])
    assert r["removed"][k] == [], (k, r["removed"][k])
PY
run --dry-run --gzip -o "$dir/none.gz" 2>/dev/null
size=$(stat -c %s "$dir/none.gz")
[ "$size" -lt 1024 ] && ok "no-change report: $size bytes of gzip" || notok "no-change report is $size bytes of gzip"

# one change of each kind
ip -n "$ns" route add 203.0.113.128/25 via 192.0.2.1 metric 7
ip -n "$ns" route del 10.66.0.0/16
ip -n "$ns" route change 203.0.113.0/24 via 192.0.2.1 metric 100 proto bird
ip -n "$ns" addr add 192.0.2.77/24 dev up0
ip -n "$ns" addr del 198.51.100.1/24 dev vA
ip -n "$ns" neigh change 192.0.2.20 lladdr 02:00:00:00:99:99 dev up0 nud permanent
ip -n "$ns" link set vA mtu 1300
run --dry-run -o "$dir/d1.json" 2>/dev/null
if "$PYTHON" - "$dir/d1.json" "$here/validate.py" "$top/report/schema/report.schema.json" <<'PY'; then
import json, subprocess, sys
r = json.load(open(sys.argv[1]))
st = r["metadata"]["stats"]["delta"]
def one(lst, pred):
    m = [x for x in r[lst] if pred(x)]
    assert len(m) == 1, (lst, r[lst])
    return m[0]
new = one("routes", lambda x: x["destination"] == "203.0.113.128/25")
assert new["metric"] == 7
chg = one("routes", lambda x: x["destination"] == "203.0.113.0/24")
assert chg["protocol"] == "bird"
# the kernel adds its own consequences (a local route for the new address, a multipath hop marked
# dead once vA lost its subnet): those are real changes too, reported once each
mp = one("routes", lambda x: x["destination"] == "10.200.0.0/16")
assert any(h["flags"] & 1 for h in mp["nexthops"]), mp  # RTNH_F_DEAD
one("routes", lambda x: x["destination"] == "192.0.2.77/32" and x["table"] == "local")
rm = r["removed"]["routes"]
assert [k for k in rm if k["destination"] == "10.66.0.0/16" and k["type"] == "blackhole"], rm
assert not [k for k in rm if k["destination"].startswith("203.0.113.")], rm
assert st["routes"]["added"] >= 2 and st["routes"]["changed"] >= 2 and st["routes"]["removed"] >= 1, st["routes"]
assert st["routes"]["added"] + st["routes"]["changed"] == len(r["routes"])
# an address added and one removed (the kernel may also drop the secondary's route; only count ours)
one("addresses", lambda x: x["ip_address"] == "192.0.2.77")
assert [a for a in r["removed"]["addresses"] if a["ip_address"] == "198.51.100.1" and a["interface"] == "vA"], r["removed"]
n = one("neighbors", lambda x: x["ip_address"] == "192.0.2.20")
assert n["mac_address"] == "02:00:00:00:99:99"
l = one("links", lambda x: x["name"] == "vA")
assert l["mtu"] == 1300 and len(r["links"]) == 1, r["links"]
assert r["connections"] == [] and r["listeners"] == [], "sockets did not change"
sys.exit(subprocess.call([sys.executable, sys.argv[2], sys.argv[3], sys.argv[1]]))
PY
	ok "one change of each kind, each reported once (added, changed, removed key), schema-valid"
else
	notok "delta of known changes"
fi
# routing policy and nexthop objects: a rule added and one removed (a rule has no in-place
# change: its id is its every field), a nexthop object changed and one removed
run --commit-dry-run -o /dev/null 2>/dev/null
ip -n "$ns" rule add from 10.5.0.0/16 table 105 pref 1500
ip -n "$ns" rule del pref 1001
ip -n "$ns" nexthop replace id 12 via 192.0.2.99 dev up0 onlink
ip -n "$ns" nexthop del id 14
ip -n "$ns" link set vB type bridge_slave cost 99
ip -n "$ns" link set up0p txqueuelen 500
run --dry-run -o "$dir/dr.json" 2>/dev/null
if "$PYTHON" - "$dir/dr.json" "$dir/base.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
base = json.load(open(sys.argv[2]))
st = r["metadata"]["stats"]["delta"]
assert [x["priority"] for x in r["rules"]] == [1500], r["rules"]
assert r["rules"][0]["src"] == "10.5.0.0/16" and r["rules"][0]["table_id"] == 105
gone = [x["id"] for x in base["rules"] if x["priority"] == 1001]
assert [k["id"] for k in r["removed"]["rules"]] == gone, (r["removed"]["rules"], gone)
assert st["rules"] == {"added": 1, "changed": 0, "removed": 1, "unchanged": len(base["rules"]) - 1, "filtered": 0}, st["rules"]
assert [(n["id"], n["gateway"]) for n in r["nexthops"]] == [(12, "192.0.2.99")], r["nexthops"]
assert r["removed"]["nexthops"] == [{"id": 14}], r["removed"]["nexthops"]
assert st["nexthops"]["changed"] == 1 and st["nexthops"]["removed"] == 1 and st["nexthops"]["added"] == 0
# link details: a bridge port's cost and a queue length, each link reported once with its new value
links = {l["name"]: l for l in r["links"]}
assert sorted(links) == ["up0p", "vB"], sorted(links)
assert links["vB"]["linkinfo"]["info_slave_data"]["cost"] == 99, links["vB"]
assert links["up0p"]["txqlen"] == 500
assert st["links"]["changed"] == 2 and st["links"]["added"] == 0, st["links"]
PY
	ok "rules, nexthop objects and link details: a rule added and one removed (by id), a nexthop changed and one removed, a bridge port's cost and a queue length, once each"
else
	notok "delta of rules and nexthops"
fi
run --commit-dry-run -o /dev/null 2>/dev/null
run --dry-run -o "$dir/d2.json" 2>/dev/null
"$PYTHON" -c "import json; r=json.load(open('$dir/d2.json')); assert not r['routes'] and not r['removed']['routes']" &&
	ok "after acknowledging, the same changes are not sent again" || notok "changes sent twice"

# --full ignores the acknowledged state
run --dry-run --full -o "$dir/full.json" 2>/dev/null
"$PYTHON" -c "import json; r=json.load(open('$dir/full.json')); assert r['full_snapshot'] and len(r['routes'])>20 and 'removed' not in r" &&
	ok "--full sends everything" || notok "--full"

# TIME_WAIT: the side that closes first keeps a TIME_WAIT socket for 60 s
$x "$PYTHON" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 7777)); s.listen()
c = socket.create_connection(('127.0.0.1', 7777)); a, _ = s.accept()
a.close(); time.sleep(0.1); c.close()
s.close()
"
run --dry-run -o "$dir/tw.json" 2>/dev/null
run --dry-run --include-time-wait -o "$dir/tw2.json" 2>/dev/null
"$PYTHON" - "$dir/tw.json" "$dir/tw2.json" <<'PY' && ok "TIME_WAIT left out by default, reported with --include-time-wait" || notok "TIME_WAIT handling"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
tw = lambda r: [c for c in r["connections"] if c["state"] == "time_wait"]
assert not tw(a), tw(a)
assert tw(b), b["connections"]
assert a["metadata"]["stats"]["delta"]["sockets"]["filtered"] >= 1
PY

# flow keying: a client that reconnects (new ephemeral port) is no change; with exact keying it is.
# A server that closes each connection when its client does, and clients that close cleanly, so
# no half-closed socket is left behind (the client's TIME_WAIT is filtered).
cat >"$dir/flow.py" <<'PY'
import signal, socket, sys, threading, time
if sys.argv[1] == "server":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 9500)); s.listen()
    print("up", flush=True)
    def serve(c):
        while c.recv(100): pass
        c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
# a long-running client that opens a new connection on SIGUSR1 (a new ephemeral port)
conn = [socket.create_connection(("127.0.0.1", 9500))]
def close():
    c = conn[0]; c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
def again(*_):
    close(); conn[0] = socket.create_connection(("127.0.0.1", 9500)); print("again", flush=True)
def bye(*_):
    close(); sys.exit(0)
signal.signal(signal.SIGTERM, bye)
signal.signal(signal.SIGUSR1, again)
print("up", flush=True)
while True: time.sleep(1)
PY
start_py() { # name args...
	local n=$1
	shift
	$x "$PYTHON" "$dir/flow.py" "$@" >"$dir/py.$n" &
	PIDS_STARTED+=("$!")
	for _ in $(seq 50); do grep -q up "$dir/py.$n" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
stop_last() { kill "${PIDS_STARTED[-1]}"; wait "${PIDS_STARTED[-1]}" 2>/dev/null; sleep 0.3; }
reconnect() { # the client is the python child of `ip netns exec`, which execs: same pid
	kill -USR1 "${PIDS_STARTED[-1]}"
	for _ in $(seq 50); do grep -q again "$dir/py.$1" 2>/dev/null && break; sleep 0.1; done
	sleep 0.3
}
start_py server server
S=$dir/flow
start_py c1 client
run --commit-dry-run --connection-keying flow -o /dev/null 2>/dev/null
reconnect c1
run --dry-run --connection-keying flow -o "$dir/flow.json" 2>/dev/null
stop_last
S=$dir/exact
start_py c2 client
run --commit-dry-run -o /dev/null 2>/dev/null
reconnect c2
run --dry-run -o "$dir/exact.json" 2>/dev/null
"$PYTHON" - "$dir/flow.json" "$dir/exact.json" <<'PY' && ok "connection_keying=flow: a reconnect is no change; exact: new socket + removed key" || notok "flow keying"
import json, sys
f = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
client = lambda r: [c for c in r["connections"] if c["remote_port"] == 9500]
# flow keying: the reconnected client is the same flow, nothing to send (the served side, local
# port 9500, is keyed exactly: a new client is a new served connection)
assert not client(f), client(f)
assert not [k for k in f["removed"]["connections"] if k["remote_port"] == 9500], f["removed"]
assert len(client(e)) == 1, e["connections"]
assert [k for k in e["removed"]["connections"] if k["remote_port"] == 9500], e["removed"]
PY
exit $((fails > 0))
