// SPDX-License-Identifier: MIT

// heapprog writes a Go heap profile (runtime.MemProfileRate = 1, so every
// allocation is recorded) to the file named by its argument, for
// check-top.sh to compare `memprof top` with `go tool pprof -top` on.
// Allocations come from named functions, one of them inlined into its
// caller, one recursive, and some are freed before the profile is taken.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

var sink [][]byte

//go:noinline
func allocSmall() {
	for i := 0; i < 1000; i++ {
		sink = append(sink, make([]byte, 64))
	}
}

//go:noinline
func allocLarge() {
	for i := 0; i < 10; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
}

// Small enough to be inlined into allocInlined.
func helper(n int) []byte { return make([]byte, n) }

//go:noinline
func allocInlined() {
	for i := 0; i < 100; i++ {
		sink = append(sink, helper(4096))
	}
}

//go:noinline
func recurse(d int) {
	if d == 0 {
		sink = append(sink, make([]byte, 512))
		return
	}
	recurse(d - 1)
	sink = append(sink, make([]byte, 128))
}

//go:noinline
func allocFreed() {
	var tmp [][]byte
	for i := 0; i < 300; i++ {
		tmp = append(tmp, make([]byte, 2048))
	}
	runtime.KeepAlive(tmp)
}

func main() {
	runtime.MemProfileRate = 1
	allocSmall()
	allocLarge()
	allocInlined()
	for i := 0; i < 50; i++ {
		recurse(5)
	}
	allocFreed()
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
