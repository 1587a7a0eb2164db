/*
 * What the pooler asks of the admin console (src/admin), through a table
 * the console provides and main.c installs (inst->console): pool/ includes
 * no admin/ header, so the dependency points one way, admin -> pool.
 */
#ifndef LP_POOL_CONSOLE_H
#define LP_POOL_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/frame.h"

struct lp_client;
struct lp_instance;

struct lp_console_ops {
	/* Peer-credential login (the OS user over the unix socket): true when
	 * it handled the login (c welcomed or closed), false to go on with
	 * normal authentication. */
	bool (*peer_login)(struct lp_client *c);
	/* Authentication finished on the console: AuthenticationOk, the
	 * parameters, ReadyForQuery. */
	void (*welcome)(struct lp_client *c);
	/* A startup parameter accepted (and ignored) on the console database:
	 * what monitoring tools send. */
	bool (*startup_param)(const char *db_name, const char *param);
	/* A console client's message, as the message loop asks (frame.h). */
	enum lp_frame_act (*message)(struct lp_client *c, const struct lp_msg_hdr *h,
				     const uint8_t *msg, uint32_t avail);
	/* Periodic (janitor): finishes console commands whose condition now
	 * holds (PAUSE, SUSPEND, WAIT_CLOSE). */
	void (*tick)(struct lp_instance *inst);
};

#endif
