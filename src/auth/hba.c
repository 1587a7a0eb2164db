/*
 * auth_hba_file parser and matcher; see hba.h for the accepted syntax.
 *
 * A line is split into fields on blanks; a field is a comma list of
 * tokens, and a field ending in ',' continues into the next word (as in
 * "db1, db2"). A token in double quotes is literal: "all" is a name, and
 * quoting keeps blanks and commas. Every token is bounded, every line too.
 */
#include "auth/hba.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define MAX_LINE 8192                   /* after joining continuations */
#define MAX_TOKEN 256                   /* PostgreSQL's NAMEDATALEN is 64 */
#define MAX_TOKENS 64                   /* per line */
#define MAX_FILE_BYTES (4 * 1024 * 1024)

struct token {
	char *s;
	bool quoted;
	bool last_in_field;             /* end of a comma list */
};

struct line_toks {
	struct token t[MAX_TOKENS];
	int n;
};

static void toks_free(struct line_toks *lt)
{
	for (int i = 0; i < lt->n; i++)
		free(lt->t[i].s);
	lt->n = 0;
}

/* Splits one logical line into tokens. Returns 0, or -1 with why. */
static int tokenize(const char *p, const char *end, struct line_toks *lt, const char **why)
{
	lt->n = 0;
	for (;;) {
		char buf[MAX_TOKEN + 1];
		size_t n = 0;
		bool quoted = false, in_q = false, any = false;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end || *p == '#')
			return 0;
		while (p < end) {
			char ch = *p;
			if (in_q) {
				p++;
				if (ch == '"') {
					in_q = false;
					continue;
				}
			} else {
				if (ch == ' ' || ch == '\t' || ch == '\r' || ch == ',' || ch == '#')
					break;
				p++;
				if (ch == '"') {
					in_q = quoted = any = true;
					continue;
				}
			}
			if (n >= MAX_TOKEN) {
				*why = "token too long";
				return -1;
			}
			buf[n++] = ch;
			any = true;
		}
		if (in_q) {
			*why = "unterminated quoted string";
			return -1;
		}
		if (!any) {
			*why = "empty list item";
			return -1;
		}
		if (lt->n >= MAX_TOKENS) {
			*why = "too many fields";
			return -1;
		}
		buf[n] = '\0';
		struct token *t = &lt->t[lt->n];
		t->s = strdup(buf);
		if (!t->s) {
			*why = "out of memory";
			return -1;
		}
		t->quoted = quoted;
		t->last_in_field = true;
		lt->n++;
		if (p < end && *p == ',') {
			/* The list goes on, possibly after blanks. */
			t->last_in_field = false;
			p++;
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
				p++;
			if (p == end || *p == '#') {
				*why = "list ends with a comma";
				return -1;
			}
		}
	}
}

/* Consumes one field (a comma list) from lt starting at *i. */
static int field_end(const struct line_toks *lt, int i)
{
	while (i < lt->n && !lt->t[i].last_in_field)
		i++;
	return i < lt->n ? i + 1 : -1;
}

static bool kw(const struct token *t, const char *word)
{
	return !t->quoted && strcmp(t->s, word) == 0;
}

/* Fills a name list; all_flag for an unquoted "all". */
static int name_list(const struct line_toks *lt, int from, int to, bool db, bool *all_flag,
		     char ***out, int *nout, const char **why)
{
	char **v = calloc((size_t)(to - from), sizeof(*v));
	int n = 0;

	if (!v) {
		*why = "out of memory";
		return -1;
	}
	*all_flag = false;
	for (int i = from; i < to; i++) {
		const struct token *t = &lt->t[i];
		if (kw(t, "all")) {
			*all_flag = true;
			continue;
		}
		if (!t->quoted && (t->s[0] == '@' || t->s[0] == '+' ||
				   (db && (strcmp(t->s, "replication") == 0 ||
					   strcmp(t->s, "samerole") == 0 || strcmp(t->s, "samegroup") == 0 ||
					   strcmp(t->s, "sameuser") == 0)))) {
			*why = db ? "unsupported database keyword (only names and all)"
				  : "unsupported user keyword (only names and all)";
			goto fail;
		}
		v[n] = strdup(t->s);
		if (!v[n]) {
			*why = "out of memory";
			goto fail;
		}
		n++;
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

static int prefix_mask(int family, long bits, uint8_t mask[16])
{
	int max = family == AF_INET ? 32 : 128;

	if (bits < 0 || bits > max)
		return -1;
	memset(mask, 0, 16);
	for (int i = 0; i < max / 8; i++) {
		int b = (int)bits - i * 8;
		mask[i] = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
	}
	return 0;
}

/* "a.b.c.d", "::1" -> family + bytes. */
static int parse_ip(const char *s, int *family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* A netmask must be contiguous ones then zeros. */
static bool mask_ok(int family, const uint8_t m[16])
{
	int len = family == AF_INET ? 4 : 16;
	bool zero = false;

	for (int i = 0; i < len; i++)
		for (int b = 7; b >= 0; b--) {
			bool one = (m[i] >> b) & 1;
			if (one && zero)
				return false;
			if (!one)
				zero = true;
		}
	return true;
}

static const char *const method_names[] = {
	[LP_HBA_TRUST] = "trust", [LP_HBA_REJECT] = "reject", [LP_HBA_PASSWORD] = "password",
	[LP_HBA_MD5] = "md5",     [LP_HBA_SCRAM] = "scram-sha-256", [LP_HBA_CERT] = "cert",
};

const char *lp_hba_method_name(enum lp_hba_method m)
{
	if ((unsigned)m < sizeof(method_names) / sizeof(method_names[0]))
		return method_names[m];
	return "unknown";
}

static void rule_free(struct lp_hba_rule *r)
{
	for (int i = 0; i < r->ndbs; i++)
		free(r->dbs[i]);
	for (int i = 0; i < r->nusers; i++)
		free(r->users[i]);
	free(r->dbs);
	free(r->users);
	memset(r, 0, sizeof(*r));
}

/* One tokenized line into a rule. Returns 0, or -1 with why. */
static int parse_rule(const struct line_toks *lt, struct lp_hba_rule *r, const char **why)
{
	int i = 0, e;
	const struct token *t;

	memset(r, 0, sizeof(*r));
	t = &lt->t[0];
	if (!t->last_in_field) {
		*why = "connection type must be a single word";
		return -1;
	}
	if (kw(t, "local"))
		r->type = LP_HBA_LOCAL;
	else if (kw(t, "host"))
		r->type = LP_HBA_HOST;
	else if (kw(t, "hostssl"))
		r->type = LP_HBA_HOSTSSL;
	else if (kw(t, "hostnossl"))
		r->type = LP_HBA_HOSTNOSSL;
	else {
		*why = "invalid connection type (local, host, hostssl or hostnossl)";
		return -1;
	}
	i = 1;
	e = field_end(lt, i);
	if (e < 0) {
		*why = "end of line before the database field";
		return -1;
	}
	if (name_list(lt, i, e, true, &r->all_dbs, &r->dbs, &r->ndbs, why) < 0)
		goto fail;
	i = e;
	e = field_end(lt, i);
	if (e < 0) {
		*why = "end of line before the user field";
		goto fail;
	}
	if (name_list(lt, i, e, false, &r->all_users, &r->users, &r->nusers, why) < 0)
		goto fail;
	i = e;
	if (r->type != LP_HBA_LOCAL) {
		char addr[MAX_TOKEN + 1], *slash;
		if (i >= lt->n) {
			*why = "end of line before the address field";
			goto fail;
		}
		t = &lt->t[i++];
		if (!t->last_in_field) {
			*why = "the address field takes one address";
			goto fail;
		}
		if (kw(t, "all")) {
			r->family = 0;
		} else {
			snprintf(addr, sizeof(addr), "%s", t->s);
			slash = strchr(addr, '/');
			if (slash)
				*slash = '\0';
			if (parse_ip(addr, &r->family, r->addr) < 0) {
				*why = "invalid IP address (host names, samehost and samenet are not supported)";
				goto fail;
			}
			if (slash) {
				char *endp;
				errno = 0;
				long bits = strtol(slash + 1, &endp, 10);
				if (!slash[1] || *endp || errno ||
				    prefix_mask(r->family, bits, r->mask) < 0) {
					*why = "invalid CIDR mask";
					goto fail;
				}
			} else {
				int mfam;
				if (i >= lt->n) {
					*why = "end of line before the netmask field";
					goto fail;
				}
				t = &lt->t[i++];
				if (parse_ip(t->s, &mfam, r->mask) < 0 || mfam != r->family ||
				    !mask_ok(mfam, r->mask) || !t->last_in_field) {
					*why = "invalid netmask";
					goto fail;
				}
			}
			for (int k = 0; k < 16; k++)
				r->addr[k] &= r->mask[k];
		}
	}
	if (i >= lt->n) {
		*why = "end of line before the authentication method";
		goto fail;
	}
	t = &lt->t[i++];
	bool found = false;
	for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]); m++)
		if (t->last_in_field && kw(t, method_names[m])) {
			r->method = (enum lp_hba_method)m;
			found = true;
		}
	if (!found) {
		*why = "unsupported authentication method (trust, reject, password, md5, scram-sha-256, cert)";
		goto fail;
	}
	if (r->method == LP_HBA_CERT && r->type != LP_HBA_HOSTSSL) {
		*why = "cert authentication is only supported on hostssl connections";
		goto fail;
	}
	if (i < lt->n) {
		*why = "authentication options are not supported";
		goto fail;
	}
	return 0;
fail:
	rule_free(r);
	return -1;
}

void lp_hba_free(struct lp_hba *h)
{
	for (size_t i = 0; i < h->n; i++)
		rule_free(&h->rules[i]);
	free(h->rules);
	h->rules = NULL;
	h->n = 0;
}

int lp_hba_parse(const char *text, size_t len, const char *file, struct lp_hba *out,
		 struct lp_diag *diag)
{
	const char *p = text, *end = text + len;
	struct lp_hba h = { 0 };
	size_t cap = 0;
	int lineno = 0, errors = 0;
	char *line = malloc(MAX_LINE + 1);

	memset(out, 0, sizeof(*out));
	if (!line) {
		lp_diag_add(diag, file, 0, "out of memory");
		return -1;
	}
	while (p < end) {
		size_t ll = 0;
		int first = lineno + 1;
		bool too_long = false, more = true;

		/* Join backslash-continued physical lines. */
		while (more && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			size_t n = (size_t)(le - p);
			lineno++;
			more = n > 0 && p[n - 1] == '\\';
			if (more)
				n--;
			if (ll + n > MAX_LINE)
				too_long = true;
			else {
				memcpy(line + ll, p, n);
				ll += n;
			}
			p = nl ? nl + 1 : end;
		}
		if (too_long) {
			lp_diag_add(diag, file, first, "line too long");
			errors++;
			continue;
		}
		/* Even in a comment, as the ini and auth_file readers. */
		if (memchr(line, '\0', ll)) {
			lp_diag_add(diag, file, first, "NUL byte in line");
			errors++;
			continue;
		}
		struct line_toks lt;
		const char *why = NULL;
		if (tokenize(line, line + ll, &lt, &why) < 0) {
			toks_free(&lt);
			lp_diag_add(diag, file, first, "%s", why);
			errors++;
			continue;
		}
		if (lt.n == 0)
			continue;
		struct lp_hba_rule r;
		if (parse_rule(&lt, &r, &why) < 0) {
			toks_free(&lt);
			lp_diag_add(diag, file, first, "%s", why);
			errors++;
			continue;
		}
		toks_free(&lt);
		r.line = first;
		if (h.n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct lp_hba_rule *nr = realloc(h.rules, ncap * sizeof(*nr));
			if (!nr) {
				rule_free(&r);
				lp_diag_add(diag, file, first, "out of memory");
				errors++;
				break;
			}
			h.rules = nr;
			cap = ncap;
		}
		h.rules[h.n++] = r;
	}
	free(line);
	if (errors) {
		lp_hba_free(&h);
		return -1;
	}
	*out = h;
	return 0;
}

int lp_hba_load(const char *path, struct lp_hba *out, struct lp_diag *diag)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!f) {
		lp_diag_add(diag, path, 0, "cannot open auth_hba_file: %s", strerror(errno));
		return -1;
	}
	buf = malloc(MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		lp_diag_add(diag, path, 0, "out of memory");
		return -1;
	}
	len = fread(buf, 1, MAX_FILE_BYTES + 1, f);
	if (ferror(f) || len > MAX_FILE_BYTES) {
		lp_diag_add(diag, path, 0, ferror(f) ? "read error" : "auth_hba_file too large");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	rc = lp_hba_parse(buf, len, path, out, diag);
	free(buf);
	return rc;
}

static bool in_list(char *const *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

const struct lp_hba_rule *lp_hba_match(const struct lp_hba *h, const char *addr, bool tls,
				       const char *db, const char *user)
{
	uint8_t a[16];
	int fam = 0;

	if (addr && parse_ip(addr, &fam, a) < 0)
		return NULL;
	for (size_t i = 0; i < h->n; i++) {
		const struct lp_hba_rule *r = &h->rules[i];
		if (r->type == LP_HBA_LOCAL) {
			if (addr)
				continue;
		} else {
			if (!addr)
				continue;
			if (r->type == LP_HBA_HOSTSSL && !tls)
				continue;
			if (r->type == LP_HBA_HOSTNOSSL && tls)
				continue;
			if (r->family) {
				int len = r->family == AF_INET ? 4 : 16;
				bool ok = r->family == fam;
				for (int k = 0; ok && k < len; k++)
					ok = (a[k] & r->mask[k]) == r->addr[k];
				if (!ok)
					continue;
			}
		}
		if (!r->all_dbs && !in_list(r->dbs, r->ndbs, db))
			continue;
		if (!r->all_users && !in_list(r->users, r->nusers, user))
			continue;
		return r;
	}
	return NULL;
}
