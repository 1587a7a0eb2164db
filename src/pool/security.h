/*
 * What a configuration generation needs besides its own text before it may
 * run: the TLS contexts for both sides (certificates and keys read now) and
 * the parsed auth_hba_file and auth_ident_file. Built whole from a generation and swapped in
 * with it, so RELOAD gives new connections the new certificates and rules
 * while existing connections keep theirs; on any error the old ones stay.
 */
#ifndef LP_POOL_SECURITY_H
#define LP_POOL_SECURITY_H

#include "auth/hba.h"
#include "config/config.h"
#include "core/diag.h"
#include "net/tls.h"

struct lp_security {
	struct lp_tls_ctx *client_tls;  /* accepting side; NULL: client TLS disabled */
	struct lp_tls_ctx *server_tls;  /* connecting side; NULL: server TLS disabled */
	struct lp_hba hba;              /* empty unless auth_type = hba */
	struct lp_ident ident;          /* auth_ident_file: empty unless auth_type = hba */
};

/* Builds everything for cfg; -1 with the problems in diag (out untouched). */
int lp_security_load(const struct lp_settings *s, struct lp_security *out, struct lp_diag *diag);
void lp_security_free(struct lp_security *sec);

#endif
