/*
 * vault: init and open of a vault directory.
 *
 * init never overwrites: it refuses a directory holding any vault file and, if it fails
 * half-way, removes exactly what it made. The embedded token's PIN is random, written
 * once to DIR/pin (0400) and never printed, logged or passed to a child process.
 */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "fdio.h"
#include "log.h"
#include "timeutil.h"
#include "vault_ops.h"
#include "vault_token.h"

static const char *const vault_files[] = {
	CONFIG_FILE, VAULT_DB,		 VAULT_POLICY, VAULT_AUDIT,
	VAULT_PIN,   VAULT_SOFTHSM_CONF, VAULT_TOKENS,
};

static const char default_policy[] =
	"# vaultfs policy: one rule a line, '#' starts a comment.\n"
	"#\n"
	"# effect  operations   path                  who\n"
	"# allow   read         secrets/db-conn       uid=1001\n"
	"# allow   read,list    secrets/payments/**   cgroup=/system.slice/payments.service\n"
	"# allow   write        secrets/**            group=secops\n"
	"# deny    *            secrets/root/**       *\n"
	"#\n"
	"# Deny wins over allow; what no rule allows is denied, for root too.\n"
	"# This vault starts with no rules: everything is denied.\n";

static int join(char *buf, const char *dir, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* A path from the settings: absolute as it is, relative to the vault directory. */
static int resolve(char *buf, const char *dir, const char *path)
{
	if (path[0] == '/') {
		if (snprintf(buf, PATH_MAX, "%s", path) >= PATH_MAX)
			return -ENAMETOOLONG;
		return 0;
	}
	return join(buf, dir, path);
}

static int write_new_file(const char *path, mode_t mode, const void *data, size_t len)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

/* A random PIN of 32 characters from the base64url alphabet, in a secbuf. */
static int random_pin(struct secbuf **ret)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct secbuf *pin = NULL;
	uint8_t raw[32];
	int r;

	r = secbuf_new(sizeof(raw), &pin);
	if (r < 0)
		return r;
	r = crypto_random(raw, sizeof(raw));
	if (r < 0) {
		secbuf_free(pin);
		return r;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		secbuf_mutable_data(pin)[i] = (uint8_t)alphabet[raw[i] & 63];
	(void)secbuf_set_len(pin, sizeof(raw)); /* within the room secbuf_new made */
	OPENSSL_cleanse(raw, sizeof(raw));
	*ret = pin;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes what a failed init made: only the names it creates, never anything else. */
static void init_undo(const char *dir, int made_dir)
{
	static const char *const extra[] = { STORE_COMPANIONS(VAULT_DB), CONFIG_FILE ".tmp" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(vault_files) / sizeof(vault_files[0]); i++)
		if (join(path, dir, vault_files[i]) == 0)
			nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (join(path, dir, extra[i]) == 0)
			unlink(path);
	if (made_dir)
		rmdir(dir);
}

static int init_embedded_token(const char *dir, struct vault_config *cfg, struct secbuf **ret_pin,
			       char *err, size_t errlen)
{
	char path[PATH_MAX], tokens[PATH_MAX], label[HSM_TOKEN_LABEL_MAX + 1];
	struct secbuf *pin = NULL, *so_pin = NULL;
	struct vault_softhsm conf;
	uint8_t rnd[4];
	int r;

	r = join(tokens, dir, VAULT_TOKENS);
	if (r < 0)
		goto out;
	if (mkdir(tokens, 0700) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot make \"%s\": %s", tokens, strerror(-r));
		goto out;
	}
	r = join(path, dir, VAULT_SOFTHSM_CONF);
	if (r >= 0)
		r = write_new_file(path, 0600, vault_softhsm_conf, strlen(vault_softhsm_conf));
	if (r < 0) {
		snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(-r));
		goto out;
	}
	r = random_pin(&pin);
	if (r >= 0)
		r = random_pin(&so_pin);
	if (r >= 0)
		r = crypto_random(rnd, sizeof(rnd));
	if (r < 0) {
		snprintf(err, errlen, "cannot make a random PIN: %s", strerror(-r));
		goto out;
	}
	snprintf(label, sizeof(label), "vaultfs-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	r = join(path, dir, VAULT_PIN);
	if (r >= 0)
		r = write_new_file(path, 0400, secbuf_data(pin), secbuf_len(pin));
	if (r < 0) {
		snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(-r));
		goto out;
	}
	/* The security officer's PIN is not kept: the vault never needs it, and a lost user
	 * PIN is recovered by making a new vault, not by resetting this one. */
	r = vault_softhsm_begin(dir, VAULT_SOFTHSM_CONF, &conf, err, errlen);
	if (r >= 0) {
		r = hsm_token_create(VAULTFS_SOFTHSM2_MODULE, label, so_pin, pin);
		if (r < 0)
			snprintf(err, errlen, "cannot make a SoftHSM2 token with \"%s\": %s",
				 VAULTFS_SOFTHSM2_MODULE, strerror(-r));
	}
	vault_softhsm_end(&conf);
	if (r < 0)
		goto out;
	if (config_set_string(&cfg->hsm_module, VAULTFS_SOFTHSM2_MODULE) < 0 ||
	    config_set_string(&cfg->token_label, label) < 0 ||
	    config_set_string(&cfg->pin_file, VAULT_PIN) < 0 ||
	    config_set_string(&cfg->softhsm2_conf, VAULT_SOFTHSM_CONF) < 0) {
		r = -ENOMEM;
		goto out;
	}
	*ret_pin = pin;
	pin = NULL;
	r = 0;
out:
	secbuf_free(pin);
	secbuf_free(so_pin);
	return r;
}

int vault_token_recover(struct vault *v)
{
	int r;

	if (!hsm_lost(v->hsm))
		return 0;
	r = vault_token_reopen(v->dir, v->cfg, v->hsm);
	if (r < 0)
		return r;
	audit_token_back(v->audit);
	return 1;
}

static const char *store_reason(int r)
{
	switch (r) {
	case -EUCLEAN:
		return "corrupt, or not a vault database";
	case -EBUSY:
		return "locked by another process (try again, or raise busy_timeout_ms)";
	case -EPROTO:
		return "made by a newer vaultfs";
	case -ENOKEY:
		return "the token does not hold this vault's key-encryption key";
	case -EBADMSG:
		return "the token cannot unwrap this vault's data key";
	default:
		return strerror(-r);
	}
}

/* The trail's first record, which also makes the vault's audit key in the token. */
static int record_init(const char *dir, char *err, size_t errlen)
{
	char exe[PATH_MAX], cgroup[PATH_MAX];
	struct audit_event ev;
	struct vault *v = NULL;
	int r;

	r = vault_open(dir, &v, err, errlen);
	if (r < 0)
		return r;
	vault_admin_event(&ev, "init", exe, sizeof(exe), cgroup, sizeof(cgroup));
	r = vault_record(v, &ev);
	if (r < 0)
		snprintf(err, errlen, "cannot write the audit trail in \"%s\"", dir);
	vault_free(v);
	return r;
}

/* The token of an init with --hsm-module, --token and --pin-file: checked, its PIN read,
 * and the three written into @cfg. */
static int init_external_token(const struct vault_init_options *o, struct vault_config *cfg,
			       struct secbuf **ret_pin, char *err, size_t errlen)
{
	struct secbuf *pin = NULL;
	char abspin[PATH_MAX];
	int r;

	if (strlen(o->token_label) > HSM_TOKEN_LABEL_MAX || !*o->token_label) {
		r = -EINVAL;
		snprintf(err, errlen, "token label must be 1 to 32 bytes");
		goto out;
	}
	if (!realpath(o->pin_file, abspin)) {
		r = -errno;
		snprintf(err, errlen, "PIN file \"%s\": %s", o->pin_file, strerror(-r));
		goto out;
	}
	if (!config_value_ok(o->hsm_module) || !config_value_ok(o->token_label) ||
	    !config_value_ok(abspin)) {
		r = -EINVAL;
		snprintf(err, errlen,
			 "the module path, token label and PIN file path must not hold "
			 "control characters, spaces at either end or \";\" first or "
			 "after a space (vaultfs.conf could not hold them)");
		goto out;
	}
	r = vault_read_pin(abspin, &pin, err, errlen);
	if (r < 0)
		goto out;
	if (config_set_string(&cfg->hsm_module, o->hsm_module) < 0 ||
	    config_set_string(&cfg->token_label, o->token_label) < 0 ||
	    config_set_string(&cfg->pin_file, abspin) < 0) {
		r = -ENOMEM;
		goto out;
	}
	*ret_pin = pin;
	pin = NULL;
	r = 0;
out:
	secbuf_free(pin);
	return r;
}

/* The vault's files, the token open: the database (with its key-encryption key in the
 * token), the policy that denies everything, an empty trail, and vaultfs.conf last. */
static int init_files(const char *absdir, struct hsm *hsm, const struct vault_config *cfg,
		      char *err, size_t errlen)
{
	struct store_options sopt = { 0 };
	char path[PATH_MAX];
	int r;

	sopt.max_secret_size = cfg->max_secret_size;
	sopt.retention_days = cfg->retention_days;
	sopt.busy_timeout_ms = cfg->busy_timeout_ms;
	r = join(path, absdir, VAULT_DB);
	if (r >= 0)
		r = store_create(path, hsm, &sopt);
	if (r < 0) {
		snprintf(err, errlen, "cannot create \"%s\": %s", path, store_reason(r));
		return r;
	}
	r = join(path, absdir, VAULT_POLICY);
	if (r >= 0)
		r = write_new_file(path, 0600, default_policy, sizeof(default_policy) - 1);
	if (r >= 0)
		r = join(path, absdir, VAULT_AUDIT);
	if (r >= 0)
		r = write_new_file(path, 0600, "", 0);
	if (r >= 0)
		r = join(path, absdir, CONFIG_FILE);
	/* Written last: a vaultfs.conf is what marks a finished vault. */
	if (r >= 0)
		r = config_write(path, cfg);
	if (r < 0) {
		snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int vault_init(const char *dir, const struct vault_init_options *o, char *err, size_t errlen)
{
	struct vault_config *cfg = NULL;
	struct secbuf *pin = NULL;
	struct hsm *hsm = NULL;
	char path[PATH_MAX], absdir[PATH_MAX];
	int made_dir = 0, dfd = -1, r;
	int external = o->hsm_module || o->token_label || o->pin_file;

	if (external && !(o->hsm_module && o->token_label && o->pin_file)) {
		snprintf(err, errlen, "--hsm-module, --token and --pin-file go together");
		return -EINVAL;
	}
	if (mkdir(dir, 0700) == 0) {
		made_dir = 1;
	} else if (errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot make \"%s\": %s", dir, strerror(-r));
		return r;
	}
	/* an existing DIR that others could write is refused before anything is put in it */
	r = vault_resolve_safe(dir, absdir, err, errlen);
	if (r < 0)
		goto fail_early;
	dfd = open(absdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "\"%s\": %s", dir, strerror(-r));
		goto fail_early;
	}
	/* Two inits racing on one directory: the second waits for nothing, it is refused. */
	if (flock(dfd, LOCK_EX | LOCK_NB) < 0) {
		r = -EBUSY;
		snprintf(err, errlen, "\"%s\" is in use by another vaultfs command", dir);
		goto fail_early;
	}
	for (size_t i = 0; i < sizeof(vault_files) / sizeof(vault_files[0]); i++) {
		if (join(path, absdir, vault_files[i]) == 0 && access(path, F_OK) == 0) {
			r = -EEXIST;
			snprintf(err, errlen,
				 "\"%s\" already holds a vault (%s exists); nothing changed", dir,
				 vault_files[i]);
			goto fail_early;
		}
	}
	r = config_new(&cfg);
	if (r < 0)
		goto fail;
	if (external) {
		r = init_external_token(o, cfg, &pin, err, errlen);
		if (r < 0)
			goto fail;
	} else {
		r = init_embedded_token(absdir, cfg, &pin, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = vault_token_open(absdir, cfg, pin, &hsm, err, errlen);
	if (r < 0)
		goto fail;
	r = init_files(absdir, hsm, cfg, err, errlen);
	if (r < 0)
		goto fail;
	r = record_init(absdir, err, errlen);
	if (r < 0)
		goto fail;
	r = 0;
	goto out;
fail:
	init_undo(absdir, made_dir);
	made_dir = 0;
fail_early:
	if (made_dir)
		rmdir(dir);
out:
	hsm_free(hsm);
	secbuf_free(pin);
	config_free(cfg);
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* The trail's key (made here for a vault from before the trail had one) and its file. */
static int open_audit(struct vault *v, char *err, size_t errlen)
{
	struct audit_options aopt = { .rotate_size = v->cfg->audit_rotate_size,
				      .sync_each = 1,
				      .timeout_ms = v->cfg->audit_timeout_ms,
				      .stored_head = vault_head_stored,
				      .stored_head_data = v };
	char label[HSM_TOKEN_LABEL_MAX + 1], path[PATH_MAX];
	int r;

	audit_key_label(store_vault_id(v->store), label, sizeof(label));
	r = hsm_key_find(v->hsm, label, &v->audit_key);
	if (r == -ENOKEY) {
		r = hsm_mac_key_create(v->hsm, label, &v->audit_key);
		if (r == 0)
			log_debug("Made the audit key \"%s\" in the token", label);
	}
	if (r < 0) {
		snprintf(err, errlen, "the token's audit key \"%s\": %s", label, strerror(-r));
		return r;
	}
	r = join(path, v->dir, VAULT_AUDIT);
	if (r >= 0)
		r = audit_open(path, v->hsm, v->audit_key, &aopt, &v->audit);
	if (r < 0)
		snprintf(err, errlen, "cannot open the audit trail \"%s\": %s", path, strerror(-r));
	return r;
}

int vault_daemon_mode(struct vault *v)
{
	v->daemon = 1;
	audit_set_sync_each(v->audit, 0);
	return audit_derive_ahead(v->audit);
}

int vault_audit_flush(struct vault *v)
{
	struct audit_head head;
	int r;

	r = audit_sync(v->audit, &head);
	if (r <= 0)
		return r;
	return vault_head_store(v, &head);
}

/* Retention is enforced whenever the vault is opened; a busy database defers it. */
static void purge_expired(struct vault *v)
{
	unsigned n;
	int r = vault_purge_expired(v, &n);

	if (r < 0)
		log_debug("purge of expired deleted secrets deferred: %s", strerror(-r));
}

int vault_open(const char *dir, struct vault **ret, char *err, size_t errlen)
{
	struct store_options sopt = { 0 };
	struct secbuf *pin = NULL;
	struct vault *v;
	char path[PATH_MAX], absdir[PATH_MAX], cerr[256] = "";
	int r;

	r = vault_resolve_safe(dir, absdir, err, errlen);
	if (r < 0)
		return r;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->head_lock, NULL);
	v->dir = strdup(absdir);
	if (!v->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = join(path, absdir, CONFIG_FILE);
	if (r >= 0)
		r = config_load(path, &v->cfg, cerr, sizeof(cerr));
	if (r == -ENOENT) {
		snprintf(err, errlen, "\"%s\" is not a vault (no %s)", dir, CONFIG_FILE);
		goto fail;
	}
	if (r == -EINVAL) {
		snprintf(err, errlen, "%s/%s", absdir, cerr);
		goto fail;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(-r));
		goto fail;
	}
	r = vault_pin_credential(path);
	if (r == 0)
		r = resolve(path, absdir, v->cfg->pin_file);
	if (r >= 0)
		r = vault_read_pin(path, &pin, err, errlen);
	if (r >= 0)
		r = vault_token_open(absdir, v->cfg, pin, &v->hsm, err, errlen);
	secbuf_freep(&pin);
	if (r < 0)
		goto fail;
	sopt.max_secret_size = v->cfg->max_secret_size;
	sopt.retention_days = v->cfg->retention_days;
	sopt.busy_timeout_ms = v->cfg->busy_timeout_ms;
	r = join(path, absdir, VAULT_DB);
	if (r >= 0)
		r = store_open(path, v->hsm, &sopt, &v->store);
	if (r < 0) {
		snprintf(err, errlen, "\"%s\": %s", path, store_reason(r));
		goto fail;
	}
	/* the head key first: a trail found rotated goes on from the head it vouches for */
	r = vault_head_open(v, err, errlen);
	if (r >= 0)
		r = open_audit(v, err, errlen);
	if (r < 0)
		goto fail;
	purge_expired(v);
	*ret = v;
	return 0;
fail:
	vault_free(v);
	return r;
}

void vault_free(struct vault *v)
{
	if (!v)
		return;
	audit_free(v->audit);
	store_free(v->store);
	hsm_free(v->hsm);
	config_free(v->cfg);
	free(v->dir);
	pthread_mutex_destroy(&v->head_lock);
	free(v);
}
