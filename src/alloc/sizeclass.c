/* SPDX-License-Identifier: MIT */
/*
 * Size-class table.  Built at run time from two rules instead of a literal
 * table, so the rules are what the unit test checks:
 *   - sizes: 16, 32, ..., 256, then eight evenly spaced classes per doubling
 *     up to 32 KiB (256 + 32, ..., 512 + 64, ...), so a request is rounded up
 *     by less than 1/8 of its class size (1/16 above 256 B on average);
 *   - span length: the fewest pages (at most 16) that hold at least one block
 *     and waste at most 1/8 of the span at its end, and at least 8 blocks for
 *     classes up to 4 KiB (fewer refills of the central lists).
 * The batch moved between a thread cache and the central list is about
 * 32 KiB of blocks, between 2 and 64 blocks (TCMalloc moves similar batches).
 */
#include "alloc/sizeclass.h"

struct mp_sizeclass mp_classes[MP_NCLASS];
uint8_t mp_class_by16[1024 / 16 + 1];
uint8_t mp_class_by128[MP_MAX_SMALL / 128 + 1];

static uint32_t span_pages(uint32_t size)
{
	for (uint32_t np = 1; np <= 16; np++) {
		size_t bytes = np * MP_PAGE_SIZE;
		size_t n = bytes / size;
		if (n == 0)
			continue;
		if (size <= 4096 && n < 8)
			continue;
		if ((bytes % size) * 8 <= bytes)
			return np;
	}
	return 16;
}

void mp_sizeclass_init(void)
{
	if (mp_classes[MP_NCLASS - 1].size == MP_MAX_SMALL)
		return;
	unsigned c = 1;
	uint32_t size = 0;
	while (c < MP_NCLASS) {
		if (size < 256)
			size += 16;
		else {
			/* step: 1/8 of the power of two at or below size */
			uint32_t p = 256;
			while (p * 2 <= size)
				p *= 2;
			size += p / 8;
		}
		struct mp_sizeclass *k = &mp_classes[c];
		uint32_t batch = 32768 / size;
		k->size = size;
		k->npages = span_pages(size);
		k->nobjs = (uint32_t)(k->npages * MP_PAGE_SIZE / size);
		k->batch = batch < 2 ? 2 : batch > 64 ? 64 : batch;
		k->recip = ((uint64_t)1 << 32) / size + 1;
		c++;
	}
	/* Lookup tables: smallest class that holds n. */
	c = 1;
	for (unsigned i = 0; i < sizeof(mp_class_by16); i++) {
		size_t n = (size_t)i * 16;
		while (mp_classes[c].size < n)
			c++;
		mp_class_by16[i] = (uint8_t)c;
	}
	c = 1;
	for (unsigned i = 0; i < sizeof(mp_class_by128); i++) {
		size_t n = (size_t)i * 128;
		while (mp_classes[c].size < n)
			c++;
		__atomic_store_n(&mp_class_by128[i], (uint8_t)c, __ATOMIC_RELEASE);
	}
}
