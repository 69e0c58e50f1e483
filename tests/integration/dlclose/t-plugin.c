/* SPDX-License-Identifier: MIT */
/*
 * A plugin for t-dlclose: one allocating function, named by PLUGIN_FN at
 * build time, whose frame is FRAME bytes (8 or another multiple of 16 plus
 * 8, below 128).  Its call to malloc returns to the same offset whatever
 * FRAME is: plugins built from this file with the same FRAME are the same
 * code (a stack through one is, address for address, a stack through
 * another loaded at the same place), and with another FRAME they unwind
 * differently from the very same return address.
 */
#include <stdlib.h>

#define STR_(x) #x
#define STR(x) STR_(x)

__asm__(".text\n"
	".globl " STR(PLUGIN_FN) "\n"
	".type " STR(PLUGIN_FN) ", @function\n"
	STR(PLUGIN_FN) ":\n"
	"\t.cfi_startproc\n"
	"\tsubq $" STR(FRAME) ", %rsp\n"     /* 4 bytes for any FRAME < 128 */
	"\t.cfi_adjust_cfa_offset " STR(FRAME) "\n"
	"\tcall malloc@PLT\n"
	"\taddq $" STR(FRAME) ", %rsp\n"
	"\t.cfi_adjust_cfa_offset -" STR(FRAME) "\n"
	"\tret\n"
	"\t.cfi_endproc\n"
	".size " STR(PLUGIN_FN) ", .-" STR(PLUGIN_FN) "\n");
