/*
 * /metrics, /healthz and /readyz content.
 *
 * A scrape reads counts that the pooler already keeps (list lengths, pool
 * stats, the counters of src/metrics) and never walks a client list or
 * allocates per client. The page is streamed: the HTTP server pulls it in
 * pieces of about SCRAPE_PIECE_BYTES as the socket takes them, so what a
 * scrape holds is one piece, plus per-database sums for at most
 * metrics_max_series databases, whatever the number of series. A family
 * (every family is a row of families[] below) shows at most
 * metrics_max_series series; the rest are counted in
 * linkpool_metrics_series_dropped_total.
 *
 * A page may take several loop turns, and databases and pools may come
 * and go in between, so a scrape never keeps a pointer to one across
 * turns. Each gets an id the first time a scrape begins while it exists
 * (ids grow along the lists, which only ever append); a scrape walks a list
 * showing the objects with ids after the last one it showed and not beyond
 * the last id given when it began. An object is therefore shown at most
 * once per family, and one created during the scrape not at all.
 *
 * Names, labels and units of the pgbouncer_* families follow
 * prometheus-community/pgbouncer_exporter 0.12 (and its older
 * pgbouncer_stats_* names) so existing dashboards work unchanged; linkpool's
 * own series are linkpool_*. See docs/metrics.md.
 */
#include "pool/exporter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cidr.h"
#include "core/log.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "pool/cancel.h"
#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/server.h"

/* What SHOW VERSION answers (src/admin/admin.c). */
#define EXPORTER_VERSION "linkpool " LP_VERSION

/* A piece ends after the first object that takes it past this size. */
#define SCRAPE_PIECE_BYTES 32768

struct lp_exporter {
	struct lp_http_server *http;
	char *addr;                     /* what http listens on */
	int port;
	char *allow;                    /* the metrics_allow http enforces */
	char probe[512];                /* the /healthz and /readyz body */
	struct lp_proc_scratch proc;    /* for counting descriptors */
};

/* ---- one scrape ---- */

/* A database's pool stats summed over its pools. */
struct db_sum {
	uint64_t id;
	bool failing;                   /* a pool's latest server login failed */
	struct lp_pool_stats st;
};

struct scrape {
	struct lp_instance *inst;
	struct lp_expo out;             /* the piece handed to the HTTP server */
	bool begun;
	size_t fam;                     /* index into families[] */
	bool in_fam;                    /* its HELP and TYPE lines are out */
	uint64_t last_id;               /* the last object shown in this family */
	uint64_t max_id;                /* objects past it appeared after the start */
	uint64_t series, cap;           /* series in this family; metrics_max_series */
	struct db_sum *sums;            /* by id, for the first cap databases */
	size_t nsums;
	struct lp_proc_stats ps;
	int64_t build_us;
};

enum domain {
	D_ONE,                          /* a fixed set of series */
	D_DB,                           /* per database */
	D_LIVE_DB,                      /* per database not removed by a reload */
	D_POOL,                         /* per pool */
};

#define F_PROC 1                        /* only when /proc could be read */

struct family {
	const char *name;
	enum lp_expo_type type;
	const char *help;
	enum domain domain;
	unsigned per_obj;               /* series one database or pool adds */
	int arg;                        /* which value render shows */
	int flags;
	/* Writes the series of obj (a database, a pool, or NULL for D_ONE). */
	void (*render)(struct scrape *s, const struct family *f, const void *obj);
};

static const char *mode_name(int m)
{
	return lp_pool_mode_name((enum lp_pool_mode)m);
}

static int db_pool_mode(const struct lp_instance *inst, const struct lp_db *db)
{
	return db->conf.pool_mode >= 0 ? db->conf.pool_mode : (int)inst->cfg.s.pool_mode;
}

static bool pool_failing(const struct lp_pool *p)
{
	/* last_login_fail_us is cleared by the next successful login. Only a
	 * backend that cannot be reached or is not accepting connections
	 * (classes 08 and 57P) counts: a wrong password or a role without
	 * CONNECT on one database is that client's problem, not an outage
	 * that should take the pooler out of rotation. */
	const char *code = p->login_error_code;
	bool outage = strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0;
	return p->last_login_fail_us != 0 && outage && !p->db->disabled && !p->db->removed;
}

static int sum_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct db_sum *)a)->id, y = ((const struct db_sum *)b)->id;
	return x < y ? -1 : x > y;
}

static struct db_sum *find_sum(const struct scrape *s, uint64_t id)
{
	struct db_sum key = { .id = id };
	return bsearch(&key, s->sums, s->nsums, sizeof(*s->sums), sum_cmp);
}

/* Gives ids to the objects seen for the first time, sums the pool stats
 * of the databases the page can show, reads the process gauges. */
static bool scrape_begin(struct scrape *s)
{
	struct lp_instance *inst = s->inst;
	uint64_t *last = &inst->metrics.last_object_id;
	struct lp_list_node *n, *t;
	size_t ndb = 0;

	s->cap = (uint64_t)inst->cfg.s.metrics_max_series;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		if (!db->metrics_id)
			db->metrics_id = ++*last;
		ndb++;
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (!p->metrics_id)
			p->metrics_id = ++*last;
	}
	s->max_id = *last;
	/* A family shows at most cap databases, the first ones. */
	s->nsums = ndb < s->cap ? ndb : (size_t)s->cap;
	s->sums = calloc(s->nsums ? s->nsums : 1, sizeof(*s->sums));
	if (!s->sums)
		return false;
	size_t k = 0;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		if (k == s->nsums)
			break;
		s->sums[k++].id = lp_container_of(n, struct lp_db, node)->metrics_id;
	}
	qsort(s->sums, s->nsums, sizeof(*s->sums), sum_cmp);
	lp_list_foreach_safe(&inst->pools, n, t) {
		const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct db_sum *d = find_sum(s, p->db->metrics_id);
		if (!d)
			continue;
		const struct lp_pool_stats *ps = &p->stats;
		d->st.xact_count += ps->xact_count;
		d->st.query_count += ps->query_count;
		d->st.bytes_in += ps->bytes_in;
		d->st.bytes_out += ps->bytes_out;
		d->st.xact_time_us += ps->xact_time_us;
		d->st.query_time_us += ps->query_time_us;
		d->st.wait_time_us += ps->wait_time_us;
		d->st.server_assignments += ps->server_assignments;
		d->st.client_parses += ps->client_parses;
		d->st.server_parses += ps->server_parses;
		d->st.binds += ps->binds;
		d->st.client_logins += ps->client_logins;
		d->failing = d->failing || pool_failing(p);
	}
	lp_proc_stats_read(&s->ps, &inst->exporter->proc);
	inst->metrics.scrapes++;
	s->begun = true;
	return true;
}

/* ---- what each family shows ---- */

enum sum_field { SF_QUERIES, SF_QUERY_TIME, SF_BYTES_IN, SF_BYTES_OUT, SF_WAIT_TIME, SF_XACTS,
		 SF_XACT_TIME, SF_CLIENT_PARSES, SF_SERVER_PARSES, SF_BINDS, SF_ASSIGNMENTS,
		 SF_LOGINS };
#define SF_SECONDS 0x100                /* with a field: microseconds shown in seconds */

static uint64_t sum_field(const struct lp_pool_stats *s, enum sum_field f)
{
	switch (f) {
	case SF_QUERIES: return s->query_count;
	case SF_QUERY_TIME: return s->query_time_us;
	case SF_BYTES_IN: return s->bytes_in;
	case SF_BYTES_OUT: return s->bytes_out;
	case SF_WAIT_TIME: return s->wait_time_us;
	case SF_XACTS: return s->xact_count;
	case SF_XACT_TIME: return s->xact_time_us;
	case SF_CLIENT_PARSES: return s->client_parses;
	case SF_SERVER_PARSES: return s->server_parses;
	case SF_BINDS: return s->binds;
	case SF_ASSIGNMENTS: return s->server_assignments;
	case SF_LOGINS: return s->client_logins;
	}
	return 0;
}

static void db_sum(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const struct db_sum *d = find_sum(s, db->metrics_id);
	const char *lb[] = { "database", db->name, NULL };
	uint64_t v = d ? sum_field(&d->st, (enum sum_field)(f->arg & 0xff)) : 0;
	if (f->arg & SF_SECONDS)
		lp_expo_us(&s->out, f->name, lb, v);
	else
		lp_expo_u64(&s->out, f->name, lb, v);
}

static void db_up(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const struct db_sum *d = find_sum(s, db->metrics_id);
	const char *lb[] = { "database", db->name, NULL };
	lp_expo_i64(&s->out, f->name, lb, !(d && d->failing));
}

enum db_conf_value { DC_POOL_SIZE, DC_RESERVE, DC_MAX_CONN, DC_CURRENT, DC_PAUSED, DC_DISABLED };

static void db_conf(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const struct lp_db_conf *c = &db->conf;
	const struct lp_settings *st = &s->inst->cfg.s;
	char port[16];
	snprintf(port, sizeof(port), "%d", c->port > 0 ? c->port : 5432);
	const char *lb[] = { "name", db->name, "host", c->host ? c->host : "",
			     "port", port, "database", c->dbname ? c->dbname : db->name,
			     "force_user", c->user ? c->user : "",
			     "pool_mode", mode_name(db_pool_mode(s->inst, db)), NULL };
	int64_t v = 0;
	switch ((enum db_conf_value)f->arg) {
	case DC_POOL_SIZE: v = c->pool_size >= 0 ? c->pool_size : st->default_pool_size; break;
	case DC_RESERVE: v = c->reserve_pool >= 0 ? c->reserve_pool : st->reserve_pool_size; break;
	case DC_MAX_CONN:
		v = c->max_db_connections >= 0 ? c->max_db_connections : st->max_db_connections;
		break;
	case DC_CURRENT: v = db->server_count; break;
	case DC_PAUSED: v = db->paused; break;
	case DC_DISABLED: v = db->disabled; break;
	}
	lp_expo_i64(&s->out, f->name, lb, v);
}

static void db_opened(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const char *lb[] = { "database", db->name, NULL };
	lp_expo_u64(&s->out, f->name, lb, db->metrics.server_opened);
}

static void db_closed(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	for (int r = 0; r < LP_SVC_N; r++) {
		const char *lb[] = { "database", db->name, "reason", lp_sv_close_reason_names[r], NULL };
		lp_expo_u64(&s->out, f->name, lb, db->metrics.server_closed[r]);
	}
}

static void db_histo(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const char *lb[] = { "database", db->name, NULL };
	lp_expo_histo(&s->out, f->name, lb,
		      (const struct lp_histo *)((const char *)&db->metrics + f->arg));
}

enum host_value { HV_UP, HV_ROLE, HV_LAG, HV_CONNECT_FAILURES };

/* One series per entry of the database's host list (hosts.c's state). */
static void db_hosts(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_db *db = obj;
	const struct lp_db_conf *c = &db->conf;
	int n = c->host ? lp_config_host_count(c->host) : 1;
	int64_t now = lp_now_us();
	for (int i = 0; i < n; i++) {
		char host[LP_HOST_LEN] = "unix";
		if (c->host)
			lp_config_host_at(c->host, i, host);
		const struct lp_host_state *h = lp_hosts_state(db, i);
		const char *lb[] = { "database", db->name, "host", host, NULL, NULL, NULL };
		switch ((enum host_value)f->arg) {
		case HV_UP:
			/* usable for new connections: not passed over, right role */
			lp_expo_i64(&s->out, f->name, lb,
				    !(h && ((h->skip_until_us > now) || h->wrong_role)));
			break;
		case HV_ROLE: {
			const char *role = !h || !h->seen || h->role == LP_HOST_ROLE_UNKNOWN ? "unknown" :
					   h->role == LP_HOST_ROLE_STANDBY ? "standby" : "primary";
			lb[4] = "role";
			lb[5] = role;
			lp_expo_i64(&s->out, f->name, lb, 1);
			break;
		}
		case HV_LAG:
			lp_expo_f64(&s->out, f->name, lb,
				    h && h->lag_checked_us ? (double)h->lag_us / 1e6 : NAN);
			break;
		case HV_CONNECT_FAILURES:
			lp_expo_u64(&s->out, f->name, lb, h ? h->connect_failures : 0);
			break;
		}
	}
}

enum pool_value { PV_CL_ACTIVE, PV_CL_WAITING, PV_ZERO, PV_SV_ACTIVE, PV_SV_IDLE, PV_SV_USED,
		  PV_SV_TESTED, PV_SV_LOGIN, PV_MAXWAIT };

static void pool_gauge(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_pool *p = obj;
	const char *lb[] = { "database", p->db->name, "user", p->user->name, NULL };
	int64_t v = 0;
	int tested = 0;
	if (f->arg == PV_SV_USED || f->arg == PV_SV_TESTED) {
		/* Bounded by the pool size: a short walk. */
		struct lp_list_node *m, *mt;
		lp_list_foreach_safe(&p->used_servers, m, mt)
			tested += lp_container_of(m, struct lp_server, node)->state == LP_SV_INTERNAL;
	}
	switch ((enum pool_value)f->arg) {
	case PV_CL_ACTIVE: v = p->active_clients.count; break;
	case PV_CL_WAITING: v = p->waiting_clients.count; break;
	case PV_ZERO: v = 0; break;
	case PV_SV_ACTIVE: v = p->active_servers.count; break;
	case PV_SV_IDLE: v = p->idle_servers.count; break;
	case PV_SV_USED: v = p->used_servers.count - tested; break;
	case PV_SV_TESTED: v = tested; break;
	case PV_SV_LOGIN: v = p->login_servers.count; break;
	case PV_MAXWAIT: {
		/* FIFO: the first waiter is the oldest. */
		int64_t now = lp_now_us();
		struct lp_list_node *w = lp_list_first(&p->waiting_clients);
		const struct lp_client *c = w ? lp_container_of(w, struct lp_client, node) : NULL;
		uint64_t us = c && c->wait_start_us && now > c->wait_start_us
				      ? (uint64_t)(now - c->wait_start_us) : 0;
		lp_expo_us(&s->out, f->name, lb, us);
		return;
	}
	}
	lp_expo_i64(&s->out, f->name, lb, v);
}

static void pool_clients(struct scrape *s, const struct family *f, const void *obj)
{
	const struct lp_pool *p = obj;
	const char *lb[] = { "database", p->db->name, "user", p->user->name,
			     "application_name", "", "state", "active", NULL };
	lp_expo_i64(&s->out, f->name, lb, p->active_clients.count);
	lb[7] = "waiting";
	lp_expo_i64(&s->out, f->name, lb, p->waiting_clients.count);
}

enum one_value { OV_UP, OV_VERSION, OV_MAX_CLIENT, OV_MAX_USER, OV_DBS, OV_USERS, OV_POOLS,
		 OV_ZERO, OV_USED_CLIENTS, OV_LOGIN_CLIENTS, OV_USED_SERVERS, OV_READY, OV_PAUSED,
		 OV_SHUTTING_DOWN, OV_LOGIN_FAILURES, OV_REFUSED, OV_CANCELS, OV_PEER_CANCELS,
		 OV_PEER_ACTIVE, OV_PEER_WAITING, OV_PROTOCOL_ERRORS,
		 OV_CPU, OV_RSS, OV_VSIZE, OV_FDS, OV_MAX_FDS, OV_START_TIME, OV_HTTP,
		 OV_SCRAPE_DURATION, OV_DROPPED };

static void http_outcomes(struct scrape *s, const struct family *f)
{
	const struct lp_exporter *ex = s->inst->exporter;
	if (!ex || !ex->http)
		return;
	const struct lp_http_stats *hs = lp_http_server_stats(ex->http);
	const struct {
		const char *outcome;
		uint64_t v;
	} o[] = {
		{ "served", hs->requests },        { "bad_request", hs->bad_requests },
		{ "refused", hs->refused },        { "timeout", hs->timeouts },
		{ "evicted", hs->evicted },        { "peer_limit", hs->peer_limit },
		{ "not_allowed", hs->not_allowed }, { "busy", hs->busy },
	};
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		const char *lb[] = { "outcome", o[i].outcome, NULL };
		lp_expo_u64(&s->out, f->name, lb, o[i].v);
	}
}

struct peer_visit {
	struct lp_expo *e;
	const struct family *f;
	enum one_value what;
};

static void peer_series(const struct lp_cancel_peer_info *pi, void *arg)
{
	const struct peer_visit *pv = arg;
	char id[16];
	if (pi->id > 0)
		snprintf(id, sizeof(id), "%d", pi->id);
	else
		snprintf(id, sizeof(id), "dns");
	if (pv->what == OV_PEER_CANCELS) {
		const struct {
			const char *result;
			uint64_t v;
		} o[] = { { "forwarded", pi->sent }, { "failed", pi->failed },
			  { "ttl_exhausted", pi->ttl_exhausted } };
		for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
			const char *lb[] = { "peer_id", id, "result", o[i].result, NULL };
			lp_expo_u64(pv->e, pv->f->name, lb, o[i].v);
		}
		return;
	}
	const char *lb[] = { "peer_id", id, NULL };
	lp_expo_i64(pv->e, pv->f->name, lb, pv->what == OV_PEER_ACTIVE ? pi->active : pi->waiting);
}

static void one(struct scrape *s, const struct family *f, const void *obj)
{
	struct lp_instance *inst = s->inst;
	const struct lp_metrics *m = &inst->metrics;
	struct lp_expo *e = &s->out;
	struct lp_list_node *n, *t;
	int64_t v = 0;
	(void)obj;
	switch ((enum one_value)f->arg) {
	case OV_UP: v = 1; break;
	case OV_VERSION: {
		const char *lb[] = { "version", EXPORTER_VERSION, NULL };
		lp_expo_i64(e, f->name, lb, 1);
		return;
	}
	case OV_MAX_CLIENT: v = inst->cfg.s.max_client_conn; break;
	case OV_MAX_USER: v = inst->cfg.s.max_user_connections; break;
	case OV_DBS:
		lp_list_foreach_safe(&inst->dbs, n, t)
			v += !lp_container_of(n, struct lp_db, node)->removed;
		break;
	case OV_USERS: v = inst->users.count; break;
	case OV_POOLS: v = inst->pools.count; break;
	case OV_ZERO: v = 0; break;
	case OV_USED_CLIENTS: v = inst->client_count; break;
	case OV_LOGIN_CLIENTS: v = inst->login_clients.count; break;
	case OV_USED_SERVERS:
		lp_list_foreach_safe(&inst->pools, n, t)
			v += lp_pool_server_total(lp_container_of(n, struct lp_pool, node));
		break;
	case OV_READY: {
		char why[256];
		v = lp_exporter_ready(inst, why, sizeof(why));
		break;
	}
	case OV_PAUSED: v = inst->paused; break;
	case OV_SHUTTING_DOWN: v = inst->shutdown != LP_RUN; break;
	case OV_LOGIN_FAILURES:
		for (int r = 0; r < LP_LF_N; r++) {
			const char *lb[] = { "reason", lp_login_fail_reason_names[r], NULL };
			lp_expo_u64(e, f->name, lb, m->login_failures[r]);
		}
		return;
	case OV_REFUSED: {
		const char *lb[] = { "reason", "max_client_conn", NULL };
		lp_expo_u64(e, f->name, lb, m->refused_max_client_conn);
		return;
	}
	case OV_CANCELS: {
		const char *lf[] = { "result", "forwarded", NULL };
		const char *lu[] = { "result", "unknown_key", NULL };
		const char *ln[] = { "result", "not_forwarded", NULL };
		lp_expo_u64(e, f->name, lf, m->cancel_forwarded);
		lp_expo_u64(e, f->name, lu, m->cancel_unknown);
		lp_expo_u64(e, f->name, ln, m->cancel_not_forwarded);
		return;
	}
	case OV_PEER_CANCELS:
	case OV_PEER_ACTIVE:
	case OV_PEER_WAITING: {
		struct peer_visit pv = { e, f, (enum one_value)f->arg };
		lp_cancel_peer_foreach(inst, peer_series, &pv);
		return;
	}
	case OV_PROTOCOL_ERRORS:
		for (int r = 0; r < LP_PE_N; r++) {
			const char *lb[] = { "source", lp_proto_err_source_names[r], NULL };
			lp_expo_u64(e, f->name, lb, m->protocol_errors[r]);
		}
		return;
	case OV_CPU:
		lp_expo_us(e, f->name, NULL, s->ps.cpu_user_us + s->ps.cpu_system_us);
		return;
	case OV_RSS: v = (int64_t)s->ps.rss_bytes; break;
	case OV_VSIZE: v = (int64_t)s->ps.vsize_bytes; break;
	case OV_FDS: v = s->ps.open_fds; break;
	case OV_MAX_FDS: v = s->ps.max_fds; break;
	case OV_START_TIME: lp_expo_f64(e, f->name, NULL, s->ps.start_time_s); return;
	case OV_HTTP: http_outcomes(s, f); return;
	case OV_SCRAPE_DURATION:
		lp_expo_us(e, f->name, NULL, (uint64_t)m->last_scrape_build_us);
		return;
	case OV_DROPPED: lp_expo_u64(e, f->name, NULL, m->series_dropped); return;
	}
	lp_expo_i64(e, f->name, NULL, v);
}

/* ---- the page, family by family ---- */

#define ONE(n, t, h, v) { n, LP_EXPO_##t, h, D_ONE, 0, v, 0, one }
#define PROC(n, t, h, v) { n, LP_EXPO_##t, h, D_ONE, 0, v, F_PROC, one }
#define LIVE_DB(n, h, v) { n, LP_EXPO_GAUGE, h, D_LIVE_DB, 1, v, 0, db_conf }
#define POOL(n, h, v) { n, LP_EXPO_GAUGE, h, D_POOL, 1, v, 0, pool_gauge }
#define STAT(suffix, v, h)                                                            \
	{ "pgbouncer_stats_totals_" suffix, LP_EXPO_COUNTER, h, D_DB, 1, v, 0, db_sum }
/* The same under the pre-0.11 name that the Grafana pgbouncer-mixin queries. */
#define OLD_STAT(suffix, v, h)                                                        \
	{ "pgbouncer_stats_" suffix, LP_EXPO_COUNTER,                                   \
	  h " Same as pgbouncer_stats_totals_" suffix " (pre-0.11 name).", D_DB, 1, v, 0, db_sum }
#define HISTO(n, h, field)                                                            \
	{ n, LP_EXPO_HISTOGRAM, h, D_DB, LP_HISTO_BUCKETS + 3,                          \
	  (int)offsetof(struct lp_db_metrics, field), 0, db_histo }

#define H_QUERIES "Queries pooled (query_count)."
#define H_QUERY_TIME "Seconds spent by servers on queries (query_time)."
#define H_BYTES_IN "Bytes received from clients."
#define H_BYTES_OUT "Bytes sent to clients."
#define H_WAIT "Seconds clients waited for a server (wait_time)."
#define H_XACTS "Transactions pooled (xact_count)."
#define H_XACT_TIME "Seconds servers spent in transactions (xact_time)."

static const struct family families[] = {
	ONE("pgbouncer_up", GAUGE, "1 when the pooler answers.", OV_UP),
	ONE("pgbouncer_version_info", GAUGE, "The pooler's SHOW VERSION.", OV_VERSION),
	ONE("pgbouncer_config_max_client_connections", GAUGE, "max_client_conn.", OV_MAX_CLIENT),
	ONE("pgbouncer_config_max_user_connections", GAUGE,
	    "max_user_connections (0: unlimited).", OV_MAX_USER),

	LIVE_DB("pgbouncer_databases_pool_size",
		"Maximum server connections per pool of the database.", DC_POOL_SIZE),
	LIVE_DB("pgbouncer_databases_reserve_pool",
		"Extra server connections allowed when clients wait.", DC_RESERVE),
	LIVE_DB("pgbouncer_databases_max_connections",
		"Maximum server connections for the database (0: unlimited).", DC_MAX_CONN),
	LIVE_DB("pgbouncer_databases_current_connections",
		"Server connections open for the database.", DC_CURRENT),
	LIVE_DB("pgbouncer_databases_paused", "1 when the database is paused.", DC_PAUSED),
	LIVE_DB("pgbouncer_databases_disabled", "1 when the database is disabled.", DC_DISABLED),

	POOL("pgbouncer_pools_client_active_connections",
	     "Clients linked to a server or idle (cl_active).", PV_CL_ACTIVE),
	POOL("pgbouncer_pools_client_waiting_connections",
	     "Clients waiting for a server (cl_waiting).", PV_CL_WAITING),
	POOL("pgbouncer_pools_client_active_cancel_connections",
	     "Clients forwarding a cancel request (cl_active_cancel_req).", PV_ZERO),
	POOL("pgbouncer_pools_client_waiting_cancel_connections",
	     "Cancel requests waiting for a server (cl_waiting_cancel_req).", PV_ZERO),
	POOL("pgbouncer_pools_server_active_connections",
	     "Servers linked to a client (sv_active).", PV_SV_ACTIVE),
	POOL("pgbouncer_pools_server_active_cancel_connections",
	     "Servers forwarding a cancel request (sv_active_cancel).", PV_ZERO),
	POOL("pgbouncer_pools_server_being_canceled_connections",
	     "Servers whose query is being canceled (sv_being_canceled).", PV_ZERO),
	POOL("pgbouncer_pools_server_idle_connections", "Servers idle and ready (sv_idle).",
	     PV_SV_IDLE),
	POOL("pgbouncer_pools_server_used_connections",
	     "Servers released, awaiting reset or check (sv_used).", PV_SV_USED),
	POOL("pgbouncer_pools_server_testing_connections",
	     "Servers running a reset or check query (sv_tested).", PV_SV_TESTED),
	POOL("pgbouncer_pools_server_login_connections", "Servers logging in (sv_login).",
	     PV_SV_LOGIN),
	POOL("pgbouncer_pools_client_maxwait_seconds",
	     "Seconds the oldest waiting client has waited (maxwait, with the microsecond "
	     "fraction).", PV_MAXWAIT),
	{ "pgbouncer_client_connections", LP_EXPO_GAUGE,
	  "Clients per pool and state (application_name is not broken out: always empty, to "
	  "keep cardinality low).", D_POOL, 2, 0, 0, pool_clients },

	ONE("pgbouncer_databases", GAUGE, "Databases (SHOW LISTS).", OV_DBS),
	ONE("pgbouncer_users", GAUGE, "Users (SHOW LISTS).", OV_USERS),
	ONE("pgbouncer_pools", GAUGE, "Pools (SHOW LISTS).", OV_POOLS),
	ONE("pgbouncer_free_clients", GAUGE,
	    "Cached free client slots (SHOW LISTS; linkpool keeps none).", OV_ZERO),
	ONE("pgbouncer_used_clients", GAUGE, "Client connections (SHOW LISTS).", OV_USED_CLIENTS),
	ONE("pgbouncer_login_clients", GAUGE, "Clients logging in (SHOW LISTS).", OV_LOGIN_CLIENTS),
	ONE("pgbouncer_free_servers", GAUGE,
	    "Cached free server slots (SHOW LISTS; linkpool keeps none).", OV_ZERO),
	ONE("pgbouncer_used_servers", GAUGE, "Server connections (SHOW LISTS).", OV_USED_SERVERS),
	ONE("pgbouncer_cached_dns_names", GAUGE, "DNS names cached (SHOW LISTS).", OV_ZERO),
	ONE("pgbouncer_cached_dns_zones", GAUGE, "DNS zones cached (SHOW LISTS).", OV_ZERO),
	ONE("pgbouncer_in_flight_dns_queries", GAUGE, "DNS queries in flight (SHOW LISTS).",
	    OV_ZERO),

	STAT("queries_pooled_total", SF_QUERIES, H_QUERIES),
	STAT("queries_duration_seconds_total", SF_QUERY_TIME | SF_SECONDS, H_QUERY_TIME),
	STAT("received_bytes_total", SF_BYTES_IN, H_BYTES_IN),
	STAT("sent_bytes_total", SF_BYTES_OUT, H_BYTES_OUT),
	STAT("client_wait_seconds_total", SF_WAIT_TIME | SF_SECONDS, H_WAIT),
	STAT("sql_transactions_pooled_total", SF_XACTS, H_XACTS),
	STAT("server_in_transaction_seconds_total", SF_XACT_TIME | SF_SECONDS, H_XACT_TIME),
	STAT("client_parses_total", SF_CLIENT_PARSES,
	     "Named statements prepared by clients (max_prepared_statements tracking)."),
	STAT("server_parses_total", SF_SERVER_PARSES,
	     "Named statements prepared on servers (max_prepared_statements tracking)."),
	STAT("binds_total", SF_BINDS, "Binds of tracked named statements."),
	STAT("server_assignments_total", SF_ASSIGNMENTS, "Times a server was assigned to a client."),
	OLD_STAT("queries_pooled_total", SF_QUERIES, H_QUERIES),
	OLD_STAT("queries_duration_seconds_total", SF_QUERY_TIME | SF_SECONDS, H_QUERY_TIME),
	OLD_STAT("received_bytes_total", SF_BYTES_IN, H_BYTES_IN),
	OLD_STAT("sent_bytes_total", SF_BYTES_OUT, H_BYTES_OUT),
	OLD_STAT("client_wait_seconds_total", SF_WAIT_TIME | SF_SECONDS, H_WAIT),
	OLD_STAT("sql_transactions_pooled_total", SF_XACTS, H_XACTS),
	OLD_STAT("server_in_transaction_seconds_total", SF_XACT_TIME | SF_SECONDS, H_XACT_TIME),

	ONE("linkpool_ready", GAUGE, "1 when /readyz answers 200.", OV_READY),
	ONE("linkpool_paused", GAUGE, "1 while PAUSE (or SIGUSR1) is in force.", OV_PAUSED),
	ONE("linkpool_shutting_down", GAUGE, "1 once a shutdown has begun.", OV_SHUTTING_DOWN),
	{ "linkpool_host_up", LP_EXPO_GAUGE,
	  "1 when new server connections of the database may use the host (not passed over "
	  "for a failure, in the role target_session_attrs asks, not behind max_replica_lag).",
	  D_LIVE_DB, 0, HV_UP, 0, db_hosts },
	{ "linkpool_host_role", LP_EXPO_GAUGE,
	  "1 for the role the host last reported: primary, standby or unknown.",
	  D_LIVE_DB, 0, HV_ROLE, 0, db_hosts },
	{ "linkpool_host_replay_lag_seconds", LP_EXPO_GAUGE,
	  "A standby's replay lag as max_replica_lag last measured it (NaN: not measured).",
	  D_LIVE_DB, 0, HV_LAG, 0, db_hosts },
	{ "linkpool_host_connect_failures_total", LP_EXPO_COUNTER,
	  "Server connections that could not reach the host (refused, timeout, DNS).",
	  D_LIVE_DB, 0, HV_CONNECT_FAILURES, 0, db_hosts },
	{ "linkpool_backend_up", LP_EXPO_GAUGE,
	  "0 while the latest server login for the database failed, else 1.", D_DB, 1, 0, 0,
	  db_up },
	{ "linkpool_client_logins_total", LP_EXPO_COUNTER, "Client logins that reached a pool.",
	  D_DB, 1, SF_LOGINS, 0, db_sum },
	ONE("linkpool_client_login_failures_total", COUNTER,
	    "Clients refused before their login finished, by reason.", OV_LOGIN_FAILURES),
	ONE("linkpool_client_connections_refused_total", COUNTER,
	    "Client connections refused at accept, by reason.", OV_REFUSED),
	{ "linkpool_server_connections_opened_total", LP_EXPO_COUNTER,
	  "Server connections opened.", D_DB, 1, 0, 0, db_opened },
	{ "linkpool_server_connections_closed_total", LP_EXPO_COUNTER,
	  "Server connections closed, by reason.", D_DB, LP_SVC_N, 0, 0, db_closed },
	ONE("linkpool_cancel_requests_total", COUNTER, "Cancel requests received, by result.",
	    OV_CANCELS),
	ONE("linkpool_peer_cancel_requests_total", COUNTER,
	    "Cancel requests sent on to a peer process, by peer (dns: the addresses of "
	    "peers_dns, one per copy) and result.", OV_PEER_CANCELS),
	ONE("linkpool_peer_cancel_requests_active", GAUGE,
	    "Cancel requests on their way to a peer (SHOW PEER_POOLS cl_active_cancel_req).",
	    OV_PEER_ACTIVE),
	ONE("linkpool_peer_cancel_requests_waiting", GAUGE,
	    "Cancel requests waiting for a free slot to a peer (cl_waiting_cancel_req).",
	    OV_PEER_WAITING),
	ONE("linkpool_protocol_errors_total", COUNTER,
	    "Protocol violations that closed a connection, by side.", OV_PROTOCOL_ERRORS),
	HISTO("linkpool_client_wait_seconds", "Time a client waited for a server, per assignment.",
	      wait),
	HISTO("linkpool_query_duration_seconds", "Time from a query's send to its ReadyForQuery.",
	      query),
	HISTO("linkpool_transaction_duration_seconds",
	      "Time from a transaction's first query to ReadyForQuery outside a transaction.", xact),

	PROC("linkpool_process_cpu_seconds_total", COUNTER,
	     "User and system CPU time of the process.", OV_CPU),
	PROC("linkpool_process_resident_memory_bytes", GAUGE, "Resident set size.", OV_RSS),
	PROC("linkpool_process_virtual_memory_bytes", GAUGE, "Virtual memory size.", OV_VSIZE),
	PROC("linkpool_process_open_fds", GAUGE, "Open file descriptors.", OV_FDS),
	PROC("linkpool_process_max_fds", GAUGE, "Limit on open file descriptors (-1: none).",
	     OV_MAX_FDS),
	PROC("linkpool_process_start_time_seconds", GAUGE,
	     "Start time of the process since the epoch.", OV_START_TIME),
	ONE("linkpool_http_requests_total", COUNTER,
	    "Connections to the metrics endpoint, by outcome.", OV_HTTP),
	ONE("linkpool_scrape_duration_seconds", GAUGE,
	    "Time the previous /metrics page took to build.", OV_SCRAPE_DURATION),
	/* Last, so that it counts this page's own drops. */
	ONE("linkpool_metrics_series_dropped_total", COUNTER,
	    "Series left out of /metrics because a family reached metrics_max_series.",
	    OV_DROPPED),
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Shows the family's objects after the cursor until the piece is full.
 * True when the family is complete. */
static bool walk(struct scrape *s, const struct family *f)
{
	struct lp_instance *inst = s->inst;
	struct lp_list *l = f->domain == D_POOL ? &inst->pools : &inst->dbs;
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(l, n, t) {
		const void *obj;
		uint64_t id;
		if (f->domain == D_POOL) {
			const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
			obj = p;
			id = p->metrics_id;
		} else {
			const struct lp_db *db = lp_container_of(n, struct lp_db, node);
			if (f->domain == D_LIVE_DB && db->removed)
				continue;
			obj = db;
			id = db->metrics_id;
		}
		if (id <= s->last_id || id > s->max_id)
			continue;
		s->last_id = id;
		uint64_t per = f->per_obj;
		if (per == 0) {         /* one per host of the database's list */
			const struct lp_db *db = obj;
			per = db->conf.host ? (uint64_t)lp_config_host_count(db->conf.host) : 1;
		}
		if (s->series + per > s->cap) {
			inst->metrics.series_dropped += per;
			continue;
		}
		s->series += per;
		f->render(s, f, obj);
		if (s->out.len >= SCRAPE_PIECE_BYTES)
			return false;
	}
	return true;
}

static ssize_t scrape_next(void *state, const char **piece)
{
	struct scrape *s = state;
	int64_t t0 = lp_now_exact_us();
	if (!s->begun && !scrape_begin(s))
		return -1;
	lp_expo_reset(&s->out);
	while (s->fam < NFAMILIES && s->out.len < SCRAPE_PIECE_BYTES) {
		const struct family *f = &families[s->fam];
		if ((f->flags & F_PROC) && !s->ps.ok) {
			s->fam++;
			continue;
		}
		if (!s->in_fam) {
			lp_expo_family(&s->out, f->name, f->type, f->help);
			s->in_fam = true;
			s->series = 0;
			s->last_id = 0;
		}
		bool complete = true;
		if (f->domain == D_ONE)
			f->render(s, f, NULL);
		else
			complete = walk(s, f);
		if (complete) {
			s->fam++;
			s->in_fam = false;
		}
	}
	s->build_us += lp_now_exact_us() - t0;
	if (s->out.oom)
		return -1;
	if (s->out.len == 0) {
		s->inst->metrics.last_scrape_build_us = s->build_us;
		return 0;
	}
	*piece = s->out.buf;
	return (ssize_t)s->out.len;
}

static void scrape_done(void *state)
{
	struct scrape *s = state;
	lp_expo_cleanup(&s->out);
	free(s->sums);
	free(s);
}

static const struct lp_http_stream scrape_stream = { scrape_next, scrape_done };

/* ---- probes ---- */

/* A failing backend is retried by the probe itself once its login backoff
 * has passed, so a pooler that nobody sends traffic to (because it is not
 * ready) still finds out when the backend is back. */
static void retest(struct lp_pool *p)
{
	const struct lp_settings *s = &p->inst->cfg.s;
	if (p->login_servers.count > 0 || lp_now_us() - p->last_login_fail_us < s->server_login_retry)
		return;
	if (lp_pool_server_total(p) < lp_pool_size_of(p))
		(void)lp_server_connect(p);
}

bool lp_exporter_ready(struct lp_instance *inst, char *why, size_t cap)
{
	struct lp_list_node *n, *t;
	if (inst->shutdown != LP_RUN) {
		snprintf(why, cap, "shutting down");
		return false;
	}
	if (!inst->listening) {
		snprintf(why, cap, "listeners are not open");
		return false;
	}
	if (inst->paused) {
		snprintf(why, cap, "paused");
		return false;
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (pool_failing(p)) {
			snprintf(why, cap, "backend unreachable for database %s (%s)", p->db->name,
				 p->login_error_code[0] ? p->login_error_code : "08006");
			return false;
		}
	}
	why[0] = '\0';
	return true;
}

/* Only characters that need no JSON escaping pass: names are user data. */
static void json_safe(char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void handle(void *arg, const struct lp_http_request *req, struct lp_http_response *resp)
{
	struct lp_instance *inst = arg;
	struct lp_exporter *ex = inst->exporter;

	if (strcmp(req->path, "/metrics") == 0) {
		/* The work starts with the first piece: nothing is read for a
		 * HEAD or a response the server turns away as busy. */
		struct scrape *s = calloc(1, sizeof(*s));
		if (!s) {
			resp->status = 503;
			resp->body = "out of memory\n";
			resp->body_len = strlen(resp->body);
			return;
		}
		s->inst = inst;
		lp_expo_init(&s->out);
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		resp->stream = &scrape_stream;
		resp->stream_state = s;
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		snprintf(ex->probe, sizeof(ex->probe), "{\"status\":\"ok\",\"uptime_seconds\":%lld}\n",
			 (long long)((lp_now_us() - inst->started_us) / 1000000));
		resp->status = 200;
	} else if (strcmp(req->path, "/readyz") == 0) {
		char why[256];
		struct lp_list_node *n, *t;
		lp_list_foreach_safe(&inst->pools, n, t) {
			struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
			if (pool_failing(p) && inst->shutdown == LP_RUN)
				retest(p);
		}
		bool ok = lp_exporter_ready(inst, why, sizeof(why));
		json_safe(why);
		if (ok)
			snprintf(ex->probe, sizeof(ex->probe), "{\"status\":\"ready\"}\n");
		else
			snprintf(ex->probe, sizeof(ex->probe),
				 "{\"status\":\"not ready\",\"reason\":\"%s\"}\n", why);
		resp->status = ok ? 200 : 503;
	} else {
		return;         /* the server's 404 */
	}
	resp->content_type = "application/json";
	resp->body = ex->probe;
	resp->body_len = strlen(ex->probe);
}

/* ---- lifecycle ---- */

void lp_exporter_stop(struct lp_instance *inst)
{
	struct lp_exporter *ex = inst->exporter;
	if (!ex)
		return;
	lp_http_server_free(ex->http);
	lp_proc_scratch_cleanup(&ex->proc);
	free(ex->addr);
	free(ex->allow);
	free(ex);
	inst->exporter = NULL;
}

/* Hands metrics_allow to the server; logs when it changed. */
static void apply_allow(struct lp_exporter *ex, const char *allow)
{
	struct lp_cidr list[LP_CIDR_MAX];
	char why[128];
	int n = lp_cidr_parse_list(allow, list, LP_CIDR_MAX, why, sizeof(why));
	if (n < 0) {
		/* The option table refuses such a value: never here. */
		lp_log_error("metrics_allow not applied: %s", why);
		return;
	}
	lp_http_server_allow(ex->http, list, n);
	if (ex->allow && strcmp(ex->allow, allow) == 0)
		return;
	char *copy = strdup(allow);
	if (!copy)
		return;
	free(ex->allow);
	ex->allow = copy;
	if (n)
		lp_log_info("metrics endpoint accepts connections only from %s", allow);
}

void lp_exporter_apply(struct lp_instance *inst)
{
	const struct lp_settings *s = &inst->cfg.s;
	const char *addr = s->metrics_listen_addr ? s->metrics_listen_addr : "";
	const char *allow = s->metrics_allow ? s->metrics_allow : "";
	struct lp_exporter *ex = inst->exporter;
	char err[512];

	if (s->metrics_port == 0 || !addr[0]) {
		if (ex && ex->http)
			lp_log_info("metrics endpoint stopped (metrics_port = 0 or no metrics_listen_addr)");
		lp_exporter_stop(inst);
		return;
	}
	if (ex && ex->http && ex->port == s->metrics_port && strcmp(ex->addr, addr) == 0) {
		apply_allow(ex, allow);
		return;
	}
	if (!ex) {
		ex = calloc(1, sizeof(*ex));
		if (!ex) {
			lp_log_error("metrics endpoint not started: out of memory");
			return;
		}
		inst->exporter = ex;
	}
	char *naddr = strdup(addr);
	if (!naddr) {
		lp_log_error("metrics endpoint not started: out of memory");
		return;
	}
	/* Bind the new address before letting go of the old one, unless they
	 * overlap (same port): then the old must close first. */
	struct lp_http_server *nh = lp_http_server_new(inst->base, addr, s->metrics_port, handle, inst,
						       err, sizeof(err));
	if (!nh && ex->http) {
		lp_http_server_free(ex->http);
		ex->http = NULL;
		nh = lp_http_server_new(inst->base, addr, s->metrics_port, handle, inst, err, sizeof(err));
	}
	if (!nh) {
		lp_log_error("metrics endpoint %s:%d not available: %s", addr, s->metrics_port, err);
		free(naddr);
		return;
	}
	lp_http_server_free(ex->http);
	ex->http = nh;
	free(ex->addr);
	ex->addr = naddr;
	ex->port = s->metrics_port;
	free(ex->allow);
	ex->allow = NULL;
	apply_allow(ex, allow);
	lp_log_info("metrics on http://%s:%d/metrics (also /healthz, /readyz)", addr, s->metrics_port);
}
