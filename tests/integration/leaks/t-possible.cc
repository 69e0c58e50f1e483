// SPDX-License-Identifier: MIT
// Leak check target: blocks reached only through interior pointers, as
// memcheck (valgrind 3.19, --leak-check-heuristics=all, its default) and
// memprof should classify them at exit.  No threads: a thread's DTV differs
// by 16 bytes under memprof (the shim's own TLS module).
//   keep_inside     64 B possibly lost: a global points 16 bytes in; a lost
//                   24-byte block points at its start (still only possibly
//                   lost: memcheck's lost blocks claim unreached ones only)
//   keep_chain      32 B + 40 B possibly lost: what a possibly lost block
//                   points to is at most possibly lost
//   keep_upgraded   2 x (24 + 48 + 56 + 32) B reachable: 48 is pointed into
//                   by a global and at by a reachable block (24), and what
//                   it points to (56, then 32) is reachable too; twice, the
//                   globals in both orders, so that a scan from the roots in
//                   address order meets the interior pointer first once
//                   (48 and what it reaches are possibly lost, then upgraded)
//   lose_interior   32 B definitely lost, pointing 16 bytes into 48 B:
//                   indirectly lost (any pointer from a lost block counts)
//   keep_stdstring  40 B reachable (heuristic stdstring)
//   keep_length64   64 B reachable (heuristic length64)
//   keep_newarray   8 + 5 x 12 B reachable (heuristic newarray)
//   keep_multiple   40 B reachable (heuristic multipleinheritance)
#include <cstdlib>
#include <cstring>

static void *volatile sink;
static void *volatile g_inside, *volatile g_chain;
static void *volatile g_upgraded[4];   // x1 + 16, y1, y2, x2 + 16: in this order
static void *volatile g_string, *volatile g_length64;

struct elem {
	int v[3];
	~elem();
};
__attribute__((noinline)) elem::~elem() { sink = this; }
static elem *volatile g_array;

struct A {
	virtual ~A() {}
	long a = 1;
};
struct B {
	virtual ~B() {}
	long b = 2;
};
struct C : A, B {
	~C() override {}
	long c = 3;
};
static B *volatile g_base;

__attribute__((noinline)) static void keep_inside()
{
	char *p = static_cast<char *>(calloc(1, 64));
	g_inside = p + 16;
	void **lost = static_cast<void **>(calloc(1, 24));
	lost[0] = p;
	sink = lost;
	sink = nullptr;
}

__attribute__((noinline)) static void keep_chain()
{
	void **holder = static_cast<void **>(calloc(1, 32));
	holder[0] = calloc(1, 40);
	g_chain = reinterpret_cast<char *>(holder) + 16;
}

__attribute__((noinline)) static void keep_upgraded(int inside, int start)
{
	void **w = static_cast<void **>(calloc(1, 32));
	void **z = static_cast<void **>(calloc(1, 56));
	void **x = static_cast<void **>(calloc(1, 48));
	void **y = static_cast<void **>(calloc(1, 24));
	z[0] = w;
	x[0] = z;
	y[0] = x;
	g_upgraded[inside] = reinterpret_cast<char *>(x) + 16;
	g_upgraded[start] = y;
}

__attribute__((noinline)) static void lose_interior()
{
	void **m = static_cast<void **>(calloc(1, 48));
	void **l = static_cast<void **>(calloc(1, 32));
	l[1] = reinterpret_cast<char *>(m) + 16;
	sink = l;
	sink = nullptr;
}

// The old reference-counted std::string: length, capacity, refcount, then
// capacity + 1 chars; the string points at the chars.
__attribute__((noinline)) static void keep_stdstring()
{
	size_t *s = static_cast<size_t *>(malloc(3 * sizeof(size_t) + 15 + 1));
	s[0] = 5;
	s[1] = 15;
	s[2] = 0;
	memcpy(s + 3, "hello", 6);
	g_string = s + 3;
}

// sqlite3MemMalloc's header: the size of the rest as a 64-bit number.
__attribute__((noinline)) static void keep_length64()
{
	unsigned long long *h = static_cast<unsigned long long *>(calloc(1, 64));
	h[0] = 64 - 8;
	g_length64 = h + 1;
}

__attribute__((noinline)) static void keep_newarray()
{
	g_array = new elem[5];   // a cookie of 8 bytes (5), then the elements
}

__attribute__((noinline)) static void keep_multiple()
{
	g_base = new C;          // B's part, 16 bytes in
}

int main()
{
	keep_inside();
	keep_chain();
	keep_upgraded(0, 1);
	keep_upgraded(3, 2);
	lose_interior();
	keep_stdstring();
	keep_length64();
	keep_newarray();
	keep_multiple();
	return 0;
}
