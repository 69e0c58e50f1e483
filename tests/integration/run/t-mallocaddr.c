/* SPDX-License-Identifier: MIT */
/*
 * A position-dependent executable that takes malloc's address in its code,
 * as Debian's python3 does: the linker gives it a canonical PLT entry, a
 * malloc symbol with a value but undefined, which dlsym(RTLD_DEFAULT,
 * "malloc") returns though every call still reaches the preloaded shim's.
 * It must not be taken for a program with a malloc of its own.  take()
 * allocates 100 blocks of 1000 bytes through the pointer (kept), and at
 * --rate 1 every one is counted (test mallocaddr, exact/check.py); prints
 * "ok".
 */
#include <stdio.h>
#include <stdlib.h>

void *(*volatile alloc_fn)(size_t);
void *kept[100];

/* EXPECT take 100 100000 100 100000 */
__attribute__((noinline)) void take(void)
{
	for (int i = 0; i < 100; i++)
		kept[i] = alloc_fn(1000);
}

int main(void)
{
	alloc_fn = malloc;
	take();
	puts("ok");
	return 0;
}
