/*
 * /metrics, /healthz and /readyz content.
 *
 * A scrape reads counts that the pooler already keeps (list lengths, pool
 * stats, the counters of src/metrics) and writes them once into one buffer
 * kept between scrapes. Its cost grows with databases and pools, never
 * with clients: nothing here walks a client list or allocates per client.
 *
 * Names, labels and units of the pgbouncer_* families follow
 * prometheus-community/pgbouncer_exporter 0.12 (and its older
 * pgbouncer_stats_* names) so existing dashboards work unchanged; linkpool's
 * own series are linkpool_*. See docs/metrics.md.
 */
#include "pool/exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "pool/instance.h"

/* What SHOW VERSION answers (src/admin/admin.c). */
#define EXPORTER_VERSION "linkpool " LP_VERSION

struct lp_exporter {
	struct lp_http_server *http;
	char *addr;                     /* what http listens on */
	int port;
	struct lp_expo page;            /* the /metrics response, kept between scrapes */
	struct lp_pool_stats *sums;     /* per database scratch, indexed by slot */
	size_t sums_cap;
	char probe[512];                /* the /healthz and /readyz body */
	struct lp_proc_scratch proc;    /* for counting descriptors */
};

/* ---- /metrics ---- */

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

/* Per database sums of the pool stats, into ex->sums by db->metrics slot.
 * Returns false when the scratch array could not grow. */
static bool sum_by_db(struct lp_instance *inst, struct lp_exporter *ex, size_t *ndb)
{
	struct lp_list_node *n, *t;
	size_t k = 0;
	lp_list_foreach_safe(&inst->dbs, n, t)
		lp_container_of(n, struct lp_db, node)->metrics_slot = k++;
	if (k > ex->sums_cap) {
		size_t cap = k + 16;
		struct lp_pool_stats *ns = realloc(ex->sums, cap * sizeof(*ns));
		if (!ns)
			return false;
		ex->sums = ns;
		ex->sums_cap = cap;
	}
	if (k)
		memset(ex->sums, 0, k * sizeof(*ex->sums));
	lp_list_foreach_safe(&inst->pools, n, t) {
		const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_pool_stats *s = &ex->sums[p->db->metrics_slot];
		const struct lp_pool_stats *ps = &p->stats;
		s->xact_count += ps->xact_count;
		s->query_count += ps->query_count;
		s->bytes_in += ps->bytes_in;
		s->bytes_out += ps->bytes_out;
		s->xact_time_us += ps->xact_time_us;
		s->query_time_us += ps->query_time_us;
		s->wait_time_us += ps->wait_time_us;
		s->server_assignments += ps->server_assignments;
		s->client_parses += ps->client_parses;
		s->server_parses += ps->server_parses;
		s->binds += ps->binds;
		s->client_logins += ps->client_logins;
	}
	*ndb = k;
	return true;
}

/* One family per database from the per-database sums. */
enum sum_field { SF_QUERIES, SF_QUERY_TIME, SF_BYTES_IN, SF_BYTES_OUT, SF_WAIT_TIME, SF_XACTS,
		 SF_XACT_TIME, SF_CLIENT_PARSES, SF_SERVER_PARSES, SF_BINDS, SF_ASSIGNMENTS,
		 SF_LOGINS };

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

static void db_counter(struct lp_instance *inst, const struct lp_exporter *ex, struct lp_expo *e,
		       const char *name, const char *help, enum sum_field f, bool seconds)
{
	struct lp_list_node *n, *t;
	lp_expo_family(e, name, LP_EXPO_COUNTER, help);
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		const char *lb[] = { "database", db->name, NULL };
		uint64_t v = sum_field(&ex->sums[db->metrics_slot], f);
		if (seconds)
			lp_expo_us(e, name, lb, v);
		else
			lp_expo_u64(e, name, lb, v);
	}
}

struct stat_family {
	const char *suffix;             /* after pgbouncer_stats_ / pgbouncer_stats_totals_ */
	enum sum_field f;
	bool seconds;
	bool old_name;                  /* also under the pre-0.11 pgbouncer_stats_ name */
	const char *help;
};

static const struct stat_family stat_families[] = {
	{ "queries_pooled_total", SF_QUERIES, false, true, "Queries pooled (query_count)." },
	{ "queries_duration_seconds_total", SF_QUERY_TIME, true, true,
	  "Seconds spent by servers on queries (query_time)." },
	{ "received_bytes_total", SF_BYTES_IN, false, true, "Bytes received from clients." },
	{ "sent_bytes_total", SF_BYTES_OUT, false, true, "Bytes sent to clients." },
	{ "client_wait_seconds_total", SF_WAIT_TIME, true, true,
	  "Seconds clients waited for a server (wait_time)." },
	{ "sql_transactions_pooled_total", SF_XACTS, false, true, "Transactions pooled (xact_count)." },
	{ "server_in_transaction_seconds_total", SF_XACT_TIME, true, true,
	  "Seconds servers spent in transactions (xact_time)." },
	{ "client_parses_total", SF_CLIENT_PARSES, false, false, "Parse messages from clients." },
	{ "server_parses_total", SF_SERVER_PARSES, false, false, "Parse messages sent to servers." },
	{ "binds_total", SF_BINDS, false, false, "Bind messages from clients." },
	{ "server_assignments_total", SF_ASSIGNMENTS, false, false,
	  "Times a server was assigned to a client." },
};

static void render_databases(struct lp_instance *inst, struct lp_expo *e)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "pgbouncer_databases_pool_size", "Maximum server connections per pool of the database." },
		{ "pgbouncer_databases_reserve_pool", "Extra server connections allowed when clients wait." },
		{ "pgbouncer_databases_max_connections", "Maximum server connections for the database (0: unlimited)." },
		{ "pgbouncer_databases_current_connections", "Server connections open for the database." },
		{ "pgbouncer_databases_paused", "1 when the database is paused." },
		{ "pgbouncer_databases_disabled", "1 when the database is disabled." },
	};
	const struct lp_settings *s = &inst->cfg.s;
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		struct lp_list_node *n, *t;
		lp_expo_family(e, fam[f].name, LP_EXPO_GAUGE, fam[f].help);
		lp_list_foreach_safe(&inst->dbs, n, t) {
			const struct lp_db *db = lp_container_of(n, struct lp_db, node);
			const struct lp_db_conf *c = &db->conf;
			if (db->removed)
				continue;
			char port[16];
			snprintf(port, sizeof(port), "%d", c->port > 0 ? c->port : 5432);
			const char *lb[] = { "name", db->name, "host", c->host ? c->host : "",
					     "port", port, "database", c->dbname ? c->dbname : db->name,
					     "force_user", c->user ? c->user : "",
					     "pool_mode", mode_name(db_pool_mode(inst, db)), NULL };
			int64_t v = 0;
			switch (f) {
			case 0: v = c->pool_size >= 0 ? c->pool_size : s->default_pool_size; break;
			case 1: v = c->reserve_pool >= 0 ? c->reserve_pool : s->reserve_pool_size; break;
			case 2: v = c->max_db_connections >= 0 ? c->max_db_connections : s->max_db_connections; break;
			case 3: v = db->server_count; break;
			case 4: v = db->paused; break;
			case 5: v = db->disabled; break;
			}
			lp_expo_i64(e, fam[f].name, lb, v);
		}
	}
}

static void render_pools(struct lp_instance *inst, struct lp_expo *e)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "pgbouncer_pools_client_active_connections", "Clients linked to a server or idle (cl_active)." },
		{ "pgbouncer_pools_client_waiting_connections", "Clients waiting for a server (cl_waiting)." },
		{ "pgbouncer_pools_client_active_cancel_connections", "Clients forwarding a cancel request (cl_active_cancel_req)." },
		{ "pgbouncer_pools_client_waiting_cancel_connections", "Cancel requests waiting for a server (cl_waiting_cancel_req)." },
		{ "pgbouncer_pools_server_active_connections", "Servers linked to a client (sv_active)." },
		{ "pgbouncer_pools_server_active_cancel_connections", "Servers forwarding a cancel request (sv_active_cancel)." },
		{ "pgbouncer_pools_server_being_canceled_connections", "Servers whose query is being canceled (sv_being_canceled)." },
		{ "pgbouncer_pools_server_idle_connections", "Servers idle and ready (sv_idle)." },
		{ "pgbouncer_pools_server_used_connections", "Servers released, awaiting reset or check (sv_used)." },
		{ "pgbouncer_pools_server_testing_connections", "Servers running a reset or check query (sv_tested)." },
		{ "pgbouncer_pools_server_login_connections", "Servers logging in (sv_login)." },
		{ "pgbouncer_pools_client_maxwait_seconds", "Seconds the oldest waiting client has waited (maxwait, with the microsecond fraction)." },
	};
	int64_t now = lp_now_us();
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		struct lp_list_node *n, *t;
		lp_expo_family(e, fam[f].name, LP_EXPO_GAUGE, fam[f].help);
		lp_list_foreach_safe(&inst->pools, n, t) {
			const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
			const char *lb[] = { "database", p->db->name, "user", p->user->name, NULL };
			int64_t v = 0;
			int tested = 0;
			if (f == 8 || f == 9) {
				/* Bounded by the pool size: a short walk. */
				struct lp_list_node *m, *mt;
				lp_list_foreach_safe(&p->used_servers, m, mt)
					tested += lp_container_of(m, struct lp_server, node)->state ==
						  LP_SV_INTERNAL;
			}
			switch (f) {
			case 0: v = p->active_clients.count; break;
			case 1: v = p->waiting_clients.count; break;
			case 4: v = p->active_servers.count; break;
			case 7: v = p->idle_servers.count; break;
			case 8: v = p->used_servers.count - tested; break;
			case 9: v = tested; break;
			case 10: v = p->login_servers.count; break;
			case 11: {
				/* FIFO: the first waiter is the oldest. */
				struct lp_list_node *w = lp_list_first(&p->waiting_clients);
				const struct lp_client *c = w ? lp_container_of(w, struct lp_client, node) : NULL;
				uint64_t us = c && c->wait_start_us && now > c->wait_start_us
						      ? (uint64_t)(now - c->wait_start_us) : 0;
				lp_expo_us(e, fam[f].name, lb, us);
				continue;
			}
			default: break;
			}
			lp_expo_i64(e, fam[f].name, lb, v);
		}
	}
	lp_expo_family(e, "pgbouncer_client_connections", LP_EXPO_GAUGE,
		       "Clients per pool and state (application_name is not broken out: "
		       "always empty, to keep cardinality low).");
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		const char *la[] = { "database", p->db->name, "user", p->user->name,
				     "application_name", "", "state", "active", NULL };
		lp_expo_i64(e, "pgbouncer_client_connections", la, p->active_clients.count);
		la[7] = "waiting";
		lp_expo_i64(e, "pgbouncer_client_connections", la, p->waiting_clients.count);
	}
}

static void gauge1(struct lp_expo *e, const char *name, const char *help, int64_t v)
{
	lp_expo_family(e, name, LP_EXPO_GAUGE, help);
	lp_expo_i64(e, name, NULL, v);
}

static void render_lists(struct lp_instance *inst, struct lp_expo *e)
{
	struct lp_list_node *n, *t;
	int dbs = 0, servers = 0;
	lp_list_foreach_safe(&inst->dbs, n, t)
		dbs += !lp_container_of(n, struct lp_db, node)->removed;
	lp_list_foreach_safe(&inst->pools, n, t)
		servers += lp_pool_server_total(lp_container_of(n, struct lp_pool, node));
	gauge1(e, "pgbouncer_databases", "Databases (SHOW LISTS).", dbs);
	gauge1(e, "pgbouncer_users", "Users (SHOW LISTS).", inst->users.count);
	gauge1(e, "pgbouncer_pools", "Pools (SHOW LISTS).", inst->pools.count);
	gauge1(e, "pgbouncer_free_clients", "Cached free client slots (SHOW LISTS; linkpool keeps none).", 0);
	gauge1(e, "pgbouncer_used_clients", "Client connections (SHOW LISTS).", inst->client_count);
	gauge1(e, "pgbouncer_login_clients", "Clients logging in (SHOW LISTS).", inst->login_clients.count);
	gauge1(e, "pgbouncer_free_servers", "Cached free server slots (SHOW LISTS; linkpool keeps none).", 0);
	gauge1(e, "pgbouncer_used_servers", "Server connections (SHOW LISTS).", servers);
	gauge1(e, "pgbouncer_cached_dns_names", "DNS names cached (SHOW LISTS).", 0);
	gauge1(e, "pgbouncer_cached_dns_zones", "DNS zones cached (SHOW LISTS).", 0);
	gauge1(e, "pgbouncer_in_flight_dns_queries", "DNS queries in flight (SHOW LISTS).", 0);
}

static void render_histograms(struct lp_instance *inst, struct lp_expo *e)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fam[] = {
		{ "linkpool_client_wait_seconds", "Time a client waited for a server, per assignment.",
		  offsetof(struct lp_db_metrics, wait) },
		{ "linkpool_query_duration_seconds", "Time from a query's send to its ReadyForQuery.",
		  offsetof(struct lp_db_metrics, query) },
		{ "linkpool_transaction_duration_seconds",
		  "Time from a transaction's first query to ReadyForQuery outside a transaction.",
		  offsetof(struct lp_db_metrics, xact) },
	};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		struct lp_list_node *n, *t;
		lp_expo_family(e, fam[f].name, LP_EXPO_HISTOGRAM, fam[f].help);
		lp_list_foreach_safe(&inst->dbs, n, t) {
			const struct lp_db *db = lp_container_of(n, struct lp_db, node);
			const char *lb[] = { "database", db->name, NULL };
			lp_expo_histo(e, fam[f].name, lb,
				      (const struct lp_histo *)((const char *)&db->metrics + fam[f].off));
		}
	}
}

static void render_linkpool(struct lp_instance *inst, struct lp_exporter *ex,
			    struct lp_expo *e)
{
	const struct lp_metrics *m = &inst->metrics;
	struct lp_list_node *n, *t;
	char why[256];

	gauge1(e, "linkpool_ready", "1 when /readyz answers 200.", lp_exporter_ready(inst, why, sizeof(why)));
	gauge1(e, "linkpool_paused", "1 while PAUSE (or SIGUSR1) is in force.", inst->paused);
	gauge1(e, "linkpool_shutting_down", "1 once a shutdown has begun.", inst->shutdown != LP_RUN);

	lp_expo_family(e, "linkpool_backend_up", LP_EXPO_GAUGE,
		       "0 while the latest server login for the database failed, else 1.");
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		bool failing = false;
		struct lp_list_node *pn, *pt;
		lp_list_foreach_safe(&inst->pools, pn, pt) {
			const struct lp_pool *p = lp_container_of(pn, struct lp_pool, node);
			failing = failing || (p->db == db && pool_failing(p));
		}
		const char *lb[] = { "database", db->name, NULL };
		lp_expo_i64(e, "linkpool_backend_up", lb, !failing);
	}

	db_counter(inst, ex, e, "linkpool_client_logins_total", "Client logins that reached a pool.",
		   SF_LOGINS, false);
	lp_expo_family(e, "linkpool_client_login_failures_total", LP_EXPO_COUNTER,
		       "Clients refused before their login finished, by reason.");
	for (int r = 0; r < LP_LF_N; r++) {
		const char *lb[] = { "reason", lp_login_fail_reason_names[r], NULL };
		lp_expo_u64(e, "linkpool_client_login_failures_total", lb, m->login_failures[r]);
	}
	lp_expo_family(e, "linkpool_client_connections_refused_total", LP_EXPO_COUNTER,
		       "Client connections refused at accept, by reason.");
	{
		const char *lb[] = { "reason", "max_client_conn", NULL };
		lp_expo_u64(e, "linkpool_client_connections_refused_total", lb, m->refused_max_client_conn);
	}
	lp_expo_family(e, "linkpool_server_connections_opened_total", LP_EXPO_COUNTER,
		       "Server connections opened.");
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		const char *lb[] = { "database", db->name, NULL };
		lp_expo_u64(e, "linkpool_server_connections_opened_total", lb, db->metrics.server_opened);
	}
	lp_expo_family(e, "linkpool_server_connections_closed_total", LP_EXPO_COUNTER,
		       "Server connections closed, by reason.");
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		for (int r = 0; r < LP_SVC_N; r++) {
			const char *lb[] = { "database", db->name, "reason", lp_sv_close_reason_names[r], NULL };
			lp_expo_u64(e, "linkpool_server_connections_closed_total", lb,
				    db->metrics.server_closed[r]);
		}
	}
	lp_expo_family(e, "linkpool_cancel_requests_total", LP_EXPO_COUNTER,
		       "Cancel requests received, by result.");
	{
		const char *lf[] = { "result", "forwarded", NULL };
		const char *lu[] = { "result", "unknown_key", NULL };
		const char *ln[] = { "result", "not_forwarded", NULL };
		lp_expo_u64(e, "linkpool_cancel_requests_total", lf, m->cancel_forwarded);
		lp_expo_u64(e, "linkpool_cancel_requests_total", lu, m->cancel_unknown);
		lp_expo_u64(e, "linkpool_cancel_requests_total", ln, m->cancel_not_forwarded);
	}
	lp_expo_family(e, "linkpool_protocol_errors_total", LP_EXPO_COUNTER,
		       "Protocol violations that closed a connection, by side.");
	for (int s = 0; s < LP_PE_N; s++) {
		const char *lb[] = { "source", lp_proto_err_source_names[s], NULL };
		lp_expo_u64(e, "linkpool_protocol_errors_total", lb, m->protocol_errors[s]);
	}
	render_histograms(inst, e);

	struct lp_proc_stats ps;
	lp_proc_stats_read(&ps, &ex->proc);
	if (ps.ok) {
		lp_expo_family(e, "linkpool_process_cpu_seconds_total", LP_EXPO_COUNTER,
			       "User and system CPU time of the process.");
		lp_expo_us(e, "linkpool_process_cpu_seconds_total", NULL, ps.cpu_user_us + ps.cpu_system_us);
		gauge1(e, "linkpool_process_resident_memory_bytes", "Resident set size.", (int64_t)ps.rss_bytes);
		gauge1(e, "linkpool_process_virtual_memory_bytes", "Virtual memory size.", (int64_t)ps.vsize_bytes);
		gauge1(e, "linkpool_process_open_fds", "Open file descriptors.", ps.open_fds);
		gauge1(e, "linkpool_process_max_fds", "Limit on open file descriptors (-1: none).", ps.max_fds);
		lp_expo_family(e, "linkpool_process_start_time_seconds", LP_EXPO_GAUGE,
			       "Start time of the process since the epoch.");
		lp_expo_f64(e, "linkpool_process_start_time_seconds", NULL, ps.start_time_s);
	}
	if (ex->http) {
		const struct lp_http_stats *hs = lp_http_server_stats(ex->http);
		lp_expo_family(e, "linkpool_http_requests_total", LP_EXPO_COUNTER,
			       "Requests to the metrics endpoint, by outcome.");
		const char *l1[] = { "outcome", "served", NULL }, *l2[] = { "outcome", "bad_request", NULL };
		const char *l3[] = { "outcome", "refused", NULL }, *l4[] = { "outcome", "timeout", NULL };
		lp_expo_u64(e, "linkpool_http_requests_total", l1, hs->requests);
		lp_expo_u64(e, "linkpool_http_requests_total", l2, hs->bad_requests);
		lp_expo_u64(e, "linkpool_http_requests_total", l3, hs->refused);
		lp_expo_u64(e, "linkpool_http_requests_total", l4, hs->timeouts);
	}
	lp_expo_family(e, "linkpool_scrape_duration_seconds", LP_EXPO_GAUGE,
		       "Time the previous /metrics page took to build.");
	lp_expo_us(e, "linkpool_scrape_duration_seconds", NULL, (uint64_t)m->last_scrape_build_us);
}

void lp_exporter_render(struct lp_instance *inst, struct lp_expo *e)
{
	struct lp_exporter *ex = inst->exporter;
	const struct lp_settings *s = &inst->cfg.s;
	size_t ndb = 0;

	lp_expo_reset(e);
	if (!ex || !sum_by_db(inst, ex, &ndb)) {
		lp_expo_family(e, "pgbouncer_up", LP_EXPO_GAUGE, "1 when the pooler answers.");
		lp_expo_i64(e, "pgbouncer_up", NULL, 0);
		return;
	}
	lp_expo_family(e, "pgbouncer_up", LP_EXPO_GAUGE, "1 when the pooler answers.");
	lp_expo_i64(e, "pgbouncer_up", NULL, 1);
	lp_expo_family(e, "pgbouncer_version_info", LP_EXPO_GAUGE, "The pooler's SHOW VERSION.");
	{
		const char *lb[] = { "version", EXPORTER_VERSION, NULL };
		lp_expo_i64(e, "pgbouncer_version_info", lb, 1);
	}
	gauge1(e, "pgbouncer_config_max_client_connections", "max_client_conn.", s->max_client_conn);
	gauge1(e, "pgbouncer_config_max_user_connections", "max_user_connections (0: unlimited).",
	       s->max_user_connections);
	render_databases(inst, e);
	render_pools(inst, e);
	render_lists(inst, e);
	char name[128], help[256];
	for (size_t i = 0; i < sizeof(stat_families) / sizeof(stat_families[0]); i++) {
		const struct stat_family *sf = &stat_families[i];
		snprintf(name, sizeof(name), "pgbouncer_stats_totals_%s", sf->suffix);
		db_counter(inst, ex, e, name, sf->help, sf->f, sf->seconds);
	}
	for (size_t i = 0; i < sizeof(stat_families) / sizeof(stat_families[0]); i++) {
		const struct stat_family *sf = &stat_families[i];
		if (!sf->old_name)
			continue;
		snprintf(name, sizeof(name), "pgbouncer_stats_%s", sf->suffix);
		snprintf(help, sizeof(help), "%s Same as pgbouncer_stats_totals_%s (pre-0.11 name).",
			 sf->help, sf->suffix);
		db_counter(inst, ex, e, name, help, sf->f, sf->seconds);
	}
	render_linkpool(inst, ex, e);
}

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
		int64_t t0 = lp_now_exact_us();
		lp_exporter_render(inst, &ex->page);
		inst->metrics.last_scrape_build_us = lp_now_exact_us() - t0;
		inst->metrics.scrapes++;
		if (ex->page.oom) {
			resp->status = 500;
			resp->body = "out of memory\n";
			resp->body_len = strlen(resp->body);
			return;
		}
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		resp->body = ex->page.buf;
		resp->body_len = ex->page.len;
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
	lp_expo_cleanup(&ex->page);
	lp_proc_scratch_cleanup(&ex->proc);
	free(ex->sums);
	free(ex->addr);
	free(ex);
	inst->exporter = NULL;
}

void lp_exporter_apply(struct lp_instance *inst)
{
	const struct lp_settings *s = &inst->cfg.s;
	const char *addr = s->metrics_listen_addr ? s->metrics_listen_addr : "";
	struct lp_exporter *ex = inst->exporter;
	char err[512];

	if (s->metrics_port == 0 || !addr[0]) {
		if (ex && ex->http)
			lp_log_info("metrics endpoint stopped (metrics_port = 0 or no metrics_listen_addr)");
		lp_exporter_stop(inst);
		return;
	}
	if (ex && ex->http && ex->port == s->metrics_port && strcmp(ex->addr, addr) == 0)
		return;
	if (!ex) {
		ex = calloc(1, sizeof(*ex));
		if (!ex) {
			lp_log_error("metrics endpoint not started: out of memory");
			return;
		}
		lp_expo_init(&ex->page);
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
	lp_log_info("metrics on http://%s:%d/metrics (also /healthz, /readyz)", addr, s->metrics_port);
}
