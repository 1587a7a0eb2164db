/*
 * auth_query lookups; see auth_query.h for the contract.
 *
 * One lookup (struct lp_authq_req) per (auth database, user) in flight: a
 * private pool with one server logged in as auth_user, the query sent as
 * Parse/Bind/Execute/Sync with the user name as its only parameter, the
 * clients that wait for it, and a timer. The timer bounds the whole lookup
 * and also runs the ending, so clients are always resumed from the loop,
 * never from inside the server callback that produced the answer.
 *
 * A client's own part (struct lp_authq_wait) is allocated at its lookup and
 * freed when its login finishes or it closes: idle clients carry only the
 * NULL pointer.
 */
#include "pool/auth_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"
#include "core/log.h"
#include "pool/client_auth.h"
#include "proto/proto.h"

#define SECRET_MAX LP_SCRAM_MSG_MAX    /* longer "secrets" are not secrets */

struct lp_authq_req {
	struct lp_list_node node;       /* in inst->authq_reqs */
	struct lp_instance *inst;
	struct lp_pool *pool;           /* private: (auth db, auth_user) */
	struct lp_db *adb;              /* the auth database, held (lp_registry_db_acquire) */
	struct lp_server *server;       /* the one opened for this lookup */
	char *user, *db;
	struct lp_list waiters;         /* struct lp_authq_wait, by node */
	struct event *timer;
	int rows;
	char *secret;                   /* answer; NULL: no such user / no password */
	bool sent, done, failed;
};

/* One client's lookup: c->authq from lp_authq_lookup() to lp_authq_forget(). */
struct lp_authq_wait {
	struct lp_list_node node;       /* in req->waiters while waiting */
	struct lp_client *client;
	struct lp_authq_req *req;       /* waited for; NULL once answered */
};

static const char *auth_user_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = &c->login_db->conf;
	return dc->auth_user && dc->auth_user[0] ? dc->auth_user : c->inst->cfg.s.auth_user;
}

static const char *auth_query_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = &c->login_db->conf;
	return dc->auth_query && dc->auth_query[0] ? dc->auth_query : c->inst->cfg.s.auth_query;
}

static const char *auth_db_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = &c->login_db->conf;
	if (dc->auth_dbname && dc->auth_dbname[0])
		return dc->auth_dbname;
	if (c->inst->cfg.s.auth_dbname[0])
		return c->inst->cfg.s.auth_dbname;
	return c->login_db->name;
}

bool lp_authq_configured(const struct lp_client *c)
{
	return !c->admin && c->login_db && auth_user_of(c)[0] && auth_query_of(c)[0];
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static void req_free(struct lp_authq_req *req)
{
	lp_list_remove(&req->inst->authq_reqs, &req->node);
	if (req->timer)
		event_free(req->timer);
	if (req->pool)
		lp_registry_free_private_pool(req->pool);
	lp_registry_db_release(req->adb);
	free(req->user);
	free(req->db);
	wipe_free(req->secret);
	free(req);
}

/* Marks the lookup finished; the timer callback does the rest. */
static void finish_later(struct lp_authq_req *req, bool failed)
{
	if (req->done)
		return;
	req->done = true;
	req->failed = failed;
	event_active(req->timer, EV_TIMEOUT, 1);
}

/* Keeps the answer on the user (the cache) and resumes every waiter. */
static void resume(struct lp_authq_req *req)
{
	struct lp_instance *inst = req->inst;
	struct lp_user *u = lp_registry_get_user(inst, req->user);
	struct lp_list_node *n;
	int64_t ttl = inst->cfg.s.auth_query_cache_ttl;

	if (u) {
		wipe_free(u->authq_secret);
		free(u->authq_db);
		u->authq_secret = req->secret;
		req->secret = NULL;
		u->authq_db = strdup(req->db);
		/* A failed query is not an answer: nothing is cached. A missing
		 * user is cached like a found one, never longer. */
		u->authq_until_us = req->failed || !u->authq_db ? 0 : lp_now_us() + ttl;
		u->have_client_key = false;
	}
	/* First waiter each time: resuming one may free another's wait. */
	while ((n = lp_list_first(&req->waiters))) {
		struct lp_authq_wait *w = lp_container_of(n, struct lp_authq_wait, node);
		struct lp_client *c = w->client;
		lp_list_remove(&req->waiters, n);
		w->req = NULL;                 /* answered */
		c->auth = LP_AUTH_NONE;
		if (!u) {
			lp_client_fail(c, "53200", "out of memory");
			continue;
		}
		(void)lp_client_auth_start(c);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_authq_req *req = arg;
	(void)fd;
	(void)what;
	if (!req->done) {
		lp_log_warn("auth_query for user %s in database %s timed out", req->user, req->db);
		req->done = req->failed = true;
	}
	if (req->server) {
		struct lp_server *s = req->server;
		req->server = NULL;
		lp_server_close(s, "auth_query finished");
	}
	resume(req);
	req_free(req);
}

static struct lp_authq_req *find_req(struct lp_instance *inst, const char *db, const char *user)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->authq_reqs, n, t) {
		struct lp_authq_req *r = lp_container_of(n, struct lp_authq_req, node);
		if (!r->done && strcmp(r->db, db) == 0 && strcmp(r->user, user) == 0)
			return r;
	}
	return NULL;
}

static struct lp_authq_req *req_new(struct lp_client *c, const char *adb)
{
	struct lp_instance *inst = c->inst;
	/* Before authentication: a '*' name is not registered, the lookup
	 * holds its own unlisted copy. */
	struct lp_db *db = lp_registry_db_acquire(inst, adb);
	struct lp_user *au = lp_registry_get_user(inst, auth_user_of(c));
	struct lp_authq_req *req;

	if (!db || db->unknown || !au) {
		lp_client_log(c, LP_LOG_WARNING, "auth_query: no database \"%s\" to run it in", adb);
		lp_registry_db_release(db);
		return NULL;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		lp_registry_db_release(db);
		return NULL;
	}
	req->adb = db;
	req->inst = inst;
	lp_list_init(&req->waiters);
	lp_list_append(&inst->authq_reqs, &req->node);
	req->user = strdup(c->user_name);
	req->db = strdup(adb);
	req->timer = evtimer_new(inst->base, timer_cb, req);
	req->pool = lp_registry_private_pool(inst, db, au);
	if (!req->user || !req->db || !req->timer || !req->pool) {
		req_free(req);
		return NULL;
	}
	req->pool->authq = req;
	int64_t limit = inst->cfg.s.server_connect_timeout + 5 * 1000000;
	struct timeval tv = { (time_t)(limit / 1000000), (suseconds_t)(limit % 1000000) };
	evtimer_add(req->timer, &tv);
	return req;
}

bool lp_authq_answered(const struct lp_client *c)
{
	return c->authq && !c->authq->req;
}

int lp_authq_lookup(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	const char *adb = auth_db_of(c);
	struct lp_user *u = lp_registry_get_user(inst, c->user_name);
	struct lp_authq_req *req;
	struct lp_authq_wait *w = c->authq;
	bool fresh = false;

	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			lp_client_fail(c, "53200", "out of memory");
			return -1;
		}
		w->client = c;
		lp_list_node_init(&w->node);
		c->authq = w;
	}
	if (!u) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	if (u->authq_until_us > lp_now_us() && u->authq_db && strcmp(u->authq_db, adb) == 0)
		return 1;                     /* w->req NULL: answered (from the cache) */
	req = find_req(inst, adb, c->user_name);
	if (!req) {
		req = req_new(c, adb);
		if (!req) {
			lp_client_fail(c, "08006", "authentication query could not be started");
			return -1;
		}
		fresh = true;
	}
	w->req = req;
	lp_list_append(&req->waiters, &w->node);
	c->auth = LP_AUTH_WAIT_QUERY;
	if (fresh) {
		req->server = lp_server_connect(req->pool);
		if (!req->server)
			finish_later(req, true);
	}
	return 0;
}

void lp_authq_forget(struct lp_client *c)
{
	struct lp_authq_wait *w = c->authq;
	if (!w)
		return;
	if (w->req)
		lp_list_remove(&w->req->waiters, &w->node);
	c->authq = NULL;
	free(w);
}

/* One DataRow: (name, secret). */
static void query_row(struct lp_server *s, const uint8_t *body, uint32_t len)
{
	struct lp_authq_req *req = s->pool->authq;
	struct lp_reader r;
	int32_t l0, l1;
	const uint8_t *v;

	if (!req)
		return;
	if (++req->rows > 1)
		return;
	lp_rd_init(&r, body, len);
	if (lp_rd_i16(&r) < 2)
		goto bad;
	l0 = lp_rd_i32(&r);
	if (l0 > 0 && !lp_rd_bytes(&r, l0))
		goto bad;
	l1 = lp_rd_i32(&r);
	if (r.err)
		goto bad;
	if (l1 < 0)
		return;               /* NULL password: nobody can log in */
	if (l1 == 0 || l1 > SECRET_MAX || !(v = lp_rd_bytes(&r, l1)) || memchr(v, 0, (size_t)l1))
		goto bad;
	req->secret = strndup((const char *)v, (size_t)l1);
	return;
bad:
	req->rows = 2;                /* treated as no usable answer */
}

static void query_done(struct lp_server *s, bool ok)
{
	struct lp_authq_req *req = s->pool->authq;
	s->internal_row = NULL;
	if (!req)
		return;
	if (!ok) {
		lp_log_warn("auth_query for user %s in database %s failed: %s", req->user, req->db,
			    s->internal_error);
	} else if (req->rows > 1) {
		lp_log_warn("auth_query for user %s returned an unusable answer", req->user);
	}
	if (!ok || req->rows != 1) {
		wipe_free(req->secret);
		req->secret = NULL;
	}
	finish_later(req, !ok);
}

void lp_authq_pool_ready(struct lp_pool *pool)
{
	struct lp_authq_req *req = pool->authq;
	struct lp_list_node *n = lp_list_first(&pool->idle_servers);
	const char *query = req->inst->cfg.s.auth_query;
	struct lp_db *ldb = pool->db;
	struct lp_writer w;
	uint8_t *buf;
	size_t cap;

	if (req->sent || req->done || !n)
		return;
	/* The query of the database that asked, else the global one. */
	struct lp_list_node *wn = lp_list_first(&req->waiters);
	if (wn) {
		query = auth_query_of(lp_container_of(wn, struct lp_authq_wait, node)->client);
	} else if (ldb && ldb->conf.auth_query && ldb->conf.auth_query[0]) {
		query = ldb->conf.auth_query;
	}
	struct lp_server *s = lp_container_of(n, struct lp_server, node);
	cap = strlen(query) + strlen(req->user) + 64;
	buf = malloc(cap);
	if (!buf) {
		finish_later(req, true);
		return;
	}
	lp_wr_init(&w, buf, cap);
	lp_wr_begin(&w, 'P');
	lp_wr_cstr(&w, "");
	lp_wr_cstr(&w, query);
	lp_wr_i16(&w, 0);
	lp_wr_end(&w);
	lp_wr_begin(&w, 'B');
	lp_wr_cstr(&w, "");
	lp_wr_cstr(&w, "");
	lp_wr_i16(&w, 0);                      /* parameters in text */
	lp_wr_i16(&w, 1);
	lp_wr_i32(&w, (int32_t)strlen(req->user));
	lp_wr_bytes(&w, req->user, strlen(req->user));
	lp_wr_i16(&w, 0);                      /* results in text */
	lp_wr_end(&w);
	lp_wr_begin(&w, 'E');
	lp_wr_cstr(&w, "");
	lp_wr_i32(&w, 0);
	lp_wr_end(&w);
	lp_wr_begin(&w, 'S');
	lp_wr_end(&w);
	req->sent = true;
	req->server = s;
	lp_server_set_state(s, LP_SV_INTERNAL);
	s->internal_done = query_done;
	s->internal_row = query_row;
	s->internal_error[0] = '\0';
	if (w.overflow || lp_io_send(&s->io, buf, w.len) < 0) {
		s->internal_done = NULL;
		s->internal_row = NULL;
		finish_later(req, true);
	} else {
		lp_io_read_on(&s->io);
	}
	free(buf);
}

void lp_authq_login_failed(struct lp_pool *pool, const char *msg)
{
	struct lp_authq_req *req = pool->authq;
	lp_log_warn("auth_query: login as %s to database %s failed: %s", pool->user->name,
			    req->db, msg);
	finish_later(req, true);
}

void lp_authq_server_closed(struct lp_server *s)
{
	struct lp_authq_req *req = s->pool->authq;
	if (req->server == s)
		req->server = NULL;
	finish_later(req, true);
}

void lp_authq_cleanup(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->authq_reqs, n, t) {
		struct lp_authq_req *req = lp_container_of(n, struct lp_authq_req, node);
		/* Clients and servers are closed by now. */
		lp_list_init(&req->waiters);
		req_free(req);
	}
}
