/*
 * Pool statistics: sums, period averages, maxwait and log_stats (see
 * stats.h). Counters are kept per pool by the forwarding code; nothing here
 * runs on the hot path.
 */
#include <inttypes.h>
#include <string.h>

#include "core/log.h"
#include "pool/stats.h"

#define US_PER_S INT64_C(1000000)

void lp_stats_add(struct lp_pool_stats *a, const struct lp_pool_stats *b)
{
	a->xact_count += b->xact_count;
	a->query_count += b->query_count;
	a->bytes_in += b->bytes_in;
	a->bytes_out += b->bytes_out;
	a->xact_time_us += b->xact_time_us;
	a->query_time_us += b->query_time_us;
	a->wait_time_us += b->wait_time_us;
	a->server_assignments += b->server_assignments;
	a->client_parses += b->client_parses;
	a->server_parses += b->server_parses;
	a->binds += b->binds;
	a->client_logins += b->client_logins;
}

void lp_stats_console(const struct lp_instance *inst, struct lp_pool_stats *cur,
		      struct lp_pool_stats *old)
{
	*cur = inst->console_stats;
	*old = inst->console_older;
}

void lp_stats_sum(const struct lp_instance *inst, const struct lp_db *db,
		  struct lp_pool_stats *cur, struct lp_pool_stats *old)
{
	struct lp_list_node *n, *t;
	memset(cur, 0, sizeof(*cur));
	memset(old, 0, sizeof(*old));
	if (!db) {
		lp_stats_add(cur, &inst->console_stats);
		lp_stats_add(old, &inst->console_older);
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		const struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (db && p->db != db)
			continue;
		lp_stats_add(cur, &p->stats);
		lp_stats_add(old, &p->stats_older);
	}
}

static uint64_t diff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t rate(uint64_t delta, int64_t dur_us)
{
	return (uint64_t)((double)delta * (double)US_PER_S / (double)dur_us);
}

void lp_stats_average(const struct lp_instance *inst, const struct lp_pool_stats *cur,
		      const struct lp_pool_stats *old, struct lp_pool_stats *avg)
{
	int64_t dur = lp_now_us() - inst->prev_stats_us;
	memset(avg, 0, sizeof(*avg));
	if (dur <= 0)
		return;
	uint64_t queries = diff(cur->query_count, old->query_count);
	uint64_t xacts = diff(cur->xact_count, old->xact_count);
	uint64_t assigns = diff(cur->server_assignments, old->server_assignments);

	avg->query_count = rate(queries, dur);
	avg->xact_count = rate(xacts, dur);
	avg->server_assignments = rate(assigns, dur);
	avg->bytes_in = rate(diff(cur->bytes_in, old->bytes_in), dur);
	avg->bytes_out = rate(diff(cur->bytes_out, old->bytes_out), dur);
	avg->client_parses = rate(diff(cur->client_parses, old->client_parses), dur);
	avg->server_parses = rate(diff(cur->server_parses, old->server_parses), dur);
	avg->binds = rate(diff(cur->binds, old->binds), dur);
	avg->client_logins = rate(diff(cur->client_logins, old->client_logins), dur);
	if (queries > 0)
		avg->query_time_us = diff(cur->query_time_us, old->query_time_us) / queries;
	if (xacts > 0)
		avg->xact_time_us = diff(cur->xact_time_us, old->xact_time_us) / xacts;
	if (assigns > 0)
		avg->wait_time_us = diff(cur->wait_time_us, old->wait_time_us) / assigns;
}

int64_t lp_pool_maxwait_us(const struct lp_pool *pool, int64_t now)
{
	struct lp_list_node *n, *t;
	int64_t oldest = 0;
	/* The queue is FIFO but login waiters share it: look at all. */
	lp_list_foreach_safe(&pool->waiting_clients, n, t) {
		const struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (c->wait_start_us && (oldest == 0 || c->wait_start_us < oldest))
			oldest = c->wait_start_us;
	}
	return oldest && now > oldest ? now - oldest : 0;
}

static void log_db_line(const struct lp_instance *inst, const struct lp_db *db)
{
	struct lp_pool_stats cur, old, avg;
	lp_stats_sum(inst, db, &cur, &old);
	lp_stats_average(inst, &cur, &old, &avg);
	lp_log_info("stats: %s: %" PRIu64 " xacts/s, %" PRIu64 " queries/s, %" PRIu64
		    " client parses/s, %" PRIu64 " server parses/s, %" PRIu64 " binds/s, in %" PRIu64
		    " B/s, out %" PRIu64 " B/s, xact %" PRIu64 " us, query %" PRIu64
		    " us, wait %" PRIu64 " us",
		    db->name, avg.xact_count, avg.query_count, avg.client_parses, avg.server_parses,
		    avg.binds, avg.bytes_in, avg.bytes_out, avg.xact_time_us, avg.query_time_us,
		    avg.wait_time_us);
}

void lp_stats_tick(struct lp_instance *inst, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	if (s->stats_period <= 0 || now - inst->last_stats_us < s->stats_period)
		return;
	inst->prev_stats_us = inst->last_stats_us;
	inst->last_stats_us = now;
	inst->console_older = inst->console_newer;
	inst->console_newer = inst->console_stats;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		p->stats_older = p->stats_newer;
		p->stats_newer = p->stats;
	}
	if (!s->log_stats)
		return;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		const struct lp_db *db = lp_container_of(n, struct lp_db, node);
		bool has_pool = false;
		struct lp_list_node *pn, *pt;
		lp_list_foreach_safe(&inst->pools, pn, pt)
			if (lp_container_of(pn, struct lp_pool, node)->db == db)
				has_pool = true;
		if (has_pool)
			log_db_line(inst, db);
	}
}
