#!/usr/bin/env bash
# make bench: build the dump-only helper and run the benchmark; results go to tests/bench/results/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
netinv=$(realpath "$1")
make -C "$top" -s build/tests/nlfloor build/tests/attrbench build/tests/churn build/tests/test_cadence
"$top/build/tests/attrbench" "$top/tests/fixtures"
mkdir -p "$top/tests/bench/results"
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" "$top/tests/bench/bench.py" "$netinv" "$top/build/tests/nlfloor" \
	--out "$top/tests/bench/results/latest.md" ${BENCH_ARGS:-}
