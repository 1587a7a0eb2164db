/*
 * The conversation tracker: what one server connection owes its client.
 *
 * Fed every frontend message as it is forwarded to the server and every
 * backend message as it comes back, it keeps the queue of requests still
 * waiting for their answer (Query, Parse, Bind, Describe, Execute, Close,
 * Sync, FunctionCall), the COPY sub-protocol in both directions, the open
 * extended-protocol batch and the transaction status from ReadyForQuery.
 * From that it answers the pool's questions: which request a response
 * answers, whether the response is the pooler's own (injected request:
 * swallow it), whether the pooler must answer something itself now
 * (synthetic response), and whether the link may be released.
 *
 * Pure: no I/O, no allocation. The request ring is storage the caller hands
 * over (lp_track_init, lp_track_grow); a full ring makes lp_track_frontend
 * refuse, and the caller either grows it or stops reading its client until
 * answers drain it (PostgreSQL flushes its output at least every 8 kB, so
 * answers keep coming while requests wait).
 *
 * Anything the tracker cannot account for -- a response nobody asked for,
 * a message of the wrong kind for the request at the head -- sets ->broken:
 * the stream position is unknowable and the connection must never be
 * handed to another client.
 */
#ifndef LP_PROTO_TRACK_H
#define LP_PROTO_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lp_trk_kind {
	LP_TRK_QUERY,           /* 'Q': results..., ReadyForQuery */
	LP_TRK_PARSE,           /* 'P': ParseComplete */
	LP_TRK_BIND,            /* 'B': BindComplete */
	LP_TRK_DESCRIBE_STMT,   /* 'D' 'S': ParameterDescription, RowDescription | NoData */
	LP_TRK_DESCRIBE_PORTAL, /* 'D' 'P': RowDescription | NoData */
	LP_TRK_EXECUTE,         /* 'E': DataRow..., CommandComplete | EmptyQuery | PortalSuspended */
	LP_TRK_CLOSE,           /* 'C': CloseComplete */
	LP_TRK_SYNC,            /* 'S': ReadyForQuery */
	LP_TRK_FUNCTION,        /* 'F': FunctionCallResponse, ReadyForQuery */
};

/* Who asked, and so where the answer goes. */
enum lp_trk_action {
	LP_TRK_FORWARD,         /* the client's request: its answer goes to the client */
	LP_TRK_SWALLOW,         /* the pooler's injected request: its answer goes nowhere */
	LP_TRK_SYNTH,           /* never sent: the pooler answers it itself, in order */
};

/* How a request ended (lp_track.on_done). */
enum lp_trk_outcome {
	LP_TRK_OK,              /* answered */
	LP_TRK_FAILED,          /* answered with ErrorResponse */
	LP_TRK_SKIPPED,         /* dropped unanswered: an earlier error in its batch */
};

struct lp_trk_req {
	uint8_t kind;           /* enum lp_trk_kind */
	uint8_t action;         /* enum lp_trk_action */
	uint8_t stage;          /* progress of a multi-message answer */
	uint8_t sub;            /* Describe/Close: 'S' statement or 'P' portal */
	uint32_t tag;           /* the caller's (e.g. a prepared statement's id) */
};

/* COPY BOTH (CopyBothResponse: replication streaming) ends with a CopyDone
 * from each side, in either order; a result set and CommandComplete may
 * follow both (the next timeline of START_REPLICATION). COPY_BOTH_FE: the
 * server sent its CopyDone, the client's half goes on. */
enum lp_trk_copy { LP_TRK_COPY_NONE, LP_TRK_COPY_IN, LP_TRK_COPY_OUT, LP_TRK_COPY_BOTH,
		   LP_TRK_COPY_BOTH_FE };

struct lp_track {
	struct lp_trk_req *ring;
	uint32_t cap, head, n;          /* requests [head, head+n) modulo cap */
	uint32_t rfq_owed;              /* Query/Sync/FunctionCall in the ring */
	char tx;                        /* 'I', 'T', 'E': the last ReadyForQuery */
	uint8_t copy;                   /* enum lp_trk_copy: the server's side */
	bool copy_in_fe;                /* the client may still send CopyData (until CopyDone/Fail) */
	bool batch_open;                /* extended messages since the last Sync */
	bool fe_skip;                   /* an error ended the batch: until the client's Sync,
					 * PostgreSQL discards what the client sends */
	bool broken;                    /* out of step: never reuse the connection */
	/* Called for every request leaving the ring (answered, failed or
	 * skipped); may be NULL. Must not feed the tracker. */
	void (*on_done)(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o);
	void *arg;
};

/* storage: cap entries the tracker may use (a power of two). */
void lp_track_init(struct lp_track *t, struct lp_trk_req *storage, uint32_t cap);
/* Moves the requests to bigger storage (cap > t->cap, a power of two),
 * which must not overlap the current ring; the old storage is the
 * caller's again. */
void lp_track_grow(struct lp_track *t, struct lp_trk_req *storage, uint32_t cap);
/* Forgets every request and state (a new server, or a reused one after a
 * reset the pooler ran itself); keeps the storage and the callback. The
 * transaction status becomes tx (the login's ReadyForQuery says it). */
void lp_track_reset(struct lp_track *t, char tx);
/* The callback told of every request leaving the ring (NULL: none). */
void lp_track_on_done(struct lp_track *t,
		      void (*fn)(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o),
		      void *arg);

/*
 * Online restart: the requests in ring order into out (t->n entries), and
 * back into a new tracker. lp_track_restore checks what it is given (kinds,
 * actions, stages, the COPY state and transaction status) and recounts
 * what is derived from the requests; false leaves t untouched. The ring
 * must have room for n (lp_track_grow first).
 */
void lp_track_save(const struct lp_track *t, struct lp_trk_req *out);
bool lp_track_restore(struct lp_track *t, const struct lp_trk_req *reqs, uint32_t n, char tx,
		      uint8_t copy, bool copy_in_fe, bool batch_open, bool fe_skip);

/* Free ring entries: a frontend message that needs one waits while 0. */
static inline uint32_t lp_track_room(const struct lp_track *t) { return t->cap - t->n; }

enum lp_trk_fe {
	LP_TRK_FE_SENT,         /* forward it; it is tracked (or owes nothing) */
	LP_TRK_FE_DISCARDED,    /* forward it; PostgreSQL will discard it (after an
				 * error, or a Sync in copy-in mode): no answer */
	LP_TRK_FE_FULL,         /* the ring is full: grow it or wait, then call again */
};

/*
 * A frontend message of type (Q P B D E C S H F d c f) is about to be
 * forwarded (action LP_TRK_FORWARD), injected by the pooler (SWALLOW), or
 * answered by the pooler instead of the server (SYNTH: not sent at all).
 * sub is the first body byte for Describe and Close ('S' or 'P'), else
 * ignored. Types outside the list owe nothing.
 */
enum lp_trk_fe lp_track_frontend(struct lp_track *t, uint8_t type, uint8_t sub,
				 enum lp_trk_action action, uint32_t tag);

enum lp_trk_be {
	LP_TRK_BE_FORWARD,      /* the client's: send it on */
	LP_TRK_BE_SWALLOW,      /* answers the pooler's injected request: drop it */
	LP_TRK_BE_VIOLATION,    /* not a message this conversation can hold: ->broken */
};

/*
 * A backend message of type has arrived. For ReadyForQuery status is its
 * status byte ('I', 'T', 'E'); otherwise ignored. *done, when not NULL, is
 * set to the request the message completed (copied out before it left the
 * ring) or its kind to 0xff when it completed none.
 */
enum lp_trk_be lp_track_backend(struct lp_track *t, uint8_t type, char status,
				 struct lp_trk_req *done);

/*
 * A synthetic request is at the head of the ring: the pooler must write its
 * answer to the client now, then call lp_track_synth_done. Returns false
 * when the head is anything else.
 */
bool lp_track_synth_ready(const struct lp_track *t, struct lp_trk_req *out);
/* The same question, inline, for the hot path. */
static inline bool lp_track_synth_due(const struct lp_track *t)
{
	return t->n > 0 && t->ring[t->head].action == LP_TRK_SYNTH;
}
void lp_track_synth_done(struct lp_track *t);

/* An error ended the client's batch: PostgreSQL discards what the client
 * sends until its Sync (the requests get no answer). */
static inline bool lp_track_discarding(const struct lp_track *t) { return t->fe_skip; }

/* A request is waiting for its answer (a query runs, as far as anyone
 * outside can tell). */
static inline bool lp_track_busy(const struct lp_track *t) { return t->n > 0; }

/* Nothing is owed: no request waiting, no COPY, no open batch. */
static inline bool lp_track_quiet(const struct lp_track *t)
{
	return t->n == 0 && !(t->copy | t->copy_in_fe | t->batch_open | t->fe_skip);
}

/* Quiet, outside a transaction and in step: the link may go to another
 * client (transaction and statement mode). */
static inline bool lp_track_releasable(const struct lp_track *t)
{
	return lp_track_quiet(t) && t->tx == 'I' && !t->broken;
}

/* The request at the head (the one the next response answers), or NULL. */
static inline const struct lp_trk_req *lp_track_head(const struct lp_track *t)
{
	return t->n > 0 ? &t->ring[t->head] : NULL;
}

#endif
