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
 * tags), sign (C_SignInit with any other mechanism: keys/NAME/sign), decrypt
 * (C_DecryptInit). No file, or no line for a class: no delay.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST_PTR real;

/* The delay the control file sets for @class now, in ms; 0 for none. */
static long delay_ms(const char *class)
{
	const char *path = getenv("P11SHIM_CTL");
	char line[128], name[32];
	long ms = 0, v;
	FILE *f;

	if (!path || !(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %ld", name, &v) == 2 && strcmp(name, class) == 0)
			ms = v;
	fclose(f);
	return ms;
}

static void stall(const char *class)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };
	long waited = 0;

	while (waited < delay_ms(class)) {
		nanosleep(&step, NULL);
		waited += 20;
	}
}

static CK_RV shim_sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	stall(m && m->mechanism == CKM_SHA256_HMAC ? "hmac" : "sign");
	return real->C_SignInit(s, m, k);
}

static CK_RV shim_decrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
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
