// SPDX-License-Identifier: MIT
// A library shipped stripped (objcopy --strip-all): only its exported
// function keeps a name (.dynsym); the static one that allocates has none,
// so its frame can only be named by object and file offset.
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void *hidden_alloc(size_t n)
{
	void *p = malloc(n);
	memset(p, 7, n);
	__asm__ volatile("" ::: "memory");   // no tail call: keep this frame
	return p;
}

__attribute__((visibility("default"), noinline)) void *mp_stripped_alloc(size_t n)
{
	void *p = hidden_alloc(n);
	__asm__ volatile("" ::: "memory");
	return p;
}
