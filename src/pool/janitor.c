/*
 * Every 250 ms: timeouts of clients and servers, server lifetimes, the
 * reserve pool, min_pool_size, the stats period (stats.c), the admin
 * console's pending commands (PAUSE, WAIT_CLOSE) and unused auto-databases
 * (autodb_idle_timeout, registry.c).
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "pool/auth_query.h"
#include "pool/cancel.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/control.h"
#include "pool/instance.h"
#include "pool/hosts.h"
#include "pool/janitor.h"
#include "pool/link.h"
#include "pool/probe.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "pool/stats.h"
#include "pool/takeover.h"

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
	lp_server_close(sv, "database configuration changed");     /* PgBouncer's words */
	lp_client_fail(c, "08P01", "database configuration changed");
	return true;
}

/*
 * A running query passed query_timeout: the server goes (its stream is
 * mid-answer) and so does the client, both logged "query timeout" as
 * PgBouncer words it (a queued query gets "query_timeout"). The backend is
 * cancelled too, or it would run the query on until it next writes.
 */
static void query_timed_out(struct lp_client *c, struct lp_server *sv)
{
	(void)lp_cancel_forward(sv, -1);
	if (sv->io.pkt_remain > 0) {
		/* part of a message is out: the client can only be closed */
		lp_server_close(sv, "query timeout");
		return;
	}
	c->server = NULL;
	sv->client = NULL;
	lp_server_close(sv, "query timeout");
	lp_client_fail(c, "57014", "query timeout");
}

/* query_wait_timeout: the database's, else the [users] entry's, else the
 * global one (PgBouncer 1.25's order). */
static int64_t wait_timeout(const struct lp_client *c, const struct lp_settings *s)
{
	if (c->pool->db->conf.query_wait_timeout >= 0)
		return c->pool->db->conf.query_wait_timeout;
	if (user_of(c) && user_of(c)->conf.query_wait_timeout >= 0)
		return user_of(c)->conf.query_wait_timeout;
	return s->query_wait_timeout;
}

/* Clients queued for a server (and those waiting for the pool's first
 * login): their timeouts, and query_wait_notify's notice. */
static void check_waiting(struct lp_instance *inst, struct lp_pool *p, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	lp_list_foreach_safe(&p->waiting_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (!c->wait_start_us)
			continue;
		int64_t age = now - c->wait_start_us;
		int64_t query = USER_TIMEOUT(c, s, query_timeout);
		int64_t wait = wait_timeout(c, s);
		if ((c->state == LP_CL_WAIT_LOGIN || c->state == LP_CL_WAIT_REPL) &&
		    s->client_login_timeout > 0 &&
		    now - c->connect_us > s->client_login_timeout) {
			lp_client_fail(c, "08P01", "client_login_timeout (server down)");
		} else if (query > 0 && age > query) {
			/* PgBouncer counts a queued query's wait against
			 * query_timeout too. */
			lp_client_fail(c, "57014", "query_timeout");
		} else if (wait > 0 && age > wait) {
			lp_client_fail(c, "08P01", "query_wait_timeout");
		} else if (c->state == LP_CL_WAITING && s->query_wait_notify > 0 &&
			   !c->wait_notified && age > s->query_wait_notify) {
			/* Once per wait; PgBouncer's text. */
			c->wait_notified = true;
			lp_client_notice(c, "No server connection available in postgres backend, "
					    "client being queued");
		}
	}
}

static void check_clients(struct lp_instance *inst, struct lp_pool *p, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	if (!inst->paused && !p->db->paused)
		check_waiting(inst, p, now);
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
		/* A replication stream is one command as long as the connection:
		 * query_timeout would end every one. */
		if (query > 0 && running && sv->request_us && !sv->replication &&
		    now - sv->request_us > query) {
			query_timed_out(c, sv);
			continue;
		}
		int64_t xact = USER_TIMEOUT(c, s, transaction_timeout);
		if (xact > 0 && sv->xact_start_us && sv->trk.tx != 'I' &&
		    now - sv->xact_start_us > xact) {
			lp_client_fail(c, "25P03", "transaction timeout");
			continue;
		}
		int64_t idle_xact = USER_TIMEOUT(c, s, idle_transaction_timeout);
		/* Idle since the later of the client's last message and the
		 * last answer: a long query is not idle time. */
		int64_t idle_from = c->last_active_us > sv->last_rfq_us ? c->last_active_us
									 : sv->last_rfq_us;
		if (idle_xact > 0 && !running && sv->trk.tx != 'I' && now - idle_from > idle_xact) {
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

static bool forced_pool(const struct lp_pool *p);

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
		    lp_pool_server_total(p) > min_pool_size(p)) {
			lp_server_close(sv, "server_idle_timeout");
			continue;
		}
		/* max_replica_lag: one idle server per standby, every second. */
		if (lp_hosts_lag_due(p->db, sv->host_idx, now))
			lp_probe_lag_idle(sv);
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
			/* PgBouncer's words; the waiting clients stay for the
			 * retry, within query_timeout / query_wait_timeout. */
			if (lp_server_host_failed(sv, "connect timeout",
						  "server_connect_timeout: server did not answer"))
				continue;
			lp_server_close(sv, "connect timeout");
			lp_link_login_failed(p, "08006", "server_connect_timeout: server did not answer",
					     true);
		}
	}
	/* Reserve pool, min_pool_size, retries after a login backoff. A
	 * forced user's pool is kept at min_pool_size with no client at all,
	 * as PgBouncer does; other pools only while their database has one. */
	if (p->waiting_clients.count > 0 || lp_authq_queued(p) > 0 ||
	    (min_pool_size(p) > 0 && !p->db->removed &&
	     (p->db->client_count > 0 || forced_pool(p))))
		lp_link_grow(p);
}

/* The pool a database with a forced user (user= in [databases]) uses. */
static bool forced_pool(const struct lp_pool *p)
{
	const char *u = p->db->conf.user;
	return u && u[0] && strcmp(u, p->user->name) == 0;
}

/*
 * The pools of forced-user databases with a min_pool_size exist before any
 * client comes (a start, a RELOAD that adds or changes one), so that the
 * janitor opens their servers.
 */
static void make_forced_pools(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		int min = db->conf.min_pool_size >= 0 ? db->conf.min_pool_size
						      : inst->cfg.s.min_pool_size;
		if (min <= 0 || !db->conf.user || !db->conf.user[0] || db->removed || db->disabled)
			continue;
		struct lp_user *u = lp_registry_get_user(inst, db->conf.user);
		if (u)
			(void)lp_registry_get_pool(inst, db, u);
	}
}

static void janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_instance *inst = arg;
	int64_t now = lp_now_us();
	struct lp_list_node *n, *t;
	(void)fd;
	(void)what;

	if (inst->suspended) {
		/* Nothing that would surprise a process taking the sockets over
		 * (timeouts, lifetimes): only SUSPEND's own progress, whose
		 * suspend_timeout bounds the wait. */
		lp_takeover_check(inst);
		if (!inst->suspended)
			return;
		(void)lp_control_suspend_done(inst);
		lp_stats_tick(inst, now);
		if (inst->console)
			inst->console->tick(inst);
		return;
	}
	if (inst->cfg.s.client_login_timeout > 0) {
		lp_list_foreach_safe(&inst->login_clients, n, t) {
			struct lp_client *c = lp_container_of(n, struct lp_client, node);
			if (now - c->connect_us > inst->cfg.s.client_login_timeout)
				lp_client_fail(c, "08P01", "client_login_timeout");
		}
	}
	if (inst->shutdown == LP_RUN)
		make_forced_pools(inst);
	lp_control_drain_clients(inst);
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		check_clients(inst, p, now);
		check_servers(inst, p, now);
	}
	lp_stats_tick(inst, now);
	if (inst->console)
		inst->console->tick(inst);
	lp_registry_reap(inst, now);
	lp_registry_reap_pools(inst, now);
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
