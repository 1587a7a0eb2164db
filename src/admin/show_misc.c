/*
 * SHOW HELP, VERSION and CONFIG.
 */
#include <stdio.h>

#include "admin/internal.h"

static void show_help(struct lp_client *c, const char *arg)
{
	(void)arg;
	lp_admin_notice(c, "Console usage",
			"\n\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION\n"
			"\tSHOW PEERS|PEER_POOLS\n"
			"\tSHOW FDS|SOCKETS|ACTIVE_SOCKETS|LISTS|MEM|STATE\n"
			"\tSHOW DNS_HOSTS|DNS_ZONES\n"
			"\tSHOW HOSTS\n"
			"\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS\n"
			"\tSET key = arg\n"
			"\tRELOAD\n"
			"\tPAUSE [<db>]\n"
			"\tRESUME [<db>]\n"
			"\tDISABLE <db>\n"
			"\tENABLE <db>\n"
			"\tRECONNECT [<db>]\n"
			"\tKILL [<db>]\n"
			"\tKILL_CLIENT <client_id>\n"
			"\tSUSPEND\n"
			"\tSHUTDOWN\n"
			"\tSHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS\n"
			"\tWAIT_CLOSE [<db>]");
	lp_admin_ok(c, "SHOW");
}

static const struct lp_col version_cols[] = {
	{ "version", LP_COL_TEXT },
};

static void show_version(struct lp_client *c, const char *arg)
{
	struct lp_result r;
	(void)arg;
	lp_result_begin(&r, version_cols, LP_NCOLS(version_cols));
	lp_row_begin(&r);
	lp_row_text(&r, "linkpool " LP_VERSION);
	lp_row_end(&r);
	lp_result_send(&r, c, "SHOW");
}

static const struct lp_col config_cols[] = {
	{ "key", LP_COL_TEXT },
	{ "value", LP_COL_TEXT },
	{ "default", LP_COL_TEXT },
	{ "changeable", LP_COL_TEXT },
};

static void show_config(struct lp_client *c, const char *arg)
{
	size_t nopt;
	const struct lp_option *opts = lp_config_options(&nopt);
	struct lp_result r;
	char value[1024];
	(void)arg;

	lp_result_begin(&r, config_cols, LP_NCOLS(config_cols));
	for (size_t i = 0; i < nopt; i++) {
		lp_config_format(&c->inst->cfg.s, &opts[i], value, sizeof(value));
		lp_row_begin(&r);
		lp_row_text(&r, opts[i].name);
		lp_row_text(&r, value);
		lp_row_text(&r, opts[i].def);
		lp_row_text(&r, opts[i].reloadable ? "yes" : "no");
		lp_row_end(&r);
	}
	lp_result_send(&r, c, "SHOW");
}

const struct lp_admin_show lp_admin_shows_misc[] = {
	{ "help", show_help, false },
	{ "version", show_version, false },
	{ "config", show_config, false },
	{ NULL, NULL, false },
};
