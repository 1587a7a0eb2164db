/*
 * SHOW PEERS and SHOW PEER_POOLS (PgBouncer 1.19+ columns): the [peers]
 * this process forwards cancel requests to, and the requests in flight to
 * each. The processes found through peers_dns follow with peer_id 0: their
 * ids are not known, only their addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "admin/internal.h"
#include "pool/cancel.h"

static const struct lp_col peer_cols[] = {
	{ "peer_id", LP_COL_INT4 },
	{ "host", LP_COL_TEXT },
	{ "port", LP_COL_INT4 },
	{ "pool_size", LP_COL_INT4 },
};

static void show_peers(struct lp_client *c, const char *arg)
{
	const struct lp_config *cfg = &c->inst->cfg;
	struct lp_result r;
	(void)arg;
	lp_result_begin(&r, peer_cols, LP_NCOLS(peer_cols));
	for (size_t i = 0; i < cfg->npeers; i++) {
		const struct lp_peer_conf *pc = &cfg->peers[i];
		lp_row_begin(&r);
		lp_row_int(&r, pc->id);
		lp_row_text(&r, pc->host ? pc->host : "");
		lp_row_int(&r, pc->port > 0 ? pc->port : 6432);
		lp_row_int(&r, pc->pool_size > 0 ? pc->pool_size : cfg->s.default_pool_size);
		lp_row_end(&r);
	}
	const struct sockaddr_storage *addrs;
	int n = lp_cancel_dns_peers(c->inst, &addrs);
	for (int i = 0; i < n; i++) {
		char host[INET6_ADDRSTRLEN] = "";
		int port;
		if (addrs[i].ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&addrs[i];
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		} else {
			const struct sockaddr_in *a = (const struct sockaddr_in *)&addrs[i];
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
		lp_row_begin(&r);
		lp_row_int(&r, 0);
		lp_row_text(&r, host);
		lp_row_int(&r, port);
		lp_row_int(&r, cfg->s.default_pool_size);
		lp_row_end(&r);
	}
	lp_result_send(&r, c, "SHOW");
}

static void peer_pool_row(struct lp_result *r, int id, int active, int waiting)
{
	lp_row_begin(r);
	lp_row_int(r, id);
	/* One connection per request: the asker's and ours are a pair. */
	lp_row_int(r, active);
	lp_row_int(r, waiting);
	lp_row_int(r, active);
	lp_row_int(r, 0);
	lp_row_end(r);
}

static const struct lp_col peer_pool_cols[] = {
	{ "peer_id", LP_COL_INT4 },
	{ "cl_active_cancel_req", LP_COL_INT4 },
	{ "cl_waiting_cancel_req", LP_COL_INT4 },
	{ "sv_active_cancel", LP_COL_INT4 },
	{ "sv_login", LP_COL_INT4 },
};

static void show_peer_pools(struct lp_client *c, const char *arg)
{
	const struct lp_config *cfg = &c->inst->cfg;
	struct lp_result r;
	(void)arg;
	lp_result_begin(&r, peer_pool_cols, LP_NCOLS(peer_pool_cols));
	for (size_t i = 0; i < cfg->npeers; i++) {
		int active, waiting;
		lp_cancel_peer_counts(c->inst, cfg->peers[i].id, &active, &waiting);
		peer_pool_row(&r, cfg->peers[i].id, active, waiting);
	}
	if (cfg->s.peers_dns && cfg->s.peers_dns[0]) {
		int active, waiting;
		lp_cancel_peer_counts(c->inst, -1, &active, &waiting);
		peer_pool_row(&r, 0, active, waiting);
	}
	lp_result_send(&r, c, "SHOW");
}

const struct lp_admin_show lp_admin_shows_peers[] = {
	{ "peers", show_peers, false },
	{ "peer_pools", show_peer_pools, false },
	{ NULL, NULL, false },
};
