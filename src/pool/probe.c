/*
 * Role and replay-lag probes (see probe.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/probe.h"
#include "pool/link.h"
#include "pool/server.h"

/* max_replica_lag: how far behind the primary a standby's replay is, in
 * microseconds (0 when it has replayed all it received). */
static const char lag_sql[] =
	"SELECT CASE WHEN NOT pg_catalog.pg_is_in_recovery() OR "
	"pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM "
	"pg_catalog.pg_last_wal_replay_lsn() THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM "
	"now() - pg_catalog.pg_last_xact_replay_timestamp()) * 1000000, 0) END::bigint";

/* Column col of a DataRow body as text in out; false when absent, NULL or
 * longer than cap - 1. */
static bool row_text(const uint8_t *body, uint32_t len, int col, char *out, size_t cap)
{
	if (len < 2 || (int)((unsigned)body[0] << 8 | body[1]) <= col)
		return false;
	uint32_t pos = 2;
	for (int i = 0;; i++) {
		if (len - pos < 4)
			return false;
		uint32_t vlen = (uint32_t)body[pos] << 24 | (uint32_t)body[pos + 1] << 16 |
				(uint32_t)body[pos + 2] << 8 | body[pos + 3];
		pos += 4;
		if (vlen == UINT32_MAX)         /* NULL */
			vlen = 0;
		else if (vlen > len - pos)
			return false;
		if (i == col) {
			if (vlen == 0 || vlen >= cap)
				return false;
			memcpy(out, body + pos, vlen);
			out[vlen] = '\0';
			return true;
		}
		pos += vlen;
	}
}

/* The lag query's one DataRow: microseconds as text. */
static void lag_row(struct lp_server *s, const uint8_t *body, uint32_t len)
{
	char text[24], *end;
	if (!row_text(body, len, 0, text, sizeof(text)))
		return;
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
static void lag_idle_done(struct lp_server *s, bool ok)
{
	if (!lag_recorded(s, ok)) {
		const char *why = ok && s->lag_us >= 0 ? "replica lag over max_replica_lag"
						      : "replica lag query failed";
		/* A lagging host: every server on it goes, this one first. */
		struct lp_instance *inst = s->pool->inst;
		const struct lp_db *db = s->pool->db;
		int host = s->host_idx;
		lp_server_close(s, why);
		if (ok)
			lp_server_retire(inst, db, host, why);
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

static bool lag_login(struct lp_server *s)
{
	if (!lp_hosts_lag_wanted(s->pool->db, (enum lp_host_role)s->role))
		return false;
	s->ready = true;
	start_lag_query(s, lag_login_done);
	return true;
}

/* PostgreSQL before 14 does not report in_hot_standby: asked as libpq asks
 * it, once, at login. */
static const char role_sql[] =
	"SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('transaction_read_only')";

static void role_row(struct lp_server *s, const uint8_t *body, uint32_t len)
{
	char rec[8], ro[8];
	if (!row_text(body, len, 0, rec, sizeof(rec)) || !row_text(body, len, 1, ro, sizeof(ro)))
		return;
	s->role = strcmp(rec, "t") == 0 ? LP_HOST_ROLE_STANDBY : LP_HOST_ROLE_PRIMARY;
	s->read_only = strcmp(ro, "on") == 0;
}

static void role_login_done(struct lp_server *s, bool ok)
{
	if (!ok) {
		lp_server_login_fail(s, "08006", "server role query failed");
		return;
	}
	if (!lag_login(s))
		(void)lp_server_login_checks(s);
}

bool lp_probe_login(struct lp_server *s)
{
	if (s->pool->db->conf.target_session_attrs != LP_TSA_ANY &&
	    s->role == LP_HOST_ROLE_UNKNOWN) {
		s->ready = true;
		lp_server_internal_param(s, role_sql, NULL, role_login_done, role_row);
		return true;
	}
	return lag_login(s);
}

void lp_probe_lag_idle(struct lp_server *s)
{
	start_lag_query(s, lag_idle_done);
}
