/* SPDX-License-Identifier: MIT */
/* The reference symbolizer (symref.c): the same calls as symbolize.h. */
#ifndef MP_TESTS_BENCH_SYMREF_H
#define MP_TESTS_BENCH_SYMREF_H

#include "symbolize/symbolize.h"

struct ref_symbolizer;
int ref_symbolizer_new(const char *maps, size_t len, unsigned flags, struct ref_symbolizer **ret);
int ref_symbolizer_new_from(const char *maps, size_t len, unsigned flags,
			    struct ref_symbolizer *donor, struct ref_symbolizer **ret);
void ref_symbolizer_warm(struct ref_symbolizer *s);
void ref_symbolizer_free(struct ref_symbolizer *s);
size_t ref_symbolizer_nmappings(const struct ref_symbolizer *s);
const struct mp_sym_mapping *ref_symbolizer_mapping(const struct ref_symbolizer *s, size_t i);
int ref_symbolize(struct ref_symbolizer *s, uint64_t addr, struct mp_sym_result *ret);

#endif
