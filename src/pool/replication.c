/*
 * Replication connections: the client's side of the dedicated server --
 * waiting for room, opening it. The server's side (the startup packet with
 * the client's parameters, login, the welcome from the server's own
 * parameters) is in server.c and client.c; the release that closes it in
 * link.c.
 */
#include "pool/replication.h"

#include "core/log.h"
#include "pool/client.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/server.h"

void lp_repl_start(struct lp_client *c)
{
	c->wait_start_us = lp_now_us();
	lp_client_set_state(c, LP_CL_WAIT_REPL);
	lp_link_grow(c->pool);
}

int lp_repl_grow(struct lp_pool *pool)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (c->state != LP_CL_WAIT_REPL || c->server)
			continue;
		/* A connect that fails at once fails c (server.c) and may close
		 * other servers: the next client waits for the next pass. */
		if (!lp_link_repl_room(pool) || !lp_server_connect_replication(pool, c))
			break;
	}
	int logging_in = 0;
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		const struct lp_client *c = lp_container_of(n, struct lp_client, node);
		logging_in += c->state == LP_CL_WAIT_REPL && c->server;
	}
	return logging_in;
}
