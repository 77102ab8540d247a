/*
 * mount_check: what `vaultfs mount` tells an operator about the device and the mount
 * helper, in one line on the terminal rather than in libfuse's words or only in the log:
 * /dev/fuse that this user cannot open, checked before anything is forked or made; and
 * what fusermount3 (or libfuse) said when the mount itself failed; and what the daemon
 * must say of the policy it loads.
 */
#ifndef VAULTFS_MOUNT_CHECK_H
#define VAULTFS_MOUNT_CHECK_H

#include <stddef.h>

/*
 * Opens /dev/fuse as libfuse will, and closes it: 0, or -errno with one line in @err
 * naming the device, the reason and what to do (run as root, give users the device as
 * Debian does, load the module).
 */
int mount_check_fuse_device(char *err, size_t errlen);

/* Standard error, sent to a memory file while the mount is made (capture_start) and put
 * back (capture_end). */
struct stderr_capture {
	int saved; /* the real stderr, duplicated; -1 when nothing is captured */
	int fd; /* the memory file */
};

/*
 * Sends what this process and the children it starts (fusermount3) write to stderr into
 * a memory file until capture_end. When that cannot be done, nothing is captured and the
 * mount goes on as before: this is for the words of an error, not for its detection.
 */
void capture_start(struct stderr_capture *c);

/*
 * Puts stderr back. The captured lines of libfuse and of its mount helper ("fuse: ...",
 * "fusermount3: ...") go into @why, joined by "; " (empty when there were none); every
 * other line is written to stderr as it came, so nothing another thread logged meanwhile
 * is lost. If something else made a new stderr meanwhile (a log reopened), that one stays.
 */
void capture_end(struct stderr_capture *c, char *why, size_t whylen);

struct policy;

/*
 * What an operator must hear of a policy that loaded: each name NSS does not know, and
 * exe= rules that this daemon cannot check for the callers it serves (it lacks
 * CAP_SYS_PTRACE, and @serves_others: it mounts with allow_other). One line each, named
 * by DIR's policy file (@dir/policy:LINE), to @say: the log, and at start the terminal.
 */
void mount_check_policy(const struct policy *p, const char *dir, int serves_others,
			void (*say)(const char *msg));

#endif
