#!/usr/bin/env bash
# The state directory under faults: kill -9 at every step of the commit path and at 200 random times,
# injected EIO/ENOSPC, a full disk, a read-only directory, a symlinked directory, files owned by
# another user, truncated and bit-flipped state, a lost identity, concurrent runs, and the import of
# a Graphēon agent's identity. After each: the state is exactly the old or the new generation, the
# identity never changes, and the next run reports the right delta.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP
FAULTINJ=$(dirname "$NETINV")/tests/faultinj.so
# a sanitizer runtime must come first in the library list; the preload is ours and harmless
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
it_tmpdir state || exit 1
ns=netinv-state-$$
ns_new "$ns" && ns_populate "$ns" || { notok "build the namespace"; exit 1; }
x="ip netns exec $ns"
S=$dir/s
GEN1=$dir/gen1

run() { $x "$NETINV" --compact --no-processes --import-from "$dir/none" --state-dir "$S" "$@"; }
seqno() { run status 2>/dev/null | awk '/^sequence number:/ {print $3}'; }
uuid() { cat "$S/agent_uuid" 2>/dev/null; }
# delta of routes in the next dry run: "added changed removed"
route_delta() {
	run --dry-run -o "$dir/d.json" 2>/dev/null || { echo "fail"; return; }
	"$PYTHON" -c "import json; d=json.load(open('$dir/d.json'))['metadata']['stats']['delta']
print(d['full_snapshot'], d['routes']['added'], d['routes']['changed'], d['routes']['removed'])"
}

# generation 1, then a change so that generation 2 differs by one route
run --commit-dry-run -o /dev/null 2>"$dir/err" || { notok "first commit: $(cat "$dir/err")"; exit 1; }
grep -q "created the agent identity" "$dir/err" && ok "first commit creates the identity" || notok "identity creation not logged"
[ "$(stat -c %a "$S")" = 700 ] && [ "$(stat -c %a "$S/agent_uuid")" = 600 ] && [ "$(stat -c %a "$S/acked.state")" = 600 ] &&
	ok "state directory 0700, files 0600" || notok "modes: $(stat -c '%a %n' "$S" "$S"/*)"
ID=$(uuid)
cp -a "$S" "$GEN1"
ip -n "$ns" route add 192.0.2.128/25 via 192.0.2.1
[ "$(route_delta)" = "False 1 0 0" ] && ok "dry run against generation 1 shows the one new route" ||
	notok "delta before the crash tests: $(route_delta)"

restore() { rm -rf "$S"; cp -a "$GEN1" "$S"; }

# kill -9 at every step: before/after create, write, fsync, rename, fsync of the directory
for step in create:kill create:killafter write:kill write:killafter fsync:kill fsync:killafter \
	rename:kill rename:killafter fsyncdir:kill fsyncdir:killafter; do
	restore
	NETINV_FAULT="${step%%:*}:1:${step##*:}" NETINV_FAULT_DIR="$S" LD_PRELOAD="$FAULTINJ" \
		run --commit-dry-run -o /dev/null 2>/dev/null
	rc=$?
	case $step in rename:killafter | fsyncdir:*) want=2 ;; *) want=1 ;; esac
	got=$(seqno)
	d=$(route_delta)
	if [ "$rc" = 137 ] && [ "$(uuid)" = "$ID" ] && [ "$got" = "$want" ] &&
		{ { [ "$want" = 1 ] && [ "$d" = "False 1 0 0" ]; } || { [ "$want" = 2 ] && [ "$d" = "False 0 0 0" ]; }; }; then
		ok "kill -9 at $step: generation $got, identity kept, next delta right ($d)"
	else
		notok "kill -9 at $step: exit $rc, generation $got (want $want), identity $(uuid), delta $d"
	fi
done
# a leftover temp file from those kills is removed by the next committing run
restore
NETINV_FAULT=write:1:kill NETINV_FAULT_DIR="$S" LD_PRELOAD="$FAULTINJ" run --commit-dry-run -o /dev/null 2>/dev/null
ls -A "$S" | grep -q '\.tmp$' && run --commit-dry-run -o /dev/null 2>/dev/null &&
	! ls -A "$S" | grep -q '\.tmp$' && ok "a killed run's temp file is cleaned up by the next run" ||
	notok "temp file handling: $(ls -A "$S")"

# 200 kills at random times during a committing run
bad=0 g1=0 g2=0
for i in $(seq 1 200); do
	restore
	# exec: $! must be netinv itself, not a subshell around it
	(exec $x "$NETINV" --compact --no-processes --import-from "$dir/none" --state-dir "$S" \
		--commit-dry-run -o /dev/null 2>/dev/null) &
	pid=$!
	sleep "0.00$((RANDOM % 10))$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	g=$(seqno)
	[ "$g" = 1 ] && g1=$((g1 + 1))
	[ "$g" = 2 ] && g2=$((g2 + 1))
	if [ "$(uuid)" != "$ID" ] || { [ "$g" != 1 ] && [ "$g" != 2 ]; } || run status 2>&1 | grep -q unusable; then
		bad=$((bad + 1))
		echo "  random kill $i: generation '$g', identity $(uuid)"
	fi
done
[ "$bad" = 0 ] && ok "200 random-time kills: always generation 1 ($g1) or 2 ($g2), identity kept" ||
	notok "$bad of 200 random kills broke the state"

# injected I/O errors: a clear error, exit 73, the old generation untouched
for f in write:1:eio fsync:1:eio rename:1:eio write:1:enospc create:1:enospc; do
	restore
	NETINV_FAULT=$f NETINV_FAULT_DIR="$S" LD_PRELOAD="$FAULTINJ" run --commit-dry-run -o /dev/null 2>"$dir/err"
	rc=$?
	case $f in *eio) msg="Input/output error" ;; *) msg="No space left" ;; esac
	if [ "$rc" = 73 ] && grep -q "cannot write the acknowledged state.*$msg.*previous state is kept" "$dir/err" &&
		cmp -s "$S/acked.state" "$GEN1/acked.state" && [ "$(uuid)" = "$ID" ] && ! ls -A "$S" | grep -q '\.tmp$'; then
		ok "$f: exit 73, '$msg', generation 1 kept"
	else
		notok "$f: exit $rc, $(cat "$dir/err")"
	fi
done
restore
NETINV_FAULT=fsyncdir:1:eio NETINV_FAULT_DIR="$S" LD_PRELOAD="$FAULTINJ" run --commit-dry-run -o /dev/null 2>"$dir/err"
rc=$?
[ "$rc" = 0 ] && grep -q "may not survive a power loss" "$dir/err" && [ "$(seqno)" = 2 ] &&
	ok "EIO on the directory fsync: the new state is in place, with a warning" || notok "fsyncdir eio: exit $rc $(cat "$dir/err")"

# a full disk and a read-only directory, in a private mount namespace on a small tmpfs
cat >"$dir/mnt.sh" <<'SH'
set -u
m=$1/mnt; mkdir -p "$m"
mount -t tmpfs -o size=256k,mode=0755 netinv-test "$m" || exit 90
cp -a "$GEN1" "$m/s"
head -c 1000000 /dev/zero >"$m/fill" 2>/dev/null
$RUN --state-dir "$m/s" --commit-dry-run -o /dev/null 2>"$1/full.err"; echo "full=$?"
cmp -s "$m/s/acked.state" "$GEN1/acked.state" && echo "full_kept=yes"
ls -A "$m/s" | grep -q '\.tmp$' && echo "full_tmp=yes"
rm -f "$m/fill"
mount -o remount,ro "$m" || exit 91
$RUN --state-dir "$m/s" --commit-dry-run -o /dev/null 2>"$1/ro.err"; echo "ro=$?"
$RUN --state-dir "$m/s" --dry-run -o /dev/null 2>"$1/rodry.err"; echo "rodry=$?"
SH
RUN="$x $NETINV --compact --no-processes --import-from $dir/none" GEN1=$GEN1 \
	unshare -m --propagation private bash "$dir/mnt.sh" "$dir" >"$dir/mnt.out" 2>&1
if grep -q "^full=73$" "$dir/mnt.out" && grep -q "^full_kept=yes$" "$dir/mnt.out" && ! grep -q full_tmp "$dir/mnt.out" &&
	grep -q "No space left on device" "$dir/full.err"; then
	ok "full disk: exit 73, 'No space left on device', generation 1 kept, no temp left"
else
	notok "full disk: $(cat "$dir/mnt.out") $(cat "$dir/full.err" 2>/dev/null)"
fi
if grep -q "^ro=73$" "$dir/mnt.out" && grep -q "Read-only file system" "$dir/ro.err" && grep -q "^rodry=0$" "$dir/mnt.out"; then
	ok "read-only state directory: commit exits 73 'Read-only file system', a dry run still works"
else
	notok "read-only: $(cat "$dir/mnt.out") $(cat "$dir/ro.err" 2>/dev/null) $(cat "$dir/rodry.err" 2>/dev/null)"
fi

# unsafe directories
restore
ln -s "$S" "$dir/link"
$x "$NETINV" --dry-run --state-dir "$dir/link" -o /dev/null 2>"$dir/err"
[ $? = 78 ] && grep -q "is a symlink" "$dir/err" && ok "symlinked state directory refused (exit 78)" || notok "symlink: $(cat "$dir/err")"
for spelled in "$dir/link/" "$dir/link//"; do
	$x "$NETINV" --dry-run --state-dir "$spelled" -o /dev/null 2>"$dir/err"
	rc=$?
	[ $rc = 78 ] && grep -q "is a symlink" "$dir/err" && ok "symlinked state directory with trailing slash ('${spelled##*/link}') refused too (exit 78)" ||
		notok "trailing slash '${spelled##*/link}': exit $rc $(cat "$dir/err")"
done
chmod 0770 "$S"
run --dry-run -o /dev/null 2>"$dir/err"
[ $? = 78 ] && grep -q "writable by group or others" "$dir/err" && ok "group-writable state directory refused (exit 78)" || notok "mode: $(cat "$dir/err")"
chmod 0700 "$S"
chown 65534 "$S/acked.state"
run --dry-run -o /dev/null 2>"$dir/err"
[ $? = 74 ] && grep -q "owned by uid 65534" "$dir/err" && ok "state file owned by another user refused (exit 74)" || notok "owner: $(cat "$dir/err")"
restore
chown 65534 "$S/agent_uuid"
run --commit-dry-run -o /dev/null 2>"$dir/err"
[ $? = 65 ] && grep -q "owned by another user" "$dir/err" && ok "identity owned by another user refused (exit 65)" || notok "id owner: $(cat "$dir/err")"

# corrupt state: truncated, bit-flipped -> full snapshot, identity kept; the next commit repairs it
for how in truncate flip; do
	restore
	if [ $how = truncate ]; then truncate -s 100 "$S/acked.state"; else
		printf '\x55' | dd of="$S/acked.state" bs=1 seek=80 conv=notrunc status=none; fi
	d=$(route_delta)
	run --dry-run -o /dev/null 2>"$dir/err"
	if [[ "$d" == True* ]] && grep -q "unusable" "$dir/err" && [ "$(uuid)" = "$ID" ] &&
		run --commit-dry-run -o /dev/null 2>/dev/null && [ "$(route_delta)" = "False 0 0 0" ]; then
		ok "$how state file: warning, full snapshot, identity kept, next commit repairs it"
	else
		notok "$how: delta $d, $(cat "$dir/err")"
	fi
done

# the record of unconfirmed reports damaged: what the server holds is unknown -> a full snapshot
restore
head -c 300 /dev/urandom >"$S/unconfirmed.state"
chmod 600 "$S/unconfirmed.state"
d=$(route_delta)
run --dry-run -o /dev/null 2>"$dir/err"
if [[ "$d" == True* ]] && grep -q "the record of an unconfirmed report in .* is unusable (.*); sending a full snapshot" "$dir/err" &&
	run --commit-dry-run -o /dev/null 2>/dev/null && [ ! -e "$S/unconfirmed.state" ] && [ "$(route_delta)" = "False 0 0 0" ]; then
	ok "a damaged unconfirmed.state: one-line warning, full snapshot; the next commit removes it"
else
	notok "damaged unconfirmed.state: delta $d, $(cat "$dir/err")"
fi

# a lost or damaged identity is never re-minted
restore
echo garbage >"$S/agent_uuid"
run --commit-dry-run -o /dev/null 2>"$dir/err"
[ $? = 65 ] && grep -q "not a UUID; refusing to replace it" "$dir/err" && [ "$(cat "$S/agent_uuid")" = garbage ] &&
	ok "damaged identity: exit 65, left as it is" || notok "damaged identity: $(cat "$dir/err")"
restore
rm "$S/agent_uuid" && mkdir "$S/agent_uuid"
run --commit-dry-run -o /dev/null 2>"$dir/err"
[ $? = 65 ] && grep -q "refusing to create another one" "$dir/err" && ok "unreadable identity: exit 65, no new identity" ||
	notok "unreadable identity: $(cat "$dir/err")"

# two runs: the lock
restore
flock -x "$S/lock" sleep 3 &
PIDS_STARTED+=("$!")
sleep 0.3
run --commit-dry-run -o /dev/null 2>"$dir/err"
rc=$?
[ $rc = 75 ] && grep -q "another netinv run holds the lock" "$dir/err" && [ "$(wc -l <"$dir/err")" = 1 ] &&
	ok "second writer exits 75: $(cat "$dir/err")" || notok "lock: exit $rc $(cat "$dir/err")"
run --dry-run -o /dev/null 2>"$dir/err"
[ $? = 75 ] && ok "a dry run also waits for a writer to finish (exit 75)" || notok "dry run under an exclusive lock: $(cat "$dir/err")"
wait
restore
bad=0
for i in $(seq 1 10); do
	run --commit-dry-run -o /dev/null 2>"$dir/e1" & a=$!
	run --commit-dry-run -o /dev/null 2>"$dir/e2" & b=$!
	wait $a; ra=$?
	wait $b; rb=$?
	for r in $ra $rb; do [ "$r" = 0 ] || [ "$r" = 75 ] || bad=1; done
	run status >/dev/null 2>&1 || bad=1
	run status 2>&1 | grep -q unusable && bad=1
done
[ $bad = 0 ] && [ "$(uuid)" = "$ID" ] && ok "concurrent committing runs: each succeeds or exits 75, state always valid" ||
	notok "concurrent runs broke something"

# import of a Graphēon agent's identity, key and sequence number
G=$dir/grapheon
mkdir -p "$G"
echo "3F2504E0-4F89-41D3-9A0C-0305E82C3301" >"$G/agent_uuid"
echo "gpak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" >"$G/api_key"
echo '{"sequence_number": 41, "other": [1,2]}' >"$G/state.json"
S2=$dir/s2
$x "$NETINV" --commit-dry-run --compact --no-processes --state-dir "$S2" --import-from "$G" -o "$dir/imp.json" 2>"$dir/err"
if [ "$(cat "$S2/agent_uuid")" = 3f2504e0-4f89-41d3-9a0c-0305e82c3301 ] && grep -q "imported the identity" "$dir/err" &&
	[ "$(stat -c %a "$S2/api_key")" = 600 ] && grep -q '^gpak_' "$S2/api_key" &&
	grep -q '"sequence_number":42' "$dir/imp.json" && grep -q '"agent_uuid":"3f2504e0' "$dir/imp.json"; then
	ok "Graphēon identity, key (0600) and sequence imported on first run"
else
	notok "import: $(cat "$dir/err")"
fi
$x "$NETINV" --commit-dry-run --compact --no-processes --state-dir "$S2" --import-from "$G" -o /dev/null 2>"$dir/err"
! grep -q imported "$dir/err" && ok "import happens once" || notok "imported twice"

# root against the service user's state directory (the packaged layout): netinv acts as its owner
# and keeps only the two capabilities attribution needs, so every file stays the service's
chmod 0711 "$dir"
O=$dir/svc
mkdir -m 0700 "$O" && chown 65534:65534 "$O"
$x "$NETINV" --commit-dry-run --compact --state-dir "$O" --log-level debug -o /dev/null 2>"$dir/err"
rc=$?
$x "$NETINV" --dry-run --compact --state-dir "$O" >"$dir/own.json" 2>>"$dir/err"
if [ $rc = 0 ] && [ "$(stat -c %u "$O/agent_uuid")" = 65534 ] && [ "$(stat -c %u "$O/acked.state")" = 65534 ] &&
	grep -q "running as nobody (uid 65534), the owner of $O" "$dir/err" &&
	grep -Eq '"processes":\{"status":"(ok|partial)"' "$dir/own.json"; then
	ok "root on a state directory owned by the service user: runs as it (files stay 65534), attribution kept"
else
	notok "adopt owner: rc $rc $(ls -ln "$O") $(cat "$dir/err") $(grep -o '"processes":{[^}]*' "$dir/own.json")"
fi
"$NETINV" status --state-dir "$O" >"$dir/st" 2>&1 && grep -q "^identity: *[0-9a-f-]\{36\}$" "$dir/st" &&
	ok "netinv status as root on the service's state directory" || notok "status: $(cat "$dir/st")"
chmod 0770 "$O"
$x "$NETINV" --commit-dry-run --state-dir "$O" -o /dev/null 2>"$dir/err"
[ $? = 78 ] && grep -q "writable by group or others" "$dir/err" &&
	ok "a group-writable service state directory is still refused" || notok "mode: $(cat "$dir/err")"

# Files that must not wedge a run: a FIFO under each state file name (a blocking open would hang
# forever), and an acknowledged state whose size is far beyond what its header promises.
for f in agent_uuid acked.state unconfirmed.state agent.status api_key commands.journal lock; do
	restore
	[ "$f" = api_key ] && printf 'gpak_%s\n' KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK >"$S/api_key" && chmod 600 "$S/api_key"
	rm -f "$S/$f" && mkfifo -m 600 "$S/$f"
	res=""
	for args in "--dry-run -o /dev/null" "--commit-dry-run -o /dev/null" "status"; do
		# shellcheck disable=SC2086
		timeout 10 $x "$NETINV" --compact --no-processes --import-from "$dir/none" --state-dir "$S" $args \
			>/dev/null 2>"$dir/err"
		rc=$?
		res="$res $rc"
		[ $rc = 124 ] && break
	done
	# a commit writes a new acknowledged state over whatever was there (temp file, rename)
	# (and drops the record of unconfirmed reports, which it makes moot)
	if [[ " $res " != *" 124 "* ]] && { [ -p "$S/$f" ] || { [ "$f" = acked.state ] && [ -f "$S/$f" ]; } ||
		{ [ "$f" = unconfirmed.state ] && [ ! -e "$S/$f" ]; }; }; then
		ok "a FIFO as $f: dry run, commit and status end (exits:$res), never read"
	else
		notok "a FIFO as $f hangs or is replaced (exits:$res): $(head -2 "$dir/err")"
	fi
done
restore
# a header that promises a small state, a sparse file of 3 GiB behind it
truncate -s 3G "$S/acked.state"
/usr/bin/time -f "%e %M" -o "$dir/time" $x "$NETINV" --compact --no-processes --import-from "$dir/none" \
	--state-dir "$S" --dry-run -o "$dir/big.json" 2>"$dir/err"
rc=$?
read -r secs kib <"$dir/time"
if [ $rc = 0 ] && grep -q "length does not match its record counts" "$dir/err" &&
	"$PYTHON" -c "import sys; sys.exit(0 if float('$secs') < 2 and int('$kib') < 65536 else 1)" &&
	grep -q '"full_snapshot":true' "$dir/big.json"; then
	ok "a 3 GiB acknowledged state is refused from its header: ${secs} s, peak ${kib} KiB, a full snapshot"
else
	notok "3 GiB state: exit $rc, ${secs} s, ${kib} KiB: $(cat "$dir/err")"
fi
restore
exit $((fails > 0))
