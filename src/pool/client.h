/*
 * Client connections (client.c): accept, startup, the welcome, forwarding
 * to the linked server through the message loop, and the pooler's own
 * answers to a client (errors, close).
 */
#ifndef LP_POOL_CLIENT_H
#define LP_POOL_CLIENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "core/log.h"
#include "pool/pool.h"

/* deferred: accepted through TCP_DEFER_ACCEPT, so input is probably there. */
void lp_client_accept(struct lp_instance *inst, int fd, const struct sockaddr *sa, socklen_t salen,
		      bool is_unix, bool deferred);
/* Sends an ErrorResponse (FATAL) and closes the client. */
void lp_client_fail(struct lp_client *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lp_client_close(struct lp_client *c, const char *reason);
/* The pooler linked a server to a waiting client: start forwarding. */
void lp_client_server_ready(struct lp_client *c);
/* The pool got its first server: finish the client's login. */
void lp_client_welcome(struct lp_client *c);
/* A replication client's own server logged in: finish its login with the
 * server's parameters (replication.h). */
void lp_client_welcome_repl(struct lp_client *c);
/* Resume parsing the client's buffered bytes (after a server was released). */
void lp_client_kick(struct lp_client *c);
void lp_client_free(struct lp_client *c);
/* Online restart (takeover.c): a client handed over with fd, its login
 * done. The caller fills in names, pool, parameters and cancel key, then
 * lp_client_adopt_finish() makes it ACTIVE and findable by its key. */
struct lp_client *lp_client_adopt(struct lp_instance *inst, int fd, uint64_t id);
void lp_client_adopt_finish(struct lp_client *c);


/* Room for lp_client_addr's text (INET6_ADDRSTRLEN and "unix"). */
#define LP_ADDR_TEXT 48
/* c's address as text ("unix" for a unix socket) in buf; returns buf. */
const char *lp_client_addr(const struct lp_client *c, char buf[LP_ADDR_TEXT]);



/* client.c */
void lp_client_login_ok(struct lp_client *c, struct lp_db *db, struct lp_user *pool_user);
/* The per-database/per-user client limit c would exceed on db, or NULL. */
const char *lp_client_limit_exceeded(const struct lp_client *c, const struct lp_db *db);
/* A NoticeResponse (severity NOTICE, 00000) to a client between messages
 * (queued, or at login): query_wait_notify, login_notify_message. */
void lp_client_notice(struct lp_client *c, const char *msg);
void lp_client_log(const struct lp_client *c, enum lp_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Non-fatal ErrorResponse followed by ReadyForQuery. */
void lp_client_error(struct lp_client *c, const char *sqlstate, const char *msg);

#endif
