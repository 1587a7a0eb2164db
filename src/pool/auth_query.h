/*
 * auth_user / auth_query / auth_dbname: the secret of a user missing from
 * auth_file is asked from PostgreSQL.
 *
 * The query runs as auth_user in the auth database, on the servers of the
 * ordinary pool (auth database, auth_user), so that pool's size and
 * connection limits bound the backends lookups use; lookups beyond it wait
 * in a FIFO queue shared in turn with the pool's clients, bounded by
 * auth_query_max_waiting and query_wait_timeout. The user name is sent as a
 * parameter of the extended protocol, never spliced into SQL, and no
 * looking-up client's parameters reach the auth pool's servers. Answers are
 * cached for auth_query_cache_ttl: a user found on its lp_user, a name not
 * found in a bounded cache of misses (no lp_user is made for it); a failed
 * query is not cached. Clients asking for the same user while a query runs
 * wait for that one query.
 *
 * Whatever the answer, the client's exchange goes on the same way: an
 * unknown user meets the same challenge (and fake salt) as a wrong password.
 * A refusal for load (queue full, query_wait_timeout) comes before anything
 * is known about the user, the same for every name.
 */
#ifndef LP_POOL_AUTH_QUERY_H
#define LP_POOL_AUTH_QUERY_H

#include <stdbool.h>

#include "pool/instance.h"

struct lp_authq_req;

/* true when auth_user and auth_query apply to c's database (or to a console
 * login: the global settings). */
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

/* Lookups of pool waiting for a server (lp_link_grow opens servers for
 * them as for waiting clients). */
int lp_authq_queued(const struct lp_pool *pool);
/* Hooks from the pooler for auth pools (pool->authq set). dispatch: hands
 * idle servers to queued lookups that came before the first waiting client
 * (link.c calls it before and after serving clients). */
void lp_authq_dispatch(struct lp_pool *pool);
/* The pool's last server login failed: queued lookups fail, and their
 * clients are told sqlstate and msg. */
void lp_authq_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg);
void lp_authq_server_closed(struct lp_server *s);
/* Lookups queued, running or ending on pool: it must not be freed. */
bool lp_authq_busy(const struct lp_pool *pool);
/* pool is being freed (lp_registry_reap; not busy): its lookup state and
 * the misses kept for it go too. */
void lp_authq_pool_free(struct lp_pool *pool);
/* At exit: frees lookups still in flight (their clients are gone). */
void lp_authq_cleanup(struct lp_instance *inst);

#endif
