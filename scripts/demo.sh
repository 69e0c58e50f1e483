#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job on the bundled example: build memprof (into ./build, if
# needed), compile the demo program, profile every allocation it makes and
# print the functions that hold the most memory at its exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# Quiet unless something fails.
quietly() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "demo: '$*' failed" >&2
		exit 1
	fi
}

bash scripts/setup.sh
if [ ! -f build/build.ninja ]; then
	quietly meson setup build
fi
quietly meson compile -C build

mkdir -p build/demo
cc -g -O1 -fno-omit-frame-pointer -o build/demo/demo tests/integration/targets/demo.c
cd build/demo
memprof=../src/cli/memprof

echo "\$ memprof run --rate 1 -o demo.heap.pb.gz ./demo"
"$memprof" run --rate 1 -o demo.heap.pb.gz ./demo
echo
echo "\$ memprof top demo.heap.pb.gz"
"$memprof" top demo.heap.pb.gz
echo
echo "The profile is build/demo/demo.heap.pb.gz; try also:"
echo "  build/src/cli/memprof top --sample-index alloc_space build/demo/demo.heap.pb.gz"
echo "  go tool pprof -top build/demo/demo.heap.pb.gz"
