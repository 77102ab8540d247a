/*
 * certs_files: the names of a certificate version's files (certs.h).
 */
#include "certs.h"

#include <string.h>

static const char *const file_names[CERTS_FILE_COUNT] = {
	[CERTS_CERT] = "cert.pem", [CERTS_CHAIN] = "chain.pem", [CERTS_FULLCHAIN] = "fullchain.pem",
	[CERTS_KEY] = "key.pem",   [CERTS_CSR] = "csr.pem",
};

const char *certs_file_name(enum certs_file f)
{
	return (unsigned)f < CERTS_FILE_COUNT ? file_names[f] : NULL;
}

int certs_file_from_name(const char *name)
{
	for (int f = 0; f < CERTS_FILE_COUNT; f++)
		if (strcmp(name, file_names[f]) == 0)
			return f;
	return -1;
}
