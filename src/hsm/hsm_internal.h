/*
 * hsm_internal: what the files of the hsm module share and nothing else may see — the
 * handle's layout, the module's reference count, and the bracket around every call on the
 * token that lets hsm_reopen.c start the module again under the callers' feet.
 */
#ifndef VAULTFS_HSM_INTERNAL_H
#define VAULTFS_HSM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "hsm.h"

/* One per module loaded in this process, shared by all its handles. */
struct module {
	CK_FUNCTION_LIST *p11;
	unsigned users; /* protected by the module list's lock (hsm.c) */
	int finalize; /* our C_Initialize succeeded: the last user calls C_Finalize */
	int down; /* finalised by hsm_module_restart, whose C_Initialize then failed */
	struct module *next;
};

/* What a handle holds of a loaded module. */
struct lib {
	void *dl;
	CK_FUNCTION_LIST *p11;
	struct module *mod;
};

struct thread_session {
	struct hsm *h;
	/* CK_INVALID_HANDLE after hsm_reopen: the thread's next hsm_session opens a new one.
	 * Written by its thread, or by hsm_reopen with h->use held for writing. */
	CK_SESSION_HANDLE session;
	struct thread_session *next; /* protected by h->lock */
};

/* A token key the vault found by its label: what the handles of hsm_key_find stand for. */
#define HSM_NAMED_MAX 16
#define HSM_LABEL_MAX 128
struct named_key {
	char label[HSM_LABEL_MAX];
	CK_OBJECT_HANDLE o; /* the object now; CK_INVALID_HANDLE until found again */
};

struct hsm {
	struct lib lib;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE anchor; /* never used for work: it only keeps the login */
	pthread_key_t key; /* the calling thread's struct thread_session */
	int key_made;
	pthread_mutex_t lock;
	struct thread_session *sessions; /* protected by lock: every live thread's session */
	atomic_uint_fast64_t serial; /* unique in the process, never reused; new at each reopen */

	/* Read by every call on the token (hsm_enter), written by hsm_reopen: the module is
	 * never finalised under a call. Writers are preferred, so a reopen is not starved. */
	pthread_rwlock_t use;
	atomic_int lost; /* a call saw the token gone since the last (re)open */
	CK_UTF8CHAR padded[HSM_TOKEN_LABEL_MAX];
	struct secbuf *pin; /* kept to log in again at hsm_reopen */

	struct named_key named[HSM_NAMED_MAX]; /* protected by lock */
	unsigned n_named; /* protected by lock */
};

/* A CK_RV that is not CKR_OK goes to the debug log with the function's name; a return
 * value that says the token or its sessions are gone is noted for hsm_leave. */
CK_RV hsm_logged(CK_RV rv, const char *fn);

/* hsm_errno(hsm_logged(rv, fn)). */
int hsm_ck(CK_RV rv, const char *fn);

/* The object that named-key handle @k stands for now: -ENOKEY if @k names none. */
int hsm_named_object(struct hsm *h, CK_OBJECT_HANDLE k, CK_OBJECT_HANDLE *ret);

/* hsm_module.c. Notes, for the calling thread's hsm_leave, that a call found the token or
 * our sessions on it gone; hsm_gone_take says whether one did since it last asked, and
 * forgets it. */
void hsm_note_gone(void);
int hsm_gone_take(void);

/* Loads the module at @path and takes a reference on its process-wide initialisation
 * (-ELIBACC if it is no PKCS#11 module); hsm_lib_unload gives both back. */
int hsm_lib_load(const char *path, struct lib *ret);
void hsm_lib_unload(struct lib *l);

/* @label (at most HSM_TOKEN_LABEL_MAX bytes) padded with spaces, as PKCS#11 keeps it. */
void hsm_pad_label(const char *label, CK_UTF8CHAR out[HSM_TOKEN_LABEL_MAX]);

/* hsm_session.c. A thread's exit: its session goes with it (the key's destructor). */
void hsm_thread_session_close(void *p);

/* Notes the token gone when @rv refuses the object behind a named-key handle as invalid:
 * a named key is never destroyed, so its token was loaded again under us. */
void hsm_named_refused(CK_RV rv);

/* hsm_ck for a call on a named key: hsm_named_refused, then the errno. */
int hsm_named_ck(CK_RV rv, const char *fn);

/* hsm_use.c. 1 if the calling thread is inside a call on @h. */
int hsm_entered(const struct hsm *h);

/*
 * Brackets every call on the token: hsm_enter takes h->use for reading (once per thread,
 * however deeply calls nest), hsm_leave lets it go and, when a call in between found the
 * token gone, marks @h lost for the next hsm_reopen.
 */
void hsm_enter(struct hsm *h);
void hsm_leave(struct hsm *h);

/* Adds (or finds) @label in the named keys with object @o; the handle in *ret. */
int hsm_named_add(struct hsm *h, const char *label, CK_OBJECT_HANDLE o, CK_OBJECT_HANDLE *ret);

/* The slot of the initialised token with label @padded, or -ENODEV. */
int hsm_find_token(CK_FUNCTION_LIST *p11, const CK_UTF8CHAR *padded, CK_SLOT_ID *ret);

/* Opens the anchor session of @h on its token and logs in with h->pin. */
int hsm_login(struct hsm *h);

/* The one secret key labelled @label, as the handle the module gave it: -ENOKEY if none,
 * -ENOTUNIQ if several. */
int hsm_find_label(struct hsm *h, const char *label, CK_OBJECT_HANDLE *ret);

/* Finalises and initialises again the module of @l, which must have no other user in the
 * process and have been initialised by us: -EBUSY if not, -ELIBACC if it will not start. */
int hsm_module_restart(struct lib *l);

/* A new serial number, unique in the process. */
uint64_t hsm_serial_next(void);

#endif
