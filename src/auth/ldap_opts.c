/* LDAP option parser; see ldap_opts.h. */
#include "auth/ldap_opts.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 32

enum field { F_SERVER, F_PORT, F_SCHEME, F_TLS, F_PREFIX, F_SUFFIX, F_BASEDN, F_BINDDN,
	     F_BINDPW, F_ATTR, F_FILTER, F_SCOPE, F_URL, F_COUNT };

struct parse {
	struct lp_ldap_opts *o;
	unsigned set;                   /* bit per enum field */
	char *why;
	size_t whycap;
};

static int fail(struct parse *p, const char *fmt, const char *arg)
{
	snprintf(p->why, p->whycap, fmt, arg);
	return -1;
}

static bool sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * One word of text from *pos: runs to a separator (or stop, when not NUL)
 * outside double quotes; "" inside quotes is one quote. -1 when too long
 * or a quote is left open.
 */
static int word(const char *text, size_t len, size_t *pos, char stop, char *out, size_t cap,
		bool *quoted)
{
	size_t n = 0, i = *pos;
	bool in_q = false;
	*quoted = false;
	while (i < len) {
		char ch = text[i];
		if (!in_q && (sep(ch) || (stop && ch == stop)))
			break;
		i++;
		if (ch == '"') {
			if (in_q && i < len && text[i] == '"') {
				i++;            /* "" is one quote */
			} else {
				in_q = !in_q;
				*quoted = true;
				continue;
			}
		}
		if (ch == '\0' || n + 1 >= cap)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	*pos = i;
	return in_q ? -1 : 0;
}

static int take(struct parse *p, enum field f, const char *name)
{
	if (p->set & (1u << f))
		return fail(p, "%s given twice (or also in ldapurl)", name);
	p->set |= 1u << f;
	return 0;
}

static int set_str(struct parse *p, enum field f, const char *name, char *dst, const char *v)
{
	if (take(p, f, name) < 0)
		return -1;
	snprintf(dst, LP_LDAP_STR_MAX, "%s", v);
	return 0;
}

static int parse_port(struct parse *p, const char *s, size_t n)
{
	long v = 0;
	if (n == 0 || n > 5)
		return fail(p, "%s", "invalid LDAP port number");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(p, "%s", "invalid LDAP port number");
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(p, "%s", "invalid LDAP port number");
	p->o->port = (int)v;
	return 0;
}

/* s[0..n) percent-decoded into dst (LP_LDAP_STR_MAX). */
static int url_part(struct parse *p, const char *s, size_t n, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return fail(p, "%s", "invalid %-escape in ldapurl");
			char hex[3] = { s[i + 1], s[i + 2], '\0' };
			ch = (char)strtol(hex, NULL, 16);
			if (ch == '\0')
				return fail(p, "%s", "NUL byte in ldapurl");
			i += 2;
		}
		if (o + 1 >= LP_LDAP_STR_MAX)
			return fail(p, "%s", "ldapurl part too long");
		dst[o++] = ch;
	}
	dst[o] = '\0';
	return 0;
}

/* ldap[s]://host[:port][/basedn[?attribute[?scope[?filter]]]] */
static int parse_url(struct parse *p, const char *u)
{
	struct lp_ldap_opts *o = p->o;
	const char *s;
	if (strncasecmp(u, "ldap://", 7) == 0) {
		s = u + 7;
	} else if (strncasecmp(u, "ldaps://", 8) == 0) {
		s = u + 8;
		o->ldaps = true;
	} else {
		return fail(p, "%s", "ldapurl must begin with ldap:// or ldaps://");
	}
	if (take(p, F_URL, "ldapurl") < 0 || take(p, F_SERVER, "ldapserver") < 0 ||
	    take(p, F_SCHEME, "ldapscheme") < 0 || take(p, F_PORT, "ldapport") < 0 ||
	    take(p, F_BASEDN, "ldapbasedn") < 0 || take(p, F_SCOPE, "scope") < 0)
		return -1;
	size_t hl = strcspn(s, "/?");
	const char *host = s, *colon = NULL;
	size_t host_len = hl;
	if (hl && s[0] == '[') {
		const char *rb = memchr(s, ']', hl);
		if (!rb)
			return fail(p, "%s", "invalid host in ldapurl");
		host = s + 1;
		host_len = (size_t)(rb - s) - 1;
		if (rb + 1 < s + hl) {
			if (rb[1] != ':')
				return fail(p, "%s", "invalid host in ldapurl");
			colon = rb + 1;
		}
	} else {
		colon = memchr(s, ':', hl);
		if (colon)
			host_len = (size_t)(colon - s);
	}
	if (host_len == 0)
		return fail(p, "%s", "ldapurl must name a host");
	if (host_len >= LP_LDAP_STR_MAX)
		return fail(p, "%s", "ldapurl host too long");
	for (size_t i = 0; i < host_len; i++)
		if (blank(host[i]) || host[i] == '%')
			return fail(p, "%s", "invalid host in ldapurl");
	memcpy(o->server, host, host_len);
	o->server[host_len] = '\0';
	if (colon && parse_port(p, colon + 1, (size_t)(s + hl - colon - 1)) < 0)
		return -1;
	s += hl;
	if (*s == '?')
		return fail(p, "%s", "invalid ldapurl: '?' before the base DN");
	if (*s != '/')
		return 0;
	s++;
	/* basedn ? attribute ? scope ? filter, and no extensions */
	const char *part[4] = { NULL, NULL, NULL, NULL };
	size_t plen[4] = { 0, 0, 0, 0 };
	for (int k = 0; k < 4; k++) {
		part[k] = s;
		plen[k] = strcspn(s, "?");
		s += plen[k];
		if (*s != '?')
			break;
		s++;
		if (k == 3)
			return fail(p, "%s", "ldapurl extensions are not supported");
	}
	if (url_part(p, part[0], plen[0], o->basedn) < 0)
		return -1;
	if (part[1] && plen[1]) {
		if (memchr(part[1], ',', plen[1]))
			return fail(p, "%s", "ldapurl names more than one attribute");
		if (take(p, F_ATTR, "ldapsearchattribute") < 0 ||
		    url_part(p, part[1], plen[1], o->search_attr) < 0)
			return -1;
	}
	if (part[2] && plen[2]) {
		if (plen[2] == 4 && strncasecmp(part[2], "base", 4) == 0)
			o->scope = LP_LDAP_SCOPE_BASE;
		else if (plen[2] == 3 && strncasecmp(part[2], "one", 3) == 0)
			o->scope = LP_LDAP_SCOPE_ONE;
		else if (plen[2] == 3 && strncasecmp(part[2], "sub", 3) == 0)
			o->scope = LP_LDAP_SCOPE_SUB;
		else
			return fail(p, "%s", "invalid scope in ldapurl (base, one or sub)");
	}
	if (part[3] && plen[3]) {
		if (take(p, F_FILTER, "ldapsearchfilter") < 0 ||
		    url_part(p, part[3], plen[3], o->search_filter) < 0)
			return -1;
	}
	return 0;
}

static int option(struct parse *p, const char *name, const char *v)
{
	struct lp_ldap_opts *o = p->o;
	if (strcmp(name, "ldapserver") == 0) {
		if (!v[0])
			return fail(p, "%s", "ldapserver is empty");
		return set_str(p, F_SERVER, name, o->server, v);
	}
	if (strcmp(name, "ldapport") == 0)
		return take(p, F_PORT, name) < 0 ? -1 : parse_port(p, v, strlen(v));
	if (strcmp(name, "ldapscheme") == 0) {
		if (take(p, F_SCHEME, name) < 0)
			return -1;
		if (strcmp(v, "ldap") != 0 && strcmp(v, "ldaps") != 0)
			return fail(p, "%s", "ldapscheme must be ldap or ldaps");
		o->ldaps = strcmp(v, "ldaps") == 0;
		return 0;
	}
	if (strcmp(name, "ldaptls") == 0) {
		if (take(p, F_TLS, name) < 0)
			return -1;
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return fail(p, "%s", "ldaptls must be 0 or 1");
		o->starttls = v[0] == '1';
		return 0;
	}
	if (strcmp(name, "ldapprefix") == 0) {
		o->simple_bind = true;
		return set_str(p, F_PREFIX, name, o->prefix, v);
	}
	if (strcmp(name, "ldapsuffix") == 0) {
		o->simple_bind = true;
		return set_str(p, F_SUFFIX, name, o->suffix, v);
	}
	if (strcmp(name, "ldapbasedn") == 0)
		return set_str(p, F_BASEDN, name, o->basedn, v);
	if (strcmp(name, "ldapbinddn") == 0)
		return set_str(p, F_BINDDN, name, o->binddn, v);
	if (strcmp(name, "ldapbindpasswd") == 0)
		return set_str(p, F_BINDPW, name, o->bindpasswd, v);
	if (strcmp(name, "ldapsearchattribute") == 0)
		return set_str(p, F_ATTR, name, o->search_attr, v);
	if (strcmp(name, "ldapsearchfilter") == 0)
		return set_str(p, F_FILTER, name, o->search_filter, v);
	if (strcmp(name, "ldapurl") == 0)
		return parse_url(p, v);
	return fail(p, "unknown LDAP option \"%s\"", name);
}

int lp_ldap_opts_parse(const char *text, size_t len, struct lp_ldap_opts *out, char *why,
		       size_t whycap)
{
	char value[LP_LDAP_STR_MAX];
	struct parse p = { out, 0, why, whycap };
	size_t pos = 0;
	char name[NAME_MAX_LEN + 1];
	bool quoted;

	memset(out, 0, sizeof(*out));
	out->scope = LP_LDAP_SCOPE_SUB;
	why[0] = '\0';
	for (;;) {
		while (pos < len && sep(text[pos]))
			pos++;
		if (pos >= len)
			break;
		if (word(text, len, &pos, '=', name, sizeof(name), &quoted) < 0)
			return fail(&p, "%s", "invalid LDAP option name");
		if (pos >= len || text[pos] != '=')
			return fail(&p, "LDAP option \"%s\" is not name=value", name);
		pos++;
		if (word(text, len, &pos, 0, value, sizeof(value), &quoted) < 0)
			return fail(&p, "value of LDAP option \"%s\" is too long or unterminated",
				    name);
		if (option(&p, name, value) < 0)
			return -1;
	}
	memset(value, 0, sizeof(value));        /* it may have held ldapbindpasswd */
	if (!out->server[0])
		return fail(&p, "%s", "no LDAP server: ldapserver or ldapurl is required");
	if (out->simple_bind && (p.set & ((1u << F_BASEDN) | (1u << F_BINDDN) | (1u << F_BINDPW) |
					  (1u << F_ATTR) | (1u << F_FILTER))))
		return fail(&p, "%s", "ldapprefix/ldapsuffix (simple bind) cannot be mixed with "
				      "ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute "
				      "or ldapsearchfilter (search+bind)");
	if (!out->simple_bind && !out->basedn[0])
		return fail(&p, "%s", "LDAP authentication requires ldapbasedn, ldapprefix or "
				      "ldapsuffix");
	if ((p.set & (1u << F_ATTR)) && (p.set & (1u << F_FILTER)))
		return fail(&p, "%s", "ldapsearchattribute and ldapsearchfilter cannot be combined");
	return 0;
}

int lp_ldap_uris(const struct lp_ldap_opts *o, char *out, size_t cap)
{
	const char *s = o->server;
	size_t n = 0;
	int port = o->port ? o->port : o->ldaps ? 636 : 389;
	out[0] = '\0';
	for (;;) {
		while (blank(*s))
			s++;
		if (!*s)
			break;
		size_t hl = strcspn(s, " \t");
		bool v6 = memchr(s, ':', hl) != NULL && s[0] != '[';
		int w = snprintf(out + n, cap - n, "%s%s://%s%.*s%s:%d", n ? " " : "",
				 o->ldaps ? "ldaps" : "ldap", v6 ? "[" : "", (int)hl, s, v6 ? "]" : "",
				 port);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
		s += hl;
	}
	return n ? 0 : -1;
}

bool lp_ldap_user_ok(const struct lp_ldap_opts *o, const char *user)
{
	const char *bad = o->simple_bind ? ",+\"\\<>;=#" : "*()\\/";
	if (!user[0])
		return false;
	return strpbrk(user, bad) == NULL;
}

int lp_ldap_bind_dn(const struct lp_ldap_opts *o, const char *user, char *out, size_t cap)
{
	int w = snprintf(out, cap, "%s%s%s", o->prefix, user, o->suffix);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

int lp_ldap_filter(const struct lp_ldap_opts *o, const char *user, char *out, size_t cap)
{
	if (!o->search_filter[0]) {
		int w = snprintf(out, cap, "(%s=%s)", o->search_attr[0] ? o->search_attr : "uid",
				 user);
		return w < 0 || (size_t)w >= cap ? -1 : 0;
	}
	static const char tag[] = "$username";
	const size_t tl = sizeof(tag) - 1, ul = strlen(user);
	size_t n = 0;
	for (const char *s = o->search_filter; *s;) {
		if (strncmp(s, tag, tl) == 0) {
			if (n + ul >= cap)
				return -1;
			memcpy(out + n, user, ul);
			n += ul;
			s += tl;
		} else {
			if (n + 1 >= cap)
				return -1;
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return 0;
}
