/* SPDX-License-Identifier: MIT */
/*
 * Code unloaded before exit: plugin A allocates (111 bytes kept, 222 lost,
 * 333 freed) and is unloaded; plugin B, the same code under another name,
 * is loaded where A was (the program says whether it was) and allocates
 * (444 kept, 555 lost); plugin C allocates 777 bytes (kept) and is
 * unloaded with nothing loaded in its place.  B stays loaded.  Every
 * allocation comes through the same call sites, so that B's stacks are
 * A's, address for address.
 * usage: t-dlclose A.so B.so C.so
 */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>

typedef void *(*alloc_fn)(size_t);

static const struct plugin {
	const char *fn;
	size_t sizes[3];          /* kept, lost, freed; 0: none */
	int unload;
} plugins[3] = {
	{ "plugin_a_alloc", { 111, 222, 333 }, 1 },
	{ "plugin_b_alloc", { 444, 555, 0 }, 0 },
	{ "plugin_c_alloc", { 777, 0, 0 }, 1 },
};

void *kept[3];

__attribute__((noinline)) static void *use(alloc_fn f, size_t n)
{
	void *p = f(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

/* The plugin's allocations, each from the one call site in this loop. */
__attribute__((noinline)) static void run(alloc_fn f, const size_t *sizes, void **ret_kept)
{
	for (int i = 0; i < 3; i++) {
		if (!sizes[i])
			continue;
		void *p = use(f, sizes[i]);
		if (i == 0)
			*ret_kept = p;
		else if (i == 2)
			free(p);
	}
}

int main(int argc, char **argv)
{
	uintptr_t base[3];
	if (argc != 4)
		return 2;
	for (int k = 0; k < 3; k++) {
		void *h = dlopen(argv[1 + k], RTLD_NOW | RTLD_LOCAL);
		struct link_map *lm = NULL;
		alloc_fn f = h ? (alloc_fn)dlsym(h, plugins[k].fn) : NULL;
		if (!f || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0) {
			fprintf(stderr, "t-dlclose: %s: %s\n", argv[1 + k], dlerror());
			return 2;
		}
		base[k] = lm->l_addr;
		run(f, plugins[k].sizes, &kept[k]);
		if (plugins[k].unload)
			dlclose(h);
	}
	printf("%s\n", base[0] == base[1] ? "reused" : "not reused");
	return 0;
}
