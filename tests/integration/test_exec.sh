#!/usr/bin/env bash
# The gated exec module end to end, against the loopback test server in a namespace of its own:
# each gate closed (not compiled in, exec_enabled off, policy off) -> nothing runs and the refusal
# reaches the server; all open -> the allowlisted command runs and its result arrives on the next
# check-in. Then argument injection, names outside the allowlist, a huge output (capped), a command
# that forks children and sleeps (the whole group killed at the timeout), a command id replayed
# after netinv was killed mid-command and after delivery (never run twice), scripts (only with the
# second switch; a symlink planted at the script path is refused, the file is always removed).
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_ns exec || { notok "build the namespace"; exit 1; }
$x ip link set lo up
server_start http || { notok "start the test server"; exit 1; }
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/ek" && chmod 600 "$dir/ek"
S=$dir/state
M=$dir/marker
export NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_STATE_DIR=$S NETINV_TIMEOUT=10
export NETINV_IMPORT_FROM=$dir/none
# the local configuration: root-owned, in a root-owned directory nobody else can write
E=$dir/etc
mkdir -m 0755 "$E" "$E/commands.d"
cat >"$E/commands.d/test.conf" <<EOF
# appends one line to the marker per run: counts how often a command really ran
[mark]
exec = /bin/sh
args = -c "echo ran-\$0 >> $M" mark
[echo]
exec = /bin/echo
args = said:
arg = [A-Za-z0-9_]{1,16}
arg = [0-9]{1,4}
[big]
exec = /bin/sh
args = -c "head -c 5000000 /dev/zero | tr '\\000' x"
max_output = 10000
[forker]
exec = /bin/sh
args = -c "sleep 3127 & sleep 3127 & (trap '' TERM; sleep 3127) & sleep 3127"
[escaper]
exec = /bin/sh
args = $dir/escaper.sh
[slowescaper]
exec = /bin/sh
args = $dir/slowescaper.sh
[crash]
exec = /bin/sh
args = -c "echo ran-crash >> $M; kill -9 \$PPID; sleep 5"
EOF
chmod 0644 "$E/commands.d/test.conf"
# commands that leave their process group: setsid, a double fork, a child that ignores SIGTERM
cat >"$dir/escaper.sh" <<'EOF'
setsid sleep 3332 &
setsid sh -c 'sleep 3333 & exec sleep 3334' &
setsid sh -c 'trap "" TERM; exec sleep 3335' &
echo started
EOF
cat >"$dir/slowescaper.sh" <<'EOF'
setsid sh -c 'trap "" TERM; sleep 3336 & exec sleep 3337' &
(setsid sh -c 'exec sleep 3338' &)
sleep 60
EOF
conf() { printf '%s\n' "$@" >"$E/netinv.conf" && chmod 0600 "$E/netinv.conf"; }
conf "exec_enabled=yes"
LOG=$dir/all.log
: >"$LOG"
nv() { $x "${BIN:-$NETINV}" --no-jitter --config "$E/netinv.conf" "$@" 2>>"$LOG"; }
admin() { $x curl -s -X POST -d "$2" "$URL/admin/$1" >/dev/null; }
queue() { admin commands "{\"agent_uuid\":\"$UUID\",\"commands\":[$1]${2:+,\"sticky\":true}}"; }
# result ID FIELD: a field of the last result the server received for ID
result() { $x curl -s "$URL/admin/results?agent_uuid=$UUID" | "$PYTHON" -c "
import json,sys
r=[x for x in json.load(sys.stdin) if x['id']=='$1']
print(json.dumps(r[-1]['$2']) if r else 'none')"; }
nresults() { $x curl -s "$URL/admin/results?agent_uuid=$UUID" | "$PYTHON" -c "
import json,sys; print(len([x for x in json.load(sys.stdin) if x['id']=='$1']))"; }
marks() { local n; n=$(grep -c "^ran-$1$" "$M" 2>/dev/null); echo "${n:-0}"; }
policy() { admin policy "{\"commands_enabled\": $1, \"command_timeout_seconds\": ${2:-15}}"; }
checkin() { nv --check-in-only --force; }

nv --register-only
UUID=$(cat "$S/agent_uuid")
admin approve "{\"agent_uuid\":\"$UUID\"}"
nv || { notok "enrollment: $(tail -3 "$LOG")"; exit 1; }

# ---- the three gates ----
policy false
queue '{"id":"g-policy","name":"mark"}'
checkin; checkin
[ "$(marks mark)" = 0 ] && [ "$(result g-policy status)" = '"refused"' ] &&
	result g-policy error | grep -q "policy does not allow commands" &&
	ok "gate 3 (server policy) closed: nothing ran, the refusal reached the server" ||
	notok "policy gate: marks $(marks mark), $(result g-policy error)"

policy true
conf "# exec_enabled is not set" "NETINV_LOG_LEVEL=info"
queue '{"id":"g-local","name":"mark"}'
checkin; checkin
[ "$(marks mark)" = 0 ] && [ "$(result g-local status)" = '"refused"' ] &&
	result g-local error | grep -q "exec_enabled=yes is not set in $E/netinv.conf" &&
	ok "gate 2 (exec_enabled) closed: nothing ran, refusal reported" || notok "local gate: $(result g-local error)"

# exec_enabled from the environment or a flag opens nothing
queue '{"id":"g-env","name":"mark"}'
NETINV_EXEC_ENABLED=yes exec_enabled=yes checkin; checkin
[ "$(marks mark)" = 0 ] && [ "$(result g-env status)" = '"refused"' ] &&
	ok "exec_enabled in the environment is ignored" || notok "environment opened the gate"
nv --exec-enabled >/dev/null 2>&1
[ $? = 64 ] && ok "there is no flag for it (usage error)" || notok "a flag was accepted"

# a configuration file others could write is not trusted
conf "exec_enabled=yes"
chmod 0666 "$E/netinv.conf"
queue '{"id":"g-mode","name":"mark"}'
checkin; checkin
[ "$(marks mark)" = 0 ] && result g-mode error | grep -q "owned by root and writable only by root" &&
	ok "exec_enabled in a world-writable file is ignored" || notok "writable config: $(result g-mode error)"
conf "exec_enabled=yes"

# gate 1: a netinv built with EXEC=0
NOEXEC=$IT_TOP/build-noexec/netinv
[ -x "$NOEXEC" ] || make -C "$IT_TOP" BUILD=build-noexec EXEC=0 all >"$dir/noexec.log" 2>&1
if "$NOEXEC" --version | grep -q "command execution: not compiled in" && ! nm "$NOEXEC" | grep -q "exec_spawn"; then
	ok "make EXEC=0: --version says so, and the binary has no exec code"
else
	notok "EXEC=0 build: $(tail -3 "$dir/noexec.log" 2>/dev/null)"
fi
queue '{"id":"g-build","name":"mark"}'
BIN=$NOEXEC checkin; BIN=$NOEXEC checkin
[ "$(marks mark)" = 0 ] && result g-build error | grep -q "not compiled into this netinv" &&
	ok "gate 1 (EXEC=0 build) closed: nothing ran, refusal reported" || notok "build gate: $(result g-build error)"

# ---- all open ----
queue '{"id":"run-1","name":"mark"},{"id":"echo-1","name":"echo","args":["eth0","42"]}'
checkin
[ "$(marks mark)" = 1 ] && [ "$(result run-1 status)" = none ] &&
	ok "all gates open: the command ran once; its result waits for the next check-in" || notok "run: marks $(marks mark)"
checkin
[ "$(result run-1 status)" = '"completed"' ] && [ "$(result run-1 exit_code)" = 0 ] &&
	[ "$(result echo-1 stdout)" = '"said: eth0 42\n"' ] && grep -q "command echo-1 (echo) ran: exit 0" "$LOG" &&
	ok "its result arrived on the next check-in (stdout, exit code), and the run was logged" ||
	notok "result: $(result echo-1 stdout)"
! grep -q "said: eth0" "$LOG" && ok "the log has no command output" || notok "output in the log"

# ---- refusals ----
queue '{"id":"inj-1","name":"echo","args":["a;id","1"]},{"id":"inj-2","name":"echo","args":["$(id)","1"]},{"id":"inj-3","name":"echo","args":["a\nb","1"]},{"id":"inj-4","name":"echo","args":["/etc/shadow","1"]},{"id":"inj-5","name":"echo","args":["..","1"]},{"id":"inj-6","name":"echo","args":["a","1","extra"]},{"id":"out-1","name":"rm","args":["-rf","/"]},{"id":"out-2","name":"../bin/sh"},{"id":"out-3","name":"/bin/sh"}'
checkin; checkin
bad=""
for i in 1 2 3 4 5 6; do [ "$(result inj-$i status)" = '"refused"' ] || bad="$bad inj-$i"; done
result inj-3 error | grep -q "control character" || bad="$bad inj-3-reason"
result inj-5 error | grep -q "'..'" || bad="$bad inj-5-reason"
[ -z "$bad" ] && ok "argument injection (; \$() newline absolute path .. extra argument): each refused with its reason" ||
	notok "injection:$bad"
[ "$(result out-1 status)" = '"refused"' ] && result out-1 error | grep -q "not in the allowlist" &&
	[ "$(result out-2 status)" = '"refused"' ] && [ "$(result out-3 status)" = '"refused"' ] &&
	ok "names outside the allowlist (rm, ../bin/sh, /bin/sh): refused" || notok "names: $(result out-2 error)"

# ---- huge output ----
queue '{"id":"big-1","name":"big"}'
checkin; checkin
[ "$(result big-1 stdout | wc -c)" -ge 10000 ] && [ "$(result big-1 stdout | wc -c)" -le 10003 ] &&
	[ "$(result big-1 stdout_truncated)" = true ] && [ "$(result big-1 exit_code)" = 0 ] &&
	ok "a 5 MB output: 10000 bytes kept (max_output), stdout_truncated" || notok "big: $(result big-1 stdout | wc -c)"

# ---- a command that forks and sleeps ----
policy true 2
queue '{"id":"fork-1","name":"forker"}'
t0=$(date +%s)
checkin
t1=$(date +%s)
checkin
policy true 15
if [ "$(result fork-1 timed_out)" = true ] && [ $((t1 - t0)) -lt 10 ] && ! pgrep -f "sleep 3127" >/dev/null; then
	ok "forks and sleeps: killed with its whole process group at the timeout ($((t1 - t0)) s, none left)"
else
	notok "forker: timed_out $(result fork-1 timed_out), $((t1 - t0)) s, left: $(pgrep -af 'sleep 3127')"
	pkill -f "sleep 3127"
fi

# ---- commands that leave their process group (setsid, double fork, SIGTERM ignored) ----
queue '{"id":"esc-1","name":"escaper"}'
checkin
checkin
left=$(pgrep -af "sleep 333[2-5]")
if [ "$(result esc-1 exit_code)" = 0 ] && [ -z "$left" ]; then
	ok "a command that exits leaving setsid and double-forked children: none outlive it"
else
	notok "escaper: exit $(result esc-1 exit_code), left: $left"
	pkill -f "sleep 333[2-5]"
fi
policy true 2
queue '{"id":"esc-2","name":"slowescaper"}'
t0=$(date +%s)
checkin
t1=$(date +%s)
checkin
policy true 15
left=$(pgrep -af "sleep 333[6-8]")
if [ "$(result esc-2 timed_out)" = true ] && [ $((t1 - t0)) -lt 10 ] && [ -z "$left" ]; then
	ok "at the timeout, every descendant ends: setsid, double fork, one ignoring SIGTERM ($((t1 - t0)) s)"
else
	notok "slowescaper: timed_out $(result esc-2 timed_out), $((t1 - t0)) s, left: $left"
	pkill -f "sleep 333[6-8]"
fi
# netinv itself told to stop while a command runs: the command's whole tree goes with it
queue '{"id":"esc-3","name":"slowescaper"}'
$x "$NETINV" --no-jitter --config "$E/netinv.conf" --check-in-only --force 2>>"$LOG" &
np=$!
for _ in $(seq 50); do pgrep -f "sleep 3337" >/dev/null && break; sleep 0.1; done
kill -TERM "$np"
wait "$np"
rc=$?
sleep 0.3
left=$(pgrep -af "sleep 333[6-8]")
if [ "$rc" = 143 ] && [ -z "$left" ]; then
	ok "netinv stopped by SIGTERM mid-command: exit 143, no descendant of the command left"
else
	notok "SIGTERM mid-command: exit $rc, left: $left"
	pkill -f "sleep 333[6-8]"
fi

# ---- a run spends at most twice the command timeout on commands; the rest come later ----
printf '[nap]\nexec = /bin/sleep\nargs = 30\n' >"$E/commands.d/nap.conf"
chmod 0644 "$E/commands.d/nap.conf"
policy true 1
queue '{"id":"nap-1","name":"nap"},{"id":"nap-2","name":"nap"},{"id":"nap-3","name":"nap"}'
checkin
grep -q "command nap-3 (nap) deferred: this run spent its 2s on commands" "$LOG" &&
	grep -q "command nap-2 (nap) ran" "$LOG" && ok "command time per run bounded (2 x timeout): the third waits" ||
	notok "budget: $(grep nap- "$LOG")"
checkin
policy true 15
checkin
[ "$(result nap-3 timed_out)" = true ] && [ "$(nresults nap-3)" = 1 ] &&
	ok "the deferred command ran on a later check-in, once" || notok "deferred: $(result nap-3 status)"

# ---- at most once ----
# netinv is killed by the command it runs; the server keeps sending the command (sticky)
queue '{"id":"crash-1","name":"crash"}' sticky
(checkin) 2>/dev/null # the shell's "Killed" notice
checkin
checkin
[ "$(marks crash)" = 1 ] && [ "$(result crash-1 status)" = '"interrupted"' ] && [ "$(nresults crash-1)" = 1 ] &&
	grep -q "command crash-1 (crash) was received before" "$LOG" &&
	ok "netinv killed mid-command: the id, recorded before the spawn, is not run again; reported interrupted" ||
	notok "crash replay: marks $(marks crash), status $(result crash-1 status)"
queue '{"id":"run-1","name":"mark"}'
checkin; checkin
[ "$(marks mark)" = 1 ] && [ "$(nresults run-1)" = 1 ] &&
	ok "a delivered command id sent again: not run again, no second result" || notok "replay: marks $(marks mark)"

$x "$NETINV" status --config "$E/netinv.conf" >"$dir/status" 2>&1
grep -Eq "^commands: +[0-9]+ received, 0 results waiting for the next check-in$" "$dir/status" &&
	grep -q "^command execution: on here (8 allowlisted in $E/commands.d); the server's policy allows commands$" "$dir/status" &&
	ok "netinv status: commands received, results to deliver, the gates" ||
	notok "status: $(grep command "$dir/status")"
: >"$dir/plain.conf"
BIN=$NOEXEC nv status | grep -q "^command execution: not compiled in$" &&
	$x "$NETINV" status --config "$dir/plain.conf" 2>&1 | grep -q "^command execution: off (exec_enabled=yes is not set in $dir/plain.conf)$" &&
	ok "netinv status says when command execution is not compiled in or off, and why" || notok "status gates"

# ---- scripts ----
queue '{"id":"sc-1","name":"diag","script":"echo ran-script >> '"$M"'"}'
checkin; checkin
[ "$(marks script)" = 0 ] && result sc-1 error | grep -q "exec_allow_scripts=yes" &&
	ok "a script without exec_allow_scripts: refused" || notok "script gate: $(result sc-1 error)"
conf "exec_enabled=yes" "exec_allow_scripts=yes"
queue '{"id":"sc-2","name":"diag","script":"echo \"arg=$1\"\necho ran-script >> '"$M"'\n","args":["v1"]}'
checkin; checkin
[ "$(result sc-2 stdout)" = '"arg=v1\n"' ] && [ "$(marks script)" = 1 ] &&
	[ -z "$(ls -A "$S/exec")" ] && [ "$(stat -c %a "$S/exec")" = 700 ] && [ "$(result sc-2 status)" = '"completed"' ] &&
	ok "with exec_allow_scripts: bash -euo pipefail ran it; the 0700 directory is left empty" ||
	notok "script: $(result sc-2 stdout) $(ls -la "$S/exec")"
echo precious >"$dir/target"
ln -s "$dir/target" "$S/exec/script-sc-3.sh"
queue '{"id":"sc-3","name":"diag","script":"echo pwned > /dev/stderr"}'
checkin; checkin
[ "$(result sc-3 status)" = '"refused"' ] && [ "$(cat "$dir/target")" = precious ] && [ -L "$S/exec/script-sc-3.sh" ] &&
	grep -q "script-sc-3.sh is not a script netinv wrote: left in place" "$LOG" &&
	ok "a symlink planted at the script path: refused, its target untouched, reported" || notok "planted: $(result sc-3 error)"

# the journal damaged: moved aside, commands refused for that run (never run twice)
printf 'garbage' | dd of="$S/commands.journal" bs=1 seek=20 conv=notrunc status=none
queue '{"id":"dm-1","name":"mark"}'
checkin
grep -q "command journal .* is damaged" "$LOG" && [ -f "$S/commands.journal.damaged" ] && [ "$(marks mark)" = 1 ] &&
	grep -q "command dm-1 (mark) refused: the command journal" "$LOG" &&
	ok "a damaged journal: one-line error, moved aside, what can be read of it kept, commands refused" ||
	notok "damaged journal"
# fail closed: refused on every run until the operator removes the damaged file; then the ids
# recovered from it (run-1 ran long ago) still never run again, and new ones do
: >"$LOG"
checkin
grep -q "commands are refused: the command journal was damaged" "$LOG" && [ "$(marks mark)" = 1 ] &&
	$x "$NETINV" status --config "$E/netinv.conf" 2>&1 | grep -q "^commands: .*commands.journal.damaged is still there" &&
	ok "the next run still refuses commands while commands.journal.damaged is there (status says so)" ||
	notok "quarantine: $(grep -i journal "$LOG")"
rm "$S/commands.journal.damaged"
queue '{"id":"run-1","name":"mark"}' sticky
queue '{"id":"dm-2","name":"mark"}'
checkin; checkin
# dm-1 was refused (never run, so the server sends it again) and dm-2 is new: one mark each
[ "$(marks mark)" = 3 ] && grep -q "command run-1 (mark) was received before" "$LOG" &&
	[ "$(grep -c "command dm-[12] (mark) ran" "$LOG")" = 2 ] &&
	ok "after the operator removed it: a recovered id is not run again, the refused and new ones run once" ||
	notok "after recovery: marks $(marks mark); $(grep -E 'run-1|dm-' "$LOG" | tr '\n' '|')"

# every result the server got fits the published schema
$x curl -s "$URL/admin/results?agent_uuid=$UUID" >"$dir/results.json"
if "$PYTHON" - "$IT_TOP/report/schema/report.schema.json" "$dir/results.json" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
results = json.load(open(sys.argv[2]))
jsonschema.validate({"command_results": results}, {"type": "object", "properties": {"command_results": schema["properties"]["command_results"]}})
PY
then ok "all $(python3 -c "import json; print(len(json.load(open('$dir/results.json'))))") results match report.schema.json"; else notok "schema"; fi
pkill -f "sleep 3127" 2>/dev/null
pkill -f "sleep 33[0-9][0-9]" 2>/dev/null
exit $((fails > 0))
