// SPDX-License-Identifier: MIT
// Reports target: an ordinary C++ program (std::string, std::vector,
// std::map, iostream; libstdc++ allocates its 72,704-byte emergency pool in
// a static constructor that has no symbol) that also calls into a stripped
// library it dlopens (argv[1]).  Run twice with --rate 1, it must give the
// same stacks by name in every report.  It leaks, through strdup:
//   config_dup   12 B   definitely lost (always)
//   other_dup     6 B   definitely lost (only with argv[2] == "other")
// and 777 B allocated inside the stripped library, definitely lost.
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

static void *volatile sink;
static std::vector<std::string> *names;
static std::map<std::string, int> *index_of;

__attribute__((noinline)) static void fill_names(int n)
{
	names = new std::vector<std::string>();
	index_of = new std::map<std::string, int>();
	for (int i = 0; i < n; i++) {
		names->push_back(std::string(40, 'n') + std::to_string(i));
		(*index_of)[names->back()] = i;
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) char *config_dup(const char *s)
{
	char *p = strdup(s);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) char *other_dup(const char *s)
{
	char *p = strdup(s);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) static void lose_config()
{
	sink = config_dup("config.ini\n");
	sink = nullptr;
}

__attribute__((noinline)) static void lose_other()
{
	sink = other_dup("other");
	sink = nullptr;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::cerr << "usage: t-repeat LIBRARY [other]\n";
		return 2;
	}
	fill_names(200);
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		std::cerr << dlerror() << "\n";
		return 1;
	}
	auto alloc = reinterpret_cast<void *(*)(size_t)>(dlsym(h, "mp_stripped_alloc"));
	sink = alloc(777);
	sink = nullptr;
	lose_config();
	if (argc > 2 && strcmp(argv[2], "other") == 0)
		lose_other();
	std::cout << names->size() << " " << index_of->size() << "\n";
	return 0;
}
