/*
 * vault_token: a vault's token opened from where the vault is now (vault_token.h).
 *
 * The configuration SoftHSM2 gets is made afresh at every open, in memory, from the
 * vault's softhsm2.conf and the vault's present place: a vault that was moved finds its
 * token, and a copy finds its own. The file is read as SoftHSM2 reads it (a line ends at
 * '#' or a line break; "name = value", split at '=', trimmed), so that what vaultfs takes
 * out of it is what SoftHSM2 would have taken. It must never hand SoftHSM2 a token folder
 * taken from an absolute path written in the vault, and never log a PIN.
 */
#include "vault_token.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "token_guard.h"

#define TOKENDIR "directories.tokendir"
#define CONF_MAX (64 * 1024) /* a softhsm2.conf is a few lines */
#define SOFTHSM_LINE_MAX 1023 /* SoftHSM2 reads lines with fgets into 1024 bytes */

const char vault_softhsm_conf[] =
	"# SoftHSM2 configuration of this vault's embedded token. Its token folder is\n"
	"# named relative to this file; vaultfs hands SoftHSM2 its absolute path.\n"
	"directories.tokendir = " VAULT_TOKENS_REL "\n"
	"objectstore.backend = file\n"
	"log.level = ERROR\n"
	"slots.removable = false\n";

struct span {
	const char *p;
	size_t n;
};

static struct span trim(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return (struct span){ p, n };
}

/*
 * The token folder that the line at @p (@n bytes, no newline) sets, as SoftHSM2 reads it:
 * 1 with the value in *ret, 0 if the line sets something else or nothing.
 */
static int tokendir_line(const char *p, size_t n, struct span *ret)
{
	struct span name, value;
	size_t i = 0, start;

	for (size_t k = 0; k < n; k++)
		if (p[k] == '#' || p[k] == '\r') {
			n = k;
			break;
		}
	while (i < n && p[i] == '=') /* strtok skips leading delimiters */
		i++;
	start = i;
	while (i < n && p[i] != '=')
		i++;
	name = trim(p + start, i - start);
	while (i < n && p[i] == '=')
		i++;
	start = i;
	while (i < n && p[i] != '=')
		i++;
	value = trim(p + start, i - start);
	if (name.n != strlen(TOKENDIR) || memcmp(name.p, TOKENDIR, name.n) != 0 || !value.n)
		return 0;
	*ret = value;
	return 1;
}

/* The whole file at @path (at most CONF_MAX bytes), NUL-terminated, malloc'ed. */
static int read_conf(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_MAX) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size); /* a regular file: all of it, or an error */
	if (n < 0) {
		r = -errno;
		goto out;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = (size_t)n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* Whether SoftHSM2 would read @path back as it is from a "name = value" line. */
static int conf_can_hold(const char *path)
{
	size_t n = strlen(path);

	if (!n || n + sizeof(TOKENDIR " = \n") > SOFTHSM_LINE_MAX || strpbrk(path, "#=\n\r") ||
	    isspace((unsigned char)path[0]) || isspace((unsigned char)path[n - 1]))
		return 0;
	return 1;
}

/*
 * Rewrites @path (@text, @len bytes) so that its token folder is named relative: a file
 * from an older vaultfs, which named it by absolute path. Written beside it and renamed
 * over it, so a reader sees one file or the other. Best effort: the folder is not taken
 * from the file anyway, so a vault that cannot be written opens all the same.
 */
static void migrate(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char *p = text, *end = text + len;
	int fd, dfd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_debug("Cannot rewrite \"%s\": %s", path, strerror(errno));
		return;
	}
	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct span v;

		if (tokendir_line(p, n, &v))
			r = fd_write_all(fd, TOKENDIR " = " VAULT_TOKENS_REL "\n",
					 sizeof(TOKENDIR " = " VAULT_TOKENS_REL "\n") - 1);
		else
			r = fd_write_all(fd, p, nl ? n + 1 : n);
		p += nl ? n + 1 : n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		log_debug("Cannot rewrite \"%s\": %s", path, strerror(-r));
		return;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	log_debug("\"%s\" names its token folder relative to it now", path);
}

/* The configuration in a memfd, named by SOFTHSM2_CONF. */
static int hand_over(struct vault_softhsm *s, const char *text, size_t len, char *err,
		     size_t errlen)
{
	char name[64];
	int r;

	s->fd = memfd_create("vaultfs-softhsm2.conf", MFD_CLOEXEC);
	if (s->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot make the SoftHSM2 configuration: %s", strerror(-r));
		return r;
	}
	r = fd_write_all(s->fd, text, len);
	snprintf(name, sizeof(name), "/proc/self/fd/%d", s->fd);
	if (r == 0 && access(name, R_OK) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen,
			 "cannot hand SoftHSM2 its configuration through \"%s\" (is /proc "
			 "mounted?): %s",
			 name, strerror(-r));
		return r;
	}
	if (setenv("SOFTHSM2_CONF", name, 1) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set SOFTHSM2_CONF: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* Copies every line of @text but the token folder's to @out (*ret_len bytes), and gives
 * the last token folder's value in *ret_v (n 0: none): the last one counts, as in SoftHSM2. */
static void strip_tokendir(const char *text, size_t len, char *out, size_t *ret_len,
			   struct span *ret_v)
{
	struct span v = { NULL, 0 };
	size_t olen = 0;

	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct span line_v;

		if (tokendir_line(p, n, &line_v)) {
			v = line_v;
		} else {
			memcpy(out + olen, p, n);
			olen += n;
			out[olen++] = '\n';
		}
		p += nl ? n + 1 : n;
	}
	*ret_len = olen;
	*ret_v = v;
}

/*
 * The token folder, absolute, into @buf (of @size): from @v, the configuration's own value
 * (n 0: none) — relative to the configuration's @folder; absolute and as it is for a
 * configuration outside the vault; absolute in the vault's own (@own) only as an older
 * vaultfs wrote it, where the vault was made, so DIR/tokens now (*ret_old_style 1).
 * -EINVAL with @err when SoftHSM2 could not be given that path.
 */
static int token_folder(const char *absdir, const char *folder, int own, struct span v, char *buf,
			size_t size, int *ret_old_style, char *err, size_t errlen)
{
	int r, old_style = 0;

	if (v.n && v.p[0] == '/' && !own) {
		r = snprintf(buf, size, "%.*s", (int)v.n, v.p);
	} else if (v.n && v.p[0] == '/') {
		old_style = 1;
		r = snprintf(buf, size, "%s/" VAULT_TOKENS_REL, absdir);
	} else if (v.n) {
		r = snprintf(buf, size, "%s/%.*s", folder, (int)v.n, v.p);
	} else {
		r = snprintf(buf, size, "%s/" VAULT_TOKENS_REL, folder);
	}
	if (r >= (int)size || !conf_can_hold(buf)) {
		snprintf(err, errlen,
			 "embedded token's folder \"%s\": SoftHSM2 cannot be given this path "
			 "(it holds '#', '=' or a line break, starts or ends with a space, or "
			 "is longer than 1000 bytes)",
			 buf);
		return -EINVAL;
	}
	*ret_old_style = old_style;
	return 0;
}

int vault_softhsm_begin(const char *absdir, const char *conf, struct vault_softhsm *ret, char *err,
			size_t errlen)
{
	char path[PATH_MAX], folder[PATH_MAX], *text = NULL, *out = NULL;
	struct span v;
	size_t len = 0, olen = 0;
	const char *env = getenv("SOFTHSM2_CONF");
	int own = conf[0] != '/', old_style = 0, r;

	ret->fd = -1;
	ret->tokens[0] = '\0';
	ret->saved = 0;
	ret->saved_env = env ? strdup(env) : NULL;
	if (env && !ret->saved_env) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret->saved = 1;
	if (snprintf(path, sizeof(path), "%s%s%s", own ? absdir : "", own ? "/" : "", conf) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "the path of \"%s\" is too long", conf);
		return -ENAMETOOLONG;
	}
	r = read_conf(path, &text, &len);
	if (r < 0) {
		snprintf(err, errlen, "embedded token's \"%s\": %s", path,
			 r == -EFBIG ? "too large for a SoftHSM2 configuration" : strerror(-r));
		return r;
	}
	/* Every line but the token folder, as it is; the folder last, absolute. */
	out = malloc(len + sizeof(TOKENDIR " = \n") + PATH_MAX + 1);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	strip_tokendir(text, len, out, &olen, &v);
	snprintf(folder, sizeof(folder), "%s", path);
	*strrchr(folder, '/') = '\0'; /* @path is absolute: there is one */
	r = token_folder(absdir, folder, own, v, ret->tokens, sizeof(ret->tokens), &old_style, err,
			 errlen);
	if (r < 0)
		goto out;
	olen += (size_t)sprintf(out + olen, TOKENDIR " = %s\n", ret->tokens);
	r = hand_over(ret, out, olen, err, errlen);
	if (r < 0)
		goto out;
	if (old_style && strcmp(folder, absdir) == 0)
		migrate(path, text, len);
	r = 0;
out:
	free(text);
	free(out);
	return r;
}

void vault_softhsm_end(struct vault_softhsm *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (!s->saved)
		return;
	/* no name of a closed descriptor is left behind for a later C_Initialize */
	if (s->saved_env)
		(void)setenv("SOFTHSM2_CONF", s->saved_env, 1);
	else
		(void)unsetenv("SOFTHSM2_CONF");
	free(s->saved_env);
	s->saved_env = NULL;
	s->saved = 0;
}

static const char *hsm_open_reason(int r)
{
	switch (r) {
	case -ELIBACC:
		return "cannot load the PKCS#11 module";
	case -ENODEV:
		return "no token with that label";
	case -EACCES:
		return "wrong PIN";
	case -EPERM:
		return "the PIN is locked";
	default:
		return strerror(-r);
	}
}

static const char *guard_reason(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return "another vaultfs process kept it locked for 30 s (try again)";
	case -EUCLEAN:
		return "token.object is damaged and has no intact known-good copy "
		       "(token.object.good)";
	default:
		return strerror(-r);
	}
}

int vault_token_login(const char *module, const char *label, const struct secbuf *pin,
		      const char *tokens, struct hsm **ret, char *err, size_t errlen)
{
	struct token_guard *g = NULL;
	unsigned restored = 0;
	int r, r_end;

	if (tokens) {
		r = token_guard_begin(tokens, TOKEN_GUARD_WAIT_MS, &restored, &g);
		if (r < 0) {
			snprintf(err, errlen, "embedded token in \"%s\": %s", tokens,
				 guard_reason(r));
			return r;
		}
		if (restored)
			log_warn("The embedded token's token.object in \"%s\" was damaged (a "
				 "process killed while it logged in): put back from its "
				 "known-good copy",
				 tokens);
	}
	r = hsm_open(module, label, pin, ret);
	r_end = token_guard_end(g, r == 0);
	if (r_end < 0) /* the vault is open; the copy stays as it was, still good */
		log_warn("Failed to refresh the known-good copy of the token in \"%s\": %s", tokens,
			 strerror(-r_end));
	if (r < 0)
		snprintf(err, errlen, "token \"%s\" (module \"%s\"): %s", label, module,
			 hsm_open_reason(r));
	return r;
}

int vault_token_open(const char *absdir, const struct vault_config *cfg, const struct secbuf *pin,
		     struct hsm **ret, char *err, size_t errlen)
{
	struct vault_softhsm s;
	int r;

	if (!cfg->softhsm2_conf) /* an external token: its module finds it its own way */
		return vault_token_login(cfg->hsm_module, cfg->token_label, pin, NULL, ret, err,
					 errlen);
	r = vault_softhsm_begin(absdir, cfg->softhsm2_conf, &s, err, errlen);
	if (r >= 0)
		r = vault_token_login(cfg->hsm_module, cfg->token_label, pin, s.tokens, ret, err,
				      errlen);
	vault_softhsm_end(&s);
	return r;
}

/* How long a recovery waits for the token's guard (another process logging in) and for the
 * calls in progress: the flusher tries again a second later. */
#define RECOVER_GUARD_WAIT_MS 1000
#define RECOVER_CALLS_WAIT_MS 2000

int vault_token_reopen(const char *absdir, const struct vault_config *cfg, struct hsm *h)
{
	struct vault_softhsm s;
	struct token_guard *g = NULL;
	unsigned restored = 0;
	char err[256];
	int r;

	if (!cfg->softhsm2_conf)
		return hsm_reopen(h, RECOVER_CALLS_WAIT_MS);
	/* SoftHSM2 reads its configuration again when the module is initialised again */
	r = vault_softhsm_begin(absdir, cfg->softhsm2_conf, &s, err, sizeof(err));
	if (r >= 0)
		r = token_guard_begin(s.tokens, RECOVER_GUARD_WAIT_MS, &restored, &g);
	if (r >= 0) {
		r = hsm_reopen(h, RECOVER_CALLS_WAIT_MS);
		(void)token_guard_end(g, r == 0); /* a copy not refreshed stays good */
	}
	vault_softhsm_end(&s);
	return r;
}
