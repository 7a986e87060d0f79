#!/usr/bin/env bash
# Every network namespace, named after its container or pod. A scratch "host" namespace H (netinv
# runs there) with a bridge, and NETINV_NS_COUNT (50) namespaces wired to it by veths, each held by
# a process placed in a cgroup named as a runtime names its containers (Docker with the systemd and
# the cgroupfs drivers, containerd and CRI-O pods, Podman, systemd-nspawn, LXC, a service's sandbox,
# a named namespace with a process and one without), with the runtimes' state files under a
# container_root of the test's own. Checked:
#   - each namespace's identity, kind, names, pod, processes and host-side veth;
#   - each one's tables equal ip -json and ss run inside it (compare.py), none of them in H's lists;
#   - the report validates against the schema, and the loopback server (PROTOCOL.md) accepts it;
#   - a removed container is one removal of its namespace; a pod restarted under the same uid is
#     a change of its tables, not a new namespace; nothing else moves;
#   - without CAP_SYS_ADMIN the run succeeds with the host only and says not_permitted once.
# Root; cgroup v2 (pure, or hybrid at /sys/fs/cgroup/unified).
set -u
source "$(dirname "$0")/lib.sh"
here=$IT_DIR
top=$IT_TOP
N=${NETINV_NS_COUNT:-50}
HOLDER_PIDS=()
CG_BASE=
ns_test_cleanup() {
	local p
	for p in "${HOLDER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${HOLDER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ns_cleanup_all
	# cgroups go deepest first, once their processes are gone
	[ -n "$CG_BASE" ] && [ -d "$CG_BASE" ] && find "$CG_BASE" -depth -type d -exec rmdir {} + 2>/dev/null
	true
}
trap ns_test_cleanup EXIT

if [ -e /sys/fs/cgroup/unified/cgroup.procs ]; then
	CG=/sys/fs/cgroup/unified
elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	CG=/sys/fs/cgroup
else
	notok "no cgroup v2 hierarchy to name the namespaces' processes by"
	exit 1
fi
CG_BASE=$CG/netinv-it-$$
mkdir "$CG_BASE" || { notok "create a cgroup under $CG"; exit 1; }

it_ns nsall || exit 1
H=$ns
ROOT=$dir/root
mkdir -p "$ROOT/var/log/pods" "$ROOT/var/lib/docker/containers" \
	"$ROOT/var/lib/containers/storage/overlay-containers"
export NETINV_NAMESPACES=all NETINV_CONTAINER_ROOT=$ROOT NETINV_IMPORT_FROM=$dir/none
ip -n "$H" link add br0 type bridge && ip -n "$H" link set br0 up &&
	ip -n "$H" addr add 10.77.0.1/16 dev br0 || { notok "build H"; exit 1; }

KINDS=(docker docker-cgroupfs containerd cri-o podman nspawn lxc service netns netns-empty)
storage='['
# expected.tsv ('|'-separated): i kind id id_type name pod_ns pod_name pod_uid netns_name pid
: >"$dir/expected.tsv"
hold() { # hold I PORT: a process in a namespace of its own; sets pid
	unshare --net -- "$PYTHON" "$here/nsholder.py" "$dir/go-$1" "$2" >"$dir/h$1.log" 2>&1 &
	pid=$!
	HOLDER_PIDS+=("$pid")
	local mine
	mine=$(readlink /proc/self/ns/net)
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$mine" ] && return 0
		sleep 0.02
	done
	return 1
}
wire() { # wire I PID HOSTIF ADDR: a veth from H's bridge into the namespace, addresses, routes
	local i=$1 p=$2 hif=$3 a=$4
	ip -n "$H" link add "$hif" type veth peer name eth0 netns "$p" &&
		ip -n "$H" link set "$hif" master br0 up &&
		nsenter -t "$p" -n sh -c "
			sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
			ip link set lo up && ip link set eth0 up &&
			ip addr add $a/16 dev eth0 && ip addr add 2001:db8:77::$i/64 dev eth0 nodad &&
			ip addr add 192.0.2.$i/32 dev lo &&
			ip route add default via 10.77.0.1 &&
			ip route add 198.51.100.0/24 via 10.77.0.1 metric $i &&
			ip neigh add 10.77.0.99 lladdr 02:00:00:00:00:63 dev eth0 nud permanent" || return 1
	# one namespace with a table larger than what a 16 KiB report part leaves room for
	if [ "$i" = 9 ]; then
		for k in $(seq 80); do echo "addr add 10.79.$k.1/24 dev lo"; done | nsenter -t "$p" -n ip -batch -
	fi
}
start() { # start I: the namespace of kind KINDS[(I-1) % 10]; appends to expected.tsv
	local i=$1 k=${KINDS[$((($1 - 1) % 10))]} id uid cg="" name="" podns="" podname="" nsname="" idt idv
	id=$(printf 'netinv-%s-%s' "$$" "$i" | sha256sum | cut -c1-64)
	uid=$(printf 'pod-%s-%s' "$$" "$i" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
	case $k in
	docker) cg=system.slice/docker-$id.scope ;;
	docker-cgroupfs) cg=docker/$id ;;
	containerd) cg=kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$id.scope ;;
	cri-o) cg=kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice/crio-$id.scope ;;
	podman) cg=machine.slice/libpod-$id.scope ;;
	nspawn) cg='machine.slice/machine-box\x2d'$i.scope ;;
	lxc) cg=lxc.payload.lx$i ;;
	service) cg=system.slice/svc$i.service ;;
	esac
	case $k in
	docker | docker-cgroupfs)
		mkdir -p "$ROOT/var/lib/docker/containers/$id"
		printf '{"ID":"%s","Name":"/web-%s","Config":{"Hostname":"%s"}}' "$id" "$i" "${id:0:12}" \
			>"$ROOT/var/lib/docker/containers/$id/config.v2.json"
		idt=container idv=$id name=web-$i k=docker ;;
	containerd | cri-o)
		podns=$([ "$k" = containerd ] && echo default || echo kube-system)
		podname=$([ "$k" = containerd ] && echo "api-$i" || echo "dns-$i")
		mkdir -p "$ROOT/var/log/pods/${podns}_${podname}_$uid/app"
		idt=pod idv=$uid name=$podname nsname=cni-$uid ;;
	podman)
		storage+="$([ "$storage" = '[' ] || echo ,){\"id\":\"$id\",\"names\":[\"pm-$i\"],\"image\":\"x\"}"
		idt=container idv=$id name=pm-$i ;;
	nspawn) idt=machine idv=box-$i name=box-$i ;;
	lxc) idt=machine idv=lx$i name=lx$i ;;
	service) idt=unit idv=svc$i.service name=svc$i.service ;;
	netns) idt=netns idv=netinv-nsn-$$-$i nsname=$idv ;;
	netns-empty) idt=netns idv=netinv-nse-$$-$i nsname=$idv k=netns ;;
	esac
	if [ "$k" = netns ] && [ "${KINDS[$((($i - 1) % 10))]}" = netns-empty ]; then
		ip netns add "$nsname" && NS_CREATED+=("$nsname") && ip -n "$nsname" link set lo up || return 1
		pid=0
	else
		hold "$i" $((8000 + i)) || return 1
		mkdir -p "$CG_BASE/$cg" && echo "$pid" >"$CG_BASE/$cg/cgroup.procs" || return 1
		printf '%s\n' "$CG_BASE/$cg" >"$dir/cg-$i"
		if [ -n "$nsname" ]; then
			ip netns attach "$nsname" "$pid" && NS_CREATED+=("$nsname") || return 1
		fi
		wire "$i" "$pid" "hv$i" "10.77.$i.2" || return 1
		touch "$dir/go-$i"
	fi
	printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$i" "$k" "$idv" "$idt" "$name" "$podns" \
		"$podname" "$([ "$idt" = pod ] && echo "$uid")" "$nsname" "$pid" >>"$dir/expected.tsv"
}
built=1
for i in $(seq "$N"); do start "$i" || { built=0; break; }; done
printf '%s]' "$storage" >"$ROOT/var/lib/containers/storage/overlay-containers/containers.json"
for i in $(seq "$N"); do
	[ -e "$dir/go-$i" ] || continue
	for _ in $(seq 100); do grep -q ready "$dir/h$i.log" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$dir/h$i.log" || built=0
done
[ "$built" = 1 ] && ok "built $N namespaces held by processes in runtime-named cgroups" ||
	{ notok "build the namespaces (at $i): $(cat "$dir/h$i.log" 2>/dev/null)"; exit 1; }
sleep 1 # addresses and neighbours settle

nv() { $x "$NETINV" --compact "$@"; }
snap() { # snap DIR PID|NAME: what ip and ss say inside one namespace
	if [ "$2" -gt 0 ] 2>/dev/null; then ip_snapshot "$1" nsenter -t "$2" -n; else ip_snapshot "$1" ip netns exec "$2"; fi
}

# 1. the full picture
nv --dry-run --full -o "$dir/full.json" 2>"$dir/full.err" || notok "dry run exit $?: $(cat "$dir/full.err")"
while IFS='|' read -r i k idv idt name podns podname uid nsname pid; do
	snap "$dir/ip/$i" "$([ "$pid" = 0 ] && echo "$nsname" || echo "$pid")"
done <"$dir/expected.tsv"
if "$PYTHON" - "$dir/full.json" "$dir/expected.tsv" "$dir/ip" "$here" <<'PY' >"$dir/check.txt" 2>&1; then
import json, os, subprocess, sys
rep = json.load(open(sys.argv[1]))
byid = {(n["id"], n["id_type"]): n for n in rep.get("namespaces", [])}
bad = []
host_addrs = {a["ip_address"] for a in rep["addresses"]}
for line in open(sys.argv[2]):
    i, k, idv, idt, name, podns, podname, uid, nsname, pid = line.rstrip("\n").split("|")
    n = byid.get((idv, idt))
    if not n:
        bad.append(f"{i} {k}: no namespace {idt} {idv}")
        continue
    want = {"kind": k, "name": name or None, "netns_name": nsname or None, "status": "ok"}
    got = {x: n.get(x) for x in want}
    if got != want:
        bad.append(f"{i} {k}: {got} != {want}")
    if uid and n["pod"] != {"namespace": podns, "name": podname, "uid": uid}:
        bad.append(f"{i} {k}: pod {n['pod']}")
    if not uid and n["pod"] is not None:
        bad.append(f"{i} {k}: a pod where there is none: {n['pod']}")
    if k in ("docker", "podman") and n["container_id"] != idv:
        bad.append(f"{i} {k}: container_id {n['container_id']}")
    procs = n["processes"]
    if pid != "0":
        if procs["count"] != 1 or procs["pid"] != int(pid) or procs["names"] != ["python3"]:
            bad.append(f"{i} {k}: processes {procs}")
        hl = n["host_links"]
        if [(h["interface"], h["peer_interface"]) for h in hl] != [(f"hv{i}", "eth0")]:
            bad.append(f"{i} {k}: host links {hl}")
        if f"10.77.{i}.2" in host_addrs:
            bad.append(f"{i} {k}: its address is in the host's list")
    elif procs["count"] != 0 or n["host_links"]:
        bad.append(f"{i} {k}: an empty namespace with {procs} {n['host_links']}")
    # its tables against ip and ss inside it
    sub = {l: n.get(l, []) for l in ("links", "addresses", "neighbors", "routes", "connections",
                                      "listeners", "rules", "nexthops")}
    p = os.path.join(sys.argv[3], i, "report.json")
    with open(p, "w") as f:
        json.dump(sub, f)
    c = subprocess.run([sys.executable, os.path.join(sys.argv[4], "compare.py"), p,
                        os.path.join(sys.argv[3], i)], capture_output=True, text=True)
    if c.returncode:
        bad.append(f"{i} {k}: differs from ip/ss: {(c.stdout + c.stderr).strip().splitlines()[-4:]}")
st = rep["metadata"]["stats"]["namespaces"]
if st["mode"] != "all" or st["status"] not in ("ok", "partial") or st["read"] < 50 and st["read"] < len(byid):
    bad.append(f"metadata {st}")
for b in bad:
    print(b)
print(f"{len(byid)} namespaces in the report")
sys.exit(1 if bad else 0)
PY
	ok "every namespace named and read: identity, kind, names, pod, processes, host veth; tables equal ip/ss inside it ($(tail -1 "$dir/check.txt"))"
else
	notok "namespaces: $(head -20 "$dir/check.txt")"
fi
"$PYTHON" "$here/validate.py" "$top/report/schema/report.schema.json" "$dir/full.json" >"$dir/schema.txt" 2>&1 &&
	ok "the report with $N namespaces validates against the schema" || notok "schema: $(head -5 "$dir/schema.txt")"

# 2. deltas: one container removed, one pod restarted under the same uid
S=$dir/s
nv --state-dir "$S" --commit-dry-run -o /dev/null 2>/dev/null || notok "baseline commit"
IFS='|' read -r _ _ gone_id _ _ _ _ _ _ gone_pid < <(sed -n 1p "$dir/expected.tsv")
IFS='|' read -r _ _ pod_id _ _ _ _ _ pod_nsname pod_pid < <(sed -n 3p "$dir/expected.tsv")
kill "$gone_pid" "$pod_pid"
wait "$gone_pid" "$pod_pid" 2>/dev/null
ip netns del "$pod_nsname"
for _ in $(seq 50); do ip -n "$H" link show hv1 >/dev/null 2>&1 || break; sleep 0.05; done
# the pod's sandbox again: same cgroup (pod uid), a new namespace, another address
pod_cg=$(cat "$dir/cg-3")
hold 3b 9003 && echo "$pid" >"$pod_cg/cgroup.procs" && ip netns attach "$pod_nsname" "$pid" &&
	wire 3 "$pid" hv3b 10.77.3.3 && touch "$dir/go-3b" || notok "restart the pod"
for _ in $(seq 100); do grep -q ready "$dir/h3b.log" 2>/dev/null && break; sleep 0.05; done
sleep 1
nv --state-dir "$S" --dry-run -o "$dir/d1.json" 2>/dev/null
if "$PYTHON" - "$dir/d1.json" "$dir/expected.tsv" "$gone_id" "$pod_id" <<'PY' >"$dir/d1.txt" 2>&1; then
import json, sys
r = json.load(open(sys.argv[1]))
ours = {l.split("|")[2] for l in open(sys.argv[2])}
gone, pod = sys.argv[3], sys.argv[4]
rem = [x for x in r["removed"]["namespaces"] if x["id"] in ours]
assert rem == [{"id": gone, "id_type": "container"}], rem
ns = [n for n in r["namespaces"] if n["id"] in ours]
assert [n["id"] for n in ns] == [pod], [n["id"] for n in ns]
p = ns[0]
assert p["id_type"] == "pod" and p["kind"] == "containerd", p
assert "10.77.3.3" in {a["ip_address"] for a in p["addresses"]}, p["addresses"]
assert [h["interface"] for h in p["host_links"]] == ["hv3b"], p["host_links"]
# the host's own lists carry nothing of either
for l in ("addresses", "routes"):
    for x in r["removed"][l]:
        assert "10.77." not in json.dumps(x), x
print("removed:", rem, "changed:", sorted(k for k in p if isinstance(p[k], list)))
PY
	ok "a removed container is one namespace removal; a restarted pod keeps its id, its tables change ($(tail -1 "$dir/d1.txt"))"
else
	notok "namespace deltas: $(tail -5 "$dir/d1.txt")"
fi
nv --state-dir "$S" --commit-dry-run -o /dev/null 2>/dev/null
nv --state-dir "$S" --dry-run -o "$dir/d2.json" 2>/dev/null
"$PYTHON" - "$dir/d2.json" "$dir/expected.tsv" <<'PY' && ok "nothing changed: none of the namespaces is in the next report" || notok "an unchanged namespace was reported again"
import json, sys
r = json.load(open(sys.argv[1]))
ours = {l.split("|")[2] for l in open(sys.argv[2])}
assert not [n["id"] for n in r["namespaces"] if n["id"] in ours], [n["id"] for n in r["namespaces"]]
assert not [x for x in r["removed"]["namespaces"] if x["id"] in ours]
PY

# 3. --only: the namespaces' other tables stay as they were
nv --state-dir "$S" --dry-run --only routes -o "$dir/only.json" 2>/dev/null
"$PYTHON" - "$dir/only.json" "$dir/expected.tsv" <<'PY' && ok "--only routes: no namespace's other tables reported or removed" || notok "--only with namespaces"
import json, sys
r = json.load(open(sys.argv[1]))
ours = {l.split("|")[2] for l in open(sys.argv[2])}
for n in r["namespaces"]:
    assert set(n) & {"links", "addresses", "connections", "listeners"} == set(), n
assert not [x for x in r["removed"]["namespaces"] if x["id"] in ours]
PY

# 4. the loopback server (PROTOCOL.md validation) accepts a check-in carrying the namespaces
server_start http || { notok "start the server"; exit 1; }
printf '%s\n' gaek_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek" && chmod 600 "$dir/ek"
R=$dir/r
srv() { $x "$NETINV" --no-jitter --state-dir "$R" --server-url "$URL" --enrollment-key-file "$dir/ek" "$@"; }
srv --register-only 2>>"$dir/srv.log"
$x curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$R/agent_uuid")\"}" "$URL/admin/approve" >/dev/null
srv 2>>"$dir/srv.log"
rc=$?
[ $rc = 0 ] && ! grep -q " 422" "$dir/server.log" &&
	ok "check-in with $N namespaces accepted by the loopback server (no 422)" ||
	notok "check-in exit $rc: $(tail -3 "$dir/srv.log")"
# 16 KiB parts: the full report again, a namespace table larger than a part going in pieces
$x curl -s -X POST -d '{"max_report_bytes": 16384}' "$URL/admin/policy" >/dev/null
srv --check-in-only --force 2>>"$dir/srv.log" # learns the part size
before=$($x curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; print(list(json.load(sys.stdin)['agents'].values())[0]['checkins'])")
srv --check-in-only --force --full --log-level debug 2>"$dir/parts.log"
rc=$?
after=$($x curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; print(list(json.load(sys.stdin)['agents'].values())[0]['checkins'])")
srv --dry-run --compact -o "$dir/after.json" 2>/dev/null
if [ $rc = 0 ] && [ $((after - before)) -gt 5 ] && ! grep -q " 422\| 413" "$dir/server.log" &&
	"$PYTHON" - "$dir/after.json" "$dir/expected.tsv" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
ours = {l.split("|")[2] for l in open(sys.argv[2])}
assert not [n["id"] for n in r["namespaces"] if n["id"] in ours], "not acknowledged"
PY
	ok "the full report in $((after - before)) parts of 16 KiB, a larger namespace table in pieces; all of it acknowledged"
else
	notok "parts: exit $rc, $((after - before)) parts: $(grep -E 'error|warning' "$dir/parts.log" | tail -3)"
fi

# 5. a netns_dir of the test's own: a name bind-mounted on a namespace is one, a file left behind
# by an unmounted name is not
mkdir -p "$dir/netns" && touch "$dir/netns/ghost" "$dir/netns/alias" &&
	mount --bind "/run/netns/$(sed -n 10p "$dir/expected.tsv" | cut -d'|' -f9)" "$dir/netns/alias"
NETINV_NETNS_DIR=$dir/netns nv --dry-run -o "$dir/nd.json" 2>/dev/null
umount "$dir/netns/alias" 2>/dev/null
"$PYTHON" - "$dir/nd.json" <<'PY' && ok "netns_dir: a bind-mounted name is a namespace, a leftover file is not" || notok "netns_dir names"
import json, sys
r = json.load(open(sys.argv[1]))
names = [n.get("netns_name") for n in r["namespaces"]]
assert "alias" in names and "ghost" not in names, names
PY

# 6. without CAP_SYS_ADMIN: the host only, not_permitted said once, exit 0
$x setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin -- "$NETINV" --compact --dry-run \
	-o "$dir/np.json" 2>"$dir/np.err"
rc=$?
if [ $rc = 0 ] && [ "$(grep -c "other network namespaces skipped" "$dir/np.err")" = 1 ] &&
	"$PYTHON" - "$dir/np.json" "$N" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
st = r["metadata"]["stats"]["namespaces"]
assert st["status"] == "not_permitted" and st["not_permitted"] >= int(sys.argv[2]) and st["read"] == 0, st
assert "namespaces" not in r, "a list of namespaces not read"
assert r["links"], "the host's own tables"
PY
	ok "without CAP_SYS_ADMIN: exit 0, the host's tables, namespaces not_permitted ($(grep -o "other network namespaces skipped.*" "$dir/np.err"))"
else
	notok "without CAP_SYS_ADMIN: exit $rc $(cat "$dir/np.err")"
fi
exit $((fails > 0))
