/*
 * Statistics over struct lp_pool_stats: sums per database or instance,
 * averages over the last stats_period (PgBouncer's method: rates per second
 * for counts and bytes, per-transaction / per-query / per-assignment means
 * for times), the age of a pool's oldest waiting client, and the periodic
 * log_stats line. Used by the admin console (SHOW STATS ...) and /metrics.
 */
#ifndef LP_POOL_STATS_H
#define LP_POOL_STATS_H

#include <stdint.h>

#include "pool/instance.h"

/* a += b, field by field. */
void lp_stats_add(struct lp_pool_stats *a, const struct lp_pool_stats *b);
/*
 * Totals now (cur) and at the start of the averaging window (old) for the
 * pools of db, or of every pool and the admin console when db is NULL.
 */
void lp_stats_sum(const struct lp_instance *inst, const struct lp_db *db,
		  struct lp_pool_stats *cur, struct lp_pool_stats *old);
/* The same for the admin console alone (its logins and commands). */
void lp_stats_console(const struct lp_instance *inst, struct lp_pool_stats *cur,
		      struct lp_pool_stats *old);
/* Averages between old and cur over the current window (see file header). */
void lp_stats_average(const struct lp_instance *inst, const struct lp_pool_stats *cur,
		      const struct lp_pool_stats *old, struct lp_pool_stats *avg);
/* How long the oldest waiting client of pool has waited, in microseconds. */
int64_t lp_pool_maxwait_us(const struct lp_pool *pool, int64_t now);
/* Called by the janitor: at each stats_period boundary rolls the snapshots
 * and, with log_stats, logs one line per database. */
void lp_stats_tick(struct lp_instance *inst, int64_t now);

#endif
