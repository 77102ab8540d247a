/*
 * audit_format: the bytes of a record up to its MAC — every field in the order
 * audit_internal.h gives, each string escaped so that the file itself is safe to read and
 * one record can never look like two. It writes into the caller's buffer and never past
 * it; it knows nothing of files, locks or keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "timeutil.h"

#define FIELD_MAX 4096 /* an escaped exe, cgroup or detail is cut at this */

void audit_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A line being built in a fixed buffer; overflow is remembered, never written past. */
struct out {
	char *buf;
	size_t len, cap;
	int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);

	put(o, b, (size_t)n);
}

/*
 * A JSON string, or null. Control characters, and every code point a terminal would act
 * on or not show (audit_cp_hidden: C1, bidi controls, U+2028...), are \u-escaped, so the
 * file itself is safe to read; bytes that are not UTF-8 (a path may hold any) are written
 * as the four characters \xHH, escaped so that JSON keeps them: "\\xff". Past FIELD_MAX
 * output bytes the string is cut and ends with "...".
 */
static void put_str(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, start = o->len;

	if (!s) {
		puts_(o, "null");
		return;
	}
	put(o, "\"", 1);
	n = strlen(s);
	while (n > 0 && !o->overflow) {
		uint32_t cp = 0;
		size_t k = audit_utf8(p, n, &cp);
		char esc[16];

		if (o->len - start > FIELD_MAX) {
			puts_(o, "...");
			break;
		}
		if (k == 0) {
			snprintf(esc, sizeof(esc), "\\\\x%02x", *p);
			puts_(o, esc);
			k = 1;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(o, esc, 2);
		} else if (cp > 0xffff && audit_cp_hidden(cp)) {
			/* JSON names code points past the BMP as a UTF-16 surrogate pair */
			snprintf(esc, sizeof(esc), "\\u%04x\\u%04x",
				 0xd800 + ((cp - 0x10000) >> 10),
				 0xdc00 + ((cp - 0x10000) & 0x3ff));
			puts_(o, esc);
		} else if (audit_cp_hidden(cp)) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			puts_(o, esc);
		} else {
			put(o, (const char *)p, k);
		}
		p += k;
		n -= k;
	}
	put(o, "\"", 1);
}

static void put_time(struct out *o)
{
	char t[TIME_RFC3339_MAX];

	time_format(time_now_us(), 1, t);
	put(o, "\"", 1);
	puts_(o, t);
	put(o, "\"", 1);
}

static void put_result(struct out *o, int result)
{
	const char *name;

	if (result == 0) {
		put(o, "0", 1);
		return;
	}
	name = strerrorname_np(result);
	if (name) {
		put(o, "\"", 1);
		puts_(o, name);
		put(o, "\"", 1);
	} else {
		put_u64(o, (uint64_t)result);
	}
}

/* The record's bytes up to and including its "key" field: what the MAC covers. */
size_t audit_format_body(char *buf, size_t size, const struct audit_event *ev, uint64_t seq,
			 const uint8_t *prev, const uint8_t nonce[AUDIT_NONCE_LEN])
{
	struct out o = { buf, 0, size - (9 + 2 * AUDIT_MAC_LEN + 3), 0 };
	char h[2 * AUDIT_MAC_LEN + 1];

	puts_(&o, "{\"seq\":");
	put_u64(&o, seq);
	puts_(&o, ",\"time\":");
	put_time(&o);
	puts_(&o, ",\"uid\":");
	put_u64(&o, ev->uid);
	puts_(&o, ",\"gid\":");
	put_u64(&o, ev->gid);
	puts_(&o, ",\"pid\":");
	put_u64(&o, (uint64_t)ev->pid);
	puts_(&o, ",\"exe\":");
	put_str(&o, ev->exe);
	puts_(&o, ",\"cgroup\":");
	put_str(&o, ev->cgroup);
	puts_(&o, ",\"op\":");
	put_str(&o, ev->op);
	puts_(&o, ",\"path\":");
	put_str(&o, ev->path);
	puts_(&o, ",\"version\":");
	if (ev->version)
		put_u64(&o, ev->version);
	else
		puts_(&o, "null");
	puts_(&o, ev->allow ? ",\"decision\":\"allow\"" : ",\"decision\":\"deny\"");
	puts_(&o, ",\"rule\":");
	put_str(&o, ev->rule);
	puts_(&o, ",\"result\":");
	put_result(&o, ev->result);
	if (ev->detail) {
		puts_(&o, ",\"detail\":");
		put_str(&o, ev->detail);
	}
	if (ev->undoes) {
		puts_(&o, ",\"undoes\":");
		put_u64(&o, ev->undoes);
	}
	if (prev) {
		audit_hex(prev, AUDIT_MAC_LEN, h);
		puts_(&o, ",\"prev\":\"");
		puts_(&o, h);
		puts_(&o, "\"");
	}
	audit_hex(nonce, AUDIT_NONCE_LEN, h);
	puts_(&o, ",\"key\":\"");
	puts_(&o, h);
	puts_(&o, "\"");
	/* every field is bounded well below the buffer: overflow is a bug, not input */
	if (o.overflow)
		abort();
	return o.len;
}
