/*
 * Tracked session parameters (params.c): what a client set, what a server
 * holds, and which names follow a client from server to server.
 */
#ifndef LP_POOL_PARAMS_H
#define LP_POOL_PARAMS_H

#include <stdbool.h>
#include "pool/pool.h"

void lp_params_set(struct lp_params *p, const char *name, const char *value);
const char *lp_params_get(const struct lp_params *p, const char *name);
/* p's value for from's i-th name (no hashing: the hot path of link.c). */
const char *lp_params_value_of(const struct lp_params *p, const struct lp_params *from, int i);
/* The index in p of from's i-th name, or -1. */
int lp_params_index_of(const struct lp_params *p, const struct lp_params *from, int i);
void lp_params_clear(struct lp_params *p);
void lp_params_copy(struct lp_params *dst, const struct lp_params *src);
/* Sets p->tracked from lp_param_is_tracked() for every entry. */
void lp_params_mark_tracked(const struct lp_instance *inst, struct lp_params *p);
/* true when name is tracked for client/server synchronisation */
bool lp_param_is_tracked(const struct lp_instance *inst, const char *name);

#endif
