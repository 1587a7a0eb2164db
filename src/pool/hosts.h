/*
 * A database's host list (hosts.c): which host the next server connection
 * takes (load_balance_hosts), which hosts are passed over for now (could
 * not be reached, or in the wrong role for target_session_attrs), and what
 * each host was last seen to be, for SHOW HOSTS. Pure bookkeeping: the
 * server connections act on its answers (server.c).
 */
#ifndef LP_POOL_HOSTS_H
#define LP_POOL_HOSTS_H

#include <stdbool.h>
#include <stdint.h>

struct lp_db;
struct lp_params;

enum lp_host_role { LP_HOST_ROLE_UNKNOWN, LP_HOST_ROLE_PRIMARY, LP_HOST_ROLE_STANDBY };

/* What is known of one entry of a database's host list. */
struct lp_host_state {
	int64_t skip_until_us;          /* passed over until then; 0: usable */
	bool seen;                      /* a connection reached it once */
	bool wrong_role;                /* reached, but in the wrong role */
	bool read_only;                 /* default_transaction_read_only = on */
	uint8_t role;                   /* enum lp_host_role */
	bool lagging;                   /* a standby behind more than max_replica_lag */
	int64_t lag_us;                 /* replay lag last measured */
	int64_t lag_checked_us;         /* when; 0: never */
	uint64_t connect_failures;      /* connections that could not reach it */
	char last_error[160];
};

/* The entry the next connection of db uses: its index (the caller reads its
 * name with lp_config_host_at). *any_role: prefer-standby found no standby
 * to try, so this connection may take whatever role it finds. Always 0 and
 * false for a database with one host. */
int lp_hosts_pick(struct lp_db *db, int64_t now_us, bool *any_role);
/* Entry idx could not be reached (why: what failed); it is passed over for
 * retry_us (server_login_retry). True when another host may still work: the
 * caller moves on to it at once; false: every host failed in a row, and
 * the login fails as with a single host. */
bool lp_hosts_unreachable(struct lp_db *db, int idx, const char *why, int64_t now_us,
			  int64_t retry_us);

/* The role a logged-in server reports (PostgreSQL 14+: in_hot_standby;
 * unknown without it, and probe.c asks). */
enum lp_host_role lp_hosts_role_of(const struct lp_params *p, bool *read_only);
/* Whether a server of role / read_only suits target_session_attrs tsa. */
bool lp_hosts_role_fits(int tsa, enum lp_host_role role, bool read_only);

enum lp_hosts_verdict {
	LP_HOSTS_USE,           /* the server suits: use it */
	LP_HOSTS_SKIP,          /* wrong role, another host may suit: try it at once */
	LP_HOSTS_NONE,          /* wrong role and no host left to try: the login fails */
};
/* A server of entry idx logged in, in role / read_only (reported, or
 * probed for a server before PostgreSQL 14); any_role from pick. Records
 * the host's role. why (when not USE): the reason, for the log. */
enum lp_hosts_verdict lp_hosts_logged_in(struct lp_db *db, int idx, enum lp_host_role role,
					 bool read_only, bool any_role, int64_t now_us,
					 int64_t retry_us, char *why, size_t whycap);
/* A logged-in server of entry idx reported a new in_hot_standby (a
 * promotion): false when it no longer suits the database (the caller
 * closes it, never mid-transaction). */
bool lp_hosts_role_changed(struct lp_db *db, int idx, bool standby, int64_t now_us,
			   int64_t retry_us);

/* max_replica_lag: whether a server in role is a standby whose replay lag
 * the database wants measured before use. */
bool lp_hosts_lag_wanted(const struct lp_db *db, enum lp_host_role role);
/* Whether entry idx, a standby, is due for its periodic lag check (at most
 * one a second); true claims the check. */
bool lp_hosts_lag_due(struct lp_db *db, int idx, int64_t now_us);
/* Records a measured replay lag of entry idx; false when it exceeds
 * max_replica_lag (the host is then passed over like one in the wrong
 * role, for retry_us). */
bool lp_hosts_lag_measured(struct lp_db *db, int idx, int64_t lag_us, int64_t now_us,
			   int64_t retry_us);

/* Whether db's servers may come back on another host or in another role
 * at any moment (a host list, or target_session_attrs): its clients then
 * wait through a login backoff instead of hearing the last error at once. */
bool lp_hosts_may_fail_over(const struct lp_db *db);

/* The state of entry idx, or NULL when nothing is known yet. */
const struct lp_host_state *lp_hosts_state(const struct lp_db *db, int idx);
/* Forgets everything (the host list changed on reload). */
void lp_hosts_reset(struct lp_db *db);

#endif
