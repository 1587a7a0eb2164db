/*
 * Unit tests of src/core: the log escaper (every value from the network
 * reaches a log line through it), the diagnostics list, and cidr (what
 * metrics_allow accepts and refuses; matching IPv4, IPv6 and IPv4-mapped
 * IPv6 peers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/cidr.h"
#include "core/diag.h"
#include "core/log.h"

static const char *esc(const char *in, size_t len, size_t cap)
{
	static char out[512];

	assert_true(cap <= sizeof(out));
	size_t n = lp_log_escape(out, cap, in, len);
	assert_int_equal(n, strlen(out));
	assert_true(n < cap);
	return out;
}

struct esc_case {
	const char *in;
	size_t len;
	const char *want;
};
#define CASE(in, want) { in, sizeof(in) - 1, want }

static void run_cases(const struct esc_case *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_string_equal(esc(v[i].in, v[i].len, 512), v[i].want);
}

static void test_escape_controls(void **state)
{
	static const struct esc_case cases[] = {
		CASE("plain user_1@db-2", "plain user_1@db-2"),
		CASE("", ""),
		/* The forged line of the issue: one line, the newline visible. */
		CASE("x\n2026-12-02 10:00:00.000 [1] LOG C-1: admin console login (admin)",
		     "x\\n2026-12-02 10:00:00.000 [1] LOG C-1: admin console login (admin)"),
		CASE("a\rb\tc", "a\\rb\\tc"),
		CASE("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
		CASE("del\x7f bell\x07 bs\x08", "del\\x7f bell\\x07 bs\\x08"),
		/* A NUL inside the range is escaped, never ends the output early. */
		CASE("a\0b", "a\\x00b"),
		/* Backslashes and quotes stay as they are. */
		CASE("E'\\\\n' \"q\"", "E'\\\\n' \"q\""),
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_escape_utf8(void **state)
{
	static const struct esc_case cases[] = {
		/* Valid multibyte characters are kept: 2, 3 and 4 bytes. */
		CASE("J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x98",
		     "J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x98"),
		/* Invalid UTF-8 byte by byte: a lone continuation, a truncated
		 * sequence, an overlong '/', a surrogate, beyond U+10FFFF. */
		CASE("\x80", "\\x80"),
		CASE("a\xc3", "a\\xc3"),
		CASE("\xe6\x97z", "\\xe6\\x97z"),
		CASE("\xc0\xaf", "\\xc0\\xaf"),
		CASE("\xed\xa0\x80", "\\xed\\xa0\\x80"),
		CASE("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"),
		/* C1 control (CSI), line separator, right-to-left override. */
		CASE("\xc2\x9b" "2J", "\\xc2\\x9b2J"),
		CASE("a\xe2\x80\xa8" "b", "a\\xe2\\x80\\xa8b"),
		CASE("\xe2\x80\xae" "nimda", "\\xe2\\x80\\xaenimda"),
		/* U+00A0 (first after the C1 range) is printable. */
		CASE("\xc2\xa0", "\xc2\xa0"),
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_escape_truncation(void **state)
{
	char big[3000];

	(void)state;
	/* Fits exactly: no marker. */
	assert_string_equal(esc("abcd", 4, 5), "abcd");
	/* One more byte: cut with the marker, the output still fits cap. */
	assert_string_equal(esc("abcde", 5, 5), "a...");
	assert_string_equal(esc("abcdefgh", 8, 8), "abcd...");
	/* Never half an escape... */
	assert_string_equal(esc("ab\ncdef", 7, 8), "ab\\n...");
	assert_string_equal(esc("ab\x01zzzz", 7, 9), "ab...");
	/* ... nor half a character. */
	assert_string_equal(esc("ab\xe6\x97\xa5zzzz", 9, 8), "ab...");
	assert_string_equal(esc("ab\xe6\x97\xa5zzzz", 9, 9), "ab\xe6\x97\xa5...");
	assert_string_equal(esc("ab\xe6\x97\xa5", 5, 6), "ab\xe6\x97\xa5");
	/* Tiny buffers. */
	assert_string_equal(esc("abc", 3, 1), "");
	assert_string_equal(esc("abc", 3, 2), ".");
	/* Long input: bounded, and every byte of a newline flood escaped. */
	memset(big, '\n', sizeof(big));
	const char *o = esc(big, sizeof(big), 512);
	assert_int_equal(strlen(o), 511 - (511 - 3) % 2);
	assert_null(strchr(o, '\n'));
	assert_string_equal(o + strlen(o) - 3, "...");
}

static void test_diag_take(void **state)
{
	struct lp_diag a = { 0 }, b = { 0 };

	(void)state;
	lp_diag_add(&a, "f.ini", 3, "first");
	for (int i = 0; i < 20; i++)
		lp_diag_add(&b, "u.txt", i + 1, "line %d", i + 1);
	lp_diag_take(&a, &b);
	assert_int_equal(a.n, 21);
	assert_int_equal(b.n, 0);
	assert_null(b.msgs);
	assert_string_equal(a.msgs[0], "f.ini:3: first");
	assert_string_equal(a.msgs[20], "u.txt:20: line 20");
	lp_diag_add(&b, "x", 0, "again");
	assert_string_equal(b.msgs[0], "x: again");
	lp_diag_cleanup(&a);
	lp_diag_cleanup(&b);
}


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
		cmocka_unit_test(test_escape_controls),
		cmocka_unit_test(test_escape_utf8),
		cmocka_unit_test(test_escape_truncation),
		cmocka_unit_test(test_diag_take),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_cidr_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
