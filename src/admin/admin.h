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

#include "pool/console.h"
#include "pool/frame.h"

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
/* A console client's message, as the message loop asks (pool/frame.h):
 * answered whole, held while an answer is unsent or a command runs,
 * dropped with an error when longer than pkt_buf. */
enum lp_frame_act lp_admin_frame(struct lp_client *c, const struct lp_msg_hdr *h,
				 const uint8_t *msg, uint32_t avail);
/* Periodic: finishes PAUSE / SUSPEND / WAIT_CLOSE whose condition now holds
 * and closes the servers a PAUSE or RECONNECT is waiting for. */
void lp_admin_tick(struct lp_instance *inst);

/* The console's hooks for the pooler (pool/console.h); main.c installs it. */
extern const struct lp_console_ops lp_admin_console;

#endif
