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
#include "pool/pool.h"
#include "pool/security.h"

enum lp_shutdown_mode {
	LP_RUN,
	LP_SHUTDOWN_WAIT_CLIENTS,       /* SIGTERM: exit when every client left */
	LP_SHUTDOWN_WAIT_SERVERS,       /* SIGINT: exit when no transaction is open */
	LP_SHUTDOWN_NOW,
};

#define LP_MAX_LISTENERS 16
#define LP_CANCEL_BUCKETS 4096

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

	struct lp_list dbs;
	struct lp_list idle_dbs;        /* unused auto/removed databases, longest unused first */
	struct lp_list users;
	struct lp_list pools;

	struct lp_list login_clients;   /* LP_CL_LOGIN */
	struct lp_list admin_clients;   /* LP_CL_ACTIVE on the console */
	struct lp_list justfree_clients;
	struct lp_list justfree_servers;
	struct lp_list cancel_hash[LP_CANCEL_BUCKETS];
	struct lp_list authq_reqs;      /* auth_query lookups in flight */

	struct lp_listener listeners[LP_MAX_LISTENERS];
	int nlisteners;
	bool listening;

	int client_count;               /* every client, for max_client_conn */
	uint64_t next_client_id, next_server_id;
	bool paused;
	bool suspended;                 /* SUSPEND: paused without closing servers */
	enum lp_shutdown_mode shutdown;
	uint8_t fake_salt_key[32];      /* stable fake SCRAM salts for unknown users */

	struct event *janitor_ev;
	struct event *reaper_ev;
	struct event *sig_ev[8];
	int64_t started_us;
	int64_t last_stats_us;          /* last stats_period boundary */
	int64_t prev_stats_us;          /* the one before: averages span from it */

	struct lp_metrics metrics;      /* process-wide counters (src/metrics) */
	struct lp_exporter *exporter;   /* the /metrics endpoint, or NULL (pool/exporter.c) */
};

/* instance.c */
int lp_instance_init(struct lp_instance *inst, const char *config_path, struct lp_config *cfg,
		     struct lp_userlist *ul);
void lp_instance_cleanup(struct lp_instance *inst);
int lp_instance_listen(struct lp_instance *inst);
void lp_instance_stop_listening(struct lp_instance *inst);
/* Re-reads config and auth_file; on any error logs it and keeps the old. */
int lp_instance_reload(struct lp_instance *inst);
/* A setting of the current generation changed (admin SET): re-applies the
 * log settings and the per-database/per-user limits. */
void lp_instance_settings_changed(struct lp_instance *inst);
/* The TCP options the settings ask for (net/io.h), and their re-application
 * to the TCP listeners after a start, reload or SET. */
void lp_settings_tcp_tuning(const struct lp_settings *s, struct lp_tcp_tuning *t);
void lp_instance_tune_listeners(struct lp_instance *inst);
void lp_instance_pause(struct lp_instance *inst);
void lp_instance_resume(struct lp_instance *inst);
/* SUSPEND: stops (false) or restarts (true) reading pooled clients. */
void lp_instance_client_reading(struct lp_instance *inst, bool on);
void lp_instance_shutdown(struct lp_instance *inst, enum lp_shutdown_mode mode);
/* Exits the loop if the shutdown condition holds. */
void lp_instance_check_shutdown(struct lp_instance *inst);
/* Schedule freeing of closed objects at the end of this loop turn. */
void lp_instance_schedule_reap(struct lp_instance *inst);

/* registry.c */
/* The listed database of that name (not removed by a reload), or NULL:
 * never creates one. */
struct lp_db *lp_registry_find_db(struct lp_instance *inst, const char *name);
/* "pgbouncer" and "linkpool": the admin console, never a pooled database. */
bool lp_registry_console_name(const char *name);
/*
 * The database a login (or an auth_query lookup) asks for, before anyone
 * authenticated: the listed one, else a new unlisted one made from the '*'
 * entry, else an unlisted placeholder (db->unknown). Nothing a client sends
 * before authenticating adds to the registry. The caller holds a reference
 * and gives it back with lp_registry_db_release(). NULL: out of memory.
 */
struct lp_db *lp_registry_db_acquire(struct lp_instance *inst, const char *name);
/* Drops a reference; an unlisted database goes with its last. NULL: no-op. */
void lp_registry_db_release(struct lp_db *db);
/* After authentication only: the listed database of that name, else a new
 * auto-database from the '*' entry (*created set); NULL when there is none
 * (no '*', a console name, out of memory). */
struct lp_db *lp_registry_auto_db(struct lp_instance *inst, const char *name, bool *created);
/* Janitor: frees the auto-databases unused for autodb_idle_timeout (at once
 * if PostgreSQL never accepted a login to them) and the databases a reload
 * removed once unused, each with its pools and idle servers. */
void lp_registry_reap(struct lp_instance *inst, int64_t now);
struct lp_user *lp_registry_find_user(struct lp_instance *inst, const char *name);
struct lp_user *lp_registry_get_user(struct lp_instance *inst, const char *name);
struct lp_pool *lp_registry_get_pool(struct lp_instance *inst, struct lp_db *db,
				     struct lp_user *user);
/* Applies a new generation: creates/updates/removes databases and users. */
void lp_registry_apply(struct lp_instance *inst);
void lp_registry_cleanup(struct lp_instance *inst);
/* A pool outside the registry's list (no client is ever linked to it). */
struct lp_pool *lp_registry_private_pool(struct lp_instance *inst, struct lp_db *db,
					 struct lp_user *user);
void lp_registry_free_private_pool(struct lp_pool *pool);
/* The secret a user authenticates with: auth_file's, else auth_query's. */
const char *lp_user_secret(const struct lp_user *u);
/* Whether the user's secret is a SCRAM verifier; its parsed form into out
 * (may be NULL). Parsed once per secret text, not at every login. */
bool lp_user_scram(struct lp_user *u, struct lp_scram_secret *out);

/* client.c */
/* deferred: accepted through TCP_DEFER_ACCEPT, so input is probably there. */
void lp_client_accept(struct lp_instance *inst, int fd, const struct sockaddr *sa, socklen_t salen,
		      bool is_unix, bool deferred);
/* Sends an ErrorResponse (FATAL) and closes the client. */
void lp_client_fail(struct lp_client *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lp_client_close(struct lp_client *c, const char *reason);
/* The pooler linked a server to a waiting client: start forwarding. */
void lp_client_server_ready(struct lp_client *c);
/* The pool got its first server: finish the client's login. */
void lp_client_welcome(struct lp_client *c);
/* Resume parsing the client's buffered bytes (after a server was released). */
void lp_client_kick(struct lp_client *c);
struct lp_client *lp_cancel_find(struct lp_instance *inst, uint32_t pid, uint32_t key);
void lp_client_free(struct lp_client *c);

/* server.c */
struct lp_server *lp_server_connect(struct lp_pool *pool);
void lp_server_close(struct lp_server *s, const char *reason);
/* Runs sql as a pooler query; done() is called when it finishes. */
void lp_server_internal(struct lp_server *s, const char *sql,
			void (*done)(struct lp_server *s, bool ok));
void lp_server_kick(struct lp_server *s);
void lp_server_free(struct lp_server *s);
void lp_server_send_cancel(struct lp_server *s);

/* link.c: assignment of servers to clients */
/* The client needs a server: link one now or queue the client. */
void lp_link_request(struct lp_client *c);
/* The client is done with its server (transaction end / leaving). */
void lp_link_release(struct lp_client *c, bool client_leaving);
/* A server became available or the pool's limits changed: serve waiters. */
void lp_link_dispatch(struct lp_pool *pool);
/* Move helpers keep every object in exactly one list. */
void lp_client_set_state(struct lp_client *c, enum lp_client_state st);
void lp_server_set_state(struct lp_server *s, enum lp_server_state st);
/* A response or a message is still in flight on s: handing it to another
 * client would splice two conversations. */
bool lp_server_owes_response(const struct lp_server *s);
/* No new server assignments in pool (PAUSE, SUSPEND, KILL). */
bool lp_pool_paused(const struct lp_pool *pool);
/* Paused and its released servers must close (PAUSE, not SUSPEND). */
bool lp_pool_draining(const struct lp_pool *pool);
/* Open new servers if clients wait and limits allow. */
void lp_link_grow(struct lp_pool *pool);
/* Server login failed: tell waiting clients. */
void lp_link_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg);

/* janitor.c */
void lp_janitor_start(struct lp_instance *inst);

#endif
