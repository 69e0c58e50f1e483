#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instruction counts (valgrind --tool=callgrind, deterministic where the
# workload is) of malloc-heavy workloads under one or more builds of the
# shim, preloaded directly (no CLI), at the default rate and at rate=1:
#   bash scripts/callgrind.sh [--reps N] SHIM [SHIM...]
# e.g. a build of main against a build of a branch, both --buildtype=release.
# Prints one line per workload, rate and shim: the medians of N runs of the
# whole process's instructions (Ir) and of those executed in the shim itself
# (self cost of its functions, callgrind_annotate).
# Workloads: alloc-bench, python3, sqlite3 and cc1 (gcc's compiler on a
# small generated file), or those CALLGRIND_WORKLOADS names.
# For comparing hot paths between builds; scripts/bench.sh compares
# against other profilers and allocators in wall and CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3
if [ "${1-}" = --reps ]; then
	reps=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: callgrind.sh [--reps N] SHIM [SHIM...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is missing" >&2; exit 1; }
bench=${ALLOC_BENCH:-build-bench/tests/bench/alloc-bench}
if [ ! -x "$bench" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release >/dev/null
	meson compile -C build-bench tests/bench/alloc-bench >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/alloc.py" <<'PY'
d = {}
for i in range(60000):
    d[str(i)] = [i, str(i) * 3, (i, i + 1)]
for i in range(0, 60000, 2):
    del d[str(i)]
s = sorted(d.values(), key=lambda x: x[1])
print(len(s), sum(len(x[1]) for x in s))
PY
python3 - "$work/load.sql" <<'PY'
import random, sys
rnd = random.Random(1)
with open(sys.argv[1], 'w') as f:
    f.write('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, v REAL);\nBEGIN;\n')
    for i in range(15000):
        f.write("INSERT INTO t(name, grp, v) VALUES('name%d', %d, %f);\n" % (i, i % 97, rnd.random()))
    f.write('COMMIT;\nCREATE INDEX t_name ON t(name);\nSELECT count(DISTINCT name) FROM t;\n')
PY
py3=/usr/bin/python3
[ -x $py3 ] || py3=$(command -v python3)
# A big real binary: gcc's cc1 (33 MB, stripped) on a generated C file of
# 120 functions (bench.py's generator), about 700,000 allocations.
cc1=$(gcc -print-prog-name=cc1 2>/dev/null || true)
if [ -x "$cc1" ]; then
	"$py3" -c 'import sys; sys.path.insert(0, sys.argv[1]); import bench; bench.gen_c(sys.argv[2], 120)' \
		"$(dirname "$0")" "$work/small.c"
fi

# workload name, stdin, command
run_one() {   # shim rate name stdin cmd...
	local shim=$1 rate=$2 name=$3 in=$4
	shift 4
	mkdir -p "$work/snap"
	env LD_PRELOAD="$(realpath "$shim")" MEMPROF_OPTIONS="rate=$rate,snapdir=$work/snap" \
		PYTHONMALLOC=malloc PYTHONHASHSEED=0 \
		valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" <"$in" >/dev/null 2>"$work/vg.log"
	local total shim_ir
	total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg.log")
	shim_ir=$(callgrind_annotate --threshold=100 "$work/cg.out" |
		awk '/libmemprof\.so\]$/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
	rm -rf "$work/snap" "$work/cg.out"
	echo "$total $shim_ir"
}

# Medians of the two columns.
median() {
	local in t s
	in=$(cat)
	t=$(cut -d' ' -f1 <<<"$in" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	s=$(cut -d' ' -f2 <<<"$in" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	echo "$t $s"
}

for w in ${CALLGRIND_WORKLOADS:-alloc-bench python3 sqlite3 cc1}; do
	case $w in
	alloc-bench) cmd=("$bench" 200000); in=/dev/null ;;
	python3) cmd=("$py3" "$work/alloc.py"); in=/dev/null ;;
	sqlite3) cmd=(sqlite3 :memory:); in=$work/load.sql ;;
	cc1)
		[ -x "$cc1" ] || continue
		cmd=("$cc1" -quiet -imultiarch "$(gcc -print-multiarch)" "$work/small.c" -O2 -g -o "$work/small.s")
		in=/dev/null ;;
	esac
	for rate in 524288 1; do
		for shim in "$@"; do
			read -r total shim_ir < <(for i in $(seq "$reps"); do
				run_one "$shim" $rate $w "$in" "${cmd[@]}"; done | median)
			printf '%-12s rate=%-7s total %13s  shim %12s  %s\n' "$w" "$rate" "$total" "$shim_ir" "$shim"
		done
	done
done
