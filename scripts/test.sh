#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test: set up (if needed), build into ./build with warnings as
# errors, run all suites; then build again with AddressSanitizer and
# UndefinedBehaviorSanitizer into ./build-asan and run the suites that do
# not preload the shim (unit, fuzz corpus replays, integration): a preloaded
# shim cannot run under the sanitizer, which owns malloc.  The suite
# asan-cli then runs the sanitized CLI on real programs (process trees,
# python3, a relative-path build) with the plain build's shim.  Last, a
# build with the allocator's invariant walker on and without BPF support
# (./build-checks: -Ddebug_checks=full -Dbpf=disabled) runs the stress
# programs that check the invariants at every exit (suite checks), attach's
# refusal, and the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

configure() {
	local dir=$1
	shift
	local out
	if [ -f "$dir/build.ninja" ]; then
		out=$(meson configure "$dir" "$@" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
	else
		out=$(meson setup "$dir" "$@" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
	fi
}

echo "== build" >&2
configure build -Dwerror=true
meson compile -C build
# Every stage runs even when one fails; the status says whether any did.
# Each stage's test log is kept, and the tests that failed are listed again
# at the very end, so that the last lines of the output name them.
status=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
keep() { cp "$1/meson-logs/testlog.json" "$logs/$2.json" 2>/dev/null || :; }
echo "== tests" >&2
meson test -C build --print-errorlogs || status=1
keep build plain

echo "== sanitizer build (address, undefined)" >&2
configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-asan
echo "== tests under the sanitizers: unit, fuzz, integration" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --suite unit --suite fuzz --suite integration ||
	status=1
keep build-asan asan
echo "== the sanitized CLI on real programs (plain shim)" >&2
MEMPROF_SHIM="$PWD/build/src/shim/libmemprof.so" \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --suite asan-cli || status=1
keep build-asan asan-cli

echo "== build with the allocator's invariant checks, without BPF" >&2
configure build-checks -Dwerror=true -Ddebug_checks=full -Dbpf=disabled
meson compile -C build-checks
echo "== allocator invariants under stress; attach without BPF; unit" >&2
meson test -C build-checks --print-errorlogs --suite checks --suite attach --suite unit ||
	status=1
keep build-checks checks

if [ "$status" -ne 0 ]; then
	echo "== what failed, stage by stage" >&2
	for stage in plain asan asan-cli checks; do
		[ -f "$logs/$stage.json" ] || continue
		echo "-- stage $stage" >&2
		python3 scripts/failed-tests.py "$logs/$stage.json" >&2 || :
	done
fi
exit $status
