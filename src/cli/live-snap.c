/* SPDX-License-Identifier: MIT */
/*
 * Where the live endpoint's fresh snapshots come from (live.h,
 * mp_live_snapshot): the shim's helper thread is asked through the trigger
 * protocol (common/trigger.h: a live request with a token) and answers with
 * "memprof.<pid>.<token>.live" in the snapshot directory, which is read and
 * removed here.  This file is the only one that knows how: a shim whose
 * tables the CLI can read directly would answer here without a request.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/live.h"
#include "cli/procstate.h"
#include "cli/snapshots.h"
#include "common/errmsg.h"
#include "common/mono.h"
#include "common/snapfile.h"
#include "common/snapshot-read.h"
#include "common/trigger.h"


/* Ring the doorbell of pid's helper thread with a live request `token`. */
static int ring(pid_t pid, uint32_t token)
{
	int bell = 0;
	pid_t tid = mp_snapshots_helper_thread(pid, &bell);
	siginfo_t si;

	if (tid == -ENOENT)
		return -ESRCH;
	if (tid < 0)
		return tid;
	if (tid == 0)
		return -ENOTCONN;
	mp_trigger_live_request(&si, bell, getpid(), getuid(), token);
	if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, bell, &si) < 0)
		return errno == ESRCH ? -ENOTCONN : -errno;
	return 0;
}

void mp_live_snapshot_clean(const char *snapdir, pid_t pid, uint32_t keep)
{
	DIR *d = opendir(snapdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		uint64_t fpid;
		uint32_t tok;
		char *path;

		if (mp_snapfile_parse(de->d_name, &fpid, &tok) != MP_SNAPFILE_LIVE ||
		    (pid && fpid != (uint64_t)pid) || (keep && tok == keep))
			continue;
		path = mp_snapshots_path(snapdir, MP_SNAPFILE_LIVE, (pid_t)fpid, tok, NULL);
		if (path)
			unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
}

int mp_live_snapshot(const char *snapdir, pid_t pid, unsigned timeout_ms, struct mp_snap **ret,
		     char **ret_err)
{
	static uint32_t last_token;
	char name[64], *path = NULL, *why = NULL;
	char evbuf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t deadline = mp_mono_ms() + timeout_ms;
	uint32_t token = ++last_token ? last_token : ++last_token;
	int ifd, r;

	if (!mp_snapfile_path(name, sizeof(name), NULL, MP_SNAPFILE_LIVE, (uint64_t)pid, token,
			      NULL) ||
	    !(path = mp_snapshots_path(snapdir, MP_SNAPFILE_LIVE, pid, token, NULL))) {
		mp_set_err(ret_err, "out of memory");
		return -ENOMEM;
	}
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, snapdir, IN_MOVED_TO) < 0) {
		r = -errno;
		mp_set_err(ret_err, "cannot watch the snapshot directory: %s", strerror(errno));
		goto out;
	}
	unsigned uid;
	if (mp_proc_cannot_write(pid, snapdir, &uid)) {
		/* (nginx's workers: root starts them, they become nobody) */
		r = -EACCES;
		mp_set_err(ret_err, "process %d runs as another user (uid %u) than memprof: it "
			   "cannot write its snapshot into memprof's directory", (int)pid, uid);
		goto out;
	}
	if (mp_proc_stopped(pid)) {
		/* Its helper cannot run: say so now, not after the timeout. */
		r = -EAGAIN;
		mp_set_err(ret_err, "process %d is stopped (SIGSTOP or a debugger): it answers once "
			   "continued", (int)pid);
		goto out;
	}
	r = ring(pid, token);
	if (r == -ENOTCONN) {
		mp_set_err(ret_err, "process %d has no memprof snapshot thread (it does not run "
			   "the shim, or has not started it yet)", (int)pid);
		goto out;
	}
	if (r < 0) {
		mp_set_err(ret_err, "cannot ask process %d for a snapshot: %s", (int)pid,
			   strerror(-r));
		goto out;
	}
	r = -ETIMEDOUT;
	while (access(path, F_OK) != 0) {
		uint64_t now = mp_mono_ms();
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };

		if (now >= deadline) {
			mp_set_err(ret_err, "process %d did not answer within %u ms", (int)pid,
				   timeout_ms);
			goto out;
		}
		/* At most 200 ms between looks at whether it still runs. */
		uint64_t wait = deadline - now < 200 ? deadline - now : 200;
		if (poll(&pfd, 1, (int)wait) > 0) {
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				;
			continue;
		}
		/* Gone or a zombie: it will write nothing more. */
		char st = mp_proc_state(pid);
		if ((st == 0 || st == 'Z' || st == 'X') && access(path, F_OK) != 0) {
			r = -ESRCH;
			mp_set_err(ret_err, "process %d has exited", (int)pid);
			goto out;
		}
		if (mp_proc_state_stopped(st) && access(path, F_OK) != 0) {
			r = -EAGAIN;
			mp_set_err(ret_err, "process %d was stopped (SIGSTOP or a debugger) before it "
				   "answered", (int)pid);
			goto out;
		}
	}
	r = mp_snap_read_file(path, ret, &why);
	if (r < 0)
		mp_set_err(ret_err, "cannot read the snapshot of process %d: %s", (int)pid,
			   why ? why : strerror(-r));
	unlink(path);
out:
	mp_live_snapshot_clean(snapdir, pid, 0);
	free(why);
	free(path);
	if (ifd >= 0)
		close(ifd);
	return r;
}
