/*
 * vault_record: the audit records of a vault's actions — one per access, allowed or
 * denied — written to the trail, and the identity an admin command records itself under.
 * A record that fails is an error for the caller to act on (fail closed), except for an
 * inspection on a full disk, which goes to the system log instead.
 */
#include "vault.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

/* With @inspection, a full disk leaves the record to the system log (returns 1). */
static int record(struct vault *v, const struct audit_event *ev, int inspection)
{
	struct audit_head head;
	int r;

	r = audit_append(v->audit, ev, &head);
	if (inspection && (r == -ENOSPC || r == -EDQUOT)) {
		/* the system log is kept elsewhere (journald, rsyslog): it says who looked */
		syslog(LOG_AUTHPRIV | LOG_WARNING,
		       "%s of vault \"%s\" by uid %u (pid %d) not recorded in its audit trail: "
		       "%s",
		       ev->op, v->dir, (unsigned)ev->uid, (int)ev->pid, strerror(-r));
		return 1;
	}
	if (r < 0) {
		/* the daemon's log says why; a command says it in its own one line */
		if (v->daemon)
			log_error("Failed to write an audit record to \"%s\": %s",
				  audit_path(v->audit), strerror(-r));
		else
			log_debug("audit record to \"%s\": %s", audit_path(v->audit), strerror(-r));
		return -EIO;
	}
	/* An admin command's records are on disk already (sync_each): the head follows at
	 * once. The daemon moves it forward every second instead (vault_audit_flush). */
	if (!v->daemon) {
		r = vault_head_store(v, &head);
		if (r < 0) /* the next record moves it on; verify reads past it meanwhile */
			log_debug("Failed to record the audit trail's head: %s", strerror(-r));
	}
	return 0;
}

int vault_record(struct vault *v, const struct audit_event *ev)
{
	return record(v, ev, 0);
}

int vault_record_inspection(struct vault *v, const struct audit_event *ev)
{
	return record(v, ev, 1);
}

void vault_admin_event(struct audit_event *ev, const char *op, char *exe, size_t exe_len,
		       char *cgroup, size_t cgroup_len)
{
	ssize_t n;
	FILE *f;

	memset(ev, 0, sizeof(*ev));
	ev->uid = getuid();
	ev->gid = getgid();
	ev->pid = getpid();
	ev->op = op;
	ev->allow = 1;
	ev->rule = "admin";
	n = readlink("/proc/self/exe", exe, exe_len - 1);
	if (n > 0) {
		exe[n] = '\0';
		ev->exe = exe;
	}
	f = fopen("/proc/self/cgroup", "re");
	if (f) {
		char line[PATH_MAX + 8];

		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "0::", 3) == 0) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(cgroup, cgroup_len, "%s", line + 3);
				ev->cgroup = cgroup;
			}
		}
		fclose(f);
	}
}
