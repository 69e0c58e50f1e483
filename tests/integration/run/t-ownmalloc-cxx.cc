// SPDX-License-Identifier: MIT
// t-ownmalloc (see t-ownmalloc.c) in C++: new and delete are libstdc++'s,
// which call the program's malloc and free; memprof interposes new and
// delete, and must hand the program's free only blocks of its malloc.
// Prints "ok", exits 0.
#include <new>
#include <string>
#include <vector>

#include "t-ownmalloc.h"

struct alignas(64) wide {
	char b[64];
};

int main()
{
	std::vector<std::string> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(std::string(100, 'x') + std::to_string(i));
	int *a = new int[100];
	delete[] a;
	wide *w = new wide;   // the aligned new: aligned_alloc
	delete w;
	int *n = new (std::nothrow) int(3);
	delete n;
	char *s = strdup("hello");
	free(s);
	puts(v.size() == 1000 ? "ok" : "bad");
	return 0;
}
