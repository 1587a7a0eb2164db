/*
 * SHOW HOSTS (linkpool only): each entry of each database's host list, the
 * role its servers last reported, whether new connections use it now, its
 * replay lag when max_replica_lag has it measured, the server connections
 * open to it and the last thing that went wrong there.
 */
#include <stdio.h>

#include "admin/internal.h"
#include "pool/hosts.h"

static const struct lp_col host_cols[] = {
	{ "database", LP_COL_TEXT },
	{ "host", LP_COL_TEXT },
	{ "port", LP_COL_INT4 },
	{ "target_session_attrs", LP_COL_TEXT },
	{ "role", LP_COL_TEXT },
	{ "state", LP_COL_TEXT },
	{ "lag", LP_COL_INT8 },
	{ "servers", LP_COL_INT4 },
	{ "last_error", LP_COL_TEXT },
};

static int servers_on(struct lp_instance *inst, const struct lp_db *db, int idx)
{
	int count = 0;
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->db != db)
			continue;
		const struct lp_list *lists[] = { &p->idle_servers, &p->used_servers,
						  &p->active_servers, &p->login_servers };
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(lists[i], m, mt)
				count += lp_container_of(m, struct lp_server, node)->host_idx == idx;
	}
	return count;
}

static const char *role_name(const struct lp_host_state *h)
{
	if (!h || !h->seen || h->role == LP_HOST_ROLE_UNKNOWN)
		return "unknown";
	if (h->role == LP_HOST_ROLE_STANDBY)
		return "standby";
	return h->read_only ? "read-only primary" : "primary";
}

static const char *state_name(const struct lp_host_state *h, int tsa, int64_t now_us)
{
	/* prefer-standby uses a primary when no standby can be had */
	if (h && h->wrong_role)
		return tsa == LP_TSA_PREFER_STANDBY ? "fallback" : "wrong role";
	if (h && h->skip_until_us > now_us)
		return "down";
	if (!h || (!h->seen && !h->last_error[0]))
		return "untried";
	return "up";
}

static void show_hosts(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t;
	(void)arg;
	lp_result_begin(&r, host_cols, LP_NCOLS(host_cols));
	int64_t now = lp_now_us();
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		const struct lp_db_conf *dc = &db->conf;
		int count = dc->host ? lp_config_host_count(dc->host) : 1;
		for (int i = 0; i < count; i++) {
			char host[LP_HOST_LEN] = "";
			if (dc->host)
				lp_config_host_at(dc->host, i, host);
			const struct lp_host_state *h = lp_hosts_state(db, i);
			lp_row_begin(&r);
			lp_row_text(&r, db->name);
			lp_row_text(&r, host[0] ? host : "unix");
			lp_row_int(&r, dc->port > 0 ? dc->port : 5432);
			lp_row_text(&r, lp_config_tsa_name(dc->target_session_attrs));
			lp_row_text(&r, role_name(h));
			lp_row_text(&r, state_name(h, dc->target_session_attrs, now));
			if (h && h->lag_checked_us)
				lp_row_int(&r, h->lag_us);      /* microseconds, as SHOW's times */
			else
				lp_row_null(&r);
			lp_row_int(&r, servers_on(inst, db, i));
			lp_row_text(&r, h && h->last_error[0] ? h->last_error : NULL);
			lp_row_end(&r);
		}
	}
	lp_result_send(&r, c, "SHOW");
}

const struct lp_admin_show lp_admin_shows_hosts[] = {
	{ "hosts", show_hosts, false },
	{ NULL, NULL, false },
};
