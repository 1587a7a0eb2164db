/*
 * SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS and FDS: one row per
 * connection. ptr/link identify connections as "C-<id>"/"S-<id>", the names
 * the log uses, instead of memory addresses. SHOW FDS keeps PgBouncer's
 * columns but fills cancel keys, passwords and SCRAM keys only for an online
 * restart: the process's own OS user over the unix socket, once SUSPEND is
 * over, gets them with the descriptors themselves and linkpool's state of
 * each socket (pool/takeover.h); nobody else sees a secret.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/internal.h"
#include "net/fdpass.h"
#include "pool/client.h"
#include "pool/params.h"
#include "pool/prepared.h"
#include "pool/server.h"
#include "pool/takeover.h"
#include "proto/handoff.h"
#include "proto/proto.h"

#define SOCKET_STD_COLS                                                              \
	{ "type", LP_COL_TEXT }, { "user", LP_COL_TEXT }, { "database", LP_COL_TEXT },   \
	{ "replication", LP_COL_TEXT }, { "state", LP_COL_TEXT },                        \
	{ "addr", LP_COL_TEXT }, { "port", LP_COL_INT4 },                                \
	{ "local_addr", LP_COL_TEXT }, { "local_port", LP_COL_INT4 },                    \
	{ "connect_time", LP_COL_TIME }, { "request_time", LP_COL_TIME },                \
	{ "wait", LP_COL_INT4 }, { "wait_us", LP_COL_INT4 },                             \
	{ "close_needed", LP_COL_INT4 }, { "ptr", LP_COL_TEXT }, { "link", LP_COL_TEXT }, \
	{ "remote_pid", LP_COL_INT4 }, { "tls", LP_COL_TEXT },                           \
	{ "application_name", LP_COL_TEXT }, { "prepared_statements", LP_COL_INT4 },     \
	{ "id", LP_COL_INT4 }

static const struct lp_col socket_cols[] = { SOCKET_STD_COLS };

static const struct lp_col socket_debug_cols[] = {
	SOCKET_STD_COLS,
	{ "recv_pos", LP_COL_INT4 },
	{ "pkt_pos", LP_COL_INT4 },
	{ "pkt_remain", LP_COL_INT4 },
	{ "send_pos", LP_COL_INT4 },
	{ "send_remain", LP_COL_INT4 },
	{ "pkt_avail", LP_COL_INT4 },
	{ "send_avail", LP_COL_INT4 },
};

static void local_addr(int fd, char *addr, size_t cap, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	addr[0] = '\0';
	*port = 0;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)cap);
		*port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)cap);
		*port = ntohs(in6->sin6_port);
	} else {
		snprintf(addr, cap, "unix");
	}
}

static void debug_cols(struct lp_result *r, const struct lp_io *io)
{
	lp_row_int(r, io->end);
	lp_row_int(r, io->pos);
	lp_row_int(r, io->pkt_remain);
	lp_row_int(r, io->start);
	lp_row_int(r, 0);
	lp_row_int(r, io->end - io->pos);
	lp_row_int(r, lp_io_queued(io));
}

static void client_row(struct lp_result *r, const struct lp_client *c, const char *state,
		       bool debug, int64_t now)
{
	char ptr[32], link[32], laddr[64];
	int lport;
	const char *app = lp_params_get(&c->params, "application_name");
	int64_t wait = (c->state == LP_CL_WAITING || c->state == LP_CL_WAIT_LOGIN ||
			c->state == LP_CL_WAIT_REPL) &&
				       c->wait_start_us
			       ? now - c->wait_start_us
			       : 0;

	snprintf(ptr, sizeof(ptr), "C-%llu", (unsigned long long)c->id);
	if (c->server)
		snprintf(link, sizeof(link), "S-%llu", (unsigned long long)c->server->id);
	else
		link[0] = '\0';
	local_addr(c->io.fd, laddr, sizeof(laddr), &lport);
	if (!state)
		state = c->state == LP_CL_ACTIVE ? (c->server ? "active" : "idle") : "waiting";
	lp_row_begin(r);
	lp_row_text(r, "C");
	lp_row_text(r, c->user_name ? c->user_name : "(nouser)");
	lp_row_text(r, c->admin ? LP_ADMIN_DB : c->pool ? c->pool->db->name : "(nodb)");
	lp_row_text(r, lp_repl_name((enum lp_repl)c->replication));
	lp_row_text(r, state);
	char addr[LP_ADDR_TEXT];
	lp_row_text(r, lp_client_addr(c, addr));
	lp_row_int(r, c->port);
	lp_row_text(r, laddr);
	lp_row_int(r, lport);
	lp_row_time(r, c->connect_us);
	lp_row_time(r, c->last_active_us ? c->last_active_us : c->connect_us);
	lp_row_int(r, wait / 1000000);
	lp_row_int(r, wait % 1000000);
	lp_row_int(r, 0);
	lp_row_text(r, ptr);
	lp_row_text(r, link);
	lp_row_int(r, 0);
	lp_row_text(r, "");
	lp_row_text(r, app ? app : "");
	lp_row_int(r, lp_prep_client_count(c));
	lp_row_int(r, (int64_t)c->id);
	if (debug)
		debug_cols(r, &c->io);
	lp_row_end(r);
}

static const char *server_state(const struct lp_server *s)
{
	switch (s->state) {
	case LP_SV_ACTIVE:
		return "active";
	case LP_SV_IDLE:
		return "idle";
	case LP_SV_USED:
		return "used";
	case LP_SV_INTERNAL:
		return "tested";
	default:
		return "new";
	}
}

static void server_row(struct lp_result *r, const struct lp_server *s, const char *state, bool debug)
{
	const struct lp_pool *p = s->pool;
	const struct lp_db_conf *dc = &p->db->conf;
	char ptr[32], link[32], laddr[64];
	int lport;
	const char *app = s->client ? lp_params_get(&s->client->params, "application_name") : NULL;

	snprintf(ptr, sizeof(ptr), "S-%llu", (unsigned long long)s->id);
	if (s->client)
		snprintf(link, sizeof(link), "C-%llu", (unsigned long long)s->client->id);
	else
		link[0] = '\0';
	local_addr(s->io.fd, laddr, sizeof(laddr), &lport);
	lp_row_begin(r);
	lp_row_text(r, "S");
	lp_row_text(r, p->user->name);
	lp_row_text(r, p->db->name);
	lp_row_text(r, lp_repl_name((enum lp_repl)s->replication));
	lp_row_text(r, state ? state : server_state(s));
	lp_row_text(r, lp_server_host_text(s));
	lp_row_int(r, dc->port > 0 ? dc->port : 5432);
	lp_row_text(r, laddr);
	lp_row_int(r, lport);
	lp_row_time(r, s->connect_us);
	lp_row_time(r, s->last_used_us ? s->last_used_us : s->connect_us);
	lp_row_int(r, 0);
	lp_row_int(r, 0);
	lp_row_int(r, s->close_needed);
	lp_row_text(r, ptr);
	lp_row_text(r, link);
	lp_row_int(r, (int64_t)s->be_pid);
	lp_row_text(r, "");
	lp_row_text(r, app ? app : "");
	lp_row_int(r, lp_prep_server_count(s));
	lp_row_int(r, (int64_t)s->id);
	if (debug)
		debug_cols(r, &s->io);
	lp_row_end(r);
}

static void client_list(struct lp_result *r, const struct lp_list *l, const char *state, bool debug,
			bool active_only, int64_t now)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(l, n, t) {
		const struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (active_only && !c->io.buf && lp_io_drained(&c->io))
			continue;
		client_row(r, c, state, debug, now);
	}
}

static void server_list(struct lp_result *r, const struct lp_list *l, const char *state, bool debug,
			bool active_only)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(l, n, t) {
		const struct lp_server *s = lp_container_of(n, struct lp_server, node);
		if (active_only && !s->io.buf && lp_io_drained(&s->io))
			continue;
		server_row(r, s, state, debug);
	}
}

static void show_clients(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	int64_t now = lp_now_us();
	(void)arg;

	lp_result_begin(&r, socket_cols, LP_NCOLS(socket_cols));
	client_list(&r, &inst->admin_clients, NULL, false, false, now);
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		client_list(&r, &p->active_clients, NULL, false, false, now);
		client_list(&r, &p->waiting_clients, "waiting", false, false, now);
	}
	lp_result_send(&r, c, "SHOW");
}

static void show_servers(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	(void)arg;

	lp_result_begin(&r, socket_cols, LP_NCOLS(socket_cols));
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		server_list(&r, &p->active_servers, NULL, false, false);
		server_list(&r, &p->idle_servers, NULL, false, false);
		server_list(&r, &p->used_servers, NULL, false, false);
		server_list(&r, &p->login_servers, NULL, false, false);
	}
	lp_result_send(&r, c, "SHOW");
}

static void sockets(struct lp_client *c, bool active_only)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	int64_t now = lp_now_us();

	lp_result_begin(&r, socket_debug_cols, LP_NCOLS(socket_debug_cols));
	/* The console's sessions are sockets too (PgBouncer's admin pool). */
	client_list(&r, &inst->admin_clients, "cl_active", true, active_only, now);
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		client_list(&r, &p->active_clients, "cl_active", true, active_only, now);
		client_list(&r, &p->waiting_clients, "cl_waiting", true, active_only, now);
		server_list(&r, &p->active_servers, "sv_active", true, active_only);
		server_list(&r, &p->idle_servers, "sv_idle", true, active_only);
		server_list(&r, &p->used_servers, "sv_used", true, active_only);
		server_list(&r, &p->login_servers, "sv_login", true, active_only);
	}
	client_list(&r, &inst->login_clients, "cl_login", true, active_only, now);
	lp_result_send(&r, c, "SHOW");
}

static void show_sockets(struct lp_client *c, const char *arg)
{
	(void)arg;
	sockets(c, false);
}

static void show_active_sockets(struct lp_client *c, const char *arg)
{
	(void)arg;
	sockets(c, true);
}

/* ---- SHOW FDS ---- */

/* PgBouncer 1.25's columns. */
#define FDS_COLS                                                                          \
	{ "fd", LP_COL_INT4 }, { "task", LP_COL_TEXT }, { "user", LP_COL_TEXT },             \
	{ "database", LP_COL_TEXT }, { "addr", LP_COL_TEXT }, { "port", LP_COL_INT4 },       \
	{ "cancel", LP_COL_INT8 }, { "link", LP_COL_INT4 },                                  \
	{ "client_encoding", LP_COL_TEXT }, { "std_strings", LP_COL_TEXT },                  \
	{ "datestyle", LP_COL_TEXT }, { "timezone", LP_COL_TEXT },                           \
	{ "password", LP_COL_TEXT }, { "scram_client_key", LP_COL_BYTEA },                   \
	{ "scram_server_key", LP_COL_BYTEA }

static const struct lp_col fds_cols[] = { FDS_COLS };

static void fd_row(struct lp_result *r, int fd, const char *task, const char *user, const char *db,
		   const char *addr, int port, int link, const struct lp_params *params)
{
	lp_row_begin(r);
	lp_row_int(r, fd);
	lp_row_text(r, task);
	lp_row_text(r, user);
	lp_row_text(r, db);
	lp_row_text(r, addr);
	lp_row_int(r, port);
	lp_row_null(r);                 /* cancel key: a secret */
	lp_row_int(r, link);
	lp_row_text(r, params ? lp_params_get(params, "client_encoding") : NULL);
	lp_row_text(r, params ? lp_params_get(params, "standard_conforming_strings") : NULL);
	lp_row_text(r, params ? lp_params_get(params, "DateStyle") : NULL);
	lp_row_text(r, params ? lp_params_get(params, "TimeZone") : NULL);
	lp_row_null(r);                 /* password: never shown */
	lp_row_null(r);                 /* SCRAM keys: never shown */
	lp_row_null(r);
	lp_row_end(r);
}

static void fd_client(struct lp_result *r, const struct lp_client *c)
{
	char addr[LP_ADDR_TEXT];
	fd_row(r, c->io.fd, "client", c->user_name, c->admin ? LP_ADMIN_DB : c->db_name,
	       lp_client_addr(c, addr), c->port, c->server ? c->server->io.fd : 0, &c->params);
}

static void fd_server(struct lp_result *r, const struct lp_server *s)
{
	const struct lp_db_conf *dc = &s->pool->db->conf;
	fd_row(r, s->io.fd, "server", s->pool->user->name, s->pool->db->name,
	       lp_server_host_text(s), dc->port > 0 ? dc->port : 5432,
	       s->client ? s->client->io.fd : 0, &s->params);
}

/* ---- SHOW FDS for an online restart (pool/takeover.h) ---- */

/* PgBouncer's, then the takeover record (proto/handoff.h). */
static const struct lp_col takeover_cols[] = { FDS_COLS, { "linkpool_state", LP_COL_BYTEA } };

/* The result, and where each row starts with the descriptor it carries. */
struct takeover_out {
	struct lp_result r;
	size_t *off;
	int *fd;
	int n, cap;
};

static void row_hex(struct lp_result *r, const uint8_t *p, size_t n)
{
	char *hex = p ? malloc(2 * n + 3) : NULL;
	if (p && !hex) {
		r->failed = true;
		return;
	}
	if (hex)
		lp_hex_encode(p, n, hex);
	lp_row_text(r, hex);
	free(hex);
}

static bool takeover_row(void *arg, const struct lp_takeover_row *row)
{
	struct takeover_out *o = arg;
	if (o->n == o->cap) {
		int cap = o->cap ? o->cap * 2 : 64;
		size_t *off = realloc(o->off, (size_t)cap * sizeof(*off));
		if (off)
			o->off = off;
		int *fd = off ? realloc(o->fd, (size_t)cap * sizeof(*fd)) : NULL;
		if (!fd)
			return false;
		o->fd = fd;
		o->cap = cap;
	}
	o->off[o->n] = o->r.len;
	o->fd[o->n++] = row->fd;
	struct lp_result *r = &o->r;
	lp_row_begin(r);
	lp_row_int(r, row->fd);
	lp_row_text(r, row->task);
	lp_row_text(r, row->user);
	lp_row_text(r, row->db);
	lp_row_text(r, row->addr);
	lp_row_int(r, row->port);
	lp_row_int(r, (int64_t)row->cancel);
	lp_row_int(r, row->link);
	lp_row_text(r, row->client_encoding);
	lp_row_text(r, row->std_strings);
	lp_row_text(r, row->datestyle);
	lp_row_text(r, row->timezone);
	lp_row_text(r, row->password);
	row_hex(r, row->client_key, LP_SCRAM_KEY_LEN);
	lp_row_null(r);
	row_hex(r, row->state, row->state_len);
	lp_row_end(r);
	return !r->failed;
}

/*
 * The sockets themselves go with their rows (SCM_RIGHTS), written straight
 * to the console socket with a deadline -- everything else is suspended, and
 * the new process reads as fast as it can. Afterwards they belong to the new
 * process (lp_takeover_handed_off); a failure half-way gives them back at
 * the next janitor turn and ends this session.
 */
static void show_fds_takeover(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	struct takeover_out o;
	memset(&o, 0, sizeof(o));
	lp_result_begin(&o.r, takeover_cols, LP_NCOLS(takeover_cols));
	bool ok = lp_takeover_rows(inst, takeover_row, &o);
	size_t rows_end = o.r.len;
	ok = lp_result_finish(&o.r, "SHOW") && ok;
	if (!ok || !lp_io_drained(&c->io)) {
		lp_admin_err(c, "53200", "SHOW FDS could not be built");
		goto out;
	}
	int timeout_ms = (int)(inst->cfg.s.suspend_timeout / 1000) + 10000;
	int rc = 0;
	size_t from = 0;
	for (int i = 0; i <= o.n && rc == 0; i++) {
		size_t to = i < o.n ? o.off[i] : rows_end;
		int fd = i > 0 ? o.fd[i - 1] : -1;
		if (to > from || fd >= 0)
			rc = lp_fdpass_send(c->io.fd, o.r.buf + from, to - from, fd, timeout_ms);
		from = to;
	}
	if (rc == 0)
		rc = lp_fdpass_send(c->io.fd, o.r.buf + rows_end, o.r.len - rows_end, -1, timeout_ms);
	if (rc < 0) {
		lp_client_log(c, LP_LOG_ERROR, "online restart: SHOW FDS could not be sent: %s",
			      strerror(errno));
		lp_takeover_handed_off(inst, NULL);
		lp_client_close(c, "online restart: SHOW FDS could not be sent");
		goto out;
	}
	lp_client_log(c, LP_LOG_LOG, "online restart: %d sockets handed over by SHOW FDS", o.n);
	lp_takeover_handed_off(inst, c);
out:
	lp_result_cleanup(&o.r);
	free(o.off);
	free(o.fd);
}

static void show_fds(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t, *m, *mt;
	(void)arg;

	/* An online restart's SHOW FDS: the process's own OS user, over the
	 * unix socket, once SUSPEND is over. Anyone else gets the listing
	 * without secrets or descriptors. */
	if (lp_takeover_allowed(c)) {
		show_fds_takeover(c);
		return;
	}

	lp_result_begin(&r, fds_cols, LP_NCOLS(fds_cols));
	for (int i = 0; i < inst->nlisteners && inst->listening; i++) {
		const struct lp_listener *l = &inst->listeners[i];
		if (l->fd < 0)
			continue;
		char addr[64];
		int port;
		local_addr(l->fd, addr, sizeof(addr), &port);
		fd_row(&r, l->fd, "pooler", NULL, NULL, l->is_unix ? "unix" : addr,
		       l->is_unix ? inst->cfg.s.listen_port : port, 0, NULL);
	}
	lp_list_foreach_safe(&inst->login_clients, m, mt)
		fd_client(&r, lp_container_of(m, struct lp_client, node));
	lp_list_foreach_safe(&inst->admin_clients, m, mt)
		fd_client(&r, lp_container_of(m, struct lp_client, node));
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_list *cl[] = { &p->active_clients, &p->waiting_clients };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(cl[i], m, mt)
				fd_client(&r, lp_container_of(m, struct lp_client, node));
		struct lp_list *sl[] = { &p->active_servers, &p->idle_servers, &p->used_servers,
					 &p->login_servers };
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(sl[i], m, mt)
				fd_server(&r, lp_container_of(m, struct lp_server, node));
	}
	lp_result_send(&r, c, "SHOW");
}

const struct lp_admin_show lp_admin_shows_sockets[] = {
	{ "clients", show_clients, false },
	{ "servers", show_servers, false },
	{ "sockets", show_sockets, false },
	{ "active_sockets", show_active_sockets, false },
	{ "fds", show_fds, true },
	{ NULL, NULL, false },
};
