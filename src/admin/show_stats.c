/*
 * SHOW STATS, STATS_TOTALS, STATS_AVERAGES (one row per database, the
 * console first: its logins and commands, each command one transaction and
 * one query as PgBouncer counts them) and SHOW TOTALS (name/value rows over
 * everything, the console included).
 * Counters are PgBouncer's numeric columns; times in microseconds.
 */
#include <stdio.h>
#include <string.h>

#include "admin/internal.h"
#include "pool/stats.h"

/* The twelve counters in PgBouncer's column order. */
enum { NSTAT = 12 };

static void stat_values(const struct lp_pool_stats *s, uint64_t out[NSTAT])
{
	const uint64_t v[NSTAT] = {
		s->server_assignments, s->xact_count,   s->query_count,   s->bytes_in,
		s->bytes_out,          s->xact_time_us, s->query_time_us, s->wait_time_us,
		s->client_parses,      s->server_parses, s->binds,        s->client_logins,
	};
	memcpy(out, v, sizeof(v));
}

#define N LP_COL_NUMERIC
static const struct lp_col stats_cols[] = {
	{ "database", LP_COL_TEXT },
	{ "total_server_assignment_count", N }, { "total_xact_count", N },
	{ "total_query_count", N },             { "total_received", N },
	{ "total_sent", N },                    { "total_xact_time", N },
	{ "total_query_time", N },              { "total_wait_time", N },
	{ "total_client_parse_count", N },      { "total_server_parse_count", N },
	{ "total_bind_count", N },              { "total_client_login_count", N },
	{ "avg_server_assignment_count", N },   { "avg_xact_count", N },
	{ "avg_query_count", N },               { "avg_recv", N },
	{ "avg_sent", N },                      { "avg_xact_time", N },
	{ "avg_query_time", N },                { "avg_wait_time", N },
	{ "avg_client_parse_count", N },        { "avg_server_parse_count", N },
	{ "avg_bind_count", N },                { "avg_client_login_count", N },
};

static const struct lp_col stats_totals_cols[] = {
	{ "database", LP_COL_TEXT },
	{ "server_assignment_count", N }, { "xact_count", N },         { "query_count", N },
	{ "bytes_received", N },          { "bytes_sent", N },         { "xact_time", N },
	{ "query_time", N },              { "wait_time", N },          { "client_parse_count", N },
	{ "server_parse_count", N },      { "bind_count", N },         { "client_login_count", N },
};

/* PgBouncer names three of these columns with an avg_ prefix; kept. */
static const struct lp_col stats_averages_cols[] = {
	{ "database", LP_COL_TEXT },
	{ "server_assignment_count", N }, { "xact_count", N },         { "query_count", N },
	{ "bytes_received", N },          { "bytes_sent", N },         { "xact_time", N },
	{ "query_time", N },              { "wait_time", N },          { "avg_client_parse_count", N },
	{ "avg_server_parse_count", N },  { "avg_bind_count", N },     { "client_login_count", N },
};
#undef N

enum stats_kind { STATS_ALL, STATS_TOTALS, STATS_AVERAGES };

static void stats_row(struct lp_result *r, const struct lp_instance *inst, const char *name,
		      const struct lp_db *db, enum stats_kind kind)
{
	struct lp_pool_stats cur, old, avg;
	uint64_t tv[NSTAT], av[NSTAT];

	if (db)
		lp_stats_sum(inst, db, &cur, &old);
	else
		lp_stats_console(inst, &cur, &old);
	lp_stats_average(inst, &cur, &old, &avg);
	stat_values(&cur, tv);
	stat_values(&avg, av);
	lp_row_begin(r);
	lp_row_text(r, name);
	if (kind != STATS_AVERAGES)
		for (int i = 0; i < NSTAT; i++)
			lp_row_u64(r, tv[i]);
	if (kind != STATS_TOTALS)
		for (int i = 0; i < NSTAT; i++)
			lp_row_u64(r, av[i]);
	lp_row_end(r);
}

static void show_stats_kind(struct lp_client *c, enum stats_kind kind)
{
	static const struct {
		const struct lp_col *cols;
		int n;
	} tables[] = {
		[STATS_ALL] = { stats_cols, LP_NCOLS(stats_cols) },
		[STATS_TOTALS] = { stats_totals_cols, LP_NCOLS(stats_totals_cols) },
		[STATS_AVERAGES] = { stats_averages_cols, LP_NCOLS(stats_averages_cols) },
	};
	struct lp_instance *inst = c->inst;
	struct lp_result r;
	struct lp_list_node *n, *t, *pn, *pt;

	lp_result_begin(&r, tables[kind].cols, tables[kind].n);
	stats_row(&r, inst, LP_ADMIN_DB, NULL, kind);
	/* Databases that have (had) a pool: the others have no statistics. */
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		bool has_pool = false;
		lp_list_foreach_safe(&inst->pools, pn, pt)
			if (lp_container_of(pn, struct lp_pool, node)->db == db)
				has_pool = true;
		if (has_pool)
			stats_row(&r, inst, db->name, db, kind);
	}
	lp_result_send(&r, c, "SHOW");
}

static void show_stats(struct lp_client *c, const char *arg)
{
	(void)arg;
	show_stats_kind(c, STATS_ALL);
}

static void show_stats_totals(struct lp_client *c, const char *arg)
{
	(void)arg;
	show_stats_kind(c, STATS_TOTALS);
}

static void show_stats_averages(struct lp_client *c, const char *arg)
{
	(void)arg;
	show_stats_kind(c, STATS_AVERAGES);
}

static const struct lp_col totals_cols[] = {
	{ "name", LP_COL_TEXT },
	{ "value", LP_COL_NUMERIC },
};

static void show_totals(struct lp_client *c, const char *arg)
{
	static const char *const names[NSTAT] = {
		"server_assignment_count", "xact_count",   "query_count",          "received",
		"sent",                    "xact_time",    "query_time",           "wait_time",
		"client_parse_count",      "server_parse_count", "bind_count",     "client_login_count",
	};
	struct lp_pool_stats cur, old, avg;
	uint64_t tv[NSTAT], av[NSTAT];
	struct lp_result r;
	char name[64];
	(void)arg;

	lp_stats_sum(c->inst, NULL, &cur, &old);
	lp_stats_average(c->inst, &cur, &old, &avg);
	stat_values(&cur, tv);
	stat_values(&avg, av);
	lp_result_begin(&r, totals_cols, LP_NCOLS(totals_cols));
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NSTAT; i++) {
			snprintf(name, sizeof(name), "%s_%s", pass ? "avg" : "total", names[i]);
			lp_row_begin(&r);
			lp_row_text(&r, name);
			lp_row_u64(&r, pass ? av[i] : tv[i]);
			lp_row_end(&r);
		}
	lp_result_send(&r, c, "SHOW");
}

const struct lp_admin_show lp_admin_shows_stats[] = {
	{ "stats", show_stats, false },
	{ "stats_totals", show_stats_totals, false },
	{ "stats_averages", show_stats_averages, false },
	{ "totals", show_totals, false },
	{ NULL, NULL, false },
};
