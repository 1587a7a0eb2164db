/*
 * The admin console: the virtual database "pgbouncer" (alias "linkpool"),
 * simple query protocol only. Users in admin_users may run everything,
 * users in stats_users the SHOW commands; the OS user linkpool runs as may
 * log in over the unix socket without a password (peer credentials).
 */
#ifndef LP_ADMIN_H
#define LP_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

struct lp_client;
struct lp_instance;

/* true for the console's database names. */
bool lp_admin_is_console_db(const char *db_name);
/* true when a startup parameter is accepted (and ignored) on the console:
 * what monitoring tools send (extra_float_digits, application_name ...). */
bool lp_admin_console_param(const char *db_name, const char *param);
/* Peer-credential login on the console. Returns true when it handled the
 * login (c welcomed or closed), false to go on with normal authentication. */
bool lp_admin_peer_login(struct lp_client *c);
/* Login finished on the console: AuthenticationOk, parameters, RFQ. */
void lp_admin_welcome(struct lp_client *c);
/* One whole client message on the console. Returns -1 when c was closed,
 * 0 when the message was consumed, 1 when it must be held (a command is
 * still running; lp_client_kick() resumes). */
int lp_admin_message(struct lp_client *c, uint8_t type, const uint8_t *body, uint32_t len);
/* Periodic: finishes PAUSE / SUSPEND / WAIT_CLOSE whose condition now holds
 * and closes the servers a PAUSE or RECONNECT is waiting for. */
void lp_admin_tick(struct lp_instance *inst);

#endif
