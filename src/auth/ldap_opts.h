/*
 * LDAP options of auth_type = ldap (auth_ldap_options) and of an
 * auth_hba_file "ldap" rule, as PostgreSQL's pg_hba.conf names them and
 * PgBouncer takes them. A pure parser: text in, struct out, no I/O, no
 * allocation (the strings live in the struct), so that --check, the login
 * path and the fuzzer all run the same code.
 *
 * Syntax: NAME=VALUE items separated by blanks; VALUE (and NAME)
 * may be double-quoted, "" inside quotes is one quote. Names:
 *   ldapserver (blank-separated host list), ldapport, ldapscheme (ldap |
 *   ldaps), ldaptls (0/1: StartTLS), ldapprefix, ldapsuffix (simple bind:
 *   the DN is prefix + user name + suffix), ldapbasedn, ldapbinddn,
 *   ldapbindpasswd, ldapsearchattribute, ldapsearchfilter (search+bind: a
 *   search under ldapbasedn, as ldapbinddn or anonymously, for the one entry
 *   of (attribute=user) -- uid by default -- or of the filter with
 *   $username replaced, then a bind as that entry's DN), ldapurl
 *   (ldap[s]://host[:port]/basedn[?attribute[?scope[?filter]]], RFC 4516).
 * The simple-bind and search+bind options do not mix, nor do
 * ldapsearchattribute and ldapsearchfilter (PostgreSQL's rules); a server
 * and one of ldapprefix / ldapsuffix / ldapbasedn are required.
 */
#ifndef LP_AUTH_LDAP_OPTS_H
#define LP_AUTH_LDAP_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define LP_LDAP_STR_MAX 1024            /* each string option, NUL included */

enum lp_ldap_scope { LP_LDAP_SCOPE_BASE, LP_LDAP_SCOPE_ONE, LP_LDAP_SCOPE_SUB };

struct lp_ldap_opts {
	char server[LP_LDAP_STR_MAX];   /* host names/addresses, blank-separated */
	int port;                       /* 0: 389, or 636 with ldaps */
	bool ldaps;
	bool starttls;
	char prefix[LP_LDAP_STR_MAX], suffix[LP_LDAP_STR_MAX];
	bool simple_bind;               /* ldapprefix or ldapsuffix given */
	char basedn[LP_LDAP_STR_MAX];
	char binddn[LP_LDAP_STR_MAX];
	char bindpasswd[LP_LDAP_STR_MAX];
	char search_attr[LP_LDAP_STR_MAX];
	char search_filter[LP_LDAP_STR_MAX];
	enum lp_ldap_scope scope;       /* subtree unless an ldapurl says otherwise */
};

/*
 * Parses len bytes of text into *out. Returns 0, or -1 with a reason in why
 * (never quoting ldapbindpasswd's value).
 */
int lp_ldap_opts_parse(const char *text, size_t len, struct lp_ldap_opts *out, char *why,
		       size_t whycap);

/* The URI list for ldap_initialize(): "ldap://host:port ldap://host2:port". -1
 * when it does not fit cap. */
int lp_ldap_uris(const struct lp_ldap_opts *o, char *out, size_t cap);

/*
 * Whether user may be looked up or bound as: not empty, and none of the
 * bytes that would change a DN (simple bind: , + " \ < > ; = # and NUL) or
 * a search filter (search+bind: * ( ) \ / and NUL). PostgreSQL refuses the
 * latter; the former keeps a user name from naming another entry's DN.
 */
bool lp_ldap_user_ok(const struct lp_ldap_opts *o, const char *user);

/* The bind DN of simple-bind mode: prefix + user + suffix. -1 when too long. */
int lp_ldap_bind_dn(const struct lp_ldap_opts *o, const char *user, char *out, size_t cap);
/* The search filter of search+bind mode: ldapsearchfilter with every
 * $username replaced, or (attribute=user). -1 when too long. */
int lp_ldap_filter(const struct lp_ldap_opts *o, const char *user, char *out, size_t cap);

#endif
