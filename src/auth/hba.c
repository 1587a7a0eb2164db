/*
 * auth_hba_file and auth_ident_file parsers and matchers; see hba.h for the
 * accepted syntax.
 *
 * A logical line (backslash continuations joined) is split into tokens:
 * words and commas. A word runs to a blank, a comma or '#' outside double
 * quotes; quoted parts keep blanks, commas and '#', and "" inside quotes is
 * one quote. A field is a comma list of words, blanks allowed around the
 * commas. Every token is bounded, every line, every file and the depth of
 * "@file" inclusion too.
 */
#include "auth/hba.h"
#include "auth/ldap_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define MAX_LINE 8192                   /* after joining continuations */
#define MAX_TOKEN 256                   /* PostgreSQL's NAMEDATALEN is 64 */
#define MAX_TOKENS 256                  /* per line, commas included */
#define MAX_FILE_BYTES (4 * 1024 * 1024)
#define MAX_INCLUDE_DEPTH 4             /* "@file" inside "@file" ... */
#define MAX_LIST_NAMES 100000           /* names of one field, files included */
#define ERR_MAX 320

struct token {
	char *s;
	bool quoted;                    /* some part was in double quotes */
	bool comma;                     /* a ',' separator, not a word */
	int eq;                         /* offset of the first '=' outside quotes; -1: none */
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

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Splits one logical line into tokens. Returns 0, or -1 with err. */
static int tokenize(const char *p, const char *end, struct line_toks *lt, char *err)
{
	lt->n = 0;
	for (;;) {
		char buf[MAX_TOKEN + 1];
		size_t n = 0;
		bool quoted = false, in_q = false;
		int eq = -1;

		while (p < end && blank(*p))
			p++;
		if (p == end || *p == '#')
			return 0;
		if (lt->n >= MAX_TOKENS) {
			snprintf(err, ERR_MAX, "too many fields");
			return -1;
		}
		struct token *t = &lt->t[lt->n];
		if (*p == ',') {
			p++;
			t->s = strdup(",");
			if (!t->s) {
				snprintf(err, ERR_MAX, "out of memory");
				return -1;
			}
			t->quoted = false;
			t->comma = true;
			t->eq = -1;
			lt->n++;
			continue;
		}
		while (p < end) {
			char ch = *p;
			if (in_q) {
				p++;
				if (ch == '"') {
					if (p < end && *p == '"') {
						p++;        /* "" is one quote */
					} else {
						in_q = false;
						continue;
					}
				}
			} else {
				if (blank(ch) || ch == ',' || ch == '#')
					break;
				p++;
				if (ch == '"') {
					in_q = quoted = true;
					continue;
				}
				if (ch == '=' && eq < 0)
					eq = (int)n;
			}
			if (n >= MAX_TOKEN) {
				snprintf(err, ERR_MAX, "token too long (more than %d bytes)", MAX_TOKEN);
				return -1;
			}
			buf[n++] = ch;
		}
		if (in_q) {
			snprintf(err, ERR_MAX, "unterminated quoted string");
			return -1;
		}
		buf[n] = '\0';
		t->s = strdup(buf);
		if (!t->s) {
			snprintf(err, ERR_MAX, "out of memory");
			return -1;
		}
		t->quoted = quoted;
		t->comma = false;
		t->eq = eq;
		lt->n++;
	}
}

static bool kw(const struct token *t, const char *word)
{
	return !t->quoted && !t->comma && strcmp(t->s, word) == 0;
}

/* ---- reading a file whole, bounded ---- */

/* The file's bytes (NUL-terminated) in *buf, at most MAX_FILE_BYTES; -1
 * with err. */
static int read_file(const char *path, const char *what, char **buf, size_t *len, char *err)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	if (!f) {
		snprintf(err, ERR_MAX, "cannot open %s: %s", what, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0 || st.st_size > MAX_FILE_BYTES) {
		fclose(f);
		snprintf(err, ERR_MAX, "%s: file too large", what);
		return -1;
	}
	/* One byte more than it said: a file that grew meanwhile is seen. */
	size_t cap = (size_t)st.st_size + 1;
	char *b = malloc(cap + 1);
	if (!b) {
		fclose(f);
		snprintf(err, ERR_MAX, "out of memory");
		return -1;
	}
	size_t n = fread(b, 1, cap, f);
	bool bad = ferror(f) || n >= cap;
	fclose(f);
	if (bad) {
		free(b);
		snprintf(err, ERR_MAX, "%s: %s", what, n >= cap ? "file changed while read" : "read error");
		return -1;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/*
 * Calls fn(line_text, line_end, lineno, arg) for each logical line of text
 * (backslash continuations joined; lineno is the first physical line).
 * Returns the number of lines fn refused or could not get; every problem
 * is in diag as file:line.
 */
typedef int (*line_fn)(const char *p, const char *end, int lineno, void *arg, char *err);

static int each_line(const char *text, size_t len, const char *file, struct lp_diag *diag,
		     line_fn fn, void *arg)
{
	const char *p = text, *end = text + len;
	int lineno = 0, errors = 0;
	char *line = malloc(MAX_LINE + 1);
	char err[ERR_MAX];

	if (!line) {
		lp_diag_add(diag, file, 0, "out of memory");
		return 1;
	}
	while (p < end) {
		size_t ll = 0;
		int first = lineno + 1;
		bool too_long = false, more = true;

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
		err[0] = '\0';
		if (fn(line, line + ll, first, arg, err) < 0) {
			lp_diag_add(diag, file, first, "%s", err[0] ? err : "invalid line");
			errors++;
		}
	}
	free(line);
	return errors;
}

/* ---- name lists ---- */

struct names {
	char **v;
	int n, cap;
	bool all, sameuser, replication;
};

static void names_free(struct names *nl)
{
	for (int i = 0; i < nl->n; i++)
		free(nl->v[i]);
	free(nl->v);
	memset(nl, 0, sizeof(*nl));
}

static int names_add(struct names *nl, const char *s, char *err)
{
	if (nl->n >= MAX_LIST_NAMES) {
		snprintf(err, ERR_MAX, "too many names in one field");
		return -1;
	}
	if (nl->n == nl->cap) {
		int ncap = nl->cap ? nl->cap * 2 : 8;
		char **nv = realloc(nl->v, (size_t)ncap * sizeof(*nv));
		if (!nv) {
			snprintf(err, ERR_MAX, "out of memory");
			return -1;
		}
		nl->v = nv;
		nl->cap = ncap;
	}
	nl->v[nl->n] = strdup(s);
	if (!nl->v[nl->n]) {
		snprintf(err, ERR_MAX, "out of memory");
		return -1;
	}
	nl->n++;
	return 0;
}

/* "@name" relative to the directory of the file naming it. */
static char *include_path(const char *parent, const char *name)
{
	if (name[0] == '/')
		return strdup(name);
	const char *slash = strrchr(parent, '/');
	size_t dl = slash ? (size_t)(slash - parent) + 1 : 0;
	size_t nl = strlen(name);
	char *p = malloc(dl + nl + 1);
	if (p) {
		memcpy(p, parent, dl);
		memcpy(p + dl, name, nl + 1);
	}
	return p;
}

struct include_ctx {
	struct names *nl;
	bool db;
	const char *file;
	int depth;
};

static int add_item(struct names *nl, const struct token *t, bool db, const char *file, int depth,
		    char *err);

/* One line of an "@file": names separated by blanks or commas. */
static int include_line(const char *p, const char *end, int lineno, void *arg, char *err)
{
	struct include_ctx *ic = arg;
	struct line_toks lt;
	(void)lineno;
	int rc = tokenize(p, end, &lt, err);
	for (int i = 0; rc == 0 && i < lt.n; i++)
		if (!lt.t[i].comma)
			rc = add_item(ic->nl, &lt.t[i], ic->db, ic->file, ic->depth, err);
	toks_free(&lt);
	return rc;
}

static int include_file(struct names *nl, const char *name, bool db, const char *parent, int depth,
			char *err)
{
	if (depth >= MAX_INCLUDE_DEPTH) {
		snprintf(err, ERR_MAX, "@%.64s: included files nested too deep", name);
		return -1;
	}
	char *path = include_path(parent, name);
	char *text;
	size_t len;
	if (!path) {
		snprintf(err, ERR_MAX, "out of memory");
		return -1;
	}
	if (read_file(path, "@file", &text, &len, err) < 0) {
		char inner[ERR_MAX];
		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, ERR_MAX, "@%.64s: %.240s", name, inner);
		free(path);
		return -1;
	}
	struct lp_diag d = { 0 };
	struct include_ctx ic = { nl, db, path, depth + 1 };
	int errors = each_line(text, len, path, &d, include_line, &ic);
	if (errors)
		snprintf(err, ERR_MAX, "@%.64s: %.240s", name, d.n ? d.msgs[0] : "invalid file");
	lp_diag_cleanup(&d);
	free(text);
	free(path);
	return errors ? -1 : 0;
}

/* One item of a DATABASE or USER field. */
static int add_item(struct names *nl, const struct token *t, bool db, const char *file, int depth,
		    char *err)
{
	if (kw(t, "all")) {
		nl->all = true;
		return 0;
	}
	if (!t->quoted && t->s[0] == '@')
		return include_file(nl, t->s + 1, db, file, depth, err);
	if (db) {
		if (kw(t, "sameuser")) {
			nl->sameuser = true;
			return 0;
		}
		if (kw(t, "replication")) {
			nl->replication = true;
			return 0;
		}
		if (kw(t, "samerole") || kw(t, "samegroup")) {
			snprintf(err, ERR_MAX, "%s is not supported (nor by PgBouncer)", t->s);
			return -1;
		}
	} else if (!t->quoted && t->s[0] == '+') {
		snprintf(err, ERR_MAX, "group membership (%s) is not supported (nor by PgBouncer)", t->s);
		return -1;
	}
	if (!t->s[0]) {
		snprintf(err, ERR_MAX, "empty %s name", db ? "database" : "user");
		return -1;
	}
	return names_add(nl, t->s, err);
}

/* A comma list starting at *i; *i is left after it. */
static int parse_list(const struct line_toks *lt, int *i, struct names *nl, bool db,
		      const char *file, char *err)
{
	const char *what = db ? "database" : "user";
	if (*i >= lt->n) {
		snprintf(err, ERR_MAX, "end of line before the %s field", what);
		return -1;
	}
	for (;;) {
		if (*i >= lt->n) {
			snprintf(err, ERR_MAX, "list ends with a comma");
			return -1;
		}
		const struct token *t = &lt->t[*i];
		if (t->comma) {
			snprintf(err, ERR_MAX, "empty item in the %s list", what);
			return -1;
		}
		if (add_item(nl, t, db, file, 0, err) < 0)
			return -1;
		(*i)++;
		if (*i < lt->n && lt->t[*i].comma)
			(*i)++;
		else
			return 0;
	}
}

/* ---- addresses ---- */

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

static int parse_address(const struct line_toks *lt, int *i, struct lp_hba_rule *r, char *err)
{
	char addr[MAX_TOKEN + 1], *slash;
	if (*i >= lt->n) {
		snprintf(err, ERR_MAX, "end of line before the address field");
		return -1;
	}
	const struct token *t = &lt->t[(*i)++];
	if (t->comma || (*i < lt->n && lt->t[*i].comma)) {
		snprintf(err, ERR_MAX, "the address field takes one address");
		return -1;
	}
	if (kw(t, "all")) {
		r->family = 0;
		return 0;
	}
	if (kw(t, "samehost") || kw(t, "samenet")) {
		snprintf(err, ERR_MAX, "%s is not supported (nor by PgBouncer)", t->s);
		return -1;
	}
	snprintf(addr, sizeof(addr), "%s", t->s);
	slash = strchr(addr, '/');
	if (slash)
		*slash = '\0';
	if (parse_ip(addr, &r->family, r->addr) < 0) {
		snprintf(err, ERR_MAX, "invalid IP address (host names are not supported)");
		return -1;
	}
	if (slash) {
		char *endp;
		errno = 0;
		long bits = strtol(slash + 1, &endp, 10);
		if (!slash[1] || *endp || errno || prefix_mask(r->family, bits, r->mask) < 0) {
			snprintf(err, ERR_MAX, "invalid CIDR mask");
			return -1;
		}
	} else {
		int mfam;
		if (*i >= lt->n) {
			snprintf(err, ERR_MAX, "end of line before the netmask field");
			return -1;
		}
		t = &lt->t[(*i)++];
		if (t->comma || parse_ip(t->s, &mfam, r->mask) < 0 || mfam != r->family ||
		    !mask_ok(mfam, r->mask)) {
			snprintf(err, ERR_MAX, "invalid netmask");
			return -1;
		}
	}
	for (int k = 0; k < 16; k++)
		r->addr[k] &= r->mask[k];
	return 0;
}

/* ---- rules ---- */

static const char *const method_names[] = {
	[LP_HBA_TRUST] = "trust", [LP_HBA_REJECT] = "reject", [LP_HBA_PASSWORD] = "password",
	[LP_HBA_MD5] = "md5",     [LP_HBA_SCRAM] = "scram-sha-256", [LP_HBA_CERT] = "cert",
	[LP_HBA_PEER] = "peer",   [LP_HBA_LDAP] = "ldap",  [LP_HBA_PAM] = "pam",
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
	free(r->map);
	free(r->ldap_opts);
	memset(r, 0, sizeof(*r));
}

static int parse_method(const struct line_toks *lt, int *i, struct lp_hba_rule *r, char *err)
{
	if (*i >= lt->n) {
		snprintf(err, ERR_MAX, "end of line before the authentication method");
		return -1;
	}
	const struct token *t = &lt->t[(*i)++];
	for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]); m++)
		if (kw(t, method_names[m])) {
			r->method = (enum lp_hba_method)m;
			return 0;
		}
	if (kw(t, "gss") || kw(t, "sspi") || kw(t, "radius") || kw(t, "ident"))
		snprintf(err, ERR_MAX, "authentication method %s is not supported by linkpool", t->s);
	else
		snprintf(err, ERR_MAX, "unsupported authentication method (trust, reject, password, "
				       "md5, scram-sha-256, cert, peer, ldap, pam)");
	return -1;
}

/*
 * An ldap rule's options, as one auth_ldap_options text: name="value" each,
 * quotes in values doubled, then checked by the one LDAP option parser.
 */
static int ldap_options(const struct line_toks *lt, int i, struct lp_hba_rule *r, char *err)
{
	size_t cap = 1, n = 0;
	for (int k = i; k < lt->n; k++)
		cap += 2 * strlen(lt->t[k].s) + 4;
	char *text = malloc(cap);
	struct lp_ldap_opts *o = malloc(sizeof(*o));
	char why[ERR_MAX - 40];
	int rc = -1;
	if (!text || !o) {
		snprintf(err, ERR_MAX, "out of memory");
		goto done;
	}
	for (; i < lt->n; i++) {
		const struct token *t = &lt->t[i];
		if (t->comma)
			continue;
		if (t->eq < 0) {
			snprintf(err, ERR_MAX, "authentication option \"%.64s\" is not name=value", t->s);
			goto done;
		}
		if (n)
			text[n++] = ' ';
		memcpy(text + n, t->s, (size_t)t->eq + 1);
		n += (size_t)t->eq + 1;
		text[n++] = '"';
		for (const char *v = t->s + t->eq + 1; *v; v++) {
			if (*v == '"')
				text[n++] = '"';
			text[n++] = *v;
		}
		text[n++] = '"';
	}
	text[n] = '\0';
	if (!n) {
		snprintf(err, ERR_MAX, "ldap needs options (ldapserver=..., ldapurl=...)");
		goto done;
	}
	if (lp_ldap_opts_parse(text, n, o, why, sizeof(why)) < 0) {
		snprintf(err, ERR_MAX, "invalid ldap options: %s", why);
		goto done;
	}
	r->ldap_opts = text;
	text = NULL;
	rc = 0;
done:
	if (o) {
		memset(o, 0, sizeof(*o));       /* ldapbindpasswd */
		free(o);
	}
	if (text) {
		memset(text, 0, cap);
		free(text);
	}
	return rc;
}

/* name=value options after the method; commas between them are ignored. */
static int parse_options(const struct line_toks *lt, int i, struct lp_hba_rule *r, char *err)
{
	if (r->method == LP_HBA_LDAP)
		return ldap_options(lt, i, r, err);
	for (; i < lt->n; i++) {
		const struct token *t = &lt->t[i];
		if (t->comma)
			continue;
		if (t->eq < 0) {
			snprintf(err, ERR_MAX, "authentication option \"%s\" is not name=value", t->s);
			return -1;
		}
		const char *value = t->s + t->eq + 1;
		if (t->eq == 3 && strncmp(t->s, "map", 3) == 0) {
			if (r->method != LP_HBA_CERT && r->method != LP_HBA_PEER) {
				snprintf(err, ERR_MAX, "map= is only for the cert and peer methods");
				return -1;
			}
			if (!value[0] || r->map) {
				snprintf(err, ERR_MAX, r->map ? "map= given twice" : "map= needs a name");
				return -1;
			}
			r->map = strdup(value);
			if (!r->map) {
				snprintf(err, ERR_MAX, "out of memory");
				return -1;
			}
			continue;
		}
		snprintf(err, ERR_MAX, "authentication option \"%.*s\" is not supported", t->eq, t->s);
		return -1;
	}
	return 0;
}

static int take_names(struct names *nl, char ***v, int *n, bool *all)
{
	*v = nl->v;
	*n = nl->n;
	*all = nl->all;
	nl->v = NULL;
	nl->n = nl->cap = 0;
	return 0;
}

/* One tokenized line into a rule. Returns 0, or -1 with err. */
static int parse_rule(const struct line_toks *lt, const char *file, struct lp_hba_rule *r,
		      char *err)
{
	const struct token *t = &lt->t[0];
	struct names dbs = { 0 }, users = { 0 };
	int i = 1;

	memset(r, 0, sizeof(*r));
	if (kw(t, "local"))
		r->type = LP_HBA_LOCAL;
	else if (kw(t, "host"))
		r->type = LP_HBA_HOST;
	else if (kw(t, "hostssl"))
		r->type = LP_HBA_HOSTSSL;
	else if (kw(t, "hostnossl"))
		r->type = LP_HBA_HOSTNOSSL;
	else {
		snprintf(err, ERR_MAX, "invalid connection type (local, host, hostssl or hostnossl)");
		return -1;
	}
	if (i < lt->n && lt->t[i].comma) {
		snprintf(err, ERR_MAX, "connection type must be a single word");
		return -1;
	}
	if (parse_list(lt, &i, &dbs, true, file, err) < 0 ||
	    parse_list(lt, &i, &users, false, file, err) < 0)
		goto fail;
	r->db_sameuser = dbs.sameuser;
	r->db_replication = dbs.replication;
	take_names(&dbs, &r->dbs, &r->ndbs, &r->all_dbs);
	take_names(&users, &r->users, &r->nusers, &r->all_users);
	if (r->type != LP_HBA_LOCAL && parse_address(lt, &i, r, err) < 0)
		goto fail;
	if (parse_method(lt, &i, r, err) < 0 || parse_options(lt, i, r, err) < 0)
		goto fail;
	return 0;
fail:
	names_free(&dbs);
	names_free(&users);
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

struct hba_ctx {
	struct lp_hba h;
	size_t cap;
	const char *file;
};

static int hba_line(const char *p, const char *end, int lineno, void *arg, char *err)
{
	struct hba_ctx *hc = arg;
	struct line_toks lt;
	struct lp_hba_rule r;

	if (tokenize(p, end, &lt, err) < 0) {
		toks_free(&lt);
		return -1;
	}
	if (lt.n == 0)
		return 0;
	int rc = parse_rule(&lt, hc->file, &r, err);
	toks_free(&lt);
	if (rc < 0)
		return -1;
	r.line = lineno;
	if (hc->h.n == hc->cap) {
		size_t ncap = hc->cap ? hc->cap * 2 : 16;
		struct lp_hba_rule *nr = realloc(hc->h.rules, ncap * sizeof(*nr));
		if (!nr) {
			rule_free(&r);
			snprintf(err, ERR_MAX, "out of memory");
			return -1;
		}
		hc->h.rules = nr;
		hc->cap = ncap;
	}
	hc->h.rules[hc->h.n++] = r;
	return 0;
}

int lp_hba_parse(const char *text, size_t len, const char *file, struct lp_hba *out,
		 struct lp_diag *diag)
{
	struct hba_ctx hc = { .file = file };

	memset(out, 0, sizeof(*out));
	if (each_line(text, len, file, diag, hba_line, &hc)) {
		lp_hba_free(&hc.h);
		return -1;
	}
	*out = hc.h;
	return 0;
}

/* A whole configuration file, or NULL with why in diag. */
static char *load_text(const char *path, const char *what, size_t *len, struct lp_diag *diag)
{
	char *buf, err[ERR_MAX];
	if (read_file(path, what, &buf, len, err) < 0) {
		lp_diag_add(diag, path, 0, "%s", err);
		return NULL;
	}
	return buf;
}

int lp_hba_load(const char *path, struct lp_hba *out, struct lp_diag *diag)
{
	size_t len;
	char *buf = load_text(path, "auth_hba_file", &len, diag);
	memset(out, 0, sizeof(*out));
	int rc = buf ? lp_hba_parse(buf, len, path, out, diag) : -1;
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
				       const char *db, const char *user, bool physical)
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
		/* As PostgreSQL: a physical replication connection matches only
		 * the "replication" keyword; any other connection (a logical
		 * one too) "all", "sameuser" or its name, never "replication". */
		if (physical) {
			if (!r->db_replication)
				continue;
		} else if (!r->all_dbs && !(r->db_sameuser && strcmp(db, user) == 0) &&
			   !in_list(r->dbs, r->ndbs, db)) {
			continue;
		}
		if (!r->all_users && !in_list(r->users, r->nusers, user))
			continue;
		return r;
	}
	return NULL;
}

/* ---- auth_ident_file ---- */

struct ident_ctx {
	struct lp_ident id;
	size_t cap;
};

static void ident_entry_free(struct lp_ident_entry *e)
{
	free(e->map);
	free(e->system_user);
	free(e->db_user);
}

static int ident_line(const char *p, const char *end, int lineno, void *arg, char *err)
{
	struct ident_ctx *ic = arg;
	struct line_toks lt;
	(void)lineno;

	if (tokenize(p, end, &lt, err) < 0) {
		toks_free(&lt);
		return -1;
	}
	int rc = -1;
	if (lt.n == 0) {
		rc = 0;
		goto out;
	}
	for (int i = 0; i < lt.n; i++)
		if (lt.t[i].comma) {
			snprintf(err, ERR_MAX, "a map line has no lists");
			goto out;
		}
	if (kw(&lt.t[0], "include") || kw(&lt.t[0], "include_if_exists") ||
	    kw(&lt.t[0], "include_dir")) {
		snprintf(err, ERR_MAX, "%s is not supported (nor by PgBouncer)", lt.t[0].s);
		goto out;
	}
	if (lt.n != 3) {
		snprintf(err, ERR_MAX, "expected MAPNAME SYSTEM-USERNAME DATABASE-USERNAME");
		goto out;
	}
	const struct token *sys = &lt.t[1], *dbu = &lt.t[2];
	if (!sys->quoted && sys->s[0] == '/') {
		snprintf(err, ERR_MAX, "regular expressions are not supported (nor by PgBouncer)");
		goto out;
	}
	if (!dbu->quoted && (dbu->s[0] == '/' || dbu->s[0] == '+')) {
		snprintf(err, ERR_MAX, "%s is not supported (nor by PgBouncer)",
			 dbu->s[0] == '/' ? "a regular expression" : "group membership");
		goto out;
	}
	if (!lt.t[0].s[0] || !sys->s[0] || !dbu->s[0]) {
		snprintf(err, ERR_MAX, "empty name");
		goto out;
	}
	if (ic->id.n == ic->cap) {
		size_t ncap = ic->cap ? ic->cap * 2 : 16;
		struct lp_ident_entry *nv = realloc(ic->id.v, ncap * sizeof(*nv));
		if (!nv) {
			snprintf(err, ERR_MAX, "out of memory");
			goto out;
		}
		ic->id.v = nv;
		ic->cap = ncap;
	}
	struct lp_ident_entry *e = &ic->id.v[ic->id.n];
	e->map = strdup(lt.t[0].s);
	e->system_user = strdup(sys->s);
	e->db_user = kw(dbu, "all") ? NULL : strdup(dbu->s);
	if (!e->map || !e->system_user || (!e->db_user && !kw(dbu, "all"))) {
		ident_entry_free(e);
		snprintf(err, ERR_MAX, "out of memory");
		goto out;
	}
	ic->id.n++;
	rc = 0;
out:
	toks_free(&lt);
	return rc;
}

void lp_ident_free(struct lp_ident *id)
{
	for (size_t i = 0; i < id->n; i++)
		ident_entry_free(&id->v[i]);
	free(id->v);
	id->v = NULL;
	id->n = 0;
}

int lp_ident_parse(const char *text, size_t len, const char *file, struct lp_ident *out,
		   struct lp_diag *diag)
{
	struct ident_ctx ic = { 0 };

	memset(out, 0, sizeof(*out));
	if (each_line(text, len, file, diag, ident_line, &ic)) {
		lp_ident_free(&ic.id);
		return -1;
	}
	*out = ic.id;
	return 0;
}

int lp_ident_load(const char *path, struct lp_ident *out, struct lp_diag *diag)
{
	size_t len;
	char *buf = load_text(path, "auth_ident_file", &len, diag);
	memset(out, 0, sizeof(*out));
	int rc = buf ? lp_ident_parse(buf, len, path, out, diag) : -1;
	free(buf);
	return rc;
}

bool lp_ident_match(const struct lp_ident *id, const char *map, const char *system_user,
		    const char *db_user)
{
	for (size_t i = 0; i < id->n; i++) {
		const struct lp_ident_entry *e = &id->v[i];
		if (strcmp(e->map, map) == 0 && strcmp(e->system_user, system_user) == 0 &&
		    (!e->db_user || strcmp(e->db_user, db_user) == 0))
			return true;
	}
	return false;
}

bool lp_ident_has_map(const struct lp_ident *id, const char *map)
{
	for (size_t i = 0; i < id->n; i++)
		if (strcmp(id->v[i].map, map) == 0)
			return true;
	return false;
}
