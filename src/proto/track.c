/*
 * The conversation tracker (track.h): PostgreSQL's answer rules, written
 * once. Per request, what ends it:
 *   Query      ReadyForQuery (after any number of result sets, errors, COPYs)
 *   Parse      ParseComplete          Bind     BindComplete
 *   Describe S ParameterDescription, then RowDescription or NoData
 *   Describe P RowDescription or NoData
 *   Execute    CommandComplete, EmptyQueryResponse or PortalSuspended
 *              (after DataRows, or a COPY)
 *   Close      CloseComplete          Sync     ReadyForQuery
 *   Function   FunctionCallResponse, then ReadyForQuery
 * and an ErrorResponse ends an extended-protocol request and makes the
 * server skip everything up to the next Sync. Notices, notifications and
 * ParameterStatus may come at any time and end nothing.
 */
#include "proto/track.h"

#include <string.h>

#include "core/assert.h"

#define STAGE_FAILED 0x80       /* a Query/Sync/Function saw an ErrorResponse */
#define STAGE_MASK 0x7f

/* The i-th request from the head (cap is a power of two). */
static struct lp_trk_req *at(const struct lp_track *t, uint32_t i)
{
	return &t->ring[(t->head + i) & (t->cap - 1)];
}

static bool owes_rfq(uint8_t kind)
{
	return kind == LP_TRK_QUERY || kind == LP_TRK_SYNC || kind == LP_TRK_FUNCTION;
}

void lp_track_init(struct lp_track *t, struct lp_trk_req *storage, uint32_t cap)
{
	lp_assert(cap > 0 && (cap & (cap - 1)) == 0);
	memset(t, 0, sizeof(*t));
	t->ring = storage;
	t->cap = cap;
	t->tx = 'I';
}

void lp_track_grow(struct lp_track *t, struct lp_trk_req *storage, uint32_t cap)
{
	lp_assert(cap > t->cap && (cap & (cap - 1)) == 0);
	for (uint32_t i = 0; i < t->n; i++)
		storage[i] = *at(t, i);
	t->ring = storage;
	t->cap = cap;
	t->head = 0;
}

void lp_track_reset(struct lp_track *t, char tx)
{
	struct lp_trk_req *ring = t->ring;
	uint32_t cap = t->cap;
	void (*on_done)(void *, const struct lp_trk_req *, enum lp_trk_outcome) = t->on_done;
	void *arg = t->arg;
	lp_track_init(t, ring, cap);
	t->on_done = on_done;
	t->arg = arg;
	t->tx = tx;
}

void lp_track_on_done(struct lp_track *t,
		      void (*fn)(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o),
		      void *arg)
{
	t->on_done = fn;
	t->arg = arg;
}

void lp_track_save(const struct lp_track *t, struct lp_trk_req *out)
{
	for (uint32_t i = 0; i < t->n; i++)
		out[i] = *at(t, i);
}

bool lp_track_restore(struct lp_track *t, const struct lp_trk_req *reqs, uint32_t n, char tx,
		      uint8_t copy, bool copy_in_fe, bool batch_open, bool fe_skip)
{
	if (n > t->cap || (tx != 'I' && tx != 'T' && tx != 'E') || copy > LP_TRK_COPY_BOTH_FE)
		return false;
	uint32_t rfq = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct lp_trk_req *r = &reqs[i];
		if (r->kind > LP_TRK_FUNCTION || r->action > LP_TRK_SYNTH ||
		    (r->stage & STAGE_MASK) > 1 || (r->sub != 0 && r->sub != 'S' && r->sub != 'P'))
			return false;
		rfq += owes_rfq(r->kind);
	}
	lp_track_reset(t, tx);
	for (uint32_t i = 0; i < n; i++)
		t->ring[i] = reqs[i];
	t->n = n;
	t->rfq_owed = rfq;
	t->tx = tx;
	t->copy = copy;
	t->copy_in_fe = copy_in_fe;
	t->batch_open = batch_open;
	t->fe_skip = fe_skip;
	return true;
}

static inline bool push(struct lp_track *t, uint8_t kind, uint8_t sub, enum lp_trk_action action,
		 uint32_t tag)
{
	if (t->n == t->cap)
		return false;
	struct lp_trk_req *r = at(t, t->n);
	r->kind = kind;
	r->action = (uint8_t)action;
	r->stage = 0;
	r->sub = sub;
	r->tag = tag;
	t->n++;
	if (owes_rfq(kind))
		t->rfq_owed++;
	return true;
}

/* Removes the head; *out (if any) gets a copy. */
static inline void pop(struct lp_track *t, enum lp_trk_outcome o, struct lp_trk_req *out)
{
	struct lp_trk_req *h = &t->ring[t->head];
	if (owes_rfq(h->kind))
		t->rfq_owed--;
	if (out)
		*out = *h;
	if (t->on_done)
		t->on_done(t->arg, h, o);       /* the entry is intact until overwritten */
	t->head = (t->head + 1) & (t->cap - 1);
	t->n--;
}

enum lp_trk_fe lp_track_frontend(struct lp_track *t, uint8_t type, uint8_t sub,
				 enum lp_trk_action action, uint32_t tag)
{
	uint8_t kind;
	/* The common case first: a simple Query on a connection in step. */
	if (type == 'Q' && !(t->fe_skip | t->copy_in_fe)) {
		if (!push(t, LP_TRK_QUERY, 0, action, tag))
			return LP_TRK_FE_FULL;
		t->batch_open = false;
		return LP_TRK_FE_SENT;
	}
	switch (type) {
	case 'Q':
		kind = LP_TRK_QUERY;
		break;
	case 'F':
		kind = LP_TRK_FUNCTION;
		break;
	case 'P':
		kind = LP_TRK_PARSE;
		break;
	case 'B':
		kind = LP_TRK_BIND;
		break;
	case 'D':
		kind = sub == 'S' ? LP_TRK_DESCRIBE_STMT : LP_TRK_DESCRIBE_PORTAL;
		break;
	case 'E':
		kind = LP_TRK_EXECUTE;
		break;
	case 'C':
		kind = LP_TRK_CLOSE;
		break;
	case 'S':
		/* PostgreSQL ignores Sync (and Flush) in copy-in mode. */
		if (t->copy_in_fe)
			return LP_TRK_FE_DISCARDED;
		if (!push(t, LP_TRK_SYNC, 0, action, tag))
			return LP_TRK_FE_FULL;
		t->batch_open = false;
		t->fe_skip = false;
		return LP_TRK_FE_SENT;
	case 'H':
		return t->fe_skip ? LP_TRK_FE_DISCARDED : LP_TRK_FE_SENT;
	case 'c':
	case 'f':
		/* CopyDone / CopyFail end the client's side of a copy-in; outside
		 * one PostgreSQL ignores them, as it does stray CopyData. The
		 * client's CopyDone after the server's ends a COPY BOTH. */
		t->copy_in_fe = false;
		if (t->copy == LP_TRK_COPY_BOTH_FE)
			t->copy = LP_TRK_COPY_NONE;
		return LP_TRK_FE_SENT;
	default:
		return LP_TRK_FE_SENT;  /* CopyData and the like owe no answer */
	}
	/* A request. After an error the server discards it up to the Sync. */
	if (t->fe_skip)
		return LP_TRK_FE_DISCARDED;
	if (t->copy_in_fe) {
		/* In copy-in, any other message aborts the COPY with an error
		 * that answers the COPY, not this request: out of step. */
		t->broken = true;
	}
	if (!push(t, kind, sub, action, tag))
		return LP_TRK_FE_FULL;
	/* A simple Query or FunctionCall ends with its own ReadyForQuery;
	 * everything else belongs to a batch that the client's Sync ends. */
	t->batch_open = kind != LP_TRK_QUERY && kind != LP_TRK_FUNCTION;
	return LP_TRK_FE_SENT;
}

static enum lp_trk_be violation(struct lp_track *t)
{
	t->broken = true;
	return LP_TRK_BE_VIOLATION;
}

static enum lp_trk_be verdict(const struct lp_trk_req *r)
{
	return r->action == LP_TRK_SWALLOW ? LP_TRK_BE_SWALLOW : LP_TRK_BE_FORWARD;
}

/* Pops the head as answered and says where its last message goes. */
static inline enum lp_trk_be finish(struct lp_track *t, enum lp_trk_outcome o,
				    struct lp_trk_req *done)
{
	enum lp_trk_be v = verdict(&t->ring[t->head]);
	pop(t, o, done);
	return v;
}

/*
 * An ErrorResponse ended the extended-protocol request at the head: the
 * server skips everything up to the next Sync, whose ReadyForQuery comes
 * next. Requests queued behind it up to that Sync get no answer; with no
 * Sync queued yet, what the client sends until its Sync is discarded too.
 */
static void skip_to_sync(struct lp_track *t)
{
	/* A Query or FunctionCall queued inside the batch is discarded too. */
	while (t->n > 0 && at(t, 0)->kind != LP_TRK_SYNC)
		pop(t, LP_TRK_SKIPPED, NULL);
	if (t->n == 0)
		t->fe_skip = true;
}

/* COPY FROM STDIN started by Execute: Syncs the client sent behind the
 * Execute before it saw CopyInResponse are ignored by the server. */
static void drop_syncs_after_head(struct lp_track *t)
{
	struct lp_trk_req head = *at(t, 0);
	uint32_t k = 1;
	while (k < t->n && at(t, k)->kind == LP_TRK_SYNC)
		k++;
	if (k == 1)
		return;
	if (k < t->n)
		t->broken = true;       /* more requests pipelined into a COPY */
	/* Remove the head quietly, the Syncs as skipped, then put it back. */
	t->head = (t->head + 1) & (t->cap - 1);
	t->n--;
	for (uint32_t i = 1; i < k; i++)
		pop(t, LP_TRK_SKIPPED, NULL);
	t->head = (t->head + t->cap - 1) & (t->cap - 1);
	*at(t, 0) = head;
	t->n++;
}

/* type is the one message that ends a request of kind (extended protocol). */
static inline bool completes(uint8_t kind, uint8_t type)
{
	switch (kind) {
	case LP_TRK_PARSE:
		return type == '1';
	case LP_TRK_BIND:
		return type == '2';
	case LP_TRK_CLOSE:
		return type == '3';
	case LP_TRK_DESCRIBE_PORTAL:
		return type == 'T' || type == 'n';
	case LP_TRK_EXECUTE:
		return type == 'C' || type == 'I' || type == 's';
	default:
		return false;
	}
}

static enum lp_trk_be __attribute__((noinline))
backend_slow(struct lp_track *t, uint8_t type, char status, struct lp_trk_req *done)
{
	switch (type) {
	case 'N': /* NoticeResponse */
	case 'A': /* NotificationResponse */
	case 'S': /* ParameterStatus */
		return LP_TRK_BE_FORWARD;
	default:
		break;
	}
	if (t->n == 0) {
		if (type == 'E') {
			/* Unsolicited: a FATAL before the server goes away (admin
			 * shutdown, idle session timeout). The client should see it. */
			t->broken = true;
			return LP_TRK_BE_FORWARD;
		}
		return violation(t);    /* an answer nobody asked for */
	}
	struct lp_trk_req *h = at(t, 0);
	if (h->action == LP_TRK_SYNTH)
		return violation(t);    /* the server answers a request it never saw */
	uint8_t stage = h->stage & STAGE_MASK;
	switch (type) {
	case 'Z':
		if (!owes_rfq(h->kind))
			return violation(t);
		t->tx = status;
		t->copy = LP_TRK_COPY_NONE;
		t->copy_in_fe = false;
		return finish(t, (h->stage & STAGE_FAILED) ? LP_TRK_FAILED : LP_TRK_OK, done);
	case 'E':
		t->copy = LP_TRK_COPY_NONE;
		if (owes_rfq(h->kind)) {
			/* Query: the rest of its text is skipped; ReadyForQuery follows.
			 * Sync: the implicit commit failed. */
			h->stage |= STAGE_FAILED;
			t->copy_in_fe = false;
			return LP_TRK_BE_FORWARD;
		}
		t->copy_in_fe = false;
		pop(t, LP_TRK_FAILED, done);
		skip_to_sync(t);
		/* Forwarded even when it answers an injected request: the client's
		 * own requests behind it are skipped, and this is their answer. */
		return LP_TRK_BE_FORWARD;
	case '1':
		return h->kind == LP_TRK_PARSE ? finish(t, LP_TRK_OK, done) : violation(t);
	case '2':
		return h->kind == LP_TRK_BIND ? finish(t, LP_TRK_OK, done) : violation(t);
	case '3':
		return h->kind == LP_TRK_CLOSE ? finish(t, LP_TRK_OK, done) : violation(t);
	case 't':
		if (h->kind != LP_TRK_DESCRIBE_STMT || stage != 0)
			return violation(t);
		h->stage = 1;
		return verdict(h);
	case 'T':
	case 'n':
		if ((h->kind == LP_TRK_DESCRIBE_STMT && stage == 1) || h->kind == LP_TRK_DESCRIBE_PORTAL)
			return finish(t, LP_TRK_OK, done);
		if (type == 'T' && h->kind == LP_TRK_QUERY && t->copy == LP_TRK_COPY_NONE)
			return verdict(h);      /* a result set of the Query begins */
		return violation(t);
	case 'D':
		if ((h->kind == LP_TRK_QUERY || h->kind == LP_TRK_EXECUTE) && t->copy == LP_TRK_COPY_NONE)
			return verdict(h);
		return violation(t);
	case 'C':
	case 'I':
		if (h->kind == LP_TRK_QUERY) {
			t->copy = LP_TRK_COPY_NONE;
			return verdict(h);      /* one statement of the Query done */
		}
		if (h->kind == LP_TRK_EXECUTE) {
			t->copy = LP_TRK_COPY_NONE;
			return finish(t, LP_TRK_OK, done);
		}
		return violation(t);
	case 's':
		return h->kind == LP_TRK_EXECUTE && t->copy == LP_TRK_COPY_NONE
			       ? finish(t, LP_TRK_OK, done)
			       : violation(t);
	case 'G':
	case 'H':
	case 'W':
		if ((h->kind != LP_TRK_QUERY && h->kind != LP_TRK_EXECUTE) ||
		    t->copy != LP_TRK_COPY_NONE || (type == 'W' && h->kind != LP_TRK_QUERY))
			return violation(t);
		if (type == 'H') {
			t->copy = LP_TRK_COPY_OUT;
			return verdict(h);
		}
		t->copy = type == 'G' ? LP_TRK_COPY_IN : LP_TRK_COPY_BOTH;
		t->copy_in_fe = true;
		if (h->kind == LP_TRK_EXECUTE)
			drop_syncs_after_head(t);
		else if (t->n > 1)
			t->broken = true;       /* requests pipelined behind a COPY's Query */
		return verdict(at(t, 0));
	case 'd':
		if (t->copy != LP_TRK_COPY_OUT && t->copy != LP_TRK_COPY_BOTH)
			return violation(t);
		return verdict(h);
	case 'c':
		if (t->copy == LP_TRK_COPY_OUT)
			t->copy = LP_TRK_COPY_NONE;
		else if (t->copy == LP_TRK_COPY_BOTH)
			/* the client's half goes on, unless it ended first */
			t->copy = t->copy_in_fe ? LP_TRK_COPY_BOTH_FE : LP_TRK_COPY_NONE;
		else
			return violation(t);
		return verdict(h);
	case 'V':
		if (h->kind != LP_TRK_FUNCTION || stage != 0)
			return violation(t);
		h->stage = 1;
		return verdict(h);
	default:
		return violation(t);
	}
}

/* Rows, row descriptions and command tags of a running Query or Execute
 * are most of what a server sends: they are judged here without the full
 * rules. */
enum lp_trk_be lp_track_backend(struct lp_track *t, uint8_t type, char status,
				 struct lp_trk_req *done)
{
	if (done)
		done->kind = 0xff;
	if (t->n > 0 && t->copy == LP_TRK_COPY_NONE) {
		const struct lp_trk_req *h = &t->ring[t->head];
		if (h->action != LP_TRK_SYNTH) {
			if (type == 'D' && (h->kind == LP_TRK_QUERY || h->kind == LP_TRK_EXECUTE))
				return verdict(h);
			if (h->kind == LP_TRK_QUERY && (type == 'T' || type == 'C'))
				return verdict(h);
			if (completes(h->kind, type))
				return finish(t, LP_TRK_OK, done);
			/* The end of a Query or a batch, outside any COPY. */
			if (type == 'Z' && owes_rfq(h->kind)) {
				t->tx = status;
				t->copy_in_fe = false;
				return finish(t, (h->stage & STAGE_FAILED) ? LP_TRK_FAILED : LP_TRK_OK,
					      done);
			}
		}
	}
	return backend_slow(t, type, status, done);
}

bool lp_track_synth_ready(const struct lp_track *t, struct lp_trk_req *out)
{
	if (t->n == 0 || at(t, 0)->action != LP_TRK_SYNTH)
		return false;
	if (out)
		*out = *at(t, 0);
	return true;
}

void lp_track_synth_done(struct lp_track *t)
{
	if (t->n > 0 && at(t, 0)->action == LP_TRK_SYNTH)
		pop(t, LP_TRK_OK, NULL);
}

