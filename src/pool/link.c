/*
 * Linking clients to servers: the pool's queue discipline, its limits, and
 * what happens to a server when its client is done with it.
 *
 * A server is handed to the next client only clean: outside a transaction,
 * with no response owed, after the reset query when the mode needs it, and
 * with the client's tracked parameters set on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pool/auth_query.h"
#include "pool/client.h"
#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/prepared.h"
#include "pool/replication.h"
#include "pool/server.h"

static struct lp_list *client_list(struct lp_client *c)
{
	switch (c->state) {
	case LP_CL_LOGIN:
		return &c->inst->login_clients;
	case LP_CL_WAIT_LOGIN:
	case LP_CL_WAITING:
	case LP_CL_WAIT_REPL:
		return &c->pool->waiting_clients;
	case LP_CL_ACTIVE:
		return c->admin ? &c->inst->admin_clients : &c->pool->active_clients;
	case LP_CL_JUSTFREE:
		return &c->inst->justfree_clients;
	}
	return NULL;
}

void lp_client_set_state(struct lp_client *c, enum lp_client_state st)
{
	if (c->node.next != &c->node)
		lp_list_remove(client_list(c), &c->node);
	if (c->pool)
		c->pool->repl_waiting += (st == LP_CL_WAIT_REPL) - (c->state == LP_CL_WAIT_REPL);
	c->state = st;
	lp_list_append(client_list(c), &c->node);
}

static struct lp_list *server_list(struct lp_server *s)
{
	switch (s->state) {
	case LP_SV_LOGIN:
		return &s->pool->login_servers;
	case LP_SV_IDLE:
		return &s->pool->idle_servers;
	case LP_SV_USED:
	case LP_SV_INTERNAL:
		return &s->pool->used_servers;
	case LP_SV_ACTIVE:
		return &s->pool->active_servers;
	case LP_SV_JUSTFREE:
		return &s->pool->inst->justfree_servers;
	}
	return NULL;
}

void lp_server_set_state(struct lp_server *s, enum lp_server_state st)
{
	if (s->node.next != &s->node)
		lp_list_remove(server_list(s), &s->node);
	s->state = st;
	/* Idle servers are taken from the front: most recently used first, so
	 * surplus servers age out through server_idle_timeout; server_round_robin
	 * queues them at the back instead, so every server takes its turn. */
	if (st == LP_SV_IDLE && !s->pool->inst->cfg.s.server_round_robin)
		lp_list_prepend(server_list(s), &s->node);
	else
		lp_list_append(server_list(s), &s->node);
}

int64_t lp_pool_server_lifetime(const struct lp_pool *pool)
{
	if (pool->db->conf.server_lifetime >= 0)
		return pool->db->conf.server_lifetime;
	return pool->inst->cfg.s.server_lifetime;
}

int lp_pool_size_of(const struct lp_pool *pool)
{
	if (pool->user && pool->user->conf.pool_size >= 0)
		return pool->user->conf.pool_size;
	if (pool->db->conf.pool_size >= 0)
		return pool->db->conf.pool_size;
	return pool->inst->cfg.s.default_pool_size;
}

int lp_pool_server_total(const struct lp_pool *pool)
{
	return pool->idle_servers.count + pool->used_servers.count +
	       pool->active_servers.count + pool->login_servers.count;
}

/* SHUTDOWN WAIT_FOR_SERVERS pauses too (PgBouncer sets its pause mode). */
bool lp_pool_paused(const struct lp_pool *pool)
{
	/* SUSPEND still links the clients already queued (as PgBouncer does):
	 * their requests must reach a server before they are at rest. */
	return (pool->inst->paused && !pool->inst->suspended) || pool->db->paused ||
	       pool->inst->shutdown == LP_SHUTDOWN_WAIT_SERVERS;
}

bool lp_pool_draining(const struct lp_pool *pool)
{
	return (pool->inst->paused && !pool->inst->suspended) || pool->db->paused ||
	       pool->inst->shutdown == LP_SHUTDOWN_WAIT_SERVERS;
}

static bool in_login_backoff(const struct lp_pool *pool)
{
	return pool->last_login_fail_us &&
	       lp_now_us() - pool->last_login_fail_us < pool->inst->cfg.s.server_login_retry;
}

bool lp_pool_login_backoff(const struct lp_pool *pool)
{
	return in_login_backoff(pool);
}

/* The idle server unused longest among the other pools of db (or of
 * user), or NULL. */
static struct lp_server *eviction_victim(struct lp_pool *pool, const struct lp_db *db,
					 const struct lp_user *user)
{
	struct lp_server *best = NULL;
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&pool->inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p == pool || (db && p->db != db) || (user && p->user != user))
			continue;
		/* idle servers are taken from the front: the back is the oldest */
		struct lp_list_node *last = lp_list_last(&p->idle_servers);
		if (!last)
			continue;
		struct lp_server *s = lp_container_of(last, struct lp_server, node);
		if (!best || s->last_used_us < best->last_used_us)
			best = s;
	}
	return best;
}

/*
 * max_db_connections / max_user_connections reached while clients of pool
 * wait: an idle server of another pool of the same database (user) makes
 * room, as PgBouncer evicts, so that a busy pool is not starved by servers
 * another pool only keeps. False when nothing could be closed.
 */
static bool evict_for(struct lp_pool *pool, const struct lp_db *db, const struct lp_user *user)
{
	struct lp_server *victim = eviction_victim(pool, db, user);
	if (!victim)
		return false;
	lp_server_close(victim, "evicted");
	return true;
}

static int max_db_of(const struct lp_pool *pool)
{
	return pool->db->conf.max_db_connections >= 0 ? pool->db->conf.max_db_connections
						       : pool->inst->cfg.s.max_db_connections;
}

static int max_user_of(const struct lp_pool *pool)
{
	return pool->user->conf.max_user_connections >= 0 ? pool->user->conf.max_user_connections
							  : pool->inst->cfg.s.max_user_connections;
}

/*
 * Room for one more server in pool for a replication client, whose server
 * counts as any other against pool_size, max_db_connections and
 * max_user_connections: the pool's own longest-idle server is closed to
 * make room ("evicted", as PgBouncer does for them), else one of another
 * pool of the same database (user) at those limits. False: it must wait.
 */
bool lp_link_repl_room(struct lp_pool *pool)
{
	int max_db = max_db_of(pool), max_user = max_user_of(pool);
	bool full = lp_pool_server_total(pool) >= lp_pool_size_of(pool) ||
		    (max_db > 0 && pool->db->server_count >= max_db) ||
		    (max_user > 0 && pool->user->server_count >= max_user);
	struct lp_list_node *last = lp_list_last(&pool->idle_servers);
	if (full && last)
		lp_server_close(lp_container_of(last, struct lp_server, node), "evicted");
	if (lp_pool_server_total(pool) >= lp_pool_size_of(pool))
		return false;
	if (max_db > 0 && pool->db->server_count >= max_db && !evict_for(pool, pool->db, NULL))
		return false;
	if (max_user > 0 && pool->user->server_count >= max_user &&
	    !evict_for(pool, NULL, pool->user))
		return false;
	return true;
}

void lp_link_grow(struct lp_pool *pool)
{
	struct lp_instance *inst = pool->inst;
	const struct lp_settings *s = &inst->cfg.s;

	/* WAIT_FOR_CLIENTS goes on pooling for the clients still there. */
	if (inst->shutdown == LP_SHUTDOWN_WAIT_SERVERS || inst->shutdown == LP_SHUTDOWN_NOW ||
	    pool->db->disabled || lp_pool_paused(pool))
		return;
	/* Replication clients first (replication.c): each waits for a server
	 * of its own; repl_login: how many of the servers logging in are theirs. */
	int repl_login = pool->repl_waiting > 0 ? lp_repl_grow(pool) : 0;
	if (in_login_backoff(pool))
		return;
	int size = lp_pool_size_of(pool);
	int limit = size;
	struct lp_list_node *first = lp_list_first(&pool->waiting_clients);
	struct lp_client *oldest = first ? lp_container_of(first, struct lp_client, node) : NULL;
	/* [users] reserve_pool_size, else the database's, else the global. */
	int reserve = pool->user->conf.reserve_pool_size >= 0 ? pool->user->conf.reserve_pool_size
			: pool->db->conf.reserve_pool >= 0    ? pool->db->conf.reserve_pool
							      : s->reserve_pool_size;
	if (oldest && reserve > 0 && lp_now_us() - oldest->wait_start_us >= s->reserve_pool_timeout)
		limit += reserve;
	int min = pool->db->conf.min_pool_size >= 0 ? pool->db->conf.min_pool_size : s->min_pool_size;
	int waiting = pool->waiting_clients.count - pool->repl_waiting + lp_authq_queued(pool);
	int logging_in = pool->login_servers.count - repl_login;
	int want = waiting - logging_in - pool->idle_servers.count;
	int total = lp_pool_server_total(pool);
	if (total < min && min - total > want)
		want = min - total;
	int max_db = max_db_of(pool), max_user = max_user_of(pool);
	/* Only clients that wait may take another pool's idle server; filling
	 * min_pool_size never does. */
	bool may_evict = waiting > logging_in + pool->idle_servers.count;
	/* Until one login worked the server is unproven (a wrong host, a name
	 * that does not resolve): one attempt at a time, as PgBouncer makes
	 * them, rather than a burst of failures; then as many as are wanted. */
	if (!pool->welcome_ready && logging_in > 0)
		return;
	if (!pool->welcome_ready && want > 1)
		want = 1;
	while (want-- > 0 && (total = lp_pool_server_total(pool)) < limit) {
		if (max_db > 0 && pool->db->server_count >= max_db &&
		    !(may_evict && evict_for(pool, pool->db, NULL)))
			break;
		if (max_user > 0 && pool->user->server_count >= max_user &&
		    !(may_evict && evict_for(pool, NULL, pool->user)))
			break;
		if (total >= size && oldest)
			lp_client_log(oldest, LP_LOG_WARNING, "taking connection from reserve_pool");
		if (!lp_server_connect(pool))
			break;
	}
}

void lp_link_grow_later(struct lp_pool *pool)
{
	struct lp_instance *inst = pool->inst;
	if (pool->grow_node.next != &pool->grow_node)
		return;                 /* already posted */
	lp_list_append(&inst->grow_pools, &pool->grow_node);
	lp_instance_post(inst);
}

void lp_link_forget_pool(struct lp_pool *pool)
{
	if (pool->grow_node.next != &pool->grow_node)
		lp_list_remove(&pool->inst->grow_pools, &pool->grow_node);
}

void lp_link_run_posted(struct lp_instance *inst)
{
	/* Only what was posted before this pass: a grow whose connect fails at
	 * once posts again, and that waits for the next turn. */
	struct lp_list now;
	lp_list_init(&now);
	while (!lp_list_empty(&inst->grow_pools)) {
		struct lp_list_node *n = lp_list_first(&inst->grow_pools);
		lp_list_remove(&inst->grow_pools, n);
		lp_list_append(&now, n);
	}
	while (!lp_list_empty(&now)) {
		struct lp_list_node *n = lp_list_first(&now);
		lp_list_remove(&now, n);
		struct lp_pool *pool = lp_container_of(n, struct lp_pool, grow_node);
		/* dispatch, not only grow: a client queued again by a close
		 * may find an idle server */
		if (pool->waiting_clients.count > 0 || lp_authq_queued(pool) > 0)
			lp_link_dispatch(pool);
	}
}

void lp_link_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg,
			  bool transient)
{
	struct lp_list_node *n, *t;

	snprintf(pool->login_error, sizeof(pool->login_error), "%s", msg);
	snprintf(pool->login_error_code, sizeof(pool->login_error_code), "%s", sqlstate);
	pool->last_login_fail_us = lp_now_us();
	/* The server could not be reached, or PostgreSQL is starting up or
	 * shutting down (57P03): the clients keep waiting, within their
	 * timeouts, and the pool tries again after server_login_retry, as
	 * PgBouncer does. A refusal PostgreSQL gave (bad password, no such
	 * database) would be the same for all of them: they get it now. */
	if (transient || pool->login_servers.count > 0)
		return;
	lp_authq_login_failed(pool, sqlstate, msg);
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		lp_client_fail(c, sqlstate, "%s", msg);
	}
}

/* ---- handing a server to a client ---- */

static void assigned_sync_done(struct lp_server *s, bool ok);

static size_t put_text(char *out, const char *t)
{
	size_t n = strlen(t);
	memcpy(out, t, n);
	return n;
}

/* Appends v as an E'' literal (works whatever standard_conforming_strings
 * says); the caller sized out for the worst case, every byte doubled. */
static size_t put_literal(char *out, const char *v)
{
	size_t n = 0;
	out[n++] = 'E';
	out[n++] = '\'';
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			out[n++] = *v;
		out[n++] = *v;
	}
	out[n++] = '\'';
	return n;
}

/*
 * Candidate i of what the client expects on its server: its own values,
 * then the welcome's for the tracked parameters it has not set. True when
 * the server holds something else, with the name and the wanted value.
 */
static bool param_differs(const struct lp_client *c, const struct lp_server *s, int i,
			  const char **name, const char **want)
{
	const struct lp_params *welcome = &c->pool->welcome;
	const char *have;
	if (i < c->params.n) {
		*name = c->params.name[i];
		*want = c->params.value[i];
		have = lp_params_value_of(&s->params, &c->params, i);
	} else {
		int k = i - c->params.n;
		/* welcome_ok is fresh (welcome_ok_refresh); a value the client
		 * sets itself was compared above. */
		if (!(welcome->tracked & (1u << k)) || (s->welcome_ok & (1u << k)) ||
		    lp_params_value_of(&c->params, welcome, k))
			return false;
		*name = welcome->name[k];
		*want = welcome->value[k];
		return true;
	}
	return !have || strcmp(have, *want) != 0;
}

/*
 * The query that gives the server the client's parameters, or NULL when
 * they already match (*err false) or memory ran out (*err true).
 * set_config() parses a value as the config file would, so a list such as
 * search_path = 'a, b' keeps its meaning, which SET 'a, b' would not.
 */
static char *build_param_sync(const struct lp_client *c, const struct lp_server *s, bool *err)
{
	const struct lp_params *welcome = &c->pool->welcome;
	/* Welcome candidates only where the server lacks the welcome's value. */
	uint32_t pending = welcome->tracked & ~s->welcome_ok;
	int total = c->params.n + (pending ? welcome->n : 0);
	const char *name, *want;
	size_t cap = 1;
	*err = false;
	for (int i = 0; i < c->params.n; i++)
		if (param_differs(c, s, i, &name, &want))
			cap += 64 + 2 * (strlen(name) + strlen(want));
	for (uint32_t m = pending; m; m &= m - 1)
		if (param_differs(c, s, c->params.n + __builtin_ctz(m), &name, &want))
			cap += 64 + 2 * (strlen(name) + strlen(want));
	if (cap == 1)
		return NULL;
	char *sql = malloc(cap);
	if (!sql) {
		*err = true;
		return NULL;
	}
	size_t len = 0;
	for (int i = 0; i < total; i++) {
		if (!param_differs(c, s, i, &name, &want))
			continue;
		/* PgBouncer's debug line: what the server is told to SET. */
		lp_client_log(c, LP_LOG_DEBUG, "varcache_apply: S-%llu: SET %s='%s'",
			      (unsigned long long)s->id, name, want);
		len += put_text(sql + len, "SELECT pg_catalog.set_config(");
		len += put_literal(sql + len, name);
		sql[len++] = ',';
		len += put_literal(sql + len, want);
		len += put_text(sql + len, ", false);");
	}
	sql[len] = '\0';
	return sql;
}

/*
 * After the sync, the client's values in PostgreSQL's spelling: SET DateStyle
 * = 'ISO' leaves "ISO, MDY", reported, or -- when that was already the value
 * -- not reported at all. Keeping the client's spelling would make every
 * later link look different and set it again. Only for parameters the server
 * reports (those of the pool's welcome): for the others the server's value
 * here is only what the pooler last set. The log line is PgBouncer's.
 */
static void adopt_canonical(struct lp_client *c, const struct lp_server *s)
{
	for (int i = 0; i < c->params.n; i++) {
		const char *have = lp_params_value_of(&s->params, &c->params, i);
		if (!have || strcmp(have, c->params.value[i]) == 0 ||
		    !lp_params_value_of(&c->pool->welcome, &c->params, i))
			continue;
		lp_client_log(c, LP_LOG_DEBUG,
			      "varcache_set_canonical: setting %s to its canonical version %s -> %s",
			      c->params.name[i], c->params.value[i], have);
		lp_params_set(&c->params, c->params.name[i], have);
	}
}

/*
 * Which of the welcome's tracked values the server holds, recomputed only
 * when the server's or the welcome's values changed (their stamps): most
 * assignments then compare only the client's own few values.
 */
static void welcome_ok_refresh(struct lp_server *s, const struct lp_params *welcome)
{
	uint64_t *ws = s->welcome_stamp;
	if (ws[0] == s->params.stamp && ws[1] == welcome->stamp && ws[1] != 0)
		return;
	uint32_t ok = 0;
	for (int k = 0; k < welcome->n; k++) {
		if (!(welcome->tracked & (1u << k)))
			continue;
		const char *have = lp_params_value_of(&s->params, welcome, k);
		if (have && strcmp(have, welcome->value[k]) == 0)
			ok |= 1u << k;
	}
	s->welcome_ok = ok;
	ws[0] = s->params.stamp;
	ws[1] = welcome->stamp;
}

static void start_param_sync(struct lp_server *s)
{
	struct lp_client *c = s->client;
	bool err = false;
	if (c)
		welcome_ok_refresh(s, &c->pool->welcome);
	char *sql = c ? build_param_sync(c, s, &err) : NULL;
	if (sql) {
		lp_server_internal(s, sql, assigned_sync_done);
		free(sql);
		return;
	}
	if (err) {
		lp_client_fail(c, "53200", "out of memory");
		return;
	}
	lp_server_set_state(s, LP_SV_ACTIVE);
	if (c)
		lp_client_server_ready(c);
}

static void assigned_sync_done(struct lp_server *s, bool ok)
{
	struct lp_client *c = s->client;
	if (!ok) {
		if (c) {
			lp_log_warn("C-%llu: could not apply client parameters on S-%llu: %s",
				    (unsigned long long)c->id, (unsigned long long)s->id,
				    s->internal_error);
			lp_client_fail(c, "08P01", "invalid client parameter: %s", s->internal_error);
		}
		return;
	}
	/* Parameters the server does not report (search_path, say) are
	 * remembered here, so the next client with the same value costs no
	 * query. */
	if (c) {
		adopt_canonical(c, s);
		lp_params_copy(&s->params, &c->params);
	}
	lp_server_set_state(s, LP_SV_ACTIVE);
	if (c)
		lp_client_server_ready(c);
}

static void check_done(struct lp_server *s, bool ok)
{
	struct lp_client *c = s->client;
	if (!ok) {
		/* A failed health check: drop it and try again for the client. */
		if (c) {
			c->server = NULL;
			s->client = NULL;
			lp_server_close(s, "server check failed");
			lp_client_set_state(c, LP_CL_WAITING);
			/* dispatch, not only grow: an idle server may be free now */
			lp_link_dispatch(c->pool);
		} else {
			lp_server_close(s, "server check failed");
		}
		return;
	}
	start_param_sync(s);
}

static void assign(struct lp_client *c, struct lp_server *s)
{
	struct lp_pool *pool = c->pool;
	int64_t now = lp_now_us();
	const struct lp_settings *st = &pool->inst->cfg.s;

	c->server = s;
	s->client = c;
	lp_client_set_state(c, LP_CL_ACTIVE);
	pool->stats.server_assignments++;
	if (c->wait_start_us) {
		lp_metrics_wait(&pool->db->metrics, now - c->wait_start_us);
		pool->stats.wait_time_us += (uint64_t)(now - c->wait_start_us);
		c->wait_start_us = 0;
	}
	c->wait_notified = false;
	s->request_us = now;
	s->xact_start_us = 0;
	/* A server fresh from its login needs no check (PgBouncer checks
	 * only servers clients used). */
	if (s->reused && st->server_check_query[0] && st->server_check_delay >= 0 &&
	    now - s->last_used_us > st->server_check_delay) {
		bool empty = strcmp(st->server_check_query, "<empty>") == 0;
		lp_server_internal(s, empty ? "" : st->server_check_query, check_done);
		return;
	}
	start_param_sync(s);
}

void lp_link_requeue(struct lp_client *c)
{
	if (!c->wait_start_us)
		c->wait_start_us = lp_now_us();
	lp_client_set_state(c, LP_CL_WAITING);
}

void lp_link_request(struct lp_client *c)
{
	struct lp_pool *pool = c->pool;
	struct lp_instance *inst = c->inst;

	if (inst->shutdown == LP_SHUTDOWN_WAIT_SERVERS) {
		/* PgBouncer's words: the log line operators grep. */
		lp_client_fail(c, "57P01", "server shutting down");
		return;
	}
	if (!c->wait_start_us)
		c->wait_start_us = lp_now_us();
	if (!lp_pool_paused(pool) && pool->waiting_clients.count == 0) {
		struct lp_list_node *n = lp_list_first(&pool->idle_servers);
		if (n) {
			assign(c, lp_container_of(n, struct lp_server, node));
			return;
		}
	}
	/* A pool whose logins have been failing refuses at once, as
	 * PgBouncer does -- unless another host may take over any moment
	 * (a failover): then the client waits, within query_wait_timeout. */
	if (in_login_backoff(pool) && pool->login_servers.count == 0 &&
	    lp_pool_server_total(pool) == 0 && !lp_hosts_may_fail_over(pool->db)) {
		lp_client_fail(c, pool->login_error_code[0] ? pool->login_error_code : "08006",
			       "%s", pool->login_error[0] ? pool->login_error
							  : "server login has been failing");
		return;
	}
	lp_client_set_state(c, LP_CL_WAITING);
	lp_link_grow(pool);
}

void lp_link_dispatch(struct lp_pool *pool)
{
	struct lp_instance *inst = pool->inst;
	struct lp_list_node *n, *t;

	if (lp_pool_paused(pool))
		return;
	/* auth_query lookups share the queue: those that came first, first */
	lp_authq_dispatch(pool);
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (c->state != LP_CL_WAITING)
			continue;
		struct lp_list_node *sn = lp_list_first(&pool->idle_servers);
		if (!sn)
			break;
		assign(c, lp_container_of(sn, struct lp_server, node));
	}
	lp_authq_dispatch(pool);
	if (pool->waiting_clients.count > 0 || lp_authq_queued(pool) > 0)
		lp_link_grow(pool);
	lp_instance_check_shutdown(inst);
}

static void to_idle(struct lp_server *s)
{
	struct lp_pool *pool = s->pool;
	s->last_used_us = lp_now_us();
	s->reused = true;
	if (s->close_needed || pool->db->removed) {
		lp_server_close(s, s->close_needed ? "reconnect needed" : "database removed");
		return;
	}
	if (lp_pool_draining(pool)) {
		/* PAUSE: no server outlives its release (the database may restart). */
		lp_server_close(s, "pause mode");
		return;
	}
	/* server_lifetime 0: every server serves once, as PgBouncer has it. */
	int64_t life = lp_pool_server_lifetime(pool);
	if (life == 0 || (life > 0 && s->last_used_us - s->connect_us > s->lifetime_us)) {
		lp_server_close(s, "server_lifetime");
		return;
	}
	lp_server_set_state(s, LP_SV_IDLE);
	lp_link_dispatch(pool);
}

void lp_link_server_idle(struct lp_server *s)
{
	to_idle(s);
}

static void release_continue(struct lp_server *s);

static void reset_done(struct lp_server *s, bool ok)
{
	if (!ok) {
		lp_server_close(s, "reset query failed");
		return;
	}
	lp_prep_reset_done(s, s->pool->inst->cfg.s.server_reset_query);
	to_idle(s);
}

static void rollback_done(struct lp_server *s, bool ok)
{
	const char *reset = s->pool->inst->cfg.s.server_reset_query;
	if (!ok || s->trk.tx != 'I') {
		lp_server_close(s, "rollback failed");
		return;
	}
	if (reset[0] && (lp_pool_mode_of(s->pool) == LP_POOL_SESSION ||
			 s->pool->inst->cfg.s.server_reset_query_always)) {
		lp_server_internal(s, reset, reset_done);
		return;
	}
	to_idle(s);
}

bool lp_server_owes_response(const struct lp_server *s)
{
	return !lp_track_quiet(&s->trk) || s->trk.broken || s->io.pkt_remain > 0 ||
	       s->io.start != s->io.end;
}

void lp_link_release(struct lp_client *c, bool client_leaving)
{
	struct lp_server *s = c->server;
	if (!s)
		return;
	c->server = NULL;
	s->client = NULL;
	s->release_pending = false;
	s->xact_start_us = 0;
	if (s->replication) {
		/* Never pooled: a walsender serves one client. */
		lp_server_close(s, "replication client left");
		return;
	}
	if (s->io.dead || s->io.fd < 0) {
		lp_server_close(s, "server gone");
		return;
	}
	if (s->state == LP_SV_INTERNAL) {
		/* A check or parameter sync was running for this client: the
		 * server state is uncertain, never reuse it. */
		lp_server_close(s, "client left during setup");
		return;
	}
	if (c->io.pkt_remain > 0 || c->io.start != c->io.pos) {
		/* The client's bytes for this server are not all written (a
		 * flush is blocked, or a message is cut short): the server holds
		 * half a message and the next client's bytes would complete it.
		 * Closing also drops the server's pointer to the client's buffer
		 * (its flush_src), which dies with the client. */
		lp_server_close(s, "client left in the middle of a message");
		return;
	}
	lp_server_set_state(s, LP_SV_USED);
	if (lp_server_owes_response(s)) {
		/* A response is still owed: the stream position is unknowable
		 * to the next client. Closing is the only safe reset. */
		lp_server_close(s, "client left with a query in flight");
		return;
	}
	s->reset_for_leaver = client_leaving;
	if (s->cancel_in_flight) {
		/* A cancel sent to this backend may land on whatever it runs
		 * next: nobody else gets it until PostgreSQL closed the cancel
		 * connection (cancel.c calls lp_link_cancel_done). */
		s->release_parked = true;
		return;
	}
	release_continue(s);
}

void lp_link_cancel_done(struct lp_server *s)
{
	if (!s->release_parked || s->state != LP_SV_USED)
		return;
	s->release_parked = false;
	release_continue(s);
}

/* The rest of a release, once nothing can reach the backend from before. */
static void release_continue(struct lp_server *s)
{
	struct lp_pool *pool = s->pool;
	const struct lp_settings *st = &pool->inst->cfg.s;
	bool client_leaving = s->reset_for_leaver;
	if (s->trk.tx != 'I') {
		lp_server_internal(s, "ROLLBACK", rollback_done);
		return;
	}
	bool session = lp_pool_mode_of(pool) == LP_POOL_SESSION;
	if (st->server_reset_query[0] && ((session && client_leaving) || st->server_reset_query_always)) {
		lp_server_internal(s, st->server_reset_query, reset_done);
		return;
	}
	to_idle(s);
}
