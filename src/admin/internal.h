/*
 * Shared by the files of src/admin only: the command tables and the SHOW
 * handlers (show_*.c), the commands (commands.c) and the session (admin.c).
 */
#ifndef LP_ADMIN_INTERNAL_H
#define LP_ADMIN_INTERNAL_H

#include <stdbool.h>

#include "admin/parse.h"
#include "admin/result.h"
#include "pool/client_auth.h"
#include "pool/instance.h"

/* What a console client is waiting for (lp_client.admin_wait). */
enum lp_admin_wait {
	LP_ADMIN_WAIT_NONE,
	LP_ADMIN_WAIT_PAUSE,            /* every server of the paused pools closed */
	LP_ADMIN_WAIT_SUSPEND,          /* every outbound buffer flushed */
	LP_ADMIN_WAIT_CLOSE,            /* every server marked close_needed gone */
	LP_ADMIN_SKIP_TO_SYNC,          /* extended protocol refused: skip to Sync */
};

typedef void (*lp_admin_fn)(struct lp_client *c, const char *arg);

struct lp_admin_show {
	const char *name;
	lp_admin_fn fn;
	bool admin_only;                /* even among SHOW commands (FDS) */
};

enum lp_admin_argspec { LP_ARG_NONE, LP_ARG_OPTIONAL, LP_ARG_REQUIRED };

struct lp_admin_command {
	const char *name;
	lp_admin_fn fn;
	enum lp_admin_argspec arg;
};

/* show_*.c tables, NULL-terminated. */
extern const struct lp_admin_show lp_admin_shows_pools[];
extern const struct lp_admin_show lp_admin_shows_sockets[];
extern const struct lp_admin_show lp_admin_shows_stats[];
extern const struct lp_admin_show lp_admin_shows_misc[];
extern const struct lp_admin_show lp_admin_shows_peers[];
extern const struct lp_admin_show lp_admin_shows_hosts[];
/* commands.c table, NULL-terminated. */
extern const struct lp_admin_command lp_admin_commands[];

/* Replies: CommandComplete(tag) + ReadyForQuery. */
void lp_admin_ok(struct lp_client *c, const char *tag);
/* Replies: ErrorResponse (ERROR, sqlstate) + ReadyForQuery; logs it. */
void lp_admin_err(struct lp_client *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same with a DETAIL field (the problems behind a failed RELOAD). */
void lp_admin_err_detail(struct lp_client *c, const char *sqlstate, const char *message,
			 const char *detail);
/* Sends a NoticeResponse with a detail text (SHOW HELP). */
void lp_admin_notice(struct lp_client *c, const char *message, const char *detail);

/* The console's fake pool in SHOW output (PgBouncer lists it). */
#define LP_ADMIN_DB "pgbouncer"
#define LP_ADMIN_USER "pgbouncer"

/* Checks whether a waiting console client can be answered now. */
bool lp_admin_wait_done(struct lp_client *c);
#endif
