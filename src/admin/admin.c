/*
 * Admin console sessions: who may log in (admin_users, stats_users, the
 * process's own user over the unix socket), the welcome, the simple-query
 * loop, command dispatch with the role check, and completion of commands
 * that wait (PAUSE, SUSPEND, WAIT_CLOSE). The commands live in commands.c,
 * the SHOW tables in show_*.c.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/internal.h"
#include "pool/control.h"
#include "pool/client.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "proto/proto.h"

bool lp_admin_is_console_db(const char *db_name)
{
	return db_name && lp_registry_console_name(db_name);
}

bool lp_admin_console_param(const char *db_name, const char *param)
{
	static const char *const accepted[] = {
		"extra_float_digits", "application_name", "client_encoding", "DateStyle",
		"TimeZone", "standard_conforming_strings", "search_path", "options",
	};
	if (!lp_admin_is_console_db(db_name))
		return false;
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (strcasecmp(param, accepted[i]) == 0)
			return true;
	return false;
}

/* The name of the OS user this process runs as; looked up once (the user
 * database is not read again at run time). */
static const char *own_user_name(void)
{
	static char name[64];
	static bool looked_up;
	if (!looked_up) {
		struct passwd pw, *res = NULL;
		char buf[1024];
		looked_up = true;
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res &&
		    strlen(res->pw_name) < sizeof(name))
			snprintf(name, sizeof(name), "%s", res->pw_name);
	}
	return name;
}

bool lp_admin_peer_login(struct lp_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c->addr_family != AF_UNIX || !c->user_name)
		return false;
	if (getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid())
		return false;
	/* As PgBouncer: the user "pgbouncer"; also the OS user's own name. */
	const char *own = own_user_name();
	if (strcmp(c->user_name, "pgbouncer") != 0 && (!own[0] || strcmp(c->user_name, own) != 0))
		return false;
	c->admin_full = true;
	c->auth = LP_AUTH_DONE;
	if (c->inst->cfg.s.log_connections)
		lp_client_log(c, LP_LOG_LOG, "admin console access over the unix socket (peer uid %u)",
			      (unsigned)cred.uid);
	lp_client_login_ok(c, NULL, NULL);
	return true;
}

void lp_admin_welcome(struct lp_client *c)
{
	uint8_t buf[1024];
	struct lp_writer w;
	static const char *const params[][2] = {
		{ "server_version", "1.25.0/linkpool-" LP_VERSION },
		{ "server_encoding", "UTF8" },
		{ "client_encoding", "UTF8" },
		{ "DateStyle", "ISO" },
		{ "TimeZone", "UTC" },
		{ "integer_datetimes", "on" },
		{ "standard_conforming_strings", "on" },
		{ "is_superuser", "on" },
	};
	const char *app = lp_params_get(&c->params, "application_name");
	/* Console sessions count against max_db_client_connections and
	 * max_user_client_connections as in PgBouncer, and show in SHOW
	 * DATABASES / USERS; admin_users are never refused, so an operator
	 * can always get in. */
	const char *limit = c->admin_full ? NULL : lp_client_limit_exceeded(c, NULL);
	if (limit) {
		lp_client_fail(c, "08P01", "client connections exceeded (%s)", limit);
		return;
	}
	c->login_user = lp_registry_get_user(c->inst, c->user_name);
	if (!c->login_user) {
		lp_client_fail(c, "53200", "out of memory");
		return;
	}
	c->login_user->client_count++;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_auth(&w, 0, NULL, 0);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		lp_build_param_status(&w, params[i][0], params[i][1]);
	lp_build_param_status(&w, "application_name", app ? app : "");
	lp_build_backend_key(&w, c->cancel_pid, c->cancel_key);
	lp_build_rfq(&w, 'I');
	if (w.overflow) {
		lp_client_fail(c, "08P01", "startup parameters too large");
		return;
	}
	(void)lp_io_send(&c->io, buf, w.len);
	c->startup_done = true;
	c->last_active_us = lp_now_us();
	c->inst->console_stats.client_logins++;
	lp_client_set_state(c, LP_CL_ACTIVE);
	if (c->inst->cfg.s.log_connections)
		lp_client_log(c, LP_LOG_LOG, "admin console login (%s)",
			      c->admin_full ? "admin" : "stats");
}

/* ---- replies ---- */

void lp_admin_ok(struct lp_client *c, const char *tag)
{
	uint8_t buf[256];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_command_complete(&w, tag);
	lp_build_rfq(&w, 'I');
	if (!w.overflow)
		(void)lp_io_send(&c->io, buf, w.len);
}

void lp_admin_err(struct lp_client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_client_log(c, LP_LOG_WARNING, "admin command refused: %s", msg);
	lp_client_error(c, sqlstate, msg);
}

/* 'E' or 'N' with a detail field; an error is followed by ReadyForQuery. */
static void send_with_detail(struct lp_client *c, char type, const char *severity,
			     const char *sqlstate, const char *message, const char *detail)
{
	uint8_t buf[2048];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_wr_begin(&w, (uint8_t)type);
	lp_wr_u8(&w, 'S');
	lp_wr_cstr(&w, severity);
	lp_wr_u8(&w, 'V');
	lp_wr_cstr(&w, severity);
	lp_wr_u8(&w, 'C');
	lp_wr_cstr(&w, sqlstate);
	lp_wr_u8(&w, 'M');
	lp_wr_cstr(&w, message);
	if (detail) {
		lp_wr_u8(&w, 'D');
		lp_wr_cstr(&w, detail);
	}
	lp_wr_u8(&w, 0);
	lp_wr_end(&w);
	if (type == 'E')
		lp_build_rfq(&w, 'I');
	if (!w.overflow)
		(void)lp_io_send(&c->io, buf, w.len);
}

void lp_admin_err_detail(struct lp_client *c, const char *sqlstate, const char *message,
			 const char *detail)
{
	/* The detail was logged by whoever found it (RELOAD's "reload failed"
	 * line): logged again here, an operator's count of the error is off. */
	lp_client_log(c, LP_LOG_WARNING, "admin command refused: %s", message);
	send_with_detail(c, 'E', "ERROR", sqlstate, message, detail);
}

void lp_admin_notice(struct lp_client *c, const char *message, const char *detail)
{
	send_with_detail(c, 'N', "NOTICE", "00000", message, detail);
}

/* ---- session parameters clients like to touch ---- */

/* Some drivers SET or SHOW these on every connection; PgBouncer fakes
 * them, and so do we. */
static const char *const fake_params[][2] = {
	{ "client_encoding", "UTF8" },
	{ "default_transaction_isolation", "read committed" },
	{ "standard_conforming_strings", "on" },
	{ "datestyle", "ISO" },
	{ "timezone", "UTC" },
	{ "extra_float_digits", "2" },
	{ "application_name", "" },
};

static const char *fake_param(const char *name)
{
	for (size_t i = 0; i < sizeof(fake_params) / sizeof(fake_params[0]); i++)
		if (strcasecmp(name, fake_params[i][0]) == 0)
			return fake_params[i][0];
	return NULL;
}

static bool fake_show(struct lp_client *c, const char *name)
{
	const char *canon = fake_param(name);
	if (!canon)
		return false;
	const char *v = NULL;
	for (size_t i = 0; i < sizeof(fake_params) / sizeof(fake_params[0]); i++)
		if (fake_params[i][0] == canon)
			v = fake_params[i][1];
	if (strcmp(canon, "application_name") == 0) {
		const char *app = lp_params_get(&c->params, "application_name");
		v = app ? app : "";
	}
	struct lp_col col = { canon, LP_COL_TEXT };
	struct lp_result r;
	lp_result_begin(&r, &col, 1);
	lp_row_begin(&r);
	lp_row_text(&r, v);
	lp_row_end(&r);
	lp_result_send(&r, c, "SHOW");
	return true;
}

/* ---- dispatch ---- */

static const struct lp_admin_show *find_show(const char *name)
{
	const struct lp_admin_show *const tables[] = { lp_admin_shows_pools, lp_admin_shows_sockets,
						       lp_admin_shows_stats, lp_admin_shows_misc,
						       lp_admin_shows_peers, lp_admin_shows_hosts };
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct lp_admin_show *s = tables[t]; s->name; s++)
			if (strcasecmp(s->name, name) == 0)
				return s;
	return NULL;
}

static void run_set(struct lp_client *c, const struct lp_admin_cmd *cmd)
{
	if (fake_param(cmd->key)) {
		if (strcasecmp(cmd->key, "application_name") == 0)
			lp_params_set(&c->params, "application_name", cmd->value);
		lp_admin_notice(c, "SET ignored", NULL);
		lp_admin_ok(c, "SET");
		return;
	}
	if (!c->admin_full) {
		lp_admin_err(c, "42501", "admin access needed for SET");
		return;
	}
	char err[512];
	if (lp_instance_set(c->inst, cmd->key, cmd->value, err, sizeof(err)) < 0) {
		lp_admin_err(c, "22023", "%s", err);
		return;
	}
	/* auth_ldap_options may hold ldapbindpasswd: never in the log. */
	if (strcasecmp(cmd->key, "auth_ldap_options") == 0)
		lp_client_log(c, LP_LOG_LOG, "SET %s (value not logged)", cmd->key);
	else
		lp_client_log(c, LP_LOG_LOG, "SET %s = %s", cmd->key, cmd->value);
	lp_admin_ok(c, "SET");
}

static void run_query(struct lp_client *c, const char *sql)
{
	struct lp_admin_cmd cmd;
	const char *err;

	if (strcasestr(sql, "ldapbindpasswd"))
		lp_client_log(c, LP_LOG_DEBUG, "admin query: (holds ldapbindpasswd, not logged)");
	else
		lp_client_log(c, LP_LOG_DEBUG, "admin query: %s", sql);
	if (lp_admin_parse(sql, &cmd, &err) < 0) {
		lp_admin_err(c, "42601", "invalid command '%.200s' (%s), use SHOW HELP;", sql, err);
		return;
	}
	if (cmd.is_set) {
		run_set(c, &cmd);
		return;
	}
	if (strcmp(cmd.word, "show") == 0 || strcmp(cmd.word, "select") == 0) {
		if (!cmd.arg[0]) {
			lp_admin_err(c, "42601", "SHOW needs a subject, use SHOW HELP;");
			return;
		}
		if (fake_show(c, cmd.arg))
			return;
		const struct lp_admin_show *s = find_show(cmd.arg);
		if (!s) {
			lp_admin_err(c, "42601", "invalid command '%.200s', use SHOW HELP;", sql);
			return;
		}
		if (s->admin_only && !c->admin_full) {
			lp_admin_err(c, "42501", "admin access needed for SHOW %s", s->name);
			return;
		}
		s->fn(c, NULL);
		return;
	}
	for (const struct lp_admin_command *k = lp_admin_commands; k->name; k++) {
		if (strcmp(k->name, cmd.word) != 0)
			continue;
		if (k->arg == LP_ARG_NONE && cmd.arg[0]) {
			lp_admin_err(c, "42601", "%s takes no argument", k->name);
			return;
		}
		if (k->arg == LP_ARG_REQUIRED && !cmd.arg[0]) {
			lp_admin_err(c, "42601", "%s needs an argument", k->name);
			return;
		}
		if (!c->admin_full) {
			lp_admin_err(c, "42501", "admin access needed for %s", k->name);
			return;
		}
		k->fn(c, cmd.arg);
		return;
	}
	lp_admin_err(c, "42601", "invalid command '%.200s', use SHOW HELP;", sql);
}

static bool holding(const struct lp_client *c)
{
	return c->admin_wait == LP_ADMIN_WAIT_PAUSE || c->admin_wait == LP_ADMIN_WAIT_SUSPEND ||
	       c->admin_wait == LP_ADMIN_WAIT_CLOSE;
}

/* One whole client message. Returns -1 when c was closed, 0 when the
 * message was consumed, 1 when it must be held (a command is still
 * running; lp_client_kick() resumes). */
static int admin_message(struct lp_client *c, uint8_t type, const uint8_t *body, uint32_t len)
{
	if (holding(c))
		return 1;
	if (c->admin_wait == LP_ADMIN_SKIP_TO_SYNC) {
		/* After an error in an extended-protocol batch, everything up
		 * to Sync is discarded, as PostgreSQL does. */
		if (type == 'S') {
			c->admin_wait = LP_ADMIN_WAIT_NONE;
			uint8_t z[6];
			struct lp_writer w;
			lp_wr_init(&w, z, sizeof(z));
			lp_build_rfq(&w, 'I');
			(void)lp_io_send(&c->io, z, w.len);
		}
		return 0;
	}
	switch (type) {
	case 'Q':
		break;
	case 'P': case 'B': case 'D': case 'E': case 'C': case 'H': {
		uint8_t buf[300];
		struct lp_writer w;
		lp_wr_init(&w, buf, sizeof(buf));
		lp_build_error(&w, "ERROR", "0A000",
			       "extended query protocol not supported by the admin console; "
			       "use the simple query protocol");
		(void)lp_io_send(&c->io, buf, w.len);
		lp_client_log(c, LP_LOG_WARNING, "extended protocol message '%c' on the admin console",
			      type);
		c->admin_wait = LP_ADMIN_SKIP_TO_SYNC;
		return 0;
	}
	case 'S': {
		uint8_t z[6];
		struct lp_writer w;
		lp_wr_init(&w, z, sizeof(z));
		lp_build_rfq(&w, 'I');
		(void)lp_io_send(&c->io, z, w.len);
		return 0;
	}
	case 'F':
		lp_admin_err(c, "0A000", "function calls are not supported by the admin console");
		return 0;
	default:
		lp_client_fail(c, "08P01", "unexpected message type '%c' on the admin console",
			       type >= 32 && type < 127 ? type : '?');
		return -1;
	}
	if (len == 0 || body[len - 1] != '\0' || memchr(body, '\0', len) != body + len - 1) {
		lp_client_fail(c, "08P01", "malformed query message");
		return -1;
	}
	c->last_active_us = lp_now_us();
	/* As PgBouncer's admin pool: every command is a transaction. */
	c->inst->console_stats.query_count++;
	c->inst->console_stats.xact_count++;
	run_query(c, (const char *)body);
	return c->state == LP_CL_JUSTFREE ? -1 : 0;
}

/*
 * A console message that does not fit pkt_buf: refused and dropped as it
 * streams in, and the session goes on. A query gets an error; an
 * extended-protocol message gets the console's usual refusal (its body is
 * not needed for that).
 */
static enum lp_frame_act too_long(struct lp_client *c, const struct lp_msg_hdr *h)
{
	if (h->type == 'Q') {
		char msg[160];
		snprintf(msg, sizeof(msg), "admin command too long: %u bytes, pkt_buf is %u", h->len + 1u,
			 lp_io_buf_size());
		lp_client_log(c, LP_LOG_WARNING, "admin command refused: %s", msg);
		lp_client_error(c, "54000", msg);
		return LP_FRAME_DROP;
	}
	static const uint8_t none[1];
	if (admin_message(c, h->type, none, 0) < 0 || c->state == LP_CL_JUSTFREE)
		return LP_FRAME_CLOSED;
	return LP_FRAME_DROP;
}

enum lp_frame_act lp_admin_frame(struct lp_client *c, const struct lp_msg_hdr *h,
				 const uint8_t *msg, uint32_t avail)
{
	/* One answer at a time: a console client that sends commands without
	 * reading the answers would otherwise grow its output queue without
	 * bound. Reading resumes once the last answer is written. */
	if (lp_io_wait_drained(&c->io))
		return LP_FRAME_STOP;
	if (avail <= h->len) {
		if (h->len + 1u <= lp_io_buf_size())
			return LP_FRAME_MORE;
		return too_long(c, h);
	}
	int r = admin_message(c, h->type, msg + LP_PROTO_HDR_LEN, h->len - 4);
	if (r < 0 || c->state == LP_CL_JUSTFREE)
		return LP_FRAME_CLOSED;
	if (r > 0) {
		/* A console command is still running (PAUSE ...): hold the
		 * input; lp_client_kick() resumes. */
		lp_io_read_off(&c->io);
		return LP_FRAME_STOP;
	}
	return LP_FRAME_CONSUMED;
}

/* ---- commands that wait ---- */

static const char *wait_tag(uint8_t w)
{
	switch (w) {
	case LP_ADMIN_WAIT_PAUSE:
		return "PAUSE";
	case LP_ADMIN_WAIT_SUSPEND:
		return "SUSPEND";
	default:
		return "WAIT_CLOSE";
	}
}

void lp_admin_tick(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;

	lp_control_progress(inst);
	lp_list_foreach_safe(&inst->admin_clients, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, node);
		if (!holding(c) || !lp_admin_wait_done(c))
			continue;
		const char *tag = wait_tag(c->admin_wait);
		c->admin_wait = LP_ADMIN_WAIT_NONE;
		c->admin_wait_db = NULL;
		lp_client_log(c, LP_LOG_LOG, "%s done", tag);
		lp_admin_ok(c, tag);
		lp_client_kick(c);
	}
}

const struct lp_console_ops lp_admin_console = {
	.peer_login = lp_admin_peer_login,
	.welcome = lp_admin_welcome,
	.startup_param = lp_admin_console_param,
	.message = lp_admin_frame,
	.tick = lp_admin_tick,
};
