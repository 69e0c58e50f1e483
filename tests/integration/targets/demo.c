/* SPDX-License-Identifier: MIT */
/*
 * The demo program of scripts/demo.sh: a toy log indexer with a few named
 * allocation sites.  Every record is read into a fresh buffer and freed;
 * its words are split out temporarily; every tenth record's key goes into a
 * cache that is never trimmed, the slow growth a heap profile is for.
 * Deterministic: the same allocations on every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS 20000
#define NOINLINE __attribute__((noinline))

struct cache_entry {
	char *key;
	struct cache_entry *next;
};

static struct cache_entry *cache;   /* grows for ever: the "leak" */
static size_t cached;

/* 256 bytes per record, freed by the caller. */
static NOINLINE char *read_record(int i)
{
	char *rec = malloc(256);

	if (!rec)
		abort();
	snprintf(rec, 256, "2026-01-01T00:00:%02d host%03d GET /api/items/%d status=%d",
		 i % 60, i % 7, i, i % 5 == 0 ? 500 : 200);
	return rec;
}

/* A temporary copy of each word, all freed before returning. */
static NOINLINE size_t split_words(const char *rec)
{
	char *words[16];
	size_t n = 0, total = 0;
	char *copy = strdup(rec), *save = NULL;

	if (!copy)
		abort();
	for (char *w = strtok_r(copy, " ", &save); w && n < 16; w = strtok_r(NULL, " ", &save))
		words[n++] = strdup(w);
	for (size_t k = 0; k < n; k++) {
		total += strlen(words[k]);
		free(words[k]);
	}
	free(copy);
	return total;
}

/* The cache: one entry and one key string per call, never freed. */
static NOINLINE void remember(const char *rec)
{
	struct cache_entry *e = malloc(sizeof(*e));

	if (!e)
		abort();
	e->key = strdup(rec);
	e->next = cache;
	cache = e;
	cached++;
}

int main(void)
{
	size_t bytes = 0;
	unsigned *histogram = calloc(64, sizeof(*histogram));

	if (!histogram)
		return 1;
	for (int i = 0; i < RECORDS; i++) {
		char *rec = read_record(i);

		bytes += split_words(rec);
		histogram[strlen(rec) % 64]++;
		if (i % 10 == 0)
			remember(rec);
		free(rec);
	}
	free(histogram);
	printf("indexed %d records (%zu bytes of words), %zu keys cached\n", RECORDS, bytes, cached);
	return 0;
}
