#!/usr/bin/env bash
# netinv's whole test suite: cmocka unit tests, the fuzz driver over the recorded dumps and saved
# crashes, and the integration tests (network namespaces; root). The last line is
# "N passed, N failed". Options: --unit-only. Environment: BUILDS (build dirs to test, default
# "build"; `make test` passes the normal and the ASan+UBSan build), NETINV_VALGRIND=1 (unit tests and
# full netinv runs (commit, delta, status) under valgrind's memcheck, instead of the integration
# tests), FUZZ_ITERS.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
BUILDS=${BUILDS:-${BUILD:-build}}
unit_only=0
[ "${1:-}" = --unit-only ] && unit_only=1
passed=0 failed=0
failures=()
log=$(mktemp /tmp/netinv-test.XXXXXX)
# netinv runs started from here (valgrind's) read an empty configuration of their own, never the
# host's /etc/netinv; the integration tests set up the same through lib.sh
conf=$(mktemp /tmp/netinv-test-conf.XXXXXX)
trap 'rm -f "$log" "$conf"' EXIT
export NETINV_CONFIG=$conf NETINV_IMPORT_FROM=/nonexistent/netinv-test-no-grapheon-agent

record() { # name status
	if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

# libFuzzer (clang, ASan + UBSan) over the fixtures, seeds and saved crashes, for a fixed number of
# inputs (LIBFUZZER_RUNS) from a fixed seed: a new crash fails the suite and is kept in
# tests/fuzz/regressions/ (commit it: the fuzz driver and libFuzzer replay it ever after)
libfuzzer() {
	local work rc
	echo "== libFuzzer"
	if ! command -v clang >/dev/null; then
		echo "  clang is not installed (deploy/deps.sh installs it)"
		record libfuzzer 1
		return
	fi
	if ! make -s build-fuzz/fuzz_parsers >"$log" 2>&1; then
		sed 's/^/  /' "$log" | tail -5
		record "libfuzzer (build)" 1
		return
	fi
	work=$(mktemp -d /tmp/netinv-libfuzzer.XXXXXX)
	build-fuzz/fuzz_parsers -runs="${LIBFUZZER_RUNS:-60000}" -seed=1 -max_len=65536 \
		-artifact_prefix="$work/" "$work" tests/fixtures tests/fuzz/seeds tests/fuzz/regressions \
		>"$log" 2>&1
	rc=$?
	grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)|ERROR|SUMMARY" "$log" | sed 's/^/  /' | tail -4
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -e "$a" ] || continue
		cp "$a" tests/fuzz/regressions/ && echo "  kept $(basename "$a") in tests/fuzz/regressions/"
		rc=1
	done
	rm -rf "$work"
	record "libfuzzer ($(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#') inputs)" "$rc"
}

for BUILD in $BUILDS; do
	if [ ! -x "$BUILD/netinv" ]; then
		echo "no $BUILD/netinv: build it first (make unit)"
		record "$BUILD" 1
		continue
	fi
	export NETINV="$top/$BUILD/netinv"
	echo "== unit tests ($BUILD)"
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		if [ "${NETINV_VALGRIND:-0}" = 1 ]; then
			valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
				"$t" >"$log" 2>&1
		else
			"$t" >"$log" 2>&1
		fi
		rc=$?
		# count cmocka's individual tests
		ok=$(grep -c '^\[       OK \]' "$log")
		bad=$(grep -c '^\[  FAILED  \] test_\|^\[  ERROR   \]' "$log")
		passed=$((passed + ok))
		if [ "$rc" != 0 ]; then
			failed=$((failed + (bad > 0 ? bad : 1)))
			failures+=("$name ($BUILD)")
			sed 's/^/    /' "$log" | grep -v '^    \[ RUN\|^    \[       OK' | tail -30
		fi
		printf '  %-18s %s tests, exit %s\n' "$name" "$ok" "$rc"
	done

	echo "== fuzz driver"
	"$BUILD"/tests/fuzz_driver -n "${FUZZ_ITERS:-200000}" tests/fixtures/*.nldump tests/fuzz/regressions/*.bin \
		tests/fuzz/seeds/*.seed \
		>"$log" 2>&1
	rc=$?
	sed 's/^/  /' "$log" | tail -5
	record "fuzz_driver ($BUILD)" "$rc"
	[ "$BUILD" = "${BUILDS%% *}" ] && [ "$unit_only" = 0 ] && libfuzzer

	if [ "${NETINV_VALGRIND:-0}" = 1 ]; then
		echo "== netinv --dry-run under valgrind ($BUILD)"
		vst=$(mktemp -d /tmp/netinv-vg.XXXXXX)
		rc=0
		# a commit (creates identity and state), a delta run against it, and status
		for args in "--commit-dry-run --gzip" "--dry-run" "status"; do
			# shellcheck disable=SC2086
			valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
				"$NETINV" $args --state-dir "$vst" -o /dev/null >>"$log" 2>&1 || rc=$?
		done
		rm -rf "$vst"
		sed 's/^/  /' "$log" | tail -20
		record "valgrind netinv ($BUILD)" "$rc"
	elif [ "$unit_only" = 0 ]; then
		echo "== integration tests ($BUILD)"
		if [ "$(id -u)" != 0 ]; then
			echo "  integration tests need root (network namespaces)"
			record integration-needs-root 1
		else
			for t in tests/integration/test_*.sh; do
				timeout 300 bash "$t" >"$log" 2>&1
				rc=$?
				sed 's/^/  /' "$log"
				ok=$(grep -c '^ok - ' "$log")
				bad=$(grep -c '^not ok - ' "$log")
				passed=$((passed + ok))
				failed=$((failed + bad))
				if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
					failed=$((failed + 1))
					echo "  $(basename "$t") exited $rc"
				fi
				[ "$rc" != 0 ] && failures+=("$(basename "$t") ($BUILD)")
			done
		fi
	fi
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
