/*
 * What operators do to pools (control.c): PAUSE, RESUME, SUSPEND, DISABLE,
 * ENABLE, RECONNECT, WAIT_CLOSE, KILL, KILL_CLIENT, as the admin console and
 * the signals ask for them. pool/ owns the state these change; the console
 * (src/admin) calls here and only reads pool state for its SHOW tables.
 * db NULL means every database.
 */
#ifndef LP_POOL_CONTROL_H
#define LP_POOL_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/instance.h"

/* The whole pooler or one database stops getting new server assignments;
 * released servers close (PAUSE). */
void lp_control_pause(struct lp_instance *inst, struct lp_db *db);
/* Undoes PAUSE, SUSPEND and KILL for db (NULL: all). False when nothing in
 * that scope was paused. */
bool lp_control_resume(struct lp_instance *inst, struct lp_db *db);
/* SUSPEND: no new connections are accepted, and every pooled client and
 * server stops being read once at rest (lp_control_suspend_done). */
void lp_control_suspend(struct lp_instance *inst);
/* Whether db (NULL: any database) is paused by PAUSE db or KILL. */
bool lp_control_db_paused(const struct lp_instance *inst, const struct lp_db *db);
/* DISABLE / ENABLE: new logins to db are refused / allowed again. */
void lp_control_disable(struct lp_db *db, bool disabled);
/* RECONNECT / WAIT_CLOSE: every server in scope closes when next released
 * (idle ones now). */
void lp_control_reconnect(struct lp_instance *inst, struct lp_db *db);
/* KILL: the databases in scope are paused, their clients and servers
 * closed. */
void lp_control_kill(struct lp_instance *inst, struct lp_db *db);
/* Closes what PAUSE and RECONNECT are waiting for and has become free
 * (unlinked servers of draining pools, idle servers marked to reconnect). */
void lp_control_progress(struct lp_instance *inst);

/* The conditions the waiting console commands finish on. */
bool lp_control_pause_done(const struct lp_instance *inst, const struct lp_db *db);
bool lp_control_close_done(const struct lp_instance *inst, const struct lp_db *db);
/* SUSPEND's progress (parks what is at rest, enforces suspend_timeout);
 * true once every pooled socket is parked. */
bool lp_control_suspend_done(struct lp_instance *inst);
/* At rest: nothing of the socket's is inside the pooler (everything read
 * passed on, everything due written, no message half-way), so it can stop
 * being read, and be handed to another process. A server at rest is idle,
 * or linked to a client (a query may be running on it). */
bool lp_control_client_at_rest(const struct lp_client *c);
bool lp_control_server_at_rest(const struct lp_server *s);

/* shutdown_drain_clients, during a graceful shutdown: a pooled client
 * between transactions (nothing running, no transaction open, nothing
 * unread in the pooler or in its socket, everything due written) is closed
 * with 57P01, so that it reconnects to another process. The client's read
 * handler asks for itself (true: closed, or waiting for its output to be
 * written, after which the handler runs again); the janitor for every
 * client, so that idle ones go too. */
bool lp_control_drain_client(struct lp_client *c);
void lp_control_drain_clients(struct lp_instance *inst);

/* A pooled, console or logging-in client by its SHOW CLIENTS id, or NULL. */
struct lp_client *lp_control_find_client(struct lp_instance *inst, uint64_t id);

#endif
