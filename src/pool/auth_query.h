/*
 * auth_user / auth_query / auth_dbname: the secret of a user missing from
 * auth_file is asked from PostgreSQL.
 *
 * The query runs as auth_user on a private server connection opened for it
 * (never one a client used, so none of any client's parameters -- such as a
 * hostile search_path -- reach it), with the user name sent as a parameter
 * of the extended protocol, never spliced into SQL. Answers are cached per
 * user for auth_query_cache_ttl; an answer of "no such user" is cached for
 * no longer than that, and a failed query is not cached at all. Clients
 * asking for the same user while a query runs wait for that one query.
 *
 * Whatever the answer, the client's exchange goes on the same way: an
 * unknown user meets the same challenge (and fake salt) as a wrong password.
 */
#ifndef LP_POOL_AUTH_QUERY_H
#define LP_POOL_AUTH_QUERY_H

#include <stdbool.h>

#include "pool/instance.h"

struct lp_authq_req;

/* true when auth_user and auth_query apply to c's database. */
bool lp_authq_configured(const struct lp_client *c);
/*
 * Looks c's user up, allocating c->authq. Returns 1 when the answer is known
 * now (lp_authq_answered()), 0 when c waits (lp_client_auth_start() is called
 * again with the answer), -1 when c was closed (53200 when out of memory).
 */
int lp_authq_lookup(struct lp_client *c);
/* true once c's lookup has its answer: the user's authq_secret holds it. */
bool lp_authq_answered(const struct lp_client *c);
/* c's login finished or c is closing: frees c->authq (leaving the waiters
 * of its lookup if it still waits). No-op without one. */
void lp_authq_forget(struct lp_client *c);

/* Hooks from the pooler for the private pools (pool->authq set). */
void lp_authq_pool_ready(struct lp_pool *pool);
void lp_authq_login_failed(struct lp_pool *pool, const char *msg);
void lp_authq_server_closed(struct lp_server *s);
/* At exit: frees lookups still in flight (their clients are gone). */
void lp_authq_cleanup(struct lp_instance *inst);

#endif
