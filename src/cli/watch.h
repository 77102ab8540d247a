/*
 * watch: tells when a policy file changes. A thread watches the file's directory with
 * inotify, so that an edit in place, a new file renamed over it (as editors and config
 * managers do) and a file deleted and made again are all seen; a burst of events becomes
 * one call, made at most 100 ms after the last of them.
 */
#ifndef VAULTFS_WATCH_H
#define VAULTFS_WATCH_H

struct policy_watch;

/* Calls @changed(@userdata) from the watch thread whenever @dir/@name may have changed. */
int policy_watch_start(const char *dir, const char *name, void (*changed)(void *userdata),
		       void *userdata, struct policy_watch **ret);

/* Stops the thread and waits for it. Accepts NULL. */
void policy_watch_stop(struct policy_watch *w);

#endif
