// SPDX-License-Identifier: MIT
// Leak check target: one block of each reachability class, with a known
// size per allocating function, as Valgrind and memprof should classify
// them at exit:
//   lose_one           100 B   definitely lost
//   lose_list          10 x 48 B: head definitely lost, 9 indirectly lost
//   keep_global        200 B   reachable from a global
//   keep_in_thread     300 B   reachable only from a running thread's stack
//   keep_in_register   400 B   reachable only from a running thread's registers
//   keep_in_tls        500 B   reachable only from thread-local storage
//   keep_in_container  a std::map<int, std::string> of 20 entries, reachable
// Every other block (libc, libstdc++) is the runtime's own.
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <pthread.h>
#include <unistd.h>

struct node {
	node *next;
	char pad[40];
};

static void *volatile sink;
// volatile: stores the compiler could otherwise drop (never read back)
static void *volatile global_keep;
static __thread void *volatile tls_keep;
static std::map<int, std::string> *container;
static int ready_fd[2];

__attribute__((noinline)) static void lose_one()
{
	void *p = malloc(100);
	memset(p, 1, 100);
	sink = p;
	sink = nullptr;
}

__attribute__((noinline)) static void lose_list()
{
	node *head = nullptr;
	for (int i = 0; i < 10; i++) {
		node *n = static_cast<node *>(malloc(sizeof(node)));
		n->next = head;
		head = n;
	}
	sink = head;
	sink = nullptr;
}

__attribute__((noinline)) static void keep_global()
{
	global_keep = malloc(200);
}

__attribute__((noinline)) static void keep_in_tls()
{
	tls_keep = malloc(500);
}

__attribute__((noinline)) static void keep_in_container()
{
	container = new std::map<int, std::string>;
	for (int i = 0; i < 20; i++)
		(*container)[i] = std::string(40, 'a' + i % 26);   // 40 > SSO: heap strings
}

// The pointer lives in a local of a thread that never returns.
__attribute__((noinline)) static void *keep_in_thread(void *)
{
	void *volatile p = malloc(300);
	char c = 1;
	if (write(ready_fd[1], &c, 1) != 1)
		abort();
	for (;;)
		pause();
	return p;
}

// The pointer lives only in a register of a thread spinning at exit.
__attribute__((noinline)) static void *keep_in_register(void *)
{
	register void *p asm("r12") = malloc(400);
	char c = 1;
	if (write(ready_fd[1], &c, 1) != 1)
		abort();
	for (;;)
		asm volatile("pause" : "+r"(p));
	return nullptr;
}

int main()
{
	if (pipe(ready_fd) != 0)
		return 2;
	lose_one();
	lose_list();
	keep_global();
	keep_in_tls();
	keep_in_container();
	pthread_t t1, t2;
	pthread_create(&t1, nullptr, keep_in_thread, nullptr);
	pthread_create(&t2, nullptr, keep_in_register, nullptr);
	char c;
	if (read(ready_fd[0], &c, 1) != 1 || read(ready_fd[0], &c, 1) != 1)
		return 2;
	close(ready_fd[0]);   /* no descriptor left open: the heap is what is tested */
	close(ready_fd[1]);
	return 0;
}
