/* SPDX-License-Identifier: MIT */
/*
 * Subcommands of the memprof CLI.  Each takes the argv that follows the
 * command word (argv[0] is the command name, e.g. "top") and returns the
 * process exit status: 0 success, 1 runtime failure, 2 bad usage; `run`
 * returns the target's status.
 */
#ifndef MP_CLI_COMMANDS_H
#define MP_CLI_COMMANDS_H

int mp_cmd_run(int argc, char **argv);      /* cmd-run.c */
int mp_cmd_top(int argc, char **argv);      /* cmd-top.c */
int mp_cmd_convert(int argc, char **argv);  /* cmd-convert.c */
int mp_cmd_diff(int argc, char **argv);     /* cmd-diff.c */
int mp_cmd_merge(int argc, char **argv);    /* cmd-merge.c */
int mp_cmd_flame(int argc, char **argv);    /* cmd-flame.c */
int mp_cmd_snapshot(int argc, char **argv); /* cmd-snapshot.c */
int mp_cmd_timeline(int argc, char **argv); /* cmd-timeline.c */
int mp_cmd_attach(int argc, char **argv);   /* cmd-attach.c */
int mp_cmd_stats(int argc, char **argv);    /* cmd-stats.c */

/* Set by `run` when its program died by this signal and the status it
 * returns is 128+N for it: main() then ends memprof by the same signal
 * once standard output is flushed (mp_supervise_die_by, supervise.h).
 * 0: exit with the status returned. */
extern int mp_cli_exit_signal;

#endif
