/*
 * The [pgbouncer] option table and the value codecs it drives: parsing a
 * value as written in the ini (or given to SET), storing it into struct
 * lp_settings, and formatting it back the way SHOW CONFIG prints it. A row
 * of the table is the only place an option is described: the parser, SET,
 * SHOW CONFIG and docs/config.md all read it. The keys of [databases] and
 * [users] have their own, smaller tables here too.
 */
#include "auth/ldap_opts.h"
#include "config/config.h"
#include "config/internal.h"
#include "core/cidr.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define US_PER_S INT64_C(1000000)
#define US_PER_MS INT64_C(1000)
/* Sanity cap for long durations (10 years): keeps microseconds far from overflow. */
#define LONG_S 315360000

#define OPT(n, t, d, lo, hi, r, text) \
	{ #n, LP_OPT_##t, offsetof(struct lp_settings, n), d, lo, hi, r, text, NULL }
/* The same with an extra value check (see struct lp_option). */
#define OPTC(n, t, d, lo, hi, r, text, chk) \
	{ #n, LP_OPT_##t, offsetof(struct lp_settings, n), d, lo, hi, r, text, chk }

/* The prefix of every setting linkpool accepts only so that a PgBouncer
 * configuration loads unchanged; the rest of the sentence says why. */
#define NO_EFFECT "Accepted for compatibility; no effect because "

static int parse_time(const char *text, int64_t unit_us, int64_t min, int64_t max, int64_t *out,
		      char *why, size_t whycap);

static int check_group(const char *text, char *why, size_t whycap)
{
	/* Checked while reading the file, so a typo gets its file:line. */
	if (*text && !getgrnam(text)) {
		snprintf(why, whycap, "no such group");
		return -1;
	}
	return 0;
}

static int check_cidr_list(const char *text, char *why, size_t whycap)
{
	struct lp_cidr list[LP_CIDR_MAX];
	return lp_cidr_parse_list(text, list, LP_CIDR_MAX, why, whycap) < 0 ? -1 : 0;
}

static int check_auth_dbname(const char *text, char *why, size_t whycap)
{
	/* The console is no database to run a query in (PgBouncer's words). */
	if (strcmp(text, "pgbouncer") == 0 || strcmp(text, "linkpool") == 0) {
		snprintf(why, whycap, "cannot use the reserved \"%s\" database as an auth_dbname", text);
		return -1;
	}
	return 0;
}

/* The one check that reaches into auth/: its LDAP option parser is pure (no
 * I/O, no state), and --check must say file:line of a bad value. */
static int check_ldap_options(const char *text, char *why, size_t whycap)
{
	struct lp_ldap_opts *o;
	if (!*text)
		return 0;
	o = malloc(sizeof(*o));
	if (!o) {
		snprintf(why, whycap, "out of memory");
		return -1;
	}
	int rc = lp_ldap_opts_parse(text, strlen(text), o, why, whycap);
	memset(o, 0, sizeof(*o));       /* ldapbindpasswd */
	free(o);
	return rc;
}

static int check_notify_message(const char *text, char *why, size_t whycap)
{
	/* It travels in the login's first reply, built in a fixed buffer. */
	if (strlen(text) > 1000) {
		snprintf(why, whycap, "longer than 1000 bytes");
		return -1;
	}
	return 0;
}

static int check_dheparams(const char *text, char *why, size_t whycap)
{
	if (strcasecmp(text, "none") == 0 || strcasecmp(text, "auto") == 0 ||
	    strcasecmp(text, "legacy") == 0)
		return 0;
	snprintf(why, whycap, "expected none, auto or legacy");
	return -1;
}

/* Defaults are written in canonical form (as lp_config_format prints them);
 * the unit tests hold the table to that. */
static const struct lp_option options[] = {
	OPT(listen_addr, STR, "", 0, 0, false,
	    "Comma-separated addresses for TCP listening, or `*` for all; "
	    "empty: no TCP, unix socket only."),
	OPT(listen_port, INT, "6432", 1, 65535, false,
	    "TCP port to listen on; the unix socket is named `.s.PGSQL.PORT` after it."),
	OPT(unix_socket_dir, STR, "/tmp", 0, 0, false,
	    "Directory for the unix socket; empty disables the unix socket."),
	OPT(unix_socket_mode, OCTAL, "0777", 0, 0777, false,
	    "File permissions of the unix socket, in octal."),
	OPTC(unix_socket_group, STR, "", 0, 0, false,
	     "Group owning the unix socket (the group must exist); empty: the process's group.",
	     check_group),
	OPT(listen_backlog, INT, "128", 1, 65535, false,
	    "Backlog passed to listen() on every listening socket."),
	OPT(so_reuseport, BOOL, "0", 0, 0, false,
	    "Set SO_REUSEPORT so several linkpool processes can share one port."),
	OPT(user, STR, "", 0, 0, false,
	    "When started as root, switch to this OS user after binding the sockets."),
	OPT(pidfile, STR, "", 0, 0, false, "Write the process id to this file; empty: no pid file."),
	OPT(logfile, STR, "", 0, 0, true, "Also log to this file; empty: log to stderr only."),
	OPT(syslog, BOOL, "0", 0, 0, true, "Also log to syslog."),
	OPT(syslog_ident, STR, "pgbouncer", 0, 0, true, "Program name used for syslog messages."),
	OPT(syslog_facility, STR, "daemon", 0, 0, true,
	    "Syslog facility (auth, authpriv, daemon, user, local0 to local7)."),
	OPT(verbose, INT, "0", 0, 3, true, "Extra debug logging: higher is chattier."),
	OPT(log_connections, BOOL, "1", 0, 0, true, "Log each successful client login."),
	OPT(log_disconnections, BOOL, "1", 0, 0, true, "Log each client disconnection with its reason."),
	OPT(log_pooler_errors, BOOL, "1", 0, 0, true,
	    "Log the error messages the pooler sends to clients."),
	OPT(log_stats, BOOL, "1", 0, 0, true, "Log aggregated statistics every stats_period."),
	OPT(stats_period, TIME, "60", 1, 86400, true,
	    "Interval between statistics log lines and averages updates."),

	OPT(auth_type, AUTH_TYPE, "md5", 0, 0, true,
	    "How clients authenticate: trust, any, plain, md5, scram-sha-256, hba, cert, ldap "
	    "(an LDAP bind, auth_ldap_options) or pam (PAM service `pgbouncer`). ldap and pam ask "
	    "the client for its password in clear text (require client TLS) and check it on "
	    "worker threads; auth_file and auth_query play no part in their logins."),
	OPT(auth_file, STR, "", 0, 0, true,
	    "userlist.txt with user names and passwords; required for plain, md5 and scram-sha-256."),
	OPT(auth_user, STR, "", 0, 0, true,
	    "User whose connection looks up passwords of users missing from auth_file."),
	OPT(admin_users, STR, "", 0, 0, true,
	    "Comma-separated users allowed every command on the admin console."),
	OPT(stats_users, STR, "", 0, 0, true,
	    "Comma-separated users allowed read-only SHOW commands on the admin console."),
	OPT(auth_hba_file, STR, "", 0, 0, true,
	    "pg_hba.conf-style rules used when auth_type is hba, as PgBouncer reads them: local, "
	    "host, hostssl, hostnossl lines; database all, sameuser, replication (physical "
	    "replication connections only, as in PostgreSQL), @file or names; user all, @file or "
	    "names; methods trust, reject, password, md5, scram-sha-256, cert, peer, ldap (with "
	    "its ldap* options) and pam, with map= (auth_ident_file) for cert and peer. A file "
	    "with any line linkpool cannot honour is refused whole."),
	OPT(auth_query, STR,
	    "SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolname OPERATOR(pg_catalog.=) $1 "
	    "AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil OPERATOR(pg_catalog.>) "
	    "pg_catalog.now())",
	    0, 0, true,
	    "Query run as auth_user to find the secret of a user missing from auth_file; "
	    "$1 is the user name, sent as a parameter."),
	OPTC(auth_dbname, STR, "", 0, 0, true,
	     "Database the auth_query runs in; empty: the database the client asked for.",
	     check_auth_dbname),
	OPT(auth_query_cache_ttl, TIME, "10", 0, 86400, true,
	    "How long an auth_query answer is reused; failed lookups are kept no longer; 0: no cache."),
	OPT(auth_query_max_waiting, INT, "1000", 1, 1000000, true,
	    "auth_query lookups (one per user name) that may wait for a server of one auth pool; "
	    "a client needing one more is refused. Lookups run on that pool's servers, within its "
	    "pool size, and wait at most query_wait_timeout."),

	OPT(client_tls_sslmode, SSLMODE, "disable", 0, 0, true,
	    "TLS for clients: disable, allow, prefer, require, verify-ca or verify-full "
	    "(verify-*: a client certificate signed by client_tls_ca_file is required). With "
	    "TLS on, a client may also start TLS without an SSLRequest (PostgreSQL 17's "
	    "sslnegotiation=direct), offering ALPN \"postgresql\"; a client offering another "
	    "ALPN protocol is refused in the handshake."),
	OPT(client_tls_key_file, STR, "", 0, 0, true, "Private key of the certificate shown to clients."),
	OPT(client_tls_cert_file, STR, "", 0, 0, true, "Certificate (chain) shown to clients."),
	OPT(client_tls_ca_file, STR, "", 0, 0, true,
	    "CA certificates that client certificates are checked against."),
	OPT(client_tls_protocols, STR, "secure", 0, 0, true,
	    "TLS versions allowed for clients: secure (1.2 and 1.3), all, or a list of tlsv1.0 .. tlsv1.3."),
	OPT(client_tls_ciphers, STR, "default", 0, 0, true,
	    "OpenSSL cipher list for client TLS 1.2 connections; default: OpenSSL's."),
	OPT(server_tls_sslmode, SSLMODE, "prefer", 0, 0, true,
	    "TLS to PostgreSQL: disable, allow, prefer, require, verify-ca or verify-full "
	    "(host name checked against the certificate); unix sockets never use TLS."),
	OPT(server_tls_key_file, STR, "", 0, 0, true, "Private key of the client certificate shown to servers."),
	OPT(server_tls_cert_file, STR, "", 0, 0, true, "Client certificate shown to servers."),
	OPT(server_tls_ca_file, STR, "", 0, 0, true,
	    "CA certificates that server certificates are checked against (verify-ca, verify-full)."),
	OPT(server_tls_protocols, STR, "secure", 0, 0, true,
	    "TLS versions allowed to servers: secure (1.2 and 1.3), all, or a list of tlsv1.0 .. tlsv1.3."),
	OPT(server_tls_ciphers, STR, "default", 0, 0, true,
	    "OpenSSL cipher list for server TLS 1.2 connections; default: OpenSSL's."),

	OPT(pool_mode, POOL_MODE, "session", 0, 0, true,
	    "When a server connection returns to the pool: session, transaction or statement."),
	OPT(max_client_conn, INT, "100", 1, 1000000, true, "Maximum number of client connections."),
	OPT(default_pool_size, INT, "20", 0, 100000, true,
	    "Server connections per user/database pair unless the database sets pool_size."),
	OPT(min_pool_size, INT, "0", 0, 100000, true,
	    "Keep at least this many server connections open per pool."),
	OPT(reserve_pool_size, INT, "0", 0, 100000, true,
	    "Extra server connections a pool may open when clients wait too long."),
	OPT(reserve_pool_timeout, TIME, "5", 0, 86400, true,
	    "How long a client waits before the reserve pool is used."),
	OPT(max_db_connections, INT, "0", 0, 1000000, true,
	    "Maximum server connections per database across users; 0: unlimited."),
	OPT(max_user_connections, INT, "0", 0, 1000000, true,
	    "Maximum server connections per user across databases; 0: unlimited."),
	OPT(max_db_client_connections, INT, "0", 0, 1000000, true,
	    "Maximum client connections per database across users; 0: unlimited. The admin "
	    "console counts as a database (admin_users are never refused)."),
	OPT(max_user_client_connections, INT, "0", 0, 1000000, true,
	    "Maximum client connections per user across databases, admin console sessions "
	    "included (admin_users are never refused there); 0: unlimited."),

	OPT(server_reset_query, STR, "DISCARD ALL", 0, 0, true,
	    "Query run on a server connection before another client gets it (session pooling)."),
	OPT(server_reset_query_always, BOOL, "0", 0, 0, true,
	    "Run server_reset_query in transaction and statement pooling too."),
	OPT(server_check_query, STR, "<empty>", 0, 0, true,
	    "Query that checks an idle server connection is alive before reuse; `<empty>` sends "
	    "an empty query (the cheapest round trip, PgBouncer 1.25's default); empty: no check."),
	OPT(server_check_delay, TIME, "30", 0, 86400, true,
	    "Idle time after which a server connection is checked before reuse."),
	OPT(server_lifetime, TIME, "3600", 0, LONG_S, true,
	    "Close an unused server connection older than this; 0: only when used once."),
	OPT(server_idle_timeout, TIME, "600", 0, LONG_S, true,
	    "Close a server connection idle longer than this; 0: never."),
	OPT(server_connect_timeout, TIME, "15", 0, 86400, true,
	    "Time allowed for connecting to and logging into a server; also the longest a "
	    "pooler query (reset, rollback, check, parameter SET) may go unanswered before "
	    "it is cancelled and the server closed."),
	OPT(server_login_retry, TIME, "15", 0, 86400, true,
	    "Wait this long before retrying after a failed server login."),
	OPT(client_login_timeout, TIME, "60", 0, 86400, true,
	    "Disconnect a client that has not logged in within this time; 0: never."),
	OPT(query_timeout, TIME, "0", 0, LONG_S, true,
	    "Cancel a query running longer than this; 0: no limit."),
	OPT(query_wait_timeout, TIME, "120", 0, LONG_S, true,
	    "Disconnect a client waiting longer than this for a server connection; 0: no limit."),
	OPT(client_idle_timeout, TIME, "0", 0, LONG_S, true,
	    "Disconnect a client idle longer than this; 0: never."),
	OPT(idle_transaction_timeout, TIME, "0", 0, LONG_S, true,
	    "Disconnect a client idle inside a transaction longer than this; 0: never."),
	OPT(ignore_startup_parameters, STR, "", 0, 0, true,
	    "Comma-separated startup parameters accepted from clients and not forwarded. They "
	    "are also dropped from the `options` parameter, whose `-c name=value` / "
	    "`--name=value` items otherwise must name tracked parameters; listing `options` "
	    "drops every item that is not tracked."),
	OPT(track_extra_parameters, STR, "IntervalStyle", 0, 0, true,
	    "Comma-separated parameters tracked per client besides the usual ones."),
	OPT(application_name_add_host, BOOL, "0", 0, 0, true,
	    "Append the client address and port to application_name."),

	OPT(pkt_buf, INT, "4096", 1, 1048576, false,
	    "Size of the internal packet buffers, in bytes. Packets may be longer: they "
	    "stream through, and a startup packet or cleartext password longer than it is "
	    "read apart. linkpool's buffers hold at least 512 bytes (the messages it reads "
	    "whole must fit): a smaller value is raised to 512, with a --check warning."),
	OPT(max_packet_size, INT, "2147483647", 1024, 2147483647, true,
	    "Largest protocol message accepted, in bytes."),
	OPT(tcp_keepalive, BOOL, "1", 0, 0, true, "Enable TCP keepalive on client and server sockets."),
	OPT(tcp_keepidle, INT, "0", 0, 86400, true, "TCP_KEEPIDLE in seconds; 0: OS default."),
	OPT(tcp_keepintvl, INT, "0", 0, 86400, true, "TCP_KEEPINTVL in seconds; 0: OS default."),
	OPT(tcp_keepcnt, INT, "0", 0, 1000, true, "TCP_KEEPCNT; 0: OS default."),
	OPT(tcp_user_timeout, TIME_MS, "0", 0, 2147483647, true,
	    "TCP_USER_TIMEOUT; a plain number is milliseconds as in PgBouncer; 0: OS default."),
	OPT(tcp_defer_accept, INT, "1", 0, 2147483647, true,
	    "TCP_DEFER_ACCEPT on the TCP listeners: a connection is handed over once its first bytes "
	    "arrived (0: off; any other value: on, 45 s, as PgBouncer does). Linux only."),
	OPT(tcp_socket_buffer, INT, "0", 0, 2147483647, true,
	    "SO_SNDBUF and SO_RCVBUF of client and server sockets, in bytes; 0: OS default."),
	OPT(dns_max_ttl, TIME, "15", 0, 86400, true, "How long a DNS lookup result is cached."),

	OPT(server_round_robin, BOOL, "0", 0, 0, true,
	    "Hand out idle server connections oldest-released first (FIFO), spreading load "
	    "evenly; 0: most recently used first (LIFO), so surplus connections age out."),
	OPT(disable_pqexec, BOOL, "0", 0, 0, false,
	    "Refuse the simple query protocol: a client sending a Query message gets "
	    "\"PQexec disallowed\" (08P01) and is disconnected; the admin console, which "
	    "only speaks that protocol, is exempt."),
	OPT(server_fast_close, BOOL, "0", 0, 0, true,
	    "In session pooling, close a server that needs reconnecting (RECONNECT, changed "
	    "database) as soon as its client is outside a transaction, disconnecting that "
	    "client too, instead of at session end."),
	OPT(transaction_timeout, TIME, "0", 0, LONG_S, true,
	    "Disconnect a client whose transaction has been open longer than this; 0: never."),
	OPT(conffile, STR, "", 0, 0, true,
	    "The configuration file: shows the file that was loaded; set it (SET) to make "
	    "the next RELOAD read another file."),
	OPT(client_tls13_ciphers, STR, "", 0, 0, true,
	    "OpenSSL TLS 1.3 cipher suites for clients; empty: OpenSSL's default."),
	OPT(server_tls13_ciphers, STR, "", 0, 0, true,
	    "OpenSSL TLS 1.3 cipher suites towards servers; empty: OpenSSL's default."),
	OPT(client_tls_ecdhcurve, STR, "auto", 0, 0, true,
	    "Elliptic curve groups for client TLS key exchange: auto (OpenSSL's list), none "
	    "(finite-field groups only) or a colon-separated OpenSSL group list such as "
	    "`prime256v1` or `X25519:P-256`."),
	OPTC(client_tls_dheparams, STR, "auto", 0, 0, true,
	     "Finite-field DHE for client TLS 1.2: auto (parameters sized to the key), "
	     "legacy (the same; OpenSSL 3 has no 1024-bit default) or none (DHE off).",
	     check_dheparams),
	OPT(dns_nxdomain_ttl, TIME, "15", 0, 86400, true,
	    "How long a failed DNS lookup (NXDOMAIN or error) is remembered; 0: not cached."),
	OPT(autodb_idle_timeout, TIME, "3600", 0, LONG_S, true,
	    "An auto-database (made from the `*` entry after a client authenticated for a "
	    "name [databases] does not list) with no client and no busy server for this "
	    "long is removed with its pools, its idle servers and its statistics; 0: kept. "
	    "One PostgreSQL never accepted a login to goes as soon as it is unused."),
	OPT(autodb_idle_max, INT, "10000", 0, 2147483647, true,
	    "At most this many unused auto-databases are kept (linkpool only): past that the "
	    "longest unused go first, before their autodb_idle_timeout, so that logins "
	    "naming ever new databases cannot grow memory without end; 0: no limit."),
	OPT(suspend_timeout, TIME, "10", 0, 86400, true,
	    "How long SUSPEND (and so an online restart, -R) waits for each client and "
	    "server connection to come to rest -- everything read passed on, everything due "
	    "written, no message half-way -- before closing the ones still busy; 0: wait "
	    "as long as it takes."),
	OPT(dns_zone_check_period, TIME, "0", 0, LONG_S, true,
	    NO_EFFECT "zone serial checks need PgBouncer's c-ares backend; linkpool's "
	    "resolver (libevent evdns) re-resolves after dns_max_ttl."),
	OPT(resolv_conf, STR, "", 0, 0, false,
	    "A resolv.conf file for DNS lookups (nameservers, search, options) instead of "
	    "the system's; empty: /etc/resolv.conf. An unusable file stops the start."),
	OPT(sbuf_loopcnt, INT, "5", 0, 2147483647, true,
	    NO_EFFECT "linkpool bounds the work per connection and wake-up by its "
	    "pkt_buf-sized buffer, with no separate loop count."),
	OPT(service_name, STR, "pgbouncer", 0, 0, false,
	    NO_EFFECT "it names the Windows service; linkpool runs on Unix only."),
	OPT(job_name, STR, "pgbouncer", 0, 0, false,
	    NO_EFFECT "it is the Windows alias of service_name."),
	OPT(peer_id, PEER_ID, "0", 0, 16383, false,
	    "This process's id among the [peers] it forwards cancel requests with "
	    "(PgBouncer 1.19+): clients' cancel keys carry it, and a cancel request that "
	    "arrives at another peer (several processes behind one port or load balancer) is "
	    "forwarded to this one. 0: no peering. auto (linkpool): the ordinal a StatefulSet "
	    "puts at the end of the host name, plus one (linkpool-0 is 1)."),
	OPT(peers_dns, STR, "", 0, 0, false,
	    "linkpool: a host name whose A/AAAA records are this process's peers (a "
	    "Kubernetes headless Service), resolved with the resolver and again every "
	    "dns_max_ttl. A cancel request for a key that no client here holds and whose peer "
	    "id is not in [peers] goes to every address but this process's own, with no hops "
	    "left: only the process holding the key acts on it, so peer ids need not be unique "
	    "(the pods of a Deployment may share one). Needs peer_id. Empty: none."),
	OPT(shutdown_drain_clients, BOOL, "0", 0, 0, true,
	    "linkpool: in a graceful shutdown (SIGTERM, SIGINT, SHUTDOWN WAIT_FOR_CLIENTS or "
	    "WAIT_FOR_SERVERS) each client is closed with 57P01 as soon as it is between "
	    "transactions -- at once when idle, else after the ReadyForQuery that ends its "
	    "transaction -- instead of being waited for, so that it reconnects to another "
	    "process (rolling restarts; a session's state goes with it). 0: PgBouncer's waits."),
	OPT(peers_dns_port, INT, "0", 0, 65535, false,
	    "linkpool: the port of the peers found through peers_dns. 0: listen_port."),
	OPT(cancel_wait_timeout, TIME, "10", 0, LONG_S, true,
	    "How long a cancel request may take to reach PostgreSQL (connect and send); one "
	    "not sent by then is dropped. A sent one holds its server connection until "
	    "PostgreSQL closes the cancel connection (at most 30 s), so that it cannot cancel "
	    "the next client's query. 0: 30 s."),
	OPT(query_wait_notify, TIME, "5", 0, LONG_S, true,
	    "A client queued longer than this for a server gets a NOTICE \"No server connection "
	    "available in postgres backend, client being queued\", once per wait (as "
	    "PgBouncer words it); 0: never."),
	OPT(pool_idle_timeout, TIME, "0", 0, LONG_S, true,
	    "Free a pool (database and user pair) that has had no client, no server connection "
	    "and no auth_query lookup for this long, logging \"cleaning up idle pool\"; a pool "
	    "with a min_pool_size is kept. 0: pools stay until their database goes."),
	OPTC(login_notify_message, STR, "", 0, 0, true,
	     "A NOTICE sent to every client at login, before its first ReadyForQuery (at most "
	     "1000 bytes); empty: none.",
	     check_notify_message),
	OPT(max_prepared_statements, INT, "200", 0, 2147483647, true,
	    "In transaction and statement pooling, named prepared statements of the extended "
	    "protocol follow their client to every server: each distinct statement is prepared "
	    "once per server (as PGBOUNCER_<n>), at most this many per server, least recently "
	    "used closed first; a client's Close is answered by linkpool. 0: named statements are "
	    "forwarded as sent."),
	OPT(scram_iterations, INT, "4096", 1, 10000000, true,
	    "PBKDF2 iterations of the SCRAM secrets linkpool derives from plain-text "
	    "auth_file passwords (and shows for unknown users)."),
	OPT(auth_ident_file, STR, "", 0, 0, true,
	    "User name maps (MAPNAME SYSTEM-USERNAME DATABASE-USERNAME lines, DATABASE-USERNAME "
	    "may be all) for the map= option of cert and peer rules in auth_hba_file; read "
	    "when auth_type is hba."),
	OPTC(auth_ldap_options, STR, "", 0, 0, true,
	     "LDAP options of auth_type ldap, as PostgreSQL's pg_hba.conf ldap options: "
	     "`ldapserver`, `ldapport`, `ldapscheme`, `ldaptls`, `ldapprefix`/`ldapsuffix` "
	     "(simple bind) or `ldapbasedn`, `ldapbinddn`, `ldapbindpasswd`, "
	     "`ldapsearchattribute`, `ldapsearchfilter` (search+bind), or `ldapurl`; "
	     "NAME=VALUE items separated by blanks, values may be double-quoted. Checked at "
	     "load; required with auth_type ldap.",
	     check_ldap_options),

	OPT(metrics_listen_addr, STR, "127.0.0.1", 0, 0, true,
	    "Comma-separated addresses (or `*` for all) of the HTTP endpoint serving "
	    "/metrics, /healthz and /readyz (linkpool only). A reload rebinds it."),
	OPT(metrics_port, INT, "9127", 0, 65535, true,
	    "Port of the /metrics, /healthz and /readyz HTTP endpoint; 0 disables it "
	    "(linkpool only). A reload rebinds it."),
	OPTC(metrics_allow, STR, "", 0, 0, true,
	     "Addresses allowed to connect to the metrics endpoint, as a comma-separated list "
	     "of `address` or `address/bits` (IPv4 or IPv6, at most 64); every other peer is "
	     "closed at accept. Empty: every peer that reaches metrics_listen_addr. Include "
	     "the probes' addresses (linkpool only).",
	     check_cidr_list),
	OPT(metrics_max_series, INT, "10000", 1, 10000000, true,
	    "Most series one metric family of /metrics shows (the per-database and per-pool "
	    "families); the rest are left out of the page and counted in "
	    "linkpool_metrics_series_dropped_total (linkpool only)."),
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

#define DBK(n, t, lo, hi, text) { #n, LP_CKEY_##t, offsetof(struct lp_db_conf, n), lo, hi, text }

static const struct lp_conn_key db_keys[] = {
	DBK(host, STR, 0, 0,
	    "Server host name or IP; an absolute path is a unix socket directory. A "
	    "comma-separated list (at most 16) names several servers: each new server "
	    "connection takes one as load_balance_hosts says, and one that cannot be reached "
	    "(refused, no answer within server_connect_timeout, a name that does not "
	    "resolve) is skipped for the next at once; only when every host failed does "
	    "the pool wait server_login_retry. The port is the same for all."),
	DBK(port, INT, 1, 65535, "Server port (default 5432)."),
	DBK(dbname, STR, 0, 0, "Database name on the server (default: the entry's name)."),
	DBK(user, STR, 0, 0, "Connect to the server as this user, whoever the client is."),
	DBK(password, STR, 0, 0, "Password for user on the server."),
	DBK(auth_user, STR, 0, 0, "Overrides the global auth_user for this database."),
	DBK(auth_query, STR, 0, 0, "Overrides the global auth_query for this database."),
	DBK(auth_dbname, STR, 0, 0, "Overrides the global auth_dbname for this database."),
	DBK(pool_size, INT, 0, 100000, "Overrides default_pool_size."),
	DBK(min_pool_size, INT, 0, 100000, "Overrides min_pool_size."),
	DBK(reserve_pool, INT, 0, 100000, "Overrides reserve_pool_size."),
	{ "reserve_pool_size", LP_CKEY_INT, offsetof(struct lp_db_conf, reserve_pool), 0, 100000,
	  "Same as reserve_pool." },
	DBK(max_db_connections, INT, 0, 1000000, "Overrides max_db_connections."),
	DBK(max_db_client_connections, INT, 0, 1000000, "Overrides max_db_client_connections."),
	DBK(pool_mode, POOL_MODE, 0, 0, "Overrides pool_mode: session, transaction or statement."),
	DBK(connect_query, STR, 0, 0, "Query run once on each new server connection."),
	DBK(client_encoding, STR, 0, 0, "client_encoding set on new server connections."),
	DBK(datestyle, STR, 0, 0, "DateStyle set on new server connections."),
	DBK(timezone, STR, 0, 0, "TimeZone set on new server connections."),
	DBK(application_name, STR, 0, 0, "application_name set on new server connections."),
	DBK(server_lifetime, TIME, 0, LONG_S, "Overrides server_lifetime for this database's servers."),
	DBK(query_wait_timeout, TIME, 0, LONG_S,
	    "Overrides query_wait_timeout (and a [users] entry's) for this database's clients."),
	DBK(load_balance_hosts, LB, 0, 0,
	    "With a host list: round-robin (default) gives each new server connection the "
	    "next host; disable keeps using one host until a connection to it fails, then "
	    "moves to the next."),
	DBK(target_session_attrs, TSA, 0, 0,
	    "Which of the hosts a server connection may use, in libpq's words: any (default), "
	    "read-write, read-only, primary, standby or prefer-standby (a standby if one is up, "
	    "else any). Decided at login from the in_hot_standby and "
	    "default_transaction_read_only values PostgreSQL 14+ reports (no extra query; an "
	    "older server is asked once, at login, as libpq asks); a "
	    "host in the wrong role is skipped for server_login_retry, and a connection whose "
	    "server changes role is closed when next released (linkpool only)."),
	DBK(max_replica_lag, TIME, 0, LONG_S,
	    "With target_session_attrs read-only, standby or prefer-standby: a standby whose "
	    "replay lag exceeds this many seconds is passed over until it catches up "
	    "(measured at login and every second on an idle connection; 0: not checked; "
	    "linkpool only)."),
};

#define UK(n, t, lo, hi, text) { #n, LP_CKEY_##t, offsetof(struct lp_user_conf, n), lo, hi, text }

static const struct lp_conn_key user_keys[] = {
	UK(pool_mode, POOL_MODE, 0, 0, "Pool mode for this user's pools, overriding the database's."),
	UK(max_user_connections, INT, 0, 1000000, "Overrides max_user_connections."),
	UK(pool_size, INT, 0, 100000, "Pool size for this user's pools, overriding the database's."),
	UK(reserve_pool_size, INT, 0, 100000,
	   "Reserve pool size for this user's pools, overriding the database's."),
	UK(max_user_client_connections, INT, 0, 1000000, "Overrides max_user_client_connections."),
	UK(query_timeout, TIME, 0, LONG_S, "Overrides query_timeout for this user's clients."),
	UK(idle_transaction_timeout, TIME, 0, LONG_S,
	   "Overrides idle_transaction_timeout for this user's clients."),
	UK(client_idle_timeout, TIME, 0, LONG_S, "Overrides client_idle_timeout for this user's clients."),
	UK(transaction_timeout, TIME, 0, LONG_S, "Overrides transaction_timeout for this user's clients."),
	UK(query_wait_timeout, TIME, 0, LONG_S,
	   "Overrides query_wait_timeout for this user's clients, unless their database sets one."),
};

#define PK(n, t, lo, hi, text) { #n, LP_CKEY_##t, offsetof(struct lp_peer_conf, n), lo, hi, text }

static const struct lp_conn_key peer_keys[] = {
	PK(host, STR, 0, 0, "Host name, IP address or unix socket directory of the peer."),
	PK(port, INT, 1, 65535, "Port of the peer (default 6432)."),
	PK(pool_size, INT, 0, 100000, "Cancel requests in flight to the peer at once."),
};

static const char *const pool_mode_names[] = {
	[LP_POOL_SESSION] = "session",
	[LP_POOL_TRANSACTION] = "transaction",
	[LP_POOL_STATEMENT] = "statement",
};

static const char *const auth_type_names[] = {
	[LP_AUTH_TRUST] = "trust", [LP_AUTH_ANY] = "any",   [LP_AUTH_PLAIN] = "plain",
	[LP_AUTH_MD5] = "md5",     [LP_AUTH_SCRAM] = "scram-sha-256",
	[LP_AUTH_HBA] = "hba",     [LP_AUTH_CERT] = "cert",
	[LP_AUTH_LDAP] = "ldap",   [LP_AUTH_PAM] = "pam",
};

static const char *const sslmode_names[] = {
	[LP_SSLMODE_DISABLE] = "disable", [LP_SSLMODE_ALLOW] = "allow",
	[LP_SSLMODE_PREFER] = "prefer",   [LP_SSLMODE_REQUIRE] = "require",
	[LP_SSLMODE_VERIFY_CA] = "verify-ca", [LP_SSLMODE_VERIFY_FULL] = "verify-full",
};

const struct lp_option *lp_config_options(size_t *n)
{
	*n = NOPTIONS;
	return options;
}

const struct lp_option *lp_config_option_find(const char *name)
{
	/* PgBouncer matches parameter names case-insensitively. */
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcasecmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

const struct lp_conn_key *lp_config_db_keys(size_t *n)
{
	*n = sizeof(db_keys) / sizeof(db_keys[0]);
	return db_keys;
}

const struct lp_conn_key *lp_config_user_keys(size_t *n)
{
	*n = sizeof(user_keys) / sizeof(user_keys[0]);
	return user_keys;
}

const struct lp_conn_key *lp_config_peer_keys(size_t *n)
{
	*n = sizeof(peer_keys) / sizeof(peer_keys[0]);
	return peer_keys;
}

int lp_config_parse_load_balance(const char *text, int64_t *out, char *why, size_t whycap)
{
	if (strcasecmp(text, "round-robin") == 0) {
		*out = LP_LB_ROUND_ROBIN;
		return 0;
	}
	if (strcasecmp(text, "disable") == 0) {
		*out = LP_LB_DISABLE;
		return 0;
	}
	snprintf(why, whycap, "expected round-robin or disable");
	return -1;
}

static const char *const tsa_names[] = {
	[LP_TSA_ANY] = "any",         [LP_TSA_READ_WRITE] = "read-write",
	[LP_TSA_READ_ONLY] = "read-only", [LP_TSA_PRIMARY] = "primary",
	[LP_TSA_STANDBY] = "standby", [LP_TSA_PREFER_STANDBY] = "prefer-standby",
};

const char *lp_config_tsa_name(int tsa)
{
	return tsa >= 0 && tsa <= LP_TSA_PREFER_STANDBY ? tsa_names[tsa] : "any";
}

int lp_config_parse_tsa(const char *text, int64_t *out, char *why, size_t whycap)
{
	for (int i = 0; i <= LP_TSA_PREFER_STANDBY; i++) {
		if (strcasecmp(text, tsa_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	snprintf(why, whycap,
		 "expected any, read-write, read-only, primary, standby or prefer-standby");
	return -1;
}

/* Entries of a host list are separated by commas; the list was checked
 * when read (check_host_list). */
int lp_config_host_count(const char *list)
{
	int n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	return n;
}

void lp_config_host_at(const char *list, int idx, char *out)
{
	const char *p = list;
	for (int i = idx % lp_config_host_count(list); i > 0; i--)
		p = strchr(p, ',') + 1;
	size_t len = strcspn(p, ",");
	if (len >= LP_HOST_LEN)
		len = LP_HOST_LEN - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

int lp_config_check_host_list(const char *list, char *why, size_t whycap)
{
	int n = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		if (len == 0) {
			snprintf(why, whycap, "empty entry in the host list");
			return -1;
		}
		if (len >= LP_HOST_LEN) {
			snprintf(why, whycap, "a host name of the list is %zu bytes (at most %d)", len,
				 LP_HOST_LEN - 1);
			return -1;
		}
		if (++n > LP_HOSTS_MAX) {
			snprintf(why, whycap, "more than %d hosts in the list", LP_HOSTS_MAX);
			return -1;
		}
		p += len;
		if (!*p)
			return 0;
	}
}

int lp_config_parse_seconds(const char *text, int64_t min_s, int64_t max_s, int64_t *out_us,
			    char *why, size_t whycap)
{
	return parse_time(text, US_PER_S, min_s, max_s, out_us, why, whycap);
}

const char *lp_pool_mode_name(enum lp_pool_mode m)
{
	if ((unsigned)m < sizeof(pool_mode_names) / sizeof(pool_mode_names[0]))
		return pool_mode_names[m];
	return "unknown";
}

const char *lp_auth_type_name(enum lp_auth_type t)
{
	if ((unsigned)t < sizeof(auth_type_names) / sizeof(auth_type_names[0]))
		return auth_type_names[t];
	return "unknown";
}

const char *lp_sslmode_name(enum lp_sslmode m)
{
	if ((unsigned)m < sizeof(sslmode_names) / sizeof(sslmode_names[0]))
		return sslmode_names[m];
	return "unknown";
}

const char *lp_config_type_doc(enum lp_opt_type t)
{
	switch (t) {
	case LP_OPT_STR: return "string";
	case LP_OPT_INT: return "integer";
	case LP_OPT_PEER_ID: return "integer or auto";
	case LP_OPT_BOOL: return "bool";
	case LP_OPT_TIME: return "time (s)";
	case LP_OPT_TIME_MS: return "time (ms)";
	case LP_OPT_OCTAL: return "octal";
	case LP_OPT_POOL_MODE: return "pool mode";
	case LP_OPT_AUTH_TYPE: return "auth type";
	case LP_OPT_SSLMODE: return "sslmode";
	}
	return "?";
}

int lp_config_parse_int(const char *text, int64_t min, int64_t max, int64_t *out, char *why,
			size_t whycap)
{
	const char *p = text;
	bool neg = false;
	int64_t v = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p)) {
		snprintf(why, whycap, "not an integer");
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10) {
			snprintf(why, whycap, "out of range (%" PRId64 "..%" PRId64 ")", min, max);
			return -1;
		}
		v = v * 10 + d;
	}
	if (*p) {
		snprintf(why, whycap, "not an integer");
		return -1;
	}
	if (neg)
		v = -v;
	if (v < min || v > max) {
		snprintf(why, whycap, "out of range (%" PRId64 "..%" PRId64 ")", min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int lp_config_parse_pool_mode(const char *text, int64_t *out, char *why, size_t whycap)
{
	for (size_t i = 0; i < sizeof(pool_mode_names) / sizeof(pool_mode_names[0]); i++)
		if (strcasecmp(text, pool_mode_names[i]) == 0) {
			*out = (int64_t)i;
			return 0;
		}
	snprintf(why, whycap, "expected session, transaction or statement");
	return -1;
}

static int parse_bool(const char *text, int64_t *out, char *why, size_t whycap)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(why, whycap, "expected a boolean (0/1, yes/no, on/off, true/false)");
	return -1;
}

static int parse_octal(const char *text, int64_t max, int64_t *out, char *why, size_t whycap)
{
	int64_t v = 0;
	const char *p = text;

	if (!*p) {
		snprintf(why, whycap, "not an octal number");
		return -1;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '7') {
			snprintf(why, whycap, "not an octal number");
			return -1;
		}
		v = v * 8 + (*p - '0');
		if (v > max) {
			snprintf(why, whycap, "out of range (0..0%" PRIo64 ")", max);
			return -1;
		}
	}
	*out = v;
	return 0;
}

/*
 * A duration: a decimal number with an optional fraction and an optional
 * unit (us, ms, s, min, h). A bare number is in unit_us, which is seconds
 * for PgBouncer's TIME options. Fractions below a microsecond are dropped.
 */
static int parse_time(const char *text, int64_t unit_us, int64_t min, int64_t max, int64_t *out,
		      char *why, size_t whycap)
{
	static const struct {
		const char *name;
		int64_t us;
	} units[] = {
		{ "us", 1 }, { "ms", US_PER_MS }, { "s", US_PER_S },
		{ "min", 60 * US_PER_S }, { "h", 3600 * US_PER_S },
	};
	const char *p = text;
	int64_t ip = 0, frac = 0, fden = 1, mult = 0, v;
	bool digits = false;
	const char *unit_name = unit_us == US_PER_MS ? "ms" : "seconds";

	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (ip > (INT64_MAX - d) / 10)
			goto range;
		ip = ip * 10 + d;
		digits = true;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			digits = true;
			if (fden < INT64_C(1000000000)) {
				frac = frac * 10 + (*p - '0');
				fden *= 10;
			}
		}
	}
	if (!digits) {
		snprintf(why, whycap, "not a duration");
		return -1;
	}
	if (!*p) {
		mult = unit_us;
	} else {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(p, units[i].name) == 0)
				mult = units[i].us;
		if (!mult) {
			snprintf(why, whycap, "unknown unit \"%s\" (use us, ms, s, min or h)", p);
			return -1;
		}
	}
	if (ip > INT64_MAX / mult)
		goto range;
	/* frac < 1e9 and mult <= 3.6e9, so the product fits in 63 bits. */
	v = ip * mult;
	if (v > INT64_MAX - frac * mult / fden)
		goto range;
	v += frac * mult / fden;
	if (v < min * unit_us || v > max * unit_us)
		goto range;
	*out = v;
	return 0;
range:
	snprintf(why, whycap, "out of range (%" PRId64 "..%" PRId64 " %s)", min, max, unit_name);
	return -1;
}

/*
 * peer_id = auto: the number a StatefulSet gives its pod, at the end of the
 * host name ("linkpool-2"), plus one -- peer ids start at 1 and ordinals at
 * 0. Stable across restarts and unique among the replicas, which is what
 * the peer id in every client's cancel key needs.
 */
static int peer_id_from_hostname(int64_t max, int64_t *out, char *why, size_t whycap)
{
	char host[256];
	if (gethostname(host, sizeof(host) - 1) < 0) {
		snprintf(why, whycap, "auto: cannot read the host name: %s", strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	size_t n = strlen(host), d = n;
	while (d > 0 && isdigit((unsigned char)host[d - 1]))
		d--;
	int64_t ordinal = 0;
	char w[40];
	if (d == n || d == 0 || host[d - 1] != '-' || n - d > 6 ||
	    lp_config_parse_int(host + d, 0, max - 1, &ordinal, w, sizeof(w)) < 0) {
		snprintf(why, whycap,
			 "auto: the host name \"%.64s\" does not end in -<ordinal> (0..%" PRId64
			 "), as a StatefulSet's pods do; set a number", host, max - 1);
		return -1;
	}
	*out = ordinal + 1;
	return 0;
}

int lp_config_value_parse(const struct lp_option *o, const char *text, union lp_optval *v,
			  char *why, size_t whycap)
{
	if (o->check && o->check(text, why, whycap) < 0)
		return -1;
	switch (o->type) {
	case LP_OPT_STR:
		v->s = strdup(text);
		if (!v->s) {
			snprintf(why, whycap, "out of memory");
			return -1;
		}
		return 0;
	case LP_OPT_INT:
		return lp_config_parse_int(text, o->min, o->max, &v->i, why, whycap);
	case LP_OPT_PEER_ID:
		if (strcasecmp(text, "auto") == 0)
			return peer_id_from_hostname(o->max, &v->i, why, whycap);
		return lp_config_parse_int(text, o->min, o->max, &v->i, why, whycap);
	case LP_OPT_BOOL:
		return parse_bool(text, &v->i, why, whycap);
	case LP_OPT_TIME:
		return parse_time(text, US_PER_S, o->min, o->max, &v->i, why, whycap);
	case LP_OPT_TIME_MS:
		return parse_time(text, US_PER_MS, o->min, o->max, &v->i, why, whycap);
	case LP_OPT_OCTAL:
		return parse_octal(text, o->max, &v->i, why, whycap);
	case LP_OPT_POOL_MODE:
		return lp_config_parse_pool_mode(text, &v->i, why, whycap);
	case LP_OPT_AUTH_TYPE:
		for (size_t i = 0; i < sizeof(auth_type_names) / sizeof(auth_type_names[0]); i++)
			if (strcasecmp(text, auth_type_names[i]) == 0) {
				v->i = (int64_t)i;
				return 0;
			}
		snprintf(why, whycap,
			 "expected trust, any, plain, md5, scram-sha-256, hba, cert, ldap or pam");
		return -1;
	case LP_OPT_SSLMODE:
		for (size_t i = 0; i < sizeof(sslmode_names) / sizeof(sslmode_names[0]); i++)
			if (strcasecmp(text, sslmode_names[i]) == 0) {
				v->i = (int64_t)i;
				return 0;
			}
		snprintf(why, whycap, "expected disable, allow, prefer, require, verify-ca or verify-full");
		return -1;
	}
	snprintf(why, whycap, "unsupported option type");
	return -1;
}

void lp_config_value_store(struct lp_settings *s, const struct lp_option *o, union lp_optval v)
{
	if (o->type == LP_OPT_STR)
		free(*(char **)((char *)s + o->offset));
	lp_config_value_put(s, o, v);
}

void lp_config_value_put(struct lp_settings *s, const struct lp_option *o, union lp_optval v)
{
	char *field = (char *)s + o->offset;

	switch (o->type) {
	case LP_OPT_STR:
		*(char **)field = v.s;
		break;
	case LP_OPT_INT:
	case LP_OPT_PEER_ID:
	case LP_OPT_OCTAL:
		*(int *)field = (int)v.i;
		break;
	case LP_OPT_BOOL:
		*(bool *)field = v.i != 0;
		break;
	case LP_OPT_TIME:
	case LP_OPT_TIME_MS:
		*(lp_usec *)field = v.i;
		break;
	case LP_OPT_POOL_MODE:
		*(enum lp_pool_mode *)field = (enum lp_pool_mode)v.i;
		break;
	case LP_OPT_AUTH_TYPE:
		*(enum lp_auth_type *)field = (enum lp_auth_type)v.i;
		break;
	case LP_OPT_SSLMODE:
		*(enum lp_sslmode *)field = (enum lp_sslmode)v.i;
		break;
	}
}

void lp_config_settings_free(struct lp_settings *s)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (options[i].type != LP_OPT_STR)
			continue;
		char **field = (char **)((char *)s + options[i].offset);
		free(*field);
		*field = NULL;
	}
}

/* Prints us in whole units, with a trimmed fraction only when needed. */
static void format_time(int64_t us, int64_t unit_us, char *out, size_t cap)
{
	int64_t whole = us / unit_us, rem = us % unit_us;
	char frac[24];
	size_t n;

	if (rem == 0) {
		snprintf(out, cap, "%" PRId64, whole);
		return;
	}
	snprintf(frac, sizeof(frac), "%0*" PRId64, unit_us == US_PER_S ? 6 : 3, rem);
	n = strlen(frac);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(out, cap, "%" PRId64 ".%s", whole, frac);
}

void lp_config_format(const struct lp_settings *s, const struct lp_option *o, char *out, size_t cap)
{
	const char *field = (const char *)s + o->offset;
	int iv;

	if (cap == 0)
		return;
	switch (o->type) {
	case LP_OPT_STR: {
		const char *str = *(char *const *)field;
		snprintf(out, cap, "%s", str ? str : "");
		return;
	}
	case LP_OPT_INT:
	case LP_OPT_PEER_ID:
		snprintf(out, cap, "%d", *(const int *)field);
		return;
	case LP_OPT_OCTAL:
		iv = *(const int *)field;
		if (iv)
			snprintf(out, cap, "0%o", (unsigned)iv);
		else
			snprintf(out, cap, "0");
		return;
	case LP_OPT_BOOL:
		snprintf(out, cap, "%d", *(const bool *)field ? 1 : 0);
		return;
	case LP_OPT_TIME:
		format_time(*(const lp_usec *)field, US_PER_S, out, cap);
		return;
	case LP_OPT_TIME_MS:
		format_time(*(const lp_usec *)field, US_PER_MS, out, cap);
		return;
	case LP_OPT_POOL_MODE:
		snprintf(out, cap, "%s", lp_pool_mode_name(*(const enum lp_pool_mode *)field));
		return;
	case LP_OPT_AUTH_TYPE:
		snprintf(out, cap, "%s", lp_auth_type_name(*(const enum lp_auth_type *)field));
		return;
	case LP_OPT_SSLMODE:
		snprintf(out, cap, "%s", lp_sslmode_name(*(const enum lp_sslmode *)field));
		return;
	}
	out[0] = '\0';
}

bool lp_config_list_has(const char *list, const char *name)
{
	size_t nlen;

	if (!list || !name || !*name)
		return false;
	nlen = strlen(name);
	while (*list) {
		size_t len;

		while (*list == ',' || isspace((unsigned char)*list))
			list++;
		len = strcspn(list, ", \t\r\n");
		if (len == nlen && memcmp(list, name, len) == 0)
			return true;
		list += len;
	}
	return false;
}
