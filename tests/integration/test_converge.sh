#!/usr/bin/env bash
# The server's inventory converges to the host under every check-in fault (lost reply after storing,
# 5xx, timeout, refused connection, closed unread, kill -9 at a random moment), and no sequence
# number carries two bodies: converge.py's seeded property test. `make test` runs a short version
# (CONVERGE_STEPS, default 60, seed from CONVERGE_SEED or the day); `make soak` runs 500 steps.
set -u
here=$(cd "$(dirname "$0")" && pwd)
NETINV=$(realpath -m "${NETINV:-$here/../../build/netinv}")
PYTHON=${PYTHON:-/usr/bin/python3}
seed=${CONVERGE_SEED:-$(date +%Y%m%d)}
echo "# converge: seed $seed (CONVERGE_SEED=$seed reproduces it)"
exec "$PYTHON" "$here/converge.py" --netinv "$NETINV" --steps "${CONVERGE_STEPS:-60}" --seed "$seed"
