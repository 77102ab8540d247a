/*
 * vault_credential: the token's PIN as a systemd credential. A unit that says
 * LoadCredentialEncrypted=pin:... (vaultfs@.service does) gets the PIN decrypted into
 * $CREDENTIALS_DIRECTORY/pin, a read-only 0400 file of the unit's user, and every command
 * that opens a vault under it — the mount daemon, or an admin command run with
 * `systemd-run -p LoadCredentialEncrypted=...` — reads the PIN there, so that it need not
 * lie on disk next to the token. It only finds the file; vault_read_pin reads and judges
 * it as any PIN file.
 */
#include "vault.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int vault_pin_credential(char *ret_path)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	struct stat st;

	if (!creds || !creds[0])
		return 0;
	if (snprintf(path, sizeof(path), "%s/pin", creds) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* whatever is there, unless nothing at all, is read — and refused with its reason
	 * (a link, a mode open to others) — rather than passed over for DIR/pin */
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	memcpy(ret_path, path, strlen(path) + 1);
	return 1;
}
