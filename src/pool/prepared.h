/*
 * Prepared statements in transaction and statement pooling (prepared.c):
 * a client's named statements follow it to whichever server runs its next
 * request, as PgBouncer 1.21+ does with max_prepared_statements.
 *
 * Each distinct statement (query text and parameter types) is one
 * lp_pstmt, shared by every client and server of the instance and known
 * on servers as "PGBOUNCER_<id>". A client's names map to statements; a
 * server holds at most max_prepared_statements of them (least recently
 * used closed first). Before a Bind or Describe of a statement its server
 * lacks, the pooler sends the Parse itself and swallows the answer; a
 * client's Parse of a statement its server already holds, and every Close
 * of a statement, are answered by the pooler (in order, through the
 * conversation tracker's synthetic requests). Unnamed statements pass
 * untouched; a name the client never prepared passes untouched too, so
 * the server's own error (26000) answers it, as it would without a pooler.
 */
#ifndef LP_POOL_PREPARED_H
#define LP_POOL_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/frame.h"
#include "pool/pool.h"

/* Whether c's named statements are followed: a pooled client in
 * transaction or statement mode with max_prepared_statements > 0. */
bool lp_prep_on(const struct lp_client *c);

/*
 * A frontend message of c for its linked server s (Parse, Bind, Describe,
 * Close, Query). *handled false: the caller forwards and tracks it as
 * usual (the return value is then meaningless). *handled true: the module
 * took care of it and the return value is the message loop's action
 * (frame.h): CONSUMED (answered or sent rewritten), FORWARD (a rewritten
 * head was sent, the rest passes), MORE / CAPTURE (the whole message is
 * needed), STOP (earlier bytes must reach the server first, or the
 * server's request ring is full), CLOSED (c failed).
 */
enum lp_frame_act lp_prep_frontend(struct lp_client *c, struct lp_server *s,
				   const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				   bool *handled);

/* Writes the synthetic answers now due on s's client, as long as nothing
 * the server sent is still ahead of them. */
void lp_prep_emit(struct lp_server *s);

/* The server's statements are gone (a reset query that deallocates). */
void lp_prep_server_forget(struct lp_server *s);
/* A reset query ran on s: forgets its statements when the query drops them. */
void lp_prep_reset_done(struct lp_server *s, const char *sql);
/* s or c is closing: what the module keeps for it goes. */
void lp_prep_server_gone(struct lp_server *s);
void lp_prep_client_gone(struct lp_client *c);
/* SHOW CLIENTS / SHOW SERVERS prepared_statements. */
int lp_prep_client_count(const struct lp_client *c);
int lp_prep_server_count(const struct lp_server *s);
/* At exit, after every client and server is gone. */
void lp_prep_cleanup(struct lp_instance *inst);
/* Servers were taken over from another process (online restart): the
 * statements it prepared on them stay there, unknown to this process, so
 * the names given from now on are past any it can have used. */
void lp_prep_after_takeover(struct lp_instance *inst);

#endif
