/*
 * The pooling core's objects: the instance, databases, users, pools, clients
 * and servers.
 *
 * Ownership: the instance owns the registry (databases, users, pools);
 * a pool owns its clients and servers through its state lists. Every client
 * and server state owns exactly one list (PgBouncer's habit), so SHOW POOLS
 * counts are list lengths and a state change is one list move.
 */
#ifndef LP_POOL_POOL_H
#define LP_POOL_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth/scram.h"
#include "auth/userlist.h"
#include "config/config.h"
#include "core/list.h"
#include "metrics/metrics.h"
#include "net/dns.h"
#include "net/io.h"
#include "proto/track.h"

/* A server's request ring: this many entries inside lp_server, grown on a
 * deeper pipeline up to LP_TRACK_MAX, beyond which the client waits for
 * answers (PostgreSQL flushes them at least every 8 kB). */
#define LP_TRACK_INLINE 8
#define LP_TRACK_MAX 16384

/* Clients past max_client_conn kept until their StartupMessage (so that the
 * refusal comes after an SSLRequest's answer, where libpq shows it); more
 * than this many are refused at accept. */
#define LP_OVER_LIMIT_PENDING 64

struct lp_instance;
struct lp_pool;
struct lp_server;

/* Parameters a client may set that must follow it from server to server.
 * Arrays grow on demand (an idle client usually has none); each name's
 * case-folded hash is compared before the name itself. */
#define LP_MAX_TRACKED 32
struct lp_params {
	char **name;                    /* one block: cap names, cap values, */
	char **value;                   /* then cap uint32_t name hashes */
	uint64_t stamp;                 /* new, instance-unique, on every change */
	uint8_t n, cap;
	uint32_t tracked;               /* bit i: name[i] is tracked (lp_params_mark_tracked) */
};

enum lp_client_state {
	LP_CL_LOGIN,        /* startup / authentication; instance login list */
	LP_CL_WAIT_LOGIN,   /* authenticated, waiting for the pool's first server */
	LP_CL_ACTIVE,       /* logged in; may or may not hold a server */
	LP_CL_WAITING,      /* needs a server, queued FIFO in its pool */
	LP_CL_WAIT_REPL,    /* replication: authenticated, its own server is being
			     * opened (or waits for room); in waiting_clients */
	LP_CL_JUSTFREE,     /* closed; freed at the end of the loop turn */
};

enum lp_server_state {
	LP_SV_LOGIN,        /* connecting / authenticating */
	LP_SV_IDLE,         /* clean, ready for a client */
	LP_SV_USED,         /* released; needs reset/check before reuse */
	LP_SV_ACTIVE,       /* linked to a client */
	LP_SV_INTERNAL,     /* running a pooler query (reset, rollback, SET, check) */
	LP_SV_JUSTFREE,
};

enum lp_auth_phase { LP_AUTH_NONE, LP_AUTH_WAIT_PASSWORD, LP_AUTH_WAIT_MD5,
		     LP_AUTH_WAIT_SCRAM_FIRST, LP_AUTH_WAIT_SCRAM_FINAL, LP_AUTH_DONE,
		     LP_AUTH_WAIT_QUERY, /* auth_query running for this user */
		     LP_AUTH_WAIT_EXT_PASSWORD, /* cleartext password asked for LDAP / PAM */
		     LP_AUTH_WAIT_EXT /* LDAP / PAM check running (extauth.c) */ };
struct lp_extauth_job;
struct lp_authq_pool;
struct lp_authq_wait;
struct lp_login_buf;
struct lp_welcome_msgs;
struct lp_prep_client;
struct lp_prep_server;

struct lp_client {
	/* Fields grouped by size, so that the struct packs without holes: a
	 * client held idle is this struct and little else (bench scenario 5:
	 * 504 bytes, a 512-byte allocation). */
	struct lp_io io;
	struct lp_list_node node;       /* in exactly one state list */
	struct lp_list_node cancel_node;/* cancel-key hash chain */
	uint64_t id;
	struct lp_instance *inst;
	struct lp_pool *pool;
	struct lp_server *server;       /* linked server or NULL */
	struct lp_user *user;
	/* The database of a login in progress (lp_registry_db_acquire(),
	 * released when the login ends); the pool comes after authentication */
	struct lp_db *login_db;
	char *user_name, *db_name;      /* one block: free user_name only */
	struct lp_params params;        /* values the client expects on its server */
	struct lp_scram_server *scram;
	/* auth_query state of a login that used it (auth_query.c), else NULL:
	 * allocated only then, so an idle client does not carry it */
	struct lp_authq_wait *authq;
	/* LDAP / PAM check of a login using one (extauth.c), else NULL */
	struct lp_extauth_job *extauth;
	/* a login packet longer than pkt_buf being assembled (login_buf.h) */
	struct lp_login_buf *login_buf;
	int64_t connect_us, request_us, wait_start_us, last_active_us;
	struct lp_db *admin_wait_db;    /* NULL: every database */
	struct lp_user *login_user;     /* counted in its client_count while logged in */
	struct lp_prep_client *prep;    /* its named prepared statements (prepared.c), or NULL */
	/* A replication connection (enum lp_repl, not NONE): its server is its
	 * own (replication.c), opened with these startup parameters --
	 * "name\0value\0" pairs, the client's own but user and database. */
	char *repl_params;
	enum lp_client_state state;
	enum lp_auth_phase auth;
	uint32_t cancel_pid, cancel_key;
	uint8_t md5_salt[4];
	/* The peer in binary (AF_UNIX: none); lp_client_addr() formats it
	 * when a log line or SHOW needs it, so an idle client keeps 17 bytes,
	 * not INET6_ADDRSTRLEN. */
	uint8_t addr_ip[16];
	uint16_t port;
	uint16_t repl_nparams;
	uint8_t addr_family;
	char last_rfq;                  /* transaction status last seen */
	/* admin console: a command (PAUSE, WAIT_CLOSE ...) whose completion
	 * is still owed; the console holds further input until it is sent */
	uint8_t admin_wait;
	uint8_t replication;
	bool admin : 1;                 /* connected to the console database */
	bool admin_full : 1;            /* in admin_users (else stats_users) */
	bool startup_done : 1;
	bool closing : 1;
	bool scram_auth : 1;            /* logged in with SCRAM: keys usable for pass-through */
	bool sasl_method : 1;           /* the method asked is scram-sha-256: refusals say SASL */
	bool tls_direct : 1;            /* TLS began without SSLRequest (sslnegotiation=direct) */
	bool wait_notified : 1;         /* query_wait_notify's notice sent for this wait */
	bool over_limit : 1;            /* past max_client_conn: refused at its StartupMessage */
	bool extauth_pam : 1;           /* its external check is PAM (else LDAP) */
};

struct lp_server {
	struct lp_io io;
	struct lp_list_node node;
	enum lp_server_state state;
	uint64_t id;
	struct lp_pool *pool;
	struct lp_client *client;       /* linked client or NULL */
	struct lp_params params;        /* values the backend currently has */
	uint64_t welcome_stamp[2];      /* params and pool welcome stamps when
					 * welcome_ok was computed */
	uint32_t welcome_ok;            /* bit k: holds the welcome's tracked value k */
	uint32_t be_pid, be_key;
	/* What the connection owes its client: requests in flight, COPY, the
	 * open batch, the transaction status. The only judge of whether the
	 * link may be released (proto/track.h). */
	struct lp_track trk;
	struct lp_trk_req trk_inline[LP_TRACK_INLINE];  /* the ring until it grows */
	bool client_waits_room;         /* the ring was full: the client waits for answers */
	struct lp_prep_server *prep;    /* prepared statements it holds (prepared.c), or NULL */
	bool close_needed;              /* configuration changed / RECONNECT */
	bool release_pending;           /* release once flushed to the client */
	bool cancel_in_flight;          /* a cancel to this backend is not answered yet (cancel.c) */
	bool release_parked;            /* released while cancel_in_flight: resumed by cancel.c */
	bool reset_for_leaver;          /* the release is for a client leaving (session reset) */
	bool ready;                     /* login finished */
	bool reused;                    /* released by a client at least once (server_check_query) */
	bool tls_answer_pending;        /* SSLRequest sent, 'S'/'N' not read yet */
	/* enum lp_repl: a replication connection, opened for ->client alone
	 * and closed when it leaves (replication.c); never pooled */
	uint8_t replication;
	int64_t connect_us, last_used_us, lifetime_us, request_us;
	int64_t xact_start_us;          /* first query of the open transaction; 0: none */
	int64_t last_rfq_us;            /* last ReadyForQuery passed to the client */
	/* login */
	struct lp_dns_req *dns_req;     /* host name lookup in flight */
	struct sockaddr_storage peer;   /* where we connected: cancels go there too */
	socklen_t peer_len;
	int naddr, addr_tries;          /* addresses of the host name, connects tried */
	/* The entry of the database's host list this connection uses ("":
	 * the default unix socket directory), and its index. */
	char host[LP_HOST_LEN];
	int host_idx;
	bool any_role;                  /* prefer-standby found no standby: any role will do */
	/* What the server is (enum lp_host_role), from in_hot_standby or, for
	 * PostgreSQL before 14, asked (probe.c); and its replay lag as the
	 * max_replica_lag query answered (-1: none). */
	uint8_t role;
	bool read_only;
	int64_t lag_us;
	struct lp_scram_client *scram;
	int login_step;
	/* what to do when a pooler query finishes */
	void (*internal_done)(struct lp_server *s, bool ok);
	int64_t internal_start_us;      /* when the running pooler query was sent */
	char internal_error[256];
	/* DataRows of a pooler query, when its caller wants them (auth_query) */
	void (*internal_row)(struct lp_server *s, const uint8_t *body, uint32_t len);
};

struct lp_db {
	struct lp_list_node node;
	char *name;
	struct lp_db_conf conf;         /* private copy */
	bool from_wildcard;             /* an auto-database, made from the '*' entry */
	bool removed;
	bool paused, disabled;
	/* Made for one login or auth_query lookup before authentication and
	 * kept out of inst->dbs (so out of every listing): freed with its last
	 * reference. unknown: no such database and no '*' entry -- a
	 * placeholder that lets the login run the same exchange as any other. */
	bool unlisted, unknown;
	bool reap_busy, reap_proven;    /* scratch of lp_registry_reap() */
	int refs;                       /* lp_registry_db_acquire() holders */
	int64_t idle_since_us;          /* auto or removed database unused since; 0: in use */
	struct lp_list_node idle_node;  /* in inst->idle_dbs while idle_since_us is set */
	int server_count;               /* for max_db_connections */
	/* The host list's state (hosts.c): the entry the next server
	 * connection takes (load_balance_hosts), what is known of each entry
	 * (made on first use, nhosts entries), and the entries (bit i) that
	 * failed in a row since a connection last found a usable host. */
	unsigned host_next;
	struct lp_host_state *hosts;
	int nhosts;
	uint32_t hosts_failed_in_row;
	int client_count;
	struct lp_db_metrics metrics;   /* histograms and counters for /metrics */
	uint64_t metrics_id;            /* order of first sight by a scrape; 0: not yet (exporter.c) */
	/* The registry's index by name (registry.c): the chain of its bucket,
	 * and whether it is in the index (listed and not removed). */
	struct lp_db *index_next;
	bool indexed;
};

struct lp_user {
	struct lp_list_node node;
	char *name;
	char *secret;                   /* from auth_file; may be NULL (forced db user) */
	struct lp_user_conf conf;       /* [users] entry or all -1 */
	bool in_auth_file;
	uint8_t scram_client_key[LP_SCRAM_KEY_LEN];
	bool have_client_key;           /* learnt from a client's SCRAM proof */
	char *authq_secret;             /* from auth_query; NULL: none (or unknown user) */
	/* The cleartext password a client proved by LDAP or PAM (extauth.c):
	 * the server login's password when neither of the above gives one */
	char *ext_secret;
	struct lp_user_scram *scram_cache;  /* lp_user_scram: the secret parsed once */
	const struct lp_pool *authq_pool;  /* the auth pool that answered, */
	uint64_t authq_query_hash;      /* with which query (auth_query.c) */
	int64_t authq_until_us;         /* cache expiry of the answer */
	/* SCRAM secret derived once from a plain-text password, with the same
	 * stable salt an unknown user would show (client_auth.c); the tag
	 * notices a changed password. */
	struct lp_scram_secret plain_scram;
	uint8_t plain_scram_tag[32];
	bool have_plain_scram;
	int server_count;
	int client_count;               /* clients logged in as this user (any database) */
};

/*
 * Per-pool counters, only ever increased (SHOW STATS_TOTALS sums them per
 * database). bytes_in: bytes received from clients and forwarded; bytes_out:
 * bytes sent to clients from servers. Times in microseconds: xact_time from
 * a transaction's first query to its end, query_time from a query to its
 * ReadyForQuery, wait_time from the moment a client needs a server until it
 * is linked to one. Owned by the admin/stats code (src/pool/stats.c);
 * /metrics reads it.
 */
struct lp_pool_stats {
	uint64_t xact_count, query_count, bytes_in, bytes_out;
	uint64_t xact_time_us, query_time_us, wait_time_us;
	uint64_t server_assignments, client_parses, server_parses, binds, client_logins;
};

struct lp_pool {
	struct lp_list_node node;
	struct lp_instance *inst;
	struct lp_db *db;
	struct lp_user *user;           /* the user servers log in as */
	struct lp_list active_clients;  /* LP_CL_ACTIVE */
	struct lp_list waiting_clients; /* LP_CL_WAITING, LP_CL_WAIT_LOGIN, LP_CL_WAIT_REPL */
	int repl_waiting;               /* of those, LP_CL_WAIT_REPL (lp_client_set_state) */
	struct lp_list idle_servers;
	struct lp_list used_servers;    /* LP_SV_USED and LP_SV_INTERNAL */
	struct lp_list active_servers;
	struct lp_list login_servers;
	struct lp_params welcome;       /* server ParameterStatus set for new clients */
	bool welcome_ready;
	struct lp_welcome_msgs *welcome_msgs; /* welcome as built messages (client.c) */
	char login_error[256];          /* last server login failure (no secrets) */
	char login_error_code[6];
	int64_t last_login_fail_us;
	int64_t last_login_ok_us;
	struct lp_pool_stats stats;
	/* snapshots taken at the last two stats_period boundaries, for the
	 * averages (see stats.c) */
	struct lp_pool_stats stats_newer, stats_older;
	struct lp_authq_pool *authq;    /* auth_query lookups using this pool, else NULL */
	/* In inst->grow_pools while a grow is posted (lp_link_grow_later):
	 * unlinked node = nothing posted. */
	struct lp_list_node grow_node;
	int64_t idle_since_us;          /* no client, server or lookup since; 0: in use (pool_idle_timeout) */
	uint64_t metrics_id;            /* order of first sight by a scrape; 0: not yet (exporter.c) */
};

#endif
