/*
 * Unit tests of src/proto/sqlcmd: prepared-statement commands in a simple
 * Query's text. Each case lists what the iterator reports, one line per
 * statement:
 *   KIND [name=<normalised> as=<name as written>] [args=<...>] [body=<...>]
 *        [+wrapped] [+unknown] [+open] | <statement text>
 * Expectations about PostgreSQL's behaviour (names, truncation, splitting)
 * were checked against a PostgreSQL 15 server.
 *
 * The text is copied into a heap buffer of exactly its length, without a
 * terminating NUL, so AddressSanitizer catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proto/sqlcmd.h"

static char out[8192];

static void append(const char *fmt, ...)
{
	size_t n = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out + n, sizeof(out) - n, fmt, ap);
	va_end(ap);
}

static void span(const char *label, const char *t, struct lp_sqlcmd_span s)
{
	if (s.len > 0)
		append(" %s=%.*s", label, (int)s.len, t + s.off);
}

/* Scans len bytes of text; returns the description and sets *n to the
 * number of statements. */
static const char *scan_len(const char *text, size_t len, unsigned flags, unsigned *n,
			    bool *unterminated)
{
	char *buf = malloc(len > 0 ? len : 1);
	struct lp_sqlcmd s;
	struct lp_sqlcmd_stmt st;

	assert_non_null(buf);
	memcpy(buf, text, len);
	out[0] = '\0';
	lp_sqlcmd_init(&s, buf, len, flags);
	while (lp_sqlcmd_next(&s, &st)) {
		if (out[0] != '\0')
			append("\n");
		append("%s", lp_sqlcmd_kind_name(st.kind));
		assert_int_equal(strlen(st.name_norm), st.name_len);
		if (st.name_len > 0)
			append(" name=%s", st.name_norm);
		span("as", buf, st.name);
		span("args", buf, st.args);
		span("body", buf, st.body);
		if (st.flags & LP_SQLCMD_F_WRAPPED)
			append(" +wrapped");
		if (st.flags & LP_SQLCMD_F_NAME_UNKNOWN)
			append(" +unknown");
		if (st.flags & LP_SQLCMD_F_UNTERMINATED)
			append(" +open");
		append(" |%.*s", (int)st.text.len, buf + st.text.off);
	}
	if (n != NULL)
		*n = s.nstmts;
	if (unterminated != NULL)
		*unterminated = s.unterminated;
	/* Once at the end, it stays there. */
	assert_false(lp_sqlcmd_next(&s, &st));
	free(buf);
	return out;
}

static const char *scan_f(const char *text, unsigned flags)
{
	return scan_len(text, strlen(text), flags, NULL, NULL);
}

static const char *scan(const char *text)
{
	return scan_f(text, 0);
}

/* strcat without strcat */
static void add(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "%s", s);
}

/* prefix, then unit count times */
static void repeat(char *buf, size_t cap, const char *prefix, const char *unit, int count)
{
	buf[0] = '\0';
	add(buf, cap, prefix);
	for (int i = 0; i < count; i++)
		add(buf, cap, unit);
}

static bool candidate(const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len > 0 ? len : 1);
	bool r;

	assert_non_null(buf);
	memcpy(buf, text, len);
	r = lp_sqlcmd_candidate(buf, len);
	free(buf);
	return r;
}

#define EXPECT(text, want) assert_string_equal(scan(text), want)
#define EXPECT_F(text, flags, want) assert_string_equal(scan_f(text, flags), want)

static void test_plain_queries(void **state)
{
	(void)state;
	EXPECT("SELECT * FROM t WHERE id = 1", "OTHER |SELECT * FROM t WHERE id = 1");
	EXPECT("  select 1  ", "OTHER |select 1");
	EXPECT("", "");
	EXPECT("   ", "");
	EXPECT(";;  ; ", "");
	EXPECT("-- only a comment", "");
	EXPECT("COMMIT", "OTHER |COMMIT");
	EXPECT("DELETE FROM t", "OTHER |DELETE FROM t");
	EXPECT("PREPAREx AS SELECT 1", "OTHER |PREPAREx AS SELECT 1");
	EXPECT("EXECUTE_x", "OTHER |EXECUTE_x");
	EXPECT("\"execute\" x", "OTHER |\"execute\" x");
	EXPECT("(SELECT 1)", "OTHER |(SELECT 1)");
}

static void test_prepare(void **state)
{
	(void)state;
	EXPECT("PREPARE foo AS SELECT 1",
	       "PREPARE name=foo as=foo body=SELECT 1 |PREPARE foo AS SELECT 1");
	EXPECT("prepare Foo(int, text) as select $1, $2",
	       "PREPARE name=foo as=Foo args=(int, text) body=select $1, $2 "
	       "|prepare Foo(int, text) as select $1, $2");
	EXPECT("PrEpArE \"Foo\" (numeric(10,2), \"MyType\", int[], character varying(20),"
	       " timestamp with time zone, public.\"T\"[]) AS SELECT $1",
	       "PREPARE name=Foo as=\"Foo\" args=(numeric(10,2), \"MyType\", int[], "
	       "character varying(20), timestamp with time zone, public.\"T\"[]) "
	       "body=SELECT $1 |PrEpArE \"Foo\" (numeric(10,2), \"MyType\", int[], "
	       "character varying(20), timestamp with time zone, public.\"T\"[]) AS SELECT $1");
	/* every preparable statement */
	EXPECT("PREPARE p AS INSERT INTO t VALUES ($1)",
	       "PREPARE name=p as=p body=INSERT INTO t VALUES ($1) |PREPARE p AS INSERT INTO t VALUES ($1)");
	EXPECT("PREPARE p AS UPDATE t SET a = $1",
	       "PREPARE name=p as=p body=UPDATE t SET a = $1 |PREPARE p AS UPDATE t SET a = $1");
	EXPECT("PREPARE p AS DELETE FROM t WHERE a = $1",
	       "PREPARE name=p as=p body=DELETE FROM t WHERE a = $1 |PREPARE p AS DELETE FROM t WHERE a = $1");
	EXPECT("PREPARE p AS VALUES (1), (2)",
	       "PREPARE name=p as=p body=VALUES (1), (2) |PREPARE p AS VALUES (1), (2)");
	EXPECT("PREPARE p AS WITH w AS (SELECT 1) SELECT * FROM w",
	       "PREPARE name=p as=p body=WITH w AS (SELECT 1) SELECT * FROM w "
	       "|PREPARE p AS WITH w AS (SELECT 1) SELECT * FROM w");
	EXPECT("PREPARE p AS TABLE pg_class",
	       "PREPARE name=p as=p body=TABLE pg_class |PREPARE p AS TABLE pg_class");
	EXPECT("PREPARE p AS (SELECT 1)",
	       "PREPARE name=p as=p body=(SELECT 1) |PREPARE p AS (SELECT 1)");
	EXPECT("PREPARE p AS MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
	       "PREPARE name=p as=p body=MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE "
	       "|PREPARE p AS MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE");
	/* PREPARE TRANSACTION is two-phase commit; "transaction" may still be a name */
	EXPECT("PREPARE TRANSACTION 'gid'", "OTHER |PREPARE TRANSACTION 'gid'");
	EXPECT("PREPARE transaction AS SELECT 1",
	       "PREPARE name=transaction as=transaction body=SELECT 1 |PREPARE transaction AS SELECT 1");
	/* a body that holds the words and characters that end things elsewhere */
	EXPECT("PREPARE p(text) AS SELECT ')' || $1 || 'AS' || $$;$$",
	       "PREPARE name=p as=p args=(text) body=SELECT ')' || $1 || 'AS' || $$;$$ "
	       "|PREPARE p(text) AS SELECT ')' || $1 || 'AS' || $$;$$");
	EXPECT("PREPARE p(\"a)b\", text) AS SELECT 1",
	       "PREPARE name=p as=p args=(\"a)b\", text) body=SELECT 1 |PREPARE p(\"a)b\", text) AS SELECT 1");
}

static void test_prepare_malformed(void **state)
{
	(void)state;
	EXPECT("PREPARE", "OTHER |PREPARE");
	EXPECT("PREPARE p", "OTHER |PREPARE p");
	EXPECT("PREPARE p AS", "OTHER |PREPARE p AS");
	EXPECT("PREPARE p AS ;", "OTHER |PREPARE p AS");
	EXPECT("PREPARE p SELECT 1", "OTHER |PREPARE p SELECT 1");
	EXPECT("PREPARE p (int AS SELECT 1", "OTHER |PREPARE p (int AS SELECT 1");
	EXPECT("PREPARE p (int; SELECT 1", "OTHER |PREPARE p (int; SELECT 1");
	EXPECT("PREPARE 'p' AS SELECT 1", "OTHER |PREPARE 'p' AS SELECT 1");
	EXPECT("PREPARE \"\" AS SELECT 1", "OTHER |PREPARE \"\" AS SELECT 1");
	EXPECT("PREPARE (int) AS SELECT 1", "OTHER |PREPARE (int) AS SELECT 1");
	EXPECT("PREPARE p AS SELECT 'abc", "PREPARE name=p as=p body=SELECT 'abc +open |PREPARE p AS SELECT 'abc");
}

static void test_execute(void **state)
{
	(void)state;
	EXPECT("EXECUTE foo", "EXECUTE name=foo as=foo |EXECUTE foo");
	EXPECT("execute FOO(1, 'a)b;c', (2+3), ARRAY[1,2], $$)$$)",
	       "EXECUTE name=foo as=FOO args=(1, 'a)b;c', (2+3), ARRAY[1,2], $$)$$) "
	       "|execute FOO(1, 'a)b;c', (2+3), ARRAY[1,2], $$)$$)");
	EXPECT("EXECUTE \"Foo Bar\" ( 1 )",
	       "EXECUTE name=Foo Bar as=\"Foo Bar\" args=( 1 ) |EXECUTE \"Foo Bar\" ( 1 )");
	EXPECT("EXECUTE", "OTHER |EXECUTE");
	EXPECT("EXECUTE (1)", "OTHER |EXECUTE (1)");
	EXPECT("EXECUTE x y", "OTHER |EXECUTE x y");
	EXPECT("EXECUTE x(1", "OTHER |EXECUTE x(1");
	EXPECT("EXECUTE x(1) y", "OTHER |EXECUTE x(1) y");
}

static void test_wrapped_execute(void **state)
{
	(void)state;
	EXPECT("EXPLAIN EXECUTE x(1)", "EXECUTE name=x as=x args=(1) +wrapped |EXPLAIN EXECUTE x(1)");
	EXPECT("EXPLAIN (ANALYZE, BUFFERS off) EXECUTE x",
	       "EXECUTE name=x as=x +wrapped |EXPLAIN (ANALYZE, BUFFERS off) EXECUTE x");
	EXPECT("explain analyse verbose execute x",
	       "EXECUTE name=x as=x +wrapped |explain analyse verbose execute x");
	EXPECT("EXPLAIN VERBOSE EXECUTE x", "EXECUTE name=x as=x +wrapped |EXPLAIN VERBOSE EXECUTE x");
	EXPECT("EXPLAIN SELECT 1", "OTHER |EXPLAIN SELECT 1");
	EXPECT("CREATE TABLE t AS EXECUTE x(1) WITH NO DATA",
	       "EXECUTE name=x as=x args=(1) +wrapped |CREATE TABLE t AS EXECUTE x(1) WITH NO DATA");
	EXPECT("CREATE GLOBAL TEMP TABLE IF NOT EXISTS s.t (a, b) WITH (fillfactor = 70)"
	       " ON COMMIT DROP AS EXECUTE x",
	       "EXECUTE name=x as=x +wrapped |CREATE GLOBAL TEMP TABLE IF NOT EXISTS s.t (a, b) "
	       "WITH (fillfactor = 70) ON COMMIT DROP AS EXECUTE x");
	EXPECT("EXPLAIN ANALYZE CREATE UNLOGGED TABLE t AS EXECUTE x",
	       "EXECUTE name=x as=x +wrapped |EXPLAIN ANALYZE CREATE UNLOGGED TABLE t AS EXECUTE x");
	EXPECT("CREATE TABLE t AS SELECT 1 AS execute", "OTHER |CREATE TABLE t AS SELECT 1 AS execute");
	EXPECT("CREATE TABLE \"as\" AS SELECT 1", "OTHER |CREATE TABLE \"as\" AS SELECT 1");
	EXPECT("CREATE VIEW v AS SELECT 1", "OTHER |CREATE VIEW v AS SELECT 1");
	EXPECT("CREATE INDEX ON t (a)", "OTHER |CREATE INDEX ON t (a)");
}

static void test_deallocate_discard(void **state)
{
	(void)state;
	EXPECT("DEALLOCATE foo", "DEALLOCATE name=foo as=foo |DEALLOCATE foo");
	EXPECT("deallocate prepare \"Foo\"", "DEALLOCATE name=Foo as=\"Foo\" |deallocate prepare \"Foo\"");
	EXPECT("DEALLOCATE prepare", "DEALLOCATE name=prepare as=prepare |DEALLOCATE prepare");
	EXPECT("DEALLOCATE PREPARE prepare", "DEALLOCATE name=prepare as=prepare |DEALLOCATE PREPARE prepare");
	EXPECT("DEALLOCATE ALL", "DEALLOCATE ALL |DEALLOCATE ALL");
	EXPECT("Deallocate Prepare All", "DEALLOCATE ALL |Deallocate Prepare All");
	EXPECT("DEALLOCATE \"all\"", "DEALLOCATE name=all as=\"all\" |DEALLOCATE \"all\"");
	EXPECT("DEALLOCATE", "OTHER |DEALLOCATE");
	EXPECT("DEALLOCATE a b", "OTHER |DEALLOCATE a b");
	EXPECT("DEALLOCATE ALL x", "OTHER |DEALLOCATE ALL x");
	EXPECT("DISCARD ALL", "DISCARD ALL |DISCARD ALL");
	EXPECT("discard all ;", "DISCARD ALL |discard all");
	EXPECT("DISCARD PLANS", "OTHER |DISCARD PLANS");
	EXPECT("DISCARD TEMP", "OTHER |DISCARD TEMP");
	EXPECT("DISCARD SEQUENCES", "OTHER |DISCARD SEQUENCES");
	EXPECT("DISCARD ALL x", "OTHER |DISCARD ALL x");
	EXPECT("RESET ALL", "OTHER |RESET ALL");
}

static void test_comments(void **state)
{
	(void)state;
	EXPECT("-- lead\n/* a /* nested ; */ still ; */ PREPARE x AS SELECT 1",
	       "PREPARE name=x as=x body=SELECT 1 |PREPARE x AS SELECT 1");
	EXPECT("PREPARE /* c */ x -- d\n AS /**/SELECT 1 -- trailing ; EXECUTE y\n",
	       "PREPARE name=x as=x body=SELECT 1 |PREPARE /* c */ x -- d\n AS /**/SELECT 1");
	EXPECT("EXECUTE x/* c */(1)/* d */", "EXECUTE name=x as=x args=(1) |EXECUTE x/* c */(1)");
	/* a comment starts inside an operator */
	EXPECT("SELECT 1 +-- c ; EXECUTE a\n 2; EXECUTE x",
	       "OTHER |SELECT 1 +-- c ; EXECUTE a\n 2\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT 2 */* ; EXECUTE a */ 3", "OTHER |SELECT 2 */* ; EXECUTE a */ 3");
	EXPECT("SELECT 1 /*/ ; */ ; EXECUTE x", "OTHER |SELECT 1\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT 1 /* /*/ ; */ ; EXECUTE x */", "OTHER |SELECT 1");
	EXPECT("SELECT 1 /* /*/ ; */ ; EXECUTE x", "OTHER +open |SELECT 1");
	EXPECT("SELECT 1 /**/; EXECUTE x", "OTHER |SELECT 1\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT 1 -- a\r; EXECUTE x", "OTHER |SELECT 1\nEXECUTE name=x as=x |EXECUTE x");
}

static void test_quoting_hides_statements(void **state)
{
	(void)state;
	EXPECT("SELECT 'EXECUTE x'", "OTHER |SELECT 'EXECUTE x'");
	EXPECT("SELECT 'a;''; EXECUTE x'", "OTHER |SELECT 'a;''; EXECUTE x'");
	EXPECT("SELECT \"a;\"\"; EXECUTE x\"", "OTHER |SELECT \"a;\"\"; EXECUTE x\"");
	EXPECT("SELECT $$; EXECUTE x$$", "OTHER |SELECT $$; EXECUTE x$$");
	EXPECT("SELECT $a$ $$; EXECUTE x $$ $a$", "OTHER |SELECT $a$ $$; EXECUTE x $$ $a$");
	EXPECT("SELECT $A$ $a$; $A$; EXECUTE x", "OTHER |SELECT $A$ $a$; $A$\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT $a$ $ab$ $b$a$; EXECUTE x", "OTHER |SELECT $a$ $ab$ $b$a$\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT $_é1$;$_é1$; EXECUTE x", "OTHER |SELECT $_é1$;$_é1$\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT E'\\'; EXECUTE x'", "OTHER |SELECT E'\\'; EXECUTE x'");
	EXPECT("SELECT e'\\\\'; EXECUTE x", "OTHER |SELECT e'\\\\'\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT N'a''b;'; EXECUTE x", "OTHER |SELECT N'a''b;'\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT U&'\\0041;'; EXECUTE x", "OTHER |SELECT U&'\\0041;'\nEXECUTE name=x as=x |EXECUTE x");
	/* $ continues an identifier: no dollar quote after a word */
	EXPECT("SELECT a$b$ ; EXECUTE x", "OTHER |SELECT a$b$\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT $abc ; EXECUTE x", "OTHER |SELECT $abc\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT $1$a$;$a$; EXECUTE x", "OTHER |SELECT $1$a$;$a$\nEXECUTE name=x as=x |EXECUTE x");
	/* numbers: the exponent is the number's, the dollars start a quote */
	EXPECT("SELECT 1e5$$;$$; EXECUTE x", "OTHER |SELECT 1e5$$;$$\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("SELECT 1.5e-3$$;$$", "OTHER |SELECT 1.5e-3$$;$$");
	/* a word ending in e is not an E'' prefix */
	EXPECT("SELECT the'\\'; EXECUTE x", "OTHER |SELECT the'\\'\nEXECUTE name=x as=x |EXECUTE x");
}

static void test_backslash_quotes(void **state)
{
	(void)state;
	/* standard_conforming_strings on: a backslash is an ordinary character */
	EXPECT("SELECT '\\'; EXECUTE x; --'",
	       "OTHER |SELECT '\\'\nEXECUTE name=x as=x |EXECUTE x");
	/* off: it escapes the quote */
	EXPECT_F("SELECT '\\'; EXECUTE x; --'", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT '\\'; EXECUTE x; --'");
	EXPECT_F("SELECT N'\\'; EXECUTE x; --'", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT N'\\'; EXECUTE x; --'");
	/* B'', X'' and U&'' never take backslash escapes */
	EXPECT_F("SELECT B'1\\'; EXECUTE x", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT B'1\\'\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT_F("SELECT x'F\\'; EXECUTE x", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT x'F\\'\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT_F("SELECT U&'\\'; EXECUTE x", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT U&'\\'\nEXECUTE name=x as=x |EXECUTE x");
	/* B'' does not double quotes: the third quote opens a new literal */
	EXPECT_F("SELECT B'1''\\'; EXECUTE x; --'", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT B'1''\\'; EXECUTE x; --'");
	EXPECT_F("PREPARE p AS SELECT 'it\\'s'; EXECUTE p", LP_SQLCMD_BACKSLASH_QUOTES,
		 "PREPARE name=p as=p body=SELECT 'it\\'s' |PREPARE p AS SELECT 'it\\'s'\n"
		 "EXECUTE name=p as=p |EXECUTE p");
}

static void test_string_continuation(void **state)
{
	(void)state;
	/* whitespace with a newline joins two literals: the E'' mode goes on */
	EXPECT("SELECT E'a'\n'\\'; EXECUTE x; --'", "OTHER |SELECT E'a'\n'\\'; EXECUTE x; --'");
	EXPECT("SELECT E'a' -- c\n  '\\'; EXECUTE x; --'",
	       "OTHER |SELECT E'a' -- c\n  '\\'; EXECUTE x; --'");
	EXPECT("SELECT E'a'\r\n\t'\\'; EXECUTE x; --'", "OTHER |SELECT E'a'\r\n\t'\\'; EXECUTE x; --'");
	/* without a newline they do not */
	EXPECT("SELECT E'a' '\\'; EXECUTE x; --'",
	       "OTHER |SELECT E'a' '\\'\nEXECUTE name=x as=x |EXECUTE x");
	/* a slash-star comment breaks the continuation */
	EXPECT("SELECT E'a' /* */\n'\\'; EXECUTE x; --'",
	       "OTHER |SELECT E'a' /* */\n'\\'\nEXECUTE name=x as=x |EXECUTE x");
	/* B'' continues as B'' */
	EXPECT_F("SELECT B'1'\n'\\'; EXECUTE x", LP_SQLCMD_BACKSLASH_QUOTES,
		 "OTHER |SELECT B'1'\n'\\'\nEXECUTE name=x as=x |EXECUTE x");
}

static void test_name_case_and_quoting(void **state)
{
	(void)state;
	EXPECT("EXECUTE MyStmt", "EXECUTE name=mystmt as=MyStmt |EXECUTE MyStmt");
	EXPECT("EXECUTE \"MyStmt\"", "EXECUTE name=MyStmt as=\"MyStmt\" |EXECUTE \"MyStmt\"");
	EXPECT("EXECUTE \"a\"\"b\"", "EXECUTE name=a\"b as=\"a\"\"b\" |EXECUTE \"a\"\"b\"");
	EXPECT("EXECUTE \"A;B\"", "EXECUTE name=A;B as=\"A;B\" |EXECUTE \"A;B\"");
	EXPECT("EXECUTE _x$1", "EXECUTE name=_x$1 as=_x$1 |EXECUTE _x$1");
	/* only ASCII letters fold (UTF-8 server) */
	EXPECT("EXECUTE ÉtÉ", "EXECUTE name=ÉtÉ as=ÉtÉ |EXECUTE ÉtÉ");
	EXPECT("EXECUTE U&\"d\\0061t\\+000061\"",
	       "EXECUTE name=data as=U&\"d\\0061t\\+000061\" |EXECUTE U&\"d\\0061t\\+000061\"");
	EXPECT("EXECUTE u&\"d!0061t\" UESCAPE '!'",
	       "EXECUTE name=dat as=u&\"d!0061t\" UESCAPE '!' |EXECUTE u&\"d!0061t\" UESCAPE '!'");
	EXPECT("EXECUTE U&\"a\\\\b\"\"c\"", "EXECUTE name=a\\b\"c as=U&\"a\\\\b\"\"c\" |EXECUTE U&\"a\\\\b\"\"c\"");
	EXPECT("EXECUTE U&\"\\D83D\\DE00\\00e9\"",
	       "EXECUTE name=\xf0\x9f\x98\x80\xc3\xa9 as=U&\"\\D83D\\DE00\\00e9\" "
	       "|EXECUTE U&\"\\D83D\\DE00\\00e9\"");
	/* what PostgreSQL refuses */
	EXPECT("EXECUTE U&\"\\D83D\"", "OTHER |EXECUTE U&\"\\D83D\"");
	EXPECT("EXECUTE U&\"\\DE00\"", "OTHER |EXECUTE U&\"\\DE00\"");
	EXPECT("EXECUTE U&\"\\D83Dx\"", "OTHER |EXECUTE U&\"\\D83Dx\"");
	EXPECT("EXECUTE U&\"\\0000\"", "OTHER |EXECUTE U&\"\\0000\"");
	EXPECT("EXECUTE U&\"\\+110000\"", "OTHER |EXECUTE U&\"\\+110000\"");
	EXPECT("EXECUTE U&\"\\00G1\"", "OTHER |EXECUTE U&\"\\00G1\"");
	EXPECT("EXECUTE U&\"x\" UESCAPE 'a'", "OTHER |EXECUTE U&\"x\" UESCAPE 'a'");
	EXPECT("EXECUTE U&\"x\" UESCAPE ' '", "OTHER |EXECUTE U&\"x\" UESCAPE ' '");
	EXPECT("EXECUTE U&\"x\" UESCAPE", "OTHER |EXECUTE U&\"x\" UESCAPE");
	EXPECT("EXECUTE U&\"\"", "OTHER |EXECUTE U&\"\"");
	EXPECT("EXECUTE \"", "OTHER +open |EXECUTE \"");
	/* legal, but not read here */
	EXPECT("EXECUTE U&\"x\" UESCAPE E'!'",
	       "EXECUTE as=U&\"x\" UESCAPE E'!' +unknown |EXECUTE U&\"x\" UESCAPE E'!'");
}

static void test_long_names(void **state)
{
	char text[512], want[1024];
	const char *n67 = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijXYZWVUT";

	(void)state;
	/* 67 bytes: cut to 63, folded */
	snprintf(text, sizeof(text), "PREPARE %s AS SELECT 1", n67);
	snprintf(want, sizeof(want), "PREPARE name=%.60sxyz as=%s body=SELECT 1 |%s", n67, n67, text);
	EXPECT(text, want);
	/* quoted: cut, case kept */
	snprintf(text, sizeof(text), "EXECUTE \"%s\"", n67);
	snprintf(want, sizeof(want), "EXECUTE name=%.63s as=\"%s\" |%s", n67, n67, text);
	EXPECT(text, want);
	/* 44 two-byte characters: 31 of them fit in 63 bytes (62) */
	repeat(text, sizeof(text), "DEALLOCATE ", "é", 44);
	snprintf(want, sizeof(want), "DEALLOCATE name=%.62s as=%s |%s", text + 11, text + 11, text);
	EXPECT(text, want);
	/* a three-byte character straddling byte 63 is left out whole */
	repeat(text, sizeof(text), "EXECUTE a", "€", 21);
	snprintf(want, sizeof(want), "EXECUTE name=%.61s as=%s |%s", text + 8, text + 8, text);
	EXPECT(text, want);
	/* a decoded U& name is cut the same way */
	repeat(text, sizeof(text), "EXECUTE U&\"", "\\0041", 70);
	add(text, sizeof(text), "\"");
	snprintf(want, sizeof(want), "EXECUTE name=%.63s as=%s |%s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 text + 8, text);
	EXPECT(text, want);
}

static void test_multi_statement(void **state)
{
	unsigned n = 0;

	(void)state;
	assert_string_equal(scan_len("PREPARE a AS SELECT 1; EXECUTE a;DEALLOCATE a;", 46, 0, &n, NULL),
			    "PREPARE name=a as=a body=SELECT 1 |PREPARE a AS SELECT 1\n"
			    "EXECUTE name=a as=a |EXECUTE a\n"
			    "DEALLOCATE name=a as=a |DEALLOCATE a");
	assert_int_equal(n, 3);
	assert_string_equal(scan_len(";; SELECT 1 ;; ; -- x\n", 22, 0, &n, NULL), "OTHER |SELECT 1");
	assert_int_equal(n, 1);
	EXPECT("BEGIN; PREPARE p AS SELECT 1; COMMIT",
	       "OTHER |BEGIN\nPREPARE name=p as=p body=SELECT 1 |PREPARE p AS SELECT 1\nOTHER |COMMIT");
	/* ';' inside parentheses does not split (CREATE RULE ... DO (a; b)) */
	EXPECT("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); EXECUTE x); EXECUTE y",
	       "OTHER |CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); EXECUTE x)\n"
	       "EXECUTE name=y as=y |EXECUTE y");
	/* an extra ')' does not make the depth negative */
	EXPECT("SELECT 1) ; EXECUTE y", "OTHER |SELECT 1)\nEXECUTE name=y as=y |EXECUTE y");
}

static void test_routine_bodies(void **state)
{
	(void)state;
	EXPECT("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
	       "SELECT CASE WHEN true THEN 2 END; END; EXECUTE x",
	       "OTHER |CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
	       "SELECT CASE WHEN true THEN 2 END; END\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("create or replace procedure p() begin atomic insert into t values (1); end;execute x",
	       "OTHER |create or replace procedure p() begin atomic insert into t values (1); end\n"
	       "EXECUTE name=x as=x |execute x");
	/* a function named begin (psql would not split here; the server does) */
	EXPECT("CREATE FUNCTION begin() RETURNS int AS 'select 1' LANGUAGE sql; EXECUTE x",
	       "OTHER |CREATE FUNCTION begin() RETURNS int AS 'select 1' LANGUAGE sql\n"
	       "EXECUTE name=x as=x |EXECUTE x");
	/* BEGIN ATOMIC anywhere else is no block */
	EXPECT("SELECT begin atomic FROM t; EXECUTE x",
	       "OTHER |SELECT begin atomic FROM t\nEXECUTE name=x as=x |EXECUTE x");
	EXPECT("BEGIN; EXECUTE x; END", "OTHER |BEGIN\nEXECUTE name=x as=x |EXECUTE x\nOTHER |END");
	EXPECT("CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql; EXECUTE x",
	       "OTHER |CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql\n"
	       "EXECUTE name=x as=x |EXECUTE x");
}

static void test_unterminated(void **state)
{
	bool open = false;
	unsigned n = 0;

	(void)state;
	EXPECT("SELECT 'abc", "OTHER +open |SELECT 'abc");
	EXPECT("SELECT E'abc\\", "OTHER +open |SELECT E'abc\\");
	EXPECT("SELECT E'abc\\'", "OTHER +open |SELECT E'abc\\'");
	EXPECT("SELECT \"abc", "OTHER +open |SELECT \"abc");
	EXPECT("SELECT $a$ abc $a", "OTHER +open |SELECT $a$ abc $a");
	EXPECT("SELECT $a$ abc $", "OTHER +open |SELECT $a$ abc $");
	EXPECT("SELECT 1 /* abc", "OTHER +open |SELECT 1");
	EXPECT("SELECT 1 /* abc *", "OTHER +open |SELECT 1");
	EXPECT("SELECT 'a'\n", "OTHER |SELECT 'a'");
	EXPECT("SELECT 'a'\n'", "OTHER +open |SELECT 'a'\n'");
	EXPECT("SELECT U&\"x", "OTHER +open |SELECT U&\"x");
	EXPECT("SELECT U&", "OTHER |SELECT U&");
	EXPECT("SELECT E", "OTHER |SELECT E");
	EXPECT("EXECUTE x(1, 'a", "OTHER +open |EXECUTE x(1, 'a");
	/* the unterminated part after the last statement still counts */
	assert_string_equal(scan_len("SELECT 1; /* x", 14, 0, &n, &open), "OTHER |SELECT 1");
	assert_int_equal(n, 1);
	assert_true(open);
	assert_string_equal(scan_len("SELECT 1; -- x", 14, 0, &n, &open), "OTHER |SELECT 1");
	assert_false(open);
}

static void test_nul_and_length(void **state)
{
	static const char text[] = "PREPARE x AS SELECT 1\0; EXECUTE y";
	unsigned n = 0;

	(void)state;
	/* a NUL ends the text, whatever the length says */
	assert_string_equal(scan_len(text, sizeof(text) - 1, 0, &n, NULL),
			    "PREPARE name=x as=x body=SELECT 1 |PREPARE x AS SELECT 1");
	assert_int_equal(n, 1);
	/* a length shorter than the text ends it there */
	assert_string_equal(scan_len("EXECUTE abcdef", 10, 0, &n, NULL), "EXECUTE name=ab as=ab |EXECUTE ab");
	/* every prefix of a text full of quoting forms scans within its bounds */
	static const char all[] =
		"/* a /* b */ */ PREPARE \"P\"\"q\" (int, \"T\") AS SELECT E'\\'', 'x''y', $t$;$t$, "
		"U&\"\\0041\" UESCAPE '!', B'1', $1 -- c\n; EXECUTE U&\"d!0061\" UESCAPE '!' (1); "
		"DEALLOCATE PREPARE ALL";
	for (size_t len = 0; len <= sizeof(all) - 1; len++) {
		scan_len(all, len, 0, NULL, NULL);
		scan_len(all, len, LP_SQLCMD_BACKSLASH_QUOTES, NULL, NULL);
	}
}

static void test_candidate(void **state)
{
	(void)state;
	assert_false(candidate("SELECT * FROM t WHERE id = 1"));
	assert_false(candidate("  /* x */ -- y\n update t set a = 1"));
	assert_false(candidate("COMMIT"));
	assert_false(candidate("DELETE FROM t"));
	assert_false(candidate("CREATED"));
	assert_false(candidate(""));
	assert_false(candidate("/* unterminated"));
	assert_false(candidate("\"prepare\" x"));
	assert_true(candidate("PREPARE x AS SELECT 1"));
	assert_true(candidate("prepare x AS SELECT 1"));
	assert_true(candidate("/* c */ Execute x"));
	assert_true(candidate("DEALLOCATE x"));
	assert_true(candidate("discard all"));
	assert_true(candidate("EXPLAIN EXECUTE x"));
	assert_true(candidate("create table t as execute x"));
	assert_true(candidate("SELECT 1;"));
	assert_true(candidate("SELECT ';'"));
	assert_true(candidate(";"));
}

/* Whatever the input, the time stays linear: inputs built to make a naive
 * scanner quadratic finish at once. */
static void test_linear_time(void **state)
{
	size_t len = 4u << 20;
	char *buf = malloc(len);
	struct lp_sqlcmd s;
	struct lp_sqlcmd_stmt st;
	static const char *const unit[] = { "$aaaaaaaaaaaaaaa", "/*", "(", "'a'\n  ", "$a$$b$", "e'\\" };
	clock_t t0 = clock();

	(void)state;
	assert_non_null(buf);
	for (size_t u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
		size_t ul = strlen(unit[u]);
		unsigned n = 0;

		/* a long dollar-quote tag, then many near misses of it */
		memset(buf, 'a', len);
		buf[0] = '$';
		buf[len / 2] = '$';
		for (size_t i = len / 2 + 1; i + ul <= len; i += ul)
			memcpy(buf + i, unit[u], ul);
		lp_sqlcmd_init(&s, buf, len, 0);
		while (lp_sqlcmd_next(&s, &st))
			n++;
		assert_true(n <= 1);
		/* and the unit alone, repeated */
		for (size_t i = 0; i + ul <= len; i += ul)
			memcpy(buf + i, unit[u], ul);
		lp_sqlcmd_init(&s, buf, len, LP_SQLCMD_BACKSLASH_QUOTES);
		while (lp_sqlcmd_next(&s, &st))
			;
		(void)lp_sqlcmd_candidate(buf, len);
	}
	free(buf);
	/* about 50 MB scanned; seconds would mean quadratic behaviour */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_queries),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_prepare_malformed),
		cmocka_unit_test(test_execute),
		cmocka_unit_test(test_wrapped_execute),
		cmocka_unit_test(test_deallocate_discard),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quoting_hides_statements),
		cmocka_unit_test(test_backslash_quotes),
		cmocka_unit_test(test_string_continuation),
		cmocka_unit_test(test_name_case_and_quoting),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_multi_statement),
		cmocka_unit_test(test_routine_bodies),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_nul_and_length),
		cmocka_unit_test(test_candidate),
		cmocka_unit_test(test_linear_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
