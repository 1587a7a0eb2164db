/*
 * Prepared statements named in simple Query texts (prepared.h): the
 * resets that drop every statement (DISCARD ALL, DEALLOCATE ALL), and,
 * beyond PgBouncer, SQL-level PREPARE / EXECUTE / DEALLOCATE name, which
 * follow their client to other servers as protocol-level ones do.
 *
 * The text is read by proto/sqlcmd (a lexer that follows PostgreSQL's
 * quoting; see its header for why not PostgreSQL's parser). A text of one
 * statement is followed: PREPARE is sent as PREPARE "PGBOUNCER_<n>" with
 * the client's own rest of the statement, EXECUTE (also under EXPLAIN or in
 * CREATE TABLE AS) names "PGBOUNCER_<n>" after the pooler prepared it on
 * the server if it had to, DEALLOCATE of a followed name is answered by the
 * pooler (the statement stays on the server for other clients). In a text
 * of several statements only the resets are followed, and a client whose
 * encoding may hide quote bytes inside characters is not followed at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "pool/client.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/prepared_int.h"
#include "pool/server.h"
#include "proto/sqlcmd.h"

/* Encodings whose multi-byte characters may hold ASCII bytes the server
 * lexes only after converting: the client's text is not read then. */
static bool opaque_encoding(const char *enc)
{
	static const char *const bad[] = { "SJIS", "SHIFT_JIS", "BIG5", "GBK", "UHC", "GB18030",
					   "WIN932", "WIN936", "WIN949", "WIN950", "JOHAB" };
	if (!enc)
		return false;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcasecmp(enc, bad[i]) == 0)
			return true;
	return false;
}

/* Whether the text may hold something followed here: a first statement
 * that is one (PREPARE, EXECUTE, DEALLOCATE, DISCARD ...), or, in a text of
 * several statements, a reset in a later one. Texts are mostly neither,
 * and "SELECT ... ;" must not cost a full lexing: a later statement
 * matters only when the words DISCARD or DEALLOCATE appear at all. */
static bool worth_reading(const char *text, size_t len)
{
	if (lp_sqlcmd_leads(text, len))
		return true;
	const char *semi = memchr(text, ';', len), *end = text + len;
	if (!semi)
		return false;
	/* "...;" with nothing after it but blanks: one statement. */
	const char *q = semi + 1;
	while (q < end && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r'))
		q++;
	if (q == end)
		return false;
	for (const char *p = text; p + 7 <= end; p++) {
		if ((*p | 0x20) != 'd')
			continue;
		if (strncasecmp(p, "discard", 7) == 0 ||
		    (p + 10 <= end && strncasecmp(p, "deallocate", 10) == 0))
			return lp_sqlcmd_candidate(text, len);
	}
	return false;
}

/* Clock and counters of a query the client sent, as to_server keeps them. */
static void count_query(struct lp_client *c, struct lp_server *s, const struct lp_msg_hdr *h)
{
	int64_t now = lp_now_us();
	if (s->trk.rfq_owed == 1)
		s->request_us = now;
	if (!s->xact_start_us)
		s->xact_start_us = now;
	c->last_active_us = now;
	c->pool->stats.bytes_in += h->len + 1u;
}

static enum lp_frame_act oom(struct lp_client *c)
{
	lp_client_fail(c, "53200", "out of memory");
	return LP_FRAME_CLOSED;
}

/* Sends text (len bytes, no NUL) with [span) replaced by "PGBOUNCER_<n>",
 * as a Query. */
static bool send_renamed(struct lp_client *c, struct lp_server *s, const char *text, size_t len,
			 const struct lp_sqlcmd_span *span, const struct lp_pstmt *st)
{
	char name[NAME_MAX_LEN];
	size_t nlen = lp_prep_server_name(st, name);
	size_t need = 1 + 4 + len - span->len + nlen + 3;
	uint8_t *buf = malloc(need);
	if (!buf) {
		lp_client_fail(c, "53200", "out of memory");
		return false;
	}
	struct lp_writer w;
	lp_wr_init(&w, buf, need);
	lp_wr_begin(&w, 'Q');
	lp_wr_bytes(&w, text, span->off);
	lp_wr_u8(&w, '"');
	lp_wr_bytes(&w, name, nlen);
	lp_wr_u8(&w, '"');
	lp_wr_bytes(&w, text + span->off + span->len, len - span->off - span->len);
	lp_wr_u8(&w, 0);
	lp_wr_end(&w);
	bool ok = lp_prep_send_w(c, s, &w);
	free(buf);
	return ok;
}

/* A Query the pooler answers itself, in its turn. */
static enum lp_frame_act answer(struct lp_client *c, struct lp_server *s,
				struct lp_prep_server *ps, enum ev_what what, struct lp_pstmt *st,
				const char *name, const struct lp_msg_hdr *h)
{
	if (!lp_prep_ev_push(ps, what, st, name, name ? strlen(name) : 0))
		return oom(c);
	(void)lp_track_frontend(&s->trk, 'Q', 0, LP_TRK_SYNTH, 1);
	c->last_active_us = lp_now_us();
	c->pool->stats.bytes_in += h->len + 1u;
	lp_prep_emit(s);
	return LP_FRAME_CONSUMED;
}

static enum lp_frame_act sql_prepare(struct lp_client *c, struct lp_server *s,
				     struct lp_prep_server *ps, const char *text, size_t len,
				     const struct lp_sqlcmd_stmt *q, const struct lp_msg_hdr *h)
{
	const char *name = q->name_norm;
	struct cname *old = lp_prep_cname_find(c, name, q->name_len);
	if (old && !old->doubtful)
		return answer(c, s, ps, EV_SYNTH_DUP, NULL, name, h);
	if (old)
		lp_prep_cname_del(c, name, q->name_len, NULL);
	/* The statement is what follows the name: types, AS, the body. */
	size_t kstart = q->name.off + q->name.len, kend = q->text.off + q->text.len;
	struct lp_pstmt *st = lp_prep_stmt_get(c->inst, ST_SQL, (const uint8_t *)text + kstart,
					       (uint32_t)(kend - kstart));
	if (!st)
		return oom(c);
	bool mapped = lp_prep_cname_put(c, name, q->name_len, st);
	lp_prep_stmt_unref(c->inst, st);
	if (!mapped)
		return oom(c);
	c->pool->stats.client_parses++;
	if (lp_prep_sstmt_has(ps, st, true))
		return answer(c, s, ps, EV_SYNTH_PREPARE, st, name, h);
	if (!lp_prep_evict(c, s, ps))
		return LP_FRAME_CLOSED;
	if (!lp_prep_sstmt_add(ps, st) || !lp_prep_ev_push(ps, EV_CLI_PARSE, st, name, q->name_len))
		return oom(c);
	(void)lp_track_frontend(&s->trk, 'Q', 0, LP_TRK_FORWARD, 1);
	c->pool->stats.server_parses++;
	count_query(c, s, h);
	/* Only this statement of the text is sent: comments around it are
	 * not needed, and a trailing ';' is harmless either way. */
	return send_renamed(c, s, text, len, &q->name, st) ? LP_FRAME_CONSUMED : LP_FRAME_CLOSED;
}

static enum lp_frame_act sql_execute(struct lp_client *c, struct lp_server *s,
				     struct lp_prep_server *ps, const char *text, size_t len,
				     struct lp_pstmt *st, const struct lp_sqlcmd_stmt *q,
				     const struct lp_msg_hdr *h)
{
	if (!lp_prep_ensure_on_server(c, s, ps, st))
		return LP_FRAME_CLOSED;
	(void)lp_track_frontend(&s->trk, 'Q', 0, LP_TRK_FORWARD, 0);
	count_query(c, s, h);
	return send_renamed(c, s, text, len, &q->name, st) ? LP_FRAME_CONSUMED : LP_FRAME_CLOSED;
}

/* A Query that drops every statement: the client's names and the
 * server's statements are forgotten once it succeeded. */
static enum lp_frame_act reset(struct lp_client *c, struct lp_server *s,
			       struct lp_prep_server *ps, const struct lp_msg_hdr *h)
{
	if (!lp_prep_ev_push(ps, EV_RESET, NULL, NULL, 0))
		return oom(c);
	(void)lp_track_frontend(&s->trk, 'Q', 0, LP_TRK_FORWARD, 1);
	count_query(c, s, h);
	return LP_FRAME_FORWARD;
}

enum lp_frame_act lp_prep_query(struct lp_client *c, struct lp_server *s,
				const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				bool *handled)
{
	const char *text = (const char *)msg + LP_PROTO_HDR_LEN;
	if (avail <= h->len) {
		/* Only a whole text is read; one longer than pkt_buf is not. */
		if (h->len + 1u <= lp_io_buf_size()) {
			*handled = true;
			return LP_FRAME_MORE;
		}
		return LP_FRAME_FORWARD;
	}
	/* The body is the text and its NUL (a malformed one without is the
	 * server's to refuse: passed as sent). */
	size_t len = h->len - 4;
	if (len == 0 || text[len - 1] != '\0')
		return LP_FRAME_FORWARD;
	len--;
	if (!worth_reading(text, len))
		return LP_FRAME_FORWARD;
	if (opaque_encoding(lp_params_get(&s->params, "client_encoding")))
		return LP_FRAME_FORWARD;
	const char *scs = lp_params_get(&s->params, "standard_conforming_strings");
	unsigned flags = scs && strcmp(scs, "off") == 0 ? LP_SQLCMD_BACKSLASH_QUOTES : 0;

	/* One statement is followed; of several, only the resets. */
	struct lp_sqlcmd sc;
	struct lp_sqlcmd_stmt q, first;
	bool resets = false;
	memset(&first, 0, sizeof(first));
	lp_sqlcmd_init(&sc, text, len, flags);
	while (lp_sqlcmd_next(&sc, &q)) {
		if (sc.nstmts == 1)
			first = q;
		if (q.kind == LP_SQLCMD_DISCARD_ALL || q.kind == LP_SQLCMD_DEALLOCATE_ALL)
			resets = true;
	}
	if (sc.unterminated || sc.nstmts == 0)
		return LP_FRAME_FORWARD;        /* the server refuses or runs nothing */
	struct lp_pstmt *st = NULL;
	if (!resets) {
		if (sc.nstmts > 1 || first.kind == LP_SQLCMD_OTHER ||
		    (first.flags & LP_SQLCMD_F_NAME_UNKNOWN))
			return LP_FRAME_FORWARD;
		if (first.kind != LP_SQLCMD_PREPARE) {
			st = lp_prep_cname_get(c, first.name_norm, first.name_len);
			if (!st)
				return LP_FRAME_FORWARD;        /* not ours: the server's answer */
		}
	}
	*handled = true;
	if (c->io.start != c->io.pos)
		return LP_FRAME_STOP;           /* what came before goes first */
	struct lp_prep_server *ps = lp_prep_server_state(s);
	if (!ps)
		return oom(c);
	if (!lp_prep_room_for(s, lp_prep_evictions(s, ps) + 2))
		return LP_FRAME_STOP;
	if (resets)
		return reset(c, s, ps, h);
	switch (first.kind) {
	case LP_SQLCMD_PREPARE:
		return sql_prepare(c, s, ps, text, len, &first, h);
	case LP_SQLCMD_EXECUTE:
		return sql_execute(c, s, ps, text, len, st, &first, h);
	case LP_SQLCMD_DEALLOCATE:
		/* Answered here: the statement stays on the server for others. */
		lp_prep_cname_del(c, first.name_norm, first.name_len, NULL);
		return answer(c, s, ps, EV_SYNTH_DEALLOCATE, NULL, NULL, h);
	default:
		*handled = false;               /* not reached: OTHER passed above */
		return LP_FRAME_FORWARD;
	}
}

/* The pooler's own reset (server_reset_query): when it drops every
 * statement, the server's cache goes too. */
void lp_prep_reset_done(struct lp_server *s, const char *sql)
{
	if (!s->prep || s->prep->n == 0)
		return;
	struct lp_sqlcmd sc;
	struct lp_sqlcmd_stmt st;
	lp_sqlcmd_init(&sc, sql, strlen(sql), 0);
	while (lp_sqlcmd_next(&sc, &st))
		if (st.kind == LP_SQLCMD_DISCARD_ALL || st.kind == LP_SQLCMD_DEALLOCATE_ALL) {
			lp_prep_server_forget(s);
			return;
		}
}
