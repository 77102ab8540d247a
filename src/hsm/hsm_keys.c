/*
 * hsm_keys: users' keys in the token (hsm_keys.h says what they are and how they are
 * kept). Templates are built here and nowhere else, so that no path makes a key that is
 * not sensitive or that may be extracted.
 */
#include "hsm_keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_internal.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* DER OBJECT IDENTIFIERs of the curves, as CKA_EC_PARAMS wants them. */
static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t p384_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

static int ck(CK_RV rv, const char *fn)
{
	if (rv != CKR_OK)
		log_debug("PKCS#11 %s: CKR 0x%08lx", fn, (unsigned long)rv);
	return hsm_errno(rv);
}

void hsm_public_clear(struct hsm_public *p)
{
	free(p->a);
	free(p->b);
	memset(p, 0, sizeof(*p));
}

static int curve(unsigned bits, const uint8_t **ret, size_t *ret_len)
{
	if (bits == 256) {
		*ret = p256_oid;
		*ret_len = sizeof(p256_oid);
	} else if (bits == 384) {
		*ret = p384_oid;
		*ret_len = sizeof(p384_oid);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Reads one attribute into a new malloc'ed buffer. */
static int attr_read(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		     CK_ATTRIBUTE_TYPE type, uint8_t **ret, size_t *ret_len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	int r;

	r = ck(p11->C_GetAttributeValue(s, o, &a, 1), "C_GetAttributeValue");
	if (r < 0)
		return r;
	a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (!a.pValue)
		return -ENOMEM;
	r = ck(p11->C_GetAttributeValue(s, o, &a, 1), "C_GetAttributeValue");
	if (r < 0) {
		free(a.pValue);
		return r;
	}
	*ret = a.pValue;
	*ret_len = a.ulValueLen;
	return 0;
}

/* The public half of a session public-key object. CKA_EC_POINT is a DER OCTET STRING
 * around the point; the point is what leaves. */
static int public_read(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		       enum hsm_key_kind kind, struct hsm_public *ret)
{
	struct hsm_public p = { 0 };
	size_t hdr;
	int r;

	if (kind == HSM_KEY_RSA) {
		r = attr_read(p11, s, o, CKA_MODULUS, &p.a, &p.a_len);
		if (r >= 0)
			r = attr_read(p11, s, o, CKA_PUBLIC_EXPONENT, &p.b, &p.b_len);
		if (r < 0)
			goto fail;
		*ret = p;
		return 0;
	}
	r = attr_read(p11, s, o, CKA_EC_POINT, &p.a, &p.a_len);
	if (r < 0)
		goto fail;
	if (p.a_len < 2 || p.a[0] != 0x04) {
		r = -EIO;
		goto fail;
	}
	hdr = p.a[1] < 0x80 ? 2 : 2 + (p.a[1] & 0x7f);
	if (hdr >= p.a_len) {
		r = -EIO;
		goto fail;
	}
	memmove(p.a, p.a + hdr, p.a_len - hdr);
	p.a_len -= hdr;
	*ret = p;
	return 0;
fail:
	hsm_public_clear(&p);
	return r;
}

#define BOOL_ATTR(t, v)                                                                            \
	{                                                                                          \
		(t), &(v), sizeof(CK_BBOOL)                                                        \
	}

/* What every private or secret key object made here is: in the token, private, sensitive,
 * never extractable, labelled and identified. One place, so no template can forget it. */
#define KEY_OBJECT_ATTRS(yes, no, spec)                                                            \
	BOOL_ATTR(CKA_TOKEN, yes), BOOL_ATTR(CKA_PRIVATE, yes), BOOL_ATTR(CKA_SENSITIVE, yes),     \
		BOOL_ATTR(CKA_EXTRACTABLE, no),                                                    \
		{ CKA_LABEL, (void *)(spec)->label, strlen((spec)->label) },                       \
	{                                                                                          \
		CKA_ID, (void *)(spec)->id, HSM_KEY_ID_LEN                                         \
	}

static int key_generate_in(struct hsm *h, const struct hsm_key_spec *spec,
			   struct hsm_public *ret_pub)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL sign = spec->usage & HSM_USE_SIGN ? CK_TRUE : CK_FALSE;
	CK_BBOOL dec = spec->usage & HSM_USE_DECRYPT ? CK_TRUE : CK_FALSE;
	CK_BBOOL enc = spec->usage & HSM_USE_ENCRYPT ? CK_TRUE : CK_FALSE;
	CK_BBOOL wrap = spec->usage & HSM_USE_WRAP ? CK_TRUE : CK_FALSE;
	CK_BBOOL unwrap = spec->usage & HSM_USE_UNWRAP ? CK_TRUE : CK_FALSE;
	CK_ULONG bits = spec->bits, len = spec->bits / 8;
	CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	const uint8_t *oid = NULL;
	size_t oid_len = 0;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	if (spec->kind == HSM_KEY_AES) {
		CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_VALUE_LEN, &len, sizeof(len) },
			KEY_OBJECT_ATTRS(yes, no, spec),
			BOOL_ATTR(CKA_ENCRYPT, enc),
			BOOL_ATTR(CKA_DECRYPT, dec),
			BOOL_ATTR(CKA_WRAP, wrap),
			BOOL_ATTR(CKA_UNWRAP, unwrap),
			BOOL_ATTR(CKA_SIGN, no),
			BOOL_ATTR(CKA_VERIFY, no),
			BOOL_ATTR(CKA_DERIVE, no),
		};

		if (spec->bits != 256)
			return -EINVAL;
		return ck(p11->C_GenerateKey(s, &mech, tmpl, ARRAY_SIZE(tmpl), &priv),
			  "C_GenerateKey");
	}
	if (spec->kind == HSM_KEY_EC && curve(spec->bits, &oid, &oid_len) < 0)
		return -EINVAL;
	{
		CK_MECHANISM mech = { spec->kind == HSM_KEY_EC ? CKM_EC_KEY_PAIR_GEN
							       : CKM_RSA_PKCS_KEY_PAIR_GEN,
				      NULL, 0 };
		/* The public half only has to live until it is read. */
		CK_ATTRIBUTE pub_ec[] = {
			BOOL_ATTR(CKA_TOKEN, no),
			{ CKA_EC_PARAMS, (void *)oid, oid_len },
		};
		CK_ATTRIBUTE pub_rsa[] = {
			BOOL_ATTR(CKA_TOKEN, no),
			{ CKA_MODULUS_BITS, &bits, sizeof(bits) },
			{ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) },
		};
		CK_ATTRIBUTE priv_tmpl[] = {
			KEY_OBJECT_ATTRS(yes, no, spec), BOOL_ATTR(CKA_SIGN, sign),
			BOOL_ATTR(CKA_DECRYPT, dec),	 BOOL_ATTR(CKA_UNWRAP, no),
			BOOL_ATTR(CKA_DERIVE, no),
		};
		int is_ec = spec->kind == HSM_KEY_EC;

		r = ck(p11->C_GenerateKeyPair(s, &mech, is_ec ? pub_ec : pub_rsa,
					      is_ec ? ARRAY_SIZE(pub_ec) : ARRAY_SIZE(pub_rsa),
					      priv_tmpl, ARRAY_SIZE(priv_tmpl), &pub, &priv),
		       "C_GenerateKeyPair");
	}
	if (r < 0)
		return r;
	r = public_read(p11, s, pub, spec->kind, ret_pub);
	(void)ck(p11->C_DestroyObject(s, pub), "C_DestroyObject");
	if (r < 0)
		(void)ck(p11->C_DestroyObject(s, priv), "C_DestroyObject");
	return r;
}

static CK_ATTRIBUTE secret_attr(CK_ATTRIBUTE_TYPE type, const struct secbuf *b)
{
	/* the token only reads it: C_CreateObject takes no const */
	CK_ATTRIBUTE a = { type, (CK_VOID_PTR)secbuf_data(b), secbuf_len(b) };

	return a;
}

/* Makes the token object @tmpl describes, through the calling thread's session. */
static int create_object(struct hsm *h, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	CK_OBJECT_HANDLE o;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	return ck(hsm_functions(h)->C_CreateObject(s, tmpl, n, &o), "C_CreateObject");
}

static int key_import_rsa_in(struct hsm *h, const struct hsm_key_spec *spec,
			     const struct hsm_rsa_parts *k)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL sign = spec->usage & HSM_USE_SIGN ? CK_TRUE : CK_FALSE;
	CK_BBOOL dec = spec->usage & HSM_USE_DECRYPT ? CK_TRUE : CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		KEY_OBJECT_ATTRS(yes, no, spec),
		BOOL_ATTR(CKA_SIGN, sign),
		BOOL_ATTR(CKA_DECRYPT, dec),
		BOOL_ATTR(CKA_UNWRAP, no),
		BOOL_ATTR(CKA_DERIVE, no),
		secret_attr(CKA_MODULUS, k->n),
		secret_attr(CKA_PUBLIC_EXPONENT, k->e),
		secret_attr(CKA_PRIVATE_EXPONENT, k->d),
		secret_attr(CKA_PRIME_1, k->p),
		secret_attr(CKA_PRIME_2, k->q),
		secret_attr(CKA_EXPONENT_1, k->dp),
		secret_attr(CKA_EXPONENT_2, k->dq),
		secret_attr(CKA_COEFFICIENT, k->qinv),
	};

	return create_object(h, tmpl, ARRAY_SIZE(tmpl));
}

static int key_import_ec_in(struct hsm *h, const struct hsm_key_spec *spec,
			    const struct secbuf *private_value)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_EC;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	const uint8_t *oid = NULL;
	size_t oid_len = 0;
	int known = curve(spec->bits, &oid, &oid_len) == 0;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		KEY_OBJECT_ATTRS(yes, no, spec),
		BOOL_ATTR(CKA_SIGN, yes),
		BOOL_ATTR(CKA_DECRYPT, no),
		BOOL_ATTR(CKA_UNWRAP, no),
		BOOL_ATTR(CKA_DERIVE, no),
		{ CKA_EC_PARAMS, (void *)oid, oid_len },
		secret_attr(CKA_VALUE, private_value),
	};

	if (!known)
		return -EINVAL;
	return create_object(h, tmpl, ARRAY_SIZE(tmpl));
}

/* The objects with CKA_ID @id (and class @cls, unless 0): up to @max in @found. */
static int find_by_id(struct hsm *h, CK_OBJECT_CLASS cls, const uint8_t id[HSM_KEY_ID_LEN],
		      CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *ret_n)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_ID, (void *)id, HSM_KEY_ID_LEN },
		{ CKA_CLASS, &cls, sizeof(cls) },
	};
	CK_SESSION_HANDLE s;
	int r, r_final;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = ck(p11->C_FindObjectsInit(s, tmpl, cls ? 2 : 1), "C_FindObjectsInit");
	if (r < 0)
		return r;
	r = ck(p11->C_FindObjects(s, found, max, ret_n), "C_FindObjects");
	r_final = ck(p11->C_FindObjectsFinal(s), "C_FindObjectsFinal");
	return r < 0 ? r : r_final;
}

/*
 * Object handles found by id. A search walks every object of the token (SoftHSM2 reads
 * each one's attributes), which costs more than an EC signature; a handle stays valid
 * while the object lives, and one that went stale is answered CKR_*_HANDLE_INVALID
 * (-ENOKEY), when the caller forgets it and searches again.
 */
#define HANDLES 64

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t serial; /* hsm_serial() of the handle it was found through; 0: empty */
	uint8_t id[HSM_KEY_ID_LEN];
	CK_OBJECT_HANDLE o;
} handles[HANDLES]; /* protected by handles_lock */

static size_t handle_slot(const uint8_t id[HSM_KEY_ID_LEN])
{
	return (size_t)(id[0] | id[1] << 8) % HANDLES;
}

void hsm_key_forget(struct hsm *h, const uint8_t id[HSM_KEY_ID_LEN])
{
	size_t i = handle_slot(id);

	pthread_mutex_lock(&handles_lock);
	if (handles[i].serial == hsm_serial(h) && memcmp(handles[i].id, id, HSM_KEY_ID_LEN) == 0)
		handles[i].serial = 0;
	pthread_mutex_unlock(&handles_lock);
}

static int key_object_in(struct hsm *h, enum hsm_key_kind kind, const uint8_t id[HSM_KEY_ID_LEN],
			 CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_HANDLE found[2];
	size_t i = handle_slot(id);
	CK_ULONG n = 0;
	int r;

	pthread_mutex_lock(&handles_lock);
	if (handles[i].serial == hsm_serial(h) && memcmp(handles[i].id, id, HSM_KEY_ID_LEN) == 0) {
		*ret = handles[i].o;
		pthread_mutex_unlock(&handles_lock);
		return 0;
	}
	pthread_mutex_unlock(&handles_lock);
	r = find_by_id(h, kind == HSM_KEY_AES ? CKO_SECRET_KEY : CKO_PRIVATE_KEY, id, found, 2, &n);
	if (r < 0)
		return r;
	if (n != 1)
		return n == 0 ? -ENOKEY : -ENOTUNIQ;
	pthread_mutex_lock(&handles_lock);
	handles[i].serial = hsm_serial(h);
	memcpy(handles[i].id, id, HSM_KEY_ID_LEN);
	handles[i].o = found[0];
	pthread_mutex_unlock(&handles_lock);
	*ret = found[0];
	return 0;
}

static int key_destroy_in(struct hsm *h, const uint8_t id[HSM_KEY_ID_LEN])
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_OBJECT_HANDLE found[8];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	int r, count = 0;

	hsm_key_forget(h, id);
	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	do {
		r = find_by_id(h, 0, id, found, ARRAY_SIZE(found), &n);
		if (r < 0)
			return r;
		for (CK_ULONG i = 0; i < n; i++) {
			r = ck(p11->C_DestroyObject(s, found[i]), "C_DestroyObject");
			if (r < 0)
				return r;
			count++;
		}
	} while (n == ARRAY_SIZE(found));
	return count;
}

/* Key material passing through the token for wrap or unwrap: a readable session object
 * that lives only for the one call. */
#define MATERIAL_ATTRS(cls, type, yes, no)                                                         \
	{ CKA_CLASS, &(cls), sizeof(cls) }, { CKA_KEY_TYPE, &(type), sizeof(type) },               \
		BOOL_ATTR(CKA_TOKEN, no), BOOL_ATTR(CKA_PRIVATE, yes),                             \
		BOOL_ATTR(CKA_SENSITIVE, no), BOOL_ATTR(CKA_EXTRACTABLE, yes)

/* A session object holding @material, for the token to wrap. */
static int material_object(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s,
			   const struct secbuf *material, CK_OBJECT_HANDLE *ret)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		MATERIAL_ATTRS(cls, type, yes, no),
		secret_attr(CKA_VALUE, material),
	};

	return ck(p11->C_CreateObject(s, tmpl, ARRAY_SIZE(tmpl), ret), "C_CreateObject");
}

/* Wraps @material under @key into a malloc'ed *@ret. */
static int wrap_once(struct hsm *h, CK_OBJECT_HANDLE key, const struct secbuf *material,
		     uint8_t **ret, size_t *ret_len)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	r = material_object(p11, s, material, &o);
	if (r < 0)
		return r;
	r = hsm_wrap(h, key, o, ret, ret_len);
	hsm_material_destroy(h, s, o);
	return r;
}

/*
 * RFC 5649 binds the material's length (the AIV holds it), so material whose length is no
 * multiple of 8 wraps to something else than the same bytes padded with zeros. SoftHSM2
 * 2.6 pads first and wraps the padded bytes: the length is lost, and unwrap gives the
 * zeros back as material. Such a wrapping is refused (-EINVAL) rather than handed out.
 */
static int key_aes_wrap_in(struct hsm *h, CK_OBJECT_HANDLE key, const struct secbuf *material,
			   uint8_t **ret, size_t *ret_len)
{
	size_t mlen = secbuf_len(material), wlen = 0, wplen = 0;
	struct secbuf *padded = NULL;
	uint8_t *w = NULL, *wp = NULL;
	int r;

	if (mlen == 0)
		return -EINVAL;
	r = wrap_once(h, key, material, &w, &wlen);
	if (r < 0 || mlen % 8 == 0)
		goto out;
	r = secbuf_from(secbuf_data(material), mlen, &padded);
	if (r >= 0)
		r = secbuf_resize(padded, mlen + 8 - mlen % 8); /* zeros after the material */
	if (r < 0)
		goto out;
	r = wrap_once(h, key, padded, &wp, &wplen);
	if (r == 0 && wplen == wlen && memcmp(wp, w, wlen) == 0)
		r = -EINVAL;
out:
	secbuf_free(padded);
	free(wp);
	if (r < 0) {
		free(w);
		return r;
	}
	*ret = w;
	*ret_len = wlen;
	return 0;
}

static int key_aes_unwrap_in(struct hsm *h, CK_OBJECT_HANDLE key, const uint8_t *in, size_t len,
			     struct secbuf **ret)
{
	CK_FUNCTION_LIST *p11 = hsm_functions(h);
	CK_MECHANISM m = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { MATERIAL_ATTRS(cls, type, yes, no) };
	CK_ATTRIBUTE value = { CKA_VALUE, NULL, 0 };
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	struct secbuf *b = NULL;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	r = hsm_session(h, &s);
	if (r < 0)
		return r;
	rv = p11->C_UnwrapKey(s, &m, key, (CK_BYTE_PTR)in, len, tmpl, ARRAY_SIZE(tmpl), &o);
	if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
	    rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID) {
		(void)ck(rv, "C_UnwrapKey");
		return -EBADMSG;
	}
	r = ck(rv, "C_UnwrapKey");
	if (r < 0)
		return r;
	r = ck(p11->C_GetAttributeValue(s, o, &value, 1), "C_GetAttributeValue");
	if (r >= 0)
		r = secbuf_new(value.ulValueLen ? value.ulValueLen : 1, &b);
	if (r >= 0) {
		value.pValue = secbuf_mutable_data(b);
		r = ck(p11->C_GetAttributeValue(s, o, &value, 1), "C_GetAttributeValue");
	}
	hsm_material_destroy(h, s, o);
	if (r >= 0 && secbuf_set_len(b, value.ulValueLen) < 0)
		r = -EIO; /* longer than the length it gave first: a broken module */
	if (r < 0) {
		secbuf_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

/* Every entry is a call on the token, bracketed for hsm_reopen (hsm_reopen.c). */

int hsm_key_generate(struct hsm *h, const struct hsm_key_spec *spec, struct hsm_public *ret_pub)
{
	int r;

	hsm_enter(h);
	r = key_generate_in(h, spec, ret_pub);
	hsm_leave(h);
	return r;
}

int hsm_key_import_rsa(struct hsm *h, const struct hsm_key_spec *spec,
		       const struct hsm_rsa_parts *k)
{
	int r;

	hsm_enter(h);
	r = key_import_rsa_in(h, spec, k);
	hsm_leave(h);
	return r;
}

int hsm_key_import_ec(struct hsm *h, const struct hsm_key_spec *spec,
		      const struct secbuf *private_value)
{
	int r;

	hsm_enter(h);
	r = key_import_ec_in(h, spec, private_value);
	hsm_leave(h);
	return r;
}

int hsm_key_object(struct hsm *h, enum hsm_key_kind kind, const uint8_t id[HSM_KEY_ID_LEN],
		   CK_OBJECT_HANDLE *ret)
{
	int r;

	hsm_enter(h);
	r = key_object_in(h, kind, id, ret);
	hsm_leave(h);
	return r;
}

int hsm_key_destroy(struct hsm *h, const uint8_t id[HSM_KEY_ID_LEN])
{
	int r;

	hsm_enter(h);
	r = key_destroy_in(h, id);
	hsm_leave(h);
	return r;
}

int hsm_key_aes_wrap(struct hsm *h, CK_OBJECT_HANDLE key, const struct secbuf *material,
		     uint8_t **ret, size_t *ret_len)
{
	int r;

	hsm_enter(h);
	r = key_aes_wrap_in(h, key, material, ret, ret_len);
	hsm_leave(h);
	return r;
}

int hsm_key_aes_unwrap(struct hsm *h, CK_OBJECT_HANDLE key, const uint8_t *in, size_t len,
		       struct secbuf **ret)
{
	int r;

	hsm_enter(h);
	r = key_aes_unwrap_in(h, key, in, len, ret);
	hsm_leave(h);
	return r;
}
