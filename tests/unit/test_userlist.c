/*
 * Unit tests of src/auth/userlist: the auth_file format, its diagnostics
 * (with line numbers, never with secrets), duplicates and file errors.
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

#include "auth/userlist.h"

/* Appends a literal (no sprintf: style rule) and returns the new end. */
static size_t add(char *buf, size_t pos, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + pos, s, n);
	return pos + n;
}

static int parse(const char *text, struct lp_userlist *ul, struct lp_diag *d)
{
	return lp_userlist_parse(text, strlen(text), "users.txt", ul, d);
}

static bool diag_has(const struct lp_diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return true;
	return false;
}

static void test_good(void **state)
{
	static const char text[] =
		"\"alice\" \"md553f48b7c4b76a86ce72276c5755f217d\"\n"
		"\"bob\"\t\"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:"
		"7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=\"\r\n"
		"  \"carol\"   \"plain pass\"   \"ignored\" \"fields\"\n"
		"\"dave\" \"\"\n"
		"\"e v e\" \"x\"";                               /* no final newline */
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };
	const struct lp_userlist_entry *e;

	(void)state;
	assert_int_equal(parse(text, &ul, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ul.n, 5);
	e = lp_userlist_find(&ul, "alice");
	assert_non_null(e);
	assert_string_equal(e->secret, "md553f48b7c4b76a86ce72276c5755f217d");
	assert_int_equal(e->line, 1);
	e = lp_userlist_find(&ul, "bob");
	assert_non_null(e);
	assert_int_equal(strncmp(e->secret, "SCRAM-SHA-256$4096:", 19), 0);
	assert_int_equal(e->secret[strlen(e->secret) - 1], '=');    /* \r stripped */
	e = lp_userlist_find(&ul, "carol");
	assert_non_null(e);
	assert_string_equal(e->secret, "plain pass");
	assert_int_equal(e->line, 3);
	e = lp_userlist_find(&ul, "dave");
	assert_non_null(e);
	assert_string_equal(e->secret, "");
	e = lp_userlist_find(&ul, "e v e");
	assert_non_null(e);
	assert_int_equal(e->line, 5);
	assert_null(lp_userlist_find(&ul, "mallory"));
	assert_null(lp_userlist_find(&ul, "alic"));
	assert_null(lp_userlist_find(&ul, ""));
	lp_userlist_free(&ul);
	assert_int_equal(ul.n, 0);
	assert_null(ul.v);
	lp_diag_cleanup(&d);
}

static void test_comments_and_quotes(void **state)
{
	static const char text[] =
		"; comment\n"
		"# another \"a\" \"b\"\n"
		"\n"
		"   \t\n"
		"  ; indented comment\n"
		"\"q\"\"uote\" \"pa\"\"ss\"\"\"\n"
		"\"\"\"\" \"x\"\n";
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };
	const struct lp_userlist_entry *e;

	(void)state;
	assert_int_equal(parse(text, &ul, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ul.n, 2);
	e = lp_userlist_find(&ul, "q\"uote");
	assert_non_null(e);
	assert_string_equal(e->secret, "pa\"ss\"");
	assert_int_equal(e->line, 6);
	e = lp_userlist_find(&ul, "\"");
	assert_non_null(e);
	assert_int_equal(e->line, 7);
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
}

static void test_bad_lines(void **state)
{
	static const char text[] =
		"\"ok1\" \"s1\"\n"                  /* 1 */
		"alice \"secret\"\n"                /* 2 unquoted user */
		"\"alice\" secret\n"                /* 3 unquoted secret */
		"\"alice\"\n"                       /* 4 no secret */
		"\"alice \"TOPSECRET\"\n"           /* 5 quotes unbalanced */
		"\"\" \"s\"\n"                      /* 6 empty user */
		"\"a\"\"b\" \"c\n"                  /* 7 unterminated */
		"\"ok2\" \"s2\"\n"                  /* 8 */
		"\"x\"\"y\"\"z\" \"s\"x\n"          /* 9 junk glued to the secret */
		"\"u\"\"\"\"s\"\n";                 /* 10 glued fields: one field "u""s */
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };

	(void)state;
	/* A file held from before: a bad file must leave it as it is. */
	assert_int_equal(parse("\"old\" \"o\"\n", &ul, &d), 0);
	/* Every bad line is reported, none is skipped over: the file is refused. */
	assert_int_equal(parse(text, &ul, &d), -1);
	assert_int_equal(ul.n, 1);
	assert_non_null(lp_userlist_find(&ul, "old"));
	assert_null(lp_userlist_find(&ul, "ok1"));
	assert_null(lp_userlist_find(&ul, "ok2"));
	assert_int_equal(d.n, 8);
	assert_true(diag_has(&d, "users.txt:2: "));
	assert_true(diag_has(&d, "users.txt:3: "));
	assert_true(diag_has(&d, "users.txt:4: "));
	assert_true(diag_has(&d, "users.txt:5: "));
	assert_true(diag_has(&d, "users.txt:6: "));
	assert_true(diag_has(&d, "users.txt:7: "));
	assert_true(diag_has(&d, "users.txt:9: "));
	assert_true(diag_has(&d, "users.txt:10: "));
	/* secrets are never echoed */
	assert_false(diag_has(&d, "TOPSECRET"));
	assert_false(diag_has(&d, "secret\""));
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
}

static void test_duplicates(void **state)
{
	static const char text[] =
		"\"bob\" \"first\"\n"
		"\"amy\" \"a\"\n"
		"\"bob\" \"second\"\n"
		"\"bob\" \"third\"\n";
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };
	const struct lp_userlist_entry *e;

	(void)state;
	assert_int_equal(parse(text, &ul, &d), 0);
	assert_int_equal(ul.n, 2);
	e = lp_userlist_find(&ul, "bob");
	assert_non_null(e);
	assert_string_equal(e->secret, "third");
	assert_int_equal(e->line, 4);
	assert_int_equal(d.n, 2);
	assert_true(diag_has(&d, "users.txt:1: user \"bob\" appears again on line 3"));
	assert_true(diag_has(&d, "users.txt:3: user \"bob\" appears again on line 4"));
	assert_false(diag_has(&d, "first"));
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
}

static void test_limits(void **state)
{
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };
	size_t big = 1024 * 1024 + 1, pos = 0, l1;
	char *text = malloc(big + 3 * 65536 + 200);

	(void)state;
	assert_non_null(text);
	/*
	 * line 1: a secret of exactly 65535 bytes (ok): longer than PgBouncer's
	 * longest (65530), so a file PgBouncer reads is never refused here --
	 * PgBouncer's own test suite holds such a line of 65543 bytes.
	 */
	pos = add(text, pos, "\"max\" \"");
	memset(text + pos, 's', 65535);
	pos += 65535;
	pos = add(text, pos, "\" \"ignored field\"\n");
	l1 = pos;
	/* line 2: secret of 65536 bytes (too long) */
	pos = add(text, pos, "\"over\" \"");
	memset(text + pos, 's', 65536);
	pos += 65536;
	pos = add(text, pos, "\"\n");
	/* line 3: a line over 1 MiB */
	pos = add(text, pos, "\"long\" \"x\" ");
	memset(text + pos, ' ', big);
	pos += big;
	text[pos++] = '\n';
	/* line 4: NUL byte */
	memcpy(text + pos, "\"nul\" \"a\0b\"\n", 12);
	pos += 12;
	pos = add(text, pos, "\"last\" \"ok\"");

	assert_int_equal(lp_userlist_parse(text, pos, "big.txt", &ul, &d), -1);
	assert_int_equal(ul.n, 0);
	assert_int_equal(d.n, 3);
	assert_true(diag_has(&d, "big.txt:2: malformed auth_file line (field too long)"));
	assert_true(diag_has(&d, "big.txt:3: line longer than 1048576 bytes"));
	assert_true(diag_has(&d, "big.txt:4: NUL byte in line"));
	lp_diag_cleanup(&d);

	/* Lines 1 and 5 alone: within the limits. */
	memmove(text + l1, "\"last\" \"ok\"", 11);
	assert_int_equal(lp_userlist_parse(text, l1 + 11, "big.txt", &ul, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ul.n, 2);
	assert_non_null(lp_userlist_find(&ul, "max"));
	assert_int_equal(strlen(lp_userlist_find(&ul, "max")->secret), 65535);
	assert_non_null(lp_userlist_find(&ul, "last"));
	assert_int_equal(lp_userlist_find(&ul, "last")->line, 2);
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
	free(text);

	/* A NUL byte in a comment line is refused too (the ini reader agrees). */
	assert_int_equal(lp_userlist_parse("; a\0b\n\"u\" \"p\"\n", 13, "c.txt", &ul, &d), -1);
	assert_true(diag_has(&d, "c.txt:1: NUL byte in line"));
	assert_int_equal(ul.n, 0);
	lp_diag_cleanup(&d);
}

static void test_replace_and_empty(void **state)
{
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };

	(void)state;
	assert_int_equal(parse("\"a\" \"1\"\n\"b\" \"2\"\n", &ul, &d), 0);
	assert_int_equal(ul.n, 2);
	/* out is replaced, old entries freed (ASan checks the leak) */
	assert_int_equal(parse("\"c\" \"3\"\n", &ul, &d), 0);
	assert_int_equal(ul.n, 1);
	assert_null(lp_userlist_find(&ul, "a"));
	assert_non_null(lp_userlist_find(&ul, "c"));
	assert_int_equal(lp_userlist_parse("", 0, "empty", &ul, &d), 0);
	assert_int_equal(ul.n, 0);
	assert_null(lp_userlist_find(&ul, "c"));
	assert_int_equal(d.n, 0);
	lp_userlist_free(&ul);
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/lp_userlist_XXXXXX";
	struct lp_userlist ul = { 0 };
	struct lp_diag d = { 0 };
	int fd;
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("; users\n\"u1\" \"p1\"\nbroken\n\"u2\" \"p2\"\n", f);
	fclose(f);
	/* One broken line: the file is refused, the users read before stay. */
	assert_int_equal(parse("\"u0\" \"p0\"\n", &ul, &d), 0);
	assert_int_equal(lp_userlist_load(path, &ul, &d), -1);
	assert_int_equal(ul.n, 1);
	assert_non_null(lp_userlist_find(&ul, "u0"));
	assert_int_equal(d.n, 1);
	{
		char want[64];
		snprintf(want, sizeof(want), "%s:3: malformed auth_file line", path);
		assert_true(diag_has(&d, want));
	}
	lp_diag_cleanup(&d);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("; users\n\"u1\" \"p1\"\n\"u2\" \"p2\"\n", f);
	fclose(f);
	assert_int_equal(lp_userlist_load(path, &ul, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ul.n, 2);
	assert_string_equal(lp_userlist_find(&ul, "u2")->secret, "p2");
	unlink(path);

	/* missing file: -1, out untouched, reason in diag */
	assert_int_equal(lp_userlist_load("/nonexistent/dir/userlist.txt", &ul, &d), -1);
	assert_int_equal(ul.n, 2);
	assert_int_equal(d.n, 1);
	assert_true(diag_has(&d, "/nonexistent/dir/userlist.txt: cannot open auth_file"));
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_comments_and_quotes),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_replace_and_empty),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
