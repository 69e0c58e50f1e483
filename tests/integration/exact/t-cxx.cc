// SPDX-License-Identifier: MIT
// Exact-count target for C++ new/delete, new[]/delete[] and std::vector
// growth.  EXPECT lines: function alloc_objects alloc_space inuse_objects
// inuse_space, cumulative, at --rate 1.
#include <cstddef>
#include <vector>

#define NOINLINE __attribute__((noinline))

struct Foo {
	long a[6];   // 48 bytes
};

Foo *volatile keep_foo[4];
int *volatile keep_arr;
std::vector<int> *volatile keep_vec;

// EXPECT do_new 3 144 2 96
NOINLINE void do_new()
{
	keep_foo[0] = new Foo();
	keep_foo[1] = new Foo();
	Foo *f = new Foo();
	keep_foo[2] = f;
	delete f;
	keep_foo[2] = nullptr;
}

// EXPECT do_new_array 3 300 1 100
NOINLINE void do_new_array()
{
	for (int i = 0; i < 3; i++) {
		int *a = new int[25];
		keep_arr = a;
		if (i < 2)
			delete[] a;
	}
}

// 100 push_backs of int: capacities 1, 2, 4, ..., 128, each growth one new
// allocation and the old buffer freed; the vector object itself is new'd
// (24 bytes) and kept.  4 * (1+2+...+128) = 1020 bytes of buffers.
// EXPECT do_vector 9 1044 2 536
NOINLINE void do_vector()
{
	std::vector<int> *v = new std::vector<int>();
	for (int i = 0; i < 100; i++)
		v->push_back(i);
	keep_vec = v;
}

int main()
{
	do_new();
	do_new_array();
	do_vector();
	return 0;
}
