/*
 * LDAP password check with libldap (blocking; worker threads only, see
 * external.h). PostgreSQL's two modes: a simple bind as prefix + user +
 * suffix, or a search (as ldapbinddn or anonymously) for the user's one
 * entry and a bind as its DN. Each check opens its own connection and
 * closes it, as PostgreSQL does: no connection state is shared between
 * threads.
 */
#include "auth/external.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define LDAP_DEPRECATED 0
#include <ldap.h>

static enum lp_ext_result classify(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return LP_EXT_OK;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
		return LP_EXT_UNAVAILABLE;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_UNWILLING_TO_PERFORM:
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_NO_SUCH_OBJECT:
		return LP_EXT_DENIED;
	default:
		return LP_EXT_ERROR;
	}
}

static int bind_as(LDAP *ld, const char *dn, const char *password)
{
	struct berval cred;
	cred.bv_val = (char *)password;
	cred.bv_len = strlen(password);
	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* The DN of the one entry the search finds, into dn; LP_EXT_DENIED when
 * there is none or more than one. */
static enum lp_ext_result search_dn(LDAP *ld, const struct lp_ldap_opts *o, const char *user,
				    char *dn, size_t dncap, char *detail, size_t cap)
{
	char filter[2 * LP_LDAP_STR_MAX];
	char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL };
	struct timeval tv = { LP_LDAP_OP_TIMEOUT_S, 0 };
	LDAPMessage *res = NULL;
	static const int scopes[] = { [LP_LDAP_SCOPE_BASE] = LDAP_SCOPE_BASE,
				      [LP_LDAP_SCOPE_ONE] = LDAP_SCOPE_ONELEVEL,
				      [LP_LDAP_SCOPE_SUB] = LDAP_SCOPE_SUBTREE };
	enum lp_ext_result r;

	int rc = bind_as(ld, o->binddn[0] ? o->binddn : "", o->bindpasswd);
	if (rc != LDAP_SUCCESS) {
		r = classify(rc);
		snprintf(detail, cap, "could not perform the initial LDAP bind for ldapbinddn \"%s\": %s",
			 o->binddn, ldap_err2string(rc));
		return r == LP_EXT_UNAVAILABLE ? r : LP_EXT_ERROR;
	}
	if (lp_ldap_filter(o, user, filter, sizeof(filter)) < 0) {
		snprintf(detail, cap, "LDAP search filter too long");
		return LP_EXT_DENIED;
	}
	rc = ldap_search_ext_s(ld, o->basedn, scopes[o->scope], filter, attrs, 0, NULL, NULL, &tv,
			       2, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		r = classify(rc);
		snprintf(detail, cap, "LDAP search for filter \"%s\" failed: %s", filter,
			 ldap_err2string(rc));
		ldap_msgfree(res);
		return r == LP_EXT_OK ? LP_EXT_ERROR : r;
	}
	int n = res ? ldap_count_entries(ld, res) : 0;
	if (n != 1) {
		snprintf(detail, cap, "LDAP user \"%s\" %s (filter \"%s\")", user,
			 n == 0 ? "does not exist" : "is not unique", filter);
		ldap_msgfree(res);
		return LP_EXT_DENIED;
	}
	char *found = ldap_get_dn(ld, ldap_first_entry(ld, res));
	ldap_msgfree(res);
	if (!found) {
		snprintf(detail, cap, "could not get the DN of the LDAP entry of \"%s\"", user);
		return LP_EXT_ERROR;
	}
	int w = snprintf(dn, dncap, "%s", found);
	ldap_memfree(found);
	if (w < 0 || (size_t)w >= dncap) {
		snprintf(detail, cap, "DN of the LDAP entry of \"%s\" is too long", user);
		return LP_EXT_DENIED;
	}
	return LP_EXT_OK;
}

void lp_ldap_global_init(void)
{
	int version;
	(void)ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
}

enum lp_ext_result lp_ldap_check(const struct lp_ldap_opts *o, const char *user,
				 const char *password, char *detail, size_t cap)
{
	char uris[4 * LP_LDAP_STR_MAX];
	char dn[4 * LP_LDAP_STR_MAX];
	LDAP *ld = NULL;
	enum lp_ext_result r;
	int rc;

	detail[0] = '\0';
	if (!password[0]) {
		snprintf(detail, cap, "empty password");
		return LP_EXT_DENIED;
	}
	if (!lp_ldap_user_ok(o, user)) {
		snprintf(detail, cap, "user name has a character LDAP authentication refuses");
		return LP_EXT_DENIED;
	}
	if (lp_ldap_uris(o, uris, sizeof(uris)) < 0) {
		snprintf(detail, cap, "LDAP server list too long");
		return LP_EXT_ERROR;
	}
	rc = ldap_initialize(&ld, uris);
	if (rc != LDAP_SUCCESS) {
		snprintf(detail, cap, "could not initialize LDAP for %s: %s", uris,
			 ldap_err2string(rc));
		return LP_EXT_ERROR;
	}
	int version = LDAP_VERSION3;
	struct timeval connect_tv = { LP_LDAP_CONNECT_TIMEOUT_S, 0 };
	struct timeval op_tv = { LP_LDAP_OP_TIMEOUT_S, 0 };
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &connect_tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op_tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS) {
		snprintf(detail, cap, "could not set LDAP options");
		r = LP_EXT_ERROR;
		goto done;
	}
	if (o->starttls) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			snprintf(detail, cap, "could not start LDAP TLS session with %s: %s", uris,
				 ldap_err2string(rc));
			r = LP_EXT_UNAVAILABLE;
			goto done;
		}
	}
	if (o->simple_bind) {
		if (lp_ldap_bind_dn(o, user, dn, sizeof(dn)) < 0) {
			snprintf(detail, cap, "LDAP bind DN too long");
			r = LP_EXT_DENIED;
			goto done;
		}
	} else {
		r = search_dn(ld, o, user, dn, sizeof(dn), detail, cap);
		if (r != LP_EXT_OK)
			goto done;
	}
	rc = bind_as(ld, dn, password);
	r = classify(rc);
	if (r != LP_EXT_OK)
		snprintf(detail, cap, "LDAP bind as \"%s\" on %s failed: %s", dn, uris,
			 ldap_err2string(rc));
done:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}
