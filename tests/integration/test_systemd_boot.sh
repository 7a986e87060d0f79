#!/usr/bin/env bash
# The package under a real systemd: a Debian root (the host's release, from the host's own apt
# mirror) with the .deb installed, booted with systemd-nspawn on a private network, the loopback
# test server running inside. Every way a host gets enrolled must leave a unit that starts, runs
# and checks in (systemctl show -p Result -p ExecMainStatus, and the server's records):
#   1. the enrollment key file present: register (pending), approve, check in
#   2. the key file removed after enrollment (systemd 252 failed such starts with 243/CREDENTIALS)
#   3. a key installed with `netinv install-key`, no key file ever
#   4. the identity and key taken over from the Graphēon Python agent, no key file
#   5. the key kept elsewhere, named by the documented drop-in
# and the sandbox, read from the installed unit (drop-ins change ExecStart only): another
# process's memory cannot be read or written with process_vm_readv/writev, while attribution still
# names another user's process. Each path's journal is printed (lines starting "# ").
# Root, the normal build only; about two minutes, most of it debootstrap.
set -u
source "$(dirname "$0")/lib.sh"
top=$IT_TOP
case $NETINV in */build/netinv) ;; *) echo "# the package is tested with the normal build only"; exit 0 ;; esac
NSPAWN_PID=
STUBS_MADE=
boot_cleanup() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" # the container powers off
		for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	[ -n "$STUBS_MADE" ] && rm -rf /run/systemd/inaccessible
	ns_cleanup_all
}
trap boot_cleanup EXIT
it_tmpdir boot || exit 1
V=$(cat "$top/VERSION")
R=$dir/root

# the package: built by test_deb.sh earlier in the suite, or now
deb=$(ls "$top"/build/deb/netinv_"$V"_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	make -C "$top" deb >"$dir/deb.log" 2>&1 || { notok "make deb: $(tail -3 "$dir/deb.log")"; exit 1; }
	deb=$(ls "$top"/build/deb/netinv_"$V"_*.deb | head -1)
fi
make -C "$top" -s build/tests/vmprobe || { notok "build vmprobe"; exit 1; }

# a Debian root with what the package depends on, systemd and the test server's python3
. /etc/os-release
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk -v s="$VERSION_CODENAME" '$2 == s {print $1; exit}')
[ -n "$mirror" ] || { notok "no apt source for $VERSION_CODENAME on this host to debootstrap from"; exit 1; }
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep . | paste -sd, -)
t0=$(date +%s)
if ! debootstrap --variant=minbase --include="systemd,systemd-sysv,dbus,python3,curl,$deps" \
	"$VERSION_CODENAME" "$R" "$mirror" >"$dir/debootstrap.log" 2>&1; then
	notok "debootstrap $VERSION_CODENAME: $(tail -3 "$dir/debootstrap.log")"
	exit 1
fi
echo "# debootstrap: $(($(date +%s) - t0)) s"
cp "$deb" "$R/tmp/netinv.deb"
chroot "$R" dpkg -i /tmp/netinv.deb >"$dir/dpkg.log" 2>&1 || { notok "dpkg -i in the root: $(tail -3 "$dir/dpkg.log")"; exit 1; }
mkdir -p "$R/opt/netinv-test"
cp "$IT_DIR/server.py" "$top/build/tests/vmprobe" "$R/opt/netinv-test/"
echo netinv-boot >"$R/etc/hostname"

# systemd-nspawn bind-mounts these stubs from the host; a host without systemd as PID 1 lacks them
if [ ! -d /run/systemd/inaccessible ]; then
	mkdir -p /run/systemd/inaccessible && STUBS_MADE=1
	(cd /run/systemd/inaccessible && touch reg && mkdir dir && mkfifo fifo && mknod chr c 0 0 && mknod blk b 0 0 &&
		"$PYTHON" -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')" && chmod 000 reg dir fifo sock chr blk)
fi
systemd-nspawn -D "$R" --register=no --keep-unit -b --private-network -M "netinv-boot-$$" \
	</dev/null >"$dir/console.log" 2>&1 &
NSPAWN_PID=$!
# the container's PID 1 is the child of systemd-nspawn that runs systemd (nspawn forks helpers
# first); until its bus is up, systemctl cannot even ask
st="no container init"
for _ in $(seq 180); do
	leader=$(pgrep -P "$NSPAWN_PID" -x systemd | head -1)
	if [ -n "$leader" ]; then
		# a clean environment: nothing of this test's (NETINV_CONFIG ...) leaks into the container
		IN="nsenter -t $leader -m -u -i -n -p -C env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin"
		st=$(timeout 60 $IN systemctl is-system-running --wait 2>&1)
		case $st in running | degraded) break ;; esac
	fi
	kill -0 "$NSPAWN_PID" 2>/dev/null || break
	sleep 0.5
done
case $st in
running | degraded) ok "booted Debian $VERSION_ID under $($IN systemctl --version | head -1) ($st)" ;;
*) notok "the container did not boot: '$st' $(tail -5 "$dir/console.log")"; exit 1 ;;
esac

# the loopback server inside, and the netinv configuration pointing at it
$IN systemd-run -q --unit=netinv-test-server -p Type=exec /usr/bin/python3 /opt/netinv-test/server.py /run/netinv-test.port
for _ in $(seq 50); do $IN test -s /run/netinv-test.port && break; sleep 0.1; done
URL=http://127.0.0.1:$($IN cat /run/netinv-test.port)
$IN sh -c "sed -i 's|^#*NETINV_SERVER_URL=.*|NETINV_SERVER_URL=$URL|' /etc/netinv/netinv.conf && echo NETINV_TIMEOUT=10 >>/etc/netinv/netinv.conf"
# another user's listening socket, for attribution
$IN systemd-run -q --unit=netinv-test-listener -p Type=exec -p User=nobody /usr/bin/python3 -c \
	"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 4242)); s.listen(); time.sleep(3600)"
EK=gaek_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
: >"$dir/journal"

admin() { $IN curl -s -X POST -d "$2" "$URL/admin/$1"; }
srv() { # a Python expression over the server's state (d) for agent uuid $1 (a)
	$IN curl -s "$URL/admin/state" | "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); a=d['agents'].get('$1', {}); print($2)"
}
show() { $IN systemctl show -p Result -p ExecMainStatus --value netinv.service | paste -sd' ' -; }
# start the service once; print its result and this start's journal lines
LAST_START=0
start() {
	local cur now
	# systemd refuses a sixth start within 10 s (StartLimitBurst=): a timer never comes close
	now=$(date +%s%N)
	sleep "$("$PYTHON" -c "print(round(max(0.0, (2.1e9 - $((now - LAST_START))) / 1e9), 3))")"
	LAST_START=$(date +%s%N)
	cur=$($IN journalctl -n 0 --show-cursor -o cat 2>/dev/null | sed -n 's/^-- cursor: //p')
	$IN systemctl start netinv.service 2>/dev/null
	sleep 0.5
	$IN journalctl -u netinv.service --after-cursor "$cur" -o cat --no-pager 2>/dev/null |
		tee -a "$dir/journal" | sed 's/^/# /'
}
uuid() { $IN cat /var/lib/netinv/agent_uuid 2>/dev/null; }
fresh_host() { # a host never enrolled: no state, no key file
	$IN sh -c 'rm -rf /var/lib/netinv/* /etc/netinv/enrollment.key /var/lib/grapheon-agent; systemctl reset-failed netinv.service' 2>/dev/null
}

echo "# path 1: the enrollment key in /etc/netinv/enrollment.key"
$IN sh -c "umask 077; echo $EK >/etc/netinv/enrollment.key"
start
U1=$(uuid)
[ "$(show)" = "success 0" ] && [ -n "$U1" ] && [ "$(srv "$U1" "a.get('status')")" = pending ] &&
	ok "path 1: registered (pending) through the credential; Result=success, ExecMainStatus=0" ||
	notok "path 1, registration: $(show), server: $(srv "$U1" "a")"
admin approve "{\"agent_uuid\":\"$U1\"}" >/dev/null
# the shortest policy interval: every start checks in, as every timer tick would at <= 15 min
admin policy '{"checkin_interval_seconds": 60}' >/dev/null
start
[ "$(show)" = "success 0" ] && [ "$(srv "$U1" "a.get('checkins')")" = 1 ] &&
	[ "$($IN stat -c '%a %U' /var/lib/netinv/api_key)" = "600 netinv" ] &&
	ok "path 1: approved, the key stored 0600 netinv, the first check-in accepted" ||
	notok "path 1, check-in: $(show), server: $(srv "$U1" "a")"
$IN curl -s "$URL/admin/inventory?agent_uuid=$U1" | "$PYTHON" -c "
import json, sys
inv = json.load(sys.stdin)
l = [r for r in inv['connections'] + inv['listeners'] if r.get('local_port') == 4242]
sys.exit(0 if l and l[0].get('process_name') == 'python3' and l[0].get('pid') else 1)" &&
	ok "attribution under the unit: another user's listener (nobody, port 4242) is named python3 with its pid" ||
	notok "attribution: $($IN curl -s "$URL/admin/inventory?agent_uuid=$U1" | head -c 600)"

echo "# path 2: the enrollment key file removed after enrollment"
$IN rm /etc/netinv/enrollment.key
start
[ "$(show)" = "success 0" ] && [ "$(srv "$U1" "a.get('checkins')")" = 2 ] &&
	ok "path 2: no key file: the unit starts and checks in (Result=success, ExecMainStatus=0)" ||
	notok "path 2: $(show), server: $(srv "$U1" "a")"

echo "# path 3: a key installed with netinv install-key, never a key file"
NEWKEY=$(admin rotate "{\"agent_uuid\":\"$U1\"}" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['api_key'])")
$IN sh -c "rm /var/lib/netinv/api_key; umask 077; echo $NEWKEY >/root/new.key; netinv install-key /root/new.key && rm /root/new.key" 2>&1 | sed 's/^/# /'
start
[ "$(show)" = "success 0" ] && [ "$(srv "$U1" "a.get('checkins')")" = 3 ] && [ "$(uuid)" = "$U1" ] &&
	ok "path 3: after install-key the unit starts and checks in with the new key, same identity" ||
	notok "path 3: $(show), server: $(srv "$U1" "a")"

echo "# an outage: the unit shows it failed until a check-in succeeds"
admin fault '{"mode":"5xx","count":1000,"status":503}' >/dev/null
start
s1=$(show)
start
s2=$(show)
failed=$($IN systemctl is-failed netinv.service)
admin fault '{"mode":null,"count":0}' >/dev/null
# time passes: the backoff is over
$IN sed -i 's/^next_attempt=.*/next_attempt=0/' /var/lib/netinv/agent.status
start
s3=$(show)
if [ "$s1" = "exit-code 75" ] && [ "$s2" = "exit-code 75" ] && [ "$failed" = failed ] &&
	grep -q "backing off after 1 failed attempt" "$dir/journal" && [ "$s3" = "success 0" ] &&
	[ "$($IN systemctl is-failed netinv.service)" != failed ]; then
	ok "outage: the unit is failed (75) at the 503 and stays failed while backing off; success 0 after the next check-in"
else
	notok "outage: $s1 / $s2 ($failed) / $s3"
fi
# the summary reaches the journal as one entry whose figures are fields
$IN journalctl -u netinv.service -o json --no-pager 2>/dev/null | "$PYTHON" -c "
import json, sys
e = [json.loads(l) for l in sys.stdin if 'NETINV_OUTCOME' in l]
assert e and e[-1]['NETINV_OUTCOME'] == 'check-in' and int(e[-1]['NETINV_LINKS']) >= 1, e[-1:]
assert e[-1]['MESSAGE'].startswith('collected ') and e[-1]['PRIORITY'] == '6'
" && ok "the run's summary is one journal entry with its figures as fields (NETINV_OUTCOME, NETINV_LINKS, ...)" ||
	notok "journal fields: $($IN journalctl -u netinv.service -o json -n 3 --no-pager | tail -c 600)"

echo "# namespaces: the default unit says not_permitted; the drop-in lets netinv read them"
$IN systemd-run -q --unit=netinv-test-netns -p Type=exec /usr/bin/unshare --net /bin/sleep 3600
start | grep -q "other network namespaces skipped (1 found): CAP_SYS_ADMIN is not in the effective set" &&
	[ "$(show)" = "success 0" ] && ok "the default unit: the other namespace skipped (no CAP_SYS_ADMIN), said in the journal, success" ||
	notok "default unit and namespaces: $(show) $(grep -i namespace "$dir/journal" | tail -2)"
$IN sh -c 'mkdir -p /etc/systemd/system/netinv.service.d && cp /usr/share/doc/netinv/examples/namespaces.conf /etc/systemd/system/netinv.service.d/ && systemctl daemon-reload'
start | grep -q "namespaces: 1 of 1 read (ok)" && [ "$(show)" = "success 0" ] &&
	ok "with the shipped namespaces drop-in the unit reads the other namespace (1 of 1)" ||
	notok "namespaces drop-in: $(show) $(tail -3 "$dir/journal")"
$IN sh -c 'rm -r /etc/systemd/system/netinv.service.d && systemctl daemon-reload; systemctl stop netinv-test-netns'

echo "# path 4: the identity and key of the Graphēon Python agent, no key file"
fresh_host
U4=$("$PYTHON" -c "import uuid; print(uuid.uuid4())")
reg() { $IN curl -s -X POST -H 'Content-Type: application/json' -d "{\"enrollment_key\":\"$EK\",\"agent_uuid\":\"$U4\"}" "$URL/api/agents/register"; }
reg >/dev/null
admin approve "{\"agent_uuid\":\"$U4\"}" >/dev/null
K4=$(reg | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['api_key'])")
$IN sh -c "mkdir -m 0700 /var/lib/grapheon-agent && echo $U4 >/var/lib/grapheon-agent/agent_uuid && (umask 077; echo $K4 >/var/lib/grapheon-agent/api_key)"
# no policy has been learnt yet, so its jitter (up to 300 s) would apply: this start skips it
$IN sh -c 'mkdir -p /run/systemd/system/netinv.service.d && printf "[Service]\nExecStart=\nExecStart=/usr/sbin/netinv --no-jitter\n" >/run/systemd/system/netinv.service.d/nojitter.conf && systemctl daemon-reload'
start
$IN sh -c 'rm -r /run/systemd/system/netinv.service.d && systemctl daemon-reload'
[ "$(show)" = "success 0" ] && [ "$(uuid)" = "$U4" ] && [ "$(srv "$U4" "a.get('checkins')")" = 1 ] &&
	ok "path 4: the Python agent's identity and key taken over; the unit starts and checks in" ||
	notok "path 4: $(show), uuid $(uuid), server: $(srv "$U4" "a")"

echo "# path 5: the key kept elsewhere, named by a drop-in"
fresh_host
$IN sh -c "mkdir -p -m 0700 /srv/netinv && (umask 077; echo $EK >/srv/netinv/enroll.key)
mkdir -p /etc/systemd/system/netinv.service.d
cat >/etc/systemd/system/netinv.service.d/key.conf <<EOF
[Unit]
ConditionPathExists=|/srv/netinv/enroll.key
[Service]
LoadCredential=enrollment_key:/srv/netinv/enroll.key
InaccessiblePaths=-/srv/netinv/enroll.key
EOF
systemctl daemon-reload"
start
U5=$(uuid)
admin approve "{\"agent_uuid\":\"$U5\"}" >/dev/null
start
[ "$(show)" = "success 0" ] && [ -n "$U5" ] && [ "$(srv "$U5" "a.get('checkins')")" = 1 ] &&
	ok "path 5: a key elsewhere, named by a drop-in: registered, approved, checked in" ||
	notok "path 5: $(show), server: $(srv "$U5" "a")"
$IN sh -c 'rm -r /etc/systemd/system/netinv.service.d && systemctl daemon-reload'

# never enrolled and no key anywhere: the unit is skipped, not failed
fresh_host
$IN systemctl start netinv.service 2>/dev/null
[ "$($IN systemctl show -p ConditionResult --value netinv.service)" = no ] && [ "$(show)" = "success 0" ] &&
	ok "a host with nothing to enroll with: the unit is skipped by its conditions, not failed" ||
	notok "unenrolled host: $($IN systemctl show -p ConditionResult -p Result netinv.service | paste -sd' ')"

# the sandbox of the installed unit, with only ExecStart replaced: another process's memory
# (with a key file present, so that any unit that loads the credential at all starts)
$IN sh -c "umask 077; echo $EK >/etc/netinv/enrollment.key"
$IN sh -c 'mkdir -p /run/systemd/system/netinv.service.d && cat >/run/systemd/system/netinv.service.d/probe.conf <<EOF
[Unit]
ConditionPathExists=
[Service]
ExecStart=
ExecStart=/opt/netinv-test/vmprobe 1
StandardOutput=truncate:/run/netinv-probe.out
EOF
systemctl daemon-reload; systemctl start netinv.service'
probe=$($IN cat /run/netinv-probe.out 2>/dev/null | paste -sd' ')
echo "# probe of PID 1 (root) from the unit's sandbox: $probe"
case " $probe " in
*" maps=OK readv=EPERM writev=EPERM kcmp=EPERM "*)
	ok "the unit's sandbox: process_vm_readv, process_vm_writev and kcmp on a root process fail with EPERM" ;;
*) notok "the unit's sandbox lets memory through: $probe" ;;
esac
$IN sh -c 'rm -r /run/systemd/system/netinv.service.d /etc/netinv/enrollment.key && systemctl daemon-reload'
# /proc/PID/mem still opens in the sandbox (CAP_SYS_PTRACE): netinv itself gives the capability
# up after its /proc walk, before it reads any check-in reply
n=$(grep -c "check-in accepted" "$dir/journal")
[ "$n" -ge 5 ] && ! grep -q "cannot give up" "$dir/journal" &&
	ok "every check-in under the unit ($n) gave up CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH before the server's reply" ||
	notok "capabilities kept: $(grep "cannot give up" "$dir/journal" | head -2)"
sec=$($IN systemd-analyze security netinv.service 2>/dev/null | sed -n 's/.*Overall exposure level for netinv.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security netinv.service (installed, running systemd): $sec"
"$PYTHON" -c "import sys; sys.exit(0 if float('${sec:-9}') <= 2.5 else 1)" &&
	ok "exposure of the installed unit under the running systemd: $sec (at most 2.5)" || notok "exposure '$sec'"
exit $((fails > 0))
