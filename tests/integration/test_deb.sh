#!/usr/bin/env bash
# The Debian package: `make deb` builds it from a copy of the sources and lintian finds no error or
# warning; installed with `dpkg --root` into a scratch root (maintainer scripts run with DPKG_ROOT,
# which every one of them honours) it puts the expected files in place with the expected modes,
# creates the netinv user, enables the timer and not the service; remove keeps the agent's state
# and configuration, purge removes them. Run once, for the normal build.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
top=$IT_TOP
case $NETINV in */build/netinv) ;; *) echo "# the package is tested with the normal build only"; exit 0 ;; esac
it_tmpdir deb || exit 1
V=$(cat "$top/VERSION")
dv=$(dpkg-parsechangelog -l "$top/deploy/debian/changelog" -S Version 2>/dev/null)
[ "$dv" = "$V" ] && ok "deploy/debian/changelog is at VERSION ($V)" || notok "debian/changelog at '$dv', VERSION $V"
if make -C "$top" deb >"$dir/build.log" 2>&1; then
	ok "make deb builds; lintian: no errors, no warnings"
else
	notok "make deb: $(grep -E '^[EW]: |error' "$dir/build.log" | head -5)"
	exit 1
fi
deb=$(ls "$top"/build/deb/netinv_"$V"_*.deb)
dpkg-deb -f "$deb" Depends | grep -Eq "(^|, )libcurl4 \(>= $(pkg-config --modversion libcurl)\)" &&
	ok "Depends: libcurl4 (>= the version it was built against), though loaded on demand" ||
	notok "Depends: $(dpkg-deb -f "$deb" Depends)"

# the shipped configuration: its NETINV_* keys are what systemd's EnvironmentFile= passes on
"$NETINV" --config "$top/deploy/netinv.conf.example" --check-config >"$dir/cc" 2>&1
rc=$?
[ $rc = 78 ] && grep -q "error: no server_url: set it in $top/deploy/netinv.conf.example" "$dir/cc" &&
	grep -q "^enrollment_key_file *= /etc/netinv/enrollment.key *# .*netinv.conf.example:[0-9]*$" "$dir/cc" &&
	! grep -v '^NETINV_[A-Z_]*=\|^#\|^$' "$top/deploy/netinv.conf.example" | grep -q . &&
	! grep -q '^NETINV_SERVER_URL' "$top/deploy/netinv.conf.example" &&
	ok "netinv.conf.example: NETINV_* keys only, no live server placeholder (--check-config: exit 78 naming the file)" ||
	notok "example config (exit $rc): $(cat "$dir/cc")"

R=$dir/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
touch "$R/var/lib/dpkg/status"
dp() { dpkg --root="$R" --force-script-chrootless --force-depends --log="$dir/dpkg.log" "$@" >>"$dir/dpkg.out" 2>&1; }
mode() { stat -c '%a %U' "$R$1" 2>/dev/null; }
if dp -i "$deb"; then ok "dpkg -i into a scratch root"; else notok "dpkg -i: $(tail -5 "$dir/dpkg.out")"; fi
[ "$(mode /usr/sbin/netinv)" = "755 root" ] && [ "$(mode /etc/netinv/netinv.conf)" = "600 root" ] &&
	[ "$(mode /lib/systemd/system/netinv.service)" = "644 root" ] && [ "$(mode /lib/systemd/system/netinv.timer)" = "644 root" ] &&
	[ "$(mode /usr/share/man/man8/netinv.8.gz)" = "644 root" ] && [ -f "$R/usr/share/doc/netinv/copyright" ] &&
	[ "$(mode /etc/netinv/commands.d)" = "755 root" ] && [ -z "$(ls -A "$R/etc/netinv/commands.d")" ] &&
	[ -f "$R/usr/share/doc/netinv/examples/commands.conf" ] &&
	[ -f "$R/usr/share/doc/netinv/examples/namespaces.conf" ] && [ -f "$R/usr/share/doc/netinv/REPORT.md" ] &&
	"$PYTHON" -c "import json,sys; json.load(open(sys.argv[1]))" "$R/usr/share/doc/netinv/report.schema.json" &&
	ok "files and modes: binary 0755, netinv.conf 0600, units, man page, an empty command allowlist, the namespaces drop-in, REPORT.md and the report schema" ||
	notok "files: $(cd "$R" && find . -path ./var/lib/dpkg -prune -o -type f -printf '%m %u %p\n')"
grep -q "^ExecStart=/usr/sbin/netinv$" "$R/lib/systemd/system/netinv.service" && "$R/usr/sbin/netinv" --version | grep -q "^netinv $V" &&
	ok "the installed binary runs (netinv $V) and is the unit's ExecStart" || notok "installed binary"
sed -n '/^Package: netinv$/,/^$/p' "$R/var/lib/dpkg/status" | grep -q "^ /etc/netinv/netinv.conf [0-9a-f]*$" &&
	ok "/etc/netinv/netinv.conf is a conffile" || notok "conffile: $(sed -n '/^Package: netinv$/,/^$/p' "$R/var/lib/dpkg/status")"
grep -q "^netinv:x:[0-9]*:[0-9]*:[^:]*:/var/lib/netinv:/usr/sbin/nologin$" "$R/etc/passwd" 2>/dev/null &&
	ok "postinst created the netinv system user (systemd-sysusers)" || notok "user: $(cat "$R/etc/passwd" 2>&1)"
nuid=$(awk -F: '$1 == "netinv" {print $3}' "$R/etc/passwd" 2>/dev/null)
[ -n "$nuid" ] && [ "$(stat -c '%a %u' "$R/var/lib/netinv" 2>/dev/null)" = "700 $nuid" ] &&
	ok "the state directory exists from installation on: 0700, owned by netinv (tmpfiles.d)" ||
	notok "state dir: $(ls -ldn "$R/var/lib/netinv" 2>&1)"
[ "$(stat -c %a "$R/etc/credstore" 2>/dev/null)" = 700 ] &&
	[ "$(readlink "$R/etc/credstore/netinv.enrollment_key")" = /etc/netinv/enrollment.key ] &&
	ok "the credential link: /etc/credstore (0700)/netinv.enrollment_key -> /etc/netinv/enrollment.key" ||
	notok "credstore: $(ls -la "$R/etc/credstore" 2>&1)"
[ "$(readlink "$R/etc/systemd/system/timers.target.wants/netinv.timer")" = /lib/systemd/system/netinv.timer ] &&
	! find "$R/etc/systemd" -name netinv.service | grep -q . &&
	ok "timer enabled, service not enabled (the timer starts it)" || notok "enablement: $(find "$R/etc/systemd" 2>&1)"

# an enrolled agent: state, an enrollment key and a customised configuration
mkdir -p -m 0700 "$R/var/lib/netinv" && echo 123e4567-e89b-42d3-a456-426614174000 >"$R/var/lib/netinv/agent_uuid"
echo "NETINV_SERVER_URL=https://custom.example" >"$R/etc/netinv/netinv.conf"
if dp -i "$deb" && grep -q custom "$R/etc/netinv/netinv.conf" && [ -f "$R/var/lib/netinv/agent_uuid" ]; then
	ok "reinstall/upgrade keeps the edited configuration and the state"
else
	notok "reinstall: $(tail -5 "$dir/dpkg.out")"
fi
dp -r netinv
[ ! -e "$R/usr/sbin/netinv" ] && [ ! -e "$R/lib/systemd/system/netinv.timer" ] && [ -f "$R/var/lib/netinv/agent_uuid" ] &&
	grep -q custom "$R/etc/netinv/netinv.conf" &&
	ok "remove: program gone, state and configuration kept" || notok "remove: $(tail -5 "$dir/dpkg.out")"
dp --purge netinv
[ ! -e "$R/var/lib/netinv" ] && [ ! -e "$R/etc/netinv" ] && [ ! -e "$R/etc/systemd/system/timers.target.wants/netinv.timer" ] &&
	[ ! -L "$R/etc/credstore/netinv.enrollment_key" ] &&
	! grep -q "^Package: netinv$" "$R/var/lib/dpkg/status" &&
	ok "purge: state, configuration and the timer's enablement removed" ||
	notok "purge: $(ls -la "$R/var/lib/netinv" "$R/etc/netinv" 2>&1 | head; tail -5 "$dir/dpkg.out")"
exit $((fails > 0))
