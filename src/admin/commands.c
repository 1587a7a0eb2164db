/*
 * Admin console commands that change the pooler: PAUSE, RESUME, SUSPEND,
 * DISABLE, ENABLE, RECONNECT, KILL, KILL_CLIENT, WAIT_CLOSE, RELOAD,
 * SHUTDOWN. admin.c has checked the caller is in admin_users and the
 * argument count; these check the argument's meaning.
 *
 * PAUSE, SUSPEND and WAIT_CLOSE answer later: they set c->admin_wait and
 * admin.c's tick replies once lp_admin_wait_done() holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "admin/internal.h"
#include "pool/control.h"
#include "pool/client.h"
#include "pool/link.h"
#include "pool/registry.h"
#include "pool/server.h"

/* The database named by a command argument; replies with an error and
 * returns NULL when there is none or it is the console itself. An unknown
 * name is PgBouncer's error, SQLSTATE 08P01 included (tools match on it). */
static struct lp_db *arg_db(struct lp_client *c, const char *arg, const char *what)
{
	if (lp_admin_is_console_db(arg)) {
		lp_admin_err(c, "42601", "cannot %s the admin database", what);
		return NULL;
	}
	struct lp_db *db = lp_registry_find_db(c->inst, arg);
	if (!db)
		lp_admin_err(c, "08P01", "no such database: %s", arg);
	return db;
}

bool lp_admin_wait_done(struct lp_client *c)
{
	switch (c->admin_wait) {
	case LP_ADMIN_WAIT_PAUSE:
		return lp_control_pause_done(c->inst, c->admin_wait_db);
	case LP_ADMIN_WAIT_CLOSE:
		return lp_control_close_done(c->inst, c->admin_wait_db);
	case LP_ADMIN_WAIT_SUSPEND:
		return lp_control_suspend_done(c->inst);
	default:
		return true;
	}
}

/* Replies now if the condition already holds, else leaves it to the tick. */
static void wait_for(struct lp_client *c, uint8_t what, struct lp_db *db)
{
	c->admin_wait = what;
	c->admin_wait_db = db;
	lp_admin_tick(c->inst);
}

static void cmd_pause(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	if (inst->paused) {
		lp_admin_err(c, "55000", "already suspended/paused");
		return;
	}
	if (!arg[0]) {
		lp_client_log(c, LP_LOG_LOG, "PAUSE command issued");
		lp_control_pause(inst, NULL);
		wait_for(c, LP_ADMIN_WAIT_PAUSE, NULL);
		return;
	}
	struct lp_db *db = arg_db(c, arg, "pause");
	if (!db)
		return;
	lp_client_log(c, LP_LOG_LOG, "PAUSE '%s' command issued", arg);
	lp_control_pause(inst, db);
	wait_for(c, LP_ADMIN_WAIT_PAUSE, db);
}

static void cmd_resume(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_list_node *n, *t;

	if (inst->shutdown != LP_RUN) {
		/* PgBouncer's SQLSTATE for every console refusal (08P01). */
		lp_admin_err(c, "08P01", "pooler is shutting down");
		return;
	}
	/* Only the new process that took the sockets may give them back. */
	if (inst->handed_off && inst->takeover_peer != c) {
		lp_admin_err(c, "08P01", "online restart in progress: the sockets are handed over");
		return;
	}
	struct lp_db *db = NULL;
	if (arg[0] && !(db = arg_db(c, arg, "resume")))
		return;
	if (!lp_control_resume(inst, db)) {
		if (db)
			lp_admin_err(c, "55000", "database %s is not paused", arg);
		else
			lp_admin_err(c, "55000", "pooler is not paused/suspended");
		return;
	}
	lp_client_log(c, LP_LOG_LOG, db ? "RESUME '%s' command issued" : "RESUME command issued%s",
		      arg);
	/* A PAUSE or SUSPEND still waiting would never finish now. */
	lp_list_foreach_safe(&inst->admin_clients, n, t) {
		struct lp_client *a = lp_container_of(n, struct lp_client, node);
		if (a == c || (a->admin_wait != LP_ADMIN_WAIT_PAUSE &&
			       a->admin_wait != LP_ADMIN_WAIT_SUSPEND))
			continue;
		a->admin_wait = LP_ADMIN_WAIT_NONE;
		a->admin_wait_db = NULL;
		lp_admin_err(a, "57014", "canceled by RESUME");
		lp_client_kick(a);
	}
	lp_admin_ok(c, "RESUME");
}

static void cmd_suspend(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	(void)arg;
	if (inst->paused) {
		lp_admin_err(c, "55000", "already suspended/paused");
		return;
	}
	if (lp_control_db_paused(inst, NULL)) {
		lp_admin_err(c, "55000", "cannot suspend with paused databases");
		return;
	}
	lp_client_log(c, LP_LOG_LOG, "SUSPEND command issued");
	lp_control_suspend(inst);
	wait_for(c, LP_ADMIN_WAIT_SUSPEND, NULL);
}

static void cmd_disable(struct lp_client *c, const char *arg)
{
	struct lp_db *db = arg_db(c, arg, "disable");
	if (!db)
		return;
	lp_client_log(c, LP_LOG_LOG, "DISABLE '%s' command issued", arg);
	lp_control_disable(db, true);
	lp_admin_ok(c, "DISABLE");
}

static void cmd_enable(struct lp_client *c, const char *arg)
{
	struct lp_db *db = arg_db(c, arg, "enable");
	if (!db)
		return;
	lp_client_log(c, LP_LOG_LOG, "ENABLE '%s' command issued", arg);
	lp_control_disable(db, false);
	lp_admin_ok(c, "ENABLE");
}

static void cmd_reconnect(struct lp_client *c, const char *arg)
{
	struct lp_db *db = NULL;
	if (arg[0] && !(db = arg_db(c, arg, "reconnect")))
		return;
	lp_client_log(c, LP_LOG_LOG, "RECONNECT%s%s command issued", arg[0] ? " " : "", arg);
	lp_control_reconnect(c->inst, db);
	lp_admin_ok(c, "RECONNECT");
}

static void cmd_wait_close(struct lp_client *c, const char *arg)
{
	struct lp_db *db = NULL;
	if (arg[0] && !(db = arg_db(c, arg, "wait for")))
		return;
	lp_client_log(c, LP_LOG_LOG, "WAIT_CLOSE%s%s command issued", arg[0] ? " " : "", arg);
	/* Servers already marked by RECONNECT or a reload are what WAIT_CLOSE
	 * waits for; without one it closes them all as they are released. */
	lp_control_reconnect(c->inst, db);
	wait_for(c, LP_ADMIN_WAIT_CLOSE, db);
}

static void cmd_kill(struct lp_client *c, const char *arg)
{
	struct lp_instance *inst = c->inst;
	struct lp_db *db = NULL;

	if (inst->paused) {
		lp_admin_err(c, "55000", "already suspended/paused");
		return;
	}
	if (arg[0] && !(db = arg_db(c, arg, "kill")))
		return;
	lp_client_log(c, LP_LOG_LOG, "KILL%s%s command issued", arg[0] ? " " : "", arg);
	lp_control_kill(inst, db);
	lp_admin_ok(c, "KILL");
}

static void cmd_kill_client(struct lp_client *c, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long long id = strtoull(arg, &end, 10);
	/* PgBouncer's words and SQLSTATE (08P01) for both refusals. */
	if (errno || *end || !arg[0] || arg[0] == '-') {
		lp_admin_err(c, "08P01", "invalid client pointer supplied");
		return;
	}
	struct lp_client *victim = lp_control_find_client(c->inst, id);
	if (!victim) {
		lp_admin_err(c, "08P01", "client not found: %llu", id);
		return;
	}
	lp_client_log(c, LP_LOG_LOG, "KILL_CLIENT %llu command issued", id);
	if (victim == c) {
		lp_client_fail(c, "57P01", "admin forced disconnect");
		return;
	}
	lp_client_fail(victim, "57P01", "admin forced disconnect");
	lp_admin_ok(c, "KILL_CLIENT");
}

static void cmd_reload(struct lp_client *c, const char *arg)
{
	(void)arg;
	lp_client_log(c, LP_LOG_LOG, "RELOAD command issued");
	char why[1024];
	if (lp_instance_reload(c->inst, why, sizeof(why)) < 0) {
		/* PgBouncer's words (SQLSTATE F0000, config_file_error); the
		 * first problem as DETAIL, the log has every one. */
		lp_admin_err_detail(c, "F0000", "RELOAD failed, see logs for additional details", why);
		return;
	}
	lp_admin_ok(c, "RELOAD");
}

static void cmd_shutdown(struct lp_client *c, const char *arg)
{
	enum lp_shutdown_mode mode = LP_SHUTDOWN_NOW;
	if (arg[0]) {
		if (strcasecmp(arg, "WAIT_FOR_CLIENTS") == 0) {
			mode = LP_SHUTDOWN_WAIT_CLIENTS;
		} else if (strcasecmp(arg, "WAIT_FOR_SERVERS") == 0) {
			mode = LP_SHUTDOWN_WAIT_SERVERS;
		} else {
			lp_admin_err(c, "42601", "SHUTDOWN takes WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS");
			return;
		}
	}
	lp_client_log(c, LP_LOG_LOG, "SHUTDOWN%s%s command issued", arg[0] ? " " : "", arg);
	/* Answer first: an immediate shutdown ends the loop. */
	lp_admin_ok(c, "SHUTDOWN");
	lp_instance_shutdown(c->inst, mode);
}

const struct lp_admin_command lp_admin_commands[] = {
	{ "pause", cmd_pause, LP_ARG_OPTIONAL },
	{ "resume", cmd_resume, LP_ARG_OPTIONAL },
	{ "suspend", cmd_suspend, LP_ARG_NONE },
	{ "disable", cmd_disable, LP_ARG_REQUIRED },
	{ "enable", cmd_enable, LP_ARG_REQUIRED },
	{ "reconnect", cmd_reconnect, LP_ARG_OPTIONAL },
	{ "kill", cmd_kill, LP_ARG_OPTIONAL },
	{ "kill_client", cmd_kill_client, LP_ARG_REQUIRED },
	{ "wait_close", cmd_wait_close, LP_ARG_OPTIONAL },
	{ "reload", cmd_reload, LP_ARG_NONE },
	{ "shutdown", cmd_shutdown, LP_ARG_OPTIONAL },
	{ NULL, NULL, LP_ARG_NONE },
};
