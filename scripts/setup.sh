#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages memprof needs to build, test and benchmark.
# Idempotent and quiet: when everything is installed it does nothing (no
# apt-get update, no npm), so the other scripts call it every time.
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc g++ clang
	libunwind-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
	libdw-dev libelf-dev libbpf-dev bpftool
	# the Rust demangler (binutils' libiberty, linked statically)
	libiberty-dev
	# tests: sanitizers and libFuzzer, pprof, valgrind, real programs, roff
	libclang-rt-14-dev llvm golang-go valgrind python3 groff-base
	sqlite3 libxml2-utils jq strace
	# consumers of the CI leak reports: a JSON Schema validator for SARIF,
	# a JUnit XML reader; bash-completion, which loads ours
	python3-jsonschema python3-junitparser bash-completion
	# symbolization checks: a detached debug file package (like -dbgsym),
	# a local debuginfod server, dwz (DWARF shared between files, as
	# Debian's debug packages have it)
	libc6-dbg debuginfod dwz
	# browser checks of the SVG/HTML charts (timeline, flame)
	chromium chromium-driver
	# benchmarks and the peers they compare with (liblsan0: LeakSanitizer
	# preloaded, bench.sh --set peers)
	heaptrack hyperfine time libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 liblsan0
)

# From the npm registry (installed globally): the SARIF SDK's validator,
# which checks a log against the SARIF 2.1.0 schema and GitHub code
# scanning's ingestion rules, and ships its copy of the published schema.
npm_packages=(@microsoft/sarif-multitool-linux@5.7.0)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ! command -v npm >/dev/null; then
	missing+=(npm)
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -qq >/dev/null
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm_missing=()
root=$(npm root -g)
for p in "${npm_packages[@]}"; do
	name=${p%@*}
	want=${p##*@}
	have=$(cd / && node -p "require('$root/$name/package.json').version" 2>/dev/null || true)
	if [ "$have" != "$want" ]; then
		npm_missing+=("$p")
	fi
done
if [ ${#npm_missing[@]} -gt 0 ]; then
	echo "setup: installing ${npm_missing[*]} (npm)" >&2
	"${sudo[@]}" npm install -g --no-fund --no-audit --loglevel=error "${npm_missing[@]}" >/dev/null
	# its postinstall script (chmod u+x) may not run: make it runnable by all
	"${sudo[@]}" chmod a+rx "$root/@microsoft/sarif-multitool-linux/Sarif.Multitool"
fi
