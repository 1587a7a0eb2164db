/*
 * max_replica_lag (lag.c): how far behind its primary a standby's replay
 * is, measured with a pooler query when a server connection to it logs in
 * and every second on an idle one (the janitor asks). What the answer means
 * for the host is hosts.c's to say; a standby too far behind is closed here
 * with the other idle servers of its host.
 */
#ifndef LP_POOL_LAG_H
#define LP_POOL_LAG_H

#include <stdbool.h>
#include "pool/pool.h"

/* At the login's ReadyForQuery: true when s is a standby whose lag is
 * measured first (lp_server_login_checks runs once it is known). */
bool lp_lag_login(struct lp_server *s);
/* Measures an idle standby's lag; it returns to idle, or is closed when
 * too far behind. */
void lp_lag_check_idle(struct lp_server *s);

#endif
