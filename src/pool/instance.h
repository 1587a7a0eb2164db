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

	/* A database or pool is appended when created and never moved, so
	 * list order is creation order: a scrape that spans loop turns
	 * resumes by it (exporter.c). Removing one is always safe. */
	struct lp_list dbs;
	struct lp_list idle_dbs;        /* unused auto/removed databases, longest unused first */
	struct lp_list users;
	struct lp_list pools;

	struct lp_list login_clients;   /* LP_CL_LOGIN */
	struct lp_list admin_clients;   /* LP_CL_ACTIVE on the console */
	struct lp_list justfree_clients;
	struct lp_list justfree_servers;
	struct lp_list cancel_hash[LP_CANCEL_BUCKETS];
	struct lp_authq *authq;         /* auth_query.c: names not found; NULL until one */
	struct lp_list grow_pools;      /* pools with a posted grow (lp_link_grow_later) */
	struct lp_list cancel_reqs;     /* cancels forwarded, not answered yet (cancel.c) */

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
	struct event *post_ev;          /* runs posted work next turn (lp_link_grow_later) */
	struct event *sig_ev[8];
	int64_t started_us;
	int64_t last_stats_us;          /* last stats_period boundary */
	int64_t prev_stats_us;          /* the one before: averages span from it */

	struct lp_metrics metrics;      /* process-wide counters (src/metrics) */
	struct lp_exporter *exporter;   /* the /metrics endpoint, or NULL (pool/exporter.c) */
};

/* instance.c */
/* Takes g over (left zeroed) as the first generation. */
int lp_instance_init(struct lp_instance *inst, const char *config_path, struct lp_generation *g);
void lp_instance_cleanup(struct lp_instance *inst);
int lp_instance_listen(struct lp_instance *inst);
void lp_instance_stop_listening(struct lp_instance *inst);
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
/* SUSPEND: stops (false) or restarts (true) reading pooled clients. */
void lp_instance_client_reading(struct lp_instance *inst, bool on);
void lp_instance_shutdown(struct lp_instance *inst, enum lp_shutdown_mode mode);
/* Exits the loop if the shutdown condition holds. */
void lp_instance_check_shutdown(struct lp_instance *inst);
/* Schedule freeing of closed objects at the end of this loop turn. */
void lp_instance_schedule_reap(struct lp_instance *inst);
/* Schedule the posted work (lp_link_run_posted) for the next loop turn. */
void lp_instance_post(struct lp_instance *inst);

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
/* Makes s's request ring bigger; false at LP_TRACK_MAX or out of memory. */
bool lp_server_track_grow(struct lp_server *s);
void lp_server_close(struct lp_server *s, const char *reason);
/* Runs sql as a pooler query; done() is called when it finishes. */
void lp_server_internal(struct lp_server *s, const char *sql,
			void (*done)(struct lp_server *s, bool ok));
/* The same over the extended protocol with one text parameter ($1); row()
 * gets each DataRow body of the answer. */
void lp_server_internal_param(struct lp_server *s, const char *sql, const char *param,
			      void (*done)(struct lp_server *s, bool ok),
			      void (*row)(struct lp_server *s, const uint8_t *body, uint32_t len));
void lp_server_kick(struct lp_server *s);
void lp_server_free(struct lp_server *s);
/* A non-blocking socket connected (in progress) to sa with the TCP options
 * of s's pool, or -1 with errno. */
int lp_server_open_socket(const struct lp_server *s, const struct sockaddr *sa, socklen_t len);

/* cancel.c */
/* Sends a cancel for s's backend; requester_fd (or -1) is closed once
 * PostgreSQL has taken it. False (nothing sent, requester_fd still the
 * caller's) when one is already in flight for s or it cannot be sent. */
bool lp_cancel_forward(struct lp_server *s, int requester_fd);
/* s is closing: its cancels in flight no longer refer to it. */
void lp_cancel_server_gone(struct lp_server *s);
void lp_cancel_cleanup(struct lp_instance *inst);

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
/* The same, posted to the end of this loop turn: for paths that close a
 * server, which must never connect from inside the close (a connect that
 * fails at once would close again, and so on down the stack). */
void lp_link_grow_later(struct lp_pool *pool);
/* Runs the posted grows (the instance's end-of-turn pass). */
void lp_link_run_posted(struct lp_instance *inst);
/* A pool is about to be freed: drop what is posted for it. */
void lp_link_forget_pool(struct lp_pool *pool);
/* The last cancel to s was answered: a release parked behind it goes on. */
void lp_link_cancel_done(struct lp_server *s);
/* Server logins of pool failed within server_login_retry: no new one yet. */
bool lp_pool_login_backoff(const struct lp_pool *pool);
/* s finished a pooler query no client waits for (auth_query): back to the
 * idle list, or closed when it must not be reused. */
void lp_link_server_idle(struct lp_server *s);
/* Server login failed: tell waiting clients. */
void lp_link_login_failed(struct lp_pool *pool, const char *sqlstate, const char *msg);

/* janitor.c */
void lp_janitor_start(struct lp_instance *inst);

#endif
