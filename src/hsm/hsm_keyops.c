/*
 * hsm_keyops: what a user's key does inside the token — sign, RSA decrypt (PKCS#1 v1.5
 * or OAEP), AES-GCM — on an object found by hsm_key_object. Results come straight into
 * secbufs. (Wrapping makes a session object from a template, so it stays in hsm_keys.c,
 * where every template is built.)
 */
#include "hsm_keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_internal.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int ck(CK_RV rv, const char *fn)
{
	if (rv != CKR_OK)
		log_debug("PKCS#11 %s: CKR 0x%08lx", fn, (unsigned long)rv);
	return hsm_errno(rv);
}

static int key_sign_in(struct hsm *h, CK_OBJECT_HANDLE key, enum hsm_sign_mech mech,
		       const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_ULONG olen = *out_len;
	CK_SESSION_HANDLE s;
	int r;

	if (mech == HSM_SIGN_RSA_PKCS1) {
		m.mechanism = CKM_RSA_PKCS;
	} else if (mech == HSM_SIGN_RSA_PSS_SHA256) {
		m.mechanism = CKM_RSA_PKCS_PSS;
		m.pParameter = &pss;
		m.ulParameterLen = sizeof(pss);
	}
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = ck(p11->C_SignInit(s, &m, key), "C_SignInit");
	if (r < 0)
		return r;
	r = ck(p11->C_Sign(s, (CK_BYTE_PTR)in, len, out, &olen), "C_Sign");
	if (r < 0)
		return r;
	*out_len = olen;
	return 0;
}

/* C_Decrypt of @in into a new secbuf, sized by a first call. */
static int decrypt_into(struct hsm *h, CK_SESSION_HANDLE s, const uint8_t *in, size_t len,
			struct secbuf **ret)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	struct secbuf *b = NULL;
	CK_ULONG olen = 0;
	CK_RV rv;
	int r;

	rv = p11->C_Decrypt(s, (CK_BYTE_PTR)in, len, NULL, &olen);
	if (rv != CKR_OK)
		goto bad;
	r = secbuf_new(olen ? olen : 1, &b);
	if (r < 0) {
		/* The operation is still active; only a new session ends it in a
		 * PKCS#11 2.40 module. */
		hsm_session_reset(h);
		return r;
	}
	rv = p11->C_Decrypt(s, (CK_BYTE_PTR)in, len, secbuf_mutable_data(b), &olen);
	if (rv != CKR_OK) {
		secbuf_free(b);
		goto bad;
	}
	r = secbuf_set_len(b, olen); /* more than the room it asked for: a broken module */
	if (r < 0) {
		secbuf_free(b);
		return -EIO;
	}
	*ret = b;
	return 0;
bad:
	switch (rv) {
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
	case CKR_GENERAL_ERROR: /* SoftHSM2's answer to a failed GCM tag */
		(void)ck(rv, "C_Decrypt");
		return -EBADMSG;
	default:
		return ck(rv, "C_Decrypt");
	}
}

static int key_rsa_decrypt_in(struct hsm *h, CK_OBJECT_HANDLE key, int oaep, const uint8_t *label,
			      size_t label_len, const uint8_t *in, size_t len, struct secbuf **ret)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_RSA_PKCS_OAEP_PARAMS params = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED,
					   label_len ? (CK_VOID_PTR)label : NULL, label_len };
	CK_MECHANISM m = { oaep ? CKM_RSA_PKCS_OAEP : CKM_RSA_X_509, oaep ? &params : NULL,
			   oaep ? sizeof(params) : 0 };
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	rv = p11->C_DecryptInit(s, &m, key);
	if (oaep && (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
		     rv == CKR_MECHANISM_INVALID)) {
		(void)ck(rv, "C_DecryptInit");
		return -EOPNOTSUPP;
	}
	r = ck(rv, "C_DecryptInit");
	if (r < 0)
		return r;
	return decrypt_into(h, s, in, len, ret);
}

static int key_aes_gcm_in(struct hsm *h, CK_OBJECT_HANDLE key, int encrypt, const uint8_t nonce[12],
			  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
			  struct secbuf **ret)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_GCM_PARAMS params = { (CK_BYTE_PTR)nonce, 12, 96, (CK_BYTE_PTR)aad, aad_len, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &params, sizeof(params) };
	struct secbuf *b = NULL;
	CK_SESSION_HANDLE s;
	CK_ULONG olen;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	if (!encrypt) {
		r = ck(p11->C_DecryptInit(s, &m, key), "C_DecryptInit");
		return r < 0 ? r : decrypt_into(h, s, in, len, ret);
	}
	/* the output's room first: once initialised, only a call that ends it ends it */
	olen = len + 16;
	r = secbuf_new(olen, &b);
	if (r < 0)
		return r;
	r = ck(p11->C_EncryptInit(s, &m, key), "C_EncryptInit");
	if (r < 0) {
		secbuf_free(b);
		return r;
	}
	r = ck(p11->C_Encrypt(s, (CK_BYTE_PTR)in, len, secbuf_mutable_data(b), &olen), "C_Encrypt");
	if (r >= 0)
		r = secbuf_set_len(b, olen);
	if (r < 0) {
		secbuf_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int hsm_key_sign(struct hsm *h, CK_OBJECT_HANDLE key, enum hsm_sign_mech mech, const uint8_t *in,
		 size_t len, uint8_t *out, size_t *out_len)
{
	int r;

	hsm_enter(h);
	r = key_sign_in(h, key, mech, in, len, out, out_len);
	hsm_leave(h);
	return r;
}

int hsm_key_rsa_decrypt(struct hsm *h, CK_OBJECT_HANDLE key, int oaep, const uint8_t *label,
			size_t label_len, const uint8_t *in, size_t len, struct secbuf **ret)
{
	int r;

	hsm_enter(h);
	r = key_rsa_decrypt_in(h, key, oaep, label, label_len, in, len, ret);
	hsm_leave(h);
	return r;
}

int hsm_key_aes_gcm(struct hsm *h, CK_OBJECT_HANDLE key, int encrypt, const uint8_t nonce[12],
		    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
		    struct secbuf **ret)
{
	int r;

	hsm_enter(h);
	r = key_aes_gcm_in(h, key, encrypt, nonce, aad, aad_len, in, len, ret);
	hsm_leave(h);
	return r;
}
