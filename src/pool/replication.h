/*
 * Replication connections (replication.c): a client whose startup packet
 * asks for replication (logical: "database", physical: a true boolean) gets
 * a server connection of its own, opened with the same request and its own
 * startup parameters, linked to it alone for its whole life and closed when
 * it leaves, as PgBouncer 1.23+ does. That server counts against the pool's
 * pool_size, max_db_connections and max_user_connections like any other.
 */
#ifndef LP_POOL_REPLICATION_H
#define LP_POOL_REPLICATION_H

#include "pool/pool.h"

/* c (a replication client) authenticated in its pool: it waits
 * (LP_CL_WAIT_REPL) for a server of its own, opened now if there is room. */
void lp_repl_start(struct lp_client *c);
/* Opens a server for each waiting replication client of pool while there is
 * room (lp_link_repl_room), in arrival order. Returns how many of the
 * pool's logging-in servers belong to replication clients. Called by
 * lp_link_grow. */
int lp_repl_grow(struct lp_pool *pool);

#endif
