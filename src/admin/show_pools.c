/*
 * SHOW POOLS, DATABASES, USERS, LISTS, STATE, MEM,
 * DNS_HOSTS, DNS_ZONES:
 * one column table per command, in PgBouncer 1.25's order and types.
 * The console itself appears as database/user "pgbouncer", as in PgBouncer.
 */
#include <stdio.h>
#include <string.h>

#include "admin/internal.h"
#include "pool/cancel.h"
#include "pool/link.h"
#include "pool/stats.h"

/* ---- SHOW POOLS ---- */

static const struct lp_col pools_cols[] = {
	{ "database", LP_COL_TEXT },          { "user", LP_COL_TEXT },
	{ "cl_active", LP_COL_INT4 },         { "cl_waiting", LP_COL_INT4 },
	{ "cl_active_cancel_req", LP_COL_INT4 }, { "cl_waiting_cancel_req", LP_COL_INT4 },
	{ "sv_active", LP_COL_INT4 },         { "sv_active_cancel", LP_COL_INT4 },
	{ "sv_being_canceled", LP_COL_INT4 }, { "sv_idle", LP_COL_INT4 },
	{ "sv_used", LP_COL_INT4 },           { "sv_tested", LP_COL_INT4 },
	{ "sv_login", LP_COL_INT4 },          { "maxwait", LP_COL_INT4 },
	{ "maxwait_us", LP_COL_INT4 },        { "pool_mode", LP_COL_TEXT },
	{ "load_balance_hosts", LP_COL_TEXT },
};

static void show_pools(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t, *m, *mt;
	int64_t now = lp_now_us();
	(void)arg;

	lp_result_begin(&r, pools_cols, LP_NCOLS(pools_cols));
	lp_row_begin(&r);
	lp_row_text(&r, LP_ADMIN_DB);
	lp_row_text(&r, LP_ADMIN_USER);
	lp_row_int(&r, inst->admin_clients.count);
	for (int i = 0; i < 12; i++)
		lp_row_int(&r, 0);
	lp_row_text(&r, "statement");
	lp_row_null(&r);
	lp_row_end(&r);
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		int used = 0, tested = 0;
		lp_list_foreach_safe(&p->used_servers, m, mt) {
			if (lp_container_of(m, struct lp_server, node)->state == LP_SV_INTERNAL)
				tested++;
			else
				used++;
		}
		int64_t wait = lp_pool_maxwait_us(p, now);
		lp_row_begin(&r);
		lp_row_text(&r, p->db->name);
		lp_row_text(&r, p->user->name);
		lp_row_int(&r, p->active_clients.count);
		lp_row_int(&r, p->waiting_clients.count);
		lp_row_int(&r, 0);
		lp_row_int(&r, 0);
		lp_row_int(&r, p->active_servers.count);
		lp_row_int(&r, 0);
		lp_row_int(&r, 0);
		lp_row_int(&r, p->idle_servers.count);
		lp_row_int(&r, used);
		lp_row_int(&r, tested);
		lp_row_int(&r, p->login_servers.count);
		lp_row_int(&r, wait / 1000000);
		lp_row_int(&r, wait % 1000000);
		lp_row_text(&r, lp_pool_mode_name(lp_pool_mode_of(p)));
		lp_row_null(&r);
		lp_row_end(&r);
	}
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW DATABASES ---- */

static const struct lp_col databases_cols[] = {
	{ "name", LP_COL_TEXT },
	{ "host", LP_COL_TEXT },
	{ "port", LP_COL_INT4 },
	{ "database", LP_COL_TEXT },
	{ "force_user", LP_COL_TEXT },
	{ "pool_size", LP_COL_INT4 },
	{ "min_pool_size", LP_COL_INT4 },
	{ "reserve_pool_size", LP_COL_INT4 },
	{ "server_lifetime", LP_COL_INT4 },
	{ "pool_mode", LP_COL_TEXT },
	{ "load_balance_hosts", LP_COL_TEXT },
	{ "max_connections", LP_COL_INT4 },
	{ "current_connections", LP_COL_INT4 },
	{ "max_client_connections", LP_COL_INT4 },
	{ "current_client_connections", LP_COL_INT4 },
	{ "paused", LP_COL_INT4 },
	{ "disabled", LP_COL_INT4 },
};

static int or_default(int v, int def)
{
	return v >= 0 ? v : def;
}

static void show_databases(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_result r;
	struct lp_list_node *n, *t;
	(void)arg;

	lp_result_begin(&r, databases_cols, LP_NCOLS(databases_cols));
	lp_row_begin(&r);
	lp_row_text(&r, LP_ADMIN_DB);
	lp_row_null(&r);
	lp_row_int(&r, s->listen_port);
	lp_row_text(&r, LP_ADMIN_DB);
	lp_row_text(&r, LP_ADMIN_USER);
	lp_row_int(&r, 2);
	lp_row_int(&r, 0);
	lp_row_int(&r, 0);
	lp_row_int(&r, s->server_lifetime / 1000000);
	lp_row_text(&r, "statement");
	lp_row_null(&r);
	lp_row_int(&r, 0);
	lp_row_int(&r, 0);
	lp_row_int(&r, s->max_db_client_connections);
	lp_row_int(&r, inst->admin_clients.count);
	lp_row_int(&r, 0);
	lp_row_int(&r, 0);
	lp_row_end(&r);
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		const struct lp_db_conf *dc = &db->conf;
		if (db->removed)
			continue;
		lp_row_begin(&r);
		lp_row_text(&r, db->name);
		lp_row_text(&r, dc->host);
		lp_row_int(&r, dc->port > 0 ? dc->port : 5432);
		lp_row_text(&r, dc->dbname ? dc->dbname : db->name);
		lp_row_text(&r, dc->user && dc->user[0] ? dc->user : NULL);
		lp_row_int(&r, or_default(dc->pool_size, s->default_pool_size));
		lp_row_int(&r, or_default(dc->min_pool_size, s->min_pool_size));
		lp_row_int(&r, or_default(dc->reserve_pool, s->reserve_pool_size));
		lp_row_int(&r, (dc->server_lifetime >= 0 ? dc->server_lifetime : s->server_lifetime) /
				       1000000);
		lp_row_text(&r, dc->pool_mode >= 0 ? lp_pool_mode_name((enum lp_pool_mode)dc->pool_mode)
						   : NULL);
		if (dc->load_balance_hosts >= 0)
			lp_row_text(&r, dc->load_balance_hosts == LP_LB_DISABLE ? "disable" : "round-robin");
		else
			lp_row_null(&r);
		lp_row_int(&r, or_default(dc->max_db_connections, s->max_db_connections));
		lp_row_int(&r, db->server_count);
		lp_row_int(&r, or_default(dc->max_db_client_connections, s->max_db_client_connections));
		lp_row_int(&r, db->client_count);
		lp_row_int(&r, db->paused);
		lp_row_int(&r, db->disabled);
		lp_row_end(&r);
	}
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW USERS ---- */

static const struct lp_col users_cols[] = {
	{ "name", LP_COL_TEXT },
	{ "pool_size", LP_COL_TEXT },
	{ "reserve_pool_size", LP_COL_TEXT },
	{ "pool_mode", LP_COL_TEXT },
	{ "max_user_connections", LP_COL_INT4 },
	{ "current_connections", LP_COL_INT4 },
	{ "max_user_client_connections", LP_COL_INT4 },
	{ "current_client_connections", LP_COL_INT4 },
};

static void show_users(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	(void)arg;

	lp_result_begin(&r, users_cols, LP_NCOLS(users_cols));
	lp_list_foreach_safe(&inst->users, n, t) {
		struct lp_user *u = lp_container_of(n, struct lp_user, node);
		char size[16], reserve[16];
		snprintf(size, sizeof(size), "%d", u->conf.pool_size);
		snprintf(reserve, sizeof(reserve), "%d", u->conf.reserve_pool_size);
		lp_row_begin(&r);
		lp_row_text(&r, u->name);
		/* Unset is an empty text, not NULL, as PgBouncer sends it. */
		lp_row_text(&r, u->conf.pool_size >= 0 ? size : "");
		lp_row_text(&r, u->conf.reserve_pool_size >= 0 ? reserve : "");
		lp_row_text(&r, u->conf.pool_mode >= 0
					? lp_pool_mode_name((enum lp_pool_mode)u->conf.pool_mode)
					: NULL);
		lp_row_int(&r, or_default(u->conf.max_user_connections,
					  inst->cfg.s.max_user_connections));
		lp_row_int(&r, u->server_count);
		lp_row_int(&r, or_default(u->conf.max_user_client_connections,
					  inst->cfg.s.max_user_client_connections));
		lp_row_int(&r, u->client_count);
		lp_row_end(&r);
	}
	lp_result_send(&r, c, "SHOW");
}

/* A SHOW with its columns and no rows. */
static void empty_table(struct lp_client *c, const struct lp_col *cols, int ncols)
{
	struct lp_result r;
	lp_result_begin(&r, cols, ncols);
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW LISTS ---- */

static const struct lp_col lists_cols[] = {
	{ "list", LP_COL_TEXT },
	{ "items", LP_COL_INT4 },
};

static void list_row(struct lp_result *r, const char *name, int64_t v)
{
	lp_row_begin(r);
	lp_row_text(r, name);
	lp_row_int(r, v);
	lp_row_end(r);
}

static void show_lists(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	int servers = 0, dbs = 0;
	(void)arg;

	lp_list_foreach_safe(&inst->pools, n, t)
		servers += lp_pool_server_total(lp_container_of(n, struct lp_pool, node));
	lp_list_foreach_safe(&inst->dbs, n, t)
		dbs += !lp_container_of(n, struct lp_db, node)->removed;
	lp_result_begin(&r, lists_cols, LP_NCOLS(lists_cols));
	/* linkpool allocates per object: nothing is kept free for reuse. */
	list_row(&r, "databases", dbs + 1);
	list_row(&r, "users", inst->users.count);
	/* Peers as SHOW PEERS lists them: [peers] entries and peers_dns
	 * addresses, each with its pool of cancel connections. */
	const struct sockaddr_storage *addrs;
	int peers = (int)inst->cfg.npeers + lp_cancel_dns_peers(inst, &addrs);
	list_row(&r, "peers", peers);
	list_row(&r, "pools", inst->pools.count + 1);
	list_row(&r, "peer_pools", peers);
	list_row(&r, "free_clients", 0);
	list_row(&r, "used_clients", inst->client_count);
	list_row(&r, "login_clients", inst->login_clients.count);
	list_row(&r, "free_servers", 0);
	list_row(&r, "used_servers", servers);
	int64_t names, queries, pending;
	lp_dns_counts(inst->dns, &names, &queries, &pending);
	list_row(&r, "dns_names", names);
	list_row(&r, "dns_zones", 0);
	list_row(&r, "dns_queries", queries);
	list_row(&r, "dns_pending", pending);
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW STATE ---- */

static const struct lp_col state_cols[] = {
	{ "key", LP_COL_TEXT },
	{ "value", LP_COL_TEXT },
};

static void state_row(struct lp_result *r, const char *k, bool v)
{
	lp_row_begin(r);
	lp_row_text(r, k);
	lp_row_text(r, v ? "yes" : "no");
	lp_row_end(r);
}

static void show_state(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	(void)arg;
	lp_result_begin(&r, state_cols, LP_NCOLS(state_cols));
	state_row(&r, "active", !inst->paused);
	state_row(&r, "paused", inst->paused && !inst->suspended);
	state_row(&r, "suspended", inst->suspended);
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW MEM ---- */

static const struct lp_col mem_cols[] = {
	{ "name", LP_COL_TEXT }, { "size", LP_COL_INT4 },     { "used", LP_COL_INT4 },
	{ "free", LP_COL_INT4 }, { "memtotal", LP_COL_INT4 },
};

static void mem_row(struct lp_result *r, const char *name, size_t size, int64_t used, int64_t free_n)
{
	lp_row_begin(r);
	lp_row_text(r, name);
	lp_row_int(r, (int64_t)size);
	lp_row_int(r, used);
	lp_row_int(r, free_n);
	lp_row_int(r, (int64_t)size * (used + free_n));
	lp_row_end(r);
}

static void show_mem(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	struct lp_io_cache_stats io;
	int servers = 0;
	(void)arg;

	lp_list_foreach_safe(&inst->pools, n, t)
		servers += lp_pool_server_total(lp_container_of(n, struct lp_pool, node));
	lp_io_cache_stats(&io);
	lp_result_begin(&r, mem_cols, LP_NCOLS(mem_cols));
	mem_row(&r, "user_cache", sizeof(struct lp_user), inst->users.count, 0);
	mem_row(&r, "db_cache", sizeof(struct lp_db), inst->dbs.count, 0);
	mem_row(&r, "pool_cache", sizeof(struct lp_pool), inst->pools.count, 0);
	mem_row(&r, "server_cache", sizeof(struct lp_server), servers, 0);
	mem_row(&r, "client_cache", sizeof(struct lp_client), inst->client_count, 0);
	mem_row(&r, "iobuf_cache", io.buf_size, (int64_t)io.in_use, (int64_t)io.free);
	lp_result_send(&r, c, "SHOW");
}

/* ---- SHOW DNS_HOSTS / DNS_ZONES: the evdns cache (net/dns.c). Zones are
 * not tracked (no SOA polling), so DNS_ZONES is empty. ---- */

static const struct lp_col dns_hosts_cols[] = {
	{ "hostname", LP_COL_TEXT },
	{ "ttl", LP_COL_INT8 },
	{ "addrs", LP_COL_TEXT },
};

static const struct lp_col dns_zones_cols[] = {
	{ "zonename", LP_COL_TEXT },
	{ "serial", LP_COL_INT8 },
	{ "count", LP_COL_INT4 },
};

static void dns_host_row(const char *host, int64_t ttl_left_s, const char *addrs, void *arg)
{
	struct lp_result *r = arg;
	lp_row_begin(r);
	lp_row_text(r, host);
	lp_row_int(r, ttl_left_s);
	lp_row_text(r, addrs);
	lp_row_end(r);
}

static void show_dns_hosts(struct lp_client *c, const char *arg)
{
	struct lp_result r;
	(void)arg;
	lp_result_begin(&r, dns_hosts_cols, LP_NCOLS(dns_hosts_cols));
	lp_dns_foreach(c->inst->dns, dns_host_row, &r);
	lp_result_send(&r, c, "SHOW");
}

static void show_dns_zones(struct lp_client *c, const char *arg)
{
	(void)arg;
	empty_table(c, dns_zones_cols, LP_NCOLS(dns_zones_cols));
}

const struct lp_admin_show lp_admin_shows_pools[] = {
	{ "pools", show_pools, false },
	{ "databases", show_databases, false },
	{ "users", show_users, false },
	{ "lists", show_lists, false },
	{ "state", show_state, false },
	{ "mem", show_mem, false },
	{ "dns_hosts", show_dns_hosts, false },
	{ "dns_zones", show_dns_zones, false },
	{ NULL, NULL, false },
};
