#!/usr/bin/env bash
# A state of 4 MiB or more is mapped, not read (collector/state_acked.c), and its pages are given
# back as the diff walks it. With 70,000 routes: the deltas against a mapped state are right
# (none, one added, one removed), a bit flipped in it means a full snapshot with a warning, and a
# state cut short by another process while netinv reads it is a one-line error and exit 74, with
# nothing written (faultinj truncates the file right after it is mapped).
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
FAULTINJ=$(dirname "$NETINV")/tests/faultinj.so
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
[ -f "$FAULTINJ" ] || make -C "$IT_TOP" -s "$(realpath --relative-to="$IT_TOP" "$FAULTINJ")" ||
	{ notok "build faultinj"; exit 1; }
it_ns mapped || { notok "namespace"; exit 1; }
ip -n "$ns" link add m0 type veth peer name m1 && ip -n "$ns" link set m0 up && ip -n "$ns" link set m1 up &&
	ip -n "$ns" addr add 10.0.0.1/16 dev m0 || { notok "links"; exit 1; }
for i in $(seq 0 69999); do echo "route add 10.$((100 + i / 65536)).$((i / 256 % 256)).$((i % 256))/32 via 10.0.0.2"; done >"$dir/routes"
ip -n "$ns" -batch "$dir/routes" || { notok "routes"; exit 1; }
S=$dir/s
run() { $x "$NETINV" --compact --no-processes --only routes --import-from "$dir/none" --state-dir "$S" "$@"; }
delta() { # "full added changed removed" of a dry run
	run --dry-run -o "$dir/d.json" "$@" 2>"$dir/derr" || { echo "fail $?"; return; }
	"$PYTHON" -c "import json; d=json.load(open('$dir/d.json'))['metadata']['stats']['delta']
print(d['full_snapshot'], d['routes']['added'], d['routes']['changed'], d['routes']['removed'])"
}

run --commit-dry-run -o /dev/null 2>"$dir/err" || { notok "baseline: $(cat "$dir/err")"; exit 1; }
size=$(stat -c %s "$S/acked.state")
[ "$size" -ge 4194304 ] && ok "the state is $size bytes: mapped" || notok "state only $size bytes: not mapped"
[ "$(delta)" = "False 0 0 0" ] && ok "no change against the mapped state" || notok "steady delta: $(delta)"
ip -n "$ns" route add 10.200.0.0/24 via 10.0.0.2 && ip -n "$ns" route del 10.100.0.7/32
[ "$(delta)" = "False 1 0 1" ] && ok "one route added, one removed, against the mapped state" ||
	notok "delta after a change: $(delta)"
run --commit-dry-run -o /dev/null 2>"$dir/err" && [ "$(delta)" = "False 0 0 0" ] &&
	ok "a commit walked from the mapped state gives the next state" || notok "commit: $(cat "$dir/err")"

cp -a "$S" "$dir/keep"
"$PYTHON" -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2] ^= 0x10; open(p,'wb').write(b)" "$S/acked.state"
d=$(delta)
[ "${d% 0 0}" != "$d" ] && [ "${d%% *}" = True ] && [ "$(echo "$d" | cut -d' ' -f2)" -gt 70000 ] &&
	grep -q "unusable (checksum mismatch" "$dir/derr" &&
	ok "a bit flipped in a mapped state: a full snapshot, with the reason" || notok "bit flip: $d; $(cat "$dir/derr")"
rm -rf "$S" && cp -a "$dir/keep" "$S"

sum_before=$(md5sum "$S/agent_uuid" | cut -d' ' -f1)
NETINV_FAULT=mmap:1:truncate NETINV_FAULT_DIR=$S LD_PRELOAD=$FAULTINJ \
	run --commit-dry-run -o /dev/null 2>"$dir/err"
rc=$?
[ "$rc" = 74 ] && [ "$(wc -l <"$dir/err")" = 1 ] && grep -q "acked.state was cut short by another process" "$dir/err" &&
	ok "a state cut short while mapped: exit 74 and one line ($(cat "$dir/err"))" ||
	notok "cut short: exit $rc: $(cat "$dir/err")"
[ "$(stat -c %s "$S/acked.state")" = 0 ] && [ "$(md5sum "$S/agent_uuid" | cut -d' ' -f1)" = "$sum_before" ] &&
	[ -z "$(ls "$S" | grep -v '^acked.state$\|^agent_uuid$\|^lock$')" ] &&
	ok "nothing was written by the run that stopped" || notok "state after the stop: $(ls -la "$S")"
exit $((fails > 0))
