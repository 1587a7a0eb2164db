/*
 * Password checks by an outside authority: an LDAP bind (external_ldap.c, OpenLDAP's
 * libldap) and PAM (external_pam.c, Linux-PAM). Both BLOCK -- network round trips,
 * PAM modules that may do anything -- so they are called only from the
 * worker threads of pool/extauth.c, never from the event loop. They touch
 * no linkpool state, log nothing (a worker must not write the log; the
 * loop logs `detail`), and never put the password or ldapbindpasswd into
 * `detail`.
 */
#ifndef LP_AUTH_EXTERNAL_H
#define LP_AUTH_EXTERNAL_H

#include <stddef.h>

#include "auth/ldap_opts.h"

enum lp_ext_result {
	LP_EXT_OK,              /* the password is right */
	LP_EXT_DENIED,          /* wrong password, unknown user, refused user name */
	LP_EXT_UNAVAILABLE,     /* the LDAP server could not be reached (or TLS failed) */
	LP_EXT_ERROR,           /* anything else: misconfiguration, out of memory */
};

#define LP_EXT_DETAIL_MAX 256

/* LDAP connect (TCP + TLS) timeout and the timeout of each LDAP operation. */
#define LP_LDAP_CONNECT_TIMEOUT_S 3
#define LP_LDAP_OP_TIMEOUT_S 10

/*
 * Checks user's password against the LDAP server of o: simple bind as
 * prefix + user + suffix, or search+bind. An empty password is denied
 * without asking (an LDAP bind with an empty password is an anonymous bind
 * and would succeed).
 */
enum lp_ext_result lp_ldap_check(const struct lp_ldap_opts *o, const char *user,
				 const char *password, char *detail, size_t cap);

/* libldap's process-wide setup (its config files, LDAPCONF, SASL plugins),
 * done once on the loop's thread before any worker runs: libldap sets
 * itself up on first use otherwise, in whichever thread comes first. */
void lp_ldap_global_init(void);

/* The PAM service linkpool authenticates with (PgBouncer's). */
#define LP_PAM_SERVICE "pgbouncer"

/*
 * pam_authenticate + pam_acct_mgmt of user with password for service,
 * PAM_RHOST set to rhost (NULL: not set). Silent (no PAM messages reach
 * anyone); a module's prompts are all answered with the password.
 */
enum lp_ext_result lp_pam_check(const char *service, const char *user, const char *password,
				const char *rhost, char *detail, size_t cap);

#endif
