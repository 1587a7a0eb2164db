/*
 * linkpool's own counters and histograms, and the one-line hooks the pooling
 * core calls to feed them.
 *
 * Below pool/ in the dependency order: nothing here knows a pool, a client
 * or a server. The core embeds struct lp_metrics in the instance and struct
 * lp_db_metrics in each database, and passes them in. Reasons arrive as the
 * free text the core already logs and are mapped to a small fixed set of
 * label values here, so label cardinality stays bounded whatever the text.
 */
#ifndef LP_METRICS_METRICS_H
#define LP_METRICS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/expo.h"

/* Histogram buckets: upper bounds in microseconds (100 us .. 60 s). */
#define LP_HISTO_BUCKETS 18
extern const uint64_t lp_histo_bounds_us[LP_HISTO_BUCKETS];

struct lp_histo {
	uint64_t counts[LP_HISTO_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	uint64_t count;
	uint64_t sum_us;
};

/* Why a server connection was closed (label `reason`). */
enum lp_sv_close_reason {
	LP_SVC_LIFETIME,        /* server_lifetime reached */
	LP_SVC_IDLE,            /* server_idle_timeout */
	LP_SVC_RELOAD,          /* database changed or removed by a reload, RECONNECT */
	LP_SVC_LOGIN_FAILED,    /* could not connect or log in */
	LP_SVC_CHECK_FAILED,    /* server_check_query failed */
	LP_SVC_CLIENT_LEFT,     /* unsafe to reuse after its client left (query in flight, reset failed) */
	LP_SVC_ERROR,           /* the backend closed or its socket failed */
	LP_SVC_PROTOCOL,        /* the backend broke the protocol */
	LP_SVC_SHUTDOWN,
	LP_SVC_ADMIN,           /* KILL and other console commands */
	LP_SVC_OTHER,
	LP_SVC_N
};

/* Why a client's login failed (label `reason`). */
enum lp_login_fail_reason {
	LP_LF_AUTH,             /* wrong password, unknown user, not allowed */
	LP_LF_NO_DATABASE,
	LP_LF_DB_DISABLED,
	LP_LF_MAX_CLIENT_CONN,
	LP_LF_SERVER_LOGIN,     /* authenticated, but no server could be had */
	LP_LF_TIMEOUT,          /* client_login_timeout */
	LP_LF_PROTOCOL,         /* malformed startup or authentication messages */
	LP_LF_SHUTDOWN,
	LP_LF_OTHER,
	LP_LF_N
};

enum lp_proto_err_source { LP_PE_CLIENT, LP_PE_SERVER, LP_PE_N };

/* Per database (the [databases] alias). */
struct lp_db_metrics {
	struct lp_histo wait;   /* client wait for a server */
	struct lp_histo query;  /* query sent .. ReadyForQuery */
	struct lp_histo xact;   /* first query .. ReadyForQuery 'I' */
	uint64_t server_opened;
	uint64_t server_closed[LP_SVC_N];
};

/* Process-wide. */
struct lp_metrics {
	uint64_t login_failures[LP_LF_N];
	uint64_t cancel_forwarded, cancel_unknown;
	uint64_t cancel_not_forwarded;  /* known key, but nothing running (or one in flight) */
	uint64_t refused_max_client_conn;
	uint64_t protocol_errors[LP_PE_N];
	uint64_t scrapes;
	int64_t last_scrape_build_us;   /* how long the previous /metrics took to build */
};

extern const char *const lp_sv_close_reason_names[LP_SVC_N];
extern const char *const lp_login_fail_reason_names[LP_LF_N];
extern const char *const lp_proto_err_source_names[LP_PE_N];

/* Pure classifiers (unit-tested). */
enum lp_sv_close_reason lp_metrics_close_reason(const char *reason);
enum lp_login_fail_reason lp_metrics_login_reason(bool authenticated, const char *sqlstate,
						  const char *msg);

void lp_histo_observe(struct lp_histo *h, int64_t us);
/* Writes the _bucket/_sum/_count samples of h; labels exclude `le`
 * (at most 6 pairs). */
void lp_expo_histo(struct lp_expo *e, const char *name, const char *const *labels,
		   const struct lp_histo *h);

/* ---- hooks for the core ---- */
static inline void lp_metrics_server_opened(struct lp_db_metrics *dm)
{
	dm->server_opened++;
}

static inline void lp_metrics_server_closed(struct lp_metrics *m, struct lp_db_metrics *dm,
					    const char *reason)
{
	enum lp_sv_close_reason r = lp_metrics_close_reason(reason);
	dm->server_closed[r]++;
	if (r == LP_SVC_PROTOCOL)
		m->protocol_errors[LP_PE_SERVER]++;
}

/* A client that never finished its login was refused. */
static inline void lp_metrics_login_failed(struct lp_metrics *m, bool authenticated,
					   const char *sqlstate, const char *msg)
{
	m->login_failures[lp_metrics_login_reason(authenticated, sqlstate, msg)]++;
}

static inline void lp_metrics_protocol_error(struct lp_metrics *m, enum lp_proto_err_source src)
{
	m->protocol_errors[src]++;
}

enum lp_cancel_result { LP_CANCEL_FORWARDED, LP_CANCEL_UNKNOWN_KEY, LP_CANCEL_NOT_FORWARDED };

static inline void lp_metrics_cancel_request(struct lp_metrics *m, enum lp_cancel_result r)
{
	if (r == LP_CANCEL_FORWARDED)
		m->cancel_forwarded++;
	else if (r == LP_CANCEL_UNKNOWN_KEY)
		m->cancel_unknown++;
	else
		m->cancel_not_forwarded++;
}

static inline void lp_metrics_max_client_conn(struct lp_metrics *m)
{
	m->refused_max_client_conn++;
}

static inline void lp_metrics_wait(struct lp_db_metrics *dm, int64_t us)
{
	lp_histo_observe(&dm->wait, us);
}

static inline void lp_metrics_query(struct lp_db_metrics *dm, int64_t us)
{
	lp_histo_observe(&dm->query, us);
}

static inline void lp_metrics_xact(struct lp_db_metrics *dm, int64_t us)
{
	lp_histo_observe(&dm->xact, us);
}

/* ---- process gauges (from /proc; no disk I/O) ---- */
struct lp_proc_stats {
	bool ok;
	int64_t open_fds, max_fds;
	uint64_t rss_bytes, vsize_bytes;
	uint64_t cpu_user_us, cpu_system_us;
	double start_time_s;            /* since the epoch */
};
/* Scratch memory kept by the caller between reads (starts zeroed). */
struct lp_proc_scratch {
	void *pfd;
	size_t cap;
};
void lp_proc_stats_read(struct lp_proc_stats *ps, struct lp_proc_scratch *scratch);
void lp_proc_scratch_cleanup(struct lp_proc_scratch *scratch);

#endif
