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

struct rule {
	int deny;
	unsigned ops;
	char *path;
	int any; /* who is '*' */
	int has_uid, has_gid;
	uid_t uid; /* uid= or user= */
	gid_t gid; /* gid= or group=: primary or supplementary */
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
	struct prefix_entry *index; /* count entries, by prefix then rule: policy_index */
};

/* Files every rule under its literal prefix, so that a decision reads only the rules that
 * can match its path (a policy of 100,000 rules decides as fast as one of ten). Below the
 * threshold (policy_set_index_threshold) it makes no index. Returns 0 or -ENOMEM. */
int policy_index(struct policy *p);

#endif
