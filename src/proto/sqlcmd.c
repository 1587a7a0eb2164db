/*
 * SQL-level prepared-statement commands in a simple Query's text: a lexer
 * that follows PostgreSQL's scan.l where it matters for statement
 * boundaries and leading keywords, and a few lines of grammar for PREPARE,
 * EXECUTE, DEALLOCATE and DISCARD ALL. See sqlcmd.h for the contract and
 * for why this is not PostgreSQL's parser.
 *
 * Every scanning loop moves forward; the only look-aheads (a string's
 * continuation, a dollar-quote tag, a U&"" name's UESCAPE) are re-read at
 * most once, so the time is linear in the text.
 */
#include "proto/sqlcmd.h"
#include "proto/sqlname.h"

#include <stdint.h>
#include <string.h>

_Static_assert(LP_SQLCMD_NAME_MAX == LP_SQLNAME_MAX, "one NAMEDATALEN");

enum {
	C_SPACE = 0x01,         /* PostgreSQL's {space} (and \v, as PostgreSQL 16+) */
	C_START = 0x02,         /* ident_start, dolq_start: [A-Za-z\200-\377_] */
	C_CONT = 0x04,          /* ident_cont: ident_start, digits and $ */
	C_TAG = 0x08,           /* dolq_cont: ident_cont without $ */
	C_DIGIT = 0x10,
	C_HEX = 0x20,
};

#define LETTER (C_START | C_CONT | C_TAG)

static const uint8_t cls[256] = {
	[' '] = C_SPACE, ['\t'] = C_SPACE, ['\n'] = C_SPACE,
	['\r'] = C_SPACE, ['\f'] = C_SPACE, ['\v'] = C_SPACE,
	['0' ... '9'] = C_CONT | C_TAG | C_DIGIT | C_HEX,
	['A' ... 'F'] = LETTER | C_HEX, ['G' ... 'Z'] = LETTER,
	['a' ... 'f'] = LETTER | C_HEX, ['g' ... 'z'] = LETTER,
	['_'] = LETTER,
	['$'] = C_CONT,
	[0x80 ... 0xff] = LETTER,
};

enum tok_type {
	T_END,                  /* end of text */
	T_SEMI,
	T_LPAREN,
	T_RPAREN,
	T_WORD,                 /* unquoted identifier or keyword */
	T_QIDENT,               /* "..." */
	T_UIDENT,               /* U&"..." */
	T_STRING,               /* any literal in single quotes, or dollar-quoted */
	T_OTHER,                /* numbers, operators, punctuation, parameters */
};

struct tok {
	enum tok_type type;
	bool open;              /* ran off the end of the text unterminated */
	size_t start, end;
};

/* The offset of the newline ending a "--" comment, or end. */
static size_t line_end(const uint8_t *t, size_t p, size_t end)
{
	while (p < end && t[p] != '\n' && t[p] != '\r')
		p++;
	return p;
}

/* p: just past a slash-star. Comments nest, as in PostgreSQL (not in C). */
static size_t comment_end(const uint8_t *t, size_t p, size_t end, bool *open)
{
	size_t depth = 1;

	while (p + 1 < end) {
		if (t[p] == '/' && t[p + 1] == '*') {
			depth++;
			p += 2;
		} else if (t[p] == '*' && t[p + 1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	*open = true;
	return end;
}

/* Past whitespace and comments. Outside quotes "--" and slash-star start a
 * comment anywhere, even inside an operator (scan.l cuts operators there). */
static size_t skip_blank(const uint8_t *t, size_t p, size_t end, bool *open)
{
	while (p < end) {
		uint8_t c = t[p];

		if (cls[c] & C_SPACE)
			p++;
		else if (c == '-' && p + 1 < end && t[p + 1] == '-')
			p = line_end(t, p + 2, end);
		else if (c == '/' && p + 1 < end && t[p + 1] == '*')
			p = comment_end(t, p + 2, end, open);
		else
			break;
	}
	return p;
}

/*
 * After a closing quote: whitespace and "--" comments holding at least one
 * newline, then a quote, continue the same literal (scan.l's
 * {quotecontinue}). Returns the offset past that quote, or 0.
 */
static size_t continuation(const uint8_t *t, size_t p, size_t end)
{
	bool newline = false;

	while (p < end) {
		uint8_t c = t[p];

		if (c == '\n' || c == '\r') {
			newline = true;
			p++;
		} else if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
			p++;
		} else if (c == '-' && p + 1 < end && t[p + 1] == '-') {
			p = line_end(t, p + 2, end);
		} else {
			break;
		}
	}
	return newline && p < end && t[p] == '\'' ? p + 1 : 0;
}

enum quote_mode {
	Q_STD,                  /* '' doubles a quote */
	Q_ESC,                  /* E'': backslash escapes too */
	Q_BIT,                  /* B'', X'': the first quote ends it */
};

/* p: just past the opening quote. A continuation keeps the mode. */
static size_t scan_string(const uint8_t *t, size_t p, size_t end, enum quote_mode m, bool *open)
{
	for (;;) {
		for (;;) {
			const uint8_t *q;

			if (p >= end) {
				*open = true;
				return end;
			}
			if (m == Q_ESC) {
				if (t[p] == '\\') {
					p += 2;
					continue;
				}
				if (t[p] != '\'') {
					p++;
					continue;
				}
			} else {
				q = memchr(t + p, '\'', end - p);
				if (q == NULL) {
					*open = true;
					return end;
				}
				p = (size_t)(q - t);
			}
			/* t[p] is a quote */
			if (m != Q_BIT && p + 1 < end && t[p + 1] == '\'') {
				p += 2;
				continue;
			}
			p++;
			break;
		}
		size_t c = continuation(t, p, end);
		if (c == 0)
			return p;
		p = c;
	}
}

/* t[p] == '$': the length of a dollar-quote delimiter $tag$ there, or 0. */
static size_t dollar_delim(const uint8_t *t, size_t p, size_t end)
{
	size_t q = p + 1;

	if (q < end && (cls[t[q]] & C_START)) {
		q++;
		while (q < end && (cls[t[q]] & C_TAG))
			q++;
	}
	return q < end && t[q] == '$' ? q + 1 - p : 0;
}

/*
 * p: the opening delimiter, dlen bytes. The body ends at the first exact
 * copy of the delimiter: at any '$' scan.l tries the longest $tag$ there,
 * which is the delimiter exactly when those bytes are. A comparison stops at
 * the first mismatch, which comes at the latest at the next '$', so the
 * body is read about twice at most.
 */
static size_t scan_dollar(const uint8_t *t, size_t p, size_t dlen, size_t end, bool *open)
{
	size_t q = p + dlen;

	while (q < end) {
		const uint8_t *d = memchr(t + q, '$', end - q);
		size_t r, i;

		if (d == NULL)
			break;
		r = (size_t)(d - t);
		for (i = 1; i < dlen && r + i < end && t[r + i] == t[p + i]; i++)
			;
		if (i == dlen)
			return r + dlen;
		q = r + 1;
	}
	*open = true;
	return end;
}

/* p: just past the opening double quote; "" doubles it. */
static size_t scan_qident(const uint8_t *t, size_t p, size_t end, bool *open)
{
	for (;;) {
		const uint8_t *q = memchr(t + p, '"', end - p);

		if (q == NULL) {
			*open = true;
			return end;
		}
		p = (size_t)(q - t) + 1;
		if (p < end && t[p] == '"')
			p++;
		else
			return p;
	}
}

/* Digits, a fraction, an exponent: so that "1e5$$" is a number and a
 * dollar quote, not a word that swallows the dollars. */
static size_t scan_number(const uint8_t *t, size_t p, size_t end)
{
	while (p < end && (cls[t[p]] & C_DIGIT))
		p++;
	if (p < end && t[p] == '.' && !(p + 1 < end && t[p + 1] == '.')) {
		p++;
		while (p < end && (cls[t[p]] & C_DIGIT))
			p++;
	}
	if (p < end && (t[p] | 0x20) == 'e') {
		size_t q = p + 1;

		if (q < end && (t[q] == '+' || t[q] == '-'))
			q++;
		if (q < end && (cls[t[q]] & C_DIGIT)) {
			p = q;
			while (p < end && (cls[t[p]] & C_DIGIT))
				p++;
		}
	}
	return p;
}

/* A word, or the one-letter prefix of a literal: E'' B'' X'' N'' U&'' U&"". */
static enum tok_type scan_word(const struct lp_sqlcmd *s, size_t *pp, bool *open)
{
	const uint8_t *t = s->text;
	size_t end = s->end, p = *pp, q = p + 1;

	while (q < end && (cls[t[q]] & C_CONT))
		q++;
	if (q == p + 1 && q < end) {
		uint8_t l = t[p] | 0x20;

		if (t[q] == '\'' && (l == 'e' || l == 'b' || l == 'x' || l == 'n')) {
			enum quote_mode m = l == 'e' ? Q_ESC : l == 'n' ? Q_STD : Q_BIT;

			if (l == 'n' && (s->flags & LP_SQLCMD_BACKSLASH_QUOTES))
				m = Q_ESC;
			*pp = scan_string(t, q + 1, end, m, open);
			return T_STRING;
		}
		/* U&'' has no backslash escapes in the lexer, whatever the
		 * setting (PostgreSQL refuses it when the setting is off). */
		if (l == 'u' && t[q] == '&' && q + 1 < end) {
			if (t[q + 1] == '\'') {
				*pp = scan_string(t, q + 2, end, Q_STD, open);
				return T_STRING;
			}
			if (t[q + 1] == '"') {
				*pp = scan_qident(t, q + 2, end, open);
				return T_UIDENT;
			}
		}
	}
	*pp = q;
	return T_WORD;
}

static void lex(struct lp_sqlcmd *s, struct tok *k)
{
	const uint8_t *t = s->text;
	size_t end = s->end, p, d;
	bool open = false;

	p = skip_blank(t, s->pos, end, &open);
	k->start = p;
	if (p >= end) {
		k->type = T_END;
	} else {
		switch (t[p]) {
		case ';':
			k->type = T_SEMI;
			p++;
			break;
		case '(':
			k->type = T_LPAREN;
			p++;
			break;
		case ')':
			k->type = T_RPAREN;
			p++;
			break;
		case '\'':
			k->type = T_STRING;
			p = scan_string(t, p + 1, end,
					(s->flags & LP_SQLCMD_BACKSLASH_QUOTES) ? Q_ESC : Q_STD, &open);
			break;
		case '"':
			k->type = T_QIDENT;
			p = scan_qident(t, p + 1, end, &open);
			break;
		case '$':
			d = dollar_delim(t, p, end);
			if (d != 0) {
				k->type = T_STRING;
				p = scan_dollar(t, p, d, end, &open);
			} else {
				k->type = T_OTHER;      /* $1, or a lone $ */
				p++;
			}
			break;
		default:
			if (cls[t[p]] & C_DIGIT) {
				k->type = T_OTHER;
				p = scan_number(t, p, end);
			} else if (cls[t[p]] & C_START) {
				k->type = scan_word(s, &p, &open);
			} else {
				k->type = T_OTHER;
				p++;
			}
			break;
		}
	}
	k->end = p;
	k->open = open;
	s->pos = p;
	if (open)
		s->unterminated = true;
}

/* The token's bytes equal kw (lower case), ignoring ASCII case. */
static bool word_is(const uint8_t *w, size_t n, const char *kw, size_t kwlen)
{
	if (n != kwlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((w[i] | 0x20) != (uint8_t)kw[i])
			return false;
	return true;
}

#define WORD_IS(w, n, kw) word_is((w), (n), kw, sizeof(kw) - 1)

/* ---------------------------------------------------------------- grammar */

/* A statement being read, one token of look-ahead. */
struct rd {
	struct lp_sqlcmd *s;
	struct tok t;           /* the current token, not yet consumed */
	size_t last_end;        /* the end of the last token consumed */
	size_t depth;           /* parentheses open */
	size_t begin;           /* BEGIN/CASE ... END open in CREATE FUNCTION */
	bool track_begin;       /* the statement starts with CREATE */
	bool begin_seen;        /* the last token was BEGIN, in a routine */
	uint8_t nident;
	char ident[4];          /* psql's: initials of the first identifiers */
};

static bool at_end(const struct rd *r)
{
	return r->t.type == T_END || (r->t.type == T_SEMI && r->depth == 0 && r->begin == 0);
}

static bool is_word(const struct rd *r, const char *kw, size_t kwlen)
{
	return r->t.type == T_WORD &&
	       word_is(r->s->text + r->t.start, r->t.end - r->t.start, kw, kwlen);
}

#define IS(r, kw) is_word((r), kw, sizeof(kw) - 1)

/*
 * psql's rule for SQL-standard routine bodies, made a little tighter: in a
 * statement whose identifiers begin CREATE [OR REPLACE] FUNCTION|PROCEDURE,
 * BEGIN ATOMIC (psql: any BEGIN, which misreads a function named "begin")
 * opens a block, CASE inside it opens another, END closes one; only
 * outside parentheses. ';' inside a block does not end the statement.
 */
static void track_begin(struct rd *r)
{
	const uint8_t *w = r->s->text + r->t.start;
	size_t n = r->t.end - r->t.start;
	const char *id = r->ident;
	bool after_begin = r->begin_seen;

	r->begin_seen = false;
	if (r->t.type != T_WORD)
		return;
	if (r->nident < 4) {
		char f = 0;

		if (WORD_IS(w, n, "create") || WORD_IS(w, n, "function") ||
		    WORD_IS(w, n, "procedure") || WORD_IS(w, n, "or") || WORD_IS(w, n, "replace"))
			f = (char)(w[0] | 0x20);
		r->ident[r->nident++] = f;
	}
	if (id[0] != 'c' || r->depth != 0)
		return;
	if (!(id[1] == 'f' || id[1] == 'p' ||
	      (id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p'))))
		return;
	if (WORD_IS(w, n, "begin"))
		r->begin_seen = true;
	else if (after_begin && WORD_IS(w, n, "atomic"))
		r->begin++;
	else if (WORD_IS(w, n, "case") && r->begin > 0)
		r->begin++;
	else if (WORD_IS(w, n, "end") && r->begin > 0)
		r->begin--;
}

/* Consumes the current token (never called at the statement's end). */
static void adv(struct rd *r)
{
	switch (r->t.type) {
	case T_LPAREN:
		r->depth++;
		break;
	case T_RPAREN:
		if (r->depth > 0)
			r->depth--;
		break;
	default:
		break;
	}
	if (r->track_begin)
		track_begin(r);
	r->last_end = r->t.end;
	lex(r->s, &r->t);
}

/* At '(': past the matching ')'; false if the text ends first. */
static bool paren_group(struct rd *r, struct lp_sqlcmd_span *span)
{
	size_t base = r->depth;

	span->off = r->t.start;
	adv(r);
	while (r->depth > base && r->t.type != T_END)
		adv(r);
	if (r->depth > base)
		return false;
	span->len = r->last_end - span->off;
	return true;
}

/* The name at the current token, normalised into st; false if it is none
 * (PostgreSQL would refuse the statement). */
static bool parse_name(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	const uint8_t *t = r->s->text;
	struct tok k = r->t;
	size_t name_end = k.end;        /* the name as written: with UESCAPE 'c' */
	uint8_t esc = '\\';

	switch (k.type) {
	case T_WORD:
		st->name_len = lp_sqlname_plain(st->name_norm, t + k.start, k.end - k.start);
		adv(r);
		break;
	case T_QIDENT:
		if (k.open || k.end - k.start < 3)
			return false;           /* "" is a zero-length name: an error */
		st->name_len = lp_sqlname_quoted(st->name_norm, t + k.start + 1, k.end - k.start - 2);
		adv(r);
		break;
	case T_UIDENT:
		if (k.open || k.end - k.start < 5)
			return false;
		adv(r);
		if (IS(r, "uescape")) {
			adv(r);
			if (r->t.type != T_STRING || r->t.open)
				return false;
			name_end = r->t.end;
			if (r->t.end - r->t.start == 3 && t[r->t.start] == '\'') {
				esc = t[r->t.start + 1];
				if ((cls[esc] & (C_HEX | C_SPACE)) || esc == '+' || esc == '"')
					return false;
			} else {
				/* E'!', a continued literal...: legal but rare */
				st->flags |= LP_SQLCMD_F_NAME_UNKNOWN;
			}
			adv(r);
		}
		if (!(st->flags & LP_SQLCMD_F_NAME_UNKNOWN) &&
		    !lp_sqlname_unicode(st->name_norm, &st->name_len, t + k.start + 3,
					k.end - k.start - 4, esc))
			return false;
		break;
	default:
		return false;
	}
	st->name.off = k.start;
	st->name.len = name_end - k.start;
	return true;
}

/* After EXECUTE: name [ ( args ) ]. trailing: CREATE TABLE AS EXECUTE may
 * go on with WITH [NO] DATA. */
static void parse_execute(struct rd *r, struct lp_sqlcmd_stmt *st, bool trailing)
{
	if (!parse_name(r, st))
		return;
	if (r->t.type == T_LPAREN && !paren_group(r, &st->args))
		return;
	if (trailing || at_end(r))
		st->kind = LP_SQLCMD_EXECUTE;
}

/* After PREPARE: name [ ( types ) ] AS statement. */
static void parse_prepare(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	if (!parse_name(r, st))
		return;                 /* also PREPARE TRANSACTION 'gid' */
	if (r->t.type == T_LPAREN && !paren_group(r, &st->args))
		return;
	if (!IS(r, "as"))
		return;
	adv(r);
	if (at_end(r))
		return;
	st->body.off = r->t.start;
	st->kind = LP_SQLCMD_PREPARE;
}

/* After DEALLOCATE: [ PREPARE ] { name | ALL }; "DEALLOCATE prepare" names
 * the statement "prepare". */
static void parse_deallocate(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	if (IS(r, "prepare")) {
		struct tok k = r->t;

		adv(r);
		if (at_end(r)) {
			st->name_len = lp_sqlname_plain(st->name_norm, r->s->text + k.start,
							k.end - k.start);
			st->name.off = k.start;
			st->name.len = k.end - k.start;
			st->kind = LP_SQLCMD_DEALLOCATE;
			return;
		}
	}
	if (IS(r, "all")) {
		adv(r);
		if (at_end(r))
			st->kind = LP_SQLCMD_DEALLOCATE_ALL;
		return;
	}
	if (parse_name(r, st) && at_end(r))
		st->kind = LP_SQLCMD_DEALLOCATE;
}

/* After CREATE (or EXPLAIN ... CREATE): [ GLOBAL | LOCAL ] [ TEMP |
 * TEMPORARY | UNLOGGED ] TABLE ... AS EXECUTE name [ ( args ) ] ... The
 * first AS outside parentheses decides. */
static void parse_create(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	while (IS(r, "global") || IS(r, "local") || IS(r, "temp") || IS(r, "temporary") ||
	       IS(r, "unlogged"))
		adv(r);
	if (!IS(r, "table"))
		return;
	adv(r);
	while (!at_end(r)) {
		if (r->depth == 0 && IS(r, "as")) {
			adv(r);
			if (IS(r, "execute")) {
				adv(r);
				parse_execute(r, st, true);
				st->flags |= LP_SQLCMD_F_WRAPPED;
			}
			return;
		}
		adv(r);
	}
}

/* After EXPLAIN: [ ( option, ... ) | ANALYZE [ VERBOSE ] | VERBOSE ]. */
static void parse_explain(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	if (r->t.type == T_LPAREN) {
		struct lp_sqlcmd_span ignored;

		if (!paren_group(r, &ignored))
			return;
	} else {
		if (IS(r, "analyze") || IS(r, "analyse"))
			adv(r);
		if (IS(r, "verbose"))
			adv(r);
	}
	if (IS(r, "execute")) {
		adv(r);
		parse_execute(r, st, false);
		st->flags |= LP_SQLCMD_F_WRAPPED;
	} else if (IS(r, "create")) {
		adv(r);
		parse_create(r, st);
	}
}

static void classify(struct rd *r, struct lp_sqlcmd_stmt *st)
{
	if (IS(r, "prepare")) {
		adv(r);
		parse_prepare(r, st);
	} else if (IS(r, "execute")) {
		adv(r);
		parse_execute(r, st, false);
	} else if (IS(r, "deallocate")) {
		adv(r);
		parse_deallocate(r, st);
	} else if (IS(r, "discard")) {
		adv(r);
		if (IS(r, "all")) {
			adv(r);
			if (at_end(r))
				st->kind = LP_SQLCMD_DISCARD_ALL;
		}
	} else if (IS(r, "explain")) {
		adv(r);
		parse_explain(r, st);
	} else if (IS(r, "create")) {
		r->track_begin = true;
		adv(r);
		parse_create(r, st);
	}
}

/* ---------------------------------------------------------------- API */

/* The first word decides, as in classify(): one of these, or nothing. */
static bool lead_word(const uint8_t *w, size_t n)
{
	switch (n) {
	case 6:
		return WORD_IS(w, n, "create");
	case 7:
		switch (w[0] | 0x20) {
		case 'p':
			return WORD_IS(w, n, "prepare");
		case 'd':
			return WORD_IS(w, n, "discard");
		case 'e':
			return WORD_IS(w, n, "execute") || WORD_IS(w, n, "explain");
		}
		return false;
	case 10:
		return WORD_IS(w, n, "deallocate");
	}
	return false;
}

/* Where the first word starts (after blanks and comments), or len; true
 * in *ours when it is one of the words this module reports. */
static size_t first_word(const uint8_t *t, size_t len, bool *ours)
{
	size_t p = 0, q;

	*ours = false;
	if (len == 0)
		return 0;
	if (!(cls[t[0]] & C_START)) {  /* most texts start with their first word */
		bool open = false;

		p = skip_blank(t, 0, len, &open);
		if (p >= len)
			return len;
	}
	/* Only c, d, e, p start one of the words; the rest skip the word. */
	switch (t[p] | 0x20) {
	case 'c':
	case 'd':
	case 'e':
	case 'p':
		q = p + 1;
		while (q < len && q - p <= 10 && (cls[t[q]] & C_CONT))
			q++;
		if (q - p <= 10 && lead_word(t + p, q - p))
			*ours = true;
		break;
	}
	return p;
}

bool lp_sqlcmd_leads(const char *text, size_t len)
{
	bool ours;
	(void)first_word((const uint8_t *)text, len, &ours);
	return ours;
}

bool lp_sqlcmd_candidate(const char *text, size_t len)
{
	const uint8_t *t = (const uint8_t *)text;
	bool ours;
	size_t p = first_word(t, len, &ours);
	if (ours)
		return true;
	if (p >= len)
		return false;
	/* Any ';' may start a second statement; one inside a literal costs a
	 * full scan, never a wrong answer. The first word holds no ';'. */
	return memchr(t + p, ';', len - p) != NULL;
}

void lp_sqlcmd_init(struct lp_sqlcmd *s, const char *text, size_t len, unsigned flags)
{
	s->text = (const uint8_t *)text;
	s->end = strnlen(text, len);
	s->pos = 0;
	s->flags = flags;
	s->nstmts = 0;
	s->unterminated = false;
}

bool lp_sqlcmd_next(struct lp_sqlcmd *s, struct lp_sqlcmd_stmt *st)
{
	struct rd r = { .s = s };

	do
		lex(s, &r.t);
	while (r.t.type == T_SEMI);
	if (r.t.type == T_END)
		return false;

	memset(st, 0, sizeof(*st));
	st->text.off = r.t.start;
	classify(&r, st);
	while (!at_end(&r))
		adv(&r);

	st->text.len = r.last_end - st->text.off;
	if (st->kind == LP_SQLCMD_PREPARE)
		st->body.len = r.last_end - st->body.off;
	if (st->kind == LP_SQLCMD_OTHER || st->kind == LP_SQLCMD_DEALLOCATE_ALL ||
	    st->kind == LP_SQLCMD_DISCARD_ALL) {
		st->flags &= ~(LP_SQLCMD_F_WRAPPED | LP_SQLCMD_F_NAME_UNKNOWN);
		st->name = st->args = st->body = (struct lp_sqlcmd_span){ 0, 0 };
		st->name_len = 0;
		st->name_norm[0] = '\0';
	}
	if (s->unterminated)
		st->flags |= LP_SQLCMD_F_UNTERMINATED;
	s->nstmts++;
	return true;
}

const char *lp_sqlcmd_kind_name(enum lp_sqlcmd_kind kind)
{
	switch (kind) {
	case LP_SQLCMD_OTHER:
		return "OTHER";
	case LP_SQLCMD_PREPARE:
		return "PREPARE";
	case LP_SQLCMD_EXECUTE:
		return "EXECUTE";
	case LP_SQLCMD_DEALLOCATE:
		return "DEALLOCATE";
	case LP_SQLCMD_DEALLOCATE_ALL:
		return "DEALLOCATE ALL";
	case LP_SQLCMD_DISCARD_ALL:
		return "DISCARD ALL";
	}
	return "?";
}
