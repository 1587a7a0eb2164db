/*
 * Unit tests of src/core/cidr: parsing address ranges and lists (what
 * metrics_allow accepts and refuses) and matching peer addresses, IPv4,
 * IPv6 and IPv4-mapped IPv6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/cidr.h"

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

static bool match(const char *list, struct sockaddr_storage ss)
{
	struct lp_cidr c[LP_CIDR_MAX];
	char why[128];
	int n = lp_cidr_parse_list(list, c, LP_CIDR_MAX, why, sizeof(why));
	assert_true(n >= 0);
	return lp_cidr_match(c, n, (struct sockaddr *)&ss);
}

static void test_cidr_parse(void **state)
{
	(void)state;
	struct lp_cidr c;
	const char *good[] = { "10.0.0.0/8", "192.0.2.7", "0.0.0.0/0", "::1", "fd00::/8",
			       "::ffff:10.1.2.3/128", "10.1.2.3/32", "10.1.2.3/0" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(lp_cidr_parse(good[i], &c), 0);
	const char *bad[] = { "", "10.0.0.0/33", "::/129", "10.0.0/8", "localhost", "10.0.0.0/",
			      "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.0/ 8", "*", "1.2.3.4/08x",
			      "0123456789012345678901234567890123456789012345678901234567890" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lp_cidr_parse(bad[i], &c), -1);
	/* Host bits are masked off. */
	assert_int_equal(lp_cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.addr[0], 10);
	assert_int_equal(c.addr[1], 0);
}

static void test_cidr_list(void **state)
{
	(void)state;
	struct lp_cidr c[LP_CIDR_MAX];
	char why[128];
	assert_int_equal(lp_cidr_parse_list("", c, LP_CIDR_MAX, why, sizeof(why)), 0);
	assert_int_equal(lp_cidr_parse_list(" , ", c, LP_CIDR_MAX, why, sizeof(why)), 0);
	assert_int_equal(lp_cidr_parse_list("10.0.0.0/8, ::1 192.0.2.1,", c, LP_CIDR_MAX, why,
					    sizeof(why)), 3);
	assert_int_equal(lp_cidr_parse_list("10.0.0.0/8,nope", c, LP_CIDR_MAX, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "\"nope\""));
	assert_int_equal(lp_cidr_parse_list("1.1.1.1,2.2.2.2,3.3.3.3", c, 2, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than 2"));
}

static void test_cidr_match(void **state)
{
	(void)state;
	assert_true(match("10.0.0.0/8", v4("10.200.3.4")));
	assert_false(match("10.0.0.0/8", v4("11.0.0.1")));
	assert_true(match("192.0.2.7", v4("192.0.2.7")));
	assert_false(match("192.0.2.7", v4("192.0.2.8")));
	assert_true(match("172.16.0.0/12", v4("172.31.255.255")));
	assert_false(match("172.16.0.0/12", v4("172.32.0.0")));
	assert_true(match("0.0.0.0/0", v4("203.0.113.9")));
	assert_false(match("", v4("127.0.0.1")));
	/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
	assert_true(match("127.0.0.0/8", v6("::ffff:127.0.0.9")));
	assert_false(match("127.0.0.0/8", v6("::1")));
	assert_true(match("::1", v6("::1")));
	assert_true(match("fd00::/8", v6("fd12:3456::1")));
	assert_false(match("fd00::/8", v6("fe80::1")));
	assert_false(match("::/0", v4("10.0.0.1")));
	assert_true(match("::1, 10.0.0.0/8", v4("10.0.0.1")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_cidr_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
