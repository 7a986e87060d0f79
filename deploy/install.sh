#!/usr/bin/env bash
# netinv for hosts without dpkg: versioned installs under /opt/netinv/<version>, a `current` link
# the binary, man page and units point through, the previous version kept for rollback.
#
#   deploy/install.sh [install] [--root DIR] [--version V]   install the build (make first), or upgrade
#   deploy/install.sh rollback [--root DIR]                   switch back to the previous version
#   deploy/install.sh status [--root DIR]
#
# --root installs into another tree (tests, images); systemd and the system user are only touched
# for the real root. State (/var/lib/netinv) and configuration (/etc/netinv) are never touched;
# deploy/uninstall.sh --purge removes them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cmd=install root="" version=""
while [ $# -gt 0 ]; do
	case $1 in
	install | rollback | status) cmd=$1 ;;
	--root) root=${2%/}; shift ;;
	--version) version=$2; shift ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
	esac
	shift
done
opt=$root/opt/netinv
sbin=$root/usr/local/sbin
man8=$root/usr/local/share/man/man8
units=$root/etc/systemd/system
live() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

link_current() { # point the stable paths at $opt/current
	mkdir -p "$sbin" "$man8" "$units"
	ln -sfn /opt/netinv/current/sbin/netinv "$sbin/netinv"
	ln -sfn /opt/netinv/current/man/netinv.8 "$man8/netinv.8"
	for u in netinv.service netinv.timer; do ln -sfn /opt/netinv/current/systemd/$u "$units/$u"; done
}

case $cmd in
status)
	echo "current:  $(readlink "$opt/current" 2>/dev/null || echo none)"
	echo "previous: $(readlink "$opt/previous" 2>/dev/null || echo none)"
	exit 0 ;;
rollback)
	prev=$(readlink "$opt/previous" 2>/dev/null) || { echo "install.sh: no previous version to roll back to" >&2; exit 69; }
	cur=$(readlink "$opt/current")
	ln -sfn "$prev" "$opt/current.new" && mv -T "$opt/current.new" "$opt/current"
	ln -sfn "$cur" "$opt/previous.new" && mv -T "$opt/previous.new" "$opt/previous"
	link_current
	live && systemctl daemon-reload
	echo "rolled back from $cur to $prev"
	exit 0 ;;
esac

bin=$top/build/netinv
[ -x "$bin" ] || { echo "install.sh: $bin is missing: run make first" >&2; exit 66; }
[ -n "$version" ] || version=$("$bin" --version | awk 'NR==1 {print $2}')
case $version in ''|*/*|.*) echo "install.sh: bad version '$version'" >&2; exit 65 ;; esac
dest=$opt/$version
tmp=$opt/.$version.tmp
rm -rf "$tmp"
mkdir -p "$tmp/sbin" "$tmp/man" "$tmp/systemd"
install -m 0755 "$bin" "$tmp/sbin/netinv"
install -m 0644 "$top/deploy/man/netinv.8" "$tmp/man/netinv.8"
sed 's|^ExecStart=/usr/sbin/netinv|ExecStart=/usr/local/sbin/netinv|' "$top/deploy/systemd/netinv.service" >"$tmp/systemd/netinv.service"
install -m 0644 "$top/deploy/systemd/netinv.timer" "$tmp/systemd/netinv.timer"
install -m 0644 "$top/deploy/systemd/namespaces.conf" "$tmp/systemd/namespaces.conf"
echo "$version" >"$tmp/VERSION"
rm -rf "$dest" && mv "$tmp" "$dest"
cur=$(readlink "$opt/current" 2>/dev/null || true)
# switch atomically: a new link renamed over the old one
ln -sfn "$version" "$opt/current.new" && mv -T "$opt/current.new" "$opt/current"
if [ -n "$cur" ] && [ "$cur" != "$version" ]; then
	ln -sfn "$cur" "$opt/previous.new" && mv -T "$opt/previous.new" "$opt/previous"
fi
link_current
mkdir -p -m 0755 "$root/etc/netinv"
[ -e "$root/etc/netinv/netinv.conf" ] || install -m 0600 "$top/deploy/netinv.conf.example" "$root/etc/netinv/netinv.conf"
# netinv.service finds the enrollment key as the credential netinv.enrollment_key (see netinv(8))
[ -d "$root/etc/credstore" ] || install -d -m 0700 "$root/etc/credstore"
[ -e "$root/etc/credstore/netinv.enrollment_key" ] || [ -L "$root/etc/credstore/netinv.enrollment_key" ] ||
	ln -s /etc/netinv/enrollment.key "$root/etc/credstore/netinv.enrollment_key"
if [ -z "$root" ]; then
	getent passwd netinv >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /var/lib/netinv --shell /usr/sbin/nologin netinv
	if live; then
		systemctl daemon-reload
		systemctl enable netinv.timer >/dev/null 2>&1 || true
	fi
fi
echo "installed netinv $version${cur:+ (previous: $cur)}"
