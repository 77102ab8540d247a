/*
 * service: the mount daemon's side of systemd's service protocol (sd_notify(3)). Under a
 * unit of Type=notify it tells the
 * manager READY=1 once the mount answers, RELOADING=1 then READY=1 around a reload, and
 * STOPPING=1 when it stops. Without NOTIFY_SOCKET in the environment every call here does
 * nothing, so the daemon behaves the same outside systemd.
 */
#ifndef VAULTFS_SERVICE_H
#define VAULTFS_SERVICE_H

/*
 * Starts a thread that waits until the mount on @mountpoint (canonical) answers a request
 * — a stat(2) of its root, answered by the daemon's own workers — and then sends READY=1
 * with a STATUS line naming @dir and @mountpoint. Call it after the mount is made and
 * before the session loop starts: the stat waits in the kernel until a worker serves it.
 * If the session ends first, the stat fails and READY=1 is never sent. Returns 0 (also
 * when there is no NOTIFY_SOCKET: then no thread is started), or -errno.
 */
int service_ready_when_serving(const char *dir, const char *mountpoint);

/*
 * RELOADING=1 (with MONOTONIC_USEC) before a reload and READY=1 after it. Sent only while
 * the daemon is ready: a reload asked for before READY=1, or once stopping, sends nothing.
 * Called from one thread (the flusher's).
 */
void service_reloading(void);
void service_reloaded(void);

/* STOPPING=1, once, as the session loop has ended; nothing is sent after it. */
void service_stopping(void);

/* Joins the readiness thread. Call after the mount is unmounted, when its stat has an
 * answer whatever happened. Accepts being called when no thread was started. */
void service_end(void);

#endif
