/* SPDX-License-Identifier: MIT */
/*
 * Opening a file the CLI reads (a profile, a snapshot) without waiting in
 * open(): a FIFO no one writes to would block it for ever.  CLI only.
 */
#ifndef MP_COMMON_OPEN_INPUT_H
#define MP_COMMON_OPEN_INPUT_H

/*
 * path opened for reading, close-on-exec, no controlling terminal, and
 * blocking again once open: a pipe (a shell's <(...)) is then read as it
 * comes, and a FIFO with no writer reads as empty.  The descriptor, or
 * -errno.
 */
int mp_open_input(const char *path);

#endif
