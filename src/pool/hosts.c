/*
 * A database's host list: which entry the next server connection takes,
 * and which entries are passed over for now.
 *
 * An entry is passed over for server_login_retry once it could not be
 * reached, or was found in a role target_session_attrs does not allow.
 * Every failure is also counted in a row (hosts_failed_in_row): once every
 * entry failed since a connection last found a usable host, the login
 * fails as it would with one host (the pool backs off, its clients wait
 * or hear the error), so a pool whose hosts all refuse never spins. When
 * nothing is usable but a host that was reachable in the wrong role, that
 * one is tried first: after a failover the old standby is the new primary.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "pool/hosts.h"
#include "pool/params.h"
#include "pool/pool.h"

static int host_count(const struct lp_db *db)
{
	return db->conf.host ? lp_config_host_count(db->conf.host) : 1;
}

/* The entries' states, made when first needed; NULL when out of memory
 * (then every entry is simply usable). */
static struct lp_host_state *states(struct lp_db *db)
{
	int n = host_count(db);
	if (db->hosts && db->nhosts == n)
		return db->hosts;
	free(db->hosts);
	db->hosts = calloc((size_t)n, sizeof(*db->hosts));
	db->nhosts = db->hosts ? n : 0;
	db->hosts_failed_in_row = 0;
	return db->hosts;
}

static uint32_t all_bits(int n)
{
	return n >= 32 ? UINT32_MAX : (1u << n) - 1;
}

static bool usable(const struct lp_host_state *h, int64_t now_us)
{
	return !(h->skip_until_us > 0 && now_us < h->skip_until_us);
}

int lp_hosts_pick(struct lp_db *db, int64_t now_us, bool *any_role)
{
	*any_role = false;
	int n = host_count(db);
	struct lp_host_state *hs = states(db);
	if (n < 2 || !hs)
		return 0;
	bool disable = db->conf.load_balance_hosts == LP_LB_DISABLE;
	for (int tries = 0; tries < n; tries++) {
		int idx = (int)(db->host_next % (unsigned)n);
		bool ok = usable(&hs[idx], now_us);
		if (!disable || !ok)
			db->host_next++;
		if (ok)
			return idx;
	}
	/* Nothing usable: a host reachable in the wrong role before the one
	 * that could not be reached (its role may have changed); for
	 * prefer-standby, a primary before a standby behind on replay. */
	bool prefer = db->conf.target_session_attrs == LP_TSA_PREFER_STANDBY;
	int found = -1;
	for (int tries = 0; tries < n; tries++) {
		int idx = (int)((db->host_next + (unsigned)tries) % (unsigned)n);
		if (!hs[idx].wrong_role)
			continue;
		if (!prefer || hs[idx].role == LP_HOST_ROLE_PRIMARY) {
			found = idx;
			break;
		}
		if (found < 0)
			found = idx;
	}
	if (found >= 0) {
		*any_role = prefer;
		return found;
	}
	return (int)(db->host_next % (unsigned)n);
}

/* Counts a failure of entry idx in the row; true when every entry has now
 * failed in a row (and the row starts again). */
static bool row_complete(struct lp_db *db, int idx, int n)
{
	db->hosts_failed_in_row |= 1u << idx;
	if ((db->hosts_failed_in_row & all_bits(n)) != all_bits(n))
		return false;
	db->hosts_failed_in_row = 0;
	return true;
}

bool lp_hosts_unreachable(struct lp_db *db, int idx, const char *why, int64_t now_us,
			  int64_t retry_us)
{
	int n = host_count(db);
	struct lp_host_state *hs = states(db);
	if (!hs || idx >= n)
		return false;
	struct lp_host_state *h = &hs[idx];
	h->connect_failures++;
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	h->skip_until_us = now_us + (retry_us > 0 ? retry_us : 1);
	if (n < 2)
		return false;
	if (db->conf.load_balance_hosts == LP_LB_DISABLE &&
	    (int)(db->host_next % (unsigned)n) == idx)
		db->host_next++;
	if (!row_complete(db, idx, n))
		return true;
	/* prefer-standby: the primary found earlier still serves. */
	if (db->conf.target_session_attrs == LP_TSA_PREFER_STANDBY)
		for (int i = 0; i < n; i++)
			if (hs[i].wrong_role)
				return true;
	return false;
}

enum lp_host_role lp_hosts_role_of(const struct lp_params *p, bool *read_only)
{
	const char *hot = lp_params_get(p, "in_hot_standby");
	const char *ro = lp_params_get(p, "default_transaction_read_only");
	*read_only = ro && strcmp(ro, "on") == 0;
	if (!hot)
		return LP_HOST_ROLE_UNKNOWN;
	return strcmp(hot, "on") == 0 ? LP_HOST_ROLE_STANDBY : LP_HOST_ROLE_PRIMARY;
}

bool lp_hosts_role_fits(int tsa, enum lp_host_role role, bool read_only)
{
	if (tsa == LP_TSA_ANY)
		return true;
	if (role == LP_HOST_ROLE_UNKNOWN)
		return false;   /* PostgreSQL before 14 does not say: not trusted */
	bool standby = role == LP_HOST_ROLE_STANDBY;
	switch (tsa) {
	case LP_TSA_READ_WRITE:
		return !standby && !read_only;
	case LP_TSA_READ_ONLY:
		return standby || read_only;
	case LP_TSA_PRIMARY:
		return !standby;
	case LP_TSA_STANDBY:
	case LP_TSA_PREFER_STANDBY:
		return standby;
	default:
		return true;
	}
}

static const char *role_text(enum lp_host_role role, bool read_only)
{
	if (role == LP_HOST_ROLE_UNKNOWN)
		return "a server whose role could not be learnt";
	if (role == LP_HOST_ROLE_STANDBY)
		return "a standby";
	return read_only ? "a read-only primary" : "a primary";
}

/* Whether tsa asks for standbys, so that max_replica_lag applies. */
static bool wants_standby(int tsa)
{
	return tsa == LP_TSA_READ_ONLY || tsa == LP_TSA_STANDBY || tsa == LP_TSA_PREFER_STANDBY;
}

static struct lp_host_state *note_role(struct lp_db *db, int idx, enum lp_host_role role,
				       bool ro, bool *fits)
{
	*fits = lp_hosts_role_fits(db->conf.target_session_attrs, role, ro);
	struct lp_host_state *hs = states(db);
	if (!hs || idx >= db->nhosts)
		return NULL;
	hs[idx].seen = true;
	hs[idx].role = (uint8_t)role;
	hs[idx].read_only = ro;
	if (role != LP_HOST_ROLE_STANDBY)
		hs[idx].lagging = false;
	else if (hs[idx].lagging && wants_standby(db->conf.target_session_attrs))
		*fits = false;
	return &hs[idx];
}

/* Entry i was last seen a primary and is reachable. */
static bool hs_primary(const struct lp_db *db, int i)
{
	const struct lp_host_state *h = &db->hosts[i];
	return h->role == LP_HOST_ROLE_PRIMARY && h->seen &&
	       (h->skip_until_us == 0 || h->wrong_role);
}

enum lp_hosts_verdict lp_hosts_logged_in(struct lp_db *db, int idx, enum lp_host_role role,
					 bool ro, bool any_role, int64_t now_us, int64_t retry_us,
					 char *why, size_t whycap)
{
	bool fits;
	struct lp_host_state *h = note_role(db, idx, role, ro, &fits);
	if (fits || any_role) {
		if (h) {
			h->wrong_role = !fits;
			if (fits)
				h->skip_until_us = 0;
		}
		db->hosts_failed_in_row = 0;
		return LP_HOSTS_USE;
	}
	if (h && h->lagging && role == LP_HOST_ROLE_STANDBY)
		snprintf(why, whycap, "target_session_attrs=%s: the standby's %s",
			 lp_config_tsa_name(db->conf.target_session_attrs), h->last_error);
	else
		snprintf(why, whycap, "target_session_attrs=%s: the host is %s",
			 lp_config_tsa_name(db->conf.target_session_attrs), role_text(role, ro));
	int n = host_count(db);
	bool prefer = db->conf.target_session_attrs == LP_TSA_PREFER_STANDBY;
	if (!h || n < 2)
		return prefer ? LP_HOSTS_USE : LP_HOSTS_NONE;
	h->wrong_role = true;
	h->skip_until_us = now_us + (retry_us > 0 ? retry_us : 1);
	if (!h->lagging)
		snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	if (!row_complete(db, idx, n))
		return LP_HOSTS_SKIP;
	/* Every host failed or is in the wrong role: prefer-standby takes
	 * what it found (a primary before a standby behind on replay, which
	 * the next pick offers); the others fail as a single host would. */
	if (!prefer)
		return LP_HOSTS_NONE;
	if (h->lagging)
		for (int i = 0; i < n; i++)
			if (i != idx && hs_primary(db, i))
				return LP_HOSTS_SKIP;
	return LP_HOSTS_USE;
}

bool lp_hosts_lag_wanted(const struct lp_db *db, enum lp_host_role role)
{
	return db->conf.max_replica_lag > 0 && wants_standby(db->conf.target_session_attrs) &&
	       role == LP_HOST_ROLE_STANDBY;
}

bool lp_hosts_lag_due(struct lp_db *db, int idx, int64_t now_us)
{
	struct lp_host_state *hs = states(db);
	if (!hs || idx >= db->nhosts || db->conf.max_replica_lag <= 0 ||
	    !wants_standby(db->conf.target_session_attrs) || hs[idx].role != LP_HOST_ROLE_STANDBY ||
	    now_us - hs[idx].lag_checked_us < 1000000)
		return false;
	hs[idx].lag_checked_us = now_us;
	return true;
}

bool lp_hosts_lag_measured(struct lp_db *db, int idx, int64_t lag_us, int64_t now_us,
			   int64_t retry_us)
{
	struct lp_host_state *hs = states(db);
	if (!hs || idx >= db->nhosts)
		return true;
	struct lp_host_state *h = &hs[idx];
	h->lag_us = lag_us;
	h->lag_checked_us = now_us;
	h->lagging = db->conf.max_replica_lag > 0 && lag_us > db->conf.max_replica_lag;
	if (!h->lagging)
		return true;
	snprintf(h->last_error, sizeof(h->last_error),
		 "replay lag %.1f s over max_replica_lag %.1f s", (double)lag_us / 1e6,
		 (double)db->conf.max_replica_lag / 1e6);
	if (db->nhosts > 1) {
		h->wrong_role = true;
		h->skip_until_us = now_us + (retry_us > 0 ? retry_us : 1);
	}
	return false;
}

bool lp_hosts_role_changed(struct lp_db *db, int idx, bool standby, int64_t now_us,
			   int64_t retry_us)
{
	struct lp_host_state *h = states(db);
	if (h && idx < db->nhosts) {
		h = &h[idx];
		h->role = standby ? LP_HOST_ROLE_STANDBY : LP_HOST_ROLE_PRIMARY;
	} else {
		h = NULL;
	}
	/* default_transaction_read_only as it was at login: a client's SET of
	 * it says nothing of the host. */
	bool fits = lp_hosts_role_fits(db->conf.target_session_attrs,
				       standby ? LP_HOST_ROLE_STANDBY : LP_HOST_ROLE_PRIMARY,
				       h && h->read_only);
	/* prefer-standby keeps a primary it took for want of a standby. */
	if (fits || db->conf.target_session_attrs == LP_TSA_PREFER_STANDBY)
		return true;
	if (h && db->nhosts > 1) {
		h->wrong_role = true;
		h->skip_until_us = now_us + (retry_us > 0 ? retry_us : 1);
	}
	return false;
}

bool lp_hosts_may_fail_over(const struct lp_db *db)
{
	return host_count(db) > 1 || db->conf.target_session_attrs != LP_TSA_ANY;
}

const struct lp_host_state *lp_hosts_state(const struct lp_db *db, int idx)
{
	return db->hosts && idx < db->nhosts && idx >= 0 ? &db->hosts[idx] : NULL;
}

void lp_hosts_reset(struct lp_db *db)
{
	free(db->hosts);
	db->hosts = NULL;
	db->nhosts = 0;
	db->hosts_failed_in_row = 0;
	db->host_next = 0;
}
