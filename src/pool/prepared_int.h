/*
 * Shared by prepared.c (the maps, the extended protocol, the answers) and
 * prepared_sql.c (simple Query texts: PREPARE/EXECUTE/DEALLOCATE and the
 * resets) only: the objects of prepared.h and the steps both take.
 */
#ifndef LP_POOL_PREPARED_INT_H
#define LP_POOL_PREPARED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/prepared.h"
#include "proto/proto.h"

#define NAME_PREFIX "PGBOUNCER_"
#define NAME_MAX_LEN 32                 /* "PGBOUNCER_" and a 64-bit id */
/* The longest Parse (or Bind whose names do not fit pkt_buf) the pooler
 * takes whole to follow it. */
#define PARSE_MAX (64u << 20)
/* Names a client may keep at once; more is refused (53400). */
#define CLIENT_MAX 100000u

/* Statements of the instance, by text. */
enum { ST_PROTO, ST_SQL };

struct lp_pstmt {
	struct lp_pstmt *next;          /* table chain */
	uint64_t hash;
	uint64_t id;                    /* its server name: PGBOUNCER_<id> */
	uint32_t refs;
	uint8_t kind;                   /* ST_PROTO: key is a Parse's body after the name */
	uint32_t len;
	uint8_t key[];
};

/* A client's names. */
struct cname {
	struct cname *next;
	struct lp_pstmt *st;
	uint64_t hash;
	uint32_t len;
	/* Its Parse failed or was skipped: PostgreSQL would not know the name,
	 * yet a client may believe it prepared it (psycopg 3.1 after a failed
	 * pipeline does, and PgBouncer serves it): a Bind finds it prepared
	 * anew, and a second Parse of the name replaces it without error. */
	bool doubtful;
	char name[];                    /* NUL-terminated */
};

struct lp_prep_client {
	struct cname **b;
	uint32_t nb, n;
};

/* A server's statements and the outcomes it waits for. */
struct sstmt {
	struct sstmt *next;             /* set chain */
	struct lp_list_node lru;        /* most recently used first */
	struct lp_pstmt *st;
};

enum ev_what {
	EV_SRV_PARSE,           /* the pooler's Parse: failed -> not on the server */
	EV_CLI_PARSE,           /* the client's Parse, renamed: failed -> not on the
				 * server, the name doubtful */
	EV_CLI_SYNTH_PARSE,     /* answered by the pooler: skipped -> doubtful */
	EV_EVICT,               /* a Close for room: not done -> out of step */
	EV_RESET,               /* a Query with DISCARD ALL / DEALLOCATE ALL */
	/* A simple Query answered by the pooler (SQL level): what it says. */
	EV_SYNTH_PREPARE,       /* CommandComplete PREPARE; skipped -> the name doubtful */
	EV_SYNTH_DEALLOCATE,    /* CommandComplete DEALLOCATE */
	EV_SYNTH_DUP,           /* ErrorResponse 42P05 for the name */
};

struct pev {
	uint8_t what;
	struct lp_pstmt *st;            /* referenced while queued */
	char *name;                     /* EV_CLI_*: the client's name */
};

struct lp_prep_server {
	struct sstmt **b;
	uint32_t nb, n;
	struct lp_list lru;
	struct pev *ev;                 /* ring of pending actions */
	uint32_t evhead, evn, evcap;
};

/* The statement of that text, referenced once more; NULL: no memory. */
struct lp_pstmt *lp_prep_stmt_get(struct lp_instance *inst, uint8_t kind, const uint8_t *key,
				  uint32_t len);
void lp_prep_stmt_ref(struct lp_pstmt *st);
void lp_prep_stmt_unref(struct lp_instance *inst, struct lp_pstmt *st);
/* Its server name ("PGBOUNCER_<id>") into out; returns the length. */
size_t lp_prep_server_name(const struct lp_pstmt *st, char out[NAME_MAX_LEN]);

struct cname *lp_prep_cname_find(const struct lp_client *c, const char *name, size_t len);
struct lp_pstmt *lp_prep_cname_get(const struct lp_client *c, const char *name, size_t len);
/* Maps name to st (taking a reference); false when out of memory. */
bool lp_prep_cname_put(struct lp_client *c, const char *name, size_t len, struct lp_pstmt *st);
/* Forgets name (when it maps to st, or to anything when st is NULL). */
void lp_prep_cname_del(struct lp_client *c, const char *name, size_t len,
		       const struct lp_pstmt *st);
void lp_prep_cname_clear(struct lp_client *c);
/* The name's Parse did not take (failed, or skipped after an error). */
void lp_prep_cname_doubt(struct lp_client *c, const char *name, const struct lp_pstmt *st);

struct lp_prep_server *lp_prep_server_state(struct lp_server *s);
bool lp_prep_sstmt_has(struct lp_prep_server *ps, struct lp_pstmt *st, bool touch);
bool lp_prep_sstmt_add(struct lp_prep_server *ps, struct lp_pstmt *st);
/* An outcome to wait for, in the order of s's tagged requests. */
bool lp_prep_ev_push(struct lp_prep_server *ps, enum ev_what what, struct lp_pstmt *st,
		     const char *name, size_t nlen);

/* Statements lp_prep_evict() closes before one more is added to s. */
uint32_t lp_prep_evictions(const struct lp_server *s, const struct lp_prep_server *ps);
/* Room in s's request ring for k more requests (grown if it may be);
 * false: the client waits for answers. */
bool lp_prep_room_for(struct lp_server *s, uint32_t k);
/* Sends the bytes built in w, or fails the client (the server is gone). */
bool lp_prep_send_w(struct lp_client *c, struct lp_server *s, const struct lp_writer *w);
/* Closes the least recently used statements until one more fits. */
bool lp_prep_evict(struct lp_client *c, struct lp_server *s, struct lp_prep_server *ps);
/* st is on s's backend afterwards (the pooler prepares it first if not). */
bool lp_prep_ensure_on_server(struct lp_client *c, struct lp_server *s, struct lp_prep_server *ps,
			      struct lp_pstmt *st);
/* The whole message is needed: wait for it, or take it beyond the buffer. */
enum lp_frame_act lp_prep_need_whole(struct lp_client *c, const struct lp_msg_hdr *h,
				     uint32_t bound);
/* A NUL-terminated string at body[off], within len: its length, or -1. */
long lp_prep_cstr_at(const uint8_t *body, uint32_t len, uint32_t off);

/* prepared_sql.c: a simple Query of a client that follows statements. */
enum lp_frame_act lp_prep_query(struct lp_client *c, struct lp_server *s,
				const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				bool *handled);

#endif
