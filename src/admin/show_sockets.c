/*
 * SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS and FDS: one row per
 * connection. ptr/link identify connections as "C-<id>"/"S-<id>", the names
 * the log uses, instead of memory addresses. SHOW FDS keeps PgBouncer's
 * columns but never fills cancel keys, passwords or SCRAM keys: linkpool has
 * no online restart that would need them, so nothing secret leaves.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/internal.h"
#include "pool/client.h"
#include "pool/params.h"

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
	int64_t wait = (c->state == LP_CL_WAITING || c->state == LP_CL_WAIT_LOGIN) &&
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
	lp_row_text(r, "none");
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
	lp_row_int(r, 0);
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
	lp_row_text(r, "none");
	lp_row_text(r, state ? state : server_state(s));
	lp_row_text(r, dc->host && dc->host[0] != '/' ? dc->host : "unix");
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
	lp_row_int(r, 0);
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

static const struct lp_col fds_cols[] = {
	{ "fd", LP_COL_INT4 },
	{ "task", LP_COL_TEXT },
	{ "user", LP_COL_TEXT },
	{ "database", LP_COL_TEXT },
	{ "addr", LP_COL_TEXT },
	{ "port", LP_COL_INT4 },
	{ "cancel", LP_COL_INT8 },
	{ "link", LP_COL_INT4 },
	{ "client_encoding", LP_COL_TEXT },
	{ "std_strings", LP_COL_TEXT },
	{ "datestyle", LP_COL_TEXT },
	{ "timezone", LP_COL_TEXT },
	{ "password", LP_COL_TEXT },
	{ "scram_client_key", LP_COL_BYTEA },
	{ "scram_server_key", LP_COL_BYTEA },
};

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
	       dc->host && dc->host[0] != '/' ? dc->host : "unix", dc->port > 0 ? dc->port : 5432,
	       s->client ? s->client->io.fd : 0, &s->params);
}

static void show_fds(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t, *m, *mt;
	(void)arg;

	lp_result_begin(&r, fds_cols, LP_NCOLS(fds_cols));
	for (int i = 0; i < inst->nlisteners && inst->listening; i++) {
		const struct lp_listener *l = &inst->listeners[i];
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
