/* SPDX-License-Identifier: MIT */
/* The per-thread state of the target's locks (see lock.h). */
#include "base/lock.h"

MP_TLS int mp_lock_held, mp_lock_nowait;
