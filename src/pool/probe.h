/*
 * Pooler queries that ask a server about its place in a replication setup
 * (probe.c): its role, when PostgreSQL is older than 14 and does not report
 * in_hot_standby, and for max_replica_lag how far a standby's replay is
 * behind -- at login, before any client sees the server, and every second
 * on an idle one (the janitor asks). What the answers mean for the host is
 * hosts.c's to say; a standby too far behind is closed here with the other
 * idle servers of its host.
 */
#ifndef LP_POOL_PROBE_H
#define LP_POOL_PROBE_H

#include <stdbool.h>
#include "pool/pool.h"

/* At the login's ReadyForQuery, with s->role taken from what the server
 * reported: true when a probe runs first (lp_server_login_checks follows
 * once it is answered). */
bool lp_probe_login(struct lp_server *s);
/* Measures an idle standby's lag; it returns to idle, or is closed when
 * too far behind. */
void lp_probe_lag_idle(struct lp_server *s);

#endif
