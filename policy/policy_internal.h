/*
 * policy_internal: what the policy's parser (policy_parse.c) and its evaluator (policy.c)
 * share — the parsed rules and the index over them. Nothing else may depend on it.
 */
#ifndef VAULTFS_POLICY_INTERNAL_H
#define VAULTFS_POLICY_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

#define REF_MAX 256

/*
 * A user= or group= name that NSS did not know when the file was loaded (an account made
 * after the policy was written). No caller is that account while it does not exist; a
 * decision that meets the rule looks the name up again, at most once a second, and once
 * it is known the rule holds for its id like any other. Shared by every thread that
 * decides on this policy: the fields are read and written with atomics only.
 */
struct lazy_name {
	char *name;
	int group; /* 0: user=, 1: group= */
	int state; /* LAZY_*; atomic */
	unsigned id; /* the uid or gid, once state is LAZY_KNOWN; atomic */
	long long next_try_us; /* time_mono_us() before which nobody looks again; atomic */
};

enum {
	LAZY_UNKNOWN, /* NSS says there is no such name: the condition holds for nobody */
	LAZY_FAILED, /* NSS could not answer: the condition cannot be checked */
	LAZY_KNOWN,
};

struct rule {
	int deny;
	unsigned ops;
	char *path;
	int any; /* who is '*' */
	int has_uid, has_gid;
	uid_t uid; /* uid= or user= */
	gid_t gid; /* gid= or group=: primary or supplementary */
	struct lazy_name *lazy_uid, *lazy_gid; /* a name not known at load, or NULL */
	char *cgroup;
	char *exe;
	char ref[REF_MAX]; /* "NAME:LINE" */
};

/* A rule under its literal prefix: the leading whole segments of its path glob that hold
 * no pattern character. Only a path that starts with those segments can match the rule. */
struct prefix_entry {
	const char *prefix; /* into the rule's path; not NUL-terminated at len */
	size_t len;
	size_t rule;
};

struct policy {
	struct rule *rules;
	size_t count;
	unsigned needs;
	char **warnings; /* "NAME:LINE: warning: message", nwarnings of them */
	size_t nwarnings;
	struct prefix_entry *index; /* count entries, by prefix then rule: policy_index */
};

/* Files every rule under its literal prefix, so that a decision reads only the rules that
 * can match its path (a policy of 100,000 rules decides as fast as one of ten). Below the
 * threshold (policy_set_index_threshold) it makes no index. Returns 0 or -ENOMEM. */
int policy_index(struct policy *p);

/*
 * The id of a user= or group= name not known at load (struct lazy_name), looked up again
 * if its time has come: 1 with *ret_id, 0 while there is no such name, -1 when NSS cannot
 * answer (the condition cannot be checked).
 */
int policy_lazy_id(struct lazy_name *l, unsigned *ret_id);

/* NSS's answer for a user (@group 0) or group name: 1 with *ret_id, 0 when there is no
 * such name, -errno when NSS failed. */
int policy_lookup_name(const char *name, int group, unsigned *ret_id);

#endif
