#!/usr/bin/env bash
# The timer's run and this agent's slot, against the loopback server with an hourly policy: the
# slot comes from the number the server gives the agent (learnt from a check-in reply) and `netinv
# status` shows it; a run whose slot comes before the timer's next run waits for it with the state
# directory unlocked (status answers meanwhile, a manual check-in runs and the waiting run then
# finds nothing due, a SIGTERM ends the wait with nothing changed), checks in at the slot, and the
# metrics say how long it waited; a --no-jitter run does not wait.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
it_ns slot || { notok "build the namespace"; exit 1; }
server_start http --interval 3600 || { notok "start the loopback server"; exit 1; }
printf 'gaek_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n' >"$dir/ek" && chmod 600 "$dir/ek"
S=$dir/state
M=$dir/netinv.prom
export NETINV_SERVER_URL=$URL NETINV_ENROLLMENT_KEY_FILE=$dir/ek NETINV_STATE_DIR=$S NETINV_TIMEOUT=5
export NETINV_METRICS_FILE=$M
LOG=$dir/all.log
: >"$LOG"

# stdin and stderr are not terminals: these are the timer's runs unless --no-jitter says otherwise
nv() { $x "$NETINV" "$@" </dev/null 2>>"$LOG"; }
admin() { $x curl -s -X POST -d "$2" "$URL/admin/$1"; }
checkins() { $x curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; print(list(json.load(sys.stdin)['agents'].values())[0]['checkins'])"; }
status_json() { $x "$NETINV" status --json </dev/null 2>>"$LOG"; }
jq_() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# The slot of the server's agent number n: 3600 times the fractional part of n / phi (as netinv).
slot_of() { "$PYTHON" -c "print(((($1) * 0x9E3779B97F4A7C15) % (1 << 64)) * 3600 >> 64)"; }
# Sets n, an agent number whose slot comes $1 seconds from now, and slot_at, that moment.
number_due_in() {
	read -r n slot_at < <("$PYTHON" -c "
import time
at = int(time.time()) + $1
n = 2
while ((n * 0x9E3779B97F4A7C15) % (1 << 64)) * 3600 >> 64 != at % 3600:
    n += 1
print(n, at)")
}
# The server numbers the agent $1, a forced check-in teaches it, and the last check-in is moved 40
# minutes back (as if it was the slot before): the coming slot is due.
renumber() {
	admin agent_id "{\"agent_uuid\":\"$UUID\",\"id\":$1}" >/dev/null
	nv --no-jitter --check-in-only --force || return 1
	grep -qx "agent_id=$1" "$S/agent.status" || return 1
	sed -i "s/^last_checkin=.*/last_checkin=$(($(date +%s) - 2400))/" "$S/agent.status"
}
# The timer's run in the background: pid
timer_run() {
	$x "$NETINV" </dev/null 2>>"$LOG" &
	pid=$!
	PIDS_STARTED+=("$pid")
}

nv --no-jitter --register-only
UUID=$(cat "$S/agent_uuid")
admin approve "{\"agent_uuid\":\"$UUID\"}" >/dev/null
nv --no-jitter
st=$(status_json)
if [ "$(checkins)" = 1 ] && [ "$(jq_ "d['agent_id']" <<<"$st")" = 1 ] &&
	[ "$(jq_ "d['next_checkin']['slot_seconds']" <<<"$st")" = "$(slot_of 1)" ] &&
	[ "$(jq_ "d['next_checkin']['slot_from']" <<<"$st")" = agent_id ]; then
	ok "registered as the server's agent 1: slot $(slot_of 1) s into each hour (status --json)"
else
	notok "slot from the agent id: $(checkins) check-ins, status $st"
fi
# the next check-in: the first slot more than 15 minutes after the last one
at=$(jq_ "__import__('calendar').timegm(__import__('time').strptime(d['next_checkin']['at'], '%Y-%m-%dT%H:%M:%SZ'))" <<<"$st")
last=$(sed -n 's/^last_checkin=//p' "$S/agent.status")
if [ $((at % 3600)) = "$(slot_of 1)" ] && [ $((at - last)) -gt 900 ] && [ $((at - last)) -le 4500 ]; then
	ok "the next check-in is at the slot, $((at - last)) s after the last"
else
	notok "next check-in at $at, last $last, slot $(slot_of 1)"
fi
$x "$NETINV" status </dev/null 2>>"$LOG" | grep -q "^check-in slot:.*$(slot_of 1)s into each 3600s interval (from the server's agent id)" &&
	ok "status names the slot" || notok "status: $($x "$NETINV" status 2>&1 | grep -i slot)"

# the server renumbers the agent: the slot follows the number it learns from a check-in reply
number_due_in 300
if renumber "$n"; then
	ok "a check-in reply's agent id is learnt ($n)"
else
	notok "agent id $n not learnt: $(grep agent_id "$S/agent.status")"
fi
# --no-jitter: no wait for a slot five minutes away (one within a minute would be due now)
before=$(checkins)
t0=$(date +%s)
nv --no-jitter
rc=$?
if [ $rc = 0 ] && [ $(($(date +%s) - t0)) -lt 6 ] && tail -1 "$LOG" | grep -Eq "next check-in due in (29[0-9]|300)s" &&
	[ "$(checkins)" = "$before" ]; then
	ok "--no-jitter does not wait for the slot: not due, exit 0"
else
	notok "--no-jitter run: exit $rc, $(tail -1 "$LOG"), $(checkins) check-ins"
fi
number_due_in 12
renumber "$n" || notok "renumber the agent ($n)"
before=$(checkins)
# the timer's run waits for the slot, unlocked, and checks in at it
timer_run
sleep 2
st=$(status_json)
src=$?
if [ $src = 0 ] && kill -0 "$pid" 2>/dev/null && grep -q "waiting [0-9]*s for this agent's slot in the policy interval of 3600s" "$LOG" &&
	[ "$(checkins)" = "$before" ]; then
	ok "the timer's run waits for its slot; status answers meanwhile (the state directory is unlocked)"
else
	notok "waiting run: status exit $src, $(tail -2 "$LOG")"
fi
wait "$pid"
rc=$?
end=$(date +%s)
if [ $rc = 0 ] && [ "$(checkins)" = $((before + 1)) ] && [ "$end" -ge "$slot_at" ] && [ "$end" -le $((slot_at + 10)) ] &&
	"$PYTHON" "$IT_DIR/promcheck.py" "$M" 'netinv_last_outcome{outcome="checked_in"}=1' \
		'netinv_run_wait_seconds=>5' >"$dir/prom.txt" 2>&1 &&
	! grep -q "netinv_run_wait_seconds 1[3-9]" "$M"; then
	ok "checked in at the slot (ended $((end - slot_at)) s after it); metrics: waited $(sed -n 's/^netinv_run_wait_seconds //p' "$M") s"
else
	notok "after the wait: exit $rc, $(checkins) check-ins, ended at $end for slot $slot_at, $(cat "$dir/prom.txt") $(tail -3 "$LOG")"
fi

# a manual check-in while a run waits: it runs, and the waiting run then finds nothing due
number_due_in 14
renumber "$n" || notok "renumber the agent ($n)"
before=$(checkins)
timer_run
sleep 2
nv --no-jitter --check-in-only --force
mrc=$?
wait "$pid"
rc=$?
if [ $mrc = 0 ] && [ $rc = 0 ] && [ "$(checkins)" = $((before + 1)) ] && tail -1 "$LOG" | grep -q "next check-in due in"; then
	ok "a manual check-in during the wait runs; the waiting run then finds nothing due"
else
	notok "manual check-in during the wait: exit $mrc, waiting run exit $rc, $((  $(checkins) - before )) check-ins, $(tail -2 "$LOG")"
fi

# SIGTERM (systemctl stop) during the wait: the run ends, nothing changed
number_due_in 20
renumber "$n" || notok "renumber the agent ($n)"
before=$(checkins)
sum=$(sha256sum "$S/agent.status" "$S/acked.state")
timer_run
sleep 2
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ $rc = 143 ] && [ "$(checkins)" = "$before" ] && [ "$sum" = "$(sha256sum "$S/agent.status" "$S/acked.state")" ] &&
	nv --no-jitter --check-in-only --force; then
	ok "SIGTERM ends the wait (exit $rc): state untouched, the next run checks in"
else
	notok "SIGTERM during the wait: exit $rc, $(checkins) check-ins (was $before)"
fi

# an interval of 15 minutes: no slot; a check-in due at the run waits for the jitter offset
admin policy '{"checkin_interval_seconds": 900, "jitter_seconds": 6}' >/dev/null
nv --no-jitter --check-in-only --force
sed -i "s/^last_checkin=.*/last_checkin=$(($(date +%s) - 1000))/" "$S/agent.status"
st=$(status_json)
off=$(jq_ "d['next_checkin']['jitter_offset_seconds']" <<<"$st")
before=$(checkins)
t0=$(date +%s)
nv
rc=$?
took=$(($(date +%s) - t0))
if [ $rc = 0 ] && [ "$(jq_ "d['next_checkin']['slot_seconds']" <<<"$st")" = None ] && [ "$off" -le 6 ] &&
	[ "$(checkins)" = $((before + 1)) ] && [ "$took" -ge "$off" ] && [ "$took" -le $((off + 3)) ] &&
	grep -qx "netinv_run_wait_seconds $off" "$M"; then
	ok "no slot at a 15-minute interval: the run waited its jitter offset ($off s of at most 6) and checked in"
else
	notok "jitter: exit $rc, offset $off, took $took s, $(checkins) check-ins (was $before), $(grep wait_seconds "$M")"
fi

ns_cleanup_all
exit $((fails > 0))
