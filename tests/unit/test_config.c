/*
 * Unit tests of src/config: the ini grammar, every option type, the
 * [databases]/[users] strings, %include, the whole-file checks, SET, SHOW
 * CONFIG formatting, and that docs/config.md matches the option tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/doc.h"

#define S(lit) lit, sizeof(lit) - 1
#define SEC INT64_C(1000000)

/* Parses text that must be valid. */
static void parse_ok(const char *text, struct lp_config *c)
{
	struct lp_diag d = { 0 };
	int r = lp_config_parse(text, strlen(text), "t.ini", c, &d);

	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "unexpected: %s\n", d.msgs[i]);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	lp_diag_cleanup(&d);
}

/* Parses text that must fail; returns the diagnostics (caller cleans up). */
static struct lp_diag parse_bad(const char *text)
{
	struct lp_diag d = { 0 };
	struct lp_config c;
	int r = lp_config_parse(text, strlen(text), "t.ini", &c, &d);

	assert_int_equal(r, -1);
	assert_true(d.n > 0);
	assert_null(c.path);
	assert_null(c.dbs);
	return d;
}

static bool diag_has(const struct lp_diag *d, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->msgs[i], msg) == 0)
			return true;
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  have: %s\n", d->msgs[i]);
	fprintf(stderr, "  want: %s\n", msg);
	return false;
}

static void expect_one_error(const char *text, const char *msg)
{
	struct lp_diag d = parse_bad(text);

	assert_true(diag_has(&d, msg));
	assert_int_equal(d.n, 1);
	lp_diag_cleanup(&d);
}

static void fmt_opt(const struct lp_config *c, const char *name, char *buf, size_t cap)
{
	const struct lp_option *o = lp_config_option_find(name);

	assert_non_null(o);
	lp_config_format(&c->s, o, buf, cap);
}

static void test_defaults(void **state)
{
	struct lp_config c;
	size_t n;
	const struct lp_option *opts = lp_config_options(&n);
	char buf[256];

	parse_ok("[pgbouncer]\nauth_type = trust\n", &c);
	assert_string_equal(c.path, "t.ini");
	assert_string_equal(c.s.listen_addr, "");
	assert_int_equal(c.s.listen_port, 6432);
	assert_string_equal(c.s.unix_socket_dir, "/tmp");
	assert_int_equal(c.s.unix_socket_mode, 0777);
	assert_int_equal(c.s.listen_backlog, 128);
	assert_false(c.s.so_reuseport);
	assert_string_equal(c.s.syslog_ident, "pgbouncer");
	assert_string_equal(c.s.syslog_facility, "daemon");
	assert_true(c.s.log_connections);
	assert_int_equal(c.s.stats_period, 60 * SEC);
	assert_string_equal(c.s.auth_file, "");
	assert_int_equal(c.s.pool_mode, LP_POOL_SESSION);
	assert_int_equal(c.s.max_client_conn, 100);
	assert_int_equal(c.s.default_pool_size, 20);
	assert_int_equal(c.s.reserve_pool_timeout, 5 * SEC);
	assert_string_equal(c.s.server_reset_query, "DISCARD ALL");
	assert_string_equal(c.s.server_check_query, "<empty>");
	assert_int_equal(c.s.server_check_delay, 30 * SEC);
	assert_int_equal(c.s.server_lifetime, 3600 * SEC);
	assert_int_equal(c.s.server_idle_timeout, 600 * SEC);
	assert_int_equal(c.s.server_connect_timeout, 15 * SEC);
	assert_int_equal(c.s.server_login_retry, 15 * SEC);
	assert_int_equal(c.s.client_login_timeout, 60 * SEC);
	assert_int_equal(c.s.query_timeout, 0);
	assert_int_equal(c.s.query_wait_timeout, 120 * SEC);
	assert_string_equal(c.s.track_extra_parameters, "IntervalStyle");
	assert_int_equal(c.s.pkt_buf, 4096);
	assert_int_equal(c.s.max_packet_size, 2147483647);
	assert_true(c.s.tcp_keepalive);
	assert_int_equal(c.s.tcp_user_timeout, 0);
	assert_int_equal(c.s.dns_max_ttl, 15 * SEC);
	assert_string_equal(c.s.metrics_listen_addr, "127.0.0.1");
	assert_int_equal(c.s.metrics_port, 9127);
	assert_int_equal(c.ndbs, 0);
	assert_int_equal(c.nusers, 0);

	/* Defaults are canonical: SHOW CONFIG prints them as the table has them
	 * (auth_type was overridden above). Every string is non-NULL. */
	for (size_t i = 0; i < n; i++) {
		lp_config_format(&c.s, &opts[i], buf, sizeof(buf));
		if (strcmp(opts[i].name, "auth_type") == 0)
			assert_string_equal(buf, "trust");
		else
			assert_string_equal(buf, opts[i].def);
		if (opts[i].type == LP_OPT_STR)
			assert_non_null(*(char **)((char *)&c.s + opts[i].offset));
		assert_non_null(opts[i].doc);
		assert_true(strlen(opts[i].doc) > 10);
		assert_ptr_equal(lp_config_option_find(opts[i].name), &opts[i]);
	}
	lp_config_free(&c);
	lp_config_free(&c); /* idempotent on a freed config */
}

static void test_types(void **state)
{
	struct lp_config c;
	char buf[64];

	parse_ok("; comment\n"
		 "# another\n"
		 "[PgBouncer]\r\n"
		 "  auth_type = scram-sha-256  \n"
		 "auth_type=TRUST\n"
		 "listen_addr = 127.0.0.1, ::1\n"
		 "LISTEN_PORT = 7000\n"
		 "unix_socket_mode = 0700\n"
		 "so_reuseport = yes\n"
		 "syslog = On\n"
		 "log_connections = off\n"
		 "log_disconnections = false\n"
		 "log_stats = no\n"
		 "log_pooler_errors = 0\n"
		 "application_name_add_host = true\n"
		 "server_lifetime = 0.5\n"
		 "server_idle_timeout = 250ms\n"
		 "query_timeout = 2min\n"
		 "query_wait_timeout = 1h\n"
		 "client_idle_timeout = 10s\n"
		 "idle_transaction_timeout = 1.25\n"
		 "tcp_user_timeout = 5000\n"
		 "dns_max_ttl = 0.000001\n"
		 "pool_mode = Transaction\n"
		 "server_reset_query = \n"
		 "server_check_query = 'select 2' ; literal\n",
		 &c);
	assert_int_equal(c.s.auth_type, LP_AUTH_TRUST);
	assert_string_equal(c.s.listen_addr, "127.0.0.1, ::1");
	assert_int_equal(c.s.listen_port, 7000);
	assert_int_equal(c.s.unix_socket_mode, 0700);
	assert_true(c.s.so_reuseport);
	assert_true(c.s.syslog);
	assert_false(c.s.log_connections);
	assert_false(c.s.log_disconnections);
	assert_false(c.s.log_stats);
	assert_false(c.s.log_pooler_errors);
	assert_true(c.s.application_name_add_host);
	assert_int_equal(c.s.server_lifetime, 500000);
	assert_int_equal(c.s.server_idle_timeout, 250000);
	assert_int_equal(c.s.query_timeout, 120 * SEC);
	assert_int_equal(c.s.query_wait_timeout, 3600 * SEC);
	assert_int_equal(c.s.client_idle_timeout, 10 * SEC);
	assert_int_equal(c.s.idle_transaction_timeout, 1250000);
	assert_int_equal(c.s.tcp_user_timeout, 5 * SEC);
	assert_int_equal(c.s.dns_max_ttl, 1);
	assert_int_equal(c.s.pool_mode, LP_POOL_TRANSACTION);
	assert_string_equal(c.s.server_reset_query, "");
	/* [pgbouncer] values are literal: no unquoting, no inline comments. */
	assert_string_equal(c.s.server_check_query, "'select 2' ; literal");

	fmt_opt(&c, "server_lifetime", buf, sizeof(buf));
	assert_string_equal(buf, "0.5");
	fmt_opt(&c, "server_idle_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "0.25");
	fmt_opt(&c, "idle_transaction_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "1.25");
	fmt_opt(&c, "query_wait_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "3600");
	fmt_opt(&c, "dns_max_ttl", buf, sizeof(buf));
	assert_string_equal(buf, "0.000001");
	fmt_opt(&c, "tcp_user_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "5000");
	fmt_opt(&c, "unix_socket_mode", buf, sizeof(buf));
	assert_string_equal(buf, "0700");
	fmt_opt(&c, "so_reuseport", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	fmt_opt(&c, "pool_mode", buf, sizeof(buf));
	assert_string_equal(buf, "transaction");
	fmt_opt(&c, "listen_port", buf, sizeof(buf));
	assert_string_equal(buf, "7000");
	/* A small buffer truncates, never overflows. */
	fmt_opt(&c, "listen_addr", buf, 5);
	assert_string_equal(buf, "127.");
	lp_config_free(&c);

	parse_ok("[pgbouncer]\nauth_type=any\nunix_socket_mode=0\nmax_packet_size=2147483647\n"
		 "tcp_user_timeout=1.5\n",
		 &c);
	assert_int_equal(c.s.auth_type, LP_AUTH_ANY);
	assert_int_equal(c.s.max_packet_size, 2147483647);
	assert_int_equal(c.s.tcp_user_timeout, 1500);
	fmt_opt(&c, "unix_socket_mode", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	fmt_opt(&c, "tcp_user_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "1.5");
	lp_config_free(&c);

	assert_string_equal(lp_pool_mode_name(LP_POOL_STATEMENT), "statement");
	assert_string_equal(lp_auth_type_name(LP_AUTH_SCRAM), "scram-sha-256");
	assert_string_equal(lp_auth_type_name(LP_AUTH_CERT), "cert");
	assert_string_equal(lp_auth_type_name((enum lp_auth_type)99), "unknown");
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "listen_port = abc", "invalid value \"abc\" for parameter listen_port: not an integer" },
		{ "listen_port = 12x", "invalid value \"12x\" for parameter listen_port: not an integer" },
		{ "listen_port = 0", "invalid value \"0\" for parameter listen_port: out of range (1..65535)" },
		{ "listen_port = 99999999999999999999999",
		  "invalid value \"99999999999999999999999\" for parameter listen_port: out of range (1..65535)" },
		{ "listen_port =", "invalid value \"\" for parameter listen_port: not an integer" },
		{ "max_client_conn = -5",
		  "invalid value \"-5\" for parameter max_client_conn: out of range (1..1000000)" },
		{ "so_reuseport = maybe",
		  "invalid value \"maybe\" for parameter so_reuseport: expected a boolean (0/1, yes/no, on/off, true/false)" },
		{ "server_lifetime = -1", "invalid value \"-1\" for parameter server_lifetime: not a duration" },
		{ "server_lifetime = 5 days",
		  "invalid value \"5 days\" for parameter server_lifetime: unknown unit \" days\" (use us, ms, s, min or h)" },
		{ "stats_period = 0",
		  "invalid value \"0\" for parameter stats_period: out of range (1..86400 seconds)" },
		{ "stats_period = 0.5",
		  "invalid value \"0.5\" for parameter stats_period: out of range (1..86400 seconds)" },
		{ "server_lifetime = 99999999999999999999h",
		  "invalid value \"99999999999999999999h\" for parameter server_lifetime: out of range (0..315360000 seconds)" },
		{ "server_lifetime = .", "invalid value \".\" for parameter server_lifetime: not a duration" },
		{ "tcp_user_timeout = 3000000000",
		  "invalid value \"3000000000\" for parameter tcp_user_timeout: out of range (0..2147483647 ms)" },
		{ "unix_socket_mode = 0778",
		  "invalid value \"0778\" for parameter unix_socket_mode: not an octal number" },
		{ "unix_socket_mode = 01777",
		  "invalid value \"01777\" for parameter unix_socket_mode: out of range (0..0777)" },
		{ "pool_mode = sometimes",
		  "invalid value \"sometimes\" for parameter pool_mode: expected session, transaction or statement" },
		{ "auth_type = password",
		  "invalid value \"password\" for parameter auth_type: expected trust, any, plain, md5, scram-sha-256, hba, cert, ldap or pam" },
		{ "pkt_buf = 0", "invalid value \"0\" for parameter pkt_buf: out of range (1..1048576)" },
		{ "auth_ldap_options = ldapurl=\"ldap://x\"",
		  "invalid value for parameter auth_ldap_options: LDAP authentication requires ldapbasedn, ldapprefix or ldapsuffix" },
		{ "auth_ldap_options = ldapserver=h ldapfoo=1 ldapbindpasswd=sekrit",
		  "invalid value for parameter auth_ldap_options: unknown LDAP option \"ldapfoo\"" },
	};
	char text[512], msg[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[pgbouncer]\nauth_type = trust\n%s\n", cases[i].line);
		snprintf(msg, sizeof(msg), "t.ini:3: %s", cases[i].msg);
		expect_one_error(text, msg);
	}
}

static void test_syntax_errors(void **state)
{
	expect_one_error("[pgbouncer]\nauth_type = trust\n\n; x\nfrobnicate = 1\n",
			 "t.ini:5: unknown parameter \"frobnicate\"");
	expect_one_error("[pgbouncer]\nauth_type = trust\n[peerz]\n1 = host=x\nfoo = bar\n",
			 "t.ini:3: unknown section [peerz]");
	expect_one_error("[pgbouncer]\nauth_type = trust\nlisten_port 6432\n",
			 "t.ini:3: syntax error: expected key = value, got \"listen_port 6432\"");
	expect_one_error("listen_port = 1\n[pgbouncer]\nauth_type = trust\n",
			 "t.ini:1: \"listen_port\" is outside any section");
	expect_one_error("[pgbouncer\n[pgbouncer]\nauth_type = trust\n",
			 "t.ini:1: syntax error: section header without ']'");
	expect_one_error("[pgbouncer]\nauth_type = trust\n = 5\n",
			 "t.ini:3: syntax error: missing name before '='");
	expect_one_error("[pgbouncer]\nauth_type = trust\n%define x\n",
			 "t.ini:3: unknown directive \"%define x\"");
	expect_one_error("[pgbouncer]\nauth_type = trust\n%include\n",
			 "t.ini:3: %include without a file name");
	expect_one_error("[pgbouncer]\nauth_type = trust\n%include /nonexistent/x.ini\n",
			 "t.ini:3: cannot open %include file \"/nonexistent/x.ini\": No such file or directory");
	expect_one_error("[databases]\n\"a b = x\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: syntax error: unterminated quoted name");
}

static void test_all_errors_collected(void **state)
{
	struct lp_diag d = parse_bad("[pgbouncer]\n"
				     "listen_port = x\n"
				     "nope = 1\n"
				     "bad line\n"
				     "[databases]\n"
				     "db1 = host=h colour=blue\n"
				     "db2 = port=0 pool_mode=x\n"
				     "[zzz]\n");
	/* The default auth_type md5 needs auth_file: reported against the file. */
	assert_true(diag_has(&d, "t.ini:2: invalid value \"x\" for parameter listen_port: not an integer"));
	assert_true(diag_has(&d, "t.ini:3: unknown parameter \"nope\""));
	assert_true(diag_has(&d, "t.ini:4: syntax error: expected key = value, got \"bad line\""));
	assert_true(diag_has(&d, "t.ini:6: database \"db1\": unknown parameter \"colour\""));
	assert_true(diag_has(&d, "t.ini:7: database \"db2\": invalid value \"0\" for port: out of range (1..65535)"));
	assert_true(diag_has(&d, "t.ini:7: database \"db2\": invalid value \"x\" for pool_mode: expected session, transaction or statement"));
	assert_true(diag_has(&d, "t.ini:8: unknown section [zzz]"));
	assert_true(diag_has(&d, "t.ini: auth_type md5 requires auth_file"));
	assert_int_equal(d.n, 8);
	lp_diag_cleanup(&d);
}

/* 20,000 databases, every tenth defined twice: the later definition wins,
 * each name once, in the order of first definition (the index used while
 * parsing grows through several sizes on the way). */
static void test_many_databases(void **state)
{
	enum { N = 20000 };
	size_t cap = (size_t)N * 64 + 64, len = 0;
	char *text = malloc(cap);
	struct lp_config c;
	char name[32];

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "[databases]\n");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "db%d = host=h%d port=%d\n", i, i, 1000 + i % 50000);
	for (int i = 0; i < N; i += 10)
		len += (size_t)snprintf(text + len, cap - len, "db%d = host=again%d\n", i, i);
	len += (size_t)snprintf(text + len, cap - len, "[pgbouncer]\nauth_type = trust\n");
	parse_ok(text, &c);
	assert_int_equal(c.ndbs, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "db%d", i);
		assert_string_equal(c.dbs[i].name, name);
		const struct lp_db_conf *d = lp_config_find_db(&c, name);
		assert_ptr_equal(d, &c.dbs[i]);
		char host[32];
		snprintf(host, sizeof(host), i % 10 ? "h%d" : "again%d", i);
		assert_string_equal(d->host, host);
		assert_int_equal(d->port, i % 10 ? 1000 + i : 5432);
	}
	assert_null(lp_config_find_db(&c, "db20000"));
	lp_config_free(&c);
	free(text);
}

static void test_databases(void **state)
{
	struct lp_config c;
	const struct lp_db_conf *d;

	parse_ok("[databases]\n"
		 "app = host=db.example.com port=5433 dbname=appdb user=u password='p w\\'x' pool_size=5\n"
		 "  q = connect_query='SET search_path = a, b' application_name = 'my app'  timezone=UTC\n"
		 "sock = host=/var/run/postgresql min_pool_size=2 reserve_pool=3 max_db_connections=40\n"
		 "alias = reserve_pool_size=7 pool_mode=statement auth_user=au client_encoding=UTF8 datestyle=ISO\n"
		 "esc = dbname=a\\ b host=\n"
		 "empty =\n"
		 "\"my db\" = dbname=x\n"
		 "* = host=fallback\n"
		 "app = host=second\n"
		 "[pgbouncer]\n"
		 "auth_type = trust\n",
		 &c);
	assert_int_equal(c.ndbs, 8);

	/* The later definition replaced the first one entirely. */
	d = lp_config_find_db(&c, "app");
	assert_non_null(d);
	assert_string_equal(d->host, "second");
	assert_int_equal(d->port, 5432);
	assert_null(d->dbname);
	assert_null(d->password);
	assert_int_equal(d->pool_size, -1);
	assert_int_equal(d->line, 10);
	assert_string_equal(d->file, "t.ini");

	d = lp_config_find_db(&c, "q");
	assert_non_null(d);
	assert_string_equal(d->connect_query, "SET search_path = a, b");
	assert_string_equal(d->application_name, "my app");
	assert_string_equal(d->timezone, "UTC");
	assert_int_equal(d->line, 3);

	d = lp_config_find_db(&c, "sock");
	assert_string_equal(d->host, "/var/run/postgresql");
	assert_int_equal(d->min_pool_size, 2);
	assert_int_equal(d->reserve_pool, 3);
	assert_int_equal(d->max_db_connections, 40);
	assert_int_equal(d->pool_mode, -1);

	d = lp_config_find_db(&c, "alias");
	assert_int_equal(d->reserve_pool, 7);
	assert_int_equal(d->pool_mode, LP_POOL_STATEMENT);
	assert_string_equal(d->auth_user, "au");
	assert_string_equal(d->client_encoding, "UTF8");
	assert_string_equal(d->datestyle, "ISO");

	d = lp_config_find_db(&c, "esc");
	assert_string_equal(d->dbname, "a b");
	assert_null(d->host);

	d = lp_config_find_db(&c, "empty");
	assert_non_null(d);
	assert_null(d->host);
	assert_int_equal(d->port, 5432);
	assert_int_equal(d->min_pool_size, -1);
	assert_int_equal(d->reserve_pool, -1);
	assert_int_equal(d->max_db_connections, -1);

	d = lp_config_find_db(&c, "my db");
	assert_non_null(d);
	assert_string_equal(d->dbname, "x");

	d = lp_config_find_db(&c, "*");
	assert_non_null(d);
	assert_string_equal(d->host, "fallback");
	assert_null(lp_config_find_db(&c, "other"));
	lp_config_free(&c);

	/* The password with an escaped quote, checked before "app" is replaced. */
	parse_ok("[databases]\napp = password='p w\\'x' user=u dbname=appdb port=5433 pool_size=5\n"
		 "[pgbouncer]\nauth_type = trust\n",
		 &c);
	d = lp_config_find_db(&c, "app");
	assert_string_equal(d->password, "p w'x");
	assert_string_equal(d->user, "u");
	assert_string_equal(d->dbname, "appdb");
	assert_int_equal(d->port, 5433);
	assert_int_equal(d->pool_size, 5);
	lp_config_free(&c);

	expect_one_error("[databases]\nx = host='unterminated\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": unterminated quoted value");
	expect_one_error("[databases]\nx = host\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": expected key=value");
	expect_one_error("[databases]\nx = host='a'b\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": unexpected text after a quoted value");
	expect_one_error("[databases]\nx = =y\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": missing key before '='");
	expect_one_error("[databases]\nx = pool_size=-1\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": invalid value \"-1\" for pool_size: out of range (0..100000)");
}

static void test_users(void **state)
{
	struct lp_config c;
	const struct lp_user_conf *u;

	parse_ok("[users]\n"
		 "alice = pool_mode=transaction max_user_connections=10 pool_size=3\n"
		 "bob =\n"
		 "[pgbouncer]\nauth_type=trust\n",
		 &c);
	assert_int_equal(c.nusers, 2);
	u = lp_config_find_user(&c, "alice");
	assert_non_null(u);
	assert_int_equal(u->pool_mode, LP_POOL_TRANSACTION);
	assert_int_equal(u->max_user_connections, 10);
	assert_int_equal(u->pool_size, 3);
	assert_int_equal(u->line, 2);
	u = lp_config_find_user(&c, "bob");
	assert_int_equal(u->pool_mode, -1);
	assert_int_equal(u->max_user_connections, -1);
	assert_int_equal(u->pool_size, -1);
	assert_null(lp_config_find_user(&c, "carol"));
	lp_config_free(&c);

	expect_one_error("[users]\nalice = host=x\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: user \"alice\": unknown parameter \"host\"");
}

/* A scratch directory of ini files for the file-based tests. */
struct tree {
	char dir[64];
};

static void tree_write(struct tree *t, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void tree_init(struct tree *t)
{
	char sub[PATH_MAX];

	snprintf(t->dir, sizeof(t->dir), "/tmp/lp_config_test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(sub, sizeof(sub), "%s/sub", t->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
}

static void tree_cleanup(struct tree *t)
{
	char cmd[PATH_MAX];

	/* The test only ever creates this mkdtemp directory. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_include(void **state)
{
	struct tree t;
	struct lp_config c;
	struct lp_diag d = { 0 };
	char path[PATH_MAX], want[PATH_MAX * 3];
	char *old_cwd;

	tree_init(&t);
	tree_write(&t, "main.ini",
		   "[pgbouncer]\n"
		   "auth_type = md5\n"
		   "auth_file = userlist.txt\n"
		   "%include sub/a.ini\n"
		   "listen_port = 7001\n");
	/* a.ini's own include is relative to sub/, and it switches section. */
	tree_write(&t, "sub/a.ini", "max_client_conn = 55\n%include b.ini\n");
	tree_write(&t, "sub/b.ini", "[databases]\nfromb = host=b\n[pgbouncer]\n");
	tree_write(&t, "userlist.txt", "\"u\" \"p\"\n");

	/* auth_file is relative to the cwd, as in PgBouncer. */
	old_cwd = getcwd(NULL, 0);
	assert_non_null(old_cwd);
	assert_int_equal(chdir(t.dir), 0);
	snprintf(path, sizeof(path), "%s/main.ini", t.dir);
	assert_int_equal(lp_config_load(path, &c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.s.max_client_conn, 55);
	assert_int_equal(c.s.listen_port, 7001);
	assert_int_equal(c.ndbs, 1);
	snprintf(want, sizeof(want), "%s/sub/b.ini", t.dir);
	assert_string_equal(c.dbs[0].file, want);
	assert_int_equal(c.dbs[0].line, 2);
	lp_config_free(&c);

	/* In-memory text resolves includes against the cwd. */
	assert_int_equal(lp_config_parse(S("[pgbouncer]\n%include main.ini\n"), "mem", &c, &d), 0);
	assert_int_equal(c.s.listen_port, 7001);
	lp_config_free(&c);

	/* A loop: b includes a again, while a is still being read. */
	tree_write(&t, "sub/b.ini", "[pgbouncer]\nauth_type=trust\n%include ../sub/a.ini\n");
	assert_int_equal(lp_config_load(path, &c, &d), -1);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "%s/sub/b.ini:3: %%include loop: \"%s/sub/../sub/a.ini\" is already being read",
		 t.dir, t.dir);
	assert_true(diag_has(&d, want));
	lp_diag_cleanup(&d);

	/* A file including itself. */
	tree_write(&t, "self.ini", "[pgbouncer]\n%include self.ini\n");
	snprintf(path, sizeof(path), "%s/self.ini", t.dir);
	assert_int_equal(lp_config_load(path, &c, &d), -1);
	snprintf(want, sizeof(want), "%s:2: %%include loop: \"%s/self.ini\" is already being read",
		 path, t.dir);
	assert_true(diag_has(&d, want));
	lp_diag_cleanup(&d);

	/* A chain of 11 distinct files is one level too deep. */
	for (int i = 0; i <= 11; i++) {
		char name[32], text[64];

		snprintf(name, sizeof(name), "chain%d.ini", i);
		if (i == 0)
			snprintf(text, sizeof(text), "[pgbouncer]\nauth_type=trust\n%%include chain1.ini\n");
		else
			snprintf(text, sizeof(text), "%%include chain%d.ini\n", i + 1);
		tree_write(&t, name, text);
	}
	snprintf(path, sizeof(path), "%s/chain0.ini", t.dir);
	assert_int_equal(lp_config_load(path, &c, &d), -1);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "%s/chain10.ini:1: %%include nested more than 10 levels deep: \"chain11.ini\"", t.dir);
	assert_true(diag_has(&d, want));
	lp_diag_cleanup(&d);
	/* Ten levels are fine. */
	tree_write(&t, "chain10.ini", "listen_port = 7010\n");
	assert_int_equal(lp_config_load(path, &c, &d), 0);
	assert_int_equal(c.s.listen_port, 7010);
	lp_config_free(&c);

	/* The main file missing. */
	snprintf(path, sizeof(path), "%s/missing.ini", t.dir);
	assert_int_equal(lp_config_load(path, &c, &d), -1);
	snprintf(want, sizeof(want), "%s: cannot open \"%s\": No such file or directory", path, path);
	assert_true(diag_has(&d, want));
	lp_diag_cleanup(&d);

	assert_int_equal(chdir(old_cwd), 0);
	free(old_cwd);
	tree_cleanup(&t);
}

static void test_auth_file_check(void **state)
{
	struct tree t;
	struct lp_config c;
	struct lp_diag d = { 0 };
	char text[PATH_MAX + 100], want[PATH_MAX + 100];

	tree_init(&t);
	tree_write(&t, "users.txt", "\"u\" \"p\"\n");

	expect_one_error("[pgbouncer]\nauth_type = plain\n", "t.ini: auth_type plain requires auth_file");
	expect_one_error("[pgbouncer]\nauth_type = scram-sha-256\n",
			 "t.ini: auth_type scram-sha-256 requires auth_file");
	expect_one_error("[pgbouncer]\nauth_type = trust\nauth_file = /nonexistent/users.txt\n",
			 "t.ini: auth_file \"/nonexistent/users.txt\" is not readable: No such file or directory");
	parse_ok("[pgbouncer]\nauth_type = hba\n", &c);
	lp_config_free(&c);

	snprintf(text, sizeof(text), "[pgbouncer]\nauth_file = %s/users.txt\n", t.dir);
	assert_int_equal(lp_config_parse(text, strlen(text), "t.ini", &c, &d), 0);
	assert_int_equal(c.s.auth_type, LP_AUTH_MD5);
	snprintf(want, sizeof(want), "%s/users.txt", t.dir);
	assert_string_equal(c.s.auth_file, want);
	lp_config_free(&c);
	assert_int_equal(d.n, 0);
	tree_cleanup(&t);
}

static void test_set(void **state)
{
	struct lp_config c;
	const char *err = "x";
	char buf[64];

	parse_ok("[pgbouncer]\nauth_type = trust\n", &c);

	assert_int_equal(lp_config_set(&c, "default_pool_size", "50", &err), 0);
	assert_null(err);
	assert_int_equal(c.s.default_pool_size, 50);

	assert_int_equal(lp_config_set(&c, "Query_Timeout", "1.5", &err), 0);
	assert_int_equal(c.s.query_timeout, 1500000);
	fmt_opt(&c, "query_timeout", buf, sizeof(buf));
	assert_string_equal(buf, "1.5");

	assert_int_equal(lp_config_set(&c, "server_reset_query", "DISCARD PLANS", &err), 0);
	assert_string_equal(c.s.server_reset_query, "DISCARD PLANS");
	assert_int_equal(lp_config_set(&c, "pool_mode", "statement", &err), 0);
	assert_int_equal(c.s.pool_mode, LP_POOL_STATEMENT);

	assert_int_equal(lp_config_set(&c, "listen_port", "7000", &err), -1);
	assert_string_equal(err, "parameter listen_port cannot be changed online");
	assert_int_equal(c.s.listen_port, 6432);

	assert_int_equal(lp_config_set(&c, "nope", "1", &err), -1);
	assert_string_equal(err, "unknown parameter \"nope\"");

	assert_int_equal(lp_config_set(&c, "default_pool_size", "lots", &err), -1);
	assert_string_equal(err, "invalid value \"lots\" for parameter default_pool_size: not an integer");
	assert_int_equal(c.s.default_pool_size, 50);

	/* Whole-config rules hold for SET as well. */
	assert_int_equal(lp_config_set(&c, "auth_type", "md5", &err), -1);
	assert_string_equal(err, "auth_type md5 requires auth_file");
	assert_int_equal(c.s.auth_type, LP_AUTH_TRUST);
	assert_int_equal(lp_config_set(&c, "auth_file", "/nonexistent", &err), -1);
	assert_string_equal(c.s.auth_file, "");
	assert_int_equal(lp_config_set(&c, "auth_type", "cert", NULL), 0);
	assert_int_equal(c.s.auth_type, LP_AUTH_CERT);

	/* Two steps: nothing is stored before commit, a preview shows the
	 * settings as they would be, discard drops the new value. */
	{
		struct lp_config_change ch;
		struct lp_settings after;

		assert_int_equal(lp_config_change_prepare(&c, "client_tls_cert_file", "/x.crt", &ch,
							  &err), 0);
		assert_string_equal(c.s.client_tls_cert_file, "");
		lp_config_change_preview(&c, &ch, &after);
		assert_string_equal(after.client_tls_cert_file, "/x.crt");
		assert_ptr_equal(after.server_reset_query, c.s.server_reset_query);
		assert_int_equal(after.default_pool_size, 50);
		lp_config_change_discard(&ch);
		assert_string_equal(c.s.client_tls_cert_file, "");

		assert_int_equal(lp_config_change_prepare(&c, "max_client_conn", "77", &ch, &err), 0);
		lp_config_change_preview(&c, &ch, &after);
		assert_int_equal(after.max_client_conn, 77);
		assert_int_not_equal(c.s.max_client_conn, 77);
		lp_config_change_commit(&c, &ch);
		assert_int_equal(c.s.max_client_conn, 77);

		assert_int_equal(lp_config_change_prepare(&c, "listen_port", "1", &ch, &err), -1);
		assert_string_equal(err, "parameter listen_port cannot be changed online");
	}
	lp_config_free(&c);
}

/*
 * Every [pgbouncer] setting PgBouncer 1.18-1.25 documents is accepted (the
 * lead adds tcp_defer_accept and tcp_socket_buffer separately), with
 * PgBouncer's default, and keeps its value.
 */
static void test_pgbouncer_compat(void **state)
{
	struct lp_config c;
	char buf[256];
	static const struct {
		const char *name, *def;
	} compat[] = {
		{ "unix_socket_group", "" },     { "server_round_robin", "0" },
		{ "disable_pqexec", "0" },       { "server_fast_close", "0" },
		{ "conffile", "" },              { "service_name", "pgbouncer" },
		{ "job_name", "pgbouncer" },     { "autodb_idle_timeout", "3600" },
		{ "dns_nxdomain_ttl", "15" },    { "dns_zone_check_period", "0" },
		{ "resolv_conf", "" },           { "client_tls_ecdhcurve", "auto" },
		{ "client_tls_dheparams", "auto" }, { "client_tls13_ciphers", "" },
		{ "server_tls13_ciphers", "" },  { "suspend_timeout", "10" },
		{ "sbuf_loopcnt", "5" },         { "peer_id", "0" },
		{ "max_prepared_statements", "200" }, { "scram_iterations", "4096" },
		{ "auth_ident_file", "" },       { "auth_ldap_options", "" },
		{ "query_wait_notify", "5" },    { "transaction_timeout", "0" },
		{ "cancel_wait_timeout", "10" },
	};
	for (size_t i = 0; i < sizeof(compat) / sizeof(compat[0]); i++) {
		const struct lp_option *o = lp_config_option_find(compat[i].name);
		assert_non_null(o);
		assert_string_equal(o->def, compat[i].def);
	}

	parse_ok("[pgbouncer]\n"
		 "auth_type = trust\n"
		 "unix_socket_group = root\n"
		 "server_round_robin = 1\n"
		 "disable_pqexec = yes\n"
		 "server_fast_close = on\n"
		 "conffile = /etc/pgbouncer/other.ini\n"
		 "service_name = svc\n"
		 "job_name = job\n"
		 "autodb_idle_timeout = 60\n"
		 "dns_nxdomain_ttl = 2.5\n"
		 "dns_zone_check_period = 30\n"
		 "resolv_conf = /etc/resolv.conf\n"
		 "client_tls_ecdhcurve = prime256v1\n"
		 "client_tls_dheparams = legacy\n"
		 "client_tls13_ciphers = TLS_AES_256_GCM_SHA384\n"
		 "server_tls13_ciphers = TLS_AES_128_GCM_SHA256\n"
		 "suspend_timeout = 20\n"
		 "sbuf_loopcnt = 0\n"
		 "peer_id = 16383\n"
		 "max_prepared_statements = 0\n"
		 "scram_iterations = 10000\n"
		 "auth_ident_file = /etc/pgbouncer/ident.conf\n"
		 "auth_ldap_options = \n"
		 "query_wait_notify = 0\n"
		 "transaction_timeout = 90\n"
		 "cancel_wait_timeout = 3\n",
		 &c);
	assert_string_equal(c.s.unix_socket_group, "root");
	assert_true(c.s.server_round_robin);
	assert_true(c.s.disable_pqexec);
	assert_true(c.s.server_fast_close);
	assert_string_equal(c.s.conffile, "/etc/pgbouncer/other.ini");
	assert_string_equal(c.s.service_name, "svc");
	assert_string_equal(c.s.job_name, "job");
	assert_int_equal(c.s.autodb_idle_timeout, 60 * SEC);
	assert_int_equal(c.s.dns_nxdomain_ttl, 2500000);
	assert_int_equal(c.s.dns_zone_check_period, 30 * SEC);
	assert_string_equal(c.s.resolv_conf, "/etc/resolv.conf");
	assert_string_equal(c.s.client_tls_ecdhcurve, "prime256v1");
	assert_string_equal(c.s.client_tls_dheparams, "legacy");
	assert_string_equal(c.s.client_tls13_ciphers, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(c.s.server_tls13_ciphers, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(c.s.suspend_timeout, 20 * SEC);
	assert_int_equal(c.s.sbuf_loopcnt, 0);
	assert_int_equal(c.s.peer_id, 16383);
	assert_int_equal(c.s.max_prepared_statements, 0);
	assert_int_equal(c.s.scram_iterations, 10000);
	assert_string_equal(c.s.auth_ident_file, "/etc/pgbouncer/ident.conf");
	assert_string_equal(c.s.auth_ldap_options, "");   /* any other value: refused */
	assert_int_equal(c.s.query_wait_notify, 0);
	assert_int_equal(c.s.transaction_timeout, 90 * SEC);
	assert_int_equal(c.s.cancel_wait_timeout, 3 * SEC);
	fmt_opt(&c, "dns_nxdomain_ttl", buf, sizeof(buf));
	assert_string_equal(buf, "2.5");
	lp_config_free(&c);

	/* Values are checked by type, and beyond it where PgBouncer does. */
	expect_one_error("[pgbouncer]\nauth_type = trust\nunix_socket_group = no-such-group-lp\n",
			 "t.ini:3: invalid value \"no-such-group-lp\" for parameter unix_socket_group: "
			 "no such group");
	expect_one_error("[pgbouncer]\nauth_type = trust\nclient_tls_dheparams = 512\n",
			 "t.ini:3: invalid value \"512\" for parameter client_tls_dheparams: "
			 "expected none, auto or legacy");
	expect_one_error("[pgbouncer]\nauth_type = trust\npeer_id = 16384\n",
			 "t.ini:3: invalid value \"16384\" for parameter peer_id: out of range (0..16383)");
	expect_one_error("[pgbouncer]\nauth_type = trust\nserver_round_robin = maybe\n",
			 "t.ini:3: invalid value \"maybe\" for parameter server_round_robin: expected a "
			 "boolean (0/1, yes/no, on/off, true/false)");
	expect_one_error("[pgbouncer]\nauth_type = trust\nsbuf_loopcnt = -1\n",
			 "t.ini:3: invalid value \"-1\" for parameter sbuf_loopcnt: out of range "
			 "(0..2147483647)");
	expect_one_error("[pgbouncer]\nauth_type = trust\ntransaction_timeout = soon\n",
			 "t.ini:3: invalid value \"soon\" for parameter transaction_timeout: not a duration");
	expect_one_error("[pgbouncer]\nauth_type = trust\nscram_iterations = 0\n",
			 "t.ini:3: invalid value \"0\" for parameter scram_iterations: out of range "
			 "(1..10000000)");

	/* SET follows the table: reloadable ones change, the others refuse. */
	parse_ok("[pgbouncer]\nauth_type = trust\n", &c);
	assert_int_equal(lp_config_set(&c, "server_round_robin", "1", NULL), 0);
	assert_true(c.s.server_round_robin);
	assert_int_equal(lp_config_set(&c, "client_tls_dheparams", "bogus", NULL), -1);
	assert_int_equal(lp_config_set(&c, "disable_pqexec", "1", NULL), -1);
	assert_int_equal(lp_config_set(&c, "unix_socket_group", "root", NULL), -1);
	lp_config_free(&c);
}

/* The per-database, per-user and [peers] keys of PgBouncer 1.18-1.25. */
static void test_compat_keys(void **state)
{
	struct lp_config c;
	const struct lp_db_conf *d;
	const struct lp_user_conf *u;

	parse_ok("[databases]\n"
		 "a = host=h port=5433 dbname=x user=u password=p auth_user=au auth_dbname=ad "
		 "auth_query='SELECT 1' pool_size=2 min_pool_size=1 reserve_pool=3 "
		 "max_db_connections=4 max_db_client_connections=5 pool_mode=transaction "
		 "connect_query='SELECT 2' client_encoding=UTF8 datestyle=ISO timezone=UTC "
		 "application_name=app server_lifetime=30 load_balance_hosts=disable\n"
		 "b = reserve_pool_size=6 load_balance_hosts=round-robin server_lifetime=1.5\n"
		 "c =\n"
		 "[users]\n"
		 "alice = pool_mode=session pool_size=3 reserve_pool_size=1 max_user_connections=7 "
		 "max_user_client_connections=9 query_timeout=10 idle_transaction_timeout=11 "
		 "client_idle_timeout=12 transaction_timeout=13\n"
		 "bob =\n"
		 "[peers]\n"
		 "1 = host=/tmp/pgbouncer1\n"
		 "2 = host=10.0.0.2 port=6433 pool_size=4\n"
		 "[pgbouncer]\nauth_type = trust\npeer_id = 1\n",
		 &c);
	d = lp_config_find_db(&c, "a");
	assert_non_null(d);
	assert_int_equal(d->server_lifetime, 30 * SEC);
	assert_int_equal(d->load_balance_hosts, LP_LB_DISABLE);
	assert_int_equal(d->max_db_client_connections, 5);
	assert_string_equal(d->auth_dbname, "ad");
	d = lp_config_find_db(&c, "b");
	assert_int_equal(d->reserve_pool, 6);
	assert_int_equal(d->load_balance_hosts, LP_LB_ROUND_ROBIN);
	assert_int_equal(d->server_lifetime, 1500000);
	d = lp_config_find_db(&c, "c");
	assert_int_equal(d->server_lifetime, -1);
	assert_int_equal(d->load_balance_hosts, -1);

	u = lp_config_find_user(&c, "alice");
	assert_non_null(u);
	assert_int_equal(u->max_user_client_connections, 9);
	assert_int_equal(u->query_timeout, 10 * SEC);
	assert_int_equal(u->idle_transaction_timeout, 11 * SEC);
	assert_int_equal(u->client_idle_timeout, 12 * SEC);
	assert_int_equal(u->transaction_timeout, 13 * SEC);
	u = lp_config_find_user(&c, "bob");
	assert_int_equal(u->query_timeout, -1);
	assert_int_equal(u->idle_transaction_timeout, -1);
	assert_int_equal(u->client_idle_timeout, -1);
	assert_int_equal(u->transaction_timeout, -1);

	assert_int_equal(c.npeers, 2);
	assert_int_equal(c.peers[0].id, 1);
	assert_string_equal(c.peers[0].host, "/tmp/pgbouncer1");
	assert_int_equal(c.peers[0].port, 6432);
	assert_int_equal(c.peers[0].pool_size, -1);
	assert_int_equal(c.peers[1].port, 6433);
	assert_int_equal(c.peers[1].pool_size, 4);
	lp_config_free(&c);

	expect_one_error("[databases]\nx = load_balance_hosts=random\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": invalid value \"random\" for load_balance_hosts: "
			 "expected round-robin or disable");
	expect_one_error("[databases]\nx = server_lifetime=-5\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: database \"x\": invalid value \"-5\" for server_lifetime: not a duration");
	expect_one_error("[users]\nu = query_timeout=x\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: user \"u\": invalid value \"x\" for query_timeout: not a duration");
	expect_one_error("[peers]\n0 = host=x\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: peer \"0\": the name must be a peer_id: out of range (1..16383)");
	expect_one_error("[peers]\n1 = dbname=x\n[pgbouncer]\nauth_type=trust\n",
			 "t.ini:2: peer \"1\": unknown parameter \"dbname\"");
}

static void test_list_has(void **state)
{
	assert_true(lp_config_list_has("alice, bob,carol", "bob"));
	assert_true(lp_config_list_has("alice, bob,carol", "carol"));
	assert_true(lp_config_list_has("alice", "alice"));
	assert_true(lp_config_list_has(" alice  bob ", "bob"));
	assert_false(lp_config_list_has("alice, bob", "Bob"));
	assert_false(lp_config_list_has("alice, bobby", "bob"));
	assert_false(lp_config_list_has("alice", "alic"));
	assert_false(lp_config_list_has("", "x"));
	assert_false(lp_config_list_has(",,", ""));
	assert_false(lp_config_list_has(NULL, "x"));
}

static void test_fuzzish(void **state)
{
	/* Odd bytes must be rejected or accepted, never crash or leak. */
	static const char *const inputs[] = {
		"[", "]", "=", "\"", "%", "%include", "[databases]\n\"\"\"", "[databases]\nx='",
		"[databases]\nx=a='\\", "[databases]\nx=a=\\", "[pgbouncer]\nstats_period=9.99999999999999999",
		"[databases]\nx= a = 'b' c =d\n",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct lp_diag d = { 0 };
		struct lp_config c;

		if (lp_config_parse(inputs[i], strlen(inputs[i]), NULL, &c, &d) == 0)
			lp_config_free(&c);
		lp_diag_cleanup(&d);
	}
	{
		/* A NUL byte makes its line (comments too) an error with
		 * file:line, as auth_file's reader says; the other lines are
		 * still read, so every problem is reported in one run. */
		static const char text[] = "[pgbouncer]\nlisten_port=1\0junk\n; c\0\nlisten_port=x\nauth_type=trust\n";
		struct lp_diag d = { 0 };
		struct lp_config c;

		assert_int_equal(lp_config_parse(text, sizeof(text) - 1, NULL, &c, &d), -1);
		assert_int_equal(d.n, 3);
		assert_true(diag_has(&d, "<string>:2: NUL byte in line"));
		assert_true(diag_has(&d, "<string>:3: NUL byte in line"));
		assert_true(diag_has(&d, "<string>:4: invalid value \"x\" for parameter listen_port: "
				      "not an integer"));
		lp_diag_cleanup(&d);
	}
}

/* docs/config.md sits two directories above this file. */
static char *read_doc(void)
{
	const char *env = getenv("LP_CONFIG_DOC");
	char path[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');
	FILE *f;
	char *buf;
	long len;

	if (env)
		snprintf(path, sizeof(path), "%s", env);
	else if (slash)
		snprintf(path, sizeof(path), "%.*s/../../docs/config.md", (int)(slash - __FILE__),
			 __FILE__);
	else
		snprintf(path, sizeof(path), "../../docs/config.md");
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s (set LP_CONFIG_DOC)\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void test_docs(void **state)
{
	size_t n;
	const struct lp_option *opts = lp_config_options(&n);
	char *doc = read_doc(), *gen = NULL, needle[128];
	size_t genlen = 0;
	FILE *mem;

	assert_non_null(doc);
	for (size_t i = 0; i < n; i++) {
		snprintf(needle, sizeof(needle), "| `%s` |", opts[i].name);
		if (!strstr(doc, needle))
			fprintf(stderr, "docs/config.md lacks %s\n", opts[i].name);
		assert_non_null(strstr(doc, needle));
	}
	assert_non_null(strstr(doc, "| `reserve_pool_size` |"));
	assert_non_null(strstr(doc, "| `max_user_connections` |"));

	/* The committed file is exactly the generator's output. */
	mem = open_memstream(&gen, &genlen);
	assert_non_null(mem);
	lp_config_write_doc(mem);
	fclose(mem);
	if (strcmp(doc, gen) != 0)
		fprintf(stderr, "docs/config.md is stale: run `ninja -C build config-doc`\n");
	assert_string_equal(doc, gen);
	free(gen);
	free(doc);
}

/* host=a,b,c: entries by index (wrapping), the list checked when read. */
static void test_host_list(void **state)
{
	char out[LP_HOST_LEN];
	(void)state;
	assert_int_equal(lp_config_host_count("db1"), 1);
	assert_int_equal(lp_config_host_count("a,/run/pg,::1"), 3);
	lp_config_host_at("a,/run/pg,::1", 0, out);
	assert_string_equal(out, "a");
	lp_config_host_at("a,/run/pg,::1", 1, out);
	assert_string_equal(out, "/run/pg");
	lp_config_host_at("a,/run/pg,::1", 2, out);
	assert_string_equal(out, "::1");
	lp_config_host_at("a,/run/pg,::1", 4, out);
	assert_string_equal(out, "/run/pg");

	static const char *const bad[] = { ",a", "a,", "a,,b", "," };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char text[200];
		snprintf(text, sizeof(text), "[databases]\nx = host=%s\n", bad[i]);
		struct lp_diag d = parse_bad(text);
		assert_non_null(strstr(d.msgs[0], "empty entry in the host list"));
		lp_diag_cleanup(&d);
	}
	struct lp_config c;
	parse_ok("[databases]\nx = host=127.0.0.1,/tmp,db.example port=5433 "
		 "load_balance_hosts=disable\n[pgbouncer]\nauth_type = trust\n", &c);
	assert_string_equal(c.dbs[0].host, "127.0.0.1,/tmp,db.example");
	assert_int_equal(c.dbs[0].load_balance_hosts, LP_LB_DISABLE);
	assert_int_equal(c.dbs[0].target_session_attrs, LP_TSA_ANY);
	lp_config_free(&c);

	parse_ok("[databases]\nx = host=a,b target_session_attrs=Prefer-Standby\n"
		 "[pgbouncer]\nauth_type = trust\n", &c);
	assert_int_equal(c.dbs[0].target_session_attrs, LP_TSA_PREFER_STANDBY);
	assert_string_equal(lp_config_tsa_name(c.dbs[0].target_session_attrs), "prefer-standby");
	lp_config_free(&c);
	struct lp_diag d = parse_bad("[databases]\nx = host=a target_session_attrs=master\n");
	assert_non_null(strstr(d.msgs[0], "t.ini:2: database \"x\": invalid value \"master\" for "
				      "target_session_attrs: expected any, read-write"));
	lp_diag_cleanup(&d);
}

/*
 * Issue 15's rule: a setting whose effect a client or operator would see
 * either works or is refused ("not supported by linkpool: ..."); only knobs
 * of PgBouncer's internals may be accepted with no effect. This walks the
 * generated reference (every option, [databases]/[users] key and section
 * text) for "no effect" and allows only the names below.
 */
static const char *const inert_internal[] = {
	"sbuf_loopcnt", "service_name", "job_name", "dns_zone_check_period",
};

/* Index of name in v, or -1. */
static int listed(const char *name, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return (int)i;
	return -1;
}

static bool no_effect_text(const char *line)
{
	for (const char *p = line; *p; p++)
		if (strncasecmp(p, "no effect", 9) == 0)
			return true;
	return false;
}

static void test_no_inert_settings(void **state)
{
	char *gen = NULL, section[64] = "";
	size_t genlen = 0;
	int found = 0, bad = 0;
	FILE *mem = open_memstream(&gen, &genlen);
	(void)state;
	assert_non_null(mem);
	lp_config_write_doc(mem);
	fclose(mem);
	for (char *line = strtok(gen, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "## ", 3) == 0)
			snprintf(section, sizeof(section), "%s", line + 3);
		if (!no_effect_text(line))
			continue;
		char name[64];
		const char *tick = strncmp(line, "| `", 3) == 0 ? line + 3 : NULL;
		const char *end = tick ? strchr(tick, '`') : NULL;
		if (end && (size_t)(end - tick) < sizeof(name))
			snprintf(name, sizeof(name), "%.*s", (int)(end - tick), tick);
		else
			snprintf(name, sizeof(name), "%s", section);  /* section prose */
		found++;
		if (listed(name, inert_internal,
				sizeof(inert_internal) / sizeof(*inert_internal)) < 0) {
			fprintf(stderr, "documented as having no effect: %s\n", name);
			bad++;
		}
	}
	free(gen);
	assert_int_equal(bad, 0);
	assert_true(found > 0);   /* the walk itself works (internal knobs are inert) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_all_errors_collected),
		cmocka_unit_test(test_databases),
		cmocka_unit_test(test_many_databases),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_auth_file_check),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_pgbouncer_compat),
		cmocka_unit_test(test_compat_keys),
		cmocka_unit_test(test_list_has),
		cmocka_unit_test(test_fuzzish),
		cmocka_unit_test(test_docs),
		cmocka_unit_test(test_no_inert_settings),
		cmocka_unit_test(test_host_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
