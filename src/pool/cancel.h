/*
 * Cancel requests (cancel.c): the keys clients get, a cancel for one of
 * this process's clients sent to PostgreSQL, one for a peer's key
 * forwarded to that peer, and the guard that keeps a late cancel from
 * reaching another client's query.
 */
#ifndef LP_POOL_CANCEL_H
#define LP_POOL_CANCEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "metrics/metrics.h"
#include "pool/pool.h"

/* A new cancel key for a client, unique in this process; with peer_id set
 * it names this peer (PgBouncer's layout). False: no randomness. */
bool lp_cancel_key_new(struct lp_instance *inst, uint32_t *pid, uint32_t *key);
/* c (its key set) can be cancelled from now on / no longer. */
void lp_cancel_register(struct lp_client *c);
void lp_cancel_unregister(struct lp_client *c);
/* The client of that key (the hop bits aside), or NULL. */
struct lp_client *lp_cancel_find(struct lp_instance *inst, uint32_t pid, uint32_t key);

/*
 * A cancel request arrived. requester_fd (or -1) is the asker's socket, a
 * copy the request owns when the result is LP_CANCEL_FORWARDED (closed once
 * the other side took the cancel) and the caller's otherwise. *why is the
 * reason for the asker's log line.
 */
enum lp_cancel_result lp_cancel_request(struct lp_instance *inst, uint32_t pid, uint32_t key,
					int requester_fd, const char **why);
/* Sends a cancel for s's backend; requester_fd (or -1) is closed once
 * PostgreSQL has taken it. False (nothing sent, requester_fd still the
 * caller's) when one is already in flight for s or it cannot be sent. */
bool lp_cancel_forward(struct lp_server *s, int requester_fd);
/* s is closing: its cancels in flight no longer refer to it. */
void lp_cancel_server_gone(struct lp_server *s);
/* SHOW PEER_POOLS: cancels to peer being sent, and waiting for a slot
 * (peer -1: those to the addresses of peers_dns). */
void lp_cancel_peer_counts(const struct lp_instance *inst, int peer, int *active, int *waiting);

/* Addresses peers_dns resolves to, at most this many. */
#define LP_CANCEL_DNS_PEERS_MAX 32
/* Peering state; with peers_dns set, its first lookup starts. -1: no memory. */
int lp_cancel_peers_start(struct lp_instance *inst);
/* The addresses of the other processes of peers_dns at its last lookup. */
int lp_cancel_dns_peers(const struct lp_instance *inst, const struct sockaddr_storage **addrs);

/* What the cancels sent to one peer came to (/metrics). id 0: the group
 * of peers_dns. */
struct lp_cancel_peer_info {
	int id;
	uint64_t sent, failed, ttl_exhausted;
	int active, waiting;
};
typedef void (*lp_cancel_peer_visit)(const struct lp_cancel_peer_info *info, void *arg);
/* Every peer a cancel was sent to or dropped for since the start. */
void lp_cancel_peer_foreach(const struct lp_instance *inst, lp_cancel_peer_visit fn, void *arg);

void lp_cancel_cleanup(struct lp_instance *inst);

#endif
