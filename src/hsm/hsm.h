/*
 * hsm: the only module that speaks PKCS#11. It loads a token's module, logs in, and does
 * the few things the vault asks of a token: make a key-encryption key that never leaves
 * it, wrap and unwrap data keys with that key, and keep the audit trail's HMAC key.
 *
 * Every CK_RV becomes an errno here; the native code goes to the debug log. It never logs
 * a PIN or key material, and never forks. Sessions are per thread (one session may not be
 * used by two threads at once), and the module is initialised with CKF_OS_LOCKING_OK.
 */
#ifndef VAULTFS_HSM_H
#define VAULTFS_HSM_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "secbuf.h"

struct hsm;

/* Prefix of the label of a vault's key-encryption key; the vault id follows it. */
#define HSM_KEK_LABEL "vaultfs-kek"

/* Token labels are at most 32 bytes (PKCS#11 pads them with spaces). */
#define HSM_TOKEN_LABEL_MAX 32

/*
 * Initialises a fresh token in the first uninitialised slot of @module (SoftHSM2 keeps one
 * free slot) with label @label, security-officer PIN @so_pin and user PIN @user_pin.
 * Returns 0, -ENODEV when no free slot exists, -EEXIST when a token already has that
 * label, -EINVAL for a bad label or a PIN the token refuses, -ELIBACC when the module
 * cannot be loaded, -ENOMEM, or -EIO.
 */
int hsm_token_create(const char *module, const char *label, const struct secbuf *so_pin,
		     const struct secbuf *user_pin);

/*
 * Loads @module, initialises it, finds the token labelled @label and logs in as user with
 * @pin. Returns 0 and the handle in *ret, or:
 *   -ELIBACC  the module cannot be loaded or is not a PKCS#11 module
 *   -ENODEV   no token with that label (or a label longer than 32 bytes)
 *   -EACCES   wrong PIN;  -EPERM  PIN locked
 *   -EIO      any other token failure
 */
int hsm_open(const char *module, const char *label, const struct secbuf *pin, struct hsm **ret);

/* Closes this handle's sessions (the last one logs the token out) and finalises the module
 * when no other handle uses it. No other thread may be using the handle. Accepts NULL. */
void hsm_free(struct hsm *h);

/* The calling thread's session, opened on first use and closed when the thread exits. */
int hsm_session(struct hsm *h, CK_SESSION_HANDLE *ret);

/* Closes the calling thread's session, which ends any operation left active in it and
 * destroys its session objects; the thread's next hsm_session() opens a new one. */
void hsm_session_reset(struct hsm *h);

/* Destroys session object @o (CK_INVALID_HANDLE: nothing) that holds key material in the
 * clear. If the token refuses, the material must still not outlive the call: the session
 * holding it (the calling thread's, @s) is closed, which destroys it. */
void hsm_material_destroy(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o);

/* A number naming this handle alone for the life of the process, even after it is freed
 * and another takes its address: what caches of object handles are keyed by, since a
 * module finalised and initialised again may give the same handle to another object. */
uint64_t hsm_serial(const struct hsm *h);

/* The module's function list, for callers (tests, key operations) that need raw calls. */
CK_FUNCTION_LIST *hsm_functions(struct hsm *h);

/*
 * Generates a token-resident AES-256 key labelled @label that may only wrap and unwrap:
 * CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true; CKA_EXTRACTABLE, CKA_ENCRYPT, CKA_DECRYPT false.
 * Returns -EEXIST if a secret key with that label already exists.
 */
int hsm_kek_create(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret);

/* Length of an hsm_mac result: HMAC-SHA-256. */
#define HSM_MAC_LEN 32

/*
 * Generates a token-resident 32-byte generic secret labelled @label that may only sign
 * and verify (HMAC): sensitive, never extractable, not modifiable. -EEXIST if a secret key
 * with that label already exists.
 */
int hsm_mac_key_create(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret);

/* HMAC-SHA-256 of @len bytes at @data under @key, computed inside the token. */
int hsm_mac(struct hsm *h, CK_OBJECT_HANDLE key, const void *data, size_t len,
	    uint8_t out[HSM_MAC_LEN]);

/* Finds the one secret-key object labelled @label: -ENOKEY if none, -ENOTUNIQ if several. */
int hsm_key_find(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret);

/*
 * Makes a new 32-byte data key with the token's generator and wraps it under @kek with
 * CKM_AES_KEY_WRAP_PAD (RFC 5649). Returns the key in *ret_key and the wrapped form,
 * malloc'ed, in *ret_wrapped. The temporary object is destroyed before returning.
 */
int hsm_datakey_new(struct hsm *h, CK_OBJECT_HANDLE kek, struct secbuf **ret_key,
		    uint8_t **ret_wrapped, size_t *ret_wrapped_len);

/* Unwraps what hsm_datakey_new wrapped. A damaged or foreign blob gives -EBADMSG. */
int hsm_datakey_unwrap(struct hsm *h, CK_OBJECT_HANDLE kek, const uint8_t *wrapped,
		       size_t wrapped_len, struct secbuf **ret_key);

/* Wraps @key under @wrapping with CKM_AES_KEY_WRAP_PAD (RFC 5649) on the calling thread's
 * session: the wrapped bytes, malloc'ed, in *ret. */
int hsm_wrap(struct hsm *h, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, uint8_t **ret,
	     size_t *ret_len);

/*
 * The module's object behind a handle of hsm_key_find, hsm_kek_create or
 * hsm_mac_key_create, for callers that make raw calls (tests); CK_INVALID_HANDLE if @key
 * names none. Those handles name a key by its label, so that they outlive hsm_reopen.
 */
CK_OBJECT_HANDLE hsm_key_handle(struct hsm *h, CK_OBJECT_HANDLE key);

/*
 * Holds off hsm_reopen while the caller uses object handles it found through @h
 * (hsm_key_object): a reopen may give an old handle to another object, so a handle is
 * used only inside the hold it was found in. Holds nest; each hsm_hold needs its release.
 */
void hsm_hold(struct hsm *h);
void hsm_release(struct hsm *h);

/* 1 if a call found the token, or this handle's sessions on it, gone since the handle was
 * opened or last reopened: hsm_reopen is due. */
int hsm_lost(struct hsm *h);

/*
 * Starts the module again and logs in afresh, for a token that went away and came back
 * (SoftHSM2 forgets a token whose directory disappeared until it is initialised again).
 * Waits, at most @wait_ms, for the calls on @h in progress to end and holds new ones off
 * meanwhile; then finalises and initialises the module, finds the token by its label,
 * logs in with the PIN given to hsm_open and finds every named key again. Every thread's
 * session is opened anew at its next call, and hsm_serial changes, so object handles
 * cached under the old serial are found again. Returns 0 (the handle is no longer lost),
 * or -ETIMEDOUT (calls still in the token), -EBUSY (another handle in the process uses the
 * module, or someone else initialised it), -ENODEV (the token is not back yet), or the
 * errno of the login; on failure the handle stays lost, and a later call may try again.
 * The caller holds whatever cross-process guard the token needs around a login.
 */
int hsm_reopen(struct hsm *h, int wait_ms);

/* Maps a PKCS#11 return value to a negative errno. */
int hsm_errno(CK_RV rv);

#endif
