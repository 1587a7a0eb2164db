/*
 * LDAP and PAM logins (auth_type ldap / pam, HBA ldap / pam): the client is
 * asked for its password in clear text, and the blocking check
 * (auth/external.h) runs on a small pool of worker threads so that the loop
 * never waits; its answer comes back to the loop through an eventfd.
 *
 *   lp_extauth_begin (method chosen) -> AuthenticationCleartextPassword
 *   -> lp_extauth_password: a job queued (at most LP_EXTAUTH_MAX_JOBS in
 *      flight, else 53300) -> a worker checks -> the loop resumes the client
 *      (lp_client_auth_external_done), or drops the answer when the client
 *      left meanwhile (lp_extauth_forget).
 *
 * The password lives only in the job (wiped when freed) and, once proven,
 * as the pool user's server password (lp_user.ext_secret), as PgBouncer
 * keeps it: the server login can then answer md5 or SCRAM.
 */
#ifndef LP_POOL_EXTAUTH_H
#define LP_POOL_EXTAUTH_H

#include "pool/instance.h"

#define LP_EXTAUTH_THREADS 4
#define LP_EXTAUTH_MAX_JOBS 64          /* queued + running + answered, not yet resumed */

enum lp_extauth_kind { LP_EXTAUTH_LDAP, LP_EXTAUTH_PAM };

/* The method of c's login is kind; ldap_opts: its options (copied). Asks
 * the client for its password. -1 when c was closed. */
int lp_extauth_begin(struct lp_client *c, enum lp_extauth_kind kind, const char *ldap_opts);
/* The client's password: queued for a worker. -1 when c was closed. */
int lp_extauth_password(struct lp_client *c, const char *password);
/* c is going: its job's answer, if one is running, will be dropped. */
void lp_extauth_forget(struct lp_client *c);
/* At exit: idle workers end; a worker inside a check finishes it and
 * frees what is left. */
void lp_extauth_cleanup(struct lp_instance *inst);

#endif
