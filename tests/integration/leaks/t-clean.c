/* SPDX-License-Identifier: MIT */
/* Leak check target that leaks nothing: threads joined, every block freed,
 * stdio used; exits with status 3 (passed through by memprof). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
	char *p = malloc(1000);
	snprintf(p, 1000, "thread %ld", (long)(size_t)arg);
	void *q = realloc(p, 5000);
	free(q);
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char *s = strdup("hello");
	printf("%s\n", s);
	free(s);
	return 3;
}
