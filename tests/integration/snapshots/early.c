/* SPDX-License-Identifier: MIT */
/* A library whose constructor installs a SIGUSR2 handler before the
 * preloaded shim's constructor runs (dependencies are initialized first). */
#include <signal.h>
#include <string.h>

volatile sig_atomic_t early_calls;

void early_handler(int sig)
{
	(void)sig;
	early_calls++;
}

__attribute__((constructor)) static void early_init(void)
{
	signal(SIGUSR2, early_handler);
}
