/*
 * libFuzzer harness for the conversation tracker (src/proto/track.c).
 *
 * The input drives a small model of a PostgreSQL backend: each byte picks
 * what the client sends next (queries that succeed, fail, are empty, open or
 * close a transaction; Parse/Bind/Describe/Execute/Close/Sync/Flush with
 * errors that make the server skip to Sync; function calls; COPY in and out
 * over both protocols; COPY BOTH (replication streams, either side ending
 * first); notices at any time), and the model writes down the answers
 * PostgreSQL would give. The pooler's own traffic around prepared
 * statements (pool/prepared.c) is in the model too: requests it injects
 * (SWALLOW: a Parse before the client's Bind, a Close that evicts; answered
 * by the server, the answer dropped, or failing) and requests it answers
 * itself (SYNTH: ParseComplete, CloseComplete, a simple Query's result, in
 * order, none after an error earlier in the batch). Further bytes
 * interleave forwarding and answering in any order causality allows, so
 * pipelines of every depth occur.
 *
 * Invariants checked at every step: the ring stays within its storage and
 * its Query/Sync/Function count is right; a well-formed conversation never
 * puts the tracker out of step, nor says the link is free while anything is
 * owed; what reaches the model client is exactly what the model says, in
 * its order: every server message except the answers to injected requests,
 * and a synthetic answer where its request stands (so a swallowed answer
 * never reaches the client, synthetic answers come in order, and a skipped
 * synthetic request is never answered); a synthetic Query's ReadyForQuery
 * carries the transaction status the model has there; every request the
 * tracker took ends exactly once (on_done) with the model's outcome (OK,
 * FAILED, or unanswered: SKIPPED), and every request but a Sync ends in the
 * order it was sent. After the last answer the tracker is quiet and its
 * transaction status is the model's.
 *
 * A second pass feeds the raw input as arbitrary message types in both
 * directions: the tracker may call it a violation, but must not crash or
 * leave its bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/track.h"

#define MAX_EV 4096

/* What the model says a request's end is (on_done). */
enum expect {
	X_NONE,                 /* not a request (Flush, CopyData, ...): no end */
	X_OK,
	X_FAILED,
	X_UNANSWERED,           /* after an error in its batch: skipped (or never taken) */
};

struct fe_ev {
	uint8_t type, sub, action;
	uint8_t expect;         /* enum expect */
	char tx;                /* SYNTH Query: the status its ReadyForQuery carries */
	uint32_t needs_be;      /* answers that must have arrived before it is sent */
};

struct be_ev {
	uint8_t type;
	char status;
	bool swallow;           /* answers an injected request: never reaches the client */
	uint32_t after_fe;      /* it answers frontend event number after_fe - 1 */
};

/* What the client receives, in order: a server message, or the synthetic
 * answer of a frontend event. */
struct cl_ev {
	bool synth;
	uint32_t idx;
};

struct model {
	struct fe_ev fe[MAX_EV];
	struct be_ev be[MAX_EV];
	struct cl_ev cl[2 * MAX_EV];
	uint32_t nfe, nbe, ncl;
	char tx;                /* the backend's transaction status */
	bool skip;              /* extended-protocol error: discarding until Sync */
	uint32_t barrier;       /* no client message before this many answers (COPY) */
	bool swallowing;        /* the answers now written go to an injected request */
};

/* Requests, and the outcome the model expects (set by the caller). */
static bool fe_act(struct model *m, uint8_t type, uint8_t sub, uint32_t needs, uint8_t action)
{
	if (m->nfe >= MAX_EV)
		return false;
	bool request = strchr("QPBDECSF", type) != NULL;
	m->fe[m->nfe++] = (struct fe_ev){ type, sub, action,
					  !request ? X_NONE : m->skip ? X_UNANSWERED : X_OK, 0,
					  needs > m->barrier ? needs : m->barrier };
	return true;
}

static bool fe(struct model *m, uint8_t type, uint8_t sub, uint32_t needs)
{
	return fe_act(m, type, sub, needs, LP_TRK_FORWARD);
}

/* The last request sent failed (an ErrorResponse ends it, or its Query or
 * Sync saw one). */
static void last_failed(struct model *m)
{
	m->fe[m->nfe - 1].expect = X_FAILED;
}

static void be(struct model *m, uint8_t type, char status)
{
	if (m->nbe >= MAX_EV)
		return;
	/* An ErrorResponse to an injected request reaches the client: it
	 * answers the client's requests the server now skips. */
	bool async = strchr("NSA", type) != NULL;
	bool swallow = m->swallowing && type != 'E' && !async;
	/* Asynchronous messages reach the client too, but in no fixed order
	 * with the pooler's synthetic answers. */
	if (!swallow && !async)
		m->cl[m->ncl++] = (struct cl_ev){ false, m->nbe };
	m->be[m->nbe++] = (struct be_ev){ type, status, swallow, m->nfe };
}

/* A request the pooler answers itself: in order, unless an error earlier
 * in the batch makes the server skip it (then it is never answered). */
static void synth(struct model *m, uint8_t type, uint8_t sub)
{
	fe_act(m, type, sub, 0, LP_TRK_SYNTH);
	m->fe[m->nfe - 1].tx = m->tx;
	if (!m->skip)
		m->cl[m->ncl++] = (struct cl_ev){ true, m->nfe - 1 };
}

/* An error inside a transaction block makes it 'E' until it ends. */
static void failed(struct model *m)
{
	if (m->tx == 'T')
		m->tx = 'E';
}

static void rows(struct model *m, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		be(m, 'D', 0);
}

/* An extended-protocol request of the client (or, injected, of the
 * pooler) that may fail: 'E' ends it and the server skips to Sync. */
static void ext(struct model *m, uint8_t t, uint8_t sub, uint8_t k, uint8_t action)
{
	unsigned n = k % 4;
	fe_act(m, t, sub, 0, action);
	if (m->skip)
		return;
	if (k & 0x80) {         /* this one fails */
		be(m, 'E', 0);
		last_failed(m);
		failed(m);
		m->skip = true;
		return;
	}
	switch (t) {
	case 'P': be(m, '1', 0); break;
	case 'B': be(m, '2', 0); break;
	case 'C': be(m, '3', 0); break;
	case 'E':
		rows(m, n);
		be(m, (k & 0x40) ? 's' : (k & 0x20) ? 'I' : 'C', 0);
		break;
	case 'D':
		if (sub == 'S')
			be(m, 't', 0);
		be(m, (k & 0x40) ? 'n' : 'T', 0);
		break;
	}
}

/* A request the pooler injects: its answer goes nowhere. */
static void injected(struct model *m, uint8_t t, uint8_t sub, uint8_t k)
{
	m->swallowing = true;
	ext(m, t, sub, k, LP_TRK_SWALLOW);
	m->swallowing = false;
}

/* One client step of the model, chosen by b (and k for counts). */
static bool step(struct model *m, uint8_t b, uint8_t k)
{
	unsigned n = k % 4;
	if (m->nfe + 16 >= MAX_EV || m->nbe + 16 >= MAX_EV)
		return false;
	switch (b % 25) {
	case 0: /* a query that succeeds */
		fe(m, 'Q', 0, 0);
		if (m->skip)
			return true;
		be(m, 'T', 0);
		rows(m, n);
		be(m, 'C', 0);
		be(m, 'Z', m->tx);
		return true;
	case 1: /* a query that fails part way */
		fe(m, 'Q', 0, 0);
		if (m->skip)
			return true;
		last_failed(m);
		if (n)
			be(m, 'C', 0);
		be(m, 'E', 0);
		failed(m);
		be(m, 'Z', m->tx);
		return true;
	case 2: /* an empty query */
		fe(m, 'Q', 0, 0);
		if (m->skip)
			return true;
		be(m, 'I', 0);
		be(m, 'Z', m->tx);
		return true;
	case 3: /* BEGIN */
		fe(m, 'Q', 0, 0);
		if (m->skip)
			return true;
		be(m, 'C', 0);
		if (m->tx == 'I')
			m->tx = 'T';
		be(m, 'Z', m->tx);
		return true;
	case 4: /* COMMIT / ROLLBACK */
		fe(m, 'Q', 0, 0);
		if (m->skip)
			return true;
		be(m, 'C', 0);
		m->tx = 'I';
		be(m, 'Z', m->tx);
		return true;
	case 5: case 6: case 7: case 8: case 9: case 10: {
		static const uint8_t types[] = { 'P', 'B', 'D', 'D', 'E', 'C' };
		uint8_t t = types[b % 25 - 5];
		uint8_t sub = (b % 25 == 7 || (t == 'C' && (k & 1))) ? 'S' : 'P';
		ext(m, t, sub, k, LP_TRK_FORWARD);
		return true;
	}
	case 11: /* Sync */
		m->skip = false;
		fe(m, 'S', 0, 0);
		if (k & 0x80) {         /* the implicit commit fails */
			last_failed(m);
			be(m, 'E', 0);
			failed(m);
		}
		be(m, 'Z', m->tx);
		return true;
	case 12: /* Flush */
		fe(m, 'H', 0, 0);
		return true;
	case 13: /* FunctionCall */
		fe(m, 'F', 0, 0);
		if (m->skip)
			return true;
		if (k & 0x80) {
			last_failed(m);
			be(m, 'E', 0);
			failed(m);
		} else {
			be(m, 'V', 0);
		}
		be(m, 'Z', m->tx);
		return true;
	case 14: { /* COPY FROM STDIN, simple query; the client waits for it */
		if (m->skip)
			return true;
		fe(m, 'Q', 0, m->nbe);
		uint32_t q = m->nfe - 1;
		be(m, 'G', 0);
		uint32_t g = m->nbe;
		for (unsigned i = 0; i < n; i++)
			fe(m, 'd', 0, g);
		if (k & 0x80) {
			fe(m, 'f', 0, g);
			be(m, 'E', 0);
			m->fe[q].expect = X_FAILED;
			failed(m);
		} else {
			fe(m, 'c', 0, g);
			be(m, 'C', 0);
		}
		be(m, 'Z', m->tx);
		m->barrier = m->nbe;
		return true;
	}
	case 15: /* COPY TO STDOUT, simple query */
		if (m->skip)
			return true;
		fe(m, 'Q', 0, m->nbe);
		be(m, 'H', 0);
		for (unsigned i = 0; i < n; i++)
			be(m, 'd', 0);
		be(m, 'c', 0);
		be(m, 'C', 0);
		be(m, 'Z', m->tx);
		m->barrier = m->nbe;
		return true;
	case 16: { /* COPY FROM STDIN by Execute, Sync sent with it */
		if (m->skip)
			return true;
		fe(m, 'P', 'S', m->nbe);
		fe(m, 'B', 0, 0);
		fe(m, 'E', 0, 0);
		fe(m, 'S', 0, 0);
		/* ignored by the server in copy-in mode */
		m->fe[m->nfe - 1].expect = X_UNANSWERED;
		be(m, '1', 0);
		be(m, '2', 0);
		be(m, 'G', 0);
		uint32_t g = m->nbe;
		for (unsigned i = 0; i < n; i++)
			fe(m, 'd', 0, g);
		fe(m, 'c', 0, g);
		be(m, 'C', 0);
		fe(m, 'S', 0, g);
		be(m, 'Z', m->tx);
		m->barrier = m->nbe;
		return true;
	}
	case 17: /* asynchronous messages */
		be(m, (k & 1) ? 'N' : (k & 2) ? 'S' : 'A', 0);
		return true;
	case 18: /* CopyData outside COPY: ignored by the server */
		fe(m, 'd', 0, 0);
		return true;
	case 19: /* the pooler's Parse before the client's Bind (or Describe) */
		injected(m, 'P', 0, k);
		ext(m, (k & 1) ? 'D' : 'B', 'S', (uint8_t)(k << 1), LP_TRK_FORWARD);
		return true;
	case 20: /* the pooler's Close for room, then the client's Parse */
		injected(m, 'C', 'S', k);
		ext(m, 'P', 0, (uint8_t)(k << 1), LP_TRK_FORWARD);
		return true;
	case 21: /* ParseComplete from the pooler (the statement is on the server) */
		synth(m, 'P', 0);
		return true;
	case 22: /* CloseComplete from the pooler */
		synth(m, 'C', 'S');
		return true;
	case 23: { /* COPY BOTH: a replication stream, data both ways, either side ends first */
		if (m->skip)
			return true;
		fe(m, 'Q', 0, m->nbe);
		be(m, 'W', 0);
		uint32_t g = m->nbe;
		for (unsigned i = 0; i < n; i++) {
			be(m, 'd', 0);
			fe(m, 'd', 0, g);
		}
		if (k & 0x80) {         /* the server's CopyDone first (end of timeline) */
			be(m, 'c', 0);
			fe(m, 'd', 0, g);
			fe(m, 'c', 0, g);
		} else {
			fe(m, 'c', 0, g);
			be(m, 'd', 0);
			be(m, 'c', 0);
		}
		if (k & 0x40) {         /* the next timeline, as a result set */
			be(m, 'T', 0);
			be(m, 'D', 0);
			be(m, 'C', 0);
		}
		be(m, 'C', 0);
		be(m, 'Z', m->tx);
		m->barrier = m->nbe;
		return true;
	}
	default: /* a simple Query the pooler answers (SQL-level PREPARE) */
		synth(m, 'Q', 0);
		return true;
	}
}

static struct lp_trk_req rings[2][MAX_EV];

static void check_ring(const struct lp_track *t)
{
	if (t->n > t->cap || t->head >= t->cap)
		abort();
	uint32_t owed = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		uint8_t kind = t->ring[(t->head + i) % t->cap].kind;
		if (kind > LP_TRK_FUNCTION)
			abort();
		owed += kind == LP_TRK_QUERY || kind == LP_TRK_SYNC || kind == LP_TRK_FUNCTION;
	}
	if (owed != t->rfq_owed)
		abort();
	if (lp_track_releasable(t) && (t->n != 0 || t->tx != 'I'))
		abort();
}

/* What the tracker did with the model's requests. */
struct seen {
	const struct model *m;
	uint8_t outcome[MAX_EV];        /* 1 + enum lp_trk_outcome; 0: not ended */
	bool taken[MAX_EV];             /* lp_track_frontend pushed it */
	uint32_t last_ended;            /* 1 + the last non-Sync request ended */
	uint32_t ci;                    /* the client's messages so far (model->cl) */
};

static void on_done(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o)
{
	struct seen *sn = arg;
	uint32_t i = r->tag;
	if (i >= sn->m->nfe || !sn->taken[i] || sn->outcome[i])
		abort();                /* ended twice, or never taken */
	sn->outcome[i] = (uint8_t)(1 + o);
	if (r->kind != LP_TRK_SYNC) {
		/* in the order sent: what prepared.c's action queue relies on */
		if (i + 1 <= sn->last_ended)
			abort();
		sn->last_ended = i + 1;
	}
}

/* A message reaches the client: it must be the model's next. */
static void to_client(struct seen *sn, bool synth, uint32_t idx)
{
	const struct model *m = sn->m;
	if (sn->ci >= m->ncl || m->cl[sn->ci].synth != synth || m->cl[sn->ci].idx != idx)
		abort();
	sn->ci++;
}

/* The synthetic answers now due, in order (pool/prepared.c lp_prep_emit). */
static void emit_synth(struct lp_track *t, struct seen *sn)
{
	struct lp_trk_req r;
	while (lp_track_synth_ready(t, &r)) {
		const struct fe_ev *e = &sn->m->fe[r.tag];
		if (e->action != LP_TRK_SYNTH)
			abort();
		/* a Query's ReadyForQuery says what the server's would */
		if (e->type == 'Q' && t->tx != e->tx)
			abort();
		to_client(sn, true, r.tag);
		lp_track_synth_done(t);
	}
}

static void fuzz_model(const uint8_t *data, size_t size)
{
	static struct model m;
	static struct seen sn;
	memset(&m, 0, sizeof(m));
	m.tx = 'I';
	size_t half = size / 2;
	/* Room is left for the ending below (a step takes at most 16 events). */
	for (size_t i = 0; i + 1 < half && m.nfe + 64 < MAX_EV && m.nbe + 64 < MAX_EV; i += 2)
		if (!step(&m, data[i], data[i + 1]))
			break;
	/* End the conversation cleanly so that nothing is owed at the end. */
	step(&m, 11, 0);
	if (m.tx != 'I') {
		step(&m, 4, 0);
		step(&m, 11, 0);
	}

	memset(&sn, 0, sizeof(sn));
	sn.m = &m;
	struct lp_track t;
	int cur = 0;
	lp_track_init(&t, rings[cur], 1u << (size % 7));   /* small rings get full */
	t.on_done = on_done;
	t.arg = &sn;
	uint32_t cap = t.cap;
	uint32_t fi = 0, bi = 0;
	size_t p = half;
	while (fi < m.nfe || bi < m.nbe) {
		uint8_t choice = p < size ? data[p++] : 0;
		bool can_fe = fi < m.nfe && m.fe[fi].needs_be <= bi;
		bool can_be = bi < m.nbe && m.be[bi].after_fe <= fi;
		if (!can_fe && !can_be)
			abort();        /* the model deadlocked: a harness bug */
		if (can_fe && (!can_be || (choice & 1))) {
			const struct fe_ev *e = &m.fe[fi];
			enum lp_trk_fe r = lp_track_frontend(&t, e->type, e->sub,
							     (enum lp_trk_action)e->action, fi);
			if (r == LP_TRK_FE_FULL) {
				if (cap >= MAX_EV) {
					if (!can_be)
						abort();
					choice = 0;   /* wait for answers */
					goto answer;
				}
				cap = cap * 2 > MAX_EV ? MAX_EV : cap * 2;
				cur ^= 1;
				lp_track_grow(&t, rings[cur], cap);
				continue;
			}
			if (r == LP_TRK_FE_SENT && e->expect != X_NONE)
				sn.taken[fi] = true;
			/* discarded: only what the model says goes unanswered */
			if (r == LP_TRK_FE_DISCARDED && e->expect != X_UNANSWERED &&
			    e->expect != X_NONE)
				abort();
			fi++;
		} else {
answer:;
			const struct be_ev *e = &m.be[bi];
			struct lp_trk_req done;
			enum lp_trk_be v = lp_track_backend(&t, e->type, e->status, &done);
			if (v == LP_TRK_BE_VIOLATION || t.broken)
				abort();
			if ((v == LP_TRK_BE_SWALLOW) != e->swallow)
				abort();
			if (v == LP_TRK_BE_FORWARD && !strchr("NSA", e->type))
				to_client(&sn, false, bi);
			bi++;
		}
		emit_synth(&t, &sn);
		check_ring(&t);
		if (lp_track_releasable(&t) && (fi < m.nfe || bi < m.nbe)) {
			/* Free in between is fine only where the model is idle too:
			 * nothing forwarded is unanswered. */
			for (uint32_t j = bi; j < m.nbe; j++)
				if (m.be[j].after_fe <= fi && !strchr("NSA", m.be[j].type))
					abort();
		}
	}
	if (!lp_track_quiet(&t) || t.broken || t.tx != m.tx || sn.ci != m.ncl)
		abort();
	/* Every request ended as the model says. */
	for (uint32_t i = 0; i < m.nfe; i++) {
		const struct fe_ev *e = &m.fe[i];
		uint8_t got = sn.outcome[i];
		switch (e->expect) {
		case X_NONE:
			if (got)
				abort();
			break;
		case X_OK:
		case X_FAILED:
			if (!sn.taken[i] ||
			    got != 1 + (e->expect == X_OK ? LP_TRK_OK : LP_TRK_FAILED))
				abort();
			break;
		case X_UNANSWERED:
			if (sn.taken[i] ? got != 1 + LP_TRK_SKIPPED : got != 0)
				abort();
			break;
		}
	}
}

/* Arbitrary types both ways: bounds only. */
static void fuzz_raw(const uint8_t *data, size_t size)
{
	struct lp_trk_req small[8];
	struct lp_track t;
	lp_track_init(&t, small, 8);
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint8_t type = data[i + 1];
		if (data[i] & 1) {
			(void)lp_track_frontend(&t, type, data[i] & 2 ? 'S' : 'P',
						(enum lp_trk_action)((data[i] >> 2) % 3), 0);
		} else {
			(void)lp_track_backend(&t, type, (char)data[i], NULL);
		}
		if (lp_track_synth_ready(&t, NULL) && (data[i] & 4))
			lp_track_synth_done(&t);
		check_ring(&t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_model(data, size);
	fuzz_raw(data, size);
	return 0;
}
