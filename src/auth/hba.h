/*
 * auth_hba_file: host-based authentication rules in pg_hba.conf syntax.
 *
 *   local      DATABASE USER METHOD
 *   host       DATABASE USER ADDRESS METHOD        (hostssl, hostnossl alike)
 *
 * DATABASE and USER are comma lists of names or "all" (quoted "all" is a
 * name); ADDRESS is "all", an IPv4/IPv6 address with /prefix, or an address
 * followed by a separate netmask field. METHOD is trust, reject, password,
 * md5, scram-sha-256 or cert (cert on hostssl only). '#' starts a comment,
 * a trailing backslash continues the line. The first matching rule decides;
 * no match means the connection is refused.
 *
 * A file with any error is refused whole (as PostgreSQL does), every error
 * reported as file:line.
 */
#ifndef LP_AUTH_HBA_H
#define LP_AUTH_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/diag.h"

enum lp_hba_conn { LP_HBA_LOCAL, LP_HBA_HOST, LP_HBA_HOSTSSL, LP_HBA_HOSTNOSSL };
enum lp_hba_method { LP_HBA_TRUST, LP_HBA_REJECT, LP_HBA_PASSWORD, LP_HBA_MD5, LP_HBA_SCRAM,
		     LP_HBA_CERT };

struct lp_hba_rule {
	enum lp_hba_conn type;
	bool all_dbs, all_users;
	char **dbs, **users;
	int ndbs, nusers;
	int family;                     /* 0: any address; AF_INET or AF_INET6 */
	uint8_t addr[16], mask[16];
	enum lp_hba_method method;
	int line;
};

struct lp_hba {
	struct lp_hba_rule *rules;
	size_t n;
};

/* Parses text; 0 when valid, -1 with every problem in diag (out empty). */
int lp_hba_parse(const char *text, size_t len, const char *file, struct lp_hba *out,
		 struct lp_diag *diag);
/* Reads and parses path; -1 when unreadable or invalid (diag says why). */
int lp_hba_load(const char *path, struct lp_hba *out, struct lp_diag *diag);
void lp_hba_free(struct lp_hba *h);

/*
 * The first rule matching a connection: addr is the client's numeric IPv4 or
 * IPv6 address, or NULL for a unix socket. NULL when no rule matches.
 */
const struct lp_hba_rule *lp_hba_match(const struct lp_hba *h, const char *addr, bool tls,
				       const char *db, const char *user);

const char *lp_hba_method_name(enum lp_hba_method m);

#endif
