/*
 * Client connections: accept, startup packet, the hand-off to
 * authentication (client_auth.c), the welcome, then forwarding the client's
 * messages to its server. Pooler-made errors leave through lp_client_fail().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


#include "core/assert.h"
#include "core/log.h"
#include "net/tls.h"
#include "pool/auth_query.h"
#include "pool/cancel.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/control.h"
#include "pool/extauth.h"
#include "pool/frame.h"
#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/login_buf.h"
#include "pool/params.h"
#include "pool/prepared.h"
#include "pool/registry.h"
#include "pool/replication.h"
#include "pool/server.h"
#include "proto/proto.h"

static void client_on_read(struct lp_io *io, short what);

void lp_client_log(const struct lp_client *c, enum lp_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (!lp_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char addr[LP_ADDR_TEXT];
	lp_log_write(lvl, "C-%llu: %s/%s@%s:%d %s", (unsigned long long)c->id,
		     c->db_name ? c->db_name : "(nodb)", c->user_name ? c->user_name : "(nouser)",
		     lp_client_addr(c, addr), c->port, msg);
}

/* Dotted quad of a host-order IPv4 address into out (>= 16 bytes): glibc's
 * inet_ntop goes through sprintf, a tenth of the user-space cost of a login. */
static void ipv4_text(uint32_t a, char *out)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		unsigned v = (a >> shift) & 0xff;
		if (v >= 100)
			*out++ = (char)('0' + v / 100);
		if (v >= 10)
			*out++ = (char)('0' + v / 10 % 10);
		*out++ = (char)('0' + v % 10);
		*out++ = shift ? '.' : '\0';
	}
}

const char *lp_client_addr(const struct lp_client *c, char buf[LP_ADDR_TEXT])
{
	uint32_t v4;
	switch (c->addr_family) {
	case AF_INET:
		memcpy(&v4, c->addr_ip, 4);
		ipv4_text(ntohl(v4), buf);
		break;
	case AF_INET6:
		if (!inet_ntop(AF_INET6, c->addr_ip, buf, LP_ADDR_TEXT))
			snprintf(buf, LP_ADDR_TEXT, "?");
		break;
	case AF_UNIX:
		snprintf(buf, LP_ADDR_TEXT, "unix");
		break;
	default:                        /* not from a listener */
		buf[0] = '\0';
	}
	return buf;
}

void lp_client_accept(struct lp_instance *inst, int fd, const struct sockaddr *sa, socklen_t salen,
		      bool is_unix, bool deferred)
{
	struct lp_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->inst = inst;
	c->id = ++inst->next_socket_id;
	c->last_rfq = 'I';
	lp_list_node_init(&c->node);
	lp_list_node_init(&c->cancel_node);
	c->connect_us = c->last_active_us = lp_now_us();
	c->addr_family = AF_UNIX;
	if (is_unix || sa->sa_family == AF_UNIX) {
		/* no address: "unix" */
	} else if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		c->addr_family = AF_INET;
		memcpy(c->addr_ip, &in->sin_addr, 4);
		c->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		c->addr_family = AF_INET6;
		memcpy(c->addr_ip, &in6->sin6_addr, 16);
		c->port = ntohs(in6->sin6_port);
	}
	lp_io_init(&c->io, inst->base, fd, c, client_on_read);
	if (!is_unix) {
		struct lp_tcp_tuning t;
		lp_settings_tcp_tuning(&inst->cfg.s, &t);
		lp_sock_tune_accepted(fd, &t);
	}
	inst->client_count++;
	lp_client_set_state(c, LP_CL_LOGIN);
	if (inst->client_count > inst->cfg.s.max_client_conn) {
		/* Refused at its StartupMessage, as PgBouncer does: an error
		 * in answer to an SSLRequest is one libpq does not show, so
		 * the client would never learn why. Only a few wait for that
		 * at once; past them the refusal comes now. */
		if (inst->client_count > inst->cfg.s.max_client_conn + LP_OVER_LIMIT_PENDING) {
			lp_metrics_max_client_conn(&inst->metrics);
			lp_client_fail(c, "53300", "no more connections allowed (max_client_conn)");
			return;
		}
		c->over_limit = true;
	}
	lp_io_read_on(&c->io);
	/* TCP_DEFER_ACCEPT hands over a connection only once its first bytes
	 * are in: read them in this loop turn instead of waiting for epoll. */
	if (deferred)
		lp_io_kick(&c->io);
}

struct lp_client *lp_client_adopt(struct lp_instance *inst, int fd, uint64_t id)
{
	struct lp_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->inst = inst;
	c->id = id;
	c->last_rfq = 'I';
	c->startup_done = true;
	c->auth = LP_AUTH_DONE;
	lp_list_node_init(&c->node);
	lp_list_node_init(&c->cancel_node);
	lp_io_init(&c->io, inst->base, fd, c, client_on_read);
	inst->client_count++;
	return c;
}

void lp_client_adopt_finish(struct lp_client *c)
{
	lp_cancel_register(c);
	lp_client_set_state(c, LP_CL_ACTIVE);
}

void lp_client_free(struct lp_client *c)
{
	lp_registry_db_release(c->login_db);    /* a login that never finished */
	lp_extauth_forget(c);
	lp_params_clear(&c->params);
	free(c->scram);
	free(c->repl_params);
	lp_login_buf_free(c->login_buf);
	free(c->user_name);             /* db_name shares the block */
	free(c);
}

static void close_log(const struct lp_client *c, const char *reason)
{
	/* A client that named itself (sent a startup packet) is logged as
	 * PgBouncer does, refused logins too; a bare connection is not. */
	if (c->user_name && c->inst->cfg.s.log_disconnections)
		lp_client_log(c, LP_LOG_LOG, "closing because: %s (age=%llds)", reason,
			      (long long)((lp_now_us() - c->connect_us) / 1000000));
	else
		lp_client_log(c, LP_LOG_DEBUG, "closing because: %s", reason);
}

/* logged: close_log() already wrote the line. */
static void client_close(struct lp_client *c, const char *reason, bool logged)
{
	struct lp_instance *inst = c->inst;
	if (c->state == LP_CL_JUSTFREE)
		return;
	if (c->server)
		lp_link_release(c, true);
	lp_authq_forget(c);
	lp_extauth_forget(c);
	lp_prep_client_gone(c);
	lp_login_buf_free(c->login_buf);
	c->login_buf = NULL;
	lp_cancel_unregister(c);
	if (!logged)
		close_log(c, reason);
	lp_io_close(&c->io);
	inst->client_count--;
	if (c->pool)
		c->pool->db->client_count--;
	if (c->login_user)
		c->login_user->client_count--;
	if (inst->takeover_peer == c)
		inst->takeover_peer = NULL;     /* takeover.c notices */
	lp_client_set_state(c, LP_CL_JUSTFREE);
	lp_instance_schedule_reap(inst);
	lp_instance_check_shutdown(inst);
}

void lp_client_close(struct lp_client *c, const char *reason)
{
	client_close(c, reason, false);
}

/*
 * True while the client has received part of a server message: anything the
 * pooler wrote now would land inside that message and be read as its data,
 * so the only honest answer left is closing the connection.
 */
static bool client_mid_message(const struct lp_client *c)
{
	return c->server && c->server->io.pkt_remain > 0;
}

void lp_client_fail(struct lp_client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	uint8_t buf[700];
	struct lp_writer w;
	va_list ap;

	if (c->state == LP_CL_JUSTFREE)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->inst->cfg.s.log_pooler_errors)
		lp_client_log(c, LP_LOG_WARNING, "pooler error: %s", msg);
	if (!c->startup_done)
		lp_metrics_login_failed(&c->inst->metrics, c->auth == LP_AUTH_DONE, sqlstate, msg);
	/* Logged before the client can read its error: whoever looks at the
	 * log after the refusal finds the line (PgBouncer's order). */
	close_log(c, msg);
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_error(&w, "FATAL", sqlstate, msg);
	if (!w.overflow && !client_mid_message(c))
		(void)lp_io_send(&c->io, buf, w.len);
	client_close(c, msg, true);
}

void lp_client_notice(struct lp_client *c, const char *msg)
{
	uint8_t buf[1200];
	struct lp_writer w;
	if (c->state == LP_CL_JUSTFREE || client_mid_message(c))
		return;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_notice(&w, "NOTICE", "00000", msg);
	if (!w.overflow)
		(void)lp_io_send(&c->io, buf, w.len);
}

/* Sends a non-fatal ErrorResponse + ReadyForQuery; the session goes on. */
void lp_client_error(struct lp_client *c, const char *sqlstate, const char *msg)
{
	uint8_t buf[700];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_error(&w, "ERROR", sqlstate, msg);
	lp_build_rfq(&w, c->last_rfq ? c->last_rfq : 'I');
	if (!w.overflow)
		(void)lp_io_send(&c->io, buf, w.len);
}

/*
 * The pool's welcome as ParameterStatus messages, built once per welcome
 * (its stamp changes with every change): a login copies them instead of
 * building a dozen messages. off[i] is where message i starts, off[n] the
 * end. NULL when out of memory (the caller builds them one by one).
 */
struct lp_welcome_msgs {
	uint64_t stamp;
	int n;
	uint32_t off[LP_MAX_TRACKED + 1];
	uint8_t bytes[];
};

static const struct lp_welcome_msgs *welcome_msgs(struct lp_pool *pool)
{
	const struct lp_params *wel = &pool->welcome;
	struct lp_welcome_msgs *m = pool->welcome_msgs;
	if (m && m->stamp == wel->stamp)
		return m;
	free(m);
	pool->welcome_msgs = NULL;
	size_t cap = 0;
	for (int i = 0; i < wel->n; i++)
		cap += 1 + 4 + strlen(wel->name[i]) + 1 + strlen(wel->value[i]) + 1;
	m = malloc(sizeof(*m) + cap);
	if (!m)
		return NULL;
	struct lp_writer w;
	lp_wr_init(&w, m->bytes, cap);
	for (int i = 0; i < wel->n; i++) {
		m->off[i] = (uint32_t)w.len;
		lp_build_param_status(&w, wel->name[i], wel->value[i]);
	}
	m->off[wel->n] = (uint32_t)w.len;
	if (w.overflow) {
		free(m);
		return NULL;
	}
	m->n = wel->n;
	m->stamp = wel->stamp;
	pool->welcome_msgs = m;
	return m;
}

/*
 * ParameterStatus for every welcome parameter, with the client's own value
 * where it set one, in the welcome's order; then the client's parameters
 * the welcome lacks. Not copied into the client when it has no value of its
 * own: the parameter check in link.c falls back to the welcome.
 */
static void build_welcome_params(struct lp_writer *w, struct lp_client *c)
{
	struct lp_pool *pool = c->pool;
	const struct lp_params *wel = &pool->welcome;
	/* Bit k of own: the client sets welcome name k, as own_of[k]. */
	uint64_t own = 0, matched = 0;
	int own_of[LP_MAX_TRACKED];
	for (int j = 0; j < c->params.n; j++) {
		int k = lp_params_index_of(wel, &c->params, j);
		if (k >= 0) {
			own |= 1ull << k;
			own_of[k] = j;
			matched |= 1ull << j;
		}
	}
	const struct lp_welcome_msgs *m = welcome_msgs(pool);
	if (m) {
		/* The cached messages, the client's values spliced in. */
		uint32_t from = 0;
		for (; own; own &= own - 1) {
			int k = __builtin_ctzll(own);
			lp_wr_bytes(w, m->bytes + from, m->off[k] - from);
			lp_build_param_status(w, wel->name[k], c->params.value[own_of[k]]);
			from = m->off[k + 1];
		}
		lp_wr_bytes(w, m->bytes + from, m->off[m->n] - from);
	} else {
		for (int k = 0; k < wel->n; k++)
			lp_build_param_status(w, wel->name[k], (own >> k) & 1 ? c->params.value[own_of[k]]
									      : wel->value[k]);
	}
	for (int j = 0; j < c->params.n; j++)
		if (!((matched >> j) & 1))
			lp_build_param_status(w, c->params.name[j], c->params.value[j]);
}

/* The welcome's tail, after its parameters: 0, or -1 when c failed. */
static int welcome_send(struct lp_client *c, struct lp_writer *w)
{
	lp_build_backend_key(w, c->cancel_pid, c->cancel_key);
	/* login_notify_message (≤ 1000 bytes, options.c) */
	if (c->inst->cfg.s.login_notify_message[0])
		lp_build_notice(w, "NOTICE", "00000", c->inst->cfg.s.login_notify_message);
	lp_build_rfq(w, 'I');
	if (w->overflow) {
		lp_client_fail(c, "08P01", "startup parameters too large");
		return -1;
	}
	(void)lp_io_send(&c->io, w->buf, w->len);
	c->startup_done = true;
	c->wait_start_us = 0;
	lp_cancel_register(c);
	lp_client_set_state(c, LP_CL_ACTIVE);
	return 0;
}

void lp_client_welcome(struct lp_client *c)
{
	struct lp_pool *pool = c->pool;
	uint8_t buf[4096];
	struct lp_writer w;

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_auth(&w, 0, NULL, 0);
	build_welcome_params(&w, c);
	if (welcome_send(c, &w) < 0)
		return;
	if (lp_pool_mode_of(pool) == LP_POOL_SESSION && !c->admin)
		lp_link_request(c);
	else
		lp_client_kick(c);
}

void lp_client_welcome_repl(struct lp_client *c)
{
	const struct lp_server *s = c->server;
	const struct lp_params *sp = &s->params;
	uint8_t buf[4096];
	struct lp_writer w;

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_auth(&w, 0, NULL, 0);
	/* Its server's own values: the client's parameters went there in the
	 * startup packet. */
	for (int i = 0; i < sp->n; i++)
		lp_build_param_status(&w, sp->name[i], sp->value[i]);
	if (c->wait_start_us) {
		int64_t waited = lp_now_us() - c->wait_start_us;
		lp_metrics_wait(&c->pool->db->metrics, waited);
		c->pool->stats.wait_time_us += (uint64_t)waited;
	}
	c->pool->stats.server_assignments++;
	if (welcome_send(c, &w) < 0)
		return;
	lp_client_kick(c);
}

/* ---- startup ---- */

static bool ignorable(const struct lp_instance *inst, const char *name)
{
	return lp_config_list_has(inst->cfg.s.ignore_startup_parameters, name);
}

/*
 * max_db_client_connections / max_user_client_connections, as PgBouncer
 * 1.24 has them: the name of the limit this client would break, or NULL.
 * The user is the one the client logs in as, whatever the pool's is. A NULL
 * db is the admin console, whose sessions count as a database's clients.
 */
const char *lp_client_limit_exceeded(const struct lp_client *c, const struct lp_db *db)
{
	const struct lp_settings *s = &c->inst->cfg.s;
	int max_db = db && db->conf.max_db_client_connections >= 0
			     ? db->conf.max_db_client_connections
			     : s->max_db_client_connections;
	int count = db ? db->client_count : c->inst->admin_clients.count;
	if (max_db > 0 && count >= max_db)
		return "max_db_client_connections";
	const struct lp_user *u = lp_registry_find_user(c->inst, c->user_name);
	int max_user = u && u->conf.max_user_client_connections >= 0
			       ? u->conf.max_user_client_connections
			       : s->max_user_client_connections;
	if (max_user > 0 && u && u->client_count >= max_user)
		return "max_user_client_connections";
	return NULL;
}

/* Authentication finished: find the pool and welcome the client. */
void lp_client_login_ok(struct lp_client *c, struct lp_db *db, struct lp_user *pool_user)
{
	struct lp_instance *inst = c->inst;
	if (c->admin) {
		c->inst->console->welcome(c);
		return;
	}
	struct lp_pool *pool = lp_registry_get_pool(inst, db, pool_user);
	if (!pool) {
		lp_client_fail(c, "53200", "out of memory");
		return;
	}
	const char *limit = lp_client_limit_exceeded(c, db);
	if (limit) {
		lp_client_fail(c, "08P01", "client connections exceeded (%s)", limit);
		return;
	}
	c->login_user = lp_registry_get_user(inst, c->user_name);
	if (!c->login_user) {
		lp_client_fail(c, "53200", "out of memory");
		return;
	}
	c->pool = pool;
	db->client_count++;
	c->login_user->client_count++;
	pool->stats.client_logins++;
	if (inst->cfg.s.log_connections)
		lp_client_log(c, LP_LOG_LOG, "login attempt: db=%s user=%s tls=%s", c->db_name,
			      c->user_name, lp_io_is_tls(&c->io) ? lp_io_tls_version(&c->io) : "no");
	if (c->replication) {
		/* A server of its own (replication.c), welcomed with what
		 * that server reports. */
		lp_repl_start(c);
		return;
	}
	if (pool->welcome_ready) {
		lp_client_welcome(c);
		return;
	}
	c->wait_start_us = lp_now_us();
	if (pool->last_login_fail_us &&
	    lp_now_us() - pool->last_login_fail_us < inst->cfg.s.server_login_retry &&
	    pool->login_servers.count == 0 && !lp_hosts_may_fail_over(db)) {
		lp_client_fail(c, pool->login_error_code[0] ? pool->login_error_code : "08006", "%s",
			       pool->login_error);
		return;
	}
	/* No server may open now (max_db_connections, max_user_connections):
	 * the client waits as any other, within query_wait_timeout. */
	lp_client_set_state(c, LP_CL_WAIT_LOGIN);
	lp_link_grow(pool);
}

/* application_name_add_host, as PgBouncer writes it: "<application_name or
 * app> - <host>:<port>", "[v6]:port", or "unix(<pid>):<listen_port>". */
static void add_host_to_appname(struct lp_client *c)
{
	const char *app = lp_params_get(&c->params, "application_name");
	char addr[LP_ADDR_TEXT], where[LP_ADDR_TEXT + 32], val[512];
	if (c->addr_family == AF_UNIX) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int pid = getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
		snprintf(where, sizeof(where), "unix(%d):%d", pid, c->inst->cfg.s.listen_port);
	} else {
		const char *fmt = c->addr_family == AF_INET6 ? "[%s]:%d" : "%s:%d";
		snprintf(where, sizeof(where), fmt, lp_client_addr(c, addr), c->port);
	}
	snprintf(val, sizeof(val), "%.400s - %s", app && app[0] ? app : "app", where);
	lp_params_set(&c->params, "application_name", val);
}

/*
 * The "options" startup parameter as PgBouncer takes it: each "-c name=value"
 * (or "--name=value") that names a tracked parameter becomes the client's
 * value, one in ignore_startup_parameters (or all, when "options" is listed
 * there) is dropped, anything else refuses the login. 0, or -1 when c failed.
 */
static int apply_options(struct lp_client *c, const char *options)
{
	struct lp_instance *inst = c->inst;
	char *item = malloc(strlen(options) + 1);
	const char *pos = options, *name, *value, *err;
	int rc;
	if (!item) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	while ((rc = lp_startup_option_next(&pos, item, &name, &value, &err)) == LP_PROTO_OK) {
		if (lp_param_is_tracked(inst, name)) {
			lp_params_set(&c->params, name, value);
		} else if (ignorable(inst, name) || ignorable(inst, "options")) {
			lp_client_log(c, LP_LOG_DEBUG, "ignoring startup parameter from options: %s",
				      name);
		} else {
			lp_client_fail(c, "08P01", "unsupported startup parameter in options: %s", name);
			break;
		}
	}
	if (rc == LP_PROTO_ERROR)
		lp_client_fail(c, "08P01", "%s", err);
	free(item);
	return rc == LP_PROTO_INCOMPLETE ? 0 : -1;
}

/*
 * A replication client's server is its own, opened with the client's startup
 * parameters (a walsender takes no SET afterwards): all of them but user,
 * database, replication, protocol extensions (_pq_.) and those
 * ignore_startup_parameters names, kept as "name\0value\0" pairs. PostgreSQL
 * judges them. 0, or -1 when c failed.
 */
static int keep_repl_params(struct lp_client *c, const struct lp_startup *su)
{
	size_t len = 0;
	int n = 0;
	for (int pass = 0; pass < 2; pass++) {
		char *out = c->repl_params;
		for (int i = 0; i < su->nparams; i++) {
			const char *name = su->params[i].name, *v = su->params[i].value;
			if (strcmp(name, "user") == 0 || strcmp(name, "database") == 0 ||
			    strcmp(name, "replication") == 0 || strncmp(name, "_pq_.", 5) == 0 ||
			    ignorable(c->inst, name))
				continue;
			size_t nl = strlen(name) + 1, vl = strlen(v) + 1;
			if (pass == 0) {
				len += nl + vl;
				n++;
				continue;
			}
			memcpy(out, name, nl);
			memcpy(out + nl, v, vl);
			out += nl + vl;
		}
		if (pass == 0) {
			c->repl_params = malloc(len + 1);
			if (!c->repl_params) {
				lp_client_fail(c, "53200", "out of memory");
				return -1;
			}
			c->repl_nparams = (uint16_t)n;
		}
	}
	return 0;
}

static int handle_startup(struct lp_client *c, struct lp_startup *su)
{
	struct lp_instance *inst = c->inst;
	const char *unknown[LP_STARTUP_MAX_PARAMS];
	int nunknown = 0;

	if ((su->version >> 16) != 3) {
		lp_client_fail(c, "08P01", "unsupported frontend protocol %u.%u", su->version >> 16,
			       su->version & 0xffff);
		return -1;
	}
	if (!su->user || !su->user[0]) {
		lp_client_fail(c, "08P01", "no PostgreSQL user name specified in startup packet");
		return -1;
	}
	/* One allocation for both names: an idle client's memory counts. */
	const char *db = su->database && su->database[0] ? su->database : su->user;
	size_t ulen = strlen(su->user) + 1, dlen = strlen(db) + 1;
	c->user_name = malloc(ulen + dlen);
	if (c->user_name) {
		memcpy(c->user_name, su->user, ulen);
		c->db_name = c->user_name + ulen;
		memcpy(c->db_name, db, dlen);
	}
	if (!c->user_name) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	/* Still over: somebody may have left since the accept. */
	if (c->over_limit && inst->client_count > inst->cfg.s.max_client_conn) {
		lp_metrics_max_client_conn(&inst->metrics);
		lp_client_fail(c, "53300", "no more connections allowed (max_client_conn)");
		return -1;
	}
	const char *repl = lp_startup_get(su, "replication");
	if (repl) {
		enum lp_repl kind;
		if (lp_startup_replication(repl, &kind) < 0) {
			lp_client_fail(c, "22023", "invalid value for parameter \"replication\": \"%s\"",
				       repl);
			return -1;
		}
		c->replication = (uint8_t)kind;
		if (kind != LP_REPL_NONE && keep_repl_params(c, su) < 0)
			return -1;
	}
	for (int i = 0; i < su->nparams; i++) {
		const char *n = su->params[i].name, *v = su->params[i].value;
		if (strcmp(n, "user") == 0 || strcmp(n, "database") == 0 ||
		    strcmp(n, "replication") == 0)
			continue;
		if (strncmp(n, "_pq_.", 5) == 0) {
			unknown[nunknown++] = n;
			continue;
		}
		if (lp_param_is_tracked(inst, n)) {
			lp_params_set(&c->params, n, v);
			continue;
		}
		if (c->inst->console->startup_param(c->db_name, n))
			continue;
		if (strcmp(n, "options") == 0) {
			/* A replication server gets the client's options as
			 * sent (repl_params): SET cannot follow on a walsender. */
			if (!c->replication && apply_options(c, v) < 0)
				return -1;
			continue;
		}
		if (ignorable(inst, n) || c->replication)
			continue;
		lp_client_fail(c, "08P01", "unsupported startup parameter: %s", n);
		return -1;
	}
	if (inst->cfg.s.application_name_add_host)
		add_host_to_appname(c);
	if ((su->version & 0xffff) != 0 || nunknown > 0) {
		uint8_t buf[1024];
		struct lp_writer w;
		lp_wr_init(&w, buf, sizeof(buf));
		lp_build_negotiate_version(&w, 0, unknown, nunknown);
		if (!w.overflow)
			(void)lp_io_send(&c->io, buf, w.len);
	}
	if (!lp_cancel_key_new(inst, &c->cancel_pid, &c->cancel_key)) {
		lp_client_fail(c, "53200", "no randomness for the cancel key");
		return -1;
	}
	return lp_client_auth_start(c);
}

static void handle_cancel(struct lp_client *c, const struct lp_startup *su)
{
	/* The asker hears back (EOF) when the cancel was taken, through a
	 * copy of its socket: the client object goes now. */
	int fd = dup(c->io.fd);
	const char *why;
	enum lp_cancel_result r = lp_cancel_request(c->inst, su->cancel_pid, su->cancel_key, fd,
						    &why);
	if (r != LP_CANCEL_FORWARDED && fd >= 0)
		close(fd);
	lp_metrics_cancel_request(&c->inst->metrics, r);
	lp_client_close(c, why);
}

/* A login packet of len bytes, longer than the buffer: assembled apart
 * (login_buf.h). Returns 1 (more bytes needed), or -1 when c was refused. */
static int start_login_buf(struct lp_client *c, uint32_t len)
{
	c->login_buf = lp_login_buf_new(&c->inst->login_buf_bytes, len);
	if (!c->login_buf) {
		lp_client_fail(c, "53300", "too many long login packets in progress");
		return -1;
	}
	return 1;
}

/*
 * The first packet(s) of a connection: startup, SSLRequest, cancel. They
 * have no type byte, so they come before the message loop. Returns 1 when
 * more bytes are needed, 0 when the typed messages begin, -1 when c closed.
 */
static int startup_process(struct lp_client *c)
{
	struct lp_io *io = &c->io;
	while (!c->user_name) {
		/* A packet longer than the buffer is assembled apart
		 * (client_process pulls it in); parsed from there once whole. */
		struct lp_login_buf *big = c->login_buf;
		uint32_t avail = big ? big->len : lp_io_unparsed(io);
		if (avail == 0)
			return 1;
		struct lp_startup su;
		size_t plen = 0;
		const char *err = NULL;
		int rc = lp_startup_parse(big ? big->data : lp_io_parse_ptr(io), avail, &su, &plen,
					  &err);
		if (rc == LP_PROTO_INCOMPLETE) {
			/* plen is at most LP_STARTUP_MAX_LEN here. */
			if (!big && plen > lp_io_buf_size())
				return start_login_buf(c, (uint32_t)plen);
			return 1;
		}
		if (big && (rc != LP_PROTO_OK || su.kind != LP_STARTUP_NORMAL)) {
			rc = LP_PROTO_ERROR;
			err = "invalid startup packet";
		}
		if (rc != LP_PROTO_OK) {
			lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
			lp_client_fail(c, "08P01", "%s", err ? err : "invalid startup packet");
			return -1;
		}
		switch (su.kind) {
		case LP_STARTUP_SSL:
		case LP_STARTUP_GSSENC:
			lp_io_consume(io, (uint32_t)plen);
			/* Bytes sent before our answer would be read as
			 * if encrypted later: refuse them (CVE-2021-23222). */
			if (lp_io_unparsed(io) > 0) {
				lp_client_close(c, "data after SSLRequest before the answer");
				return -1;
			}
			/* TLS on: the handshake owns the socket from here. */
			if (su.kind == LP_STARTUP_SSL && lp_client_tls_start(c) != 0)
				return -1;
			(void)lp_io_send(io, "N", 1);
			continue;
		case LP_STARTUP_CANCEL:
			handle_cancel(c, &su);
			return -1;
		case LP_STARTUP_NORMAL: {
			c->login_buf = NULL;    /* su points into it: a close must not free it */
			int r = handle_startup(c, &su);
			lp_login_buf_free(big);
			if (c->state == LP_CL_JUSTFREE)
				return -1;
			if (!big)
				lp_io_consume(io, (uint32_t)plen);
			if (r < 0)
				return -1;
			continue;
		}
		}
	}
	return 0;
}

/* Authentication messages are small: nothing longer is read in login... */
#define LOGIN_MSG_MAX (LP_SCRAM_MSG_MAX * 4)
/* ...but a cleartext password, as long as the longest auth_file secret. */
#define PASSWORD_MSG_MAX (4u + 65535u + 1u)

/* An authentication message (PasswordMessage and its SASL forms). */
static enum lp_frame_act login_msg(struct lp_client *c, const struct lp_msg_hdr *h,
				   const uint8_t *msg, uint32_t avail)
{
	if (h->type != 'p') {
		lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
		lp_client_fail(c, "08P01", "expected a password message, got '%c'",
			       h->type >= 32 && h->type < 127 ? h->type : '?');
		return LP_FRAME_CLOSED;
	}
	uint32_t max = c->auth == LP_AUTH_WAIT_PASSWORD || c->auth == LP_AUTH_WAIT_EXT_PASSWORD
			       ? PASSWORD_MSG_MAX
			       : LOGIN_MSG_MAX;
	if (h->len > max) {
		lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
		lp_client_fail(c, "08P01", "authentication message too long (%u bytes, at most %u)",
			       h->len + 1u, max + 1u);
		return LP_FRAME_CLOSED;
	}
	if (h->len + 1u > lp_io_buf_size()) {
		/* Longer than the buffer: read apart (client_process). */
		lp_frame_take(&c->io);
		return start_login_buf(c, h->len + 1u) < 0 ? LP_FRAME_CLOSED : LP_FRAME_STOP;
	}
	if (avail <= h->len)
		return LP_FRAME_MORE;
	int r = lp_client_auth_msg(c, msg + LP_PROTO_HDR_LEN, h->len - 4);
	if (r < 0 || c->state == LP_CL_JUSTFREE)
		return LP_FRAME_CLOSED;
	return LP_FRAME_CONSUMED;
}

/* ---- forwarding ---- */

/*
 * A linked server takes the client's next message only while it is ACTIVE
 * and not about to be released: after a ReadyForQuery that ends the
 * transaction the server goes back to the pool as soon as its bytes reach
 * the client, and a message sent to it meanwhile would be answered to
 * nobody. Nor while its request ring is full and cannot grow: answers
 * drain it. The client's input waits; lp_client_kick() resumes it.
 */
static bool server_takes_input(const struct lp_server *s)
{
	return s->state == LP_SV_ACTIVE && !s->release_pending && !s->client_waits_room;
}

/*
 * A message for the linked server: recorded in its conversation tracker,
 * counted, forwarded. Describe and Close need their first body byte (what
 * they target); everything else only the header.
 */
static enum lp_frame_act to_server(struct lp_client *c, struct lp_server *s,
				   const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail)
{
	uint8_t sub = 0;
	switch (h->type) {
	case 'P': case 'B': case 'D': case 'C': case 'Q':
		/* Named statements follow the client from server to server. */
		if (lp_prep_on(c)) {
			bool handled;
			enum lp_frame_act act = lp_prep_frontend(c, s, h, msg, avail, &handled);
			if (handled)
				return act;
		}
		break;
	}
	if ((h->type == 'D' || h->type == 'C') && h->len > 4) {
		if (avail <= LP_PROTO_HDR_LEN)
			return LP_FRAME_MORE;
		sub = msg[LP_PROTO_HDR_LEN];
	}
	enum lp_trk_fe r = lp_track_frontend(&s->trk, h->type, sub, LP_TRK_FORWARD, 0);
	if (r == LP_TRK_FE_FULL) {
		if (!lp_server_track_grow(s)) {
			/* As deep a pipeline as allowed: wait for answers. */
			s->client_waits_room = true;
			return LP_FRAME_STOP;
		}
		r = lp_track_frontend(&s->trk, h->type, sub, LP_TRK_FORWARD, 0);
		lp_assert(r != LP_TRK_FE_FULL);
	}
	int64_t now = lp_now_us();
	if (h->type == 'Q' || h->type == 'S' || h->type == 'F') {
		/* The first answer owed starts the clock of a query, and of the
		 * transaction if none is open. */
		if (r == LP_TRK_FE_SENT && s->trk.rfq_owed == 1)
			s->request_us = now;
		if (!s->xact_start_us)
			s->xact_start_us = s->request_us ? s->request_us : now;
	}
	c->last_active_us = now;
	c->pool->stats.bytes_in += h->len + 1u;
	return LP_FRAME_FORWARD;
}

/* Per message of a logged-in client, and of one still authenticating. */
static enum lp_frame_act client_msg(void *owner, const struct lp_msg_hdr *h, const uint8_t *msg,
				    uint32_t avail)
{
	struct lp_client *c = owner;
	const struct lp_settings *st = &c->inst->cfg.s;
	switch (c->state) {
	case LP_CL_LOGIN:
		return login_msg(c, h, msg, avail);
	case LP_CL_ACTIVE:
		break;
	default:
		return LP_FRAME_STOP;   /* no server yet: the message waits */
	}
	/* Only the types a client sends, within PostgreSQL's per-type limits:
	 * a length word it would refuse must not reach (and end) a shared
	 * server connection. */
	const char *err;
	if (lp_msg_check_frontend(h, (uint32_t)st->max_packet_size, &err) != LP_PROTO_OK &&
	    !((h->type == 'D' || h->type == 'C') && h->len <= (uint32_t)st->max_packet_size &&
	      lp_prep_on(c))) {
		/* (A Describe or Close naming a statement longer than PostgreSQL
		 * takes is renamed before it reaches a server: prepared.c holds
		 * what it passes through to the limit.) */
		lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
		lp_client_fail(c, "08P01", "%s: type 0x%02x, length %u", err, h->type, h->len);
		return LP_FRAME_CLOSED;
	}
	if (h->type == 'X') {
		if (c->io.start != c->io.pos && c->server)
			lp_io_flush_to(&c->io, &c->server->io);
		lp_client_close(c, "client close request");
		return LP_FRAME_CLOSED;
	}
	if (c->admin)
		return c->inst->console->message(c, h, msg, avail);
	if (h->type == 'Q' && st->disable_pqexec) {
		/* PgBouncer's answer: the simple protocol allows several
		 * statements per message, which disable_pqexec exists to forbid. */
		lp_client_fail(c, "08P01", "PQexec disallowed");
		return LP_FRAME_CLOSED;
	}
	if (!c->server) {
		if (c->io.start != c->io.pos)
			return LP_FRAME_STOP;   /* flush first */
		c->request_us = lp_now_us();
		lp_link_request(c);
		if (c->state == LP_CL_JUSTFREE)
			return LP_FRAME_CLOSED;
		return LP_FRAME_STOP;           /* lp_client_server_ready() resumes */
	}
	if (!server_takes_input(c->server))
		return LP_FRAME_STOP;
	return to_server(c, c->server, h, msg, avail);
}

static void client_frame_error(void *owner, const char *err)
{
	struct lp_client *c = owner;
	lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
	lp_client_fail(c, "08P01", "%s", err);
}

/* Returns 1 when more bytes are needed, 0 when stopped, -1 when c closed. */
static int client_process(struct lp_client *c)
{
	/* login_msg holds authentication messages to their own limits */
	uint32_t max_len = (uint32_t)c->inst->cfg.s.max_packet_size;
	if (max_len < PASSWORD_MSG_MAX)
		max_len = PASSWORD_MSG_MAX;
	for (;;) {
		struct lp_login_buf *big = c->login_buf;
		if (big) {
			if (!lp_login_buf_fill(big, &c->io))
				return 1;
			if (c->user_name) {
				/* A whole authentication message ('p', length, body). */
				c->login_buf = NULL;
				int r = lp_client_auth_msg(c, big->data + LP_PROTO_HDR_LEN,
							   big->len - LP_PROTO_HDR_LEN);
				lp_login_buf_free(big);
				if (r < 0 || c->state == LP_CL_JUSTFREE)
					return -1;
			}
		}
		if (c->state == LP_CL_LOGIN && !c->user_name) {
			int r = startup_process(c);
			if (r == 1 && c->login_buf)
				continue;       /* pull what is buffered into it */
			if (r != 0)
				return r;
		}
		int r = lp_frame_walk(&c->io, max_len, client_msg, client_frame_error, c);
		if (r == LP_FRAME_STOPPED && c->login_buf)
			continue;
		return r;
	}
}

void lp_client_kick(struct lp_client *c)
{
	if (c->state != LP_CL_JUSTFREE && c->io.fd >= 0)
		lp_io_kick(&c->io);
}

void lp_client_server_ready(struct lp_client *c)
{
	lp_client_kick(c);
}

static void client_on_read(struct lp_io *io, short what)
{
	struct lp_client *c = io->owner;
	(void)what;

	if (c->state == LP_CL_JUSTFREE)
		return;
	if (io->dead) {
		/* A write to the client failed: it is gone, and whatever it
		 * sent before going would only be answered to nobody. */
		lp_client_close(c, "client socket error");
		return;
	}
	if (c->server && lp_io_waits_on(&c->server->io, io))
		return;
	if (c->inst->suspended && lp_control_client_at_rest(c)) {
		/* SUSPEND: parked at a message boundary until RESUME (or
		 * handed to the process taking over); the rest goes on. */
		lp_io_park(io);
		return;
	}
	if (c->inst->shutdown != LP_RUN && lp_control_drain_client(c))
		return;
	if (c->state == LP_CL_WAITING || c->state == LP_CL_WAIT_LOGIN ||
	    c->state == LP_CL_WAIT_REPL || (c->server && !server_takes_input(c->server))) {
		/* Hold the client's bytes until a server is ready for them. */
		lp_io_read_off(io);
		return;
	}
	if (c->state == LP_CL_LOGIN && !c->user_name && lp_client_tls_direct(c) != 0)
		return;
	lp_io_read_on(io);
	for (int rounds = 0; rounds < 32; rounds++) {
		int rc = client_process(c);
		if (rc < 0)
			return;
		if (io->start != io->pos && c->server) {
			if (!lp_io_flush_to(io, &c->server->io))
				return;
			if (c->server && c->server->io.dead) {
				lp_client_fail(c, "08006", "server connection lost");
				return;
			}
		}
		if (rc == 0) {
			/* The console stops only to wait (an answer unsent, a
			 * command running) and is kicked when that is over. */
			if (c->admin)
				return;
			/* An idle client of a transaction pool has no server but
			 * must still be read: its next query asks for one. */
			bool idle_unlinked = c->state == LP_CL_ACTIVE && !c->server &&
					     io->start == io->pos;
			if (!idle_unlinked && (c->state != LP_CL_ACTIVE || !c->server ||
					       !server_takes_input(c->server))) {
				lp_io_read_off(io);
				return;
			}
			continue;
		}
		int n = lp_io_fill(io);
		if (n > 0)
			continue;
		if (n == -1) {
			lp_io_trim(io);
			return;
		}
		if (n == 0)
			lp_client_close(c, "client disconnected");
		else if (n == -3) {
			lp_metrics_protocol_error(&c->inst->metrics, LP_PE_CLIENT);
			lp_client_fail(c, "08P01", "message framing broken");
		}
		else
			lp_client_close(c, "client socket error");
		return;
	}
	lp_io_kick(io);
}
