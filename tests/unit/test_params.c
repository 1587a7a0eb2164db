/*
 * Unit tests of src/pool/params: tracked session parameters -- lookups
 * ignore case, arrays grow on demand up to LP_MAX_TRACKED, every change
 * gives a new stamp (the parameter check in link.c trusts it), and the
 * tracked mask follows lp_param_is_tracked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pool/instance.h"
#include "pool/params.h"
#include "pool/pool.h"

static void test_empty_holds_nothing(void **state)
{
	struct lp_params p;
	(void)state;
	memset(&p, 0, sizeof(p));
	assert_null(lp_params_get(&p, "TimeZone"));
	assert_null(p.name);
	lp_params_clear(&p);
	assert_int_equal(p.n, 0);
}

static void test_set_get_case_insensitive(void **state)
{
	struct lp_params p;
	(void)state;
	memset(&p, 0, sizeof(p));
	lp_params_set(&p, "DateStyle", "ISO, MDY");
	lp_params_set(&p, "TimeZone", "UTC");
	assert_string_equal(lp_params_get(&p, "datestyle"), "ISO, MDY");
	assert_string_equal(lp_params_get(&p, "TIMEZONE"), "UTC");
	assert_null(lp_params_get(&p, "DateStyl"));
	lp_params_set(&p, "timezone", "Asia/Tokyo");
	assert_int_equal(p.n, 2);
	assert_string_equal(lp_params_get(&p, "TimeZone"), "Asia/Tokyo");
	assert_string_equal(p.name[1], "TimeZone");     /* first spelling kept */
	lp_params_clear(&p);
	assert_null(lp_params_get(&p, "TimeZone"));
}

static void test_grows_to_the_limit(void **state)
{
	struct lp_params p;
	char name[32], value[32];
	(void)state;
	memset(&p, 0, sizeof(p));
	for (int i = 0; i < LP_MAX_TRACKED + 5; i++) {
		snprintf(name, sizeof(name), "param_%d", i);
		snprintf(value, sizeof(value), "value_%d", i);
		lp_params_set(&p, name, value);
	}
	assert_int_equal(p.n, LP_MAX_TRACKED);
	for (int i = 0; i < LP_MAX_TRACKED; i++) {
		snprintf(name, sizeof(name), "PARAM_%d", i);
		snprintf(value, sizeof(value), "value_%d", i);
		assert_string_equal(lp_params_get(&p, name), value);
	}
	assert_null(lp_params_get(&p, "param_32"));
	lp_params_clear(&p);
}

static void test_stamp_changes_only_on_change(void **state)
{
	struct lp_params p, q;
	(void)state;
	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	lp_params_set(&p, "client_encoding", "UTF8");
	uint64_t s1 = p.stamp;
	assert_true(s1 != 0);
	lp_params_set(&p, "client_encoding", "UTF8");
	assert_true(p.stamp == s1);
	lp_params_set(&p, "CLIENT_ENCODING", "LATIN1");
	assert_true(p.stamp != s1);
	/* Stamps are unique across objects: equal content is not equal stamps. */
	lp_params_set(&q, "client_encoding", "LATIN1");
	assert_true(q.stamp != p.stamp);
	uint64_t s2 = p.stamp;
	lp_params_clear(&p);
	assert_true(p.stamp != s2);
	lp_params_clear(&q);
}

static void test_value_of_and_tracked(void **state)
{
	struct lp_instance inst;
	struct lp_params welcome, server;
	(void)state;
	memset(&inst, 0, sizeof(inst));
	memset(&welcome, 0, sizeof(welcome));
	memset(&server, 0, sizeof(server));
	char extra[] = "IntervalStyle";
	inst.cfg.s.track_extra_parameters = extra;
	lp_params_set(&welcome, "server_version", "15.0");
	lp_params_set(&welcome, "TimeZone", "UTC");
	lp_params_set(&welcome, "intervalstyle", "postgres");
	lp_params_mark_tracked(&inst, &welcome);
	assert_int_equal(welcome.tracked, 0x6);
	lp_params_set(&server, "timezone", "Europe/Paris");
	assert_null(lp_params_value_of(&server, &welcome, 0));
	assert_string_equal(lp_params_value_of(&server, &welcome, 1), "Europe/Paris");
	assert_null(lp_params_value_of(&server, &welcome, 2));
	/* A new entry is untracked until marked again. */
	lp_params_set(&welcome, "application_name", "x");
	assert_int_equal(welcome.tracked, 0x6);
	lp_params_mark_tracked(&inst, &welcome);
	assert_int_equal(welcome.tracked, 0xe);
	lp_params_clear(&welcome);
	lp_params_clear(&server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_holds_nothing),
		cmocka_unit_test(test_set_get_case_insensitive),
		cmocka_unit_test(test_grows_to_the_limit),
		cmocka_unit_test(test_stamp_changes_only_on_change),
		cmocka_unit_test(test_value_of_and_tracked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
