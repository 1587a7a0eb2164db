/*
 * libFuzzer harness for the LDAP option parser (src/auth/ldap_opts), the
 * text of auth_ldap_options and of an auth_hba_file ldap rule.
 *
 * A refusal must say why; an accepted text must satisfy the mode rules,
 * and the URI, bind DN and filter builders must stay within their buffers
 * for a few user names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ldap_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = { "alice", "", "a*)(uid=*", "x,dc=evil",
					     "$username$username" };
	static struct lp_ldap_opts o;
	char why[256], buf[4 * LP_LDAP_STR_MAX];

	if (size > 65536)
		return 0;
	if (lp_ldap_opts_parse((const char *)data, size, &o, why, sizeof(why)) < 0) {
		if (!why[0] || !memchr(why, '\0', sizeof(why)))
			abort();
		return 0;
	}
	if (!o.server[0] || (!o.simple_bind && !o.basedn[0]) ||
	    (o.simple_bind && (o.basedn[0] || o.binddn[0] || o.search_filter[0])) ||
	    o.port < 0 || o.port > 65535)
		abort();
	(void)lp_ldap_uris(&o, buf, sizeof(buf));
	(void)lp_ldap_uris(&o, buf, 16);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		(void)lp_ldap_user_ok(&o, users[i]);
		(void)lp_ldap_bind_dn(&o, users[i], buf, sizeof(buf));
		(void)lp_ldap_filter(&o, users[i], buf, sizeof(buf));
		(void)lp_ldap_filter(&o, users[i], buf, 8);
	}
	return 0;
}
