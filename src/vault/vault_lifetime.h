/*
 * vault_lifetime: the vault's lifetime engine. One run rotates the keys whose
 * --rotate-every has come due, and records an "expiring" warning, at most once per object
 * per UTC day, for every secret and key that expires within [lifetime] warn_days or has
 * expired. A mounted vault runs it when it mounts and then every [lifetime] interval
 * (src/cli/daemon.c); every change it makes is a recorded operation under the rule
 * "lifetime".
 *
 * The run is a list of checkers, one per kind of object (checkers[] in vault_lifetime.c):
 * another kind joins with one line there and a function of type vault_lifetime_check_fn,
 * which may use vault_lifetime_warn and vault_lifetime_event.
 */
#ifndef VAULTFS_VAULT_LIFETIME_H
#define VAULTFS_VAULT_LIFETIME_H

#include <limits.h>
#include <stdint.h>

#include "audit.h"
#include "vault.h"

/* The rule that the engine's records name. */
#define VAULT_LIFETIME_RULE "lifetime"

/* What one run did. */
struct vault_lifetime_counts {
	unsigned rotated; /* keys rotated */
	unsigned warned; /* "expiring" warnings recorded */
	unsigned failed; /* objects whose check or change failed (logged; retried next run) */
};

/* Where an expiry stands at a time, given how many days ahead warnings start. */
enum vault_expiry {
	VAULT_EXPIRY_NONE, /* no expiry */
	VAULT_EXPIRY_VALID,
	VAULT_EXPIRY_EXPIRING, /* within the warning days */
	VAULT_EXPIRY_EXPIRED,
};

/* The state of expiry @expires (us; 0: none) at @now (us) with @warn_days. */
enum vault_expiry vault_expiry_state(int64_t expires, int64_t now, unsigned warn_days);
/* "valid", "expiring", "expired" ("valid" for NONE too). */
const char *vault_expiry_name(enum vault_expiry e);

/* One kind of object's check: 0, or -errno when it could not check at all (the run goes on
 * with the other kinds). Each change or warning goes into @c. */
typedef int (*vault_lifetime_check_fn)(struct vault *v, int64_t now,
				       struct vault_lifetime_counts *c);

/*
 * Runs every checker at @now (us). Returns 0 when every checker ran (failures of single
 * objects are counted in ret->failed), or the first checker's -errno after running the
 * others. *@ret holds what was done either way.
 */
int vault_lifetime_run(struct vault *v, int64_t now, struct vault_lifetime_counts *ret);

/*
 * For checkers: records the warning "expiring" for the object at @path ("secrets/x",
 * "keys/k") whose expiry is @expires (us), if it is within warn_days of @now or past,
 * and it was not warned yet on @now's UTC day; counted in @c. Returns 1 if recorded, 0
 * if not needed, or -errno.
 */
int vault_lifetime_warn(struct vault *v, const char *path, int64_t expires, int64_t now,
			struct vault_lifetime_counts *c);

/* A record of the engine: @op on @path, by this process, under VAULT_LIFETIME_RULE. */
struct vault_lifetime_event {
	struct audit_event ev;
	char exe[PATH_MAX], cgroup[PATH_MAX];
};
void vault_lifetime_event(struct vault_lifetime_event *e, const char *op, const char *path);

#endif
