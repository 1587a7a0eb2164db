/*
 * Unit tests of src/auth/hba: the pg_hba.conf grammar (types, lists, quoting,
 * CIDR and netmask, continuation), errors named file:line, and first-match
 * order of the matcher.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/hba.h"

static int parse(const char *text, struct lp_hba *h, struct lp_diag *d)
{
	return lp_hba_parse(text, strlen(text), "hba.conf", h, d);
}

static bool diag_has(const struct lp_diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return true;
	return false;
}

static int method(const struct lp_hba *h, const char *addr, bool tls, const char *db,
		  const char *user)
{
	const struct lp_hba_rule *r = lp_hba_match(h, addr, tls, db, user, false);
	return r ? (int)r->method : -1;
}

static void test_parse_and_match(void **state)
{
	static const char text[] =
		"# comment line\n"
		"\n"
		"local   all        admin                          trust\n"
		"local   all        all                            reject\n"
		"hostssl certdb     all        0.0.0.0/0           cert\n"
		"host    db1,db2    alice, bob 10.0.0.0/8          md5   # trailing\n"
		"host    \"all\"      all        192.168.1.0 255.255.255.0  password\n"
		"hostnossl all      carol      127.0.0.1/32        scram-sha-256\n"
		"host    all        all        ::1/128             trust\n"
		"host    all        carol      all \\\n"
		"        md5\n"
		"host    all        all        0.0.0.0/0           reject\n";
	struct lp_hba h;
	struct lp_diag d = { 0 };

	(void)state;
	assert_int_equal(parse(text, &h, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(h.n, 9);
	assert_int_equal(h.rules[7].line, 10);          /* continuation: first line counts */

	assert_int_equal(method(&h, NULL, false, "x", "admin"), LP_HBA_TRUST);
	assert_int_equal(method(&h, NULL, false, "x", "alice"), LP_HBA_REJECT);
	assert_int_equal(method(&h, "1.2.3.4", true, "certdb", "u"), LP_HBA_CERT);
	assert_int_equal(method(&h, "1.2.3.4", false, "certdb", "u"), LP_HBA_REJECT);
	assert_int_equal(method(&h, "10.9.8.7", false, "db2", "bob"), LP_HBA_MD5);
	assert_int_equal(method(&h, "10.9.8.7", false, "db3", "bob"), LP_HBA_REJECT);
	assert_int_equal(method(&h, "11.9.8.7", false, "db1", "bob"), LP_HBA_REJECT);
	/* quoted "all" is a database named all */
	assert_int_equal(method(&h, "192.168.1.77", false, "all", "x"), LP_HBA_PASSWORD);
	assert_int_equal(method(&h, "192.168.1.77", false, "other", "x"), LP_HBA_REJECT);
	/* hostnossl skips TLS connections; the next carol rule (any address) applies */
	assert_int_equal(method(&h, "127.0.0.1", false, "d", "carol"), LP_HBA_SCRAM);
	assert_int_equal(method(&h, "127.0.0.1", true, "d", "carol"), LP_HBA_MD5);
	assert_int_equal(method(&h, "::1", false, "d", "x"), LP_HBA_TRUST);
	assert_int_equal(method(&h, "::2", false, "d", "x"), -1);       /* v4 rule only */
	assert_int_equal(method(&h, "not-an-ip", false, "d", "x"), -1);
	lp_hba_free(&h);
	lp_diag_cleanup(&d);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "hostx all all all trust\n", "hba.conf:1: invalid connection type" },
		{ "host all all all\n", "hba.conf:1: end of line before the authentication method" },
		{ "host all all 10.0.0.0/33 md5\n", "hba.conf:1: invalid CIDR mask" },
		{ "host all all 10.0.0.0/ md5\n", "hba.conf:1: invalid CIDR mask" },
		{ "host all all 10.0.0.0 255.0.255.0 md5\n", "hba.conf:1: invalid netmask" },
		{ "host all all 10.0.0.0 md5\n", "hba.conf:1: invalid netmask" },
		{ "host all all example.com md5\n", "hba.conf:1: invalid IP address" },
		{ "host all all samenet md5\n", "hba.conf:1: samenet is not supported" },
		{ "\nhost all all all ldap\n", "hba.conf:2: ldap needs options" },
		{ "host all all all ldap ldapserver=h\n", "hba.conf:1: invalid ldap options: LDAP authentication requires" },
		{ "host all all all ldap ldapserver=h ldapprefix=x ldapbasedn=y\n", "hba.conf:1: invalid ldap options: ldapprefix/ldapsuffix (simple bind) cannot be mixed" },
		{ "host all all all pam pamservice=x\n", "hba.conf:1: authentication option \"pamservice\" is not supported" },
		{ "host all all all ident\n", "hba.conf:1: authentication method ident is not supported" },
		{ "host all all all krb5\n", "hba.conf:1: unsupported authentication method" },
		{ "host all all all md5 clientcert=1\n", "hba.conf:1: authentication option \"clientcert\" is not supported" },
		{ "host all all all md5 map=x\n", "hba.conf:1: map= is only for the cert and peer methods" },
		{ "local all all peer map\n", "hba.conf:1: authentication option \"map\" is not name=value" },
		{ "local all all peer map=\n", "hba.conf:1: map= needs a name" },
		{ "host \"all all all md5\n", "hba.conf:1: unterminated quoted string" },
		{ "host a, all all md5\n", "hba.conf:1: invalid IP address" },
		{ "local a, all\n", "hba.conf:1: end of line before the user field" },
		{ "local a,,b all trust\n", "hba.conf:1: empty item in the database list" },
		{ "local a , , b all trust\n", "hba.conf:1: empty item in the database list" },
		{ "local a all, trust\n", "hba.conf:1: end of line before the authentication method" },
		{ "local \"\" all trust\n", "hba.conf:1: empty database name" },
		{ "local samerole all trust\n", "hba.conf:1: samerole is not supported" },
		{ "local all +group trust\n", "hba.conf:1: group membership (+group) is not supported" },
		{ "local all\n", "hba.conf:1: end of line before the user field" },
		{ "local,host all all trust\n", "hba.conf:1: connection type must be a single word" },
		{ "host all all 10.0.0.1,10.0.0.2 md5\n", "hba.conf:1: the address field takes one address" },
		{ "local @/nonexistent/x all trust\n", "hba.conf:1: @/nonexistent/x: cannot open @file" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lp_hba h;
		struct lp_diag d = { 0 };
		int rc = parse(bad[i].text, &h, &d);
		if (rc != -1 || !diag_has(&d, bad[i].want)) {
			fprintf(stderr, "case %zu: %s -> %s\n", i, bad[i].text, d.n ? d.msgs[0] : "(none)");
			fail();
		}
		assert_int_equal(h.n, 0);
		lp_diag_cleanup(&d);
	}

	/* every bad line is reported, and the whole file is refused */
	struct lp_hba h;
	struct lp_diag d = { 0 };
	assert_int_equal(parse("local all all trust\nbad\nhost all all all trust\nworse x\n", &h, &d), -1);
	assert_int_equal(d.n, 2);
	assert_true(diag_has(&d, "hba.conf:2:"));
	assert_true(diag_has(&d, "hba.conf:4:"));
	lp_diag_cleanup(&d);
}

static void test_limits(void **state)
{
	struct lp_hba h;
	struct lp_diag d = { 0 };
	char *big = malloc(20000);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 19999);
	big[19999] = '\0';
	assert_int_equal(parse(big, &h, &d), -1);
	assert_int_equal(d.n, 1);
	lp_diag_cleanup(&d);
	free(big);
	/* NUL bytes inside a line */
	assert_int_equal(lp_hba_parse("local all all trust\0x\n", 22, "hba.conf", &h, &d), -1);
	assert_true(diag_has(&d, "hba.conf:1: NUL byte in line"));
	lp_diag_cleanup(&d);
	/* ... and in a comment, as the ini and auth_file readers say */
	assert_int_equal(lp_hba_parse("local all all trust\n# a\0b\n", 26, "hba.conf", &h, &d), -1);
	assert_true(diag_has(&d, "hba.conf:2: NUL byte in line"));
	lp_diag_cleanup(&d);
	/* missing file */
	assert_int_equal(lp_hba_load("/nonexistent/hba.conf", &h, &d), -1);
	assert_true(diag_has(&d, "/nonexistent/hba.conf: cannot open auth_hba_file"));
	lp_diag_cleanup(&d);
	/* empty file: no rules, so everything is refused */
	assert_int_equal(parse("# nothing\n", &h, &d), 0);
	assert_null(lp_hba_match(&h, "1.2.3.4", false, "d", "u", false));
	lp_hba_free(&h);
}

/* What PgBouncer's HBA syntax takes beyond the basics: blanks around list
 * commas, "" inside quotes, cert and peer on any line type, sameuser,
 * replication, @file lists, map= options. */
static void test_pgbouncer_syntax(void **state)
{
	char dir[] = "/tmp/lp-hba-XXXXXX";
	char hba_path[64], inc_path[64], nest_path[64];
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(hba_path, sizeof(hba_path), "%s/hba.conf", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/team.txt", dir);
	snprintf(nest_path, sizeof(nest_path), "%s/more.txt", dir);
	FILE *f = fopen(inc_path, "w");
	assert_non_null(f);
	fputs("# the team\nann, bea\n\"c d\" @more.txt\n", f);
	fclose(f);
	f = fopen(nest_path, "w");
	assert_non_null(f);
	fputs("dan\n", f);
	fclose(f);
	static const char text[] =
		"host   db1 , db2   u1 ,u2 , u3      10.0.0.0/8    md5\n"
		"host   \"q1\"\"q2\"    \"x , y\"         11.0.0.0/8    trust\n"
		"host   all         all               12.0.0.0/8    cert   # not hostssl: fails without TLS\n"
		"local  sameuser    all                             trust\n"
		"local  replication all                             trust\n"
		"local  db2,replication alice                       md5\n"
		"local  all         @team.txt                       peer   map=m1\n"
		"hostssl all        all               13.0.0.0/8    cert , map=\"m 2\"\n"
		"local  all         all                             reject\n";
	struct lp_hba h;
	struct lp_diag d = { 0 };
	assert_int_equal(lp_hba_parse(text, strlen(text), hba_path, &h, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(h.n, 9);
	const struct lp_hba_rule *r;
	assert_int_equal(method(&h, "10.1.1.1", false, "db2", "u3"), LP_HBA_MD5);
	assert_int_equal(method(&h, "10.1.1.1", false, "db3", "u3"), -1);
	assert_int_equal(method(&h, "11.1.1.1", false, "q1\"q2", "x , y"), LP_HBA_TRUST);
	assert_int_equal(method(&h, "11.1.1.1", false, "q1q2", "x , y"), -1);
	assert_int_equal(method(&h, "12.1.1.1", false, "d", "u"), LP_HBA_CERT);
	/* sameuser: the database named as the user */
	assert_int_equal(method(&h, NULL, false, "carl", "carl"), LP_HBA_TRUST);
	/* replication matches no (non-replication) connection; db2 still does */
	assert_int_equal(method(&h, NULL, false, "replication", "alice"), LP_HBA_REJECT);
	assert_int_equal(method(&h, NULL, false, "db2", "alice"), LP_HBA_MD5);
	/* a physical replication connection matches the keyword line only,
	 * whatever database it names ("all" and sameuser lines pass it by) */
	r = lp_hba_match(&h, NULL, false, "carl", "carl", true);
	assert_non_null(r);
	assert_true(r->db_replication);
	assert_int_equal(r->method, LP_HBA_TRUST);
	assert_null(lp_hba_match(&h, "12.1.1.1", false, "d", "u", true));
	/* names from @team.txt, and from @more.txt inside it */
	r = lp_hba_match(&h, NULL, false, "x", "bea", false);
	assert_non_null(r);
	assert_int_equal(r->method, LP_HBA_PEER);
	assert_string_equal(r->map, "m1");
	assert_int_equal(method(&h, NULL, false, "x", "c d"), LP_HBA_PEER);
	assert_int_equal(method(&h, NULL, false, "x", "dan"), LP_HBA_PEER);
	assert_int_equal(method(&h, NULL, false, "x", "eve"), LP_HBA_REJECT);
	r = lp_hba_match(&h, "13.1.1.1", true, "x", "y", false);
	assert_non_null(r);
	assert_string_equal(r->map, "m 2");
	lp_hba_free(&h);
	lp_diag_cleanup(&d);
	/* @file nesting is bounded */
	f = fopen(nest_path, "w");
	assert_non_null(f);
	fputs("@more.txt\n", f);
	fclose(f);
	assert_int_equal(lp_hba_parse(text, strlen(text), hba_path, &h, &d), -1);
	assert_true(diag_has(&d, "nested too deep"));
	lp_diag_cleanup(&d);
	unlink(inc_path);
	unlink(nest_path);
	rmdir(dir);
}

static void test_ident(void **state)
{
	static const char text[] =
		"# MAPNAME SYSTEM-USER DB-USER\n"
		"m1   osuser   app\n"
		"m1   osuser   \"all\"\n"
		"m2   \"CN x\"   all\n";
	struct lp_ident id;
	struct lp_diag d = { 0 };
	(void)state;
	assert_int_equal(lp_ident_parse(text, strlen(text), "ident.conf", &id, &d), 0);
	assert_int_equal(id.n, 3);
	assert_true(lp_ident_match(&id, "m1", "osuser", "app"));
	assert_true(lp_ident_match(&id, "m1", "osuser", "all"));       /* quoted: a name */
	assert_false(lp_ident_match(&id, "m1", "osuser", "other"));
	assert_false(lp_ident_match(&id, "m1", "root", "app"));
	assert_true(lp_ident_match(&id, "m2", "CN x", "anyone"));      /* unquoted all */
	assert_false(lp_ident_match(&id, "m3", "osuser", "app"));
	assert_true(lp_ident_has_map(&id, "m2"));
	assert_false(lp_ident_has_map(&id, "m3"));
	lp_ident_free(&id);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "m1 osuser\n", "ident.conf:1: expected MAPNAME SYSTEM-USERNAME DATABASE-USERNAME" },
		{ "m1 /^(.*)$ \\1\n", "ident.conf:1: regular expressions are not supported" },
		{ "m1 os +grp\n", "ident.conf:1: group membership is not supported" },
		{ "m1 os a,b\n", "ident.conf:1: a map line has no lists" },
		{ "include other.conf\n", "ident.conf:1: include is not supported" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = lp_ident_parse(bad[i].text, strlen(bad[i].text), "ident.conf", &id, &d);
		if (rc != -1 || !diag_has(&d, bad[i].want)) {
			fprintf(stderr, "case %zu: %s -> %s\n", i, bad[i].text, d.n ? d.msgs[0] : "(none)");
			fail();
		}
		lp_diag_cleanup(&d);
	}
	assert_int_equal(lp_ident_load("/nonexistent/ident.conf", &id, &d), -1);
	assert_true(diag_has(&d, "cannot open auth_ident_file"));
	lp_diag_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_match),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pgbouncer_syntax),
		cmocka_unit_test(test_ident),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
