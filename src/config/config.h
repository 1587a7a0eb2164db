/*
 * One configuration generation: everything read from pgbouncer.ini (and its
 * %include files). A generation is built whole, validated, and only then
 * swapped in by the caller; a failed load leaves the old one untouched.
 * Nothing here is global: code reads the generation it is handed.
 */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/diag.h"

typedef int64_t lp_usec;                /* durations, microseconds */

/* The smallest packet buffer linkpool uses, whatever pkt_buf says: login
 * messages (startup packets, a server's ParameterStatus) are read whole. */
#define LP_PKT_BUF_FLOOR 512

enum lp_pool_mode { LP_POOL_SESSION, LP_POOL_TRANSACTION, LP_POOL_STATEMENT };
enum lp_auth_type { LP_AUTH_TRUST, LP_AUTH_ANY, LP_AUTH_PLAIN, LP_AUTH_MD5, LP_AUTH_SCRAM,
		    LP_AUTH_HBA, LP_AUTH_CERT, LP_AUTH_LDAP, LP_AUTH_PAM,
		    LP_AUTH_PEER /* only from an auth_hba_file rule: not an auth_type */ };
/* A database's load_balance_hosts (PgBouncer 1.24). */
enum lp_load_balance { LP_LB_ROUND_ROBIN, LP_LB_DISABLE };
/* A database's target_session_attrs: which servers of its host list a
 * connection may use, in libpq's meanings (pool/hosts.c decides). */
enum lp_tsa {
	LP_TSA_ANY, LP_TSA_READ_WRITE, LP_TSA_READ_ONLY, LP_TSA_PRIMARY, LP_TSA_STANDBY,
	LP_TSA_PREFER_STANDBY,
};
const char *lp_config_tsa_name(int tsa);
/* libpq's sslmode values, for both TLS sides. */
enum lp_sslmode { LP_SSLMODE_DISABLE, LP_SSLMODE_ALLOW, LP_SSLMODE_PREFER, LP_SSLMODE_REQUIRE,
		  LP_SSLMODE_VERIFY_CA, LP_SSLMODE_VERIFY_FULL };

/* The [pgbouncer] section. Strings are owned by the generation (never NULL
 * after load: empty string when unset). Durations in microseconds. */
struct lp_settings {
	char *listen_addr;
	int listen_port;
	char *unix_socket_dir;
	int unix_socket_mode;
	int listen_backlog;
	bool so_reuseport;
	char *user;
	char *pidfile;
	char *logfile;
	bool syslog;
	char *syslog_ident;
	char *syslog_facility;
	int verbose;
	bool log_connections;
	bool log_disconnections;
	bool log_pooler_errors;
	bool log_stats;
	lp_usec stats_period;

	enum lp_auth_type auth_type;
	char *auth_file;
	char *auth_user;
	char *admin_users;
	char *stats_users;
	char *auth_hba_file;
	char *auth_query;
	char *auth_dbname;
	lp_usec auth_query_cache_ttl;
	int auth_query_max_waiting;

	enum lp_sslmode client_tls_sslmode;
	char *client_tls_key_file;
	char *client_tls_cert_file;
	char *client_tls_ca_file;
	char *client_tls_protocols;
	char *client_tls_ciphers;
	enum lp_sslmode server_tls_sslmode;
	char *server_tls_key_file;
	char *server_tls_cert_file;
	char *server_tls_ca_file;
	char *server_tls_protocols;
	char *server_tls_ciphers;

	enum lp_pool_mode pool_mode;
	int max_client_conn;
	int default_pool_size;
	int min_pool_size;
	int reserve_pool_size;
	lp_usec reserve_pool_timeout;
	int max_db_connections;
	int max_user_connections;
	int max_db_client_connections;
	int max_user_client_connections;

	char *server_reset_query;
	bool server_reset_query_always;
	char *server_check_query;
	lp_usec server_check_delay;
	lp_usec server_lifetime;
	lp_usec server_idle_timeout;
	lp_usec server_connect_timeout;
	lp_usec server_login_retry;
	lp_usec client_login_timeout;
	lp_usec query_timeout;
	lp_usec query_wait_timeout;
	lp_usec client_idle_timeout;
	lp_usec idle_transaction_timeout;
	char *ignore_startup_parameters;
	char *track_extra_parameters;
	bool application_name_add_host;

	int pkt_buf;                    /* as configured; the buffers use at least LP_PKT_BUF_FLOOR */
	int max_packet_size;
	bool tcp_keepalive;
	int tcp_keepidle;
	int tcp_keepintvl;
	int tcp_keepcnt;
	lp_usec tcp_user_timeout;
	int tcp_defer_accept;
	int tcp_socket_buffer;
	lp_usec dns_max_ttl;

	char *metrics_listen_addr;
	int metrics_port;
	char *metrics_allow;
	int metrics_max_series;

	/* PgBouncer settings added for drop-in compatibility (1.18-1.25); the
	 * option table's doc strings say which of them have no effect here. */
	char *unix_socket_group;
	bool server_round_robin;
	bool disable_pqexec;
	bool server_fast_close;
	char *conffile;                 /* set to the loaded file when not given */
	char *service_name;
	char *job_name;
	lp_usec autodb_idle_timeout;
	int autodb_idle_max;            /* unused auto-databases kept at most; 0: no limit */
	lp_usec dns_nxdomain_ttl;
	lp_usec dns_zone_check_period;
	char *resolv_conf;
	char *client_tls_ecdhcurve;
	char *client_tls_dheparams;
	char *client_tls13_ciphers;
	char *server_tls13_ciphers;
	lp_usec suspend_timeout;
	int sbuf_loopcnt;
	int peer_id;
	char *peers_dns;                /* host name whose addresses are the peers */
	int peers_dns_port;             /* 0: listen_port */
	int max_prepared_statements;
	int scram_iterations;
	char *auth_ident_file;
	char *auth_ldap_options;
	lp_usec query_wait_notify;
	lp_usec pool_idle_timeout;
	char *login_notify_message;
	lp_usec transaction_timeout;
	lp_usec cancel_wait_timeout;
	bool shutdown_drain_clients;    /* graceful shutdowns close clients between transactions */
};

/* One [databases] entry. Integers are -1 when not given (use the default). */
struct lp_db_conf {
	char *name;
	char *host;                     /* NULL: unix socket in the default dir */
	int port;                       /* default 5432 */
	char *dbname;                   /* NULL: same as name */
	char *user;                     /* forced user, or NULL */
	char *password;
	char *auth_user;
	char *auth_query;               /* overrides the global auth_query */
	char *auth_dbname;              /* overrides the global auth_dbname */
	int pool_size;
	int min_pool_size;
	int reserve_pool;
	int max_db_connections;
	int max_db_client_connections;
	int pool_mode;                  /* enum lp_pool_mode or -1 */
	char *connect_query;
	char *client_encoding;
	char *datestyle;
	char *timezone;
	char *application_name;
	lp_usec server_lifetime;        /* -1: the global server_lifetime */
	lp_usec query_wait_timeout;     /* -1: the [users] entry's, else the global */
	int load_balance_hosts;         /* enum lp_load_balance or -1 */
	int target_session_attrs;       /* enum lp_tsa */
	lp_usec max_replica_lag;        /* -1 or 0: not checked */
	char *file;                     /* where it was defined */
	int line;
};

/* One [users] entry; -1 when not given. */
struct lp_user_conf {
	char *name;
	int pool_mode;
	int max_user_connections;
	int pool_size;
	int reserve_pool_size;
	int max_user_client_connections;
	lp_usec query_timeout;          /* timeouts: -1 when not given */
	lp_usec idle_transaction_timeout;
	lp_usec client_idle_timeout;
	lp_usec transaction_timeout;
	lp_usec query_wait_timeout;
	char *file;
	int line;
};

/* One [peers] entry (PgBouncer 1.19+): where cancel requests with that
 * peer's id in their key are forwarded (pool/cancel.c). */
struct lp_peer_conf {
	int id;                         /* 1..16383 */
	char *host;
	int port;                       /* default 6432 */
	int pool_size;                  /* -1 when not given */
	char *file;
	int line;
};

struct lp_config {
	char *path;                     /* the main file as given */
	struct lp_settings s;
	struct lp_db_conf *dbs;
	size_t ndbs;
	/* dbs by name (open addressing, position + 1, 0 empty), made while
	 * parsing; NULL in a config not made by the parser */
	size_t *dbidx;
	size_t dbidx_cap;               /* a power of two */
	struct lp_user_conf *users;
	size_t nusers;
	struct lp_peer_conf *peers;
	size_t npeers;
};

/* LP_OPT_TIME_MS: like TIME but a plain number means milliseconds (PgBouncer's
 * tcp_user_timeout); bounds in milliseconds. */
enum lp_opt_type { LP_OPT_STR, LP_OPT_INT, LP_OPT_BOOL, LP_OPT_TIME, LP_OPT_OCTAL,
		   LP_OPT_POOL_MODE, LP_OPT_AUTH_TYPE, LP_OPT_TIME_MS, LP_OPT_SSLMODE,
		   LP_OPT_PEER_ID /* an integer, or auto: from the host name */ };

/* The declarative option table: drives parsing, --check, SHOW CONFIG, SET
 * and docs/config.md. */
struct lp_option {
	const char *name;
	enum lp_opt_type type;
	size_t offset;                  /* into struct lp_settings */
	const char *def;                /* default, as written in the ini */
	int64_t min, max;               /* INT/OCTAL bounds; TIME bounds in seconds */
	bool reloadable;
	const char *doc;                /* one sentence for docs/config.md */
	/* Extra check of a value's text beyond its type (e.g. that a group
	 * exists); NULL: none. Returns 0, or -1 with a reason in why. */
	int (*check)(const char *text, char *why, size_t whycap);
};

const struct lp_option *lp_config_options(size_t *n);
const struct lp_option *lp_config_option_find(const char *name);

/*
 * Reads path (and %include files, relative to the including file's dir),
 * fills a new generation in *out. Returns 0, or -1 with every problem in diag
 * as "file:line: message" (unknown key, bad value, unknown section, missing
 * auth_file for auth types that need one, include loop ...). On -1 *out is
 * left freed/zeroed.
 */
int lp_config_load(const char *path, struct lp_config *out, struct lp_diag *diag);
/* Same from memory (tests, fuzzing); includes resolve against the cwd. */
int lp_config_parse(const char *text, size_t len, const char *file, struct lp_config *out,
		    struct lp_diag *diag);
void lp_config_free(struct lp_config *c);

/*
 * SET key = value in two steps, so a caller can build what depends on the
 * new value (TLS contexts, a userlist, a log file) and store it only when
 * all of that worked: prepare checks the value (reloadable options only)
 * into *ch without touching c; preview gives the settings as they would be
 * (a shallow copy sharing c's strings and ch's: never free it); commit
 * stores ch into c; discard drops it.
 */
struct lp_config_change {
	const struct lp_option *o;
	int64_t i;                      /* numeric and enum types */
	char *s;                        /* LP_OPT_STR, owned until commit/discard */
};
int lp_config_change_prepare(const struct lp_config *c, const char *key, const char *value,
			     struct lp_config_change *ch, const char **err);
void lp_config_change_preview(const struct lp_config *c, const struct lp_config_change *ch,
			      struct lp_settings *out);
void lp_config_change_commit(struct lp_config *c, struct lp_config_change *ch);
void lp_config_change_discard(struct lp_config_change *ch);
/* prepare + commit in one. */
int lp_config_set(struct lp_config *c, const char *key, const char *value, const char **err);
/* Formats an option's current value as SHOW CONFIG prints it. */
void lp_config_format(const struct lp_settings *s, const struct lp_option *o, char *out, size_t cap);

const struct lp_db_conf *lp_config_find_db(const struct lp_config *c, const char *name);
const struct lp_user_conf *lp_config_find_user(const struct lp_config *c, const char *name);

const char *lp_pool_mode_name(enum lp_pool_mode m);
const char *lp_auth_type_name(enum lp_auth_type t);
const char *lp_sslmode_name(enum lp_sslmode m);

/* true when name is in a comma/space separated list (case-sensitive names). */
bool lp_config_list_has(const char *list, const char *name);

/* A database's host= is a comma-separated list of host names, addresses and
 * unix socket directories (PgBouncer 1.17+), at most LP_HOSTS_MAX entries of
 * fewer than LP_HOST_LEN bytes each, none empty (checked when the file is
 * read). */
#define LP_HOSTS_MAX 16
#define LP_HOST_LEN 256
int lp_config_host_count(const char *list);
/* Copies entry idx % count of list into out (LP_HOST_LEN bytes). */
void lp_config_host_at(const char *list, int idx, char *out);

#endif
