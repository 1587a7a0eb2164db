/*
 * auth_hba_file: host-based authentication rules in pg_hba.conf syntax, as
 * PgBouncer 1.25 reads them; auth_ident_file: the user name maps they use.
 *
 *   local      DATABASE USER METHOD [OPTIONS]
 *   host       DATABASE USER ADDRESS METHOD [OPTIONS]   (hostssl, hostnossl alike)
 *
 * DATABASE is a comma list of names, "all", "sameuser" (the database named
 * as the user), "replication" (physical replication connections, and only
 * those, as in PostgreSQL) or "@file" (names read from a
 * file, relative to the including file); USER a comma list of names, "all"
 * or "@file". Blanks may surround the commas. A double-quoted token is
 * literal ("all" is a name, blanks and commas are kept, "" is one quote).
 * ADDRESS is "all", an IPv4/IPv6 address with /prefix, or an address and a
 * separate netmask. METHOD is trust, reject, password, md5, scram-sha-256,
 * cert, peer, ldap or pam (cert needs a TLS client certificate and peer a
 * unix socket connection at login time, whatever the line's type; pam uses
 * the PAM service "pgbouncer" and takes no options -- PgBouncer 1.25 has no
 * HBA pam, linkpool does). OPTIONS: map=NAME (cert and peer), a map of
 * auth_ident_file; ldap's options (ldapserver=..., see auth/ldap_opts.h),
 * of which one is required. '#' starts a comment, a
 * trailing backslash continues the line. The first matching rule decides;
 * no match means the connection is refused.
 *
 * Refused with a reason (PgBouncer skips such a line; linkpool refuses the
 * whole file, as PostgreSQL does, so that a rule never silently vanishes):
 * samerole, samegroup, +group, samehost, samenet, host names, the gss,
 * sspi, radius and ident methods, any other option, invalid ldap options. Every error is reported as file:line.
 *
 * auth_ident_file lines are "MAPNAME SYSTEM-USERNAME DATABASE-USERNAME";
 * DATABASE-USERNAME may be "all". No regular expressions, +group or
 * include directives (PgBouncer's subset).
 */
#ifndef LP_AUTH_HBA_H
#define LP_AUTH_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/diag.h"

enum lp_hba_conn { LP_HBA_LOCAL, LP_HBA_HOST, LP_HBA_HOSTSSL, LP_HBA_HOSTNOSSL };
enum lp_hba_method { LP_HBA_TRUST, LP_HBA_REJECT, LP_HBA_PASSWORD, LP_HBA_MD5, LP_HBA_SCRAM,
		     LP_HBA_CERT, LP_HBA_PEER, LP_HBA_LDAP, LP_HBA_PAM };

struct lp_hba_rule {
	enum lp_hba_conn type;
	bool all_dbs, all_users;
	bool db_sameuser;               /* "sameuser" */
	bool db_replication;            /* "replication": physical replication connections */
	char **dbs, **users;
	int ndbs, nusers;
	int family;                     /* 0: any address; AF_INET or AF_INET6 */
	uint8_t addr[16], mask[16];
	enum lp_hba_method method;
	char *map;                      /* map= of cert and peer; NULL: none */
	/* ldap: its options as one auth_ldap_options text (auth/ldap_opts.h),
	 * checked when read; NULL for other methods */
	char *ldap_opts;
	int line;
};

struct lp_hba {
	struct lp_hba_rule *rules;
	size_t n;
};

/*
 * Parses text, read from file (names in an "@name" entry are read relative
 * to file's directory); 0 when valid, -1 with every problem in diag (out
 * empty).
 */
int lp_hba_parse(const char *text, size_t len, const char *file, struct lp_hba *out,
		 struct lp_diag *diag);
/* Reads and parses path; -1 when unreadable or invalid (diag says why). */
int lp_hba_load(const char *path, struct lp_hba *out, struct lp_diag *diag);
void lp_hba_free(struct lp_hba *h);

/*
 * The first rule matching a connection: addr is the client's numeric IPv4 or
 * IPv6 address, or NULL for a unix socket; physical: a physical replication
 * connection (replication=true), which only the "replication" keyword
 * matches. NULL when no rule matches.
 */
const struct lp_hba_rule *lp_hba_match(const struct lp_hba *h, const char *addr, bool tls,
				       const char *db, const char *user, bool physical);

const char *lp_hba_method_name(enum lp_hba_method m);

/* auth_ident_file: one map entry. */
struct lp_ident_entry {
	char *map, *system_user, *db_user;   /* db_user NULL: "all" */
};

struct lp_ident {
	struct lp_ident_entry *v;
	size_t n;
};

/* As lp_hba_parse / lp_hba_load, for an auth_ident_file. */
int lp_ident_parse(const char *text, size_t len, const char *file, struct lp_ident *out,
		   struct lp_diag *diag);
int lp_ident_load(const char *path, struct lp_ident *out, struct lp_diag *diag);
void lp_ident_free(struct lp_ident *id);
/* true when map lets system_user (the OS user of a peer, the Common Name
 * of a certificate) log in as db_user. */
bool lp_ident_match(const struct lp_ident *id, const char *map, const char *system_user,
		    const char *db_user);
/* true when id defines map at all. */
bool lp_ident_has_map(const struct lp_ident *id, const char *map);

#endif
