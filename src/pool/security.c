/* TLS contexts and HBA rules of one configuration generation; see security.h. */
#include "pool/security.h"

#include <string.h>

/* A rule naming a map that no auth_ident_file defines could never let
 * anyone in: a configuration error, said at load time, not at each login. */
static int check_maps(const struct lp_settings *s, const struct lp_security *n,
		      struct lp_diag *diag)
{
	int bad = 0;
	for (size_t i = 0; i < n->hba.n; i++) {
		const struct lp_hba_rule *r = &n->hba.rules[i];
		if (!r->map || lp_ident_has_map(&n->ident, r->map))
			continue;
		lp_diag_add(diag, s->auth_hba_file, r->line, "map \"%s\" is not defined%s", r->map,
			    s->auth_ident_file[0] ? " in auth_ident_file" : " (auth_ident_file is not set)");
		bad++;
	}
	return bad ? -1 : 0;
}

int lp_security_load(const struct lp_settings *s, struct lp_security *out, struct lp_diag *diag)
{
	struct lp_security n;
	char err[512];

	memset(&n, 0, sizeof(n));
	if (s->client_tls_sslmode != LP_SSLMODE_DISABLE) {
		struct lp_tls_params p = {
			.ca_file = s->client_tls_ca_file, .cert_file = s->client_tls_cert_file,
			.key_file = s->client_tls_key_file, .protocols = s->client_tls_protocols,
			.ciphers = s->client_tls_ciphers, .tls13_ciphers = s->client_tls13_ciphers,
			.ecdhcurve = s->client_tls_ecdhcurve, .dheparams = s->client_tls_dheparams,
			.require_peer_cert = s->client_tls_sslmode >= LP_SSLMODE_VERIFY_CA,
		};
		n.client_tls = lp_tls_ctx_new(true, &p, err, sizeof(err));
		if (!n.client_tls) {
			lp_diag_add(diag, "client_tls_sslmode", 0, "%s", err);
			goto fail;
		}
	}
	if (s->server_tls_sslmode != LP_SSLMODE_DISABLE) {
		struct lp_tls_params p = {
			.ca_file = s->server_tls_ca_file, .cert_file = s->server_tls_cert_file,
			.key_file = s->server_tls_key_file, .protocols = s->server_tls_protocols,
			.ciphers = s->server_tls_ciphers, .tls13_ciphers = s->server_tls13_ciphers,
			.verify_peer = s->server_tls_sslmode >= LP_SSLMODE_VERIFY_CA,
		};
		n.server_tls = lp_tls_ctx_new(false, &p, err, sizeof(err));
		if (!n.server_tls) {
			lp_diag_add(diag, "server_tls_sslmode", 0, "%s", err);
			goto fail;
		}
	}
	/* Its syntax was checked with the option; only emptiness is left. */
	if (s->auth_type == LP_AUTH_LDAP && !s->auth_ldap_options[0]) {
		lp_diag_add(diag, "auth_ldap_options", 0, "auth_type ldap requires auth_ldap_options");
		goto fail;
	}
	if (s->auth_type == LP_AUTH_HBA) {
		if (!s->auth_hba_file[0]) {
			lp_diag_add(diag, "auth_hba_file", 0, "auth_type hba requires auth_hba_file");
			goto fail;
		}
		if (lp_hba_load(s->auth_hba_file, &n.hba, diag) < 0)
			goto fail;
		/* Read only with auth_type = hba, as PgBouncer does. */
		if (s->auth_ident_file[0] && lp_ident_load(s->auth_ident_file, &n.ident, diag) < 0)
			goto fail;
		if (check_maps(s, &n, diag) < 0)
			goto fail;
	}
	*out = n;
	return 0;
fail:
	lp_security_free(&n);
	return -1;
}

void lp_security_free(struct lp_security *sec)
{
	lp_tls_ctx_free(sec->client_tls);
	lp_tls_ctx_free(sec->server_tls);
	lp_hba_free(&sec->hba);
	lp_ident_free(&sec->ident);
	memset(sec, 0, sizeof(*sec));
}
