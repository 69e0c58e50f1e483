/* SPDX-License-Identifier: MIT */
/*
 * Preloaded after Debian's LeakSanitizer runtime (liblsan.so.0) by the
 * benchmark's lsan mode: starts LSan from a constructor, before the
 * program's main.
 *
 * A program linked with -fsanitize=leak starts LSan from .preinit_array;
 * the preloaded runtime has no constructor and starts at the first
 * intercepted malloc.  Until then its signal() interceptor calls a null
 * pointer (REAL(signal) is filled in by __lsan_init): sqlite3's shell calls
 * signal(SIGINT, ...) before it allocates and dies of SIGSEGV (GCC 12.2's
 * liblsan).  __lsan_init returns at once when LSan already runs; the weak
 * reference makes this library a no-op without LSan.
 */

void __lsan_init(void) __attribute__((weak));

__attribute__((constructor)) static void start_lsan(void)
{
	if (__lsan_init)
		__lsan_init();
}
