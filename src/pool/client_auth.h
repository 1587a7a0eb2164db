/*
 * Client authentication (auth_type trust, any, plain, md5, scram-sha-256)
 * and the client internals shared by client.c and client_auth.c.
 */
#ifndef LP_POOL_CLIENT_AUTH_H
#define LP_POOL_CLIENT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "pool/instance.h"

/* After the startup packet: picks the method, sends the first challenge or
 * finishes at once. Returns -1 when c was closed. */
int lp_client_auth_start(struct lp_client *c);
/* One PasswordMessage-family body. Returns -1 when c was closed. */
int lp_client_auth_msg(struct lp_client *c, const uint8_t *body, uint32_t len);

/* A deterministic, secret-keyed salt for user's SCRAM exchange, so repeated
 * probes for one unknown user see the same salt as a real user would show
 * (auth_query.c gives it to a user without a password too). */
void lp_client_auth_stable_salt(const struct lp_instance *inst, const char *user, uint8_t salt[16]);

/* After an SSLRequest: 0 when client TLS is off (the caller answers 'N');
 * -1 when the handshake was started or c was closed (stop reading). */
int lp_client_tls_start(struct lp_client *c);

/* client.c */
void lp_client_login_ok(struct lp_client *c, struct lp_db *db, struct lp_user *pool_user);
/* The per-database/per-user client limit c would exceed on db, or NULL. */
const char *lp_client_limit_exceeded(const struct lp_client *c, const struct lp_db *db);
void lp_client_log(const struct lp_client *c, enum lp_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Non-fatal ErrorResponse followed by ReadyForQuery. */
void lp_client_error(struct lp_client *c, const char *sqlstate, const char *msg);

#endif
