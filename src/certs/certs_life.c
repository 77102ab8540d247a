/*
 * certs_life: a certificate's life after it is made (certs.h) — when it is due for
 * renewal, the state `cert list` shows, soft delete, recover and purge. Purge forgets
 * the certificate and its key in one transaction first and destroys the token objects
 * after: a token object the vault no longer names is harmless, a name whose object is
 * gone is not.
 */
#include "certs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_keys.h"
#include "timeutil.h"

int certs_renew_at_parse(const char *text, enum certs_renew_at *ret_kind, int64_t *ret_value)
{
	char *end = NULL;
	unsigned long n;

	if (!text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || !end || end[0] == '\0' || end[1] != '\0')
		return -EINVAL;
	if (end[0] == '%' && n >= 1 && n <= 99) {
		*ret_kind = CERTS_RENEW_PERCENT;
		*ret_value = (int64_t)n;
		return 0;
	}
	if (end[0] != '%' && time_parse_days(text, ret_value) == 0) {
		*ret_kind = CERTS_RENEW_DAYS;
		return 0;
	}
	return -EINVAL;
}

int64_t certs_renew_point(const struct certs_info *c)
{
	if (!c->current)
		return 0;
	switch (c->renew_kind) {
	case CERTS_RENEW_PERCENT:
		return c->not_before + (c->not_after - c->not_before) * c->renew_value / 100;
	case CERTS_RENEW_DAYS:
		return c->not_after - c->renew_value;
	default:
		return c->not_after - (int64_t)CERTS_WARN_DAYS * 86400;
	}
}

enum certs_state certs_state_of(const struct certs_info *c, int64_t now_s)
{
	if (!c->current)
		return CERTS_PENDING;
	if (c->not_after <= now_s)
		return CERTS_EXPIRED;
	if (certs_renew_point(c) <= now_s ||
	    c->not_after - (int64_t)CERTS_WARN_DAYS * 86400 <= now_s)
		return CERTS_EXPIRING;
	return CERTS_VALID;
}

const char *certs_state_name(enum certs_state st)
{
	switch (st) {
	case CERTS_PENDING:
		return "pending";
	case CERTS_VALID:
		return "valid";
	case CERTS_EXPIRING:
		return "expiring";
	case CERTS_EXPIRED:
		return "expired";
	}
	return "?";
}

int certs_delete(struct store *s, const char *name, int64_t now)
{
	return store_cert_set_deleted(s, name, now > 0 ? now : 1);
}

int certs_recover(struct store *s, const char *name)
{
	return store_cert_set_deleted(s, name, 0);
}

int certs_purge(struct store *s, struct hsm *h, const char *name)
{
	uint8_t(*ids)[STORE_KEY_ID_LEN] = NULL;
	size_t n = 0;
	int r, left = 0;

	r = store_cert_purge(s, name, &ids, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (hsm_key_destroy(h, ids[i]) < 0)
			left++;
	free(ids);
	return left;
}

struct due {
	struct store *s;
	int64_t now_s;
	certs_due_fn fn;
	void *userdata;
};

static int due_one(const char *name, int is_folder, void *userdata)
{
	struct due *d = userdata;
	struct certs_info c;

	(void)is_folder;
	/* one that cannot be read now is skipped: the next check sees it again */
	if (certs_get(d->s, name, 0, &c) < 0)
		return 0;
	if (c.renew_kind == CERTS_RENEW_NONE || c.pending || !c.current ||
	    certs_renew_point(&c) > d->now_s)
		return 0;
	return d->fn(name, &c, d->userdata);
}

int certs_due(struct store *s, int64_t now_s, certs_due_fn fn, void *userdata)
{
	struct due d = { s, now_s, fn, userdata };

	return store_cert_list(s, 0, due_one, &d);
}

/* @s seconds as --days and --renew-at take them: "30d", "12h", "90m" or "45s". */
const char *certs_duration(int64_t s, char *buf, size_t len)
{
	static const struct {
		int64_t unit;
		char c;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s % units[i].unit == 0 || units[i].unit == 1) {
			snprintf(buf, len, "%lld%c", (long long)(s / units[i].unit), units[i].c);
			break;
		}
	return buf;
}
