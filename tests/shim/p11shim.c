/*
 * p11shim: a PKCS#11 module for tests that makes a token stall. It loads the real module
 * (P11SHIM_MODULE, else SoftHSM2), hands out its function list with a few entries
 * replaced, and forwards every call unchanged — after a delay, for the calls the control
 * file names. It is never built into vaultfs; the mounted tests point a vault's
 * [hsm] module at it.
 *
 * The control file (P11SHIM_CTL) holds lines "CLASS MS": the next calls of that class
 * wait MS milliseconds before they reach the token — or less, if the line is removed
 * meanwhile (the file is read again every 20 ms), so a test can hold a call and let it go.
 * Classes: hmac (C_SignInit with CKM_SHA256_HMAC: the audit trail's epoch keys and head
 * tags), hmac-head (the same under a key labelled "vaultfs-head-...": the head tags
 * alone; such a call is of both classes), sign (C_SignInit with any other mechanism:
 * keys/NAME/sign), decrypt (C_DecryptInit). No file, or no line for a class: no delay.
 *
 * A line "CLASS fail" makes every call of that class fail with CKR_DEVICE_ERROR, without
 * reaching the token, for as long as the line is there: a token that breaks at the
 * instant a change's head is tagged, after its record was written.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST_PTR real;

/* The delay the control file sets for @class now, in ms; 0 for none. With @ret_fail,
 * whether it says "CLASS fail" instead. */
static long delay_ms(const char *class, int *ret_fail)
{
	const char *path = getenv("P11SHIM_CTL");
	char line[128], name[32], word[16];
	long ms = 0, v;
	FILE *f;

	if (ret_fail)
		*ret_fail = 0;
	if (!path || !(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %ld", name, &v) == 2 && strcmp(name, class) == 0)
			ms = v;
		else if (ret_fail && sscanf(line, "%31s %15s", name, word) == 2 &&
			 strcmp(name, class) == 0 && strcmp(word, "fail") == 0)
			*ret_fail = 1;
	}
	fclose(f);
	return ms;
}

static int fails(const char *class)
{
	int fail;

	(void)delay_ms(class, &fail);
	return fail;
}

static void stall(const char *class)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };
	long waited = 0;

	while (waited < delay_ms(class, NULL)) {
		nanosleep(&step, NULL);
		waited += 20;
	}
}

/* Whether @k is a vault's head key, by its label. */
static int head_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k)
{
	static const char prefix[] = "vaultfs-head";
	char label[64];
	CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof(label) };

	return real->C_GetAttributeValue(s, k, &a, 1) == CKR_OK &&
	       a.ulValueLen >= sizeof(prefix) - 1 && memcmp(label, prefix, sizeof(prefix) - 1) == 0;
}

static CK_RV shim_sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	int hmac = m && m->mechanism == CKM_SHA256_HMAC;
	int head = hmac && head_key(s, k);

	if (fails(hmac ? "hmac" : "sign") || (head && fails("hmac-head")))
		return CKR_DEVICE_ERROR;
	stall(hmac ? "hmac" : "sign");
	if (head)
		stall("hmac-head");
	return real->C_SignInit(s, m, k);
}

static CK_RV shim_decrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	if (fails("decrypt"))
		return CKR_DEVICE_ERROR;
	stall("decrypt");
	return real->C_DecryptInit(s, m, k);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	const char *path = getenv("P11SHIM_MODULE");
	CK_C_GetFunctionList get;
	void *dl;
	CK_RV rv;

	if (!ret)
		return CKR_ARGUMENTS_BAD;
	if (!real) {
		dl = dlopen(path ? path : SOFTHSM2_MODULE, RTLD_NOW | RTLD_LOCAL);
		if (!dl)
			return CKR_GENERAL_ERROR;
		get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
		if (!get)
			return CKR_GENERAL_ERROR;
		rv = get(&real);
		if (rv != CKR_OK)
			return rv;
		shim = *real;
		shim.C_GetFunctionList = C_GetFunctionList;
		shim.C_SignInit = shim_sign_init;
		shim.C_DecryptInit = shim_decrypt_init;
	}
	*ret = &shim;
	return CKR_OK;
}
