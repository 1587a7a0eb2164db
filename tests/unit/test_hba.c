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
	const struct lp_hba_rule *r = lp_hba_match(h, addr, tls, db, user);
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
		{ "\nhost all all all peer\n", "hba.conf:2: unsupported authentication method" },
		{ "host all all all cert\n", "hba.conf:1: cert authentication is only supported on hostssl" },
		{ "host all all all md5 clientcert=1\n", "hba.conf:1: authentication options" },
		{ "host \"all all all md5\n", "hba.conf:1: unterminated quoted string" },
		{ "host a, all all md5,\n", "hba.conf:1: list ends with a comma" },
		{ "local replication all trust\n", "hba.conf:1: unsupported database keyword" },
		{ "local all +group trust\n", "hba.conf:1: unsupported user keyword" },
		{ "local all\n", "hba.conf:1: end of line before the user field" },
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
	assert_null(lp_hba_match(&h, "1.2.3.4", false, "d", "u"));
	lp_hba_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_match),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
