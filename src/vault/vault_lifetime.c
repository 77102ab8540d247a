/*
 * vault_lifetime: the lifetime engine (vault_lifetime.h) — a list of checkers, each going
 * through one kind of object, changing and warning through the recorded operations of
 * vault_ops.c.
 */
#include "vault_lifetime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "names.h"
#include "vault_certs.h"
#include "vault_ops.h"

#define US_PER_S 1000000LL
#define US_PER_DAY (86400LL * US_PER_S)

enum vault_expiry vault_expiry_state(int64_t expires, int64_t now, unsigned warn_days)
{
	if (expires <= 0)
		return VAULT_EXPIRY_NONE;
	if (now >= expires)
		return VAULT_EXPIRY_EXPIRED;
	if (expires - now <= (int64_t)warn_days * US_PER_DAY)
		return VAULT_EXPIRY_EXPIRING;
	return VAULT_EXPIRY_VALID;
}

const char *vault_expiry_name(enum vault_expiry e)
{
	switch (e) {
	case VAULT_EXPIRY_EXPIRING:
		return "expiring";
	case VAULT_EXPIRY_EXPIRED:
		return "expired";
	default:
		return "valid";
	}
}

void vault_lifetime_event(struct vault_lifetime_event *e, const char *op, const char *path)
{
	vault_admin_event(&e->ev, op, e->exe, sizeof(e->exe), e->cgroup, sizeof(e->cgroup));
	e->ev.path = path;
	e->ev.rule = VAULT_LIFETIME_RULE;
}

int vault_lifetime_warn(struct vault *v, const char *path, int64_t expires, int64_t now,
			struct vault_lifetime_counts *c)
{
	enum vault_expiry e = vault_expiry_state(expires, now, v->cfg->warn_days);
	struct vault_lifetime_event le;
	struct vault_act a;
	int r;

	if (e != VAULT_EXPIRY_EXPIRING && e != VAULT_EXPIRY_EXPIRED)
		return 0;
	vault_lifetime_event(&le, "expiring", path);
	le.ev.detail = vault_expiry_name(e);
	vault_act_init(&a, &le.ev);
	/* days since the epoch in UTC: "once a day" is the same day for every process */
	r = vault_warn_expiring(v, &a, now / US_PER_DAY);
	if (r < 0) {
		log_warn("Lifetime: cannot record the expiry warning of \"%s\": %s", path,
			 strerror(-r));
		c->failed++;
		return r;
	}
	if (r > 0) {
		c->warned++;
		counters_add(COUNTER_EXPIRY_WARNINGS, 1);
	}
	return r;
}

/* Names collected first: a change is not made while a listing statement is open. */
struct names {
	char **v;
	int64_t *expires;
	size_t n, cap;
};

static int names_add(struct names *l, const char *name, int64_t expires)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		int64_t *e;

		if (!v)
			return -ENOMEM;
		l->v = v;
		e = realloc(l->expires, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->expires = e;
		l->cap = cap;
	}
	l->v[l->n] = strdup(name);
	if (!l->v[l->n])
		return -ENOMEM;
	l->expires[l->n++] = expires;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->expires);
}

static int add_key(const char *name, int is_folder, void *userdata)
{
	(void)is_folder;
	return names_add(userdata, name, 0);
}

static int add_secret(const char *path, int64_t expires, void *userdata)
{
	return names_add(userdata, path, expires);
}

/* Rotates key @name if its period has passed since its current version was made. */
static void rotate_if_due(struct vault *v, const char *name, const struct store_key *k,
			  const char *path, int64_t now, struct vault_lifetime_counts *c)
{
	struct vault_lifetime_event le;
	struct store_key_version cur;
	struct vault_act a;
	uint64_t version = 0;
	int r;

	/* an expired key no longer signs: a new version of it would serve nobody */
	if (!k->rotate_every || (k->expires && now >= k->expires))
		return;
	r = store_key_version_get(v->store, name, 0, &cur);
	if (r < 0) {
		c->failed++;
		return;
	}
	store_key_version_clear(&cur);
	if (now < cur.created + k->rotate_every * US_PER_S)
		return;
	vault_lifetime_event(&le, "key-rotate", path);
	vault_act_init(&a, &le.ev);
	r = vault_key_rotate(v, &a, name, &version);
	if (r < 0) {
		log_warn("Lifetime: cannot rotate key \"%s\": %s", name, strerror(-r));
		c->failed++;
		return;
	}
	log_info("Lifetime: key \"%s\" rotated to version %llu", name, (unsigned long long)version);
	c->rotated++;
	counters_add(COUNTER_LIFETIME_ROTATIONS, 1);
}

static int check_keys(struct vault *v, int64_t now, struct vault_lifetime_counts *c)
{
	struct names l = { 0 };
	char path[NAME_SEGMENT_MAX + 8];
	int r;

	r = store_key_list(v->store, 0, add_key, &l);
	for (size_t i = 0; r >= 0 && i < l.n; i++) {
		struct store_key k;

		if (store_key_get(v->store, l.v[i], &k) < 0)
			continue; /* deleted since it was listed */
		snprintf(path, sizeof(path), "keys/%s", l.v[i]);
		rotate_if_due(v, l.v[i], &k, path, now, c);
		if (k.expires)
			(void)vault_lifetime_warn(v, path, k.expires, now, c);
	}
	names_free(&l);
	return r < 0 ? r : 0;
}

static int check_secrets(struct vault *v, int64_t now, struct vault_lifetime_counts *c)
{
	struct names l = { 0 };
	char path[NAME_PATH_MAX + 16];
	int r;

	r = store_secret_expiring(v->store, now + (int64_t)v->cfg->warn_days * US_PER_DAY,
				  add_secret, &l);
	for (size_t i = 0; r >= 0 && i < l.n; i++) {
		snprintf(path, sizeof(path), "secrets/%s", l.v[i]);
		(void)vault_lifetime_warn(v, path, l.expires[i], now, c);
	}
	names_free(&l);
	return r < 0 ? r : 0;
}

/* Certificates: renewed at their renew-at point (vault_certs_lifetime), and warned of as
 * they near their not-after. */
static int check_certs(struct vault *v, int64_t now, struct vault_lifetime_counts *c)
{
	struct names l = { 0 };
	char path[NAME_SEGMENT_MAX + 8];
	unsigned renewed = 0, pending = 0;
	int r;

	r = vault_certs_lifetime(v, now, &renewed, &pending);
	if (r < 0)
		c->failed++; /* each failure is logged with its certificate's name */
	c->rotated += renewed + pending;
	r = certs_list(v->store, 0, add_key, &l);
	for (size_t i = 0; r >= 0 && i < l.n; i++) {
		struct certs_info ci;

		if (certs_get(v->store, l.v[i], 0, &ci) < 0 || !ci.current)
			continue;
		snprintf(path, sizeof(path), "certs/%s", l.v[i]);
		(void)vault_lifetime_warn(v, path, ci.not_after * 1000000, now, c);
	}
	names_free(&l);
	return r < 0 ? r : 0;
}

/* Every kind of object with a lifetime: a new kind is one line here. */
static const struct {
	const char *what;
	vault_lifetime_check_fn check;
} checkers[] = {
	{ "keys", check_keys },
	{ "secrets", check_secrets },
	{ "certificates", check_certs },
};

int vault_lifetime_run(struct vault *v, int64_t now, struct vault_lifetime_counts *ret)
{
	struct vault_lifetime_counts c = { 0 };
	int r = 0;

	for (size_t i = 0; i < sizeof(checkers) / sizeof(checkers[0]); i++) {
		int cr = checkers[i].check(v, now, &c);

		if (cr < 0) {
			log_warn("Lifetime: cannot check %s: %s", checkers[i].what, strerror(-cr));
			if (r == 0)
				r = cr;
		}
	}
	*ret = c;
	return r;
}
