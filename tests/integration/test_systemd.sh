#!/usr/bin/env bash
# The systemd units: systemd-analyze verify is clean, the offline security exposure is at most 2.5,
# nothing hides the host's tables, and the sandbox the service gets (ProtectSystem=strict with a
# writable StateDirectory, a non-root user, ambient CAP_SYS_PTRACE) still lets netinv collect,
# attribute processes and write its state. systemd is not PID 1 here, so the sandbox is reproduced
# with unshare: a private mount namespace whose root is remounted read-only.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP
it_tmpdir sd || exit 1
sed "s|^ExecStart=/usr/sbin/netinv|ExecStart=$NETINV|" "$top/deploy/systemd/netinv.service" >"$dir/netinv.service"
cp "$top/deploy/systemd/netinv.timer" "$dir/"
if systemd-analyze verify --man=no "$dir/netinv.service" "$dir/netinv.timer" >"$dir/verify" 2>&1 && [ ! -s "$dir/verify" ]; then
	ok "systemd-analyze verify: clean"
else
	notok "systemd-analyze verify: $(cat "$dir/verify")"
fi
systemd-analyze security --offline=yes "$dir/netinv.service" >"$dir/sec" 2>&1
score=$(sed -n 's/.*Overall exposure level for netinv.service: \([0-9.]*\).*/\1/p' "$dir/sec")
if [ -n "$score" ] && "$PYTHON" -c "import sys; sys.exit(0 if float('$score') <= 2.5 else 1)"; then
	ok "systemd-analyze security --offline: exposure $score (at most 2.5)"
else
	notok "exposure '$score': $(tail -3 "$dir/sec")"
fi
# with the namespaces drop-in (lists such as AmbientCapabilities= add up, RestrictNamespaces= ORs
# in, as a drop-in's do)
mkdir -p "$dir/ns" && cat "$dir/netinv.service" "$top/deploy/systemd/namespaces.conf" >"$dir/ns/netinv.service"
systemd-analyze security --offline=yes "$dir/ns/netinv.service" >"$dir/nssec" 2>&1
nscore=$(sed -n 's/.*Overall exposure level for netinv.service: \([0-9.]*\).*/\1/p' "$dir/nssec")
if [ -n "$nscore" ] && "$PYTHON" -c "import sys; sys.exit(0 if float('$nscore') <= 2.5 else 1)" &&
	grep -q "RestrictNamespaces=~user .*cannot create user namespaces" "$dir/nssec" &&
	grep -q "$nscore with this drop-in, $score without" "$top/deploy/systemd/namespaces.conf"; then
	ok "with the namespaces drop-in: exposure $nscore (at most 2.5; the drop-in says so), user namespaces still forbidden"
else
	notok "namespaces drop-in exposure '$nscore' (unit $score): $(grep -E 'Overall|RestrictNamespaces' "$dir/nssec")"
fi
! grep -Eq "^(PrivateNetwork|PrivateUsers|ProtectProc=invisible|DynamicUser)" "$top/deploy/systemd/netinv.service" &&
	grep -q "^StateDirectoryMode=0700" "$top/deploy/systemd/netinv.service" && grep -q "^TimeoutStartSec=" "$top/deploy/systemd/netinv.service" &&
	ok "no setting that hides the host's tables or uids; state 0700; a start timeout" || notok "unit settings"
grep -q "^OnUnitInactiveSec=15min" "$dir/netinv.timer" && grep -q "^OnBootSec=" "$dir/netinv.timer" &&
	ok "timer: every 15 minutes after the last run, first run after boot" || notok "timer"

# the sandbox, reproduced
cat >"$dir/sandbox.sh" <<'SH'
set -u
st=$1/state
chmod 0711 "$1" # like /var/lib: traversable, not listable
mkdir -p "$st"
mount -t tmpfs -o mode=0700,uid=65534,gid=65534 netinv-state "$st" # StateDirectory=, owned by the user
# LoadCredential=: systemd's read-only credentials directory, owned by the service user
mkdir -p "$1/creds" && cp "$1/enrollment.key" "$1/creds/enrollment_key"
chown -R 65534:65534 "$1/creds" && chmod 0500 "$1/creds" && chmod 0400 "$1/creds/enrollment_key"
mount -o remount,bind,ro / 2>/dev/null || mount -o remount,ro / # ProtectSystem=strict
touch /netinv-probe 2>/dev/null && echo "root-writable"
run() { setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs "$@"; }
export NETINV_NAMESPACES=all # the shipped default
# with the unit's capabilities
run --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search \
	"$NETINV" --commit-dry-run --compact --state-dir "$st" -o /dev/null 2>"$st/with.err"; echo "with=$?"
run --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search \
	"$NETINV" --dry-run --compact --state-dir "$st" -o "$st/r.json" 2>>"$st/with.err"; echo "dry=$?"
grep -o '"processes":{"status":"[a-z_]*"' "$st/r.json"
grep -o '"namespaces":{"mode":"all","status":"[a-z_]*"' "$st/r.json"
echo "skipped-lines $(grep -c 'other network namespaces skipped' "$st/with.err")"
# with the namespaces drop-in's CAP_SYS_ADMIN: every other namespace read, the capability given up
run --inh-caps=+sys_ptrace,+dac_read_search,+sys_admin --ambient-caps=+sys_ptrace,+dac_read_search,+sys_admin \
	"$NETINV" --dry-run --compact --state-dir "$st" -o "$st/ns.json" 2>"$st/ns.err"; echo "ns=$?"
"$PYTHON" -c "import json,sys; s=json.load(open(sys.argv[1]))['metadata']['stats']['namespaces']; print('ns-read', s['status'], s['read'] >= 1 and s['read'] == s['found'] - s['gone'])" "$st/ns.json"
ls -ln "$st" | awk 'NR>1 {print "file", $1, $3, $9}'
# the documented drop-in that removes them: attribution off, the run still succeeds
run "$NETINV" --dry-run --compact --state-dir "$st" -o "$st/r2.json" 2>"$st/without.err"; echo "without=$?"
grep -o '"processes":{"status":"[a-z_]*"' "$st/r2.json"
tail -n 3 "$st/with.err" "$st/without.err" | sed 's/^/log: /'
# the timer's run: register (the enrollment key as a LoadCredential= credential), approval, check-in
export CREDENTIALS_DIRECTORY=$1/creds NETINV_SERVER_URL=$URL NETINV_IMPORT_FROM=$1/none
agent() { run --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search \
	"$NETINV" --no-jitter --state-dir "$st" 2>>"$st/agent.err"; }
agent; echo "register=$?"
curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$st/agent_uuid")\"}" "$URL/admin/approve" >/dev/null
agent; echo "checkin=$?"
# a server-sent command, run by the sandboxed service (the gates opened for it)
curl -s -X POST -d '{"commands_enabled": true}' "$URL/admin/policy" >/dev/null
curl -s -X POST -d "{\"agent_uuid\":\"$(cat "$st/agent_uuid")\",\"commands\":[{\"id\":\"caps-1\",\"name\":\"caps\"}]}" \
	"$URL/admin/commands" >/dev/null
for _ in 1 2; do
	run --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search \
		"$NETINV" --check-in-only --force --config "$1/etc/netinv.conf" --state-dir "$st" 2>>"$st/agent.err"
done
curl -s "$URL/admin/results?agent_uuid=$(cat "$st/agent_uuid")" | "$PYTHON" -c "
import json,sys
for r in json.load(sys.stdin):
    print('cmd', r['id'], r['status'], r['exit_code'], ' '.join(l.replace('\t', ' ') for l in r['stdout'].splitlines() if l.startswith(('CapEff', 'CapAmb'))))"
ls -ln "$st" | awk 'NR>1 {print "after", $1, $3, $9}'
curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; a=list(json.load(sys.stdin)['agents'].values()); print('server', a[0]['status'], a[0]['checkins'])"
tail -n 4 "$st/agent.err" | sed 's/^/log: /'
umount "$st"
SH
# the exec gate for the command above: a root-owned configuration the service user can read
mkdir -m 0755 "$dir/etc" "$dir/etc/commands.d"
echo "exec_enabled=yes" >"$dir/etc/netinv.conf" && chmod 0644 "$dir/etc/netinv.conf"
printf '[caps]\nexec = /bin/grep\nargs = ^Cap /proc/self/status\n' >"$dir/etc/commands.d/caps.conf"
ns=netinv-sd-$$
ns_new "$ns" || exit 1
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" "$PYTHON" "$IT_DIR/server.py" "$dir/port" >"$dir/server.log" 2>&1 &
PIDS_STARTED+=("$!")
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
printf 'gaek_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$dir/enrollment.key"
URL=http://127.0.0.1:$(cat "$dir/port") PYTHON=$PYTHON NETINV=$NETINV ip netns exec "$ns" \
	unshare -m --propagation private bash "$dir/sandbox.sh" "$dir" >"$dir/sandbox.out" 2>&1
if grep -q "^with=0$" "$dir/sandbox.out" && grep -q "^dry=0$" "$dir/sandbox.out" && ! grep -q root-writable "$dir/sandbox.out" &&
	grep -q "^file -rw------- 65534 acked.state$" "$dir/sandbox.out" && grep -q "^file -rw------- 65534 agent_uuid$" "$dir/sandbox.out" &&
	grep -Eq '"status":"(ok|partial)"' <(sed -n '/^dry=/,/^without=/p' "$dir/sandbox.out"); then
	ok "sandboxed (read-only root, state dir, user 65534 + CAP_SYS_PTRACE): collects, attributes, writes 0600 state"
else
	notok "sandbox: $(cat "$dir/sandbox.out")"
fi
grep -q '^"namespaces":{"mode":"all","status":"not_permitted"$' "$dir/sandbox.out" && grep -q "^skipped-lines 2$" "$dir/sandbox.out" &&
	ok "the default unit (no CAP_SYS_ADMIN): other namespaces not_permitted, said once per run, the run succeeds" ||
	notok "namespaces without CAP_SYS_ADMIN: $(grep -E 'namespaces|skipped' "$dir/sandbox.out")"
grep -q "^ns=0$" "$dir/sandbox.out" && grep -Eq "^ns-read (ok|partial) True$" "$dir/sandbox.out" &&
	ok "the namespaces drop-in's CAP_SYS_ADMIN (user 65534): every other namespace read" ||
	notok "namespaces with CAP_SYS_ADMIN: $(grep -E '^ns' "$dir/sandbox.out") $(cat "$dir/state/ns.err" 2>/dev/null)"
grep -q "^without=0$" "$dir/sandbox.out" && grep -q '"status":"not_permitted"' <(sed -n '/^without=/,$p' "$dir/sandbox.out") &&
	ok "without the capabilities (the drop-in): attribution not_permitted, the run succeeds" ||
	notok "no-capability run: $(sed -n '/^without=/,$p' "$dir/sandbox.out")"
grep -q "^register=0$" "$dir/sandbox.out" && grep -q "^checkin=0$" "$dir/sandbox.out" &&
	grep -q "^after -rw------- 65534 api_key$" "$dir/sandbox.out" && grep -q "^server active 3$" "$dir/sandbox.out" &&
	ok "sandboxed timer run: registers with the credential, checks in after approval, keeps its 0600 API key" ||
	notok "sandboxed check-in: $(sed -n '/^register=/,$p' "$dir/sandbox.out")"
grep -q "^cmd caps-1 completed 0 CapEff: 0000000000000000 CapAmb: 0000000000000000$" "$dir/sandbox.out" &&
	ok "a command run by the sandboxed service gets none of its capabilities (CapEff 0, CapAmb 0)" ||
	notok "command in the sandbox: $(grep -E '^cmd|command' "$dir/sandbox.out")"
exit $((fails > 0))
