/* Reading a whole configuration generation; see generation.h. */
#include "pool/generation.h"

#include <string.h>

#include "net/io.h"

int lp_generation_load(const char *path, struct lp_generation *out, struct lp_diag *err,
		       struct lp_diag *warn)
{
	struct lp_diag ud = { 0 };

	memset(out, 0, sizeof(*out));
	if (lp_config_load(path, &out->cfg, err) < 0)
		return -1;
	if (out->cfg.s.auth_file[0]) {
		/* The userlist's notes are errors or warnings as its verdict says. */
		int rc = lp_userlist_load(out->cfg.s.auth_file, &out->users, &ud);
		lp_diag_take(rc < 0 ? err : warn, &ud);
		if (rc < 0)
			goto fail;
	}
	if (lp_security_load(&out->cfg.s, &out->sec, err) < 0)
		goto fail;
	if (out->cfg.s.pkt_buf < (int)LP_IO_BUF_MIN)
		lp_diag_add(warn, path, 0, "pkt_buf %d is below linkpool's smallest buffer: %u bytes are used",
			    out->cfg.s.pkt_buf, LP_IO_BUF_MIN);
	return 0;
fail:
	lp_generation_free(out);
	return -1;
}

void lp_generation_free(struct lp_generation *g)
{
	lp_security_free(&g->sec);
	lp_userlist_free(&g->users);
	lp_config_free(&g->cfg);
}
