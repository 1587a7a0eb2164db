/*
 * Unit tests of src/core: the log escaper (every value from the network
 * reaches a log line through it) and the diagnostics list.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_controls),
		cmocka_unit_test(test_escape_utf8),
		cmocka_unit_test(test_escape_truncation),
		cmocka_unit_test(test_diag_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
