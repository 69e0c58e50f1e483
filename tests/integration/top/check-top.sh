#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-top.sh MEMPROF MKPROFILE SRCDIR: `memprof top` must print what
# `go tool pprof -top` prints, on a real Go heap profile (heapprog.go, built
# here) and on profiles made by memprof's own builder (mkprofile), with the
# default sample type, each sample type by name and by number, and
# -nodecount, and of several profiles merged.  Also: bad input gives one
# line on stderr and exit 1, bad usage exit 2.  TAP output; skipped when `go` is not installed.
set -u

memprof=$1
mkprofile=$2
srcdir=$3

if ! command -v go >/dev/null 2>&1; then
	echo "1..0 # SKIP go is not installed"
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Offline, self-contained Go: nothing from the network, nothing in $HOME.
export GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off
export TZ=UTC

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# compare PROFILE "PPROF FLAGS" "MEMPROF FLAGS"
compare() {
	go tool pprof -top $2 "$1" >"$tmp/go.out" 2>"$tmp/go.err"
	gors=$?
	"$memprof" top $3 "$1" >"$tmp/mp.out" 2>"$tmp/mp.err"
	mprs=$?
	what="top${3:+ $3} $(basename "$1") matches go tool pprof -top${2:+ $2}"
	if [ $gors -ne 0 ]; then
		not_ok "$what (go tool pprof failed)"
		sed 's/^/#   /' "$tmp/go.err"
	elif [ $mprs -ne 0 ]; then
		not_ok "$what (memprof exited $mprs)"
		sed 's/^/#   /' "$tmp/mp.err"
	elif cmp -s "$tmp/go.out" "$tmp/mp.out"; then
		ok "$what"
	else
		not_ok "$what"
		diff -u "$tmp/go.out" "$tmp/mp.out" | sed 's/^/#   /'
	fi
}

# A real Go heap profile.
if ! (cd "$tmp" && cp "$srcdir/heapprog.go" . && go build -o heapprog heapprog.go) >"$tmp/build.log" 2>&1; then
	not_ok "build heapprog.go"
	sed 's/^/#   /' "$tmp/build.log"
elif ! "$tmp/heapprog" "$tmp/go-heap.pb.gz"; then
	not_ok "run heapprog"
else
	ok "Go heap profile written"
	compare "$tmp/go-heap.pb.gz" "" ""
	for si in alloc_objects alloc_space inuse_objects inuse_space 0 1 2 3; do
		compare "$tmp/go-heap.pb.gz" "-sample_index=$si" "--sample-index $si"
	done
	for nc in 1 2 3 5 100; do
		compare "$tmp/go-heap.pb.gz" "-nodecount=$nc" "-n $nc"
	done
	compare "$tmp/go-heap.pb.gz" "-sample_index=alloc_space -nodecount=4" "--sample-index=alloc_space -n 4"
	# Uncompressed, too.
	gzip -dc "$tmp/go-heap.pb.gz" >"$tmp/go-heap.pb"
	compare "$tmp/go-heap.pb" "" ""
fi

# Profiles from memprof's builder, of every shape mkprofile makes.
for seed in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	p="$tmp/builder-$seed.pb.gz"
	if ! "$mkprofile" "$seed" "$p"; then
		not_ok "mkprofile $seed"
		continue
	fi
	compare "$p" "" ""
	compare "$p" "-sample_index=0" "--sample-index=0"
	compare "$p" "-nodecount=3" "-n 3"
done

# Several profiles: their merge, as pprof shows the files it is given; a
# set pprof refuses to merge (other sample types) is refused too.
for pair in "1 2" "3 4" "5 6" "7 8" "1 1" "2 9 10" "11 12 13 14"; do
	files=""
	for seed in $pair; do
		files="$files $tmp/builder-$seed.pb.gz"
	done
	what="top of builder profiles $pair (merged)"
	# shellcheck disable=SC2086
	go tool pprof -top $files >"$tmp/go.out" 2>"$tmp/go.err"
	gors=$?
	# shellcheck disable=SC2086
	"$memprof" top $files >"$tmp/mp.out" 2>"$tmp/mp.err"
	mprs=$?
	if [ $gors -ne 0 ]; then
		if [ $mprs -eq 1 ] && [ "$(wc -l <"$tmp/mp.err")" -eq 1 ] && [ ! -s "$tmp/mp.out" ]; then
			ok "$what: refused as pprof refuses it: $(cat "$tmp/mp.err")"
		else
			not_ok "$what: pprof refuses, memprof exited $mprs"
			sed 's/^/#   /' "$tmp/go.err" "$tmp/mp.err"
		fi
	elif [ $mprs -eq 0 ] && cmp -s "$tmp/go.out" "$tmp/mp.out"; then
		ok "$what matches go tool pprof -top"
	else
		not_ok "$what matches go tool pprof -top (memprof exited $mprs)"
		diff -u "$tmp/go.out" "$tmp/mp.out" | sed 's/^/#   /'
		sed 's/^/#   /' "$tmp/mp.err"
	fi
done
if [ -f "$tmp/go-heap.pb.gz" ]; then
	go tool pprof -top -sample_index=alloc_space "$tmp/go-heap.pb.gz" "$tmp/go-heap.pb" \
		>"$tmp/go.out" 2>&1
	"$memprof" top -i alloc_space "$tmp/go-heap.pb.gz" "$tmp/go-heap.pb" \
		>"$tmp/mp.out" 2>"$tmp/mp.err"
	if cmp -s "$tmp/go.out" "$tmp/mp.out"; then
		ok "top of a Go heap profile twice (merged) matches go tool pprof -top"
	else
		not_ok "top of a Go heap profile twice (merged) matches go tool pprof -top"
		diff -u "$tmp/go.out" "$tmp/mp.out" | sed 's/^/#   /'
	fi
fi

# Bad input: one line on stderr, exit 1.
: >"$tmp/empty.pb.gz"
head -c 100 "$tmp/builder-1.pb.gz" >"$tmp/truncated.pb.gz"
printf 'not a profile at all' | gzip -c >"$tmp/garbage.pb.gz"
for f in "$tmp/empty.pb.gz" "$tmp/truncated.pb.gz" "$tmp/garbage.pb.gz" "$tmp/missing.pb.gz"; do
	"$memprof" top "$f" >"$tmp/mp.out" 2>"$tmp/mp.err"
	rs=$?
	lines=$(wc -l <"$tmp/mp.err")
	if [ $rs -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/mp.out" ] &&
	   grep -q "^memprof: cannot read profile '$f': " "$tmp/mp.err"; then
		ok "top $(basename "$f"): $(cat "$tmp/mp.err")"
	else
		not_ok "top $(basename "$f") exits 1 with one line (got $rs, $lines lines)"
		sed 's/^/#   /' "$tmp/mp.err"
	fi
done

# One of several profiles missing: one line, exit 1, nothing printed.
"$memprof" top "$tmp/builder-1.pb.gz" "$tmp/missing.pb.gz" >"$tmp/mp.out" 2>"$tmp/mp.err"
rs=$?
if [ $rs -eq 1 ] && [ "$(wc -l <"$tmp/mp.err")" -eq 1 ] && [ ! -s "$tmp/mp.out" ] &&
   grep -q "^memprof: cannot read profile '$tmp/missing.pb.gz': " "$tmp/mp.err"; then
	ok "top of two profiles, one missing: exit 1, one line"
else
	not_ok "top of two profiles, one missing: exit 1, one line (got $rs)"
	sed 's/^/#   /' "$tmp/mp.err"
fi

# Bad usage: exit 2.
for args in "" "--no-such-option x" "-n -1 x" "-n abc x"; do
	# shellcheck disable=SC2086
	"$memprof" top $args >/dev/null 2>"$tmp/mp.err"
	rs=$?
	if [ $rs -eq 2 ] && [ "$(wc -l <"$tmp/mp.err")" -eq 1 ]; then
		ok "top $args: exit 2"
	else
		not_ok "top $args: exit 2 with one line (got $rs)"
		sed 's/^/#   /' "$tmp/mp.err"
	fi
done
"$memprof" top --sample-index nosuchtype "$tmp/builder-1.pb.gz" >/dev/null 2>"$tmp/mp.err"
rs=$?
if [ $rs -eq 2 ] && grep -q "^memprof: cannot report on .*unknown sample index 'nosuchtype'" "$tmp/mp.err"; then
	ok "unknown sample index: exit 2"
else
	not_ok "unknown sample index: exit 2 (got $rs)"
	sed 's/^/#   /' "$tmp/mp.err"
fi
if "$memprof" top --help | grep -q '^Usage: memprof top'; then
	ok "top --help"
else
	not_ok "top --help"
fi

echo "1..$n"
[ $failed -eq 0 ]
