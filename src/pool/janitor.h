/*
 * The janitor (janitor.c): the periodic timer behind every timeout,
 * lifetime, min_pool_size and log_stats.
 */
#ifndef LP_POOL_JANITOR_H
#define LP_POOL_JANITOR_H

#include "pool/pool.h"

void lp_janitor_start(struct lp_instance *inst);

#endif
