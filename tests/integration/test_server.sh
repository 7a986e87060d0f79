#!/usr/bin/env bash
# netinv against the loopback test server, in a namespace of its own: enrollment, approval, key
# storage, full and split check-ins, deltas, key rotation and install-key, every status code and
# fault mode (a distinct message, the right exit code, state untouched), a server down for 20 runs,
# a reply lost after the server stored the report, and secrets kept out of logs and argv.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
it_tmpdir srv || exit 1
ns=netinv-srv-$$
ns_new "$ns" && ns_populate "$ns" && ns_sockets "$ns" || { notok "build the namespace"; exit 1; }
x="ip netns exec $ns"
ip netns exec "$ns" "$PYTHON" "$here/server.py" "$dir/port" >"$dir/server.log" 2>&1 &
PIDS_STARTED+=("$!")
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
PORT=$(cat "$dir/port")
URL=http://127.0.0.1:$PORT
KEY=gaek_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
printf '%s\n' "$KEY" >"$dir/ek" && chmod 600 "$dir/ek"
S=$dir/state
export NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_STATE_DIR=$S NETINV_TIMEOUT=5
export NETINV_IMPORT_FROM=$dir/none
LOG=$dir/all.log
: >"$LOG"

nv() { $x "$NETINV" --no-jitter "$@" 2>>"$LOG"; }
admin() { $x curl -s -X POST -d "$2" "$URL/admin/$1"; }
state() { $x curl -s "$URL/admin/state"; }
seqno() { $x "$NETINV" status 2>/dev/null | awk '/^sequence number:/ {print $3}'; }
srvjq() { state | "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); a=list(d['agents'].values()); print($1)"; }
expect() { # expect CODE PATTERN -- netinv args: exit code, a log line matching PATTERN, state untouched
	local code=$1 pat=$2 before after rc
	shift 3
	before=$(sha256sum "$S/acked.state" 2>/dev/null)
	$x "$NETINV" --no-jitter "$@" 2>"$dir/err"
	rc=$?
	cat "$dir/err" >>"$LOG"
	after=$(sha256sum "$S/acked.state" 2>/dev/null)
	if [ "$rc" = "$code" ] && grep -q -- "$pat" "$dir/err" && [ "$before" = "$after" ]; then
		ok "$desc: exit $code, '$(grep -- "$pat" "$dir/err" | head -1 | cut -c1-150)', state untouched"
	else
		notok "$desc: exit $rc (want $code), state $([ "$before" = "$after" ] && echo kept || echo CHANGED): $(cat "$dir/err")"
	fi
}

# enrollment
nv --register-only
rc=$?
[ $rc = 0 ] && grep -q "waiting for approval" "$LOG" && [ ! -e "$S/api_key" ] &&
	grep -q "^registration=pending" "$S/agent.status" && ok "register-only: pending, exit 0, no key yet" ||
	notok "register-only: exit $rc $(tail -2 "$LOG")"
UUID=$(cat "$S/agent_uuid")
nv; rc=$?
[ $rc = 0 ] && [ ! -e "$S/api_key" ] && ok "a run while pending registers again and exits 0" || notok "pending run: exit $rc"
admin approve "{\"agent_uuid\":\"$UUID\"}" >/dev/null
nv; rc=$?
if [ $rc = 0 ] && [ "$(stat -c %a "$S/api_key")" = 600 ] && grep -q '^gpak_' "$S/api_key" &&
	[ "$(srvjq "a[0]['checkins']")" = 1 ] && [ "$(srvjq "a[0]['seqs']")" = "[1]" ]; then
	ok "approved: key stored 0600, full check-in accepted (sequence 1)"
else
	notok "first check-in: exit $rc $(tail -3 "$LOG")"
fi
[ "$(cat "$S/agent_uuid")" = "$UUID" ] || notok "identity changed"

# the server's inventory equals a full snapshot of the namespace
compare_inventory && ok "the server's inventory matches a full snapshot" || notok "inventory differs after the first check-in"

# steady state: the cadence skips, --check-in-only sends an empty delta
nv; rc=$?
[ $rc = 0 ] && grep -q "next check-in due in" "$LOG" && [ "$(srvjq "a[0]['checkins']")" = 1 ] &&
	ok "not due yet: no check-in, exit 0" || notok "cadence: exit $rc"
nv --check-in-only; rc=$?
[ $rc = 0 ] && [ "$(srvjq "a[0]['seqs']")" = "[1, 2]" ] && ok "--check-in-only: delta check-in (sequence 2)" ||
	notok "check-in-only: exit $rc"
ip -n "$ns" route add 198.18.0.0/15 via 192.0.2.1
ip -n "$ns" route del 10.66.0.0/16
nv --check-in-only && compare_inventory && ok "a change arrives as a delta; the inventory still matches" ||
	notok "delta check-in"

# a report larger than the policy's max_report_bytes goes in parts, each accepted in turn
for i in $(seq 0 399); do echo "route add 172.$((16 + i / 250)).$((i % 250)).0/24 via 192.0.2.1"; done >"$dir/many"
ip -n "$ns" -batch "$dir/many"
admin policy '{"max_report_bytes": 16384}' >/dev/null
nv --check-in-only   # learns the small limit from the reply (the report itself still fit)
before=$(srvjq "a[0]['checkins']")
nv --check-in-only --full; rc=$?
after=$(srvjq "a[0]['checkins']")
if [ $rc = 0 ] && [ $((after - before)) -ge 3 ] && grep -q "parts accepted" "$LOG" && compare_inventory &&
	srvjq "a[0]['seqs']" | "$PYTHON" -c "import sys,ast; s=ast.literal_eval(sys.stdin.read()); assert s==sorted(s) and len(set(s))==len(s), s"; then
	ok "full snapshot in $((after - before)) parts of at most 16 KiB, consecutive sequence numbers, inventory matches"
else
	notok "split: exit $rc, $((after - before)) check-ins; $(tail -3 "$LOG")"
fi
admin policy '{"max_report_bytes": 262144}' >/dev/null
nv --check-in-only

# the server's decoded limit smaller than what netinv believes: 413, then smaller parts
admin policy '{"max_report_bytes": 20000}' >/dev/null
sed -i 's/^policy_max_report_bytes=.*/policy_max_report_bytes=262144/; s/^part_budget=.*/part_budget=0/' "$S/agent.status"
ip -n "$ns" route add 198.51.100.0/25 via 192.0.2.1
$x "$NETINV" --no-jitter --check-in-only --full 2>"$dir/err"; rc=$?
cat "$dir/err" >>"$LOG"
[ $rc = 0 ] && grep -q "too large (413" "$dir/err" && grep -q "retrying in parts of at most" "$dir/err" && compare_inventory &&
	ok "413: the report is retried in smaller parts and accepted" || notok "413 handling: exit $rc $(cat "$dir/err")"
admin policy '{"max_report_bytes": 262144}' >/dev/null
nv --check-in-only

# fault modes and status codes: distinct message, exit code, acknowledged state untouched
fault() { admin fault "$1" >/dev/null; }
desc="503"; fault '{"mode":"5xx","count":1,"status":503}'; expect 75 "server error 503" -- --check-in-only
desc="502"; fault '{"mode":"5xx","count":1,"status":502}'; expect 75 "server error 502" -- --check-in-only
desc="429 Retry-After"; fault '{"mode":"retry-after","count":1,"status":429,"seconds":1800}'
expect 75 "asks to slow down (429)" -- --check-in-only
na=$(awk -F= '/^next_attempt=/ {print $2}' "$S/agent.status")
[ "$na" -ge $(( $(date +%s) + 1700 )) ] && ok "Retry-After honoured: next attempt in >= 1800 s" || notok "Retry-After ignored ($na)"
desc="backing off (the unit stays failed)"; expect 75 "backing off after" --
# the metrics file for node_exporter: each run, success or failure, replaced whole (0644)
M=$dir/textfile/netinv.prom
mkdir -p "$dir/textfile"
prom() { "$PYTHON" "$IT_DIR/promcheck.py" "$M" "$@" >"$dir/prom.txt" 2>&1; }
NETINV_METRICS_FILE=$M nv
prom 'netinv_last_exit_code=75' 'netinv_last_outcome{outcome="backing_off"}=1' 'netinv_consecutive_failures=3' &&
	ok "metrics while backing off: exit 75, outcome backing_off, 3 consecutive failures" ||
	notok "metrics while backing off: $(cat "$dir/prom.txt")"
fault '{"mode":"5xx","count":1,"status":503}'
NETINV_METRICS_FILE=$M nv --check-in-only
prom 'netinv_last_exit_code=75' 'netinv_last_outcome{outcome="temporary_failure"}=1' 'netinv_consecutive_failures=4' &&
	ok "metrics after a failed check-in: exit 75, temporary_failure, 4 consecutive failures" ||
	notok "metrics after a failure: $(cat "$dir/prom.txt")"
# the metrics file for node_exporter: each run, success or failure, replaced whole (0644)
NETINV_METRICS_FILE=$M nv --check-in-only --force
rc=$?
if [ $rc = 0 ] && [ "$(stat -c %a "$M")" = 644 ] && [ -z "$(ls -A "$dir/textfile" | grep -v '^netinv.prom$')" ] &&
	prom 'netinv_last_exit_code=0' 'netinv_last_outcome{outcome="checked_in"}=1' \
		'netinv_last_success_timestamp_seconds=>0' 'netinv_consecutive_failures=0' \
		'netinv_records{table="links"}=>0' 'netinv_report_bytes{encoding="gzip"}=>0' 'netinv_report_parts=1' \
		'netinv_changes{table="routes",kind="added"}=0' 'netinv_dump_duration_seconds{table="routes"}=>0' \
		'netinv_run_duration_seconds=>0' "netinv_info{version=\"$(cat "$IT_TOP/VERSION")\",agent_uuid=\"$UUID\",agent_id=\"$(srvjq "a[0]['id']")\"}=1"; then
	ok "metrics file after a check-in: 0644, exposition format, figures right ($(tail -1 "$dir/prom.txt"))"
else
	notok "metrics after a check-in (exit $rc): $(cat "$dir/prom.txt")"
fi

nv --check-in-only --force >/dev/null
# a week's Retry-After is capped at 24 hours, and the cap is said
desc="Retry-After of a week"; fault '{"mode":"retry-after","count":1,"status":503,"seconds":604799}'
expect 75 "asked to wait 604799s (Retry-After); waiting at most 86400s" -- --check-in-only
na=$(awk -F= '/^next_attempt=/ {print $2}' "$S/agent.status")
[ "$na" -le $(( $(date +%s) + 86400 + 5 )) ] && [ "$na" -ge $(( $(date +%s) + 86000 )) ] &&
	ok "Retry-After capped: next attempt in 24 hours, not a week" || notok "Retry-After cap: next attempt $na"
nv --check-in-only --force >/dev/null
desc="a 1 MiB reply header"; fault '{"mode":"bigheader","count":1}'
expect 75 "a reply header was larger than curl accepts" -- --check-in-only
# A 2xx reply that cannot be read: the server may have stored the report, so the outcome is
# unknown (exit 75, sent again), never "refused"
desc="garbage reply"; fault '{"mode":"garbage","count":1}'; expect 75 "HTTP 200 but its reply cannot be read (a value is malformed); it may have stored" -- --check-in-only
desc="HTML reply"; fault '{"mode":"html","count":1}'; expect 75 "HTTP 200 but its reply cannot be read" -- --check-in-only
desc="wrong status field"; fault '{"mode":"wrong-status","count":1}'; expect 76 "check-in status is not 'accepted'" -- --check-in-only
desc="reply one byte over the bound"; fault '{"mode":"pad","count":1,"over":1}'
expect 75 "the report was sent but no reply could be read (the reply was larger than [0-9]* bytes); the server may have stored it" -- --check-in-only
seq_before=$(seqno)
fault '{"mode":"pad","count":1,"over":0}'
nv --check-in-only; rc=$?
[ $rc = 0 ] && [ "$(seqno)" = $((seq_before + 1)) ] && compare_inventory &&
	ok "a reply of exactly the bound (64 KiB + 4 x the decoded report) is read: accepted, inventory matches" ||
	notok "reply at the bound: exit $rc $(tail -2 "$LOG")"
desc="endless reply"; fault '{"mode":"endless","count":1,"seconds":8}'; expect 75 "reply was larger than" -- --check-in-only
desc="gzip bomb reply"; fault '{"mode":"gzipbomb","count":1}'; expect 75 "reply cannot be read" -- --check-in-only
desc="slow server"; fault '{"mode":"slow","count":1,"seconds":8}'; expect 75 "timed out" -- --check-in-only --timeout 2
sleep 6 # let the slow handler finish before the next call
desc="422"; fault '{"mode":"invalid","count":1}'; expect 65 "routes\[3\].gateway: invalid or unspecified" -- --check-in-only
# the connection closes after the request went out: netinv cannot tell whether it was stored
desc="connection closed unanswered"; fault '{"mode":"refuse","count":1}'; expect 75 "no reply could be read (Empty reply from server); the server may have stored it" -- --check-in-only
desc="server gone"; expect 75 "cannot reach the server" -- --check-in-only --server-url http://127.0.0.1:1
desc="403 revoked"; admin revoke "{\"agent_uuid\":\"$UUID\"}" >/dev/null; expect 77 "refused this agent (403: Agent revoked)" -- --check-in-only
admin approve "{\"agent_uuid\":\"$UUID\"}" >/dev/null
desc="401 enrollment key"; printf 'gaek_%s\n' IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII >"$dir/ek2"
expect 77 "refused the enrollment key (401" -- --register-only --state-dir "$dir/s401" --enrollment-key-file "$dir/ek2"
desc="403 expired enrollment key"; printf 'gaek_%s\n' EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE >"$dir/ek3"
expect 77 "refused the registration (403: Enrollment key expired)" -- --register-only --state-dir "$dir/s403" --enrollment-key-file "$dir/ek3"
# 409: the key of this agent used with another identity
mkdir -m 700 "$dir/s409" && cp "$S/api_key" "$dir/s409/" && echo 123e4567-e89b-42d3-a456-426614174000 >"$dir/s409/agent_uuid"
desc="409"; expect 77 "does not belong to the agent key (409" -- --check-in-only --state-dir "$dir/s409"
desc="not registered"; expect 77 "not registered yet" -- --check-in-only --state-dir "$dir/s-none"
desc="no server"; NETINV_SERVER_URL= expect 78 "no server_url configured" --
desc="insecure URL"; expect 78 "plain http to a non-loopback host" -- --server-url http://192.0.2.99/

# a reply lost after the server stored the report: re-sent next time, stored idempotently
ip -n "$ns" route add 198.51.100.128/25 via 192.0.2.1
fault '{"mode":"drop-after-accept","count":1}'
desc="reply lost after storing"; expect 75 "the server may have stored it" -- --check-in-only
seq_before=$(seqno)
nv --check-in-only && [ "$(seqno)" = $((seq_before + 1)) ] && compare_inventory &&
	ok "the lost report is sent again and upserted: inventory matches, no duplicate" || notok "re-send after a lost reply"

# the state directory cannot record the report about to go out (a full disk): nothing is sent
FAULTINJ=$(dirname "$NETINV")/tests/faultinj.so
# a sanitizer runtime must come first in the library list; the preload is ours and harmless
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
ip -n "$ns" route add 198.51.100.64/27 via 192.0.2.1
before=$(srvjq "a[0]['checkins']")
NETINV_FAULT=create:1:enospc NETINV_FAULT_DIR="$S" LD_PRELOAD="$FAULTINJ" $x "$NETINV" --no-jitter --check-in-only 2>"$dir/err"
rc=$?
cat "$dir/err" >>"$LOG"
[ $rc = 73 ] && grep -q "cannot record the report about to be sent .*No space left on device (nothing was sent)" "$dir/err" &&
	[ "$(srvjq "a[0]['checkins']")" = "$before" ] && [ ! -e "$S/unconfirmed.state" ] &&
	ok "no room to record the report before sending it: exit 73, one line, nothing sent" ||
	notok "unrecordable report: exit $rc, $(cat "$dir/err")"
nv --check-in-only && compare_inventory && ok "the next run sends it" || notok "after the full disk"

# a lost reply leaves a record of what was sent; status shows it, the next report converges from it
ip -n "$ns" route add 198.51.100.96/27 via 192.0.2.1
fault '{"mode":"drop-after-accept","count":1}'
nv --check-in-only
ip -n "$ns" route del 198.51.100.96/27 via 192.0.2.1
$x "$NETINV" status >"$dir/status" 2>&1
grep -Eq "^unconfirmed: +sequence [0-9]+, [0-9]+ records? \(no reply came" "$dir/status" && [ -s "$S/unconfirmed.state" ] &&
	ok "status shows the unconfirmed report (sequence, records)" || notok "status: $(grep -i unconfirmed "$dir/status")"
nv --check-in-only && compare_inventory && [ ! -e "$S/unconfirmed.state" ] &&
	ok "a route stored by a report whose reply was lost, then deleted: removed from the server by the next report" ||
	notok "converge after a lost reply: $(tail -2 "$LOG")"

# the server down for 20 consecutive runs, then back: one check-in carries everything
for i in $(seq 1 20); do
	ip -n "$ns" route add 203.0.113.$((i * 4))/30 via 192.0.2.1
	fault '{"mode":"refuse","count":1}'
	nv --check-in-only --force; [ $? = 75 ] || notok "run $i while down did not exit 75"
done
seq_before=$(seqno)
accepted_before=$(srvjq "a[0]['checkins']")
nv --check-in-only --force; rc=$?
got_seq=$(seqno)
got_checkins=$(srvjq "a[0]['checkins']")
# one run (in one or more parts): every accepted part advanced the sequence once, no re-send
if [ $rc = 0 ] && [ $((got_seq - seq_before)) -ge 1 ] && [ $((got_checkins - accepted_before)) = $((got_seq - seq_before)) ] &&
	compare_inventory; then
	ok "after 20 failed runs the next run carries all 20 changes ($((got_seq - seq_before)) part(s)); nothing lost, nothing sent twice"
else
	notok "recovery after 20 failures: exit $rc, sequence $seq_before -> $got_seq, check-ins $accepted_before -> $got_checkins"
fi

# key rotation: the old key gets a clear 401; install-key resumes without re-enrollment
regs=$(state | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['stats']['register'])")
NEWKEY=$(admin rotate "{\"agent_uuid\":\"$UUID\"}" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['api_key'])")
desc="401 rotated key"; expect 77 "refused the agent key (401" -- --check-in-only
grep -q "install-key" "$dir/err" && ok "the 401 message tells the operator to use install-key" || notok "401 message lacks the remedy"
printf '%s\n' "$NEWKEY" >"$dir/newkey"
$x "$NETINV" install-key "$dir/newkey" 2>>"$LOG"; rc=$?
[ $rc = 0 ] && [ "$(stat -c %a "$S/api_key")" = 600 ] && ok "install-key: stored 0600" || notok "install-key exit $rc"
nv --check-in-only; rc=$?
regs2=$(state | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['stats']['register'])")
[ $rc = 0 ] && [ "$regs" = "$regs2" ] && [ "$(cat "$S/agent_uuid")" = "$UUID" ] && [ "$(srvjq "len(a)")" = 1 ] &&
	ok "check-ins resume with the new key: no re-enrollment, same identity, one agent on the server" ||
	notok "after install-key: exit $rc"
echo "not-a key" >"$dir/badkey"
desc="install-key of a bad file"; expect 65 "does not hold a key" -- install-key "$dir/badkey"

# status shows the registration, the key prefix only, the policy, the last error
$x "$NETINV" status >"$dir/status" 2>&1
grep -q "registration:     active" "$dir/status" && grep -q "agent key:        gpak_" "$dir/status" &&
	! grep -q "$NEWKEY" "$dir/status" && ok "status: registration, key prefix only, policy" || notok "status: $(cat "$dir/status")"

# secrets: never in logs, never in --check-config, never accepted in argv
$x "$NETINV" --check-config >"$dir/cc" 2>&1
ALLKEYS="$KEY|$NEWKEY|$(cat "$S/api_key")"
if ! grep -Eq "$ALLKEYS" "$LOG" "$dir/cc" "$dir/server.log" && grep -q "enrollment_key *= <redacted>" "$dir/cc"; then
	ok "no key appears in any log line or in --check-config"
else
	notok "a secret leaked: $(grep -Eo "$ALLKEYS" "$LOG" "$dir/cc" | head -2)"
fi
$x "$NETINV" --check-in-only --log-level debug 2>"$dir/debug.log"
grep -q "curl: > POST /api/agents/check-in" "$dir/debug.log" && ! grep -Eq "$ALLKEYS" "$dir/debug.log" &&
	grep -q "X-Agent-Api-Key: \*\*\*\*" "$dir/debug.log" && ok "curl's debug trace redacts the key" ||
	notok "debug trace: $(grep -i api-key "$dir/debug.log" | head -2)"
# a key the server sends without any recognisable prefix, received and used in the same run
admin keystyle '{"prefix": ""}' >/dev/null
RS=$dir/s-redact
mkdir -m 700 "$RS"
$x "$NETINV" --no-jitter --register-only --state-dir "$RS" 2>>"$LOG"
admin approve "{\"agent_uuid\":\"$(cat "$RS/agent_uuid")\"}" >/dev/null
$x "$NETINV" --no-jitter --state-dir "$RS" --log-level debug 2>"$dir/debug2.log"
rc=$?
PLAINKEY=$(cat "$RS/api_key" 2>/dev/null)
admin keystyle '{"prefix": "gpak_"}' >/dev/null
[ $rc = 0 ] && [ -n "$PLAINKEY" ] && [ "${PLAINKEY#gpak_}" = "$PLAINKEY" ] && grep -q "check-in accepted" "$dir/debug2.log" &&
	! grep -qF "${PLAINKEY:0:10}" "$dir/debug2.log" && ! grep -qF "${PLAINKEY: -10}" "$dir/debug2.log" &&
	ok "a prefix-less agent key received mid-run is redacted from the check-in's trace" ||
	notok "redaction of a key received mid-run: exit $rc, $(grep -cF "${PLAINKEY:0:10}" "$dir/debug2.log") lines show it"
# the same key across the 1,023-byte cut of a trace line: a server_url path places it there
k=$("$PYTHON" - "$dir/debug2.log" <<'PY'
import sys
t = open(sys.argv[1], errors="replace").read()
blk = t[t.index("curl: > POST /api/agents/check-in") + len("curl: > "):]
print(blk.index("X-Agent-Api-Key: ") + len("X-Agent-Api-Key: "))
PY
)
long=$(printf 'p%.0s' $(seq $((1023 - 10 - k - 1))))
$x "$NETINV" --no-jitter --state-dir "$RS" --check-in-only --server-url "$URL/$long" --log-level debug 2>"$dir/debug3.log"
rc=$?
if [ $rc = 0 ] && grep -q "curl: > POST /$long/api/agents/check-in" "$dir/debug3.log" &&
	grep -q "X-Agent-Api-Key: \*\+$" "$dir/debug3.log" && ! grep -qF "${PLAINKEY:0:10}" "$dir/debug3.log"; then
	ok "a key across the cut of a trace line (${k}+$((1023 - 10 - k)) bytes in) is redacted before the cut"
else
	notok "redaction across the cut: exit $rc: $(grep -a "X-Agent-Api-Key" "$dir/debug3.log" | head -1 | cut -c1-80)"
fi
desc="secret in argv"; expect 64 "secrets are not accepted on the command line" -- --enrollment-key "$KEY"
grep -q "$KEY" "$dir/err" && notok "the refused secret was echoed" || true
exit $((fails > 0))
