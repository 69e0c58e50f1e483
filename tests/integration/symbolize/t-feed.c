/* SPDX-License-Identifier: MIT */
/* Target of test-feed: allocates from feed_one, says "one", waits for a
 * byte, allocates from feed_two, says "two", waits for end of input. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink;

NOINLINE void *feed_leaf(size_t n)
{
	void *p = malloc(n);

	sink = p;
	return p;
}

NOINLINE void feed_one(void)
{
	for (int i = 0; i < 10; i++)
		free(feed_leaf(16 + (size_t)i));
	sink = NULL;
}

NOINLINE void feed_two(void)
{
	for (int i = 0; i < 10; i++)
		free(feed_leaf(64 + (size_t)i));
	sink = NULL;
}

int main(void)
{
	char c;

	feed_one();
	printf("one\n");
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		return 1;
	feed_two();
	printf("two\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
