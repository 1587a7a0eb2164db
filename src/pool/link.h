/*
 * Linking clients to servers (link.c): queue discipline, limits, the
 * effective pool settings, and what happens to a server released by its
 * client. Every client and server state is one list; the move helpers
 * keep each object in exactly one.
 */
#ifndef LP_POOL_LINK_H
#define LP_POOL_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include "pool/instance.h"
#include "pool/pool.h"

/* The client needs a server: link one now or queue the client. */
void lp_link_request(struct lp_client *c);
/* c's server closed while it was being readied for c (nothing of c's went
 * to it): c waits again; the caller's close posts the pool's dispatch. */
void lp_link_requeue(struct lp_client *c);
/* The client is done with its server (transaction end / leaving). */
void lp_link_release(struct lp_client *c, bool client_leaving);
/* A server became available or the pool's limits changed: serve waiters. */
void lp_link_dispatch(struct lp_pool *pool);
/* Move helpers keep every object in exactly one list. */
void lp_client_set_state(struct lp_client *c, enum lp_client_state st);
void lp_server_set_state(struct lp_server *s, enum lp_server_state st);
/* A response or a message is still in flight on s: handing it to another
 * client would splice two conversations. */
bool lp_server_owes_response(const struct lp_server *s);
/* No new server assignments in pool (PAUSE, SUSPEND, KILL). */
bool lp_pool_paused(const struct lp_pool *pool);
/* Paused and its released servers must close (PAUSE, not SUSPEND). */
bool lp_pool_draining(const struct lp_pool *pool);
/* Open new servers if clients wait and limits allow. */
void lp_link_grow(struct lp_pool *pool);
/* Room for a replication client's server in pool, made by closing an idle
 * server if need be (its own pool's, else one at the database's or user's
 * limit); false when the client must wait. */
bool lp_link_repl_room(struct lp_pool *pool);
/* The same, posted to the end of this loop turn: for paths that close a
 * server, which must never connect from inside the close (a connect that
 * fails at once would close again, and so on down the stack). */
void lp_link_grow_later(struct lp_pool *pool);
/* Runs the posted grows (the instance's end-of-turn pass): each pool's waiting
 * clients get an idle server or a new one (lp_link_dispatch). */
void lp_link_run_posted(struct lp_instance *inst);
/* A pool is about to be freed: drop what is posted for it. */
void lp_link_forget_pool(struct lp_pool *pool);
/* The last cancel to s was answered: a release parked behind it goes on. */
void lp_link_cancel_done(struct lp_server *s);
/* Server logins of pool failed within server_login_retry: no new one yet. */
bool lp_pool_login_backoff(const struct lp_pool *pool);
/* s finished a pooler query no client waits for (auth_query): back to the
 * idle list, or closed when it must not be reused. */
void lp_link_server_idle(struct lp_server *s);
/* Server login failed: remembered for server_login_retry; the waiting
 * clients get the error unless the failure is transient (the server could
 * not be reached, or is starting up / shutting down), in which case they
 * wait for the retry. */
void lp_link_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg,
			  bool transient);


/* The effective pool mode for a client of pool: [users], [databases], then
 * the global one. Inline: asked for every message of a prepared-statement
 * client and at every release. */
static inline enum lp_pool_mode lp_pool_mode_of(const struct lp_pool *pool)
{
	if (pool->user && pool->user->conf.pool_mode >= 0)
		return (enum lp_pool_mode)pool->user->conf.pool_mode;
	if (pool->db->conf.pool_mode >= 0)
		return (enum lp_pool_mode)pool->db->conf.pool_mode;
	return pool->inst->cfg.s.pool_mode;
}
int lp_pool_size_of(const struct lp_pool *pool);
/* server_lifetime of the pool's database, else the global one (µs). */
int64_t lp_pool_server_lifetime(const struct lp_pool *pool);
int lp_pool_server_total(const struct lp_pool *pool);

#endif
