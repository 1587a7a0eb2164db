/*
 * Unit tests of src/admin's pure parts: the command parser (grammar, case,
 * quoting, SET forms, limits, malformed input) and the result-set builder
 * (column tables, type checks, wire layout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/parse.h"
#include "admin/result.h"

static struct lp_admin_cmd ok(const char *q)
{
	struct lp_admin_cmd c;
	const char *err = NULL;
	int r = lp_admin_parse(q, &c, &err);
	if (r != 0)
		fail_msg("'%s' rejected: %s", q, err);
	return c;
}

static void bad(const char *q)
{
	struct lp_admin_cmd c;
	const char *err = NULL;
	assert_int_equal(lp_admin_parse(q, &c, &err), -1);
	assert_non_null(err);
}

static void test_plain_commands(void **state)
{
	(void)state;
	struct lp_admin_cmd c = ok("SHOW POOLS");
	assert_string_equal(c.word, "show");
	assert_string_equal(c.arg, "POOLS");
	assert_false(c.is_set);
	c = ok("  show\tstats_totals ;  ");
	assert_string_equal(c.word, "show");
	assert_string_equal(c.arg, "stats_totals");
	c = ok("pause;");
	assert_string_equal(c.word, "pause");
	assert_string_equal(c.arg, "");
	c = ok("Pause testdb");
	assert_string_equal(c.word, "pause");
	assert_string_equal(c.arg, "testdb");
	c = ok("KILL_CLIENT 1234");
	assert_string_equal(c.word, "kill_client");
	assert_string_equal(c.arg, "1234");
	c = ok("RESUME \"My \"\"Db\"\"\"");
	assert_string_equal(c.arg, "My \"Db\"");
	c = ok("\n\r SHUTDOWN WAIT_FOR_SERVERS\n");
	assert_string_equal(c.word, "shutdown");
	assert_string_equal(c.arg, "WAIT_FOR_SERVERS");
}

static void test_set_forms(void **state)
{
	(void)state;
	struct lp_admin_cmd c = ok("SET default_pool_size = 30");
	assert_true(c.is_set);
	assert_string_equal(c.word, "set");
	assert_string_equal(c.key, "default_pool_size");
	assert_string_equal(c.value, "30");
	c = ok("set server_reset_query to 'DISCARD ALL';");
	assert_string_equal(c.key, "server_reset_query");
	assert_string_equal(c.value, "DISCARD ALL");
	c = ok("SET x='it''s'");
	assert_string_equal(c.value, "it's");
	c = ok("SET query_timeout=1.5");
	assert_string_equal(c.value, "1.5");
	c = ok("SET logfile = /var/log/linkpool.log");
	assert_string_equal(c.value, "/var/log/linkpool.log");
	c = ok("SET server_reset_query = ''");
	assert_string_equal(c.value, "");
	c = ok("SET totally = x");
	assert_string_equal(c.key, "totally");
}

static void test_rejects(void **state)
{
	(void)state;
	bad("");
	bad("   ");
	bad(";");
	bad("SHOW POOLS CLIENTS");
	bad("SHOW POOLS; SHOW CLIENTS");
	bad("SELECT 1 + 1");
	bad("PAUSE 'db'");
	bad("SHOW \"unterminated");
	bad("SET");
	bad("SET key");
	bad("SET key value");
	bad("SET key = ");
	bad("SET key = 'unterminated");
	bad("SET key = a b");
	bad("SET key = 'a' junk");
	bad("SET toast = 1;;");
	bad("PAUSE db extra");
	bad("PAUSE-db");
	bad("SHOW\x01POOLS");
	/* A zero-length quoted name is no name (found by fuzz_admin: "" was
	 * taken as an empty command word, SHOW "" as a bare SHOW). */
	bad("\"\"");
	bad(" \"\";");
	bad("SHOW \"\"");
	bad("PAUSE \"\";");
	bad("SET \"\" = 1");
}

static void test_limits(void **state)
{
	(void)state;
	char q[2 * LP_ADMIN_VALUE_MAX];
	/* The longest word fits, one more is an error, never a truncation. */
	memset(q, 'a', LP_ADMIN_WORD_MAX - 1);
	q[LP_ADMIN_WORD_MAX - 1] = '\0';
	struct lp_admin_cmd c = ok(q);
	assert_int_equal(strlen(c.word), LP_ADMIN_WORD_MAX - 1);
	memset(q, 'a', LP_ADMIN_WORD_MAX);
	q[LP_ADMIN_WORD_MAX] = '\0';
	bad(q);
	snprintf(q, sizeof(q), "SET k = '");
	size_t n = strlen(q);
	memset(q + n, 'v', LP_ADMIN_VALUE_MAX);
	q[n + LP_ADMIN_VALUE_MAX] = '\'';
	q[n + LP_ADMIN_VALUE_MAX + 1] = '\0';
	bad(q);
}

static const struct lp_col two_cols[] = {
	{ "name", LP_COL_TEXT },
	{ "items", LP_COL_INT4 },
};

static void test_result_layout(void **state)
{
	(void)state;
	struct lp_result r;
	lp_result_begin(&r, two_cols, LP_NCOLS(two_cols));
	lp_row_begin(&r);
	lp_row_text(&r, "pools");
	lp_row_int(&r, 3);
	lp_row_end(&r);
	lp_row_begin(&r);
	lp_row_null(&r);
	lp_row_int(&r, INT64_C(1) << 40);       /* clamps to int4 */
	lp_row_end(&r);
	assert_false(r.failed);
	assert_int_equal(r.nrows, 2);
	/* RowDescription: 'T', len, 2 columns, "name" ... oid 25 */
	assert_int_equal(r.buf[0], 'T');
	assert_int_equal(r.buf[5], 0);
	assert_int_equal(r.buf[6], 2);
	assert_memory_equal(r.buf + 7, "name\0", 5);
	const uint8_t *oid = r.buf + 7 + 5 + 4 + 2;
	assert_int_equal(oid[3], 25);
	/* find the second DataRow and its clamped value */
	const char *needle = "2147483647";
	int found = 0;
	for (size_t i = 0; i + strlen(needle) <= r.len; i++)
		if (memcmp(r.buf + i, needle, strlen(needle)) == 0)
			found = 1;
	assert_true(found);
	lp_result_cleanup(&r);
}

static void test_result_type_checks(void **state)
{
	(void)state;
	struct lp_result r;
	/* wrong type */
	lp_result_begin(&r, two_cols, LP_NCOLS(two_cols));
	lp_row_begin(&r);
	lp_row_int(&r, 1);
	lp_row_int(&r, 1);
	lp_row_end(&r);
	assert_true(r.failed);
	lp_result_cleanup(&r);
	/* too few values */
	lp_result_begin(&r, two_cols, LP_NCOLS(two_cols));
	lp_row_begin(&r);
	lp_row_text(&r, "x");
	lp_row_end(&r);
	assert_true(r.failed);
	lp_result_cleanup(&r);
	/* too many values */
	lp_result_begin(&r, two_cols, LP_NCOLS(two_cols));
	lp_row_begin(&r);
	lp_row_text(&r, "x");
	lp_row_int(&r, 1);
	lp_row_null(&r);
	lp_row_end(&r);
	assert_true(r.failed);
	lp_result_cleanup(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_commands),
		cmocka_unit_test(test_set_forms),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_result_layout),
		cmocka_unit_test(test_result_type_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
