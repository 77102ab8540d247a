/*
 * mount_args: what `vaultfs mount` is told — DIR, MOUNTPOINT, -f and the -o list, parsed
 * with getopt and libfuse's own option parser — and the worker threads it runs by default.
 */
#ifndef VAULTFS_MOUNT_ARGS_H
#define VAULTFS_MOUNT_ARGS_H

struct mount_opts {
	const char *dir;
	const char *mountpoint;
	int foreground;
	int debug;
	unsigned threads;
	int cleaned_dead; /* a dead mount on the mount point was unmounted first */
	char fuse_opts[1024];
};

/* Twice the cores (2 to 32 counted), for -o threads=N's default. */
unsigned mount_default_threads(void);

/* The options and DIR MOUNTPOINT into @o: -1 to go on, or the command's exit status (0
 * after --help, a usage error). */
int mount_parse_args(int argc, char **argv, struct mount_opts *o);

#endif
