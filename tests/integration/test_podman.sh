#!/usr/bin/env bash
# Real containers: Debian's podman (runc, cgroupfs) runs two containers from an image imported from a
# local root file system (busybox), one with a published port, inside a scratch namespace H that
# plays the host (its bridge, veths and port forwarding never touch the machine's own). netinv, in
# H, must report each container as podman names it: its container id and name (containers/storage's
# own containers.json), the veth on H's bridge, its address, and the published container's listener.
# Storage, run directory and cgroups are the test's own and removed with it. Root.
set -u
source "$(dirname "$0")/lib.sh"
here=$IT_DIR
CG_PARENT=netinv-it-$$
P=
# netavark keeps its (empty once the containers are gone) run directory here; removed if ours
[ -e /run/containers ] && RUNC_DIR_MINE=0 || RUNC_DIR_MINE=1
podman_cleanup() {
	if [ -n "$P" ]; then
		$P rm -f -t 0 ni-web ni-sleep >/dev/null 2>&1
		$P rmi -a -f >/dev/null 2>&1
	fi
	ns_cleanup_all
	local d
	for d in /sys/fs/cgroup/*/"$CG_PARENT" /sys/fs/cgroup/"$CG_PARENT"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ "$RUNC_DIR_MINE" = 1 ] && rm -rf /run/containers
	true
}
trap podman_cleanup EXIT
for c in podman runc busybox; do
	command -v "$c" >/dev/null || { notok "$c is not installed (deploy/deps.sh installs it)"; exit 1; }
done
it_tmpdir podman || exit 1
H=netinv-pm-$$
ns_new "$H" || { notok "create H"; exit 1; }
ROOT=$dir/root
# ip netns exec would mount a fresh /sys and hide the cgroup hierarchies podman needs: nsenter
# changes the network namespace only
P="nsenter --net=/run/netns/$H podman --root $ROOT/var/lib/containers/storage --runroot $dir/run
	--storage-driver vfs --cgroup-manager cgroupfs --runtime runc"
mkdir -p "$dir/img/bin" && cp "$(command -v busybox)" "$dir/img/bin/busybox" || exit 1
tar -C "$dir/img" -c . | $P import - netinv-it-bb >"$dir/import.log" 2>&1 ||
	{ notok "podman import: $(tail -2 "$dir/import.log")"; exit 1; }
run() { $P run -d --cgroup-parent "/$CG_PARENT" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"; }
if run --name ni-web -p 127.0.0.1:18080:8080 netinv-it-bb /bin/busybox httpd -f -p 8080 >"$dir/run.log" 2>&1 &&
	run --name ni-sleep netinv-it-bb /bin/busybox sleep 600 >>"$dir/run.log" 2>&1; then
	ok "two podman containers running (runc, cgroupfs), one publishing 127.0.0.1:18080 -> 8080"
else
	notok "podman run: $(tail -3 "$dir/run.log")"
	exit 1
fi
$P inspect ni-web ni-sleep >"$dir/inspect.json" 2>/dev/null
# the published port answers, from H
for _ in $(seq 50); do
	nsenter --net=/run/netns/"$H" busybox wget -q -O /dev/null http://127.0.0.1:18080/ 2>/dev/null && break
	sleep 0.1
done

NETINV_NAMESPACES=all NETINV_CONTAINER_ROOT=$ROOT nsenter --net=/run/netns/"$H" "$NETINV" --dry-run \
	--compact -o "$dir/report.json" 2>"$dir/err"
rc=$?
if [ $rc = 0 ] && "$PYTHON" - "$dir/report.json" "$dir/inspect.json" <<'PY' >"$dir/check.txt" 2>&1; then
import json, sys
r = json.load(open(sys.argv[1]))
ins = {c["Name"].lstrip("/"): c for c in json.load(open(sys.argv[2]))}
byid = {n["id"]: n for n in r.get("namespaces", [])}
host_links = {l["ifindex"]: l for l in r["links"]}
for name, c in sorted(ins.items()):
    n = byid.get(c["Id"])
    assert n, f"{name}: no namespace with id {c['Id']}"
    assert n["id_type"] == "container" and n["kind"] == "podman" and n["name"] == name, n
    assert n["container_id"] == c["Id"], n
    assert n["processes"]["pid"] == c["State"]["Pid"], (n["processes"], c["State"]["Pid"])
    hl = n["host_links"]
    assert len(hl) == 1 and hl[0]["peer_interface"] == "eth0", hl
    assert host_links[hl[0]["interface_index"]]["master"] == "podman0", host_links[hl[0]["interface_index"]]
    ip = c["NetworkSettings"]["Networks"]["podman"]["IPAddress"]
    assert ip in {a["ip_address"] for a in n["addresses"]}, (ip, n["addresses"])
    assert ip not in {a["ip_address"] for a in r["addresses"]}, "a container's address among H's own"
    ports = {(l["protocol"], l["local_port"]) for l in n["listeners"]}
    if name == "ni-web":
        assert ("tcp", 8080) in ports, ports
    else:
        assert not ports, ports
    print(name, n["id"][:12], ip, hl[0]["interface"], sorted(ports))
PY
	ok "podman containers reported by id and name with their veth, address and listener: $(tr '\n' ';' <"$dir/check.txt")"
else
	notok "report of the podman containers (exit $rc): $(cat "$dir/check.txt" "$dir/err" | tail -8)"
fi
exit $((fails > 0))
