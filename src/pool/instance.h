/*
 * The running pooler: the event loop, the current configuration generation,
 * the registry of databases/users/pools, the listeners and the process-wide
 * lifecycle (pause, shutdown). Passed explicitly to whoever needs it.
 */
#ifndef LP_POOL_INSTANCE_H
#define LP_POOL_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "auth/userlist.h"
#include "config/config.h"
#include "core/list.h"
#include "net/dns.h"
#include "pool/generation.h"
#include "pool/console.h"
#include "pool/pool.h"
#include "pool/security.h"

enum lp_shutdown_mode {
	LP_RUN,
	LP_SHUTDOWN_WAIT_CLIENTS,       /* SIGTERM: exit when every pooled client left */
	LP_SHUTDOWN_WAIT_SERVERS,       /* SIGINT: pause, exit when no server connection is left */
	LP_SHUTDOWN_NOW,
};

#define LP_MAX_LISTENERS 16
#define LP_CANCEL_BUCKETS 4096

struct lp_prep_table;

struct lp_listener {
	int fd;
	struct event ev;
	bool is_unix;
	char path[256];
};

struct lp_instance {
	struct event_base *base;
	struct lp_dns *dns;             /* async resolver + cache for [databases] hosts */
	struct lp_config cfg;           /* current generation */
	struct lp_userlist users_file;  /* current auth_file contents */
	struct lp_security sec;         /* TLS contexts and HBA rules of cfg */
	const char *config_path;

	/* A database or pool is appended when created and never moved, so
	 * list order is creation order: a scrape that spans loop turns
	 * resumes by it (exporter.c). Removing one is always safe. */
	struct lp_list dbs;
	/* The listed databases that are not removed, by name (registry.c):
	 * a login finds its database without walking the list. NULL when
	 * memory ran out: lookups walk the list then. */
	struct lp_db **db_index;
	uint32_t db_index_cap;          /* buckets, a power of two */
	uint32_t db_index_n;            /* databases in it */
	struct lp_list idle_dbs;        /* unused auto/removed databases, longest unused first */
	struct lp_list users;
	struct lp_list pools;

	struct lp_list login_clients;   /* LP_CL_LOGIN */
	struct lp_list admin_clients;   /* LP_CL_ACTIVE on the console */
	struct lp_list justfree_clients;
	struct lp_list justfree_servers;
	struct lp_list cancel_hash[LP_CANCEL_BUCKETS];
	struct lp_authq *authq;         /* auth_query.c: names not found; NULL until one */
	struct lp_prep_table *prep;     /* prepared statements by text (prepared.c), or NULL */
	uint64_t login_buf_bytes;       /* held by login packets longer than pkt_buf */
	struct lp_list grow_pools;      /* pools with a posted grow (lp_link_grow_later) */
	struct lp_list cancel_reqs;     /* cancels forwarded, not answered yet (cancel.c) */
	struct lp_peer_group *peer_group; /* peers_dns and counters per peer (cancel.c) */

	struct lp_listener listeners[LP_MAX_LISTENERS];
	int nlisteners;
	bool listening;

	int client_count;               /* every client, for max_client_conn */
	/* Clients and servers are numbered from one sequence, as PgBouncer
	 * numbers its sockets: SHOW SOCKETS' id and the C-/S- log prefixes. */
	uint64_t next_socket_id;
	bool paused;
	bool suspended;                 /* SUSPEND: paused without closing servers */
	int64_t suspend_start_us;       /* when SUSPEND began (suspend_timeout) */
	/* SHOW FDS gave the sockets to a process taking over (online restart):
	 * they must leave this one untouched -- no Terminate, no unlinked
	 * socket file (takeover.c). */
	bool handed_off;
	struct lp_client *takeover_peer;  /* the console session that took them */
	enum lp_shutdown_mode shutdown;
	uint8_t fake_salt_key[32];      /* stable fake SCRAM salts for unknown users */

	struct event *janitor_ev;
	struct event *reaper_ev;
	struct event *post_ev;          /* runs posted work next turn (lp_link_grow_later) */
	struct event *sig_ev[8];
	int64_t started_us;
	int64_t last_stats_us;          /* last stats_period boundary */
	int64_t prev_stats_us;          /* the one before: averages span from it */

	/* The console's own counters (logins, commands): its row of SHOW
	 * STATS and part of SHOW TOTALS, as PgBouncer's admin pool has; with
	 * the two stats_period snapshots a pool keeps (stats.c). */
	struct lp_pool_stats console_stats, console_newer, console_older;
	struct lp_metrics metrics;      /* process-wide counters (src/metrics) */
	const struct lp_console_ops *console; /* the admin console's hooks (console.h); set by main.c */
	struct lp_exporter *exporter;   /* the /metrics endpoint, or NULL (pool/exporter.c) */
	struct lp_extauth *extauth;     /* LDAP / PAM worker threads, or NULL (pool/extauth.c) */
};

/* instance.c */
/* The clock, cached per loop turn (instance.c). */
int64_t lp_now_us(void);          /* CLOCK_MONOTONIC µs, cached per loop turn */
int64_t lp_now_exact_us(void);    /* the clock itself, for intervals inside a turn */
void lp_now_turn(bool in_loop);   /* a loop turn starts (true) / the loop ended (false) */


/* Takes g over (left zeroed) as the first generation. */
int lp_instance_init(struct lp_instance *inst, const char *config_path, struct lp_generation *g);
void lp_instance_cleanup(struct lp_instance *inst);
int lp_instance_listen(struct lp_instance *inst);
void lp_instance_stop_listening(struct lp_instance *inst);
/* Online restart: listeners handed over by the process being replaced, one
 * by one (path: the unix socket's file), then all started at once instead
 * of lp_instance_listen. */
int lp_instance_adopt_listener(struct lp_instance *inst, int fd, bool is_unix, const char *path);
void lp_instance_listen_adopted(struct lp_instance *inst);
/* Reads a whole new generation (lp_generation_load) and swaps it in. On any
 * error logs every problem and keeps the running one: -1 with the first
 * problem in why (NULL: not wanted). */
int lp_instance_reload(struct lp_instance *inst, char *why, size_t whycap);
/* Admin SET key = value: stored only when the value and everything built
 * from it (TLS, HBA, auth_file's users, log file) are good; else -1, nothing
 * changed, the reason in why. */
int lp_instance_set(struct lp_instance *inst, const char *key, const char *value, char *why,
		    size_t whycap);
/* The TCP options the settings ask for (net/io.h), and their re-application
 * to the TCP listeners after a start, reload or SET. */
void lp_settings_tcp_tuning(const struct lp_settings *s, struct lp_tcp_tuning *t);
void lp_instance_tune_listeners(struct lp_instance *inst);
void lp_instance_pause(struct lp_instance *inst);
void lp_instance_resume(struct lp_instance *inst);
/* Listeners stop (SUSPEND: new connections wait in the backlog, which an
 * online restart hands over) or start accepting again. */
void lp_instance_accepting(struct lp_instance *inst, bool on);
void lp_instance_shutdown(struct lp_instance *inst, enum lp_shutdown_mode mode);
/* Exits the loop if the shutdown condition holds. */
void lp_instance_check_shutdown(struct lp_instance *inst);
/* Schedule freeing of closed objects at the end of this loop turn. */
void lp_instance_schedule_reap(struct lp_instance *inst);
/* Schedule the posted work (lp_link_run_posted) for the next loop turn. */
void lp_instance_post(struct lp_instance *inst);

#endif
