/*
 * service: sd_notify(3) for the mount daemon.
 *
 * READY=1 must mean that the mount answers, not that it was made: a consumer ordered
 * After= this unit reads secrets at once. So a thread of the daemon stats the mount's
 * root and sends READY=1 only when that stat has come back, served by the daemon's own
 * workers. The thread blocks every signal, so that SIGTERM or SIGHUP never interrupt its
 * stat; an unmount ends the stat, and the thread with it.
 *
 * It goes through libsystemd rather than a socket client of its own: the protocol has
 * details (abstract socket names, credentials, the socket's buffer) that sd_notify keeps
 * right across systemd versions. It never sends anything but states and paths.
 */
#include "service.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "timeutil.h"

/*
 * What the manager was last told. STARTING → READY (the mount answered) ⇄ RELOADING,
 * and any of them → STOPPING, which is final.
 */
enum service_state { SERVICE_STARTING, SERVICE_READY, SERVICE_RELOADING, SERVICE_STOPPING };

static struct {
	pthread_mutex_t lock;
	enum service_state state; /* protected by lock */
	int thread_started; /* the daemon's main thread only */
	pthread_t thread;
	char status[2 * PATH_MAX + 32]; /* written before the thread starts, then read-only */
	char mountpoint[PATH_MAX]; /* likewise */
} svc = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Sends @msg if the state is @from, and moves to @to; with @from < 0, from any state but
 * STOPPING. Returns 1 if sent. */
static int notify_if(int from, enum service_state to, const char *msg)
{
	int sent = 0, r;

	pthread_mutex_lock(&svc.lock);
	if (svc.state != SERVICE_STOPPING && (from < 0 || (int)svc.state == from)) {
		r = sd_notify(0, msg);
		if (r < 0)
			log_warn("Failed to notify the service manager: %s", strerror(-r));
		svc.state = to;
		sent = 1;
	}
	pthread_mutex_unlock(&svc.lock);
	return sent;
}

static void *probe_main(void *arg)
{
	struct stat st;
	char msg[sizeof(svc.status) + 16];

	(void)arg;
	/* waits in the kernel until a worker answers; fails once the session has ended
	 * (ENOTCONN, ENODEV, ECONNABORTED). Any other answer, a refusal included, came
	 * from the daemon. */
	if (stat(svc.mountpoint, &st) < 0 &&
	    (errno == ENOTCONN || errno == ENODEV || errno == ECONNABORTED)) {
		log_debug("the mount ended before it answered: not ready");
		return NULL;
	}
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", svc.status);
	if (notify_if(SERVICE_STARTING, SERVICE_READY, msg))
		log_debug("the mount answers: told the service manager READY=1");
	return NULL;
}

int service_ready_when_serving(const char *dir, const char *mountpoint)
{
	sigset_t all, old;
	int r;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	if (strlen(mountpoint) >= sizeof(svc.mountpoint))
		return -ENAMETOOLONG;
	strcpy(svc.mountpoint, mountpoint);
	snprintf(svc.status, sizeof(svc.status), "Serving %s on %s", dir, mountpoint);
	/* the thread inherits the mask: no signal is ever delivered to it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&svc.thread, NULL, probe_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		svc.thread_started = 1;
	return r;
}

void service_reloading(void)
{
	char msg[64];

	/* MONOTONIC_USEC ties the reload to this moment (systemd 253's Type=notify-reload
	 * asks for it; older managers ignore it) */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)time_mono_us());
	notify_if(SERVICE_READY, SERVICE_RELOADING, msg);
}

void service_reloaded(void)
{
	char msg[sizeof(svc.status) + 16];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", svc.status);
	notify_if(SERVICE_RELOADING, SERVICE_READY, msg);
}

void service_stopping(void)
{
	notify_if(-1, SERVICE_STOPPING, "STOPPING=1\nSTATUS=Stopping");
}

void service_end(void)
{
	if (!svc.thread_started)
		return;
	pthread_join(svc.thread, NULL);
	svc.thread_started = 0;
}
