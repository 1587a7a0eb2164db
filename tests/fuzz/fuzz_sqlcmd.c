/*
 * libFuzzer harness for the prepared-statement command lexer
 * (src/proto/sqlcmd.c).
 *
 * The input is a Query's text, scanned with standard_conforming_strings on
 * and off. Invariants checked, any breach aborts:
 * - every span lies inside the text (which ends at the input's end or its
 *   first NUL), statements come in order without overlapping, and the
 *   name, argument and body spans lie inside their statement in that order;
 * - the statement count is the number of statements returned; a kind
 *   without a name has no spans; normalised names are at most 63 bytes;
 * - lp_sqlcmd_candidate() false means one statement at most, of kind OTHER;
 * - a statement's text scanned alone is the same one statement, with the
 *   same kind, name and spans (the text is safe to re-issue on its own);
 * - normalisation is idempotent: the normalised name, written back as a
 *   quoted identifier, normalises to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sqlcmd.h"

#define check(cond)                  \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)

static bool inside(struct lp_sqlcmd_span in, struct lp_sqlcmd_span s)
{
	return s.len == 0 || (s.off >= in.off && s.off + s.len <= in.off + in.len);
}

/* text scanned alone (an exact-size copy, so ASan sees any over-read). */
static void scan_one(const char *text, size_t len, unsigned flags, struct lp_sqlcmd_stmt *st,
		     unsigned *n)
{
	char *buf = malloc(len > 0 ? len : 1);
	struct lp_sqlcmd s;
	struct lp_sqlcmd_stmt more;

	check(buf != NULL);
	memcpy(buf, text, len);
	lp_sqlcmd_init(&s, buf, len, flags);
	*n = 0;
	if (lp_sqlcmd_next(&s, st)) {
		*n = 1;
		while (lp_sqlcmd_next(&s, &more))
			(*n)++;
	}
	free(buf);
}

static void same_stmt(const struct lp_sqlcmd_stmt *a, const struct lp_sqlcmd_stmt *b, size_t shift)
{
	check(a->kind == b->kind);
	check((a->flags & ~LP_SQLCMD_F_UNTERMINATED) == (b->flags & ~LP_SQLCMD_F_UNTERMINATED));
	check(a->name_len == b->name_len && memcmp(a->name_norm, b->name_norm, a->name_len) == 0);
	check(a->text.off == b->text.off + shift && a->text.len == b->text.len);
	check(a->name.len == b->name.len && (a->name.len == 0 || a->name.off == b->name.off + shift));
	check(a->args.len == b->args.len && (a->args.len == 0 || a->args.off == b->args.off + shift));
	check(a->body.len == b->body.len && (a->body.len == 0 || a->body.off == b->body.off + shift));
}

/* EXECUTE "name" with "" doubled: the name must come back unchanged. */
static void requote(const struct lp_sqlcmd_stmt *st)
{
	char text[16 + 2 * LP_SQLCMD_NAME_MAX];
	size_t n = 0;
	struct lp_sqlcmd_stmt again;
	unsigned count;

	memcpy(text, "EXECUTE \"", 9);
	n = 9;
	for (size_t i = 0; i < st->name_len; i++) {
		if (st->name_norm[i] == '"')
			text[n++] = '"';
		text[n++] = st->name_norm[i];
	}
	text[n++] = '"';
	scan_one(text, n, 0, &again, &count);
	check(count == 1 && again.kind == LP_SQLCMD_EXECUTE);
	check(again.name_len == st->name_len && memcmp(again.name_norm, st->name_norm, st->name_len) == 0);
}

static void run(const char *text, size_t size, unsigned flags, bool candidate)
{
	struct lp_sqlcmd s;
	struct lp_sqlcmd_stmt st;
	size_t end = strnlen(text, size), prev_end = 0;
	unsigned n = 0;

	lp_sqlcmd_init(&s, text, size, flags);
	while (lp_sqlcmd_next(&s, &st)) {
		n++;
		check(st.text.len > 0 && st.text.off >= prev_end && st.text.off + st.text.len <= end);
		check(n == 1 || st.text.off > prev_end);        /* a ';' lies between */
		prev_end = st.text.off + st.text.len;
		check(inside(st.text, st.name) && inside(st.text, st.args) && inside(st.text, st.body));
		check(st.name_len <= LP_SQLCMD_NAME_MAX && strlen(st.name_norm) == st.name_len);
		check((st.flags & LP_SQLCMD_F_UNTERMINATED) == 0 || s.unterminated);
		if (st.args.len > 0)
			check(st.args.off >= st.name.off + st.name.len &&
			      text[st.args.off] == '(' && text[st.args.off + st.args.len - 1] == ')');
		switch (st.kind) {
		case LP_SQLCMD_OTHER:
		case LP_SQLCMD_DEALLOCATE_ALL:
		case LP_SQLCMD_DISCARD_ALL:
			check(st.name.len == 0 && st.args.len == 0 && st.body.len == 0 && st.name_len == 0);
			check((st.flags & (LP_SQLCMD_F_WRAPPED | LP_SQLCMD_F_NAME_UNKNOWN)) == 0);
			break;
		case LP_SQLCMD_PREPARE:
			check(st.body.len > 0 && st.body.off + st.body.len == prev_end);
			check(st.body.off >= st.name.off + st.name.len + 2);    /* AS */
			check(st.args.len == 0 || st.body.off > st.args.off + st.args.len);
			/* fall through */
		case LP_SQLCMD_EXECUTE:
		case LP_SQLCMD_DEALLOCATE:
			check(st.name.len > 0 && st.name.off >= st.text.off + 7);
			check(st.name_len > 0 || (st.flags & LP_SQLCMD_F_NAME_UNKNOWN));
			if (st.name_len > 0)
				requote(&st);
			break;
		default:
			abort();
		}
		if (st.kind != LP_SQLCMD_EXECUTE)
			check((st.flags & LP_SQLCMD_F_WRAPPED) == 0);

		/* the statement's text alone is the same statement */
		struct lp_sqlcmd_stmt alone;
		unsigned count;

		scan_one(text + st.text.off, st.text.len, flags, &alone, &count);
		check(count == 1);
		same_stmt(&st, &alone, st.text.off);
	}
	check(n == s.nstmts);
	check(!lp_sqlcmd_next(&s, &st));
	if (!candidate)
		check(n == 0 || (n == 1 && st.kind == LP_SQLCMD_OTHER));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	bool candidate = lp_sqlcmd_candidate(text, size);

	run(text, size, 0, candidate);
	run(text, size, LP_SQLCMD_BACKSLASH_QUOTES, candidate);
	return 0;
}
