/* SPDX-License-Identifier: MIT */
/*
 * memprof: the command-line front end.  Dispatches `memprof COMMAND [ARGS]`
 * to the subcommands of commands.h and handles the options that belong to
 * no command (--help, --version).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/nofile.h"
#include "cli/supervise.h"

int mp_cli_exit_signal;

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run",     mp_cmd_run,     "run a program and write its heap profile" },
	{ "top",     mp_cmd_top,     "print the top entries of a pprof profile" },
	{ "convert", mp_cmd_convert, "turn a raw snapshot into a pprof heap profile" },
	{ "diff",    mp_cmd_diff,    "show what grew from one profile to another (like pprof -diff_base)" },
	{ "merge",   mp_cmd_merge,   "merge profiles into one, as pprof merges them" },
	{ "flame",   mp_cmd_flame,   "draw a profile as an interactive SVG flame graph" },
	{ "snapshot", mp_cmd_snapshot, "ask a running program for a snapshot now" },
	{ "attach", mp_cmd_attach, "profile a running process through eBPF" },
	{ "timeline", mp_cmd_timeline, "chart heap, RSS and live resources over snapshots" },
	{ "stats",   mp_cmd_stats,   "print the allocator statistics a profile carries" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fputs("Usage: memprof COMMAND [ARGS...]\n"
	      "       memprof help COMMAND\n"
	      "A sampling memory profiler for native Linux programs; profiles are pprof files.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -h, --help     show this help and exit\n"
	      "  -V, --version  show the version and exit\n"
	      "\n"
	      "'memprof COMMAND --help' describes a command; see also memprof(1).\n", f);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * Report a failed write to stdout (a full disk, a closed pipe under
 * SIGPIPE ignored) rather than exit 0 after losing output.
 */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "memprof: cannot write standard output: %s\n", strerror(errno));
		return status == 0 ? 1 : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	const char *name;
	int status;

	/* Our files are not bound by a program's ulimit -f (nofile.h). */
	mp_cli_fsize_raise();
	/* Under an address-space limit (ulimit -v), one malloc arena: glibc
	 * gives a thread that allocates beside another an arena of its own,
	 * 64 MiB of address space each (HEAP_MAX_SIZE), and memprof run's
	 * threads (conversion, compression, the early read) made a compile's
	 * profiles need 260 MB of it instead of 200. */
	struct rlimit as;
	if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
		mallopt(M_ARENA_MAX, 1);
	if (argc < 2) {
		fputs("memprof: missing command, see 'memprof --help'\n", stderr);
		return 2;
	}
	name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		usage(stdout);
		return finish(0);
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf("memprof %s\n", MP_VERSION);
		return finish(0);
	}
	if (strcmp(name, "help") == 0) {
		char *help_argv[] = { NULL, (char *)"--help", NULL };

		if (argc == 2) {
			usage(stdout);
			return finish(0);
		}
		if (argc > 3) {
			fputs("memprof: too many arguments, see 'memprof --help'\n", stderr);
			return 2;
		}
		cmd = find_command(argv[2]);
		if (!cmd) {
			fprintf(stderr, "memprof: unknown command '%s', see 'memprof --help'\n", argv[2]);
			return 2;
		}
		help_argv[0] = (char *)cmd->name;
		return finish(cmd->fn(2, help_argv));
	}
	if (name[0] == '-') {
		fprintf(stderr, "memprof: unknown option '%s', see 'memprof --help'\n", name);
		return 2;
	}
	cmd = find_command(name);
	if (!cmd) {
		fprintf(stderr, "memprof: unknown command '%s', see 'memprof --help'\n", name);
		return 2;
	}
	status = finish(cmd->fn(argc - 1, argv + 1));
	if (mp_cli_exit_signal && status == 128 + mp_cli_exit_signal)
		mp_supervise_die_by(mp_cli_exit_signal);
	return status;
}
