/*
 * Admin console session handling: welcome, message dispatch, and the
 * commands themselves.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "pool/client_auth.h"
#include "pool/instance.h"
#include "proto/proto.h"

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
		{ "application_name", "" },
	};
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_auth(&w, 0, NULL, 0);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		lp_build_param_status(&w, params[i][0], params[i][1]);
	lp_build_backend_key(&w, c->cancel_pid, c->cancel_key);
	lp_build_rfq(&w, 'I');
	(void)lp_io_send(&c->io, buf, w.len);
	c->startup_done = true;
	lp_client_set_state(c, LP_CL_ACTIVE);
}

static void send_rows1(struct lp_client *c, const char *col, const char *val)
{
	uint8_t buf[1024];
	struct lp_writer w;
	const char *names[1] = { col };
	const uint32_t oids[1] = { 25 };
	const char *vals[1] = { val };
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_row_description(&w, names, oids, 1);
	lp_build_data_row(&w, vals, 1);
	lp_build_command_complete(&w, "SHOW");
	lp_build_rfq(&w, 'I');
	(void)lp_io_send(&c->io, buf, w.len);
}

static void admin_query(struct lp_client *c, const char *sql)
{
	char cmd[256];
	size_t n = 0;
	while (*sql && isspace((unsigned char)*sql))
		sql++;
	for (; *sql && n + 1 < sizeof(cmd); sql++)
		cmd[n++] = *sql;
	while (n > 0 && (isspace((unsigned char)cmd[n - 1]) || cmd[n - 1] == ';'))
		n--;
	cmd[n] = '\0';
	if (strcasecmp(cmd, "SHOW VERSION") == 0) {
		send_rows1(c, "version", "linkpool " LP_VERSION);
		return;
	}
	char msg[300];
	snprintf(msg, sizeof(msg), "unknown admin command: %s", cmd);
	lp_client_error(c, "42601", msg);
}

int lp_admin_message(struct lp_client *c, uint8_t type, const uint8_t *body, uint32_t len)
{
	if (type != 'Q') {
		lp_client_fail(c, "08P01", "the admin console supports only the simple query protocol");
		return -1;
	}
	if (len == 0 || body[len - 1] != '\0' || memchr(body, '\0', len) != body + len - 1) {
		lp_client_fail(c, "08P01", "malformed query message");
		return -1;
	}
	admin_query(c, (const char *)body);
	return 0;
}
