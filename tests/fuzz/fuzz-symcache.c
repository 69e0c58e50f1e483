/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the symbolization cache reader
 * (src/symbolize/symcache.c): any bytes are a cache file.  Each input is
 * checked twice, as it is and with its checksum fixed up (so that
 * mutations reach the checks behind the checksum); a file the reader
 * accepts must then answer every address it lists with frames whose
 * strings lie inside the file, and nothing it does not list.  Also built as
 * a replay test over corpus/symcache/ (replay.c).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-symcache
 *   mkdir new && B/tests/fuzz/fuzz-symcache -max_len=8192 new tests/fuzz/corpus/symcache
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *buf, size_t size)
{
	const struct mp_symcache_header *h = (const void *)buf;
	struct mp_symcache_view v;
	char bid[sizeof(h->build_id)];

	if (size < sizeof(*h))
		return;
	memcpy(bid, h->build_id, sizeof(bid));
	bid[sizeof(bid) - 1] = 0;
	if (mp_symcache_parse(buf, size, bid, h->kind, &v) < 0)
		return;
	struct mp_sym_frame *frames = malloc(65536 * sizeof(*frames));
	if (!frames)
		return;
	for (uint32_t i = 0; i < v.naddrs; i++) {
		enum mp_sym_source src;
		int64_t k = mp_symcache_index(&v, v.addrs[i]);
		size_t n;

		if (k != i)
			abort();
		n = mp_symcache_decode(&v, (size_t)k, &src, frames);
		if (n != mp_symcache_nframes(&v, (size_t)k) || src > MP_SYM_DWARF)
			abort();
		for (size_t j = 0; j < n; j++) {
			const char *strs[] = { frames[j].function, frames[j].system_name, frames[j].file };

			for (int s = 0; s < 3; s++) {
				if (!strs[s])
					continue;
				if (strs[s] < (const char *)buf || strs[s] >= (const char *)buf + size ||
				    strs[s] + strlen(strs[s]) >= (const char *)buf + size)
					abort();
			}
		}
		if (v.addrs[i] + 1 != 0 && (i + 1 == v.naddrs || v.addrs[i + 1] != v.addrs[i] + 1) &&
		    mp_symcache_index(&v, v.addrs[i] + 1) >= 0)
			abort();
	}
	free(frames);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 8-byte aligned copies, as a file mapping is. */
	uint64_t *buf = malloc(size + 8);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check((const uint8_t *)buf, size);
	if (size >= sizeof(struct mp_symcache_header)) {
		struct mp_symcache_header *h = (void *)buf;

		h->checksum = mp_symcache_checksum((const uint8_t *)buf + sizeof(*h), size - sizeof(*h));
		check((const uint8_t *)buf, size);
	}
	free(buf);
	return 0;
}
