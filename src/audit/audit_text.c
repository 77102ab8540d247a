/*
 * audit_text: which characters of a record's fields may reach a person's terminal as they
 * are, and how the others are shown.
 *
 * A field holds what a caller chose (the path of the program it runs, its cgroup, a name
 * it asked for), so it may hold any byte. Shown raw, a newline or carriage return makes
 * one record print as two, an escape sequence drives the terminal, and a bidi override
 * reorders what follows. The writer escapes these in the file (audit.c) and `audit tail`
 * escapes them again in whatever it reads, since it trusts nothing in the file. Nothing
 * here may ever let such a character through, or show two different fields the same.
 */
#include "audit_internal.h"

#include <stdio.h>
#include <string.h>

size_t audit_utf8(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*ret_cp = cp;
	return len;
}

/*
 * Code points that are not shown as what they are: controls (C0, DEL, C1); format
 * characters, the bidi embeddings, overrides, isolates and marks among them; the line and
 * paragraph separators; the default-ignorable code points, which display as nothing (so
 * two names would look the same); private use and non-characters, which have no glyph of
 * their own. From Unicode 15's Cc, Cf, Zl, Zp, Co and Default_Ignorable_Code_Point.
 */
static const struct {
	uint32_t lo, hi;
} hidden[] = {
	{ 0x0000, 0x001f },   { 0x007f, 0x009f },    { 0x00ad, 0x00ad },   { 0x034f, 0x034f },
	{ 0x0600, 0x0605 },   { 0x061c, 0x061c },    { 0x06dd, 0x06dd },   { 0x070f, 0x070f },
	{ 0x0890, 0x0891 },   { 0x08e2, 0x08e2 },    { 0x115f, 0x1160 },   { 0x17b4, 0x17b5 },
	{ 0x180b, 0x180f },   { 0x200b, 0x200f },    { 0x2028, 0x202e },   { 0x2060, 0x206f },
	{ 0x3164, 0x3164 },   { 0xe000, 0xf8ff },    { 0xfdd0, 0xfdef },   { 0xfe00, 0xfe0f },
	{ 0xfeff, 0xfeff },   { 0xffa0, 0xffa0 },    { 0xfff0, 0xfffb },   { 0x110bd, 0x110bd },
	{ 0x110cd, 0x110cd }, { 0x13430, 0x1343f },  { 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
	{ 0xe0000, 0xe0fff }, { 0xf0000, 0x10ffff },
};

int audit_cp_hidden(uint32_t cp)
{
	if ((cp & 0xfffe) == 0xfffe) /* U+FFFE, U+FFFF and their twins in every plane */
		return 1;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		if (cp < hidden[i].lo)
			return 0;
		if (cp <= hidden[i].hi)
			return 1;
	}
	return 0;
}

size_t audit_escape(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (n > 0) {
		uint32_t cp = 0;
		size_t k = audit_utf8(p, n, &cp);

		if (k == 0) {
			o += (size_t)sprintf(out + o, "\\x%02x", *p);
			k = 1;
		} else if (cp == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			out[o++] = '\\';
			out[o++] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
		} else if (cp < 0x20 || cp == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", cp);
		} else if (audit_cp_hidden(cp)) {
			o += (size_t)sprintf(out + o, cp > 0xffff ? "\\U%08x" : "\\u%04x", cp);
		} else {
			memcpy(out + o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	out[o] = '\0';
	return o;
}
