/* SPDX-License-Identifier: MIT */
/* The recursion guard (see guard.h). */
#include "base/guard.h"

MP_TLS int mp_busy;
