/*
 * Online restart (-R, PgBouncer's takeover) between two linkpool
 * processes, the running process's side (takeover.c; the new process's is
 * reboot.h). The new process logs in to the console over the unix socket,
 * sends SUSPEND, then SHOW FDS: each socket comes as a row with its
 * descriptor attached (SCM_RIGHTS); SHUTDOWN ends this process and the new
 * one goes on with the listeners, clients and servers -- sessions,
 * transactions and running queries included.
 */
#ifndef LP_POOL_TAKEOVER_H
#define LP_POOL_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"

/* One socket a new process can take over: PgBouncer's SHOW FDS columns
 * and linkpool's record (proto/handoff.h) in state. */
struct lp_takeover_row {
	int fd;
	const char *task;               /* "pooler", "client", "server" */
	const char *user, *db, *addr;
	int port;
	uint64_t cancel;                /* the cancel key: client's, or the backend's */
	int link;                       /* the linked socket's fd, 0: none */
	const char *client_encoding, *std_strings, *datestyle, *timezone;
	const char *password;           /* the pool user's, when auth_query gave it */
	const uint8_t *client_key;      /* the pool user's SCRAM ClientKey, or NULL */
	const uint8_t *state;
	size_t state_len;
};
/* Returns false to stop (the row could not be sent). */
typedef bool (*lp_takeover_row_fn)(void *arg, const struct lp_takeover_row *row);

/* Whether c may take the sockets: SUSPEND is over and c is the process's
 * own OS user on the unix socket (peer credentials), without TLS. */
bool lp_takeover_allowed(const struct lp_client *c);
/* Calls fn for every socket that can be handed over: the listeners, and
 * the pooled clients and servers parked at rest (a linked pair both or
 * neither; no TLS). False when fn failed or memory ran out. */
bool lp_takeover_rows(struct lp_instance *inst, lp_takeover_row_fn fn, void *arg);
/* The rows reached peer: those sockets are not this process's any more
 * (nothing is written to them, closing them ends nothing). If peer leaves
 * before SHUTDOWN, the janitor gives them back (lp_takeover_check). */
void lp_takeover_handed_off(struct lp_instance *inst, struct lp_client *peer);
/* At exit after a hand-over: the sockets handed over are closed here
 * without a word to their peers (the new process carries on with them). */
void lp_takeover_release(struct lp_instance *inst);
/* Janitor: a hand-over whose new process left before SHUTDOWN is undone
 * and the pooler resumes. */
void lp_takeover_check(struct lp_instance *inst);

#endif
