/* SPDX-License-Identifier: MIT */
/* The snapshot request's two ends (see trigger.h). */
#include <string.h>

#include "common/trigger.h"

void mp_trigger_request(siginfo_t *si, int sig, pid_t pid, uid_t uid)
{
	memset(si, 0, sizeof(*si));
	si->si_signo = sig;
	si->si_code = SI_QUEUE;
	si->si_pid = pid;
	si->si_uid = uid;
	si->si_value.sival_int = MP_TRIGGER_MAGIC;
}

void mp_trigger_live_request(siginfo_t *si, int sig, pid_t pid, uid_t uid, uint32_t token)
{
	mp_trigger_request(si, sig, pid, uid);
	si->si_value.sival_ptr = (void *)(uintptr_t)(((uint64_t)token << 32) | MP_TRIGGER_MAGIC_LIVE);
}

int mp_trigger_bell(uint64_t sigblk)
{
	uint64_t want = (1ull << (SIGHUP - 1)) | (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1));

	if ((sigblk & want) != want)
		return 0;
	for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--)
		if (!(sigblk & (1ull << (sig - 1))))
			return sig;
	return 0;
}
