/*
 * Every 250 ms: timeouts of clients and servers, server lifetimes, the
 * reserve pool, min_pool_size, the stats period (stats.c), the admin
 * console's pending commands (PAUSE, WAIT_CLOSE) and unused auto-databases
 * (autodb_idle_timeout, registry.c).
 */
#include <stdio.h>

#include "core/log.h"
#include "pool/auth_query.h"
#include "pool/cancel.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/instance.h"
#include "pool/janitor.h"
#include "pool/link.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "pool/stats.h"

/* The user whose [users] entry applies to c (the one it logged in as). */
static const struct lp_user *user_of(const struct lp_client *c)
{
	return c->login_user ? c->login_user : c->user;
}

/* A [users] timeout when given (>= 0), else the global one. */
#define USER_TIMEOUT(c, s, name) \
	(user_of(c) && user_of(c)->conf.name >= 0 ? user_of(c)->conf.name : (s)->name)

/* server_fast_close: a session-pooled server that must reconnect goes as soon
 * as its client is between transactions, and takes the client with it (so
 * the client notices its session ended). */
static bool fast_close(struct lp_client *c, struct lp_server *sv, const struct lp_settings *s)
{
	if (!s->server_fast_close || !sv->close_needed || !lp_track_releasable(&sv->trk) ||
	    lp_pool_mode_of(sv->pool) != LP_POOL_SESSION)
		return false;
	lp_server_close(sv, "database configuration changed (server_fast_close)");
	lp_client_fail(c, "08P01", "database configuration changed");
	return true;
}

static void check_clients(struct lp_instance *inst, struct lp_pool *p, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	if (s->query_wait_timeout > 0 && !inst->paused && !p->db->paused) {
		lp_list_foreach_safe(&p->waiting_clients, n, t) {
			struct lp_client *c = lp_container_of(n, struct lp_client, node);
			if (c->wait_start_us && now - c->wait_start_us > s->query_wait_timeout)
				lp_client_fail(c, "08P01", "query_wait_timeout");
		}
	}
	lp_list_foreach_safe(&p->active_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		struct lp_server *sv = c->server;
		int64_t client_idle = USER_TIMEOUT(c, s, client_idle_timeout);
		if (!sv) {
			if (client_idle > 0 && now - c->last_active_us > client_idle)
				lp_client_fail(c, "08P01", "client_idle_timeout");
			continue;
		}
		if (sv->state != LP_SV_ACTIVE)
			continue;
		int64_t query = USER_TIMEOUT(c, s, query_timeout);
		bool running = lp_track_busy(&sv->trk);
		if (query > 0 && running && sv->request_us && now - sv->request_us > query) {
			lp_client_fail(c, "57014", "query_timeout");
			continue;
		}
		int64_t xact = USER_TIMEOUT(c, s, transaction_timeout);
		if (xact > 0 && sv->xact_start_us && sv->trk.tx != 'I' &&
		    now - sv->xact_start_us > xact) {
			lp_client_fail(c, "25P03", "transaction timeout");
			continue;
		}
		int64_t idle_xact = USER_TIMEOUT(c, s, idle_transaction_timeout);
		if (idle_xact > 0 && !running && sv->trk.tx != 'I' &&
		    now - c->last_active_us > idle_xact) {
			lp_client_fail(c, "25P03", "idle transaction timeout");
			continue;
		}
		if (client_idle > 0 && !running && now - c->last_active_us > client_idle) {
			lp_client_fail(c, "08P01", "client_idle_timeout");
			continue;
		}
		(void)fast_close(c, sv, s);
	}
}

static int min_pool_size(const struct lp_pool *p)
{
	int m = p->db->conf.min_pool_size;
	return m >= 0 ? m : p->inst->cfg.s.min_pool_size;
}

static void check_servers(struct lp_instance *inst, struct lp_pool *p, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	lp_list_foreach_safe(&p->idle_servers, n, t) {
		struct lp_server *sv = lp_container_of(n, struct lp_server, node);
		if (lp_pool_server_lifetime(p) > 0 && now - sv->connect_us > sv->lifetime_us) {
			lp_server_close(sv, "server_lifetime");
			continue;
		}
		if (s->server_idle_timeout > 0 && now - sv->last_used_us > s->server_idle_timeout &&
		    lp_pool_server_total(p) > min_pool_size(p))
			lp_server_close(sv, "server_idle_timeout");
	}
	/* A reset, rollback, check or SET that gets no answer: the server is
	 * stuck, and a client may be waiting behind it. */
	int64_t internal_limit = s->server_connect_timeout > 0 ? s->server_connect_timeout
							       : 15 * 1000000LL;
	lp_list_foreach_safe(&p->used_servers, n, t) {
		struct lp_server *sv = lp_container_of(n, struct lp_server, node);
		if (sv->state == LP_SV_INTERNAL && sv->internal_start_us &&
		    now - sv->internal_start_us > internal_limit) {
			/* Closing alone would leave the backend running the query
			 * until it next writes: cancel it too. */
			(void)lp_cancel_forward(sv, -1);
			lp_server_close(sv, "no answer to a pooler query within server_connect_timeout");
		}
	}
	lp_list_foreach_safe(&p->login_servers, n, t) {
		struct lp_server *sv = lp_container_of(n, struct lp_server, node);
		if (s->server_connect_timeout > 0 && now - sv->connect_us > s->server_connect_timeout) {
			lp_server_close(sv, "server_connect_timeout");
			lp_link_login_failed(p, "08006", "server_connect_timeout: server did not answer");
		}
	}
	/* Reserve pool, min_pool_size, retries after a login backoff. */
	if (p->waiting_clients.count > 0 || lp_authq_queued(p) > 0 ||
	    (min_pool_size(p) > 0 && p->db->client_count > 0 && !p->db->removed))
		lp_link_grow(p);
}

static void janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_instance *inst = arg;
	int64_t now = lp_now_us();
	struct lp_list_node *n, *t;
	(void)fd;
	(void)what;

	if (inst->cfg.s.client_login_timeout > 0) {
		lp_list_foreach_safe(&inst->login_clients, n, t) {
			struct lp_client *c = lp_container_of(n, struct lp_client, node);
			if (now - c->connect_us > inst->cfg.s.client_login_timeout)
				lp_client_fail(c, "08P01", "client_login_timeout");
		}
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		check_clients(inst, p, now);
		check_servers(inst, p, now);
	}
	lp_stats_tick(inst, now);
	if (inst->console)
		inst->console->tick(inst);
	lp_registry_reap(inst, now);
}

void lp_janitor_start(struct lp_instance *inst)
{
	struct timeval tv = { 0, 250000 };
	inst->janitor_ev = event_new(inst->base, -1, EV_PERSIST, janitor_cb, inst);
	event_add(inst->janitor_ev, &tv);
	inst->last_stats_us = lp_now_us();
	/* PgBouncer's start: the first averages span one second before it. */
	inst->prev_stats_us = inst->last_stats_us - 1000000;
}
