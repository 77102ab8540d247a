/*
 * watch_trail: the rotated files of the audit trail that a watch has not reached yet, found
 * in the trail's directory by the seq of their first record (cli_watch.c). It reads no
 * further than each file's first line.
 */
#ifndef VAULTFS_WATCH_TRAIL_H
#define VAULTFS_WATCH_TRAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A file the watch has open already, and so is not missed. */
struct watch_file_id {
	dev_t dev;
	ino_t ino;
};

/* A missed file, open for reading. */
struct watch_missed {
	uint64_t first; /* the seq of its first record */
	int fd;
};

/*
 * The regular files beside @path (DIR/audit.log) whose name starts with that of @path and
 * whose first record's seq is past @last_seq, other than @path itself and the @n_open
 * files of @open, in the order of their first records: *@ret (free()d by the caller after
 * closing each fd) and *@ret_n. @buf (AUDIT_LINE_MAX bytes) is scratch. A file that is
 * empty, compressed or not readable is not the trail's, and is left out. Returns 0 or
 * -errno (nothing open then).
 */
int watch_missed_files(const char *path, const struct watch_file_id *open, size_t n_open,
		       uint64_t last_seq, char *buf, struct watch_missed **ret, size_t *ret_n);

#endif
