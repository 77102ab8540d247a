/*
 * caller: who is behind a request. uid, gid and pid come with the request; supplementary
 * groups, the cgroup v2 path and the executable are read from /proc only when a rule
 * needs them, once per request, through a descriptor that keeps naming the task that made
 * the request, and only if that task's filesystem uid and gid are the request's. Anything
 * that cannot be read that way stays unknown (and policy fails closed on it).
 *
 * The executable's path is the link text of /proc/PID/exe: the path in the task's own
 * mount namespace, where a private bind mount can put any file at any path. It is
 * verified — the same path, looked up in the daemon's namespace, leads to the file the
 * task runs (same device and inode) — or marked as not verified, and then exe= cannot be
 * checked for it.
 */
#ifndef VAULTFS_CALLER_H
#define VAULTFS_CALLER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define CALLER_GROUPS_MAX 256
#define CALLER_CGROUP_MAX 1024
/* Follows the path in c->exe, and so in the audit record, when it is not verified. */
#define CALLER_EXE_UNVERIFIED " (unverified: not the file at this path)"
#define CALLER_EXE_MAX (PATH_MAX + sizeof(CALLER_EXE_UNVERIFIED))

/* what has been read (or set by a test or `policy explain`) */
#define CALLER_HAVE_GROUPS 0x1
#define CALLER_HAVE_CGROUP 0x2
#define CALLER_HAVE_EXE 0x4

struct caller {
	uid_t uid;
	gid_t gid;
	pid_t pid; /* 0: the kernel, or another pid namespace: nothing that needs identity */
	unsigned have; /* CALLER_HAVE_* read successfully */
	unsigned tried; /* CALLER_HAVE_* attempted */
	gid_t groups[CALLER_GROUPS_MAX];
	size_t ngroups;
	char cgroup[CALLER_CGROUP_MAX];
	char exe[CALLER_EXE_MAX];
	/* 1: the path in exe (then followed by CALLER_EXE_UNVERIFIED) does not lead, in the
	 * daemon's mount namespace, to the file the task runs. Set by reading /proc only: an
	 * exe given by `policy explain` or a test is taken as it is. */
	int exe_unverified;
	const char *proc; /* NULL: "/proc" */
	/* May be answered from what was read for the same task within the last second:
	 * set only where a decision shows something (visibility, modes) and does nothing. */
	int recent_ok;
};

/* A caller with the request's identity; nothing read yet. */
void caller_init(struct caller *c, uid_t uid, gid_t gid, pid_t pid);

/* Reads what @need asks for (CALLER_HAVE_*) that was not tried yet. Never fails: what
 * cannot be read stays out of c->have. Every read is remembered for c->recent_ok callers. */
void caller_load(struct caller *c, unsigned need);

/* Whether @gid is the caller's primary or one of its supplementary groups (loads them). */
int caller_in_group(struct caller *c, gid_t gid);

/*
 * Whether the calling task is on its way out: 0 while it lives, 1 and its exit code in
 * *ret_code (wait(2)'s status: a signal's number in the low 7 bits, or the status << 8)
 * once it exits — as it is while the kernel closes its files for it. -errno when that
 * cannot be told (no pid, /proc not readable, the task gone).
 */
int caller_exit_code(const struct caller *c, int *ret_code);

/*
 * Whether the calling task is a set-user-ID root program acting for its user — effective
 * uid 0, real uid and filesystem uid the caller's (not 0) — as fusermount3 is while it
 * decides whether that user may mount on a path: 1, 0, or -errno when that cannot be told
 * (no pid, the task gone, its status not the caller's).
 */
int caller_setuid_root(const struct caller *c);

/*
 * Whether this process can read the executable of any caller: /proc/PID/exe of a task of
 * another uid, or of one that is not dumpable (a set-user-ID program), is readable only
 * with CAP_SYS_PTRACE (ptrace(2)'s access mode check), and without it exe= cannot be
 * checked for such a caller. 1 when CAP_SYS_PTRACE is in the effective set, 0 when not,
 * -errno when that cannot be told.
 */
int caller_exe_readable(void);

#endif
