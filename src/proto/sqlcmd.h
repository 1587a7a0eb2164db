/*
 * SQL-level prepared-statement commands in a simple Query's text.
 *
 * Finds, in the text of a Query message, the statements that create, use or
 * drop a named prepared statement -- PREPARE, EXECUTE (also under EXPLAIN
 * and in CREATE TABLE ... AS EXECUTE), DEALLOCATE [PREPARE] name|ALL and
 * DISCARD ALL -- so that transaction pooling can follow a client's
 * statements to whichever server runs its next transaction. Everything else
 * is LP_SQLCMD_OTHER. RESET ALL, DISCARD PLANS/SEQUENCES/TEMP and SET leave
 * prepared statements alone and are not reported.
 *
 * Why a hand-written lexer and not PostgreSQL's parser as a library
 * (Debian's libpg-query): this runs on every simple-protocol Query in
 * transaction mode, and almost every such text is none of these commands.
 * lp_sqlcmd_candidate() settles that from the first letter and one memchr
 * for ';': 60 instructions for a 51-byte "SELECT ... WHERE aid = 1", half
 * of them memchr (callgrind, bench/sqlcmd_cost.sh); a full scan of a
 * candidate costs about 20-35 instructions a byte (1,500 for
 * "EXECUTE fetch_account(1)", 2,700 for an 83-byte PREPARE), with no
 * allocation. pg_query_parse() runs PostgreSQL's whole raw parser over
 * every text in a private memory context (malloc'd blocks), builds the
 * parse tree and serialises it to JSON or protobuf that the caller must
 * parse again and free; even pg_query_split_with_scanner() sets up the
 * scanner and allocates its result. That is microseconds and several
 * allocations per Query (reasoned, not measured: the package is not
 * installed on the build machines), one to two orders of magnitude above
 * this, and its errors come back through PostgreSQL's ereport/longjmp
 * machinery inside our event loop. Its
 * grammar is also one PostgreSQL version's (Debian 12 ships 15), while
 * linkpool fronts servers of several: newer syntax would fail to parse
 * there. Statement boundaries and leading keywords need only the lexical
 * rules, which PostgreSQL has kept stable; the little grammar used below
 * is checked against a real server (see the unit tests).
 *
 * Lexical rules followed (PostgreSQL's scan.l and psql's statement
 * splitting): "--" and nested slash-star comments; '' strings with ''
 * doubling, E'' strings with backslash escapes, B''/X'' strings, U&''
 * strings; plain '' strings take backslash escapes too when the caller says
 * standard_conforming_strings is off; a string continues across whitespace
 * holding a newline into a following ' in the same escape mode; "" and
 * U&"" identifiers with "" doubling; dollar quotes $tag$...$tag$ (not after
 * an identifier character, as $ continues identifiers); numbers with
 * exponents. ';' ends a statement only outside parentheses and outside a
 * BEGIN ... END block of CREATE [OR REPLACE] FUNCTION/PROCEDURE (psql's
 * rule: CREATE RULE ... DO (a; b) and BEGIN ATOMIC bodies hold ';').
 *
 * Names are normalised as PostgreSQL does with a UTF-8 server encoding:
 * unquoted names lower-cased (ASCII letters only), quoted names kept,
 * U&"" names decoded (\XXXX, \+XXXXXX, UESCAPE 'c', surrogate pairs), then
 * cut to NAMEDATALEN-1 = 63 bytes without splitting a UTF-8 character.
 * The text is taken as the bytes the server will lex: a client_encoding
 * whose multi-byte characters may hold ASCII bytes (SJIS, BIG5, GBK, UHC,
 * GB18030) is converted by the server before lexing, so the caller must
 * not trust this module for such a client.
 *
 * Pure: no allocation, no I/O, time linear in the text (every byte is
 * looked at a bounded number of times; dollar-quote ends are found without
 * re-scanning). Reads at most len bytes and stops at the first NUL.
 *
 * What the caller still has to do: a statement reported here may still
 * fail on the server (a syntax error anywhere in the text runs none of its
 * statements; a later statement's error does not undo an earlier PREPARE,
 * which is not transactional). Record a PREPARE or DEALLOCATE only when its
 * CommandComplete ("PREPARE", "DEALLOCATE", "DEALLOCATE ALL", "DISCARD
 * ALL") comes back, counting statements in order.
 */
#ifndef LP_PROTO_SQLCMD_H
#define LP_PROTO_SQLCMD_H

#include <stdbool.h>
#include <stddef.h>

#define LP_SQLCMD_NAME_MAX 63   /* NAMEDATALEN - 1, as LP_SQLNAME_MAX */

enum lp_sqlcmd_kind {
	LP_SQLCMD_OTHER,
	LP_SQLCMD_PREPARE,        /* PREPARE name [ ( type, ... ) ] AS statement */
	LP_SQLCMD_EXECUTE,        /* EXECUTE name [ ( arg, ... ) ]; also wrapped */
	LP_SQLCMD_DEALLOCATE,     /* DEALLOCATE [ PREPARE ] name */
	LP_SQLCMD_DEALLOCATE_ALL, /* DEALLOCATE [ PREPARE ] ALL */
	LP_SQLCMD_DISCARD_ALL,    /* DISCARD ALL: drops every prepared statement too */
};

/* lp_sqlcmd_init flags */
#define LP_SQLCMD_BACKSLASH_QUOTES 0x1u  /* standard_conforming_strings = off */

/* lp_sqlcmd_stmt.flags */
#define LP_SQLCMD_F_WRAPPED      0x1u /* EXECUTE under EXPLAIN or in CREATE TABLE AS */
#define LP_SQLCMD_F_NAME_UNKNOWN 0x2u /* a U&"" name with an UESCAPE this module does
				       * not read (not 'c'): name_norm is empty */
#define LP_SQLCMD_F_UNTERMINATED 0x4u /* the text ended inside a quote, comment or
				       * dollar quote: PostgreSQL runs none of it */

/* Bytes [off, off + len) of the text; len 0: absent. */
struct lp_sqlcmd_span {
	size_t off, len;
};

struct lp_sqlcmd_stmt {
	enum lp_sqlcmd_kind kind;
	unsigned flags;                 /* LP_SQLCMD_F_* */
	/* From the first token to the end of the last, without the ';' and
	 * without comments before or after: the exact text to re-issue; it
	 * ends in no "--" comment, so "; ..." may follow it (unless
	 * LP_SQLCMD_F_UNTERMINATED). */
	struct lp_sqlcmd_span text;
	/* The name as written, quotes and any UESCAPE clause included: what
	 * to replace to rename the statement. Not for DEALLOCATE_ALL,
	 * DISCARD_ALL, OTHER. */
	struct lp_sqlcmd_span name;
	/* PREPARE: "( type, ... )"; EXECUTE: "( arg, ... )"; parentheses
	 * included; len 0 when there is none. */
	struct lp_sqlcmd_span args;
	/* PREPARE: the statement after AS, to the end of text. */
	struct lp_sqlcmd_span body;
	size_t name_len;                /* bytes in name_norm */
	char name_norm[LP_SQLCMD_NAME_MAX + 1]; /* as PostgreSQL names it; NUL-terminated */
};

/* An iterator over the statements of one text; the text must outlive it. */
struct lp_sqlcmd {
	const unsigned char *text;
	size_t end;             /* len, or the offset of the first NUL */
	size_t pos;             /* where the next token starts being looked for */
	unsigned flags;         /* LP_SQLCMD_BACKSLASH_QUOTES */
	unsigned nstmts;        /* statements returned so far */
	bool unterminated;      /* the text ended inside a quote or comment */
};

/*
 * The hot path. False: the text holds at most one statement, and that one
 * is LP_SQLCMD_OTHER -- nothing to follow, no need to iterate. True: it may
 * hold one of the commands above or several statements; iterate.
 */
bool lp_sqlcmd_candidate(const char *text, size_t len);
/* Cheaper still: true when the text's first statement starts with one of
 * the commands above (leading blanks and comments skipped); a later
 * statement of a multi-statement text is not looked at. */
bool lp_sqlcmd_leads(const char *text, size_t len);

/* text: len bytes (the Query's string; a NUL ends it earlier). */
void lp_sqlcmd_init(struct lp_sqlcmd *s, const char *text, size_t len, unsigned flags);

/*
 * Fills *st with the next statement and returns true, or returns false at
 * the end. Empty statements (";;", a trailing ';', only comments) are
 * skipped, as PostgreSQL runs nothing for them; s->nstmts then counts the
 * statements the server will run, so nstmts > 1 after the last call means a
 * multi-statement text (one implicit transaction unless it holds
 * BEGIN/COMMIT).
 */
bool lp_sqlcmd_next(struct lp_sqlcmd *s, struct lp_sqlcmd_stmt *st);

/* "PREPARE", "EXECUTE", ... for logs and tests. */
const char *lp_sqlcmd_kind_name(enum lp_sqlcmd_kind kind);

#endif
