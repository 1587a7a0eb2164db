/*
 * The admin console: the virtual database "pgbouncer" (alias "linkpool"),
 * simple query protocol only.
 */
#ifndef LP_ADMIN_H
#define LP_ADMIN_H

#include <stdint.h>

struct lp_client;

/* Login finished on the console: AuthenticationOk, parameters, RFQ. */
void lp_admin_welcome(struct lp_client *c);
/* One whole client message on the console. Returns -1 when c was closed. */
int lp_admin_message(struct lp_client *c, uint8_t type, const uint8_t *body, uint32_t len);

#endif
