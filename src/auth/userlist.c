/*
 * auth_file reader; see userlist.h. The format is PgBouncer's: each line
 * holds "user" "secret" and any further fields are ignored. Entries are
 * kept sorted by name so a login looks its user up in O(log n).
 *
 * A malformed line makes the whole file invalid: every such line is reported
 * and nothing is handed back, so a caller never runs with the users of half
 * a file (PgBouncer logs "broken auth file" and keeps the lines before it;
 * a user further down would be locked out without notice).
 *
 * Duplicate user names: the later line wins (as PgBouncer, which overwrites
 * the earlier password while loading), and the duplicate is reported in diag
 * as a warning so an operator sees the shadowed line. Diagnostics never quote
 * a line: a malformed line may well hold a password.
 *
 * Bounds: a line may be at most LINE_MAX_BYTES long, a secret at most
 * SECRET_MAX_BYTES, the whole file at most FILE_MAX_BYTES; NUL bytes make a
 * line malformed. Secrets are wiped before their memory is freed.
 */
#include "auth/userlist.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Above any line PgBouncer reads (it caps a secret at 65530 bytes, a
 * name at 127), so a file it takes is never refused for its length. */
#define LINE_MAX_BYTES (1024 * 1024)
#define SECRET_MAX_BYTES 65535
#define FILE_MAX_BYTES (256u * 1024 * 1024)
#define NAME_SHOW_MAX 64                 /* how much of a name a diagnostic shows */

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void entries_free(struct lp_userlist_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		wipe_free(v[i].secret);
	}
	free(v);
}

/*
 * Reads one quoted field at *pp (inside [*pp, end)). "" is a literal quote.
 * Returns a malloc'd string with its length in *out_len, or NULL with *why
 * (why == NULL: out of memory).
 */
static char *read_quoted(const char **pp, const char *end, size_t max, size_t *out_len,
			 const char **why)
{
	const char *p = *pp;
	char *buf = NULL;
	size_t n = 0;

	*why = NULL;
	if (p >= end || *p != '"') {
		*why = "expected a double-quoted field";
		return NULL;
	}
	p++;
	/* Unquoting only shrinks: the raw span bounds the result. */
	buf = malloc((size_t)(end - p) + 1);
	if (!buf)
		return NULL;
	for (;;) {
		if (p >= end) {
			*why = "unterminated double quote";
			goto fail;
		}
		if (*p == '"') {
			if (p + 1 < end && p[1] == '"') {
				p += 2;
				buf[n++] = '"';
				continue;
			}
			p++;
			break;
		}
		buf[n++] = *p++;
	}
	if (n > max) {
		*why = "field too long";
		goto fail;
	}
	buf[n] = '\0';
	*pp = p;
	*out_len = n;
	return buf;
fail:
	explicit_bzero(buf, n);
	free(buf);
	return NULL;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Parses one line; 1 = entry made, 0 = comment/blank, 2 = malformed (reported),
 * -1 = OOM. */
static int parse_line(const char *line, size_t len, const char *file, int lineno,
		      struct lp_userlist_entry *e, struct lp_diag *diag)
{
	const char *p = line, *end = line + len;
	const char *why;
	char *name = NULL, *secret = NULL;
	size_t name_len = 0, secret_len = 0;

	if (len > 0 && line[len - 1] == '\r')
		end--;
	/* Even in a comment: the ini and auth_hba_file readers refuse it too. */
	if (memchr(line, '\0', len)) {
		lp_diag_add(diag, file, lineno, "NUL byte in line");
		return 2;
	}
	p = skip_ws(p, end);
	if (p == end || *p == ';' || *p == '#')
		return 0;
	if (len > LINE_MAX_BYTES) {
		lp_diag_add(diag, file, lineno, "line longer than %d bytes", LINE_MAX_BYTES);
		return 2;
	}
	name = read_quoted(&p, end, LINE_MAX_BYTES, &name_len, &why);
	if (!name)
		goto bad;
	if (name_len == 0) {
		why = "empty user name";
		goto bad;
	}
	/* Separator required: "a""b" would otherwise read as one field. */
	if (p < end && *p != ' ' && *p != '\t') {
		why = "expected white space after the user name";
		goto bad;
	}
	p = skip_ws(p, end);
	secret = read_quoted(&p, end, SECRET_MAX_BYTES, &secret_len, &why);
	if (!secret)
		goto bad;
	/* Further fields are ignored, as PgBouncer does, but must start apart. */
	if (p < end && *p != ' ' && *p != '\t') {
		why = "expected white space after the secret";
		goto bad;
	}
	e->name = name;
	e->secret = secret;
	e->line = lineno;
	return 1;
bad:
	free(name);
	wipe_free(secret);
	if (!why)
		return -1;
	lp_diag_add(diag, file, lineno, "malformed auth_file line (%s)", why);
	return 2;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct lp_userlist_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

int lp_userlist_parse(const char *text, size_t len, const char *file, struct lp_userlist *out,
		      struct lp_diag *diag)
{
	struct lp_userlist_entry *v = NULL;
	size_t n = 0, cap = 0, pos = 0, w;
	int lineno = 0, bad = 0;

	if (!text && len)
		return -1;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		int r;

		pos += llen + (nl ? 1 : 0);
		if (lineno == INT_MAX)
			break;
		lineno++;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct lp_userlist_entry *nv = realloc(v, ncap * sizeof(*nv));
			if (!nv)
				goto fail;
			v = nv;
			cap = ncap;
		}
		r = parse_line(line, llen, file, lineno, &v[n], diag);
		if (r < 0)
			goto fail;
		if (r == 2)
			bad++;
		else
			n += (size_t)r;
	}
	if (bad) {
		entries_free(v, n);
		return -1;
	}

	/* Sort by (name, line) so equal names are adjacent in file order; keep the last. */
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_entry);
	w = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(v[i].name, v[i + 1].name) == 0) {
			lp_diag_add(diag, file, v[i].line,
				    "user \"%.*s\" appears again on line %d; the later entry is used",
				    NAME_SHOW_MAX, v[i].name, v[i + 1].line);
			free(v[i].name);
			wipe_free(v[i].secret);
			continue;
		}
		v[w++] = v[i];
	}
	n = w;

	lp_userlist_free(out);
	out->v = v;
	out->n = n;
	return 0;
fail:
	entries_free(v, n);
	lp_diag_add(diag, file, 0, "out of memory reading auth_file");
	return -1;
}

int lp_userlist_load(const char *path, struct lp_userlist *out, struct lp_diag *diag)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;

	f = fopen(path, "r");
	if (!f) {
		lp_diag_add(diag, path, 0, "cannot open auth_file: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			char *nb;

			if (cap >= FILE_MAX_BYTES) {
				lp_diag_add(diag, path, 0, "auth_file larger than %u bytes", FILE_MAX_BYTES);
				goto fail;
			}
			nb = malloc(ncap);
			if (!nb) {
				lp_diag_add(diag, path, 0, "out of memory reading auth_file");
				goto fail;
			}
			/* Copy by hand rather than realloc so the old block can be wiped. */
			if (buf) {
				memcpy(nb, buf, len);
				explicit_bzero(buf, cap);
				free(buf);
			}
			buf = nb;
			cap = ncap;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				lp_diag_add(diag, path, 0, "cannot read auth_file: %s", strerror(errno));
				goto fail;
			}
			break;
		}
	}
	rc = lp_userlist_parse(buf, len, path, out, diag);
fail:
	if (f)
		fclose(f);
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	return rc;
}

const struct lp_userlist_entry *lp_userlist_find(const struct lp_userlist *ul, const char *name)
{
	size_t lo = 0, hi;

	if (!ul || !name)
		return NULL;
	hi = ul->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ul->v[mid].name);

		if (c == 0)
			return &ul->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void lp_userlist_free(struct lp_userlist *ul)
{
	if (!ul)
		return;
	entries_free(ul->v, ul->n);
	ul->v = NULL;
	ul->n = 0;
}
