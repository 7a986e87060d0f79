#!/usr/bin/env bash
# Helper of test_cli.sh, run inside `unshare -m`: a root-only /etc/netinv/netinv.conf (in a private
# copy of /etc, the host's is never touched) seen by an unprivileged user and by root.
set -u
unset NETINV_CONFIG # this helper is about the default file, /etc/netinv/netinv.conf (a private copy)
t=$(mktemp -d /tmp/netinv-etc.XXXXXX)
cp -a /etc "$t/etc"
mkdir -p "$t/etc/netinv" && printf 'NETINV_SERVER_URL=https://from-file.example\n' >"$t/etc/netinv/netinv.conf"
chmod 600 "$t/etc/netinv/netinv.conf"
mount --bind "$t/etc" /etc
# as an unprivileged user: the root-only default file is skipped, the environment (EnvironmentFile=) counts
NETINV_SERVER_URL=https://from-env.example setpriv --reuid=65534 --regid=65534 --clear-groups $NETINV --check-config --state-dir /tmp >$t/out 2>&1
echo "rc=$?"
grep -q "server_url *= https://from-env.example" $t/out && echo env-ok
grep -q "not readable by this user" $t/out && echo note-ok
# as root the same file is read (and a broken one is still an error)
$NETINV --check-config >$t/out2 2>&1; grep -q "from-file.example" $t/out2 && echo root-ok
umount /etc
rm -rf "$t"
