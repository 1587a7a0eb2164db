/*
 * Cancel requests forwarded to PostgreSQL (cancel.c), and the guard that
 * keeps a late one from reaching another client's query.
 */
#ifndef LP_POOL_CANCEL_H
#define LP_POOL_CANCEL_H

#include <stdbool.h>
#include "pool/pool.h"

/* Sends a cancel for s's backend; requester_fd (or -1) is closed once
 * PostgreSQL has taken it. False (nothing sent, requester_fd still the
 * caller's) when one is already in flight for s or it cannot be sent. */
bool lp_cancel_forward(struct lp_server *s, int requester_fd);
/* s is closing: its cancels in flight no longer refer to it. */
void lp_cancel_server_gone(struct lp_server *s);
void lp_cancel_cleanup(struct lp_instance *inst);

#endif
