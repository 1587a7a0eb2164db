/*
 * Client authentication (auth_type trust, any, plain, md5, scram-sha-256)
 * and the client internals shared by client.c and client_auth.c.
 */
#ifndef LP_POOL_CLIENT_AUTH_H
#define LP_POOL_CLIENT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/external.h"
#include "core/log.h"
#include "pool/instance.h"

/* After the startup packet: picks the method, sends the first challenge or
 * finishes at once. Returns -1 when c was closed. */
int lp_client_auth_start(struct lp_client *c);
/* One PasswordMessage-family body. Returns -1 when c was closed. */
int lp_client_auth_msg(struct lp_client *c, const uint8_t *body, uint32_t len);

/* The answer of c's LDAP / PAM check (pool/extauth.c): the login goes on
 * or is refused. password: the one proven (OK only). -1 when c was closed. */
int lp_client_auth_external_done(struct lp_client *c, enum lp_ext_result r, const char *detail,
				 const char *password);

/* A deterministic, secret-keyed salt for user's SCRAM exchange, so repeated
 * probes for one unknown user see the same salt as a real user would show
 * (auth_query.c gives it to a user without a password too). */
void lp_client_auth_stable_salt(const struct lp_instance *inst, const char *user, uint8_t salt[16]);

/* After an SSLRequest: 0 when client TLS is off (the caller answers 'N');
 * -1 when the handshake was started or c was closed (stop reading). */
int lp_client_tls_start(struct lp_client *c);
/* Before a new client's first byte is read: when client TLS is on and that
 * byte begins a TLS handshake (PostgreSQL 17's sslnegotiation=direct), the
 * handshake starts now (returns -1: stop reading; c may be closed). 0: the
 * ordinary startup (also when nothing is there yet). */
int lp_client_tls_direct(struct lp_client *c);

#endif
