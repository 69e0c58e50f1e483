#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages memprof needs to build, test and benchmark.
# Idempotent and quiet: when everything is installed it does nothing (no
# apt-get update), so the other scripts call it every time.
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc g++ clang
	libunwind-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
	libdw-dev libelf-dev libbpf-dev bpftool
	# tests: sanitizers and libFuzzer, pprof, valgrind, real programs, roff
	libclang-rt-14-dev llvm golang-go valgrind python3 groff-base
	sqlite3 libxml2-utils jq
	# symbolization checks: a detached debug file package (like -dbgsym),
	# a local debuginfod server
	libc6-dbg debuginfod
	# browser checks of the SVG/HTML charts (timeline, flame)
	chromium chromium-driver
	# benchmarks and other allocators to compare with
	heaptrack hyperfine time libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi
echo "setup: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
