/*
 * metrics: what the mount daemon tells Prometheus — the counts of its requests, its
 * audit trail and its token (counters.h), the events it notes itself (policy reloads, the
 * token lost and back, the trail's flushes), and the state of its mount ([limits] usage).
 *
 * They are written whole to [metrics] file of vaultfs.conf every [metrics] interval
 * seconds while the mount serves — a temporary file beside it, renamed over it, so that a
 * reader (node_exporter's textfile collector, `vaultfs status`) never sees half of one —
 * and the file is removed when the mount ends. It holds counts, the vault's directory and
 * the mount point: never a secret's name, a value or a PIN. It never changes the vault.
 */
#ifndef VAULTFS_METRICS_H
#define VAULTFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct vault;
struct vfs;
struct metrics;

/*
 * When [metrics] file is set: writes the file once, at once, and starts the thread that
 * rewrites it; a file that cannot be written is logged, never fatal to the mount. Returns
 * 0 with the writer in *ret (NULL when there is no file to write), or -errno.
 */
int metrics_start(struct vault *vault, struct vfs *vfs, const char *mountpoint,
		  struct metrics **ret);

/* Stops the writer and removes the file. Accepts NULL. */
void metrics_stop(struct metrics *m);

/* The daemon's own events. The policy in force has @rules rules: loaded at the mount
 * (@reload 0) or reloaded on change (1); a changed policy that was refused. */
void metrics_policy_loaded(size_t rules, int reload);
void metrics_policy_refused(void);
/* The token went away; it came back and was opened again. */
void metrics_token_lost(void);
void metrics_token_back(void);
/* One flush of the trail (vault_audit_flush's result @r) that took @us microseconds. */
void metrics_audit_flushed(int r, int64_t us);

/*
 * The metrics text for @vault mounted on @mountpoint through @vfs, in OpenMetrics 1.0 if
 * @openmetrics, else the Prometheus text format 0.0.4: malloc'ed in *ret (NUL-terminated).
 * Returns 0 or -ENOMEM.
 */
int metrics_render(struct vault *vault, struct vfs *vfs, const char *mountpoint, int openmetrics,
		   char **ret);

#endif
