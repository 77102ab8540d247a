/*
 * vault_head: the audit trail's head kept in vault.db, and the tag that vouches for it.
 *
 * verify requires the trail to reach the head the vault stored, so that a cut tail is
 * found. The head lives in a database anyone who can write the vault's files can edit;
 * the tag, an HMAC the token computes under the vault's head key, makes a head written
 * without the token fail. The head key's presence in the token says that heads are
 * tagged: it is made, and the head found then tagged, the first time a vault from before
 * tags is opened, so removing the tag from vault.db is no way back to an untagged head.
 *
 * A writer never moves the head on from one whose tag does not hold: that would launder
 * a rewritten head into a valid one. The tag this process last stored or checked is
 * remembered, so the common case — the head is the one this process wrote — costs one
 * token HMAC per head stored, and a head written by another process one more to check it.
 * It cannot tell an older head with its own valid tag put back (with the trail cut back
 * to it): the token keeps no count of its own (README: the head kept in vault.db).
 */
#include "vault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

struct head_update {
	struct vault *v;
	const struct audit_head *head;
	int made_key; /* vault_head_open: the key was made in this transaction */
};

/* 1 if @a's tag holds, 0 if not, or -errno. */
static int head_holds(struct vault *v, const struct store_anchor *a)
{
	struct audit_head h = { .seq = a->seq };
	uint8_t tag[AUDIT_MAC_LEN];
	int r;

	if (!a->tagged)
		return 0;
	pthread_mutex_lock(&v->head_lock);
	r = v->head_known && CRYPTO_memcmp(v->head_tag, a->tag, AUDIT_MAC_LEN) == 0;
	pthread_mutex_unlock(&v->head_lock);
	if (r)
		return 1;
	memcpy(h.mac, a->mac, AUDIT_MAC_LEN);
	r = audit_head_tag(v->hsm, v->head_key, store_vault_id(v->store), &h, tag);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(tag, a->tag, AUDIT_MAC_LEN) != 0)
		return 0;
	pthread_mutex_lock(&v->head_lock);
	memcpy(v->head_tag, a->tag, AUDIT_MAC_LEN);
	v->head_known = 1;
	pthread_mutex_unlock(&v->head_lock);
	return 1;
}

/* The anchor for @head, tagged in the token; remembered as this process's last. */
static int head_tagged(struct vault *v, const struct audit_head *head, struct store_anchor *ret)
{
	int r;

	ret->seq = head->seq;
	memcpy(ret->mac, head->mac, AUDIT_MAC_LEN);
	r = audit_head_tag(v->hsm, v->head_key, store_vault_id(v->store), head, ret->tag);
	if (r < 0)
		return r;
	ret->tagged = 1;
	pthread_mutex_lock(&v->head_lock);
	memcpy(v->head_tag, ret->tag, AUDIT_MAC_LEN);
	v->head_known = 1;
	pthread_mutex_unlock(&v->head_lock);
	return 1;
}

int vault_head_next(struct vault *v, const struct store_anchor *cur, const struct audit_head *head,
		    struct store_anchor *ret)
{
	int r;

	if (head->seq <= cur->seq)
		return 0; /* never back; an equal seq is the same head or one verify must see */
	r = head_holds(v, cur);
	if (r <= 0) {
		if (r == 0)
			log_debug("The trail's head in vault.db (seq %llu) fails its tag: left as "
				  "it is",
				  (unsigned long long)cur->seq);
		return r;
	}
	return head_tagged(v, head, ret);
}

static int store_hook(void *userdata, uint64_t version, const struct store_anchor *cur,
		      struct store_anchor *ret)
{
	struct head_update *u = userdata;

	(void)version;
	return vault_head_next(u->v, cur, u->head, ret);
}

int vault_head_store(struct vault *v, const struct audit_head *head)
{
	struct head_update u = { .v = v, .head = head };

	return store_anchor_update(v->store, store_hook, &u);
}

int vault_head_check(struct vault *v, const struct store_anchor *a)
{
	int r = head_holds(v, a);

	return r < 0 ? r : r ? 0 : -EBADMSG;
}

int vault_head_stored(void *userdata, struct audit_head *ret)
{
	struct vault *v = userdata;
	struct store_anchor a;
	int r;

	r = store_anchor_get(v->store, &a);
	if (r >= 0)
		r = vault_head_check(v, &a);
	if (r < 0)
		return r;
	ret->seq = a.seq;
	memcpy(ret->mac, a.mac, AUDIT_MAC_LEN);
	return 0;
}

/*
 * In one write transaction, so that two processes opening the same old vault make one
 * key between them: the second finds the first's key once the first has committed.
 */
static int open_hook(void *userdata, uint64_t version, const struct store_anchor *cur,
		     struct store_anchor *ret)
{
	struct head_update *u = userdata;
	struct vault *v = u->v;
	char label[HSM_TOKEN_LABEL_MAX + 1];
	struct audit_head h = { .seq = cur->seq };
	int r;

	(void)version;
	audit_head_key_label(store_vault_id(v->store), label, sizeof(label));
	r = hsm_key_find(v->hsm, label, &v->head_key);
	if (r != -ENOKEY)
		return r;
	r = hsm_mac_key_create(v->hsm, label, &v->head_key);
	if (r < 0)
		return r;
	u->made_key = 1;
	/* the head found now is trusted as it is: a vault from before tags had nothing else */
	memcpy(h.mac, cur->mac, AUDIT_MAC_LEN);
	return head_tagged(v, &h, ret);
}

int vault_head_open(struct vault *v, char *err, size_t errlen)
{
	struct head_update u = { .v = v };
	char label[HSM_TOKEN_LABEL_MAX + 1];
	int r;

	audit_head_key_label(store_vault_id(v->store), label, sizeof(label));
	r = hsm_key_find(v->hsm, label, &v->head_key);
	if (r == -ENOKEY) {
		r = store_anchor_update(v->store, open_hook, &u);
		if (r == 0 && u.made_key)
			log_debug("Made the head key \"%s\" in the token", label);
	}
	if (r < 0)
		snprintf(err, errlen, "the token's head key \"%s\": %s", label, strerror(-r));
	return r;
}

int vault_verify_trail(struct vault *v, struct store_anchor *ret_stored, int *ret_head_ok,
		       struct audit_report *ret, char *err, size_t errlen)
{
	struct store_anchor stored;
	struct audit_head anchor = { 0 };
	int r, head_ok = 0;

	r = store_anchor_get(v->store, &stored);
	if (r >= 0) {
		r = vault_head_check(v, &stored);
		head_ok = r == 0;
		if (r == -EBADMSG)
			r = 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read the vault's audit head: %s", strerror(-r));
		return r;
	}
	if (head_ok) {
		anchor.seq = stored.seq;
		memcpy(anchor.mac, stored.mac, AUDIT_MAC_LEN);
	}
	r = audit_verify(v->dir, v->hsm, v->audit_key, &anchor, ret);
	if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	*ret_stored = stored;
	*ret_head_ok = head_ok;
	return 0;
}
