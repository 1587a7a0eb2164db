/*
 * max_replica_lag: measuring a standby's replay lag (see lag.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/lag.h"
#include "pool/link.h"
#include "pool/server.h"

/* max_replica_lag: how far behind the primary a standby's replay is, in
 * microseconds (0 when it has replayed all it received). */
static const char lag_sql[] =
	"SELECT CASE WHEN NOT pg_catalog.pg_is_in_recovery() OR "
	"pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM "
	"pg_catalog.pg_last_wal_replay_lsn() THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM "
	"now() - pg_catalog.pg_last_xact_replay_timestamp()) * 1000000, 0) END::bigint";

/* The lag query's one DataRow: one text column. */
static void lag_row(struct lp_server *s, const uint8_t *body, uint32_t len)
{
	char text[24];
	if (len < 6 || body[0] != 0 || body[1] != 1)
		return;
	uint32_t vlen = (uint32_t)body[2] << 24 | (uint32_t)body[3] << 16 |
			(uint32_t)body[4] << 8 | body[5];
	if (vlen == 0 || vlen >= sizeof(text) || vlen > len - 6)
		return;
	memcpy(text, body + 6, vlen);
	text[vlen] = '\0';
	char *end;
	long long v = strtoll(text, &end, 10);
	if (*end == '\0' && v >= 0)
		s->lag_us = v;
}

static void start_lag_query(struct lp_server *s, void (*done)(struct lp_server *s, bool ok))
{
	s->lag_us = -1;
	lp_server_internal_param(s, lag_sql, NULL, done, lag_row);
}

/* Records the answer; false when the query failed or found s too far
 * behind (the caller closes it). */
static bool lag_recorded(struct lp_server *s, bool ok)
{
	struct lp_pool *pool = s->pool;
	if (!ok || s->lag_us < 0)
		return false;
	return lp_hosts_lag_measured(pool->db, s->host_idx, s->lag_us, lp_now_us(),
				     pool->inst->cfg.s.server_login_retry);
}

static void lag_login_done(struct lp_server *s, bool ok)
{
	if (!ok || s->lag_us < 0) {
		lp_server_login_fail(s, "08006", "replica lag query failed");
		return;
	}
	(void)lag_recorded(s, ok);
	(void)lp_server_login_checks(s);  /* a lagging standby is in the wrong role there */
}

/* Closes the other idle servers of s's host in s's database; the busy ones
 * close when released. */
static void close_host_servers(struct lp_server *s, const char *why)
{
	struct lp_db *db = s->pool->db;
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&s->pool->inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->db != db)
			continue;
		struct lp_list *busy[] = { &p->used_servers, &p->active_servers };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(busy[i], m, mt) {
				struct lp_server *o = lp_container_of(m, struct lp_server, node);
				if (o->host_idx == s->host_idx)
					o->close_needed = true;
			}
		lp_list_foreach_safe(&p->idle_servers, m, mt) {
			struct lp_server *o = lp_container_of(m, struct lp_server, node);
			if (o != s && o->host_idx == s->host_idx)
				lp_server_close(o, why);
		}
	}
}

static void lag_idle_done(struct lp_server *s, bool ok)
{
	if (!lag_recorded(s, ok)) {
		const char *why = ok && s->lag_us >= 0 ? "replica lag over max_replica_lag"
						      : "replica lag query failed";
		if (ok)
			close_host_servers(s, why);
		lp_server_close(s, why);
		return;
	}
	/* Back to idle as it was: the check is not a use. */
	int64_t used = s->last_used_us;
	bool reused = s->reused;
	lp_link_server_idle(s);
	if (s->state == LP_SV_IDLE) {
		s->last_used_us = used;
		s->reused = reused;
	}
}

bool lp_lag_login(struct lp_server *s)
{
	if (!lp_hosts_lag_wanted(s->pool->db, s->host_idx, &s->params))
		return false;
	s->ready = true;
	start_lag_query(s, lag_login_done);
	return true;
}

void lp_lag_check_idle(struct lp_server *s)
{
	start_lag_query(s, lag_idle_done);
}
