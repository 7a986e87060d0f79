#!/usr/bin/env bash
# Install what netinv's build and tests need on Debian 12, only when something is missing.
# Called by `make run`, `make test` and CI; safe to run again (it then does nothing).
set -eu
pkgs=(gcc make pkg-config libc6-dev libmnl-dev libnl-3-dev libnl-route-3-dev zlib1g-dev libcjson-dev
      libcurl4-openssl-dev libcmocka-dev iproute2 python3 python3-jsonschema util-linux procps
      curl openssl mandoc groff-base systemd time debootstrap systemd-container podman runc
      netavark aardvark-dns iptables busybox-static
      clang libclang-rt-dev)
[ "${WITH_VALGRIND:-0}" = 1 ] && pkgs+=(valgrind)
[ "${WITH_DEB:-0}" = 1 ] && pkgs+=(debhelper lintian dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]}; run as root or: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
