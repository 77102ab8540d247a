/*
 * fuzz_audit_line: libFuzzer target for the audit trail's line parser, which reads what
 * anyone with the file may have written before a single MAC is checked. Any input is
 * parsed; a line that parses must describe itself within its own bounds. Built with
 * clang's -fsanitize=fuzzer,address,undefined by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_line l;
	/* a copy of exactly @size bytes: the parser must never read past a line's end */
	char *line = malloc(size ? size : 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	if (audit_line_parse(line, size, &l) == 0) {
		if (l.seq == 0 || l.body_len >= size || memcmp(line, "{\"seq\":", 7) != 0)
			abort();
	}
	free(line);
	return 0;
}
