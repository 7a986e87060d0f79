# Shared helpers for netinv's namespace tests: build a scratch network namespace with known links,
# addresses, neighbours, routes and sockets, and tear it down whatever happens. Source it; callers
# register cleanup with `trap ns_cleanup_all EXIT`.

PYTHON=${PYTHON:-/usr/bin/python3}
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_TOP=$(cd "$IT_DIR/../.." && pwd)
NETINV=$(realpath -m "${NETINV:-$IT_TOP/build/netinv}")
fails=0
[ -x "$PYTHON" ] || PYTHON=python3
NS_CREATED=()
PIDS_STARTED=()
TMP_CREATED=()
# Hermetic by default: every netinv run of a test reads this empty configuration and this state
# directory unless the test names others, so a host where netinv is installed and configured
# (/etc/netinv, /var/lib/netinv) neither changes a result nor is touched. Readable by the other
# users some tests run netinv as; removed with the test's other scratch directories.
IT_SCRATCH=$(mktemp -d /tmp/netinv-it.XXXXXX) && chmod 0755 "$IT_SCRATCH" && : >"$IT_SCRATCH/netinv.conf" &&
	chmod 0644 "$IT_SCRATCH/netinv.conf" && TMP_CREATED+=("$IT_SCRATCH")
export NETINV_CONFIG=$IT_SCRATCH/netinv.conf NETINV_STATE_DIR=$IT_SCRATCH/state
export NETINV_IMPORT_FROM=$IT_SCRATCH/no-grapheon-agent
# The tests read their own scratch namespace; test_namespaces.sh asks for every namespace itself.
export NETINV_NAMESPACES=host

ns_cleanup_all() {
	local p n d
	for p in "${PIDS_STARTED[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for n in "${NS_CREATED[@]}"; do ip netns del "$n" 2>/dev/null; done
	for d in "${TMP_CREATED[@]}"; do rm -rf "$d"; done
	PIDS_STARTED=() NS_CREATED=() TMP_CREATED=()
}
# The scratch directory above goes whatever the test does, also when it stops before setting a
# trap of its own (every test's own cleanup calls ns_cleanup_all).
trap ns_cleanup_all EXIT


# TAP-like result lines, counted by tests/run.sh; scripts end with `exit $((fails > 0))`.
ok() { echo "ok - $*"; }
notok() {
	echo "not ok - $*"
	fails=$((fails + 1))
}

# A scratch directory in $dir, removed by ns_cleanup_all. Not to be called in $(...): the cleanup
# list must be extended in this shell.
it_tmpdir() {
	dir=$(mktemp -d "/tmp/netinv-$1.XXXXXX") || return 1
	TMP_CREATED+=("$dir")
}

# A test's scratch directory and namespace: sets dir, ns and x (the prefix that runs in ns).
it_ns() {
	it_tmpdir "$1" || return 1
	ns=netinv-$1-$$
	ns_new "$ns" || return 1
	x="ip netns exec $ns"
}

# A self-signed certificate for 127.0.0.1 in $dir (cert.pem, key.pem), for a TLS test server.
tls_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=netinv-test" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
}

# The loopback test server in $ns (extra arguments go to server.py); sets URL with scheme $1.
server_start() {
	local scheme=$1
	shift
	$x "$PYTHON" "$IT_DIR/server.py" "$dir/port" "$@" >"$dir/server.log" 2>&1 &
	PIDS_STARTED+=("$!")
	for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
	[ -s "$dir/port" ] && URL=$scheme://127.0.0.1:$(cat "$dir/port")
}

ns_new() {
	local ns=$1
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns" || return 1
	NS_CREATED+=("$ns")
	# No duplicate address detection in scratch namespaces: addresses would otherwise change from
	# tentative to permanent a second or two after creation, in the middle of a test.
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 ||
		return 1
	ip -n "$ns" link set lo up
}

# The known state. Addresses are from the documentation ranges (RFC 5737, RFC 3849) and 10/8,
# which exist only inside the namespace.
ns_populate() {
	local ns=$1 cmd
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		# shellcheck disable=SC2086
		ip -n "$ns" $cmd || { echo "ns_populate: 'ip $cmd' failed" >&2; return 1; }
	done <<'CMDS'
link add up0 address 02:00:00:00:00:01 mtu 1400 type veth peer name up0p address 02:00:00:00:00:02
tuntap add tun0 mode tun
link set up0 alias uplink
link add vA address 02:00:00:00:00:0a type veth peer name vB address 02:00:00:00:00:0b
link add br0 address 02:00:00:00:00:b0 type bridge
link set vB master br0
link add vx0 type vxlan id 42 local 192.0.2.10 remote 192.0.2.20 dstport 4789 dev up0
link add mv0 link up0 type macvlan mode bridge
link add ifb0 type ifb
link set vx0 up
link set mv0 up
link set br0 type bridge stp_state 0 vlan_default_pvid 7
link set vB type bridge_slave priority 40 cost 77
link set up0 up
link set up0p up
link set tun0 up
link set vA up
link set vB up
link set br0 up
addr add 192.0.2.10/24 brd + dev up0
addr add 2001:db8::10/64 dev up0 nodad
addr add 10.9.9.1 peer 10.9.9.2/32 dev up0
addr add 198.51.100.1/24 dev vA label vA:1
addr add 2001:db8:b::1/64 dev br0 nodad
neigh replace 192.0.2.20 lladdr 02:00:00:00:00:20 dev up0 nud permanent
neigh add 192.0.2.21 lladdr 02:00:00:00:00:21 dev up0 nud stale
neigh add 2001:db8::20 lladdr 02:00:00:00:00:22 dev up0 nud reachable router
neigh add proxy 192.0.2.99 dev up0
neigh add proxy 2001:db8::99 dev up0
route add 203.0.113.0/24 via 192.0.2.1 metric 100 proto static
route add default via 192.0.2.1 table 100
route add 10.100.0.0/16 dev up0 table 1000 proto bird
route add 10.200.0.0/16 nexthop via 192.0.2.1 weight 1 nexthop via 198.51.100.2 weight 3
route add blackhole 10.66.0.0/16
route add unreachable 10.67.0.0/16 metric 5
route add 10.50.0.0/16 via 192.0.2.1 src 192.0.2.10
route add 10.77.0.0/16 via inet6 2001:db8::1 dev up0
-6 route add 2001:db8:1::/48 via 2001:db8::1 metric 50
-6 route add default via 2001:db8::1 table 100
-6 route add 2001:db8:2::/48 dev up0 pref high
rule add from 10.1.0.0/16 table 100 priority 1000
rule add fwmark 0x10/0xff iif up0 lookup 200 pref 1001
rule add to 10.2.0.0/16 uidrange 100-200 ipproto tcp dport 443 prohibit pref 1002
rule add not fwmark 0x20 table 301 pref 1003
rule add to 198.51.100.0/24 goto 1000 pref 900
-6 rule add from 2001:db8:1::/48 table 300 pref 500 suppress_prefixlength 0
nexthop add id 11 via 192.0.2.11 dev up0 onlink
nexthop add id 12 via 192.0.2.12 dev up0 onlink
nexthop add id 13 group 11/12,3
nexthop add id 14 blackhole
-6 nexthop add id 15 via 2001:db8::15 dev up0
route add 10.81.0.0/16 nhid 11
route add 10.82.0.0/16 nhid 13
route add 10.83.0.0/16 via 192.0.2.1 realms 3/4
CMDS
	# the links brought up last get their IPv6 link-local addresses (and the kernel its routes
	# for them) a moment later: wait for them, so a test's first comparison does not race them
	for _ in $(seq 40); do
		ip -n "$ns" -6 addr show dev mv0 | grep -q fe80 && ip -n "$ns" -6 addr show dev vx0 | grep -q fe80 &&
			break
		sleep 0.05
	done
}

# Start the socket holder in the namespace; waits until its sockets exist.
ns_sockets() {
	local ns=$1 fifo
	fifo=$(mktemp -u /tmp/netinv-sock.XXXXXX)
	mkfifo "$fifo"
	TMP_CREATED+=("$fifo")
	ip netns exec "$ns" "$PYTHON" "$(dirname "${BASH_SOURCE[0]}")/sockets.py" "${2:-}" >"$fifo" &
	PIDS_STARTED+=("$!")
	read -r line <"$fifo" || return 1
	[ "$line" = ready ] || return 1
}

# What iproute2 and ss say inside one namespace, as compare.py reads it: ip_snapshot DIR PREFIX...
# (PREFIX: the command that runs a tool there, "ip netns exec NS" or "nsenter -t PID -n").
ip_snapshot() {
	local d=$1
	shift
	mkdir -p "$d"
	"$@" ip -json link show >"$d/link.json"
	"$@" ip -json -details link show >"$d/linkd.json"
	"$@" ip -json addr show >"$d/addr.json"
	"$@" ip -json neigh show >"$d/neigh.json"
	"$@" ip -json neigh show nud all >"$d/neighall.json"
	"$@" ip -json neigh show proxy >"$d/proxy.json"
	"$@" ip -4 -json route show table all >"$d/route4.json"
	"$@" ip -6 -json route show table all >"$d/route6.json"
	"$@" ip -4 -json rule show >"$d/rule4.json"
	"$@" ip -6 -json rule show >"$d/rule6.json"
	"$@" ip -json nexthop show >"$d/nexthop.json"
	"$@" bridge -json link show >"$d/bridgelink.json"
	"$@" bridge -json vlan show >"$d/bridgevlan.json"
	"$@" ss -tunaH >"$d/ss.txt"
	"$@" ss -tunapH >"$d/ssp.txt"
}

# The server's inventory of agent $UUID (server at $URL, in $x's namespace) holds exactly the records
# of a full snapshot taken now: compared by the identities the server keys them by.
compare_inventory() {
	$x "$NETINV" --dry-run --full --compact -o "$dir/full.json" 2>/dev/null
	$x curl -s "$URL/admin/inventory?agent_uuid=$UUID" >"$dir/inv.json"
	"$PYTHON" - "$dir/full.json" "$dir/inv.json" "$IT_DIR" "${URL##*:}" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[3])
from server import ident, LISTS
full = json.load(open(sys.argv[1])); inv = json.load(open(sys.argv[2]))
port = int(sys.argv[4])
# the test server shares the namespace: its own side of our connections comes and goes
mine = lambda l, r: l in ("connections", "listeners") and r.get("local_port") == port and r.get("state") != "listen"
bad = 0
for l in LISTS:
    a = {json.dumps(ident(l, r), default=str) for r in full.get(l, []) if not mine(l, r)}
    b = {json.dumps(ident(l, r), default=str) for r in inv.get(l, []) if not mine(l, r)}
    if a != b:
        bad += 1
        print(l, "missing on the server:", sorted(a - b)[:3], "extra:", sorted(b - a)[:3])
sys.exit(1 if bad else 0)
PY
}
