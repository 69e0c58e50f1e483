/* SPDX-License-Identifier: MIT */
/* Anonymous mappings for the shim's own tables (see vm.h). */
#include <sys/mman.h>

#include "base/ownmem.h"
#include "base/vm.h"

void *mp_vm_reserve(size_t size)
{
	/* MAP_NORESERVE: large reservations cost address space only; pages are
	 * committed on first touch, so a table sized for the worst case costs
	 * what is used. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	mp_ownmem_add(p, size);   /* never a root of the leak scan */
	return p;
}

void mp_vm_release(void *p, size_t size)
{
	if (p) {
		mp_ownmem_remove(p, size);
		munmap(p, size);
	}
}
