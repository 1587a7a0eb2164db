/*
 * libFuzzer harness for the conversation tracker (src/proto/track.c).
 *
 * The input drives a small model of a PostgreSQL backend: each byte picks
 * what the client sends next (queries that succeed, fail, are empty, open or
 * close a transaction; Parse/Bind/Describe/Execute/Close/Sync/Flush with
 * errors that make the server skip to Sync; function calls; COPY in and out
 * over both protocols; notices at any time), and the model writes down the
 * answers PostgreSQL would give. Further bytes interleave forwarding and
 * answering in any order causality allows, so pipelines of every depth
 * occur. Invariants checked at every step: the ring stays within its
 * storage and its Query/Sync/Function count is right; a well-formed
 * conversation never puts the tracker out of step, nor says the link is
 * free while anything is owed; after the last answer it is quiet and its
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

struct fe_ev {
	uint8_t type, sub;
	uint32_t needs_be;      /* answers that must have arrived before it is sent */
};

struct be_ev {
	uint8_t type;
	char status;
	uint32_t after_fe;      /* it answers frontend event number after_fe - 1 */
};

struct model {
	struct fe_ev fe[MAX_EV];
	struct be_ev be[MAX_EV];
	uint32_t nfe, nbe;
	char tx;                /* the backend's transaction status */
	bool skip;              /* extended-protocol error: discarding until Sync */
	uint32_t barrier;       /* no client message before this many answers (COPY) */
};

static bool fe(struct model *m, uint8_t type, uint8_t sub, uint32_t needs)
{
	if (m->nfe >= MAX_EV)
		return false;
	m->fe[m->nfe++] = (struct fe_ev){ type, sub, needs > m->barrier ? needs : m->barrier };
	return true;
}

static void be(struct model *m, uint8_t type, char status)
{
	if (m->nbe >= MAX_EV)
		return;
	m->be[m->nbe++] = (struct be_ev){ type, status, m->nfe };
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

/* One client step of the model, chosen by b (and k for counts). */
static bool step(struct model *m, uint8_t b, uint8_t k)
{
	unsigned n = k % 4;
	if (m->nfe + 16 >= MAX_EV || m->nbe + 16 >= MAX_EV)
		return false;
	switch (b % 19) {
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
		uint8_t t = types[b % 19 - 5];
		uint8_t sub = (b % 19 == 7 || (t == 'C' && (k & 1))) ? 'S' : 'P';
		fe(m, t, sub, 0);
		if (m->skip)
			return true;
		if (k & 0x80) {         /* this one fails */
			be(m, 'E', 0);
			failed(m);
			m->skip = true;
			return true;
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
		return true;
	}
	case 11: /* Sync */
		fe(m, 'S', 0, 0);
		m->skip = false;
		if (k & 0x80) {         /* the implicit commit fails */
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
		be(m, 'G', 0);
		uint32_t g = m->nbe;
		for (unsigned i = 0; i < n; i++)
			fe(m, 'd', 0, g);
		if (k & 0x80) {
			fe(m, 'f', 0, g);
			be(m, 'E', 0);
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
	default: /* CopyData outside COPY: ignored by the server */
		fe(m, 'd', 0, 0);
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

static void fuzz_model(const uint8_t *data, size_t size)
{
	static struct model m;
	memset(&m, 0, sizeof(m));
	m.tx = 'I';
	size_t half = size / 2;
	for (size_t i = 0; i + 1 < half; i += 2)
		if (!step(&m, data[i], data[i + 1]))
			break;
	/* End the conversation cleanly so that nothing is owed at the end. */
	step(&m, 11, 0);
	if (m.tx != 'I') {
		step(&m, 4, 0);
		step(&m, 11, 0);
	}

	struct lp_track t;
	int cur = 0;
	lp_track_init(&t, rings[cur], 1 + (size % 64));   /* small rings get full */
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
			enum lp_trk_fe r = lp_track_frontend(&t, e->type, e->sub, LP_TRK_FORWARD, fi);
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
			fi++;
		} else {
answer:;
			const struct be_ev *e = &m.be[bi++];
			struct lp_trk_req done;
			if (lp_track_backend(&t, e->type, e->status, &done) == LP_TRK_BE_VIOLATION)
				abort();
			if (t.broken)
				abort();
		}
		check_ring(&t);
		if (lp_track_releasable(&t) && (fi < m.nfe || bi < m.nbe)) {
			/* Free in between is fine only where the model is idle too:
			 * nothing forwarded is unanswered. */
			for (uint32_t j = bi; j < m.nbe; j++)
				if (m.be[j].after_fe <= fi && !strchr("NSA", m.be[j].type))
					abort();
		}
	}
	if (!lp_track_quiet(&t) || t.broken || t.tx != m.tx)
		abort();
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
