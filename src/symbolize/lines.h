/* SPDX-License-Identifier: MIT */
/*
 * One unit's line table (.debug_line, DWARF 2 to 5), read the way libdw
 * (elfutils 0.188, dwarf_getsrclines.c) reads it and looked up the way
 * dwarf_getsrc_die() looks up an address, without libdw's cost: libdw
 * keeps every row of every table it read (48 bytes a row, besides a
 * malloc'd 72-byte record per row while it reads: libpython's tables for
 * 3,000 addresses took 32 MiB) for as long as the file is open; this
 * keeps, per address, only the row a lookup can return (16 bytes), and
 * only for the units the caller still wants.
 *
 * Same answers: the file names are composed as libdw composes them (a
 * relative name joined to its directory entry, "???" for the missing file
 * 0 of DWARF 4), the rows are those libdw's sort puts last for each
 * address (an end of sequence before a row at the same address, otherwise
 * in the order the program emitted them), the last row is an end of
 * sequence, and a lookup returns the last row at or below the address
 * unless it ends a sequence.  Every check by which libdw rejects a table
 * rejects it here too; so does anything this reader does not handle
 * (string index forms, supplementary files, opcode_base 0, ...): the
 * caller then asks libdw, which answers as it always did.
 *
 * Pure logic on untrusted bytes: never reads outside the sections given;
 * fuzzed (tests/fuzz/fuzz-lines.c).  CLI only.
 */
#ifndef MP_SYMBOLIZE_LINES_H
#define MP_SYMBOLIZE_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the unit's table is (little-endian data). */
struct mp_lines_input {
	const unsigned char *line;        /* .debug_line */
	size_t line_len;
	const unsigned char *str;         /* .debug_str, or NULL */
	size_t str_len;
	const unsigned char *line_str;    /* .debug_line_str, or NULL */
	size_t line_str_len;
	uint64_t offset;                  /* the unit's DW_AT_stmt_list */
	const char *comp_dir;             /* its DW_AT_comp_dir, or NULL */
	unsigned address_size;            /* of the unit: 4 or 8 */
};

/* A row a lookup can return: one per address, ascending. */
struct mp_line_row {
	uint64_t addr;
	int32_t line;
	uint32_t file;                    /* index in files[], or: */
};

#define MP_LINE_END UINT32_MAX            /* the row ends a sequence */
#define MP_LINE_NO_FILE (UINT32_MAX - 1)  /* a file index past the table */

struct mp_lines {
	const char **files;               /* names as libdw gives them (pointing
					   * into the sections or owned) */
	size_t nfiles;
	const char **dirs;                /* directory entries; dirs[0] may be NULL
					   * (DWARF 4 without a compilation dir) */
	size_t ndirs;
	struct mp_line_row *rows;         /* NULL unless asked for */
	size_t nrows;
	char **owned;                     /* the names composed here */
	size_t nowned;
};

/*
 * Read the table at in->offset: its files and directories, and its rows
 * when `rows` is true.  Returns 0 and *ret (free with mp_lines_free),
 * -EBADMSG when libdw would reject the table or this reader does not
 * handle it (ask libdw then), -ENOMEM.
 */
int mp_lines_read(const struct mp_lines_input *in, bool rows, struct mp_lines **ret);

void mp_lines_free(struct mp_lines *l);   /* accepts NULL */

/* The row for address a (dwarf_getsrc_die's answer), or NULL. */
const struct mp_line_row *mp_lines_find(const struct mp_lines *l, uint64_t a);

#endif
