/*
 * auth_query lookups; see auth_query.h for the contract.
 *
 * A lookup (struct lp_authq_req) belongs to one auth pool -- the ordinary
 * registry pool of (auth database, auth_user) -- and is in exactly one of
 * its lists: queued (FIFO, waiting for one of the pool's idle servers),
 * running (its Parse/Bind/Execute/Sync sent on req->server) or ending
 * (answered or failed, to be finished from the loop). Lookups use the pool's
 * servers like its clients do, so the pool's size, max_db_connections and
 * max_user_connections bound how many run at once and how many backends
 * they open; a server goes back to the pool after each answer and serves
 * the next lookup or client.
 *
 * Clients asking for the same user (and query) in the same pool wait for
 * one lookup. A queued lookup that every client left is dropped; a running
 * one finishes and its answer is cached. Clients are always resumed from
 * the loop (the req timer), never from inside the server callback that
 * produced the answer.
 *
 * Answers, kept for auth_query_cache_ttl and for the auth pool and query
 * that gave them (a reload that changes the query asks again): a user found
 * gets an lp_user holding the secret -- a user whose password is NULL exists
 * for trust but gets a verifier nobody can match, shaped as an unknown
 * user's; a name not found gets no lp_user, only an entry in a bounded cache
 * of misses (so that asking again costs what it costs for a known user: no
 * round trip).
 */
#include "pool/auth_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "auth/base64.h"
#include "auth/scram.h"
#include "core/hash.h"
#include "core/log.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/link.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "proto/proto.h"

#define SECRET_MAX LP_SCRAM_MSG_MAX    /* longer "secrets" are not secrets */
/* Names remembered as "not found": beyond this the oldest is forgotten
 * first (it is then asked again). ~100 bytes each. */
#define MISSES_MAX 4096
/* Runs of one lookup whose server was lost under it (a stale pooled
 * connection, say) before its clients are told it failed. */
#define TRIES_MAX 2

enum req_state { REQ_QUEUED, REQ_RUNNING, REQ_ENDING };
enum req_outcome {
	REQ_ANSWERED,           /* the query answered: secret, or none */
	REQ_FAILED,             /* auth_user's login failed: its error is told */
	REQ_QUERY_ERROR,        /* the query failed: a configuration error */
	REQ_SERVER_LOST,        /* the server went away mid-query: may be retried */
};

/* The per-pool part: pool->authq, made at the pool's first lookup. */
struct lp_authq_pool {
	struct lp_pool *pool;
	struct lp_list queued, running, ending;  /* struct lp_authq_req, by node */
	struct event *kick;     /* serves the queue from the loop */
};

struct lp_authq_req {
	struct lp_list_node node;       /* in ap's list of its state */
	enum req_state state;
	enum req_outcome outcome;
	struct lp_authq_pool *ap;
	struct lp_server *server;       /* while running */
	char *user, *db, *query;        /* one block: free user only */
	uint64_t query_hash;
	struct lp_list waiters;         /* struct lp_authq_wait, by node */
	struct event *timer;            /* query_wait_timeout while queued; the ending */
	int64_t queued_us;
	int rows;
	int tries;
	char *secret;                   /* answer; NULL: no such user / no password */
	bool no_password;               /* the user exists, its password is NULL */
	char fail_code[6];              /* REQ_FAILED: the auth pool's login error */
	char fail_msg[256];
};

/* One client's lookup: c->authq from lp_authq_lookup() to lp_authq_forget(). */
struct lp_authq_wait {
	struct lp_list_node node;       /* in req->waiters while waiting */
	struct lp_client *client;
	struct lp_authq_req *req;       /* waited for; NULL once answered */
};

/* A user name auth_query did not find, until until_us. */
struct miss {
	struct lp_list_node node;
	int64_t until_us;
	const struct lp_authq_pool *ap; /* asked in this auth pool */
	uint64_t query_hash;            /* with this query */
	char user[];
};

/* The instance's part: inst->authq, made at the first miss. */
struct lp_authq {
	struct lp_instance *inst;
	struct lp_list misses;          /* oldest first: the first to expire */
	struct event *expire;
};

/* A console login has no database entry: the global settings apply. */
static const struct lp_db_conf *conf_of(const struct lp_client *c)
{
	return c->login_db ? &c->login_db->conf : NULL;
}

static const char *auth_user_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = conf_of(c);
	return dc && dc->auth_user && dc->auth_user[0] ? dc->auth_user : c->inst->cfg.s.auth_user;
}

static const char *auth_query_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = conf_of(c);
	return dc && dc->auth_query && dc->auth_query[0] ? dc->auth_query
							 : c->inst->cfg.s.auth_query;
}

/* PgBouncer 1.25's order: the database's auth_dbname, the global one, the
 * client's database -- for the console that is the console itself, which
 * auth_pool() refuses as a configuration error, as PgBouncer does. */
static const char *auth_db_of(const struct lp_client *c)
{
	const struct lp_db_conf *dc = conf_of(c);
	if (dc && dc->auth_dbname && dc->auth_dbname[0])
		return dc->auth_dbname;
	if (c->inst->cfg.s.auth_dbname[0])
		return c->inst->cfg.s.auth_dbname;
	return c->login_db ? c->login_db->name : c->db_name;
}

bool lp_authq_configured(const struct lp_client *c)
{
	return (c->admin || c->login_db) && auth_user_of(c)[0] && auth_query_of(c)[0];
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static void arm(struct event *ev, int64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
	evtimer_add(ev, &tv);
}

/* ---- the cache of misses ---- */

static void misses_expire(evutil_socket_t fd, short what, void *arg)
{
	struct lp_authq *aq = arg;
	struct lp_list_node *n;
	int64_t now = lp_now_us();
	(void)fd;
	(void)what;
	while ((n = lp_list_first(&aq->misses))) {
		struct miss *m = lp_container_of(n, struct miss, node);
		if (m->until_us > now) {
			arm(aq->expire, m->until_us - now);
			return;
		}
		lp_list_remove(&aq->misses, n);
		free(m);
	}
}

static struct miss *miss_find(struct lp_instance *inst, const struct lp_authq_pool *ap, uint64_t qh,
			      const char *user)
{
	struct lp_list_node *n, *t;
	if (!inst->authq)
		return NULL;
	lp_list_foreach_safe(&inst->authq->misses, n, t) {
		struct miss *m = lp_container_of(n, struct miss, node);
		if (m->ap == ap && m->query_hash == qh && strcmp(m->user, user) == 0)
			return m;
	}
	return NULL;
}

static void miss_drop(struct lp_instance *inst, const struct lp_authq_req *req)
{
	struct miss *m = miss_find(inst, req->ap, req->query_hash, req->user);
	if (m) {
		lp_list_remove(&inst->authq->misses, &m->node);
		free(m);
	}
}

/* Remembers that req's user was not found, until until_us. Best effort:
 * without memory the name is only asked again. */
static void miss_add(struct lp_instance *inst, const struct lp_authq_req *req, int64_t until_us)
{
	struct lp_authq *aq = inst->authq;
	if (!aq) {
		aq = calloc(1, sizeof(*aq));
		if (!aq)
			return;
		aq->inst = inst;
		lp_list_init(&aq->misses);
		aq->expire = evtimer_new(inst->base, misses_expire, aq);
		if (!aq->expire) {
			free(aq);
			return;
		}
		inst->authq = aq;
	}
	miss_drop(inst, req);
	if (aq->misses.count >= MISSES_MAX) {
		struct lp_list_node *old = lp_list_first(&aq->misses);
		lp_list_remove(&aq->misses, old);
		free(lp_container_of(old, struct miss, node));
	}
	size_t ul = strlen(req->user);
	struct miss *m = malloc(sizeof(*m) + ul + 1);
	if (!m)
		return;
	m->until_us = until_us;
	m->ap = req->ap;
	m->query_hash = req->query_hash;
	memcpy(m->user, req->user, ul + 1);
	lp_list_append(&aq->misses, &m->node);
	if (aq->misses.count == 1)
		arm(aq->expire, until_us - lp_now_us());
}

/*
 * The secret of a user whose password is NULL: a SCRAM verifier with random
 * keys (nothing matches it) and the salt and iterations an unknown user is
 * shown, so that the exchange looks the same. NULL without memory.
 */
static char *no_password_secret(struct lp_instance *inst, const char *user)
{
	uint8_t salt[16], keys[2][LP_SCRAM_KEY_LEN];
	char b64[3][LP_BASE64_ENC_LEN(LP_SCRAM_KEY_LEN) + 1];
	size_t len;
	lp_client_auth_stable_salt(inst, user, salt);
	if (RAND_bytes(keys[0], sizeof(keys)) != 1 ||
	    lp_base64_encode(salt, sizeof(salt), b64[0], sizeof(b64[0]), &len) < 0 ||
	    lp_base64_encode(keys[0], LP_SCRAM_KEY_LEN, b64[1], sizeof(b64[1]), &len) < 0 ||
	    lp_base64_encode(keys[1], LP_SCRAM_KEY_LEN, b64[2], sizeof(b64[2]), &len) < 0)
		return NULL;
	char out[256];
	int n = snprintf(out, sizeof(out), "SCRAM-SHA-256$%d:%s$%s:%s", inst->cfg.s.scram_iterations,
			 b64[0], b64[1], b64[2]);
	return n > 0 && (size_t)n < sizeof(out) ? strdup(out) : NULL;
}

/* ---- lookups ---- */

static struct lp_list *req_list(struct lp_authq_req *req)
{
	switch (req->state) {
	case REQ_QUEUED:
		return &req->ap->queued;
	case REQ_RUNNING:
		return &req->ap->running;
	case REQ_ENDING:
		break;
	}
	return &req->ap->ending;
}

/* Moves req to st's list: at the back, or at the front (a retry keeps its
 * turn). */
static void req_set_state(struct lp_authq_req *req, enum req_state st, bool front)
{
	if (req->node.next != &req->node)
		lp_list_remove(req_list(req), &req->node);
	req->state = st;
	if (front)
		lp_list_prepend(req_list(req), &req->node);
	else
		lp_list_append(req_list(req), &req->node);
}

static void req_free(struct lp_authq_req *req)
{
	if (req->node.next != &req->node)
		lp_list_remove(req_list(req), &req->node);
	if (req->timer)
		event_free(req->timer);
	free(req->user);
	wipe_free(req->secret);
	free(req);
}

static void kick(struct lp_authq_pool *ap)
{
	event_active(ap->kick, EV_TIMEOUT, 1);
}

static void set_failure(struct lp_authq_req *req, const char *sqlstate, const char *msg)
{
	snprintf(req->fail_code, sizeof(req->fail_code), "%s", sqlstate ? sqlstate : "");
	snprintf(req->fail_msg, sizeof(req->fail_msg), "%s", msg ? msg : "");
}

/* The lookup is over (for this run): the timer callback finishes it. */
static void finish_later(struct lp_authq_req *req, enum req_outcome outcome)
{
	if (req->state == REQ_ENDING)
		return;
	req->outcome = outcome;
	req_set_state(req, REQ_ENDING, false);
	evtimer_del(req->timer);
	event_active(req->timer, EV_TIMEOUT, 1);
}

/* Fails every waiter of req with the same message, detaching each first so
 * that its close does not touch req. */
static void fail_waiters(struct lp_authq_req *req, const char *sqlstate, const char *msg)
{
	struct lp_list_node *n;
	while ((n = lp_list_first(&req->waiters))) {
		struct lp_authq_wait *w = lp_container_of(n, struct lp_authq_wait, node);
		lp_list_remove(&req->waiters, n);
		w->req = NULL;
		lp_client_fail(w->client, sqlstate, "%s", msg);
	}
}

/* u's cached answer is for pool and query qh, and fresh. */
static bool answer_holds(const struct lp_user *u, const struct lp_pool *pool, uint64_t qh)
{
	return u->authq_secret && u->authq_until_us > lp_now_us() && u->authq_pool == pool &&
	       u->authq_query_hash == qh;
}

/* Keeps the answer (a user's cache entry, or a miss) and resumes every
 * waiter. A failed lookup is not an answer: nothing is cached; a query that
 * fails is a configuration error, a login of auth_user that fails is told
 * as PostgreSQL (or the pooler) said it -- both as PgBouncer reports them,
 * before any password exchange and the same for every user name; after any
 * other failure the clients go on as for an unknown user. */
static void resume(struct lp_authq_req *req)
{
	struct lp_instance *inst = req->ap->pool->inst;
	int64_t ttl = inst->cfg.s.auth_query_cache_ttl;
	bool found = req->outcome == REQ_ANSWERED && (req->secret || req->no_password);
	struct lp_user *u = NULL;
	struct lp_list_node *n;

	if (req->outcome == REQ_QUERY_ERROR) {
		fail_waiters(req, "08P01", "bouncer config error");
		return;
	}
	if (req->outcome == REQ_FAILED) {
		fail_waiters(req, req->fail_code[0] ? req->fail_code : "08006",
			     req->fail_msg[0] ? req->fail_msg : "no server connection available");
		return;
	}
	if (found) {
		char *secret = req->secret ? req->secret : no_password_secret(inst, req->user);
		req->secret = NULL;
		u = secret ? lp_registry_get_user(inst, req->user) : NULL;
		if (u) {
			/* The client key proved against this very verifier stays
			 * good (the same user looked up in two auth pools); a new
			 * secret makes it useless. */
			if (!u->authq_secret || strcmp(u->authq_secret, secret) != 0)
				u->have_client_key = false;
			wipe_free(u->authq_secret);
			u->authq_secret = secret;
			u->authq_pool = req->ap->pool;
			u->authq_query_hash = req->query_hash;
			u->authq_until_us = lp_now_us() + ttl;
			miss_drop(inst, req);
		} else {
			wipe_free(secret);
		}
	} else {
		/* Not found, or nothing learnt: an earlier answer that does not
		 * hold for this lookup is not used in its stead (an lp_user may
		 * exist for another reason); no lp_user is made for the name. */
		u = lp_registry_find_user(inst, req->user);
		if (u && (req->outcome == REQ_ANSWERED ||
			  !answer_holds(u, req->ap->pool, req->query_hash))) {
			wipe_free(u->authq_secret);
			u->authq_secret = NULL;
			u->authq_until_us = 0;
		}
		u = NULL;
		if (req->outcome == REQ_ANSWERED && ttl > 0)
			miss_add(inst, req, lp_now_us() + ttl);
	}
	/* First waiter each time: resuming one may free another's wait. */
	while ((n = lp_list_first(&req->waiters))) {
		struct lp_authq_wait *w = lp_container_of(n, struct lp_authq_wait, node);
		struct lp_client *c = w->client;
		lp_list_remove(&req->waiters, n);
		w->req = NULL;                 /* answered */
		c->auth = LP_AUTH_NONE;
		if (found && !u) {
			lp_client_fail(c, "53200", "out of memory");
			continue;
		}
		(void)lp_client_auth_start(c);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_authq_req *req = arg;
	struct lp_authq_pool *ap = req->ap;
	const struct lp_settings *st = &ap->pool->inst->cfg.s;
	(void)fd;
	(void)what;

	if (req->state == REQ_QUEUED) {
		/* query_wait_timeout, counted as for clients: not while paused. */
		if (lp_pool_paused(ap->pool) && st->query_wait_timeout > 0) {
			arm(req->timer, st->query_wait_timeout);
			return;
		}
		lp_log_warn("auth_query for user %s in database %s: query_wait_timeout", req->user,
			    req->db);
		fail_waiters(req, "08P01", "query_wait_timeout");
		req_free(req);
		return;
	}
	if (req->state != REQ_ENDING)
		return;
	if (req->server) {
		/* Its query could not be sent: the server is of no use. */
		struct lp_server *s = req->server;
		req->server = NULL;
		lp_server_close(s, "could not send auth_query");
	}
	if (req->outcome == REQ_SERVER_LOST && ++req->tries < TRIES_MAX &&
	    !lp_list_empty(&req->waiters)) {
		req_set_state(req, REQ_QUEUED, true);
		if (st->query_wait_timeout > 0)
			arm(req->timer, st->query_wait_timeout);
		kick(ap);
		return;
	}
	if (req->outcome == REQ_SERVER_LOST)
		lp_log_warn("auth_query for user %s in database %s failed: server connection lost",
			    req->user, req->db);
	resume(req);
	req_free(req);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_authq_pool *ap = arg;
	(void)fd;
	(void)what;
	lp_link_dispatch(ap->pool);
}

static struct lp_authq_pool *pool_state(struct lp_pool *pool)
{
	struct lp_authq_pool *ap = pool->authq;
	if (ap)
		return ap;
	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return NULL;
	ap->pool = pool;
	lp_list_init(&ap->queued);
	lp_list_init(&ap->running);
	lp_list_init(&ap->ending);
	ap->kick = event_new(pool->inst->base, -1, 0, kick_cb, ap);
	if (!ap->kick) {
		free(ap);
		return NULL;
	}
	pool->authq = ap;
	return ap;
}

static struct lp_authq_req *find_req(struct lp_authq_pool *ap, const char *user, const char *query)
{
	struct lp_list *lists[] = { &ap->queued, &ap->running };
	struct lp_list_node *n, *t;
	for (size_t i = 0; i < 2; i++) {
		lp_list_foreach_safe(lists[i], n, t) {
			struct lp_authq_req *r = lp_container_of(n, struct lp_authq_req, node);
			if (strcmp(r->user, user) == 0 && strcmp(r->query, query) == 0)
				return r;
		}
	}
	return NULL;
}

/* The auth pool of c's lookup; NULL when c was failed. */
static struct lp_pool *auth_pool(struct lp_client *c, const char *adb)
{
	struct lp_instance *inst = c->inst;
	struct lp_db *db;

	if (strcmp(adb, "pgbouncer") == 0 || strcmp(adb, "linkpool") == 0) {
		lp_client_log(c, LP_LOG_WARNING,
			      "cannot use the reserved \"%s\" database as an auth_dbname", adb);
		lp_client_fail(c, "08P01", "bouncer config error");
		return NULL;
	}
	db = lp_registry_find_db(inst, adb);
	if (!db) {
		/* Only '*' names it (no auth_dbname, the client's database): the
		 * lookup needs a pool there, so the auto-database is registered
		 * for it; one PostgreSQL never accepts a login to is freed as
		 * soon as the lookup is over (lp_registry_reap). auth_dbname
		 * avoids this. */
		bool created = false;
		db = lp_registry_auto_db(inst, adb, &created);
	}
	if (!db) {
		lp_client_log(c, LP_LOG_WARNING, "authentication database \"%s\" is not configured",
			      adb);
		lp_client_fail(c, "08P01", "bouncer config error");
		return NULL;
	}
	if (db->disabled) {
		lp_client_fail(c, "08P01", "authentication database \"%s\" is disabled", adb);
		return NULL;
	}
	struct lp_user *au = lp_registry_get_user(inst, auth_user_of(c));
	struct lp_pool *pool = au ? lp_registry_get_pool(inst, db, au) : NULL;
	if (!pool || !pool_state(pool)) {
		lp_client_fail(c, "53200", "out of memory");
		return NULL;
	}
	return pool;
}

/* A new lookup for c in pool, queued. NULL when c was failed. */
static struct lp_authq_req *req_new(struct lp_client *c, struct lp_pool *pool, const char *adb,
				    const char *query, uint64_t qh)
{
	struct lp_authq_pool *ap = pool->authq;
	const struct lp_settings *st = &c->inst->cfg.s;

	if (ap->queued.count >= st->auth_query_max_waiting) {
		lp_client_fail(c, "53300", "too many auth_query lookups waiting (auth_query_max_waiting)");
		return NULL;
	}
	size_t ul = strlen(c->user_name), dl = strlen(adb), ql = strlen(query);
	struct lp_authq_req *req = calloc(1, sizeof(*req));
	char *strs = malloc(ul + dl + ql + 3);
	if (!req || !strs) {
		free(req);
		free(strs);
		lp_client_fail(c, "53200", "out of memory");
		return NULL;
	}
	req->user = strs;
	memcpy(req->user, c->user_name, ul + 1);
	req->db = req->user + ul + 1;
	memcpy(req->db, adb, dl + 1);
	req->query = req->db + dl + 1;
	memcpy(req->query, query, ql + 1);
	req->query_hash = qh;
	req->ap = ap;
	lp_list_node_init(&req->node);
	lp_list_init(&req->waiters);
	req->queued_us = lp_now_us();
	req->timer = evtimer_new(c->inst->base, timer_cb, req);
	if (!req->timer) {
		req_free(req);
		lp_client_fail(c, "53200", "out of memory");
		return NULL;
	}
	req_set_state(req, REQ_QUEUED, false);
	if (lp_pool_login_backoff(pool) && lp_pool_server_total(pool) == 0) {
		/* auth_user cannot log in now: fail as the pool's clients do,
		 * without a connection attempt per lookup. */
		set_failure(req, pool->login_error_code, pool->login_error);
		finish_later(req, REQ_FAILED);
		return req;
	}
	if (st->query_wait_timeout > 0)
		arm(req->timer, st->query_wait_timeout);
	kick(ap);
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
	struct lp_user *u = lp_registry_find_user(inst, c->user_name);
	struct lp_authq_wait *w = c->authq;

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
	struct lp_pool *pool = auth_pool(c, adb);
	if (!pool)
		return -1;
	const char *query = auth_query_of(c);
	/* Tells the configured queries apart: a collision would only reuse an
	 * answer of another configured query for one TTL. */
	uint64_t qh = lp_hash_str(query);
	/* w->req stays NULL: answered (from the cache). */
	if (u && answer_holds(u, pool, qh))
		return 1;
	struct miss *m = miss_find(inst, pool->authq, qh, c->user_name);
	if (m && m->until_us > lp_now_us())
		return 1;
	struct lp_authq_req *req = find_req(pool->authq, c->user_name, query);
	if (!req && !(req = req_new(c, pool, adb, query, qh)))
		return -1;
	w->req = req;
	lp_list_append(&req->waiters, &w->node);
	c->auth = LP_AUTH_WAIT_QUERY;
	return 0;
}

void lp_authq_forget(struct lp_client *c)
{
	struct lp_authq_wait *w = c->authq;
	if (!w)
		return;
	struct lp_authq_req *req = w->req;
	if (req) {
		lp_list_remove(&req->waiters, &w->node);
		/* Nobody wants it and it costs nothing yet: drop it, so that
		 * clients that leave at once do not fill the queue. */
		if (req->state == REQ_QUEUED && lp_list_empty(&req->waiters))
			req_free(req);
	}
	c->authq = NULL;
	free(w);
}

int lp_authq_queued(const struct lp_pool *pool)
{
	return pool->authq ? pool->authq->queued.count : 0;
}

/* The lookup running on s, if any (at most the pool's size run). */
static struct lp_authq_req *running_on(const struct lp_server *s)
{
	struct lp_authq_pool *ap = s->pool->authq;
	struct lp_list_node *n, *t;
	if (!ap)
		return NULL;
	lp_list_foreach_safe(&ap->running, n, t) {
		struct lp_authq_req *r = lp_container_of(n, struct lp_authq_req, node);
		if (r->server == s)
			return r;
	}
	return NULL;
}

/* One DataRow: (name, secret). */
static void query_row(struct lp_server *s, const uint8_t *body, uint32_t len)
{
	struct lp_authq_req *req = running_on(s);
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
	if (l1 < 0) {
		req->no_password = true;  /* exists; no password can match */
		return;
	}
	if (l1 == 0 || l1 > SECRET_MAX || !(v = lp_rd_bytes(&r, l1)) || memchr(v, 0, (size_t)l1))
		goto bad;
	req->secret = strndup((const char *)v, (size_t)l1);
	return;
bad:
	req->rows = 2;                /* treated as no usable answer */
}

static void query_done(struct lp_server *s, bool ok)
{
	struct lp_authq_req *req = running_on(s);
	s->internal_row = NULL;
	if (req && !ok && (s->io.dead || s->io.fd < 0)) {
		/* The query could not be sent: req keeps s, and the timer
		 * closes it from the loop (never inside the send). */
		finish_later(req, REQ_SERVER_LOST);
		return;
	}
	if (req) {
		req->server = NULL;
		if (!ok) {
			lp_log_warn("auth_query for user %s in database %s failed: %s", req->user,
				    req->db, s->internal_error);
		} else if (req->rows > 1) {
			lp_log_warn("auth_query for user %s returned an unusable answer", req->user);
		}
		if (!ok || req->rows != 1) {
			wipe_free(req->secret);
			req->secret = NULL;
			req->no_password = false;
		}
		finish_later(req, ok ? REQ_ANSWERED : REQ_QUERY_ERROR);
	}
	/* The extended-protocol exchange leaves nothing behind (unnamed
	 * statement and portal, implicit transaction ended by Sync): the
	 * server goes back to the pool for the next lookup or client. */
	if (s->trk.tx == 'I')
		lp_link_server_idle(s);
	else
		lp_server_close(s, "auth_query left a transaction open");
}

/* Sends req's query on the idle server s. */
static void run(struct lp_authq_req *req, struct lp_server *s)
{
	req->server = s;
	req->rows = 0;
	req->no_password = false;
	wipe_free(req->secret);
	req->secret = NULL;
	req_set_state(req, REQ_RUNNING, false);
	evtimer_del(req->timer);           /* the janitor bounds a running query */
	/* A send that fails calls query_done at once, with the server dead. */
	lp_server_internal_param(s, req->query, req->user, query_done, query_row);
}

/* The first client queued for a server, if any. */
static const struct lp_client *first_waiting(const struct lp_pool *pool)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		const struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (c->state == LP_CL_WAITING)
			return c;
	}
	return NULL;
}

void lp_authq_dispatch(struct lp_pool *pool)
{
	struct lp_authq_pool *ap = pool->authq;
	struct lp_list_node *n, *sn;
	if (!ap)
		return;
	while ((n = lp_list_first(&ap->queued)) && (sn = lp_list_first(&pool->idle_servers))) {
		struct lp_authq_req *req = lp_container_of(n, struct lp_authq_req, node);
		const struct lp_client *c = first_waiting(pool);
		if (c && c->wait_start_us && c->wait_start_us < req->queued_us)
			break;            /* one queue: that client came first */
		run(req, lp_container_of(sn, struct lp_server, node));
	}
}

void lp_authq_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg)
{
	struct lp_authq_pool *ap = pool->authq;
	struct lp_list_node *n;
	if (!ap || lp_list_empty(&ap->queued))
		return;
	lp_log_warn("auth_query: login as %s to database %s failed: %s", pool->user->name,
		    pool->db->name, msg);
	while ((n = lp_list_first(&ap->queued))) {
		struct lp_authq_req *req = lp_container_of(n, struct lp_authq_req, node);
		set_failure(req, sqlstate, msg);
		finish_later(req, REQ_FAILED);
	}
}

void lp_authq_server_closed(struct lp_server *s)
{
	struct lp_authq_pool *ap = s->pool->authq;
	struct lp_authq_req *req = running_on(s);
	if (req) {
		req->server = NULL;
		finish_later(req, REQ_SERVER_LOST);
	}
	/* A queued lookup may need a new server: grow from the loop, never
	 * from inside this close. */
	if (ap && !lp_list_empty(&ap->queued))
		kick(ap);
}

static void pool_state_free(struct lp_authq_pool *ap)
{
	struct lp_list *lists[] = { &ap->queued, &ap->running, &ap->ending };
	struct lp_list_node *n;
	for (size_t i = 0; i < 3; i++) {
		while ((n = lp_list_first(lists[i]))) {
			struct lp_authq_req *req = lp_container_of(n, struct lp_authq_req, node);
			lp_list_init(&req->waiters);   /* clients are closed by now */
			req_free(req);
		}
	}
	event_free(ap->kick);
	ap->pool->authq = NULL;
	free(ap);
}

bool lp_authq_busy(const struct lp_pool *pool)
{
	const struct lp_authq_pool *ap = pool->authq;
	return ap && !(lp_list_empty(&ap->queued) && lp_list_empty(&ap->running) &&
		       lp_list_empty(&ap->ending));
}

void lp_authq_pool_free(struct lp_pool *pool)
{
	struct lp_authq_pool *ap = pool->authq;
	struct lp_authq *aq = pool->inst->authq;
	struct lp_list_node *n, *t;
	if (!ap)
		return;
	/* Misses are keyed by their auth pool: none may outlive it. */
	if (aq) {
		lp_list_foreach_safe(&aq->misses, n, t) {
			struct miss *m = lp_container_of(n, struct miss, node);
			if (m->ap == ap) {
				lp_list_remove(&aq->misses, n);
				free(m);
			}
		}
	}
	pool_state_free(ap);
}

void lp_authq_cleanup(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->authq)
			pool_state_free(p->authq);
	}
	struct lp_authq *aq = inst->authq;
	if (aq) {
		while ((n = lp_list_first(&aq->misses))) {
			lp_list_remove(&aq->misses, n);
			free(lp_container_of(n, struct miss, node));
		}
		event_free(aq->expire);
		free(aq);
		inst->authq = NULL;
	}
}
