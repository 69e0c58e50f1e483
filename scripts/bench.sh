#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (release) and run the benchmark tables:
#   bash scripts/bench.sh [--set profiler|allocator|leak|peers|report|resources|attach|symbolize|cost] [--modes A,B] [--workloads W,X] [--quick] [--reps N]
#   (--set attach: also [--memleak PATH], or MEMPROF_BENCH_MEMLEAK=PATH; bench.py --help)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-bench
if [ ! -f "$B/build.ninja" ]; then
	meson setup "$B" --buildtype=release -Dtests=true >/dev/null
fi
meson compile -C "$B" >/dev/null
exec python3 scripts/bench.py --memprof "$B/src/cli/memprof" --shim "$B/src/shim/libmemprof.so" \
	--alloc-bench "$B/tests/bench/alloc-bench" --leak-bench "$B/tests/bench/leak-bench" \
	--mkbig "$B/tests/bench/mkbig" --res-bench "$B/tests/bench/res-bench" \
	--sym-bench "$B/tests/bench/sym-bench" --uprobe-floor "$B/tests/bench/uprobe-floor" \
	--lsan-preinit "$B/tests/bench/lsan-preinit.so" "$@"
