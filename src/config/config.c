/*
 * Reading pgbouncer.ini into one configuration generation: the line
 * grammar (sections, key = value, ';'/'#' comments, %include), the
 * libpq-style strings of [databases] and [users], and the whole-file checks
 * done once everything is read. Every problem goes to the caller's lp_diag
 * as "file:line: message" and reading goes on, so one run reports them all;
 * a generation is handed back only when there were none.
 */
#include "config/config.h"
#include "config/internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/hash.h"

#define MAX_INCLUDE_DEPTH 10
#define MAX_FILE_BYTES (16 * 1024 * 1024)
#define DEFAULT_PG_PORT 5432

enum section { SEC_NONE, SEC_DATABASES, SEC_USERS, SEC_PGBOUNCER, SEC_PEERS, SEC_UNKNOWN };
#define DEFAULT_PEER_PORT 6432
#define MAX_PEER_ID 16383

struct parser {
	struct lp_config *c;
	struct lp_diag *diag;
	int errors;
	/* The section carries across %include, as in PgBouncer: an included
	 * file continues the includer's section and may change it. */
	enum section sec;
	/* realpath()s of the files being read, outermost first: a file met
	 * again while still open is an include loop. */
	char *open[MAX_INCLUDE_DEPTH + 2];
	int nopen;
	int depth;                      /* nested %include levels */
	size_t dbs_cap;                 /* room in c->dbs */
};

static void perr(struct parser *p, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perr(struct parser *p, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_diag_add(p->diag, file, line, "%s", msg);
	p->errors++;
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static void db_conf_cleanup(struct lp_db_conf *d)
{
	free(d->name);
	free(d->host);
	free(d->dbname);
	free(d->user);
	free(d->password);
	free(d->auth_user);
	free(d->auth_query);
	free(d->auth_dbname);
	free(d->connect_query);
	free(d->client_encoding);
	free(d->datestyle);
	free(d->timezone);
	free(d->application_name);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

static void user_conf_cleanup(struct lp_user_conf *u)
{
	free(u->name);
	free(u->file);
	memset(u, 0, sizeof(*u));
}

static void peer_conf_cleanup(struct lp_peer_conf *pc)
{
	free(pc->host);
	free(pc->file);
	memset(pc, 0, sizeof(*pc));
}

/*
 * Next key=value pair of a libpq-style connection string, unescaped in
 * place. Values may be single-quoted; a backslash escapes the next
 * character in and out of quotes. Returns 1 with key and val set, 0 at the
 * end, -1 with *why on a syntax error.
 */
static int connstr_next(char **cur, char **key, char **val, const char **why)
{
	char *p = *cur, *k, *kend, *w, *next;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return 0;
	k = p;
	while (*p && *p != '=' && !isspace((unsigned char)*p))
		p++;
	kend = p;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=' || kend == k) {
		*why = kend == k ? "missing key before '='" : "expected key=value";
		return -1;
	}
	p++;
	*kend = '\0';
	while (isspace((unsigned char)*p))
		p++;
	*val = w = p;
	if (*p == '\'') {
		p++;
		for (;;) {
			if (!*p) {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == '\\' && p[1]) {
				p++;
				*w++ = *p++;
				continue;
			}
			if (*p == '\'') {
				p++;
				break;
			}
			*w++ = *p++;
		}
		if (*p && !isspace((unsigned char)*p)) {
			*why = "unexpected text after a quoted value";
			return -1;
		}
	} else {
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '\\' && p[1])
				p++;
			*w++ = *p++;
		}
	}
	/* w never passes p, so find the next pair before terminating. */
	next = *p ? p + 1 : p;
	*w = '\0';
	*key = k;
	*cur = next;
	return 1;
}

static const struct lp_conn_key *conn_key_find(const struct lp_conn_key *keys, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int conn_key_set(void *entry, const struct lp_conn_key *k, const char *v, char *why,
			size_t whycap)
{
	char *field = (char *)entry + k->offset;
	int64_t iv;
	char *s;

	switch (k->type) {
	case LP_CKEY_STR:
		/* An empty value means "not given", like an absent key. */
		s = NULL;
		if (*v && !(s = strdup(v))) {
			snprintf(why, whycap, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	case LP_CKEY_INT:
		if (lp_config_parse_int(v, k->min, k->max, &iv, why, whycap) < 0)
			return -1;
		*(int *)field = (int)iv;
		return 0;
	case LP_CKEY_POOL_MODE:
		if (lp_config_parse_pool_mode(v, &iv, why, whycap) < 0)
			return -1;
		*(int *)field = (int)iv;
		return 0;
	case LP_CKEY_LB:
		if (lp_config_parse_load_balance(v, &iv, why, whycap) < 0)
			return -1;
		*(int *)field = (int)iv;
		return 0;
	case LP_CKEY_TSA:
		if (lp_config_parse_tsa(v, &iv, why, whycap) < 0)
			return -1;
		*(int *)field = (int)iv;
		return 0;
	case LP_CKEY_TIME:
		if (lp_config_parse_seconds(v, k->min, k->max, &iv, why, whycap) < 0)
			return -1;
		*(lp_usec *)field = iv;
		return 0;
	}
	return -1;
}

/* Applies a connection string to entry; returns false if anything was wrong
 * (each problem already reported). */
static bool parse_connstr(struct parser *p, const char *what, const char *name,
			  const struct lp_conn_key *keys, size_t nkeys, void *entry, const char *value,
			  const char *file, int line)
{
	char *buf = strdup(value), *cur, *k, *v;
	const char *why = NULL;
	char vwhy[160];
	bool ok = true;
	int r;

	if (!buf) {
		perr(p, file, line, "out of memory");
		return false;
	}
	cur = buf;
	while ((r = connstr_next(&cur, &k, &v, &why)) > 0) {
		const struct lp_conn_key *ck = conn_key_find(keys, nkeys, k);

		if (!ck) {
			perr(p, file, line, "%s \"%s\": unknown parameter \"%s\"", what, name, k);
			ok = false;
		} else if (conn_key_set(entry, ck, v, vwhy, sizeof(vwhy)) < 0) {
			perr(p, file, line, "%s \"%s\": invalid value \"%s\" for %s: %s", what, name, v,
			     ck->name, vwhy);
			ok = false;
		}
	}
	if (r < 0) {
		perr(p, file, line, "%s \"%s\": %s", what, name, why);
		ok = false;
	}
	free(buf);
	return ok;
}

/* The slot of database `name` in c->dbidx (the config's index of
 * [databases] by name, open addressing): holding its position in c->dbs + 1,
 * or 0 where it would go. */
static size_t *db_find_slot(const struct lp_config *c, const char *name)
{
	size_t j = (size_t)lp_hash_str(name) & (c->dbidx_cap - 1);
	while (c->dbidx[j] && strcmp(c->dbs[c->dbidx[j] - 1].name, name) != 0)
		j = (j + 1) & (c->dbidx_cap - 1);
	return &c->dbidx[j];
}

/* As db_find_slot, first growing the index to keep it at most half full
 * with one more database: a later definition finds the earlier one, and
 * lookups by name (each pool's at RELOAD) do not walk every database, so
 * 10,000 databases load and reload in linear time. NULL: out of memory. */
static size_t *db_slot(struct parser *p, const char *name)
{
	struct lp_config *c = p->c;

	if ((c->ndbs + 1) * 2 > c->dbidx_cap) {
		size_t cap = c->dbidx_cap ? c->dbidx_cap * 2 : 64;
		size_t *nidx = calloc(cap, sizeof(*nidx));
		if (!nidx)
			return NULL;
		free(c->dbidx);
		c->dbidx = nidx;
		c->dbidx_cap = cap;
		for (size_t k = 0; k < c->ndbs; k++)
			*db_find_slot(c, c->dbs[k].name) = k + 1;
	}
	return db_find_slot(c, name);
}

static void parse_db(struct parser *p, const char *name, const char *value, const char *file,
		     int line)
{
	struct lp_config *c = p->c;
	struct lp_db_conf d = { 0 };
	const struct lp_conn_key *keys;
	size_t nkeys, i;

	keys = lp_config_db_keys(&nkeys);
	d.port = DEFAULT_PG_PORT;
	d.pool_size = d.min_pool_size = d.reserve_pool = d.max_db_connections = -1;
	d.max_db_client_connections = -1;
	d.pool_mode = -1;
	d.server_lifetime = -1;
	d.query_wait_timeout = -1;
	d.load_balance_hosts = -1;
	d.max_replica_lag = -1;
	d.line = line;
	d.name = strdup(name);
	d.file = strdup(file);
	if (!d.name || !d.file) {
		perr(p, file, line, "out of memory");
		goto fail;
	}
	if (!parse_connstr(p, "database", name, keys, nkeys, &d, value, file, line))
		goto fail;
	char why[120];
	if (d.host && lp_config_check_host_list(d.host, why, sizeof(why)) < 0) {
		perr(p, file, line, "database \"%s\": invalid value \"%s\" for host: %s", name,
		     d.host, why);
		goto fail;
	}

	/* A later definition of the same name replaces the earlier one. */
	size_t *slot = db_slot(p, name);
	if (!slot) {
		perr(p, file, line, "out of memory");
		goto fail;
	}
	if (*slot) {
		i = *slot - 1;
		db_conf_cleanup(&c->dbs[i]);
	} else {
		if (c->ndbs == p->dbs_cap) {
			size_t cap = p->dbs_cap ? p->dbs_cap * 2 : 16;
			struct lp_db_conf *nv = realloc(c->dbs, cap * sizeof(*nv));
			if (!nv) {
				perr(p, file, line, "out of memory");
				goto fail;
			}
			c->dbs = nv;
			p->dbs_cap = cap;
		}
		i = c->ndbs++;
		*slot = i + 1;
	}
	c->dbs[i] = d;
	return;
fail:
	db_conf_cleanup(&d);
}

static void parse_user(struct parser *p, const char *name, const char *value, const char *file,
		       int line)
{
	struct lp_config *c = p->c;
	struct lp_user_conf u = { 0 };
	const struct lp_conn_key *keys;
	size_t nkeys, i;

	keys = lp_config_user_keys(&nkeys);
	u.pool_mode = u.max_user_connections = u.pool_size = -1;
	u.reserve_pool_size = u.max_user_client_connections = -1;
	u.query_timeout = u.idle_transaction_timeout = u.client_idle_timeout = -1;
	u.transaction_timeout = u.query_wait_timeout = -1;
	u.line = line;
	u.name = strdup(name);
	u.file = strdup(file);
	if (!u.name || !u.file) {
		perr(p, file, line, "out of memory");
		goto fail;
	}
	if (!parse_connstr(p, "user", name, keys, nkeys, &u, value, file, line))
		goto fail;

	for (i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			break;
	if (i == c->nusers) {
		struct lp_user_conf *nv = realloc(c->users, (c->nusers + 1) * sizeof(*nv));
		if (!nv) {
			perr(p, file, line, "out of memory");
			goto fail;
		}
		c->users = nv;
		c->nusers++;
	} else {
		user_conf_cleanup(&c->users[i]);
	}
	c->users[i] = u;
	return;
fail:
	user_conf_cleanup(&u);
}

/* A [peers] line: "peer_id = host=... port=... pool_size=...". */
static void parse_peer(struct parser *p, const char *name, const char *value, const char *file,
		       int line)
{
	struct lp_config *c = p->c;
	struct lp_peer_conf pc = { 0 };
	const struct lp_conn_key *keys;
	size_t nkeys, i;
	int64_t id;
	char why[160];

	if (lp_config_parse_int(name, 1, MAX_PEER_ID, &id, why, sizeof(why)) < 0) {
		perr(p, file, line, "peer \"%s\": the name must be a peer_id: %s", name, why);
		return;
	}
	keys = lp_config_peer_keys(&nkeys);
	pc.id = (int)id;
	pc.port = DEFAULT_PEER_PORT;
	pc.pool_size = -1;
	pc.line = line;
	pc.file = strdup(file);
	if (!pc.file) {
		perr(p, file, line, "out of memory");
		goto fail;
	}
	if (!parse_connstr(p, "peer", name, keys, nkeys, &pc, value, file, line))
		goto fail;
	for (i = 0; i < c->npeers; i++)
		if (c->peers[i].id == pc.id)
			break;
	if (i == c->npeers) {
		struct lp_peer_conf *nv = realloc(c->peers, (c->npeers + 1) * sizeof(*nv));
		if (!nv) {
			perr(p, file, line, "out of memory");
			goto fail;
		}
		c->peers = nv;
		c->npeers++;
	} else {
		peer_conf_cleanup(&c->peers[i]);
	}
	c->peers[i] = pc;
	return;
fail:
	peer_conf_cleanup(&pc);
}

/* A value that may hold a password (auth_ldap_options' ldapbindpasswd):
 * an error about it names the parameter, never echoes the value. */
static bool secret_value(const struct lp_option *o)
{
	return strcmp(o->name, "auth_ldap_options") == 0;
}

static void set_option(struct parser *p, const char *key, const char *value, const char *file,
		       int line)
{
	const struct lp_option *o = lp_config_option_find(key);
	union lp_optval v;
	char why[160];

	if (!o) {
		perr(p, file, line, "unknown parameter \"%s\"", key);
		return;
	}
	if (lp_config_value_parse(o, value, &v, why, sizeof(why)) < 0) {
		if (secret_value(o))
			perr(p, file, line, "invalid value for parameter %s: %s", o->name, why);
		else
			perr(p, file, line, "invalid value \"%s\" for parameter %s: %s", value, o->name,
			     why);
		return;
	}
	lp_config_value_store(&p->c->s, o, v);
}

static void parse_text(struct parser *p, const char *text, size_t len, const char *file,
		       const char *dir);

static char *read_file(const char *path, size_t *len, const char **why)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;

	if (!f) {
		*why = strerror(errno);
		return NULL;
	}
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_FILE_BYTES + 8192) {
				*why = "file too large";
				goto fail;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				*why = "out of memory";
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		*why = strerror(errno);
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Reads path (the main file when from_file is NULL) and parses it. */
static void parse_file(struct parser *p, const char *path, const char *from_file, int from_line)
{
	const char *efile = from_file ? from_file : path;
	const char *what = from_file ? "%include file " : "";
	const char *why = NULL;
	char *real, *buf = NULL, *dir = NULL;
	size_t len = 0;

	real = realpath(path, NULL);
	if (!real) {
		perr(p, efile, from_line, "cannot open %s\"%s\": %s", what, path, strerror(errno));
		return;
	}
	for (int i = 0; i < p->nopen; i++) {
		if (strcmp(p->open[i], real) == 0) {
			perr(p, efile, from_line, "%%include loop: \"%s\" is already being read", path);
			goto out;
		}
	}
	buf = read_file(path, &len, &why);
	if (!buf) {
		perr(p, efile, from_line, "cannot read %s\"%s\": %s", what, path, why);
		goto out;
	}
	dir = dir_of(path);
	if (!dir) {
		perr(p, efile, from_line, "out of memory");
		goto out;
	}
	p->open[p->nopen++] = real;
	parse_text(p, buf, len, path, dir);
	p->nopen--;
out:
	free(dir);
	free(buf);
	free(real);
}

static void include_file(struct parser *p, const char *name, const char *file, int line,
			 const char *dir)
{
	char path[PATH_MAX];
	int n;

	if (p->depth >= MAX_INCLUDE_DEPTH) {
		perr(p, file, line, "%%include nested more than %d levels deep: \"%s\"",
		     MAX_INCLUDE_DEPTH, name);
		return;
	}
	if (name[0] == '/' || !dir)
		n = snprintf(path, sizeof(path), "%s", name);
	else
		n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		perr(p, file, line, "%%include path too long");
		return;
	}
	p->depth++;
	parse_file(p, path, file, line);
	p->depth--;
}

/* A "quoted key" (PgBouncer allows names with spaces this way; "" is a
 * literal quote). Unquotes in place; returns the rest of the line after the
 * closing quote, or NULL if unterminated. */
static char *unquote_key(char *s)
{
	char *r = s + 1, *w = s;

	for (;;) {
		if (!*r)
			return NULL;
		if (*r == '"') {
			if (r[1] != '"')
				break;
			r++;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return r + 1;
}

static void parse_line(struct parser *p, char *line, const char *file, int lineno, const char *dir)
{
	char *s = trim(line), *key, *value, *eq;

	if (!*s || *s == ';' || *s == '#')
		return;

	if (*s == '%') {
		if (strncasecmp(s, "%include", 8) == 0 && (!s[8] || isspace((unsigned char)s[8]))) {
			char *name = trim(s + 8);
			if (!*name)
				perr(p, file, lineno, "%%include without a file name");
			else
				include_file(p, name, file, lineno, dir);
		} else {
			perr(p, file, lineno, "unknown directive \"%.40s\"", s);
		}
		return;
	}

	if (*s == '[') {
		size_t n = strlen(s);
		char *name;

		if (s[n - 1] != ']') {
			perr(p, file, lineno, "syntax error: section header without ']'");
			p->sec = SEC_UNKNOWN;
			return;
		}
		s[n - 1] = '\0';
		name = trim(s + 1);
		if (strcasecmp(name, "databases") == 0) {
			p->sec = SEC_DATABASES;
		} else if (strcasecmp(name, "users") == 0) {
			p->sec = SEC_USERS;
		} else if (strcasecmp(name, "pgbouncer") == 0) {
			p->sec = SEC_PGBOUNCER;
		} else if (strcasecmp(name, "peers") == 0) {
			p->sec = SEC_PEERS;
		} else {
			/* Its keys are skipped: one error for the section is enough. */
			perr(p, file, lineno, "unknown section [%s]", name);
			p->sec = SEC_UNKNOWN;
		}
		return;
	}

	if (*s == '"') {
		char *rest = unquote_key(s);
		if (!rest) {
			perr(p, file, lineno, "syntax error: unterminated quoted name");
			return;
		}
		key = s;
		rest = trim(rest);
		if (*rest != '=') {
			perr(p, file, lineno, "syntax error: expected key = value");
			return;
		}
		value = trim(rest + 1);
	} else {
		eq = strchr(s, '=');
		if (!eq) {
			perr(p, file, lineno, "syntax error: expected key = value, got \"%.60s\"", s);
			return;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
	}
	if (!*key) {
		perr(p, file, lineno, "syntax error: missing name before '='");
		return;
	}

	switch (p->sec) {
	case SEC_NONE:
		perr(p, file, lineno, "\"%s\" is outside any section", key);
		break;
	case SEC_DATABASES:
		parse_db(p, key, value, file, lineno);
		break;
	case SEC_USERS:
		parse_user(p, key, value, file, lineno);
		break;
	case SEC_PGBOUNCER:
		set_option(p, key, value, file, lineno);
		break;
	case SEC_PEERS:
		parse_peer(p, key, value, file, lineno);
		break;
	case SEC_UNKNOWN:
		break;
	}
}

static void parse_text(struct parser *p, const char *text, size_t len, const char *file,
		       const char *dir)
{
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		char *line;

		pos += n + (nl ? 1 : 0);
		lineno++;
		/* A text file holds no NUL; past one the C string would silently
		 * end. Refused, as auth_file and auth_hba_file refuse it. */
		if (memchr(start, '\0', n)) {
			perr(p, file, lineno, "NUL byte in line");
			continue;
		}
		line = strndup(start, n);
		if (!line) {
			perr(p, file, lineno, "out of memory");
			return;
		}
		parse_line(p, line, file, lineno, dir);
		free(line);
	}
}

/* Whether auth_type and auth_file fit together; -1 with why if not. */
static int check_auth_file(enum lp_auth_type type, const char *auth_file, char *why, size_t whycap)
{
	bool needs = type == LP_AUTH_MD5 || type == LP_AUTH_PLAIN || type == LP_AUTH_SCRAM;

	if (!auth_file || !*auth_file) {
		if (!needs)
			return 0;
		snprintf(why, whycap, "auth_type %s requires auth_file", lp_auth_type_name(type));
		return -1;
	}
	if (access(auth_file, R_OK) != 0) {
		snprintf(why, whycap, "auth_file \"%s\" is not readable: %s", auth_file,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void set_defaults(struct parser *p, const char *file)
{
	size_t n;
	const struct lp_option *opts = lp_config_options(&n);

	for (size_t i = 0; i < n; i++) {
		union lp_optval v;
		char why[160];

		if (lp_config_value_parse(&opts[i], opts[i].def, &v, why, sizeof(why)) < 0) {
			perr(p, file, 0, "default of %s: %s", opts[i].name, why);
			continue;
		}
		lp_config_value_store(&p->c->s, &opts[i], v);
	}
}

static int finish(struct parser *p, const char *file)
{
	char why[PATH_MAX + 100];

	if (check_auth_file(p->c->s.auth_type, p->c->s.auth_file, why, sizeof(why)) < 0)
		perr(p, file, 0, "%s", why);
	/* A cancel key names its owner by peer id: without one, no other
	 * process could send this one's cancels back to it. */
	if (p->c->s.peers_dns && p->c->s.peers_dns[0] && p->c->s.peer_id == 0)
		perr(p, file, 0, "peers_dns needs peer_id (a number, or auto)");
	if (p->errors) {
		lp_config_free(p->c);
		return -1;
	}
	return 0;
}

static int start(struct parser *p, const char *file, struct lp_config *out, struct lp_diag *diag)
{
	memset(out, 0, sizeof(*out));
	memset(p, 0, sizeof(*p));
	p->c = out;
	p->diag = diag;
	out->path = strdup(file);
	if (!out->path) {
		perr(p, file, 0, "out of memory");
		return -1;
	}
	set_defaults(p, file);
	return p->errors ? -1 : 0;
}

int lp_config_load(const char *path, struct lp_config *out, struct lp_diag *diag)
{
	struct parser p;

	if (start(&p, path, out, diag) == 0)
		parse_file(&p, path, NULL, 0);
	/* PgBouncer shows the file in use as conffile unless it was set. */
	if (!p.errors && !out->s.conffile[0]) {
		char *cf = strdup(path);
		if (!cf)
			perr(&p, path, 0, "out of memory");
		else {
			free(out->s.conffile);
			out->s.conffile = cf;
		}
	}
	return finish(&p, path);
}

int lp_config_parse(const char *text, size_t len, const char *file, struct lp_config *out,
		    struct lp_diag *diag)
{
	struct parser p;

	if (!file)
		file = "<string>";
	if (start(&p, file, out, diag) == 0)
		parse_text(&p, text, len, file, NULL);
	return finish(&p, file);
}

void lp_config_free(struct lp_config *c)
{
	if (!c)
		return;
	lp_config_settings_free(&c->s);
	for (size_t i = 0; i < c->ndbs; i++)
		db_conf_cleanup(&c->dbs[i]);
	free(c->dbs);
	free(c->dbidx);
	for (size_t i = 0; i < c->nusers; i++)
		user_conf_cleanup(&c->users[i]);
	free(c->users);
	for (size_t i = 0; i < c->npeers; i++)
		peer_conf_cleanup(&c->peers[i]);
	free(c->peers);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

int lp_config_change_prepare(const struct lp_config *c, const char *key, const char *value,
			     struct lp_config_change *ch, const char **err)
{
	/* SET runs on the single event-loop thread; one static buffer is enough. */
	static char errbuf[PATH_MAX + 200];
	const struct lp_option *o = lp_config_option_find(key);
	union lp_optval v;
	char why[PATH_MAX + 100];

	memset(ch, 0, sizeof(*ch));
	if (err)
		*err = NULL;
	if (!o) {
		snprintf(errbuf, sizeof(errbuf), "unknown parameter \"%s\"", key);
		goto fail;
	}
	if (!o->reloadable) {
		snprintf(errbuf, sizeof(errbuf), "parameter %s cannot be changed online", o->name);
		goto fail;
	}
	if (lp_config_value_parse(o, value, &v, why, sizeof(why)) < 0) {
		if (secret_value(o))
			snprintf(errbuf, sizeof(errbuf), "invalid value for parameter %s: %s", o->name,
				 why);
		else
			snprintf(errbuf, sizeof(errbuf), "invalid value \"%s\" for parameter %s: %s",
				 value, o->name, why);
		goto fail;
	}
	ch->o = o;
	if (o->type == LP_OPT_STR)
		ch->s = v.s;
	else
		ch->i = v.i;
	if (o->offset == offsetof(struct lp_settings, auth_type) ||
	    o->offset == offsetof(struct lp_settings, auth_file)) {
		struct lp_settings after;

		lp_config_change_preview(c, ch, &after);
		if (check_auth_file(after.auth_type, after.auth_file, why, sizeof(why)) < 0) {
			lp_config_change_discard(ch);
			snprintf(errbuf, sizeof(errbuf), "%s", why);
			goto fail;
		}
	}
	return 0;
fail:
	if (err)
		*err = errbuf;
	return -1;
}

static union lp_optval change_value(const struct lp_config_change *ch)
{
	union lp_optval v;

	if (ch->o->type == LP_OPT_STR)
		v.s = ch->s;
	else
		v.i = ch->i;
	return v;
}

void lp_config_change_preview(const struct lp_config *c, const struct lp_config_change *ch,
			      struct lp_settings *out)
{
	*out = c->s;
	lp_config_value_put(out, ch->o, change_value(ch));
}

void lp_config_change_commit(struct lp_config *c, struct lp_config_change *ch)
{
	lp_config_value_store(&c->s, ch->o, change_value(ch));
	memset(ch, 0, sizeof(*ch));
}

void lp_config_change_discard(struct lp_config_change *ch)
{
	free(ch->s);
	memset(ch, 0, sizeof(*ch));
}

int lp_config_set(struct lp_config *c, const char *key, const char *value, const char **err)
{
	struct lp_config_change ch;

	if (lp_config_change_prepare(c, key, value, &ch, err) < 0)
		return -1;
	lp_config_change_commit(c, &ch);
	return 0;
}

const struct lp_db_conf *lp_config_find_db(const struct lp_config *c, const char *name)
{
	/* Exact match only: the caller decides whether "*" stands in. */
	if (c->dbidx) {
		size_t k = *db_find_slot(c, name);
		return k ? &c->dbs[k - 1] : NULL;
	}
	for (size_t i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].name, name) == 0)
			return &c->dbs[i];
	return NULL;
}

const struct lp_user_conf *lp_config_find_user(const struct lp_config *c, const char *name)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}
