#!/usr/bin/env bash
# netinv --dry-run in a namespace of known state must agree record for record with ip -json and ss
# run in the same namespace, and validate against the published JSON Schema.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP

ns=netinv-it-$$
it_tmpdir it || exit 1
ns_new "$ns" && ns_populate "$ns" && ns_sockets "$ns" || { notok "build the namespace"; exit 1; }
# let IPv6 multicast neighbour entries settle before comparing
sleep 1

snap() { ip_snapshot "$dir" ip netns exec "$ns"; }

agree=0
for attempt in 1 2 3; do
	ip netns exec "$ns" "$NETINV" --dry-run --compact -o "$dir/report.json" 2>"$dir/stderr" ||
		{ notok "netinv --dry-run exit $?: $(cat "$dir/stderr")"; break; }
	snap
	if "$PYTHON" "$here/compare.py" "$dir/report.json" "$dir" >"$dir/compare.txt"; then
		agree=1
		break
	fi
	sleep 1 # the namespace may still have been settling (DAD, multicast joins): try again
done
if [ "$agree" = 1 ]; then
	ok "report agrees with ip -json and ss record for record ($(tail -1 "$dir/compare.txt"))"
else
	cat "$dir/compare.txt"
	notok "report disagrees with ip -json / ss"
fi

# IPv6 on a veth pair: the kernel's multicast mappings (ff02::1, ff02::2, ff02::16, solicited-node
# ff02::1:ffXX:XXXX, all NOARP with 33:33:.. addresses) are not neighbours; --all-neighbors lists
# them as `ip neigh show nud all` does, and the default counts what it left out
agree=0
for attempt in 1 2 3; do
	ip netns exec "$ns" "$NETINV" --dry-run --compact --all-neighbors -o "$dir/all.json" 2>/dev/null &&
		ip netns exec "$ns" "$NETINV" --dry-run --compact -o "$dir/report.json" 2>/dev/null
	snap
	mkdir -p "$dir/all" && cp "$dir"/*.json "$dir"/*.txt "$dir/all/" && cp "$dir/neighall.json" "$dir/all/neigh.json"
	if NETINV_COMPARE_ONLY=neighbours "$PYTHON" "$here/compare.py" "$dir/all.json" "$dir/all" >"$dir/compare.txt" &&
		NETINV_COMPARE_ONLY=neighbours "$PYTHON" "$here/compare.py" "$dir/report.json" "$dir" >>"$dir/compare.txt"; then
		agree=1
		break
	fi
	sleep 1
done
counts=$("$PYTHON" - "$dir/report.json" "$dir/all.json" "$dir/neighall.json" <<'PY'
import json, sys
rep, al, kern = (json.load(open(p)) for p in sys.argv[1:4])
noarp = [n for n in kern if "NOARP" in n["state"]]
mcast = [n for n in noarp if n["dst"].startswith("ff02:")]
filtered = rep["metadata"]["stats"]["delta"]["neighbors"]["filtered"]
assert mcast, "no multicast mappings to test with"
assert filtered == len(noarp), (filtered, len(noarp))
assert not [n for n in rep["neighbors"] if n["ip_address"].startswith("ff02:")]
assert len([n for n in al["neighbors"] if n["ip_address"].startswith("ff02:")]) == len(mcast)
print(len(mcast), filtered)
PY
)
if [ "$agree" = 1 ] && [ -n "$counts" ]; then
	ok "neighbours: as ip neigh show by default ($(echo "$counts" | cut -d' ' -f2) NOARP entries left out and counted), as ip neigh show nud all with --all-neighbors ($(echo "$counts" | cut -d' ' -f1) multicast mappings)"
else
	cat "$dir/compare.txt"
	notok "neighbour filtering: $counts"
fi

# names from an iproute2 configuration of the test's own: a table id beyond 255, a protocol and a
# rule's table, with the number beside each name
mkdir -p "$dir/ipr2/rt_tables.d"
printf '255 local\n254 main\n1000 peering # 32-bit id\n' >"$dir/ipr2/rt_tables"
printf '100 isp-a\n' >"$dir/ipr2/rt_tables.d/isp.conf"
printf '12 birdie\n' >"$dir/ipr2/rt_protos"
printf '3 campus-a\n' >"$dir/ipr2/rt_realms"
ip netns exec "$ns" "$NETINV" --dry-run --compact --iproute2-dir "$dir/ipr2" -o "$dir/names.json" 2>"$dir/names.err"
if "$PYTHON" - "$dir/names.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
rt = [x for x in r["routes"] if x["destination"] == "10.100.0.0/16"][0]
assert (rt["table"], rt["table_id"], rt["protocol"], rt["protocol_id"]) == ("peering", 1000, "birdie", 12), rt
assert [x for x in r["routes"] if x["table"] == "isp-a" and x["table_id"] == 100], "table 100"
assert [x for x in r["rules"] if x.get("table") == "isp-a" and x["table_id"] == 100], "rule table 100"
fl = [x for x in r["routes"] if x["destination"] == "10.83.0.0/16"][0]["flow"]
assert fl == {"from": "campus-a", "from_id": 3, "to": "4", "to_id": 4}, fl
PY
	ok "names from --iproute2-dir: table 1000 is 'peering', table 100 'isp-a' (routes and rules), protocol 12 'birdie', realm 3 'campus-a', numbers beside"
else
	notok "iproute2 names: $(cat "$dir/names.err")"
fi

if "$PYTHON" "$here/validate.py" "$top/report/schema/report.schema.json" "$dir/report.json"; then
	ok "namespace report validates against report.schema.json"
else
	notok "namespace report does not validate against the schema"
fi

# The wildcard rule: no unspecified local_ip among connections, ever.
if "$PYTHON" - "$dir/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [c for c in r["connections"] if c["local_ip"] in ("0.0.0.0", "::", "::ffff:0.0.0.0")]
ports = {(l["protocol"], l["local_port"]) for l in r["listeners"]}
assert not bad, bad
assert ("tcp", 8080) in ports and ("tcp", 8443) in ports and ("udp", 5353) in ports, ports
assert any(c["local_port"] == 9000 and c["state"] == "listen" for c in r["connections"])
PY
then ok "wildcard sockets are listeners, never connections"; else notok "wildcard rule"; fi

# --only selects tables; a list not collected is left out (never an empty list), the metadata
# names the tables collected, and the report still validates
ip netns exec "$ns" "$NETINV" --dry-run --compact --only sockets --full -o "$dir/only.json" 2>/dev/null
if "$PYTHON" - "$dir/only.json" <<'PY' && "$PYTHON" "$here/validate.py" "$top/report/schema/report.schema.json" "$dir/only.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["full_snapshot"] is True
assert r["connections"] or r["listeners"], "the sockets"
for k in ("links", "addresses", "neighbors", "routes", "rules", "nexthops", "namespaces"):
    assert k not in r, k
assert r["metadata"]["tables_collected"] == ["sockets"], r["metadata"]["tables_collected"]
assert set(r["metadata"]["stats"]["tables"]) == {"links", "sockets"}, r["metadata"]["stats"]["tables"]
PY
then ok "--only sockets --full: the other lists left out, tables_collected says sockets"; else notok "--only sockets"; fi
exit $((fails > 0))
