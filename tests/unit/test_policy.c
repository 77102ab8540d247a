/*
 * Unit tests for the policy language: the parser's exact errors on malformed input, the
 * globs, and the evaluator's rules — deny wins, nothing matching denies, conditions AND-ed,
 * no implicit rights for uid 0, fail closed when the caller's details are unknown.
 * Callers are described directly (nothing is read from /proc).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"
#include "policy.h"

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	char err[512] = "";

	if (policy_parse(text, strlen(text), "policy", &p, err, sizeof(err)) != 0)
		fail_msg("refused \"%s\": %s", text, err);
	return p;
}

static void parse_bad(const char *text, size_t len, const char *message)
{
	struct policy *p = NULL;
	char err[512] = "";

	assert_int_equal(policy_parse(text, len, "policy", &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	if (!strstr(err, message))
		fail_msg("expected \"%s\" in \"%s\"", message, err);
}

/* A caller whose groups, cgroup and executable are given (or unknown when NULL). */
static void who(struct caller *c, uid_t uid, gid_t gid, const gid_t *groups, size_t n,
		const char *cgroup, const char *exe)
{
	caller_init(c, uid, gid, 100);
	c->tried = CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE;
	c->have = CALLER_HAVE_GROUPS;
	memcpy(c->groups, groups, n * sizeof(*groups));
	c->ngroups = n;
	if (cgroup) {
		snprintf(c->cgroup, sizeof(c->cgroup), "%s", cgroup);
		c->have |= CALLER_HAVE_CGROUP;
	}
	if (exe) {
		snprintf(c->exe, sizeof(c->exe), "%s", exe);
		c->have |= CALLER_HAVE_EXE;
	}
}

static const char *decide(struct policy *p, struct caller *c, enum policy_op op, const char *path)
{
	static char out[400];
	struct policy_decision d;

	policy_decide(p, c, op, path, &d);
	snprintf(out, sizeof(out), "%s %s", d.allow ? "allow" : "deny", d.rule);
	return out;
}

static void test_globs(void **state)
{
	(void)state;
	assert_true(glob_match("secrets/db-conn", "secrets/db-conn"));
	assert_false(glob_match("secrets/db-conn", "secrets/db-conn2"));
	assert_true(glob_match("secrets/*", "secrets/a"));
	assert_false(glob_match("secrets/*", "secrets/a/b"));
	assert_false(glob_match("secrets/*", "secrets"));
	assert_true(glob_match("secrets/**", "secrets"));
	assert_true(glob_match("secrets/**", "secrets/a/b/c"));
	assert_false(glob_match("secrets/**", "keys/a"));
	assert_true(glob_match("**", ""));
	assert_true(glob_match("**", "keys/release"));
	assert_true(glob_match("secrets/**/key", "secrets/key"));
	assert_true(glob_match("secrets/**/key", "secrets/a/b/key"));
	assert_true(glob_match("secrets/pay*/api-?ey", "secrets/payments/api-key"));
	assert_true(glob_match("/system.slice/*.service", "/system.slice/payments.service"));
	assert_false(glob_match("/system.slice/*.service", "/system.slice/a/b.service"));
	assert_true(glob_match_below("secrets/payments/**", "secrets"));
	assert_true(glob_match_below("secrets/payments/api-key", "secrets/payments"));
	assert_false(glob_match_below("secrets/payments/api-key", "secrets/payments/api-key"));
	assert_false(glob_match_below("secrets/other/x", "secrets/payments"));
	assert_true(glob_match_below("**", "secrets"));
	assert_int_equal(glob_check("secrets//x"), -EINVAL);
	assert_int_equal(glob_check(""), -EINVAL);
	assert_int_equal(glob_check("secrets/"), -EINVAL);
	assert_int_equal(glob_check("secrets/a**"), -EINVAL);
	assert_int_equal(glob_check("secrets/[ab"), -EINVAL);
	assert_int_equal(glob_check("**/a/**/b/**/c/**/d/**"), -EINVAL);
	assert_int_equal(glob_check("**/a/**/b/**/c/**"), 0);
}

static void test_parse_errors(void **state)
{
	char big[POLICY_LINE_MAX + 64];

	(void)state;
	parse_bad("permit read secrets/x *\n", 24, "policy:1: unknown effect \"permit\"");
	parse_bad("\n\nallow reed secrets/x *\n", 24, "policy:3: bad operations \"reed\"");
	parse_bad("allow read,,write secrets/x *\n", 30, "policy:1: bad operations");
	parse_bad("allow read,write, secrets/x *\n", 30, "policy:1: bad operations");
	parse_bad("allow read secrets/x\n", 21, "policy:1: expected EFFECT OPERATIONS PATH WHO");
	parse_bad("allow read secrets//x *\n", 24, "policy:1: bad path glob \"secrets//x\"");
	parse_bad("allow read secrets/x colour=blue\n", 33,
		  "policy:1: unknown condition \"colour\"");
	parse_bad("allow read secrets/x uid=12a\n", 29, "policy:1: bad uid \"12a\"");
	parse_bad("allow read secrets/x uid=-1\n", 28, "policy:1: bad uid");
	parse_bad("allow read secrets/x uid=1 uid=2\n", 33, "more than one uid=/user=");
	parse_bad("allow read secrets/x cgroup=relative\n", 36, "bad cgroup glob \"relative\"");
	parse_bad("allow read secrets/x exe=\n", 26, "bad condition \"exe=\"");
	parse_bad("allow read secrets/x * uid=1\n", 29, "bad condition \"*\"");
	parse_bad("allow read sec\0rets/x *\n", 24, "policy:1: NUL byte");
	parse_bad("# ok\nallow read x *\n\0", 21, "policy:3: NUL byte");
	memset(big, 'a', sizeof(big));
	memcpy(big, "allow read ", 11);
	big[sizeof(big) - 1] = '\n';
	parse_bad(big, sizeof(big), "policy:1: line longer than 4096 bytes");
	{
		/* one bad line refuses the whole file */
		const char *text = "allow * ** uid=0\nallow read secrets/x uid=1001 bogus\n";

		parse_bad(text, strlen(text), "policy:2:");
	}
}

static void test_parse_ok(void **state)
{
	struct policy *p;

	(void)state;
	p = parse_ok("# comment only\n\n   \t\n");
	assert_int_equal(policy_rule_count(p), 0);
	policy_free(p);
	p = parse_ok(
		"allow read secrets/db-conn uid=1001 # trailing comment\n"
		"allow\tread,list\tsecrets/payments/**\tcgroup=/system.slice/payments.service\n"
		"allow write secrets/** group=root\n"
		"allow sign keys/release user=root exe=/usr/bin/release-tool\n"
		"deny * secrets/root/** *\r\n"
		"allow * ** gid=0");
	assert_int_equal(policy_rule_count(p), 6);
	assert_int_equal(policy_needs(p),
			 CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE);
	policy_free(p);
	p = parse_ok("allow read secrets/x uid=5");
	assert_int_equal(policy_needs(p), 0); /* nothing is read from /proc for uid rules */
	policy_free(p);
}

/* Everything policy_load_report says, one "E " or "W " line each, in order. */
static void collect(void *userdata, int is_error, const char *msg)
{
	char *out = userdata;
	size_t n = strlen(out);

	snprintf(out + n, 4096 - n, "%s %s\n", is_error ? "E" : "W", msg);
}

static void test_unknown_names(void **state)
{
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };

	(void)state;
	/* a name that is no account yet is a warning, and holds for nobody meanwhile */
	p = parse_ok("allow read secrets/x user=no-such-user-here\n"
		     "allow read secrets/y group=no-such-group-here\n"
		     "allow * ** uid=0\n"
		     "deny read secrets/z user=no-such-user-here\n");
	assert_int_equal(policy_rule_count(p), 4);
	assert_int_equal(policy_warning_count(p), 3);
	assert_string_equal(policy_warning(p, 0),
			    "policy:1: warning: unknown user \"no-such-user-here\": the rule holds "
			    "for no caller until the account exists");
	assert_string_equal(
		policy_warning(p, 1),
		"policy:2: warning: unknown group \"no-such-group-here\": the rule holds "
		"for no caller until the group exists");
	assert_non_null(strstr(policy_warning(p, 2), "policy:4: warning: unknown user"));
	assert_null(policy_warning(p, 3));
	for (uid_t uid = 0; uid < 70000; uid += 1000) {
		who(&c, uid, uid, none, 0, "/", "/bin/cat");
		assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"),
				    uid == 0 ? "allow policy:3" : "deny default-deny");
		assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"),
				    uid == 0 ? "allow policy:3" : "deny default-deny");
		/* nobody is that user: the deny takes nothing from root */
		assert_string_equal(decide(p, &c, POLICY_READ, "secrets/z"),
				    uid == 0 ? "allow policy:3" : "deny default-deny");
	}
	policy_free(p);
	p = parse_ok("allow read secrets/x user=root group=root\n");
	assert_int_equal(policy_warning_count(p), 0);
	policy_free(p);
}

static void test_every_error(void **state)
{
	char path[] = "/tmp/vaultfs-policy-XXXXXX", out[4096] = "", err[512] = "";
	const char *text = "alow read x *\n"
			   "allow read secrets/x user=no-such-user-here\n"
			   "allow * ** uid=0\n"
			   "allow reed x *\n"
			   "allow read x exe=relative\n";
	struct policy *p = NULL;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	/* every error and warning, in line order, and the first error in err */
	assert_int_equal(policy_load_report(path, "cand", collect, out, &p, err, sizeof(err)),
			 -EINVAL);
	assert_null(p);
	assert_string_equal(out,
			    "E cand:1: unknown effect \"alow\" (allow or deny)\n"
			    "W cand:2: warning: unknown user \"no-such-user-here\": the rule "
			    "holds for no caller until the account exists\n"
			    "E cand:4: bad operations \"reed\" (comma-separated list read write "
			    "delete recover purge sign encrypt decrypt wrap unwrap export, or *)\n"
			    "E cand:5: bad exe glob \"relative\" (an absolute path)\n");
	assert_string_equal(err, "cand:1: unknown effect \"alow\" (allow or deny)");
	/* without a report, the first error ends it, as the daemon loads */
	assert_int_equal(policy_load(path, "cand", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "cand:1: unknown effect \"alow\" (allow or deny)");
	unlink(path);
}

static void test_decide(void **state)
{
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 }, wheel[1] = { 10 };

	(void)state;
	p = parse_ok("allow read secrets/db-conn uid=1001\n"
		     "allow read,list secrets/payments/** cgroup=/system.slice/payments.service\n"
		     "allow write secrets/** gid=10\n"
		     "allow sign keys/release uid=1002 exe=/usr/bin/release-tool\n"
		     "deny * secrets/root/** *\n"
		     "allow * secrets/root/** uid=0\n");
	who(&c, 1001, 1001, none, 0, "/", "/usr/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/db-conn"), "allow policy:1");
	assert_string_equal(decide(p, &c, POLICY_WRITE, "secrets/db-conn"), "deny default-deny");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/other"), "deny default-deny");
	/* cgroup */
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/payments/api-key"),
			    "deny default-deny");
	who(&c, 1001, 1001, none, 0, "/system.slice/payments.service", "/usr/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/payments/api-key"),
			    "allow policy:2");
	assert_string_equal(decide(p, &c, POLICY_LIST, "secrets/payments"), "allow policy:2");
	/* supplementary group */
	who(&c, 1003, 1003, wheel, 1, "/", "/bin/sh");
	assert_string_equal(decide(p, &c, POLICY_WRITE, "secrets/a/b"), "allow policy:3");
	who(&c, 1003, 10, none, 0, "/", "/bin/sh"); /* primary */
	assert_string_equal(decide(p, &c, POLICY_WRITE, "secrets/a/b"), "allow policy:3");
	/* conditions are AND-ed: uid and exe */
	who(&c, 1002, 1002, none, 0, "/", "/usr/bin/release-tool");
	assert_string_equal(decide(p, &c, POLICY_SIGN, "keys/release"), "allow policy:4");
	who(&c, 1002, 1002, none, 0, "/", "/usr/bin/other");
	assert_string_equal(decide(p, &c, POLICY_SIGN, "keys/release"), "deny default-deny");
	who(&c, 1001, 1001, none, 0, "/", "/usr/bin/release-tool");
	assert_string_equal(decide(p, &c, POLICY_SIGN, "keys/release"), "deny default-deny");
	/* deny wins over allow, whatever the order; root gets nothing implicit */
	who(&c, 0, 0, none, 0, "/", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/root/x"), "deny policy:5");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/db-conn"), "deny default-deny");
	who(&c, 1003, 10, none, 0, "/", "/bin/sh");
	assert_string_equal(decide(p, &c, POLICY_WRITE, "secrets/root/x"), "deny policy:5");
	/* unknown details: an allow does not hold, a deny does */
	who(&c, 1001, 1001, none, 0, NULL, NULL);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/payments/api-key"),
			    "deny default-deny");
	policy_free(p);
	p = parse_ok("allow * ** *\ndeny read secrets/x exe=/usr/bin/evil\n");
	who(&c, 1001, 1001, none, 0, "/", NULL);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:2");
	assert_string_equal(decide(p, &c, POLICY_WRITE, "secrets/x"), "allow policy:1");
	/* pid 0: nothing that needs identity */
	caller_init(&c, 0, 0, 0);
	policy_free(p);
	p = parse_ok("allow read secrets/x uid=0\nallow list secrets *\n");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny default-deny");
	assert_string_equal(decide(p, &c, POLICY_LIST, "secrets"), "allow policy:2");
	policy_free(p);
	/* export is its own operation: read does not give it, '*' does */
	p = parse_ok("allow read certs/web uid=1001\n"
		     "allow export certs/web uid=1002\n"
		     "allow * certs/ca uid=1001\n");
	who(&c, 1001, 1001, none, 0, "/", "/usr/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "certs/web"), "allow policy:1");
	assert_string_equal(decide(p, &c, POLICY_EXPORT, "certs/web"), "deny default-deny");
	assert_string_equal(decide(p, &c, POLICY_EXPORT, "certs/ca"), "allow policy:3");
	who(&c, 1002, 1002, none, 0, "/", "/usr/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_EXPORT, "certs/web"), "allow policy:2");
	assert_string_equal(decide(p, &c, POLICY_READ, "certs/web"), "deny default-deny");
	assert_string_equal(policy_op_name(POLICY_EXPORT), "export");
	assert_int_equal(policy_op_parse("export"), POLICY_EXPORT);
	policy_free(p);
}

static void test_rights(void **state)
{
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };

	(void)state;
	p = parse_ok("allow read secrets/payments/api-key uid=1001\n"
		     "allow list secrets uid=1002\n");
	who(&c, 1001, 1001, none, 0, "/", "/bin/cat");
	assert_int_equal(policy_rights(p, &c, "secrets/payments/api-key", 0),
			 POLICY_BIT(POLICY_READ));
	/* the folders leading to it are visible to this caller, with no rights of their own */
	assert_int_equal(policy_rights(p, &c, "secrets/payments", 0), 0);
	assert_int_equal(policy_rights(p, &c, "secrets/payments", 1), POLICY_BIT(POLICY_READ));
	assert_int_equal(policy_rights(p, &c, "secrets/other", 1), 0);
	who(&c, 1002, 1002, none, 0, "/", "/bin/cat");
	assert_int_equal(policy_rights(p, &c, "secrets", 0), POLICY_BIT(POLICY_LIST));
	policy_free(p);

	/* A deny on a folder and all beneath it closes the way in that an allow beneath it
	 * would open; a deny on the folder alone, or on some names beneath it, does not. */
	p = parse_ok("allow list,read secrets/** uid=1001\n"
		     "deny * secrets/root/** *\n"
		     "deny read secrets/half/** *\n"
		     "deny list secrets/team *\n"
		     "deny * secrets/some/x *\n");
	who(&c, 1001, 1001, none, 0, "/", "/bin/cat");
	assert_int_equal(policy_rights(p, &c, "secrets/root", 1), 0);
	assert_int_equal(policy_rights(p, &c, "secrets/root/deeper", 1), 0);
	assert_int_equal(policy_rights(p, &c, "secrets/half", 1), POLICY_BIT(POLICY_LIST));
	assert_int_equal(policy_rights(p, &c, "secrets/team", 0), POLICY_BIT(POLICY_READ));
	assert_int_equal(policy_rights(p, &c, "secrets/team", 1),
			 POLICY_BIT(POLICY_READ) | POLICY_BIT(POLICY_LIST));
	assert_int_equal(policy_rights(p, &c, "secrets/some", 1),
			 POLICY_BIT(POLICY_READ) | POLICY_BIT(POLICY_LIST));
	policy_free(p);
	/* "**" alone covers the whole vault; a later narrower deny still counts once an
	 * earlier one took the same operations from the path alone. */
	p = parse_ok("allow read secrets/a/x uid=1001\n"
		     "deny read secrets/a *\n"
		     "deny read secrets/a/** *\n");
	assert_int_equal(policy_rights(p, &c, "secrets/a", 1), 0);
	policy_free(p);
	p = parse_ok("allow read secrets/a/x uid=1001\n"
		     "deny * ** uid=1001\n");
	assert_int_equal(policy_rights(p, &c, "", 1), 0);
	assert_int_equal(policy_rights(p, &c, "secrets", 1), 0);
	policy_free(p);
}

static void test_deep_and_wide(void **state)
{
	char text[8192], path[2048];
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };
	size_t off = 0;

	(void)state;
	/* many rules, deep paths: decided without trouble */
	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"allow read secrets/**/a%d/**/b uid=%d\n", i, i);
	p = parse_ok(text);
	off = 0;
	off += (size_t)snprintf(path, sizeof(path), "secrets");
	for (int i = 0; i < 16; i++)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "/a%d", i);
	snprintf(path + off, sizeof(path) - off, "/b");
	who(&c, 7, 7, none, 0, "/", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, path), "allow policy:8");
	who(&c, 70, 70, none, 0, "/", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, path), "deny default-deny");
	policy_free(p);
}

/* "/" followed by @n segments "d", then @last (if any), in @buf. */
static const char *deep_path(char *buf, size_t len, const char *top, int n, const char *last)
{
	size_t off = (size_t)snprintf(buf, len, "%s", top);

	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, len - off, "/d");
	if (last)
		snprintf(buf + off, len - off, "/%s", last);
	return buf;
}

/* Past the glob's limits the answer is "cannot tell", and policy fails closed on it. */
static void test_limits(void **state)
{
	char ok[1024], deep[1024], seg[GLOB_SEGMENT_MAX + 8];
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };

	(void)state;
	/* /x + 62 + cat = 64 segments: matched; one more: cannot tell, either way */
	deep_path(ok, sizeof(ok), "/x", GLOB_SEGMENTS_MAX - 2, "cat");
	deep_path(deep, sizeof(deep), "/x", GLOB_SEGMENTS_MAX - 1, "cat");
	assert_int_equal(glob_match("/x/**", ok), 1);
	assert_int_equal(glob_match("/y/**", ok), 0);
	assert_int_equal(glob_match("/x/**", deep), -ENAMETOOLONG);
	assert_int_equal(glob_match("/y/**", deep), -ENAMETOOLONG);
	assert_int_equal(glob_match(deep, "/x"), -ENAMETOOLONG);
	assert_int_equal(glob_match_below("/x/**", deep), -ENAMETOOLONG);
	assert_int_equal(glob_match_below("/x/**", ok), 1);
	memset(seg, 'a', sizeof(seg));
	seg[0] = '/';
	seg[GLOB_SEGMENT_MAX] = '\0'; /* a segment of GLOB_SEGMENT_MAX - 1 bytes */
	assert_int_equal(glob_match("/*", seg), 1);
	seg[GLOB_SEGMENT_MAX] = 'a';
	seg[GLOB_SEGMENT_MAX + 1] = '\0';
	assert_int_equal(glob_match("/*", seg), -ENAMETOOLONG);

	p = parse_ok("allow read secrets/** uid=1001\n"
		     "deny read secrets/x exe=/x/**\n"
		     "deny read secrets/x cgroup=/x/**\n"
		     "allow read secrets/y uid=1002 exe=/x/**\n"
		     "allow read secrets/z uid=1002 cgroup=/x/**\n"
		     "deny read secrets/w cgroup=/x/** exe=/usr/bin/evil\n");
	/* a deny holds for an executable or cgroup too deep to match */
	who(&c, 1001, 1001, none, 0, "/", ok);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:2");
	who(&c, 1001, 1001, none, 0, "/", deep);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:2");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/v"), "allow policy:1");
	who(&c, 1001, 1001, none, 0, deep, "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:3");
	assert_int_equal(policy_rights(p, &c, "secrets/x", 0), 0);
	/* an allow does not */
	who(&c, 1002, 1002, none, 0, "/", ok);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"), "allow policy:4");
	who(&c, 1002, 1002, none, 0, "/", deep);
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"), "deny default-deny");
	assert_int_equal(policy_rights(p, &c, "secrets/y", 0), 0);
	assert_int_equal(policy_rights(p, &c, "secrets", 1), 0);
	who(&c, 1002, 1002, none, 0, ok, "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/z"), "allow policy:5");
	who(&c, 1002, 1002, none, 0, deep, "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/z"), "deny default-deny");
	/* the unknown counts as holding, the other conditions still count: a deny whose exe=
	 * fails for sure does not hold, one whose exe= holds does */
	who(&c, 1001, 1001, none, 0, deep, "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/w"), "allow policy:1");
	who(&c, 1001, 1001, none, 0, deep, "/usr/bin/evil");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/w"), "deny policy:6");
	policy_free(p);
	/* a path to decide on that is past the limits: denies cover it, allows do not */
	p = parse_ok("allow read ** uid=1001\ndeny read secrets/** uid=1002\n"
		     "allow read ** uid=1002\n");
	deep_path(deep, sizeof(deep), "secrets", GLOB_SEGMENTS_MAX, NULL);
	who(&c, 1001, 1001, none, 0, "/", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, deep), "deny default-deny");
	who(&c, 1002, 1002, none, 0, "/", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, deep), "deny policy:2");
	policy_free(p);
}

/* '*', '?' and brackets in exe= and cgroup= cover a leading dot: a hidden program or
 * cgroup is no way round a deny, and an allow covers it as '**' does. */
static void test_leading_dot(void **state)
{
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };

	(void)state;
	assert_int_equal(glob_match("/home/*/*", "/home/u/.hidden-tool"), 1);
	assert_int_equal(glob_match("/home/*/?hidden-tool", "/home/u/.hidden-tool"), 1);
	assert_int_equal(glob_match("/home/*/[.]*", "/home/u/.hidden-tool"), 1);
	assert_int_equal(glob_match("/home/*/*", "/home/.u/tool"), 1);
	p = parse_ok("allow read secrets/** uid=1001\n"
		     "deny read secrets/x exe=/home/*/*\n"
		     "deny read secrets/x cgroup=/user.slice/*\n"
		     "allow read secrets/y uid=1002 exe=/home/*/*\n");
	who(&c, 1001, 1001, none, 0, "/", "/home/u/.hidden-tool");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:2");
	who(&c, 1001, 1001, none, 0, "/user.slice/.hidden", "/bin/cat");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:3");
	who(&c, 1002, 1002, none, 0, "/", "/home/u/.hidden-tool");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"), "allow policy:4");
	policy_free(p);
}

/* An executable whose path does not lead, in the daemon's namespace, to the file it runs:
 * exe= cannot be checked for it — allows on exe= fail, every deny on exe= holds. */
static void test_exe_unverified(void **state)
{
	struct policy *p;
	struct caller c;
	gid_t none[1] = { 0 };

	(void)state;
	p = parse_ok("allow read secrets/y uid=1002 exe=/usr/bin/tool\n"
		     "allow read secrets/** uid=1001\n"
		     "deny read secrets/x exe=/usr/bin/tool\n"
		     "deny read secrets/w exe=/usr/bin/other\n");
	who(&c, 1002, 1002, none, 0, "/", "/usr/bin/tool");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"), "allow policy:1");
	c.exe_unverified = 1;
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/y"), "deny default-deny");
	who(&c, 1001, 1001, none, 0, "/", "/usr/bin/tool");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/w"), "allow policy:2");
	c.exe_unverified = 1;
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/x"), "deny policy:3");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/w"), "deny policy:4");
	assert_string_equal(decide(p, &c, POLICY_READ, "secrets/v"), "allow policy:2");
	policy_free(p);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* caller_load through a stand-in for /proc/PID: the executable's path is verified or
 * marked, and a file that does not fit the buffer is not read as if whole. */
static void test_caller_proc(void **state)
{
	char dir[PATH_MAX], pid_dir[PATH_MAX + 8], link[PATH_MAX + 32], self[PATH_MAX];
	static char big[9000];
	struct caller c;
	ssize_t n;

	(void)state;
	test_tmpdir(dir);
	snprintf(pid_dir, sizeof(pid_dir), "%s/100", dir);
	assert_int_equal(mkdir(pid_dir, 0755), 0);
	put_file(pid_dir, "status", "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	snprintf(link, sizeof(link), "%s/exe", pid_dir);

	/* the path leads here to the very file: verified, and shown as it is */
	assert_int_equal(symlink(self, link), 0);
	caller_init(&c, 0, 0, 100);
	c.proc = dir;
	caller_load(&c, CALLER_HAVE_EXE);
	assert_true(c.have & CALLER_HAVE_EXE);
	assert_int_equal(c.exe_unverified, 0);
	assert_string_equal(c.exe, self);

	/* the link's text names no such file from here (a relative text stands in for a path
	 * in another mount namespace): marked */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("no-such-tool", link), 0);
	snprintf(link, sizeof(link), "%s/no-such-tool", pid_dir);
	assert_int_equal(symlink(self, link), 0);
	caller_init(&c, 0, 0, 100);
	c.proc = dir;
	caller_load(&c, CALLER_HAVE_EXE);
	assert_true(c.have & CALLER_HAVE_EXE);
	assert_int_equal(c.exe_unverified, 1);
	assert_string_equal(c.exe, "no-such-tool" CALLER_EXE_UNVERIFIED);

	/* the cgroup line read whole, then the same line past the 8 KiB read: not cut to
	 * "/x", which a rule on /x would match */
	put_file(pid_dir, "cgroup", "0::/x/long-tail\n");
	caller_init(&c, 0, 0, 100);
	c.proc = dir;
	caller_load(&c, CALLER_HAVE_CGROUP);
	assert_true(c.have & CALLER_HAVE_CGROUP);
	assert_string_equal(c.cgroup, "/x/long-tail");
	memcpy(big, "9:name=p:/", 10);
	memset(big + 10, 'p', 8186 - 11);
	big[8185] = '\n';
	snprintf(big + 8186, sizeof(big) - 8186, "0::/x/long-tail\n");
	put_file(pid_dir, "cgroup", big);
	caller_init(&c, 0, 0, 100);
	c.proc = dir;
	caller_load(&c, CALLER_HAVE_CGROUP);
	assert_false(c.have & CALLER_HAVE_CGROUP);
	test_rmtree(dir);
}

/* The index by literal prefix changes no decision: random policies over a small tree,
 * every operation and path, decided and given rights with it and without it. */
static void test_index_same_decisions(void **state)
{
	static const char *const globs[] = {
		"**",		"secrets",     "secrets/**",	 "secrets/*",	  "secrets/a",
		"secrets/a/**", "secrets/a/*", "secrets/*/x",	 "secrets/a/c",	  "secrets/a/c/**",
		"secrets/b/**", "secrets/top", "secrets/**/x",	 "secrets/?",	  "keys",
		"keys/**",	"keys/k",      "secrets/a-b/**", "secrets/a/c/z", "secrets/[ab]/x",
		"*/a/**",
	};
	static const char *const paths[] = {
		"",
		"secrets",
		"secrets/a",
		"secrets/a/x",
		"secrets/a/c",
		"secrets/a/c/z",
		"secrets/b",
		"secrets/b/x",
		"secrets/top",
		"secrets/a-b",
		"secrets/a-b/q",
		"keys",
		"keys/k",
		"secrets/ab",
	};
	static const char *const whos[] = { "*", "uid=1001", "uid=1002", "gid=2000" };
	unsigned seed = 12345;
	char text[64 * 96];
	struct caller c;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct policy *indexed, *plain;
		size_t off = 0;

		for (int i = 0; i < 40; i++) {
			seed = seed * 1103515245 + 12345;
			off += (size_t)snprintf(
				text + off, sizeof(text) - off, "%s %s %s %s\n",
				(seed >> 16) % 4 == 0 ? "deny" : "allow",
				policy_op_name((seed >> 8) % POLICY_OP_COUNT),
				globs[(seed >> 12) % (sizeof(globs) / sizeof(globs[0]))],
				whos[(seed >> 20) % 4]);
		}
		policy_set_index_threshold(1);
		indexed = parse_ok(text);
		policy_set_index_threshold((size_t)-1);
		plain = parse_ok(text);
		for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
			for (uid_t uid = 1001; uid <= 1002; uid++) {
				char a[400];

				static const gid_t none[1];

				who(&c, uid, uid == 1002 ? 2000 : uid, none, 0, NULL, NULL);
				for (int op = 0; op < POLICY_OP_COUNT; op++) {
					snprintf(a, sizeof(a), "%s",
						 decide(indexed, &c, op, paths[k]));
					if (strcmp(a, decide(plain, &c, op, paths[k])) != 0)
						fail_msg("%s on \"%s\": %s with the index, %s "
							 "without\n%s",
							 policy_op_name(op), paths[k], a,
							 decide(plain, &c, op, paths[k]), text);
				}
				for (int below = 0; below <= 1; below++)
					assert_int_equal(
						policy_rights(indexed, &c, paths[k], below),
						policy_rights(plain, &c, paths[k], below));
			}
		policy_free(indexed);
		policy_free(plain);
	}
	policy_set_index_threshold(32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_rights),
		cmocka_unit_test(test_deep_and_wide),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_leading_dot),
		cmocka_unit_test(test_exe_unverified),
		cmocka_unit_test(test_caller_proc),
		cmocka_unit_test(test_index_same_decisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
