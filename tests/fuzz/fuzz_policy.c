/*
 * fuzz_policy: libFuzzer target for the policy parser and evaluator. Any input is parsed;
 * a policy that parses is then asked a few decisions for a fixed caller, so that the
 * globs run on whatever patterns the fuzzer found. Built with clang's
 * -fsanitize=fuzzer,address,undefined by scripts/test.sh, which runs it for a short time.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "glob.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"",
		"secrets",
		"secrets/db-conn",
		"secrets/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
		"keys/release",
	};
	struct policy *p = NULL;
	struct policy_decision d;
	struct caller c;
	char err[512];

	if (policy_parse((const char *)data, size, "policy", &p, err, sizeof(err)) != 0)
		return 0;
	caller_init(&c, 1001, 1001, 100);
	c.tried = c.have = CALLER_HAVE_GROUPS | CALLER_HAVE_CGROUP | CALLER_HAVE_EXE;
	strcpy(c.cgroup, "/system.slice/payments.service");
	strcpy(c.exe, "/usr/bin/release-tool");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		policy_decide(p, &c, POLICY_READ, paths[i], &d);
		(void)policy_rights(p, &c, paths[i], 1);
	}
	policy_free(p);
	return 0;
}
