#!/usr/bin/env bash
# Remove netinv installed by deploy/install.sh. State (/var/lib/netinv: the agent identity and key)
# and configuration (/etc/netinv) are kept unless --purge is given: an agent reinstalled later keeps
# its identity and needs no re-enrollment.
#   deploy/uninstall.sh [--purge] [--root DIR]
set -euo pipefail
purge=0 root=""
while [ $# -gt 0 ]; do
	case $1 in
	--purge) purge=1 ;;
	--root) root=${2%/}; shift ;;
	-h | --help) sed -n '2,5p' "$0"; exit 0 ;;
	*) echo "uninstall.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
	esac
	shift
done
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	systemctl disable --now netinv.timer >/dev/null 2>&1 || true
	systemctl stop netinv.service >/dev/null 2>&1 || true
fi
rm -f "$root/usr/local/sbin/netinv" "$root/usr/local/share/man/man8/netinv.8" \
	"$root/etc/systemd/system/netinv.service" "$root/etc/systemd/system/netinv.timer"
rm -rf "$root/opt/netinv"
[ -z "$root" ] && [ -d /run/systemd/system ] && systemctl daemon-reload
if [ $purge = 1 ]; then
	rm -rf "$root/var/lib/netinv" "$root/var/lib/private/netinv" "$root/etc/netinv"
	link=$root/etc/credstore/netinv.enrollment_key
	if [ -L "$link" ] && [ "$(readlink "$link")" = /etc/netinv/enrollment.key ]; then
		rm -f "$link"
		rmdir --ignore-fail-on-non-empty "$root/etc/credstore" 2>/dev/null || true
	fi
	[ -z "$root" ] && getent passwd netinv >/dev/null && userdel netinv 2>/dev/null || true
	echo "netinv removed, with its state and configuration"
else
	echo "netinv removed; state in /var/lib/netinv and configuration in /etc/netinv kept (--purge removes them)"
fi
