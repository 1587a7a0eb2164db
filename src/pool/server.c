/*
 * Server connections: connect, log in to PostgreSQL, forward its messages to
 * the linked client, and run the pooler's own queries (reset, rollback,
 * parameter SETs, health checks) whose answers no client sees.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/md5.h"
#include "auth/scram.h"
#include "core/assert.h"
#include "core/log.h"
#include "net/tls.h"
#include "pool/auth_query.h"
#include "pool/cancel.h"
#include "pool/client.h"
#include "pool/frame.h"
#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/probe.h"
#include "pool/prepared.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "proto/proto.h"

#define SERVER_MAX_MSG (1u << 30)    /* a DataRow may be up to 1 GB */

static void server_on_read(struct lp_io *io, short what);
static int login_fail(struct lp_server *s, const char *code, const char *msg);
static int connect_lost(struct lp_server *s, const char *msg);

static const char *sv_user(const struct lp_server *s)
{
	return s->pool->user->name;
}

static void server_log(const struct lp_server *s, enum lp_log_level lvl, const char *what)
{
	if (lp_log_enabled(lvl))
		lp_log_write(lvl, "S-%llu: %s/%s@%s:%d %s", (unsigned long long)s->id,
			     s->pool->db->name, sv_user(s), s->host[0] ? s->host : "unix",
			     s->pool->db->conf.port, what);
}

/* The host this connection uses: NULL for the default unix socket
 * directory. */
static const char *server_host(const struct lp_server *s)
{
	return s->host[0] ? s->host : NULL;
}

static bool host_is_tcp(const struct lp_server *s)
{
	return s->host[0] && s->host[0] != '/';
}

/* Takes the host of a new connection from the database's list
 * (hosts.c). */
static void pick_host(struct lp_server *s)
{
	struct lp_db *db = s->pool->db;
	s->host_idx = lp_hosts_pick(db, lp_now_us(), &s->any_role);
	if (!db->conf.host)
		s->host[0] = '\0';
	else
		lp_config_host_at(db->conf.host, s->host_idx, s->host);
}

/* A unix socket path for the pool's database, or NULL when it uses TCP. */
static bool unix_path(const struct lp_server *s, struct sockaddr_un *sun)
{
	const struct lp_db_conf *dc = &s->pool->db->conf;
	const struct lp_settings *st = &s->pool->inst->cfg.s;
	if (host_is_tcp(s))
		return false;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/.s.PGSQL.%d",
			 s->host[0] ? s->host : st->unix_socket_dir, dc->port > 0 ? dc->port : 5432);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
		sun->sun_path[0] = '\0';
	return true;
}

/* Non-blocking connect; the outcome shows on the first write or read. */
int lp_server_open_socket(const struct lp_server *s, const struct sockaddr *sa, socklen_t len)
{
	const struct lp_settings *st = &s->pool->inst->cfg.s;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (sa->sa_family != AF_UNIX) {
		struct lp_tcp_tuning t;
		lp_settings_tcp_tuning(st, &t);
		lp_sock_tune_tcp(fd, &t);
	}
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int send_msg(struct lp_server *s, struct lp_writer *w)
{
	if (w->overflow)
		return -1;
	return lp_io_send(&s->io, w->buf, w->len);
}

static void resolved(const char *err, const struct sockaddr *sa, socklen_t len, int naddr,
		     void *arg);
static void connect_failed(struct lp_server *s, const char *why);

/* A startup parameter a replication client set itself (repl_params). */
static bool repl_has(const struct lp_client *c, const char *name)
{
	const char *p = c->repl_params;
	for (int i = 0; i < c->repl_nparams; i++) {
		if (strcasecmp(p, name) == 0)
			return true;
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	return false;
}

/*
 * The StartupMessage: the database's own parameters, never a pooled
 * client's. A replication server (s->replication, linked to its client from
 * the start) asks for the same replication and takes the client's
 * parameters as sent, which win over the database's.
 */
static int send_startup(struct lp_server *s)
{
	struct lp_pool *pool = s->pool;
	const struct lp_client *rc = s->replication ? s->client : NULL;
	const char *names[8 + LP_STARTUP_MAX_PARAMS], *values[8 + LP_STARTUP_MAX_PARAMS];
	int n = 0;
	const struct lp_db_conf *dc = &pool->db->conf;
	names[n] = "user", values[n++] = sv_user(s);
	names[n] = "database", values[n++] = dc->dbname ? dc->dbname : pool->db->name;
	const char *own[] = { "client_encoding", "DateStyle", "TimeZone", "application_name" };
	const char *val[] = { dc->client_encoding, dc->datestyle, dc->timezone,
			      dc->application_name };
	for (int i = 0; i < 4; i++)
		if (val[i] && !(rc && repl_has(rc, own[i])))
			names[n] = own[i], values[n++] = val[i];
	if (rc) {
		names[n] = "replication";
		values[n++] = s->replication == LP_REPL_LOGICAL ? "database" : "true";
		const char *p = rc->repl_params;
		for (int i = 0; i < rc->repl_nparams && n < 8 + LP_STARTUP_MAX_PARAMS; i++) {
			names[n] = p;
			p += strlen(p) + 1;
			values[n++] = p;
			p += strlen(p) + 1;
		}
	}
	/* What a client sent fits in its own limit, plus ours above. */
	uint8_t buf[LP_STARTUP_MAX_LEN + 1024];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_startup(&w, names, values, n);
	if (send_msg(s, &w) < 0) {
		/* A refused non-blocking connect surfaces here, on the first write. */
		connect_failed(s, strerror(errno));
		return -1;
	}
	lp_io_read_on(&s->io);
	return 0;
}

/* ---- TLS to the server (server_tls_sslmode) ---- */

/* As libpq: unix sockets never negotiate TLS. */
static bool tls_wanted(const struct lp_server *s)
{
	return s->pool->inst->sec.server_tls && host_is_tcp(s);
}

static int tls_request(struct lp_server *s)
{
	/* SSLRequest: length 8, code 1234.5679 */
	static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	if (lp_io_send(&s->io, req, sizeof(req)) < 0) {
		connect_failed(s, strerror(errno));
		return -1;
	}
	s->tls_answer_pending = true;
	lp_io_read_on(&s->io);
	return 0;
}

static void server_tls_done(struct lp_io *io, const char *err)
{
	struct lp_server *s = io->owner;
	if (err) {
		char m[400];
		snprintf(m, sizeof(m), "TLS connection to server failed: %s", err);
		login_fail(s, "08006", m);
		return;
	}
	if (lp_log_enabled(LP_LOG_DEBUG))
		server_log(s, LP_LOG_DEBUG, lp_io_tls_version(io));
	(void)send_startup(s);
}

/* The one-byte answer to our SSLRequest. */
static void tls_answer(struct lp_server *s)
{
	struct lp_io *io = &s->io;
	enum lp_sslmode mode = s->pool->inst->cfg.s.server_tls_sslmode;
	char err[300];
	int n = lp_io_fill(io);

	if (n == -1) {
		lp_io_trim(io);
		return;
	}
	if (n <= 0) {
		connect_failed(s, n == 0 ? "server closed the connection" : "server socket error");
		return;
	}
	uint8_t ans = lp_io_parse_ptr(io)[0];
	/* Bytes after the answer came in clear but would be read as if
	 * protected (CVE-2021-23214): refuse them. */
	if (lp_io_unparsed(io) > 1) {
		login_fail(s, "08P01", "server sent unencrypted data after its answer to SSLRequest");
		return;
	}
	lp_io_consume(io, 1);
	s->tls_answer_pending = false;
	if (ans == 'N') {
		if (mode >= LP_SSLMODE_REQUIRE) {
			login_fail(s, "08006", "server does not support SSL, but SSL was required");
			return;
		}
		(void)send_startup(s);
		return;
	}
	if (ans != 'S') {
		login_fail(s, "08P01", "invalid answer to SSLRequest");
		return;
	}
	const char *host = server_host(s);
	if (lp_io_tls_connect(io, s->pool->inst->sec.server_tls, host,
			      mode == LP_SSLMODE_VERIFY_FULL ? host : NULL, server_tls_done, err,
			      sizeof(err)) < 0)
		login_fail(s, "08006", err);
}


/*
 * The connection itself failed (refused, reset before any byte came back).
 * A name with several addresses gets each of them tried, as libpq does,
 * before the failure counts for the pool.
 */
static void connect_failed(struct lp_server *s, const char *why)
{
	char msg[300];
	snprintf(msg, sizeof(msg), "could not connect to server: %s", why);
	if (++s->addr_tries >= s->naddr) {
		connect_lost(s, msg);
		return;
	}
	server_log(s, LP_LOG_LOG, msg);
	lp_io_close(&s->io);
	s->io.fd = -1;
	const struct lp_db_conf *dc = &s->pool->db->conf;
	s->dns_req = lp_dns_lookup(s->pool->inst->dns, s->host, dc->port > 0 ? dc->port : 5432,
				   resolved, s);
}

/* The local address of a connecting TCP socket as "addr:port" ("[v6]:port")
 * for the log; false for a unix socket (or when it cannot be read). */
static bool local_end(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || ss.ss_family == AF_UNIX ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return false;
	snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	return true;
}

static void start_login(struct lp_server *s, const struct sockaddr *sa, socklen_t len)
{
	struct lp_instance *inst = s->pool->inst;
	int fd = lp_server_open_socket(s, sa, len);
	if (fd < 0) {
		connect_failed(s, strerror(errno));
		return;
	}
	lp_io_init(&s->io, inst->base, fd, s, server_on_read);
	memcpy(&s->peer, sa, len);     /* cancels go to the same address */
	s->peer_len = len;
	if ((tls_wanted(s) ? tls_request(s) : send_startup(s)) < 0)
		return;
	if (inst->cfg.s.log_connections) {
		/* PgBouncer's words, with the local end of a TCP connection:
		 * operators match on "new connection to server (from ...)". */
		char from[INET6_ADDRSTRLEN + 16], msg[INET6_ADDRSTRLEN + 48];
		if (local_end(fd, from, sizeof(from)))
			snprintf(msg, sizeof(msg), "new connection to server (from %s)", from);
		else
			snprintf(msg, sizeof(msg), "new connection to server");
		server_log(s, LP_LOG_LOG, msg);
	}
}

static void resolved(const char *err, const struct sockaddr *sa, socklen_t len, int naddr,
		     void *arg)
{
	struct lp_server *s = arg;
	s->dns_req = NULL;
	s->naddr = naddr;
	if (err) {
		char msg[300];
		snprintf(msg, sizeof(msg), "could not resolve host \"%s\": %s", s->host, err);
		if (lp_server_host_failed(s, "server DNS lookup failed", msg))
			return;
		/* Unlike a refused connection, told to the waiting clients at
		 * once: a name that does not resolve is most often a typo, and
		 * they would wait for it in vain (PgBouncer keeps them). */
		login_fail(s, "08006", msg);
		return;
	}
	start_login(s, sa, len);
}

/* repl: the replication client the server is opened for, else NULL. */
static struct lp_server *server_open(struct lp_pool *pool, struct lp_client *repl)
{
	struct lp_instance *inst = pool->inst;
	struct lp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = ++inst->next_socket_id;
	s->pool = pool;
	if (repl) {
		s->replication = repl->replication;
		s->client = repl;
		repl->server = s;
	}
	lp_track_init(&s->trk, s->trk_inline, LP_TRACK_INLINE);
	s->io.fd = -1;
	lp_list_node_init(&s->node);
	s->connect_us = s->last_used_us = lp_now_us();
	/* Up to 10% jitter so a pool opened together does not close together. */
	int64_t life = lp_pool_server_lifetime(pool);
	s->lifetime_us = life - (life > 0 ? (int64_t)(random() % (life / 10 + 1)) : 0);
	pool->db->server_count++;
	pool->user->server_count++;
	lp_metrics_server_opened(&pool->db->metrics);
	lp_server_set_state(s, LP_SV_LOGIN);
	pick_host(s);

	struct sockaddr_un sun;
	const struct lp_db_conf *dc = &pool->db->conf;
	if (unix_path(s, &sun)) {
		if (!sun.sun_path[0]) {
			login_fail(s, "08006", "unix socket path too long");
			return NULL;
		}
		start_login(s, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		/* May answer at once (numeric address, cached name). */
		s->dns_req = lp_dns_lookup(inst->dns, s->host, dc->port > 0 ? dc->port : 5432,
					   resolved, s);
	}
	return s->state == LP_SV_JUSTFREE ? NULL : s;
}

struct lp_server *lp_server_connect(struct lp_pool *pool)
{
	return server_open(pool, NULL);
}

struct lp_server *lp_server_connect_replication(struct lp_pool *pool, struct lp_client *c)
{
	lp_assert(c->replication != LP_REPL_NONE && !c->server);
	return server_open(pool, c);
}

struct lp_server *lp_server_adopt(struct lp_pool *pool, int fd, uint64_t id)
{
	struct lp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	s->pool = pool;
	s->ready = true;
	lp_track_init(&s->trk, s->trk_inline, LP_TRACK_INLINE);
	lp_list_node_init(&s->node);
	lp_io_init(&s->io, pool->inst->base, fd, s, server_on_read);
	s->io.got_input = true;
	/* Cancel requests go where the connection goes. */
	s->peer_len = sizeof(s->peer);
	if (getpeername(fd, (struct sockaddr *)&s->peer, &s->peer_len) < 0)
		s->peer_len = 0;
	s->naddr = 1;
	/* Which host of a list it reached: its address (a unix socket keeps
	 * the list's first entry, a directory or the default). */
	if (s->peer_len == 0 || s->peer.ss_family == AF_UNIX ||
	    getnameinfo((struct sockaddr *)&s->peer, s->peer_len, s->host, sizeof(s->host), NULL, 0,
			NI_NUMERICHOST) != 0) {
		const char *list = pool->db->conf.host;
		if (list && list[0] == '/')
			lp_config_host_at(list, 0, s->host);
		else
			s->host[0] = '\0';
	}
	pool->db->server_count++;
	pool->user->server_count++;
	lp_metrics_server_opened(&pool->db->metrics);
	lp_server_set_state(s, LP_SV_IDLE);
	return s;
}

bool lp_server_track_grow(struct lp_server *s)
{
	uint32_t cap = s->trk.cap * 8;
	if (s->trk.cap >= LP_TRACK_MAX)
		return false;
	if (cap > LP_TRACK_MAX)
		cap = LP_TRACK_MAX;
	struct lp_trk_req *ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return false;
	struct lp_trk_req *old = s->trk.ring;
	lp_track_grow(&s->trk, ring, cap);
	if (old != s->trk_inline)
		free(old);
	return true;
}

void lp_server_free(struct lp_server *s)
{
	if (s->trk.ring != s->trk_inline)
		free(s->trk.ring);
	lp_params_clear(&s->params);
	free(s->scram);
	free(s);
}

/* kind: what the metrics count the close as (reason, unless the reason is
 * PostgreSQL's own text). */
static void server_close(struct lp_server *s, const char *reason, const char *kind)
{
	if (s->state == LP_SV_JUSTFREE)
		return;
	struct lp_pool *pool = s->pool;
	lp_dns_cancel(s->dns_req);
	s->dns_req = NULL;
	if (s->io.fd >= 0 && s->ready && !s->io.dead) {
		uint8_t term[5];
		struct lp_writer w;
		lp_wr_init(&w, term, sizeof(term));
		lp_build_terminate(&w);
		(void)lp_io_send(&s->io, term, w.len);
	}
	if (pool->inst->cfg.s.log_disconnections || !s->ready) {
		/* PgBouncer's line, age and all: operators grep for it. */
		char msg[340];
		snprintf(msg, sizeof(msg), "closing because: %s (age=%llds)", reason,
			 (long long)((lp_now_us() - s->connect_us) / 1000000));
		server_log(s, LP_LOG_LOG, msg);
	}
	lp_metrics_server_closed(&pool->inst->metrics, &pool->db->metrics, kind);
	lp_cancel_server_gone(s);
	lp_prep_server_gone(s);
	/* Part of a message already went to the client: an ErrorResponse now
	 * would be read as the rest of it, so the client is only closed. */
	bool client_mid_message = s->client && s->io.pkt_remain > 0;
	/* Being readied for its client (check query, parameter sync): nothing
	 * of the client's reached it, so the client can queue again. */
	bool in_setup = s->client && s->state == LP_SV_INTERNAL;
	lp_io_close(&s->io);
	pool->db->server_count--;
	pool->user->server_count--;
	struct lp_client *c = s->client;
	s->client = NULL;
	lp_server_set_state(s, LP_SV_JUSTFREE);
	lp_instance_schedule_reap(pool->inst);
	if (pool->authq)
		lp_authq_server_closed(s);
	if (c) {
		c->server = NULL;
		if (in_setup) {
			/* A server that died while idle (PostgreSQL restarted,
			 * the backend was terminated) never reaches a client. */
			lp_link_requeue(c);
		} else if (client_mid_message) {
			char why[300];
			snprintf(why, sizeof(why), "server connection closed mid-message: %s", reason);
			lp_client_close(c, why);
		} else {
			lp_client_fail(c, "08006", "server connection closed: %s", reason);
		}
	}
	/* Never connect from inside a close: a connect that fails at once
	 * would close again, and with server_login_retry = 0 nothing stops
	 * the recursion. The replacement is opened at the end of the turn. */
	if (pool->waiting_clients.count > 0 || lp_authq_queued(pool) > 0)
		lp_link_grow_later(pool);
	lp_instance_check_shutdown(pool->inst);
}

void lp_server_close(struct lp_server *s, const char *reason)
{
	server_close(s, reason, reason);
}

void lp_server_retire(struct lp_instance *inst, const struct lp_db *db, int host_idx,
		      const char *reason)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (db && p->db != db)
			continue;
		struct lp_list *lists[] = { &p->idle_servers, &p->used_servers,
					    &p->active_servers, &p->login_servers };
		for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
			lp_list_foreach_safe(lists[i], m, mt) {
				struct lp_server *s = lp_container_of(m, struct lp_server, node);
				if (host_idx < 0 || s->host_idx == host_idx)
					s->close_needed = true;
			}
		lp_list_foreach_safe(&p->idle_servers, m, mt) {
			struct lp_server *s = lp_container_of(m, struct lp_server, node);
			if (s->close_needed)
				lp_server_close(s, reason);
		}
	}
}

void lp_server_internal(struct lp_server *s, const char *sql,
			void (*done)(struct lp_server *s, bool ok))
{
	lp_server_internal_param(s, sql, NULL, done, NULL);
}

void lp_server_internal_param(struct lp_server *s, const char *sql, const char *param,
			      void (*done)(struct lp_server *s, bool ok),
			      void (*row)(struct lp_server *s, const uint8_t *body, uint32_t len))
{
	uint8_t small[1200];
	size_t need = strlen(sql) + (param ? strlen(param) + 64 : 6);
	uint8_t *buf = need <= sizeof(small) ? small : malloc(need);
	struct lp_writer w;
	static const uint8_t simple[] = { 'Q' }, extended[] = { 'P', 'B', 'E', 'S' };
	const uint8_t *msgs = param ? extended : simple;
	size_t nmsgs = param ? sizeof(extended) : sizeof(simple);

	lp_server_set_state(s, LP_SV_INTERNAL);
	/* The pooler's own requests: tracked like a client's, their answers
	 * go nowhere. Only ever sent on a quiet connection, whose ring has
	 * room for them (LP_TRACK_INLINE). */
	lp_assert(lp_track_quiet(&s->trk) && lp_track_room(&s->trk) >= nmsgs);
	for (size_t i = 0; i < nmsgs; i++)
		(void)lp_track_frontend(&s->trk, msgs[i], 0, LP_TRK_SWALLOW, 0);
	s->internal_start_us = lp_now_us();
	s->internal_done = done;
	s->internal_row = row;
	s->internal_error[0] = '\0';
	lp_wr_init(&w, buf ? buf : small, buf ? need : sizeof(small));
	if (param) {
		/* The unnamed statement and portal, one text parameter. */
		size_t plen = strlen(param);
		lp_wr_begin(&w, 'P');
		lp_wr_cstr(&w, "");
		lp_wr_cstr(&w, sql);
		lp_wr_i16(&w, 0);
		lp_wr_end(&w);
		lp_wr_begin(&w, 'B');
		lp_wr_cstr(&w, "");
		lp_wr_cstr(&w, "");
		lp_wr_i16(&w, 0);
		lp_wr_i16(&w, 1);
		lp_wr_i32(&w, (int32_t)plen);
		lp_wr_bytes(&w, param, plen);
		lp_wr_i16(&w, 0);
		lp_wr_end(&w);
		lp_wr_begin(&w, 'E');
		lp_wr_cstr(&w, "");
		lp_wr_i32(&w, 0);
		lp_wr_end(&w);
		lp_wr_begin(&w, 'S');
		lp_wr_end(&w);
	} else {
		lp_build_query(&w, sql);
	}
	int rc = send_msg(s, &w);
	if (buf != small)
		free(buf);
	if (rc < 0) {
		s->internal_done = NULL;
		s->internal_row = NULL;
		snprintf(s->internal_error, sizeof(s->internal_error), "could not send query");
		done(s, false);
		return;
	}
	lp_io_read_on(&s->io);
}

/* ---- login ---- */

static const char *server_password(const struct lp_server *s)
{
	const struct lp_db_conf *dc = &s->pool->db->conf;
	if (dc->password && dc->password[0])
		return dc->password;
	return lp_user_server_secret(s->pool->user);
}

/*
 * The login failed: logged as PgBouncer does ("server login failed:" with
 * PostgreSQL's severity when PostgreSQL refused), the server closed with
 * the reason itself, and the clients waiting on the pool told the same
 * SQLSTATE and text -- unless transient: then they stay for the retry
 * (lp_link_login_failed). severity: NULL when the pooler gave up by itself;
 * kind: the metrics' reason class. A server never reached closes "because:
 * connect failed" (PgBouncer's line; the cause was logged just before).
 */
static int login_failed(struct lp_server *s, const char *severity, const char *code,
			const char *msg, bool transient, const char *kind)
{
	bool unreached = strcmp(kind, "connect failed") == 0;
	struct lp_pool *pool = s->pool;
	char m[300];
	snprintf(m, sizeof(m), "server login failed: %s%s%s", severity ? severity : "",
		 severity ? " " : "", msg);
	server_log(s, LP_LOG_WARNING, m);
	if (s->replication) {
		/* Its own client only hears of it, as PgBouncer tells it; what
		 * PostgreSQL said (no replication privilege, no pg_hba.conf
		 * line) is in the line above. The pool's ordinary logins are
		 * none the worse: no server_login_retry for them. */
		struct lp_client *c = s->client;
		if (c) {
			c->server = NULL;
			s->client = NULL;
		}
		server_close(s, unreached ? kind : "login failed", kind);
		(void)transient;
		if (c)
			lp_client_fail(c, code, "login failed");
		return -1;
	}
	/* Mark the failure first: closing must not start a retry at once. */
	pool->last_login_fail_us = lp_now_us();
	server_close(s, unreached ? kind : msg, kind);
	lp_link_login_failed(pool, code, msg, transient);
	return -1;
}

static int login_fail(struct lp_server *s, const char *code, const char *msg)
{
	return login_failed(s, NULL, code, msg, false, "login failed");
}

int lp_server_login_fail(struct lp_server *s, const char *code, const char *msg)
{
	return login_fail(s, code, msg);
}

/* The server could not be reached at all ("connect failed", PgBouncer's
 * words): nothing says the next try fails too. */
static int connect_lost(struct lp_server *s, const char *msg)
{
	if (lp_server_host_failed(s, "connect failed", msg))
		return -1;
	return login_failed(s, NULL, "08006", msg, true, "connect failed");
}

/* Skipping a host logs PgBouncer's "closing because: <reason>"; the new
 * connection waits for the next loop turn (no connect from inside a close),
 * and nothing counts as a failed login, so the waiting clients never hear of
 * it. */
bool lp_server_host_failed(struct lp_server *s, const char *reason, const char *msg)
{
	struct lp_pool *pool = s->pool;
	if (!lp_hosts_unreachable(pool->db, s->host_idx, msg, lp_now_us(),
				  pool->inst->cfg.s.server_login_retry))
		return false;
	char m[400];
	snprintf(m, sizeof(m), "%s; trying the next host", msg);
	server_log(s, LP_LOG_WARNING, m);
	if (s->replication && s->client) {
		/* Its client waits for the connection to the next host. */
		s->client->server = NULL;
		s->client = NULL;
	}
	server_close(s, reason, "connect failed");
	lp_link_grow_later(pool);
	return true;
}

/* Logged in: is the server in a role target_session_attrs allows? When
 * not, it is closed (returns -1) and the next host tried, or, with none
 * left, the login fails and the waiting clients stay for the retry. */
static int check_role(struct lp_server *s)
{
	struct lp_pool *pool = s->pool;
	char why[200];
	switch (lp_hosts_logged_in(pool->db, s->host_idx, (enum lp_host_role)s->role, s->read_only,
				   s->any_role, lp_now_us(), pool->inst->cfg.s.server_login_retry,
				   why, sizeof(why))) {
	case LP_HOSTS_USE:
		return 0;
	case LP_HOSTS_SKIP: {
		char m[300];
		snprintf(m, sizeof(m), "%s; trying the next host", why);
		server_log(s, LP_LOG_WARNING, m);
		server_close(s, "wrong server role", "login failed");
		lp_link_grow_later(pool);
		return -1;
	}
	case LP_HOSTS_NONE:
	default: {
		/* Reachable, but no host in the role yet: a promotion may come
		 * any moment, so the pool looks again within a second rather
		 * than after a whole server_login_retry (a failover then takes
		 * seconds whatever the setting). */
		int64_t retry = pool->inst->cfg.s.server_login_retry;
		int rc = login_failed(s, NULL, "08006", why, true, "login failed");
		if (retry > 1000000)
			pool->last_login_fail_us -= retry - 1000000;
		return rc;
	}
	}
}

/* A ParameterStatus of a logged-in server. in_hot_standby changes when a
 * standby is promoted: a server that no longer suits its database is
 * closed when next released (at once when idle). */
static void param_status(struct lp_server *s, const char *name, const char *value)
{
	lp_params_set(&s->params, name, value);
	struct lp_db *db = s->pool->db;
	if (db->conf.target_session_attrs == LP_TSA_ANY || !s->ready ||
	    strcmp(name, "in_hot_standby") != 0)
		return;
	bool standby = strcmp(value, "on") == 0;
	s->role = standby ? LP_HOST_ROLE_STANDBY : LP_HOST_ROLE_PRIMARY;
	if (!lp_hosts_role_changed(db, s->host_idx, standby, lp_now_us(),
				   s->pool->inst->cfg.s.server_login_retry)) {
		server_log(s, LP_LOG_LOG, "server changed role: closed when released");
		s->close_needed = true;
	}
}

static void login_done(struct lp_server *s)
{
	struct lp_pool *pool = s->pool;
	s->ready = true;
	if (s->replication) {
		/* Its client's, with the client's parameters: not the pool's
		 * welcome, nor a sign for the pool's ordinary logins. */
		free(s->scram);
		s->scram = NULL;
		s->last_used_us = lp_now_us();
		lp_server_set_state(s, LP_SV_ACTIVE);
		if (s->client)
			lp_client_welcome_repl(s->client);
		return;
	}
	pool->last_login_ok_us = lp_now_us();
	pool->last_login_fail_us = 0;
	if (!pool->welcome_ready) {
		lp_params_clear(&pool->welcome);
		lp_params_copy(&pool->welcome, &s->params);
		lp_params_mark_tracked(pool->inst, &pool->welcome);
		pool->welcome_ready = true;
	}
	if (s->scram) {
		free(s->scram);
		s->scram = NULL;
	}
	/* Clients that authenticated before any server existed. */
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (c->state == LP_CL_WAIT_LOGIN)
			lp_client_welcome(c);
	}
	lp_server_set_state(s, LP_SV_IDLE);
	s->last_used_us = lp_now_us();
	lp_link_dispatch(pool);
}

static void connect_query_done(struct lp_server *s, bool ok)
{
	if (!ok) {
		login_fail(s, "08006", "connect_query failed");
		return;
	}
	login_done(s);
}

int lp_server_login_checks(struct lp_server *s)
{
	/* A replication client chose its server itself, and a walsender
	 * runs no SQL. */
	if (!s->replication && check_role(s) < 0)
		return -1;
	const char *cq = s->pool->db->conf.connect_query;
	if (cq && cq[0] && !s->replication) {   /* no SQL on a walsender */
		s->ready = true;
		lp_server_internal(s, cq, connect_query_done);
		return 0;
	}
	login_done(s);
	return 0;
}


/* An answer to the server's authentication request; -1 when s was closed. */
static int login_send(struct lp_server *s, struct lp_writer *w)
{
	if (send_msg(s, w) < 0)
		return login_fail(s, "08006", "could not send the authentication response");
	return 0;
}

/* A cleartext password may be as long as auth_file allows: built apart. */
static int send_cleartext(struct lp_server *s, const char *pw)
{
	size_t need = strlen(pw) + 16;
	uint8_t *buf = malloc(need);
	struct lp_writer w;
	if (!buf)
		return login_fail(s, "53200", "out of memory");
	lp_wr_init(&w, buf, need);
	lp_build_password(&w, pw);
	int rc = send_msg(s, &w);
	explicit_bzero(buf, need);
	free(buf);
	if (rc < 0)
		return login_fail(s, "08006", "could not send the authentication response");
	return 0;
}

static int handle_auth(struct lp_server *s, const uint8_t *body, uint32_t blen)
{
	int32_t code;
	const uint8_t *data;
	size_t dlen;
	const char *err;
	uint8_t out[1200];
	struct lp_writer w;
	const char *pw = server_password(s);

	if (lp_msg_parse_auth(body, blen, &code, &data, &dlen, &err) != LP_PROTO_OK)
		return login_fail(s, "08P01", err);
	lp_wr_init(&w, out, sizeof(out));
	switch (code) {
	case 0:
		return 0;
	case 3:
		if (!pw)
			return login_fail(s, "08P01", "server asked for a cleartext password, none is configured");
		if (lp_md5_is_secret(pw) || lp_scram_is_secret(pw))
			return login_fail(s, "08P01",
					  "wrong password type: server asked for a cleartext password, "
					  "the stored secret is a hash");
		return send_cleartext(s, pw);
	case 5: {
		char resp[LP_MD5_SECRET_LEN + 1], sec[LP_MD5_SECRET_LEN + 1];
		if (dlen != 4 || !pw)
			return login_fail(s, "08P01", "server asked for md5, no usable password is configured");
		if (lp_scram_is_secret(pw))
			return login_fail(s, "08P01",
					  "wrong password type: server asked for md5, "
					  "the stored secret is a SCRAM verifier");
		if (lp_md5_is_secret(pw)) {
			lp_md5_response(pw, data, resp);
		} else {
			lp_md5_secret(sv_user(s), pw, sec);
			lp_md5_response(sec, data, resp);
		}
		lp_build_password(&w, resp);
		return login_send(s, &w);
	}
	case 10: {
		bool scram = false, plus = false;
		char first[LP_SCRAM_MSG_MAX];
		size_t flen;
		if (lp_msg_parse_sasl_mechs(data, dlen, &scram, &plus, &err) != LP_PROTO_OK || !scram)
			return login_fail(s, "08P01", "server offers no SASL mechanism we support");
		if (!pw)
			return login_fail(s, "08P01", "server asked for SCRAM, no usable password is configured");
		if (lp_md5_is_secret(pw))
			return login_fail(s, "08P01",
					  "wrong password type: server asked for SCRAM, "
					  "the stored secret is an md5 hash");
		free(s->scram);
		s->scram = calloc(1, sizeof(*s->scram));
		if (!s->scram || lp_scram_client_first(s->scram, first, sizeof(first), &flen) < 0)
			return login_fail(s, "08P01", "SCRAM setup failed");
		lp_build_sasl_initial(&w, "SCRAM-SHA-256", first, flen);
		return login_send(s, &w);
	}
	case 11: {
		char fin[LP_SCRAM_MSG_MAX];
		size_t flen;
		int rc;
		if (!s->scram)
			return login_fail(s, "08P01", "unexpected SASL continue");
		if (lp_scram_is_secret(pw)) {
			struct lp_scram_secret sec;
			struct lp_user *u = s->pool->user;
			if (!lp_scram_parse_secret(pw, &sec) || !u->have_client_key)
				return login_fail(s, "08P01",
						  "wrong password type: SCRAM verifier stored but no "
						  "client has logged in with SCRAM yet");
			rc = lp_scram_client_final(s->scram, NULL, u->scram_client_key, &sec, data, dlen,
						   fin, sizeof(fin), &flen, &err);
		} else {
			rc = lp_scram_client_final(s->scram, pw, NULL, NULL, data, dlen, fin,
						   sizeof(fin), &flen, &err);
		}
		if (rc < 0)
			return login_fail(s, "08P01", err);
		lp_build_sasl_response(&w, fin, flen);
		return login_send(s, &w);
	}
	case 12:
		if (!s->scram || lp_scram_client_verify(s->scram, data, dlen, &err) < 0)
			return login_fail(s, "08P01", "server's SCRAM signature is invalid");
		return 0;
	default: {
		char m[100];
		snprintf(m, sizeof(m), "unsupported server authentication method %d", (int)code);
		return login_fail(s, "08P01", m);
	}
	}
}

/* sev (may be NULL): the severity, not localized when PostgreSQL sent one. */
static void error_text(const uint8_t *body, uint32_t len, char *code, size_t ccap, char *msg,
		       size_t mcap, char sev[16])
{
	struct lp_err_fields f;
	const char *err;
	memset(&f, 0, sizeof(f));
	if (sev)
		snprintf(sev, 16, "ERROR");
	if (lp_msg_parse_error(body, len, &f, &err) != LP_PROTO_OK) {
		snprintf(code, ccap, "08P01");
		snprintf(msg, mcap, "malformed error from server");
		return;
	}
	if (sev && (f.severity_nl || f.severity))
		snprintf(sev, 16, "%s", f.severity_nl ? f.severity_nl : f.severity);
	snprintf(code, ccap, "%s", f.sqlstate && strlen(f.sqlstate) == 5 ? f.sqlstate : "XX000");
	snprintf(msg, mcap, "%s", f.message ? f.message : "(no message)");
}

/* One whole message while logging in. Returns -1 when s was closed. */
static int login_msg(struct lp_server *s, uint8_t type, const uint8_t *body, uint32_t blen)
{
	const char *err, *name, *value;
	switch (type) {
	case 'R':
		return handle_auth(s, body, blen);
	case 'S':
		if (lp_msg_parse_param_status(body, blen, &name, &value, &err) == LP_PROTO_OK)
			lp_params_set(&s->params, name, value);
		return 0;
	case 'K':
		if (lp_msg_parse_backend_key(body, blen, &s->be_pid, &s->be_key, &err) != LP_PROTO_OK)
			return login_fail(s, "08P01", err);
		return 0;
	case 'Z': {
		char st;
		if (lp_msg_parse_rfq(body, blen, &st, &err) != LP_PROTO_OK)
			return login_fail(s, "08P01", err);
		lp_track_reset(&s->trk, st);
		bool ro;
		s->role = (uint8_t)lp_hosts_role_of(&s->params, &ro);
		s->read_only = ro;
		if (!s->replication && lp_probe_login(s))
			return 0;       /* asked first; lp_server_login_checks follows */
		return lp_server_login_checks(s);
	}
	case 'E': {
		char code[8], msg[256], sev[16];
		error_text(body, blen, code, sizeof(code), msg, sizeof(msg), sev);
		/* 57P03 (cannot_connect_now): starting up, shutting down, in
		 * recovery. The clients wait for the retry, as in PgBouncer;
		 * with a host list, the next host is tried at once. */
		bool not_now = strcmp(code, "57P03") == 0;
		if (not_now && lp_server_host_failed(s, "login failed", msg))
			return -1;
		return login_failed(s, sev, code, msg, not_now, "login failed");
	}
	case 'N':
	case 'v':
		return 0;
	default:
		return login_fail(s, "08P01", "unexpected message from server during login");
	}
}

/* A whole message answering a pooler query. Returns -1 when s was closed. */
static int internal_msg(struct lp_server *s, uint8_t type, const uint8_t *body, uint32_t blen)
{
	const char *err, *name, *value;
	char st = 0;
	if (type == 'Z' && lp_msg_parse_rfq(body, blen, &st, &err) != LP_PROTO_OK) {
		lp_server_close(s, "malformed ReadyForQuery");
		return -1;
	}
	if (type == 'G' || type == 'H' || type == 'W') {
		lp_server_close(s, "pooler query started COPY");
		return -1;
	}
	if (lp_track_backend(&s->trk, type, st, NULL) == LP_TRK_BE_VIOLATION) {
		char why[120];
		snprintf(why, sizeof(why), "protocol violation: unexpected message type 0x%02x", type);
		lp_server_close(s, why);
		return -1;
	}
	switch (type) {
	case 'E': {
		char code[8];
		error_text(body, blen, code, sizeof(code), s->internal_error, sizeof(s->internal_error),
			   NULL);
		return 0;
	}
	case 'S':
		if (lp_msg_parse_param_status(body, blen, &name, &value, &err) == LP_PROTO_OK)
			param_status(s, name, value);
		return 0;
	case 'Z': {
		void (*done)(struct lp_server *, bool) = s->internal_done;
		s->internal_done = NULL;
		if (done)
			done(s, s->internal_error[0] == '\0');
		return 0;
	}
	case 'D':
		if (s->internal_row)
			s->internal_row(s, body, blen);
		return 0;
	default:
		return 0;
	}
}

/* Unsolicited message on an idle server. */
static int idle_msg(struct lp_server *s, uint8_t type, const uint8_t *body, uint32_t blen)
{
	const char *err, *name, *value;
	switch (type) {
	case 'S':
		if (lp_msg_parse_param_status(body, blen, &name, &value, &err) == LP_PROTO_OK)
			param_status(s, name, value);
		if (s->close_needed) {
			lp_server_close(s, "server changed role");
			return -1;
		}
		return 0;
	case 'N':
	case 'A':
		return 0;
	case 'E': {
		char code[8], msg[256], why[300];
		error_text(body, blen, code, sizeof(code), msg, sizeof(msg), NULL);
		snprintf(why, sizeof(why), "server sent error while idle: %s", msg);
		lp_server_close(s, why);
		return -1;
	}
	default:
		lp_server_close(s, "unexpected data from idle server");
		return -1;
	}
}

/* ---- forwarding to the client ---- */

static void server_died(struct lp_server *s, const char *why)
{
	if (s->state == LP_SV_LOGIN && !s->io.got_input && s->dns_req == NULL && host_is_tcp(s)) {
		connect_failed(s, why);
		return;
	}
	if (s->state == LP_SV_LOGIN) {
		/* Gone before the login finished (a restart, a proxy): the
		 * next connection may well work. */
		connect_lost(s, why);
		return;
	}
	lp_server_close(s, why);
}

/* A ReadyForQuery forwarded to the client: statistics, and whether the
 * link goes back to the pool once the bytes are out. */
static void answered(struct lp_server *s, struct lp_client *c, char st)
{
	struct lp_pool *pool = s->pool;
	int64_t now = lp_now_us();
	c->last_rfq = st;
	s->last_rfq_us = now;
	pool->stats.query_count++;
	if (s->request_us) {
		lp_metrics_query(&pool->db->metrics, now - s->request_us);
		pool->stats.query_time_us += (uint64_t)(now - s->request_us);
		s->request_us = 0;
	}
	if (s->trk.rfq_owed > 0)
		s->request_us = now;    /* the next pipelined request runs from here */
	if (st == 'I') {
		pool->stats.xact_count++;
		if (s->xact_start_us) {
			lp_metrics_xact(&pool->db->metrics, now - s->xact_start_us);
			pool->stats.xact_time_us += (uint64_t)(now - s->xact_start_us);
			s->xact_start_us = 0;
		}
	}
	/* A replication server is its client's until it leaves, whatever the
	 * pool mode. */
	enum lp_pool_mode mode = s->replication ? LP_POOL_SESSION : lp_pool_mode_of(pool);
	/* The tracker says whether anything is owed; a client still sending a
	 * message (CopyData outside COPY owes no answer) keeps the server
	 * until its next ReadyForQuery: releasing now would cut the message. */
	if (mode != LP_POOL_SESSION && lp_track_releasable(&s->trk) &&
	    !lp_frame_mid_message(&c->io) && c->io.start == c->io.pos)
		s->release_pending = true;
	if (mode == LP_POOL_STATEMENT && st != 'I')
		c->closing = true;  /* refuse after forwarding */
	if (pool->inst->shutdown != LP_RUN) {
		lp_instance_check_shutdown(pool->inst);
		/* A session's transaction ended: its client may be drained
		 * (shutdown_drain_clients) once this is written. */
		if (st == 'I' && mode == LP_POOL_SESSION)
			lp_client_kick(c);
	}
}

/* A backend message for the linked client: judged by the tracker, read on
 * the way when it is a ParameterStatus or ReadyForQuery, forwarded. */
static enum lp_frame_act to_client(struct lp_server *s, const struct lp_msg_hdr *h,
				   const uint8_t *msg, uint32_t avail)
{
	struct lp_client *c = s->client;
	uint32_t total = h->len + 1;
	const char *err;
	char st = 0;
	/* A synthetic answer is due before this message: written once the
	 * bytes ahead of it are out (server_on_read). */
	if (lp_track_synth_due(&s->trk))
		return LP_FRAME_STOP;
	if (h->type == 'Z' || h->type == 'S') {
		/* Forwarding a ParameterStatus untracked would leave the pooler
		 * wrong about the server's settings, and the next client would
		 * inherit them: no real server sends one too large to read, so
		 * the connection is not trusted. */
		if (total > lp_io_buf_size()) {
			server_died(s, "server message too large for pkt_buf");
			return LP_FRAME_CLOSED;
		}
		if (avail < total)
			return LP_FRAME_MORE;
		if (h->type == 'Z' &&
		    lp_msg_parse_rfq(msg + LP_PROTO_HDR_LEN, h->len - 4, &st, &err) != LP_PROTO_OK) {
			server_died(s, err);
			return LP_FRAME_CLOSED;
		}
	}
	enum lp_trk_be v = lp_track_backend(&s->trk, h->type, st, NULL);
	if (v != LP_TRK_BE_FORWARD) {
		if (v == LP_TRK_BE_SWALLOW)
			return LP_FRAME_DROP;
		char why[160];
		snprintf(why, sizeof(why), "protocol violation: %s (type 0x%02x)",
			 h->type == 'Z' ? "ReadyForQuery nobody asked for"
					: "message out of step with the conversation",
			 h->type);
		server_died(s, why);
		return LP_FRAME_CLOSED;
	}
	if (h->type == 'Z') {
		answered(s, c, st);
	} else if (h->type == 'S') {
		const char *name, *value;
		if (lp_msg_parse_param_status(msg + LP_PROTO_HDR_LEN, h->len - 4, &name, &value,
					      &err) == LP_PROTO_OK) {
			param_status(s, name, value);
			if (lp_param_is_tracked(s->pool->inst, name))
				lp_params_set(&c->params, name, value);
		}
	}
	s->pool->stats.bytes_out += total;
	/* A request ring that was full has room again: the client goes on. */
	if (s->client_waits_room && lp_track_room(&s->trk) > 0) {
		s->client_waits_room = false;
		lp_client_kick(c);
	}
	return LP_FRAME_FORWARD;
}

/* Per backend message (frame.h). */
static enum lp_frame_act server_msg(void *owner, const struct lp_msg_hdr *h, const uint8_t *msg,
				    uint32_t avail)
{
	struct lp_server *s = owner;
	const char *err;
	if (s->release_pending)
		return LP_FRAME_STOP;
	/* After login only the types a backend sends, each with a length that
	 * fits it, reach the code below or a client. */
	if (s->state != LP_SV_LOGIN && lp_msg_check_backend(h, SERVER_MAX_MSG, &err) != LP_PROTO_OK) {
		char why[200];
		snprintf(why, sizeof(why), "protocol violation: %s (type 0x%02x, length %u)", err,
			 h->type, h->len);
		server_died(s, why);
		return LP_FRAME_CLOSED;
	}
	if (s->state == LP_SV_ACTIVE && s->client)
		return to_client(s, h, msg, avail);
	/* Not linked: the pooler reads every message itself, whole. */
	uint32_t total = h->len + 1;
	if (total > lp_io_buf_size()) {
		server_died(s, "server message too large for pkt_buf");
		return LP_FRAME_CLOSED;
	}
	if (avail < total)
		return LP_FRAME_MORE;
	const uint8_t *body = msg + LP_PROTO_HDR_LEN;
	uint32_t blen = h->len - 4;
	int r;
	if (s->state == LP_SV_LOGIN)
		r = login_msg(s, h->type, body, blen);
	else if (s->state == LP_SV_INTERNAL)
		r = internal_msg(s, h->type, body, blen);
	else
		r = idle_msg(s, h->type, body, blen);
	if (r < 0 || s->state == LP_SV_JUSTFREE)
		return LP_FRAME_CLOSED;
	/* The state may have changed (login done, linked): the next message
	 * is judged afresh. */
	return LP_FRAME_CONSUMED;
}

static void server_frame_error(void *owner, const char *err)
{
	server_died(owner, err);
}

/*
 * Walks the buffered bytes. Returns 1 when more bytes are needed, 0 when
 * processing must stop (blocked, released, state change), -1 when s closed.
 */
static int server_process(struct lp_server *s)
{
	return lp_frame_walk(&s->io, SERVER_MAX_MSG, server_msg, server_frame_error, s);
}

/* Flush to the client, then act on a pending release. Returns false when
 * the flush is blocked or something closed. */
static bool server_flush(struct lp_server *s)
{
	struct lp_client *c = s->client;
	if (!c || s->io.start == s->io.pos)
		goto released;
	if (!lp_io_flush_to(&s->io, &c->io))
		return false;
released:
	if (s->state == LP_SV_JUSTFREE)
		return false;
	c = s->client;
	if (c && c->closing) {
		lp_client_fail(c, "08P01", "transaction blocks not allowed in statement pooling mode");
		return false;
	}
	if (c && s->release_pending) {
		lp_link_release(c, false);
		lp_client_kick(c);
		return false;
	}
	return true;
}

void lp_server_kick(struct lp_server *s)
{
	lp_io_kick(&s->io);
}

static void server_on_read(struct lp_io *io, short what)
{
	struct lp_server *s = io->owner;
	(void)what;

	if (s->state == LP_SV_JUSTFREE)
		return;
	if (s->tls_answer_pending) {
		tls_answer(s);
		return;
	}
	/* Still waiting for the client socket to take our last bytes. */
	if (s->client && lp_io_waits_on(&s->client->io, io))
		return;
	lp_io_read_on(io);
	for (int rounds = 0; rounds < 32; rounds++) {
		int rc = server_process(s);
		if (rc < 0)
			return;
		if (s->io.start != s->io.pos || s->release_pending ||
		    (s->client && s->client->closing)) {
			if (!server_flush(s))
				return;
		}
		/* The pooler's own answers go out in their place, once the
		 * server's bytes ahead of them have. */
		if (lp_track_synth_due(&s->trk))
			lp_prep_emit(s);
		if (rc == 0)
			continue;
		int n = lp_io_fill(io);
		if (n > 0)
			continue;
		if (n == -1) {
			lp_io_trim(io);
			return;
		}
		server_died(s, n == 0 ? "server closed the connection" :
			       n == -3 ? "server message framing broken" :
					 "server socket error");
		return;
	}
	/* Fairness: let other connections run, then continue. */
	lp_io_kick(io);
}
