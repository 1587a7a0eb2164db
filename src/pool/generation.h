/*
 * One configuration generation, read whole: pgbouncer.ini with its %include
 * files, the auth_file it names, and what security.c builds from it (TLS
 * certificates and keys, auth_hba_file). `--check`, the start and every
 * reload read it through lp_generation_load, so a file one of them refuses
 * the others refuse too, and a generation with any error is never run:
 * parse -> validate -> swap, as nginx reloads.
 */
#ifndef LP_POOL_GENERATION_H
#define LP_POOL_GENERATION_H

#include "auth/userlist.h"
#include "config/config.h"
#include "core/diag.h"
#include "pool/security.h"

struct lp_generation {
	struct lp_config cfg;
	struct lp_userlist users;       /* empty when auth_file is not set */
	struct lp_security sec;
};

/*
 * Reads the generation rooted at path into *out. 0: complete, with notes
 * that do not make it invalid (a user listed twice in auth_file) in warn.
 * -1: invalid, every problem as "file:line: message" in err, *out zeroed.
 */
int lp_generation_load(const char *path, struct lp_generation *out, struct lp_diag *err,
		       struct lp_diag *warn);
void lp_generation_free(struct lp_generation *g);

#endif
