/*
 * Identifier normalisation as PostgreSQL's scanner and parser do it
 * (downcase_truncate_identifier, str_udeescape, truncate_identifier); see
 * sqlname.h.
 */
#include "proto/sqlname.h"

#include <string.h>

struct namebuf {
	char *buf;
	size_t len;
	bool full;              /* a character did not fit: nothing more goes in */
};

/* pg_utf_mblen: the length a UTF-8 lead byte announces (1 if none). */
static size_t utf8_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1;
}

/* One character of n bytes, whole or not at all. */
static void put_char(struct namebuf *nb, const uint8_t *c, size_t n)
{
	if (nb->full || nb->len + n > LP_SQLNAME_MAX) {
		nb->full = true;
		return;
	}
	memcpy(nb->buf + nb->len, c, n);
	nb->len += n;
}

/* Raw bytes, character by character; fold: lower-case ASCII letters. */
static void put_bytes(struct namebuf *nb, const uint8_t *c, size_t n, bool fold)
{
	size_t i = 0, len = nb->len;   /* a local: stores through buf may alias nb */
	char *buf = nb->buf;

	while (i < n && !nb->full) {
		size_t l;

		if (c[i] < 0x80) {      /* the usual name: one byte at a time, inline */
			uint8_t b = c[i++];

			if (len >= LP_SQLNAME_MAX) {
				nb->full = true;
				break;
			}
			if (fold && (unsigned)(b - 'A') < 26u)
				b |= 0x20;
			buf[len++] = (char)b;
			continue;
		}
		nb->len = len;
		l = utf8_len(c[i]);
		if (l > n - i)
			l = n - i;
		put_char(nb, c + i, l);
		len = nb->len;
		i += l;
	}
	nb->len = len;
}

static void put_codepoint(struct namebuf *nb, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (cp >> 18));
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	put_char(nb, u, n);
}

static bool hex_digits(const uint8_t *c, size_t n, uint32_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = c[i], l = b | 0x20;

		if (b >= '0' && b <= '9')
			*v = (*v << 4) | (uint32_t)(b - '0');
		else if (l >= 'a' && l <= 'f')
			*v = (*v << 4) | (uint32_t)(l - 'a' + 10);
		else
			return false;
	}
	return true;
}

size_t lp_sqlname_plain(char *out, const uint8_t *w, size_t n)
{
	struct namebuf nb = { out, 0, false };

	put_bytes(&nb, w, n, true);
	out[nb.len] = '\0';
	return nb.len;
}

size_t lp_sqlname_quoted(char *out, const uint8_t *c, size_t n)
{
	struct namebuf nb = { out, 0, false };
	size_t i = 0;

	while (i < n && !nb.full) {
		const uint8_t *q = memchr(c + i, '"', n - i);
		size_t run = q != NULL ? (size_t)(q - c) - i : n - i;

		put_bytes(&nb, c + i, run, false);
		i += run;
		if (q != NULL) {
			put_char(&nb, q, 1);
			i += 2;
		}
	}
	out[nb.len] = '\0';
	return nb.len;
}

/* As str_udeescape; goes on validating after the name is full, since an
 * error anywhere refuses the statement. */
bool lp_sqlname_unicode(char *out, size_t *len, const uint8_t *c, size_t n, uint8_t esc)
{
	struct namebuf nb = { out, 0, false };
	uint32_t first = 0;     /* a UTF-16 high surrogate waiting for its pair */
	size_t i = 0;

	*len = 0;
	out[0] = '\0';
	while (i < n) {
		uint32_t cp;

		if (c[i] != esc) {
			size_t l = c[i] == '"' ? 2 : utf8_len(c[i]);

			if (first != 0)
				return false;
			if (l > n - i)
				l = n - i;
			put_char(&nb, c + i, c[i] == '"' ? 1 : l);
			i += l;
			continue;
		}
		if (i + 1 < n && c[i + 1] == esc) {
			if (first != 0)
				return false;
			put_char(&nb, &esc, 1);
			i += 2;
			continue;
		}
		if (n - i >= 5 && hex_digits(c + i + 1, 4, &cp))
			i += 5;
		else if (n - i >= 8 && c[i + 1] == '+' && hex_digits(c + i + 2, 6, &cp))
			i += 8;
		else
			return false;
		if (cp == 0 || cp > 0x10ffff)
			return false;
		if (first != 0) {
			if (cp < 0xdc00 || cp > 0xdfff)
				return false;
			cp = 0x10000 + ((first - 0xd800) << 10) + (cp - 0xdc00);
			first = 0;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return false;
		} else if (cp >= 0xd800 && cp <= 0xdbff) {
			first = cp;
			continue;
		}
		put_codepoint(&nb, cp);
	}
	if (first != 0)
		return false;
	out[nb.len] = '\0';
	*len = nb.len;
	return true;
}
