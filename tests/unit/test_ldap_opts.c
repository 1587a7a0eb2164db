/* LDAP option parser (src/auth/ldap_opts.c): both modes, ldapurl, quoting,
 * the mode rules, refusals, and the URI / DN / filter builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/hba.h"
#include "auth/ldap_opts.h"

static struct lp_ldap_opts o;
static char why[256];

static int parse(const char *s)
{
	return lp_ldap_opts_parse(s, strlen(s), &o, why, sizeof(why));
}

static void test_simple_bind(void **state)
{
	(void)state;
	char buf[512];
	assert_int_equal(parse("ldapserver=127.0.0.1 ldapport=3389 ldapprefix=\"uid=\" "
			       "ldapsuffix=\",dc=example,dc=net\""), 0);
	assert_string_equal(o.server, "127.0.0.1");
	assert_int_equal(o.port, 3389);
	assert_true(o.simple_bind);
	assert_false(o.ldaps);
	assert_string_equal(o.prefix, "uid=");
	assert_string_equal(o.suffix, ",dc=example,dc=net");
	assert_int_equal(lp_ldap_bind_dn(&o, "alice", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "uid=alice,dc=example,dc=net");
	assert_int_equal(lp_ldap_uris(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ldap://127.0.0.1:3389");
	/* a user name that would change the DN is refused */
	assert_true(lp_ldap_user_ok(&o, "alice.b@x"));
	assert_false(lp_ldap_user_ok(&o, "a,dc=evil"));
	assert_false(lp_ldap_user_ok(&o, ""));
	assert_int_equal(lp_ldap_bind_dn(&o, "alice", buf, 10), -1);
}

static void test_search_bind(void **state)
{
	(void)state;
	char buf[512];
	assert_int_equal(parse("ldapserver=\"a.example b.example\" ldapscheme=ldaps ldaptls=0 "
			       "ldapbasedn=\"dc=x\" ldapbinddn=\"cn=admin,dc=x\" "
			       "ldapbindpasswd=\"p\"\"w\" ldapsearchattribute=cn"), 0);
	assert_false(o.simple_bind);
	assert_true(o.ldaps);
	assert_string_equal(o.bindpasswd, "p\"w");
	assert_int_equal(o.scope, LP_LDAP_SCOPE_SUB);
	assert_int_equal(lp_ldap_uris(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ldaps://a.example:636 ldaps://b.example:636");
	assert_int_equal(lp_ldap_filter(&o, "bob", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "(cn=bob)");
	assert_false(lp_ldap_user_ok(&o, "b*"));
	assert_false(lp_ldap_user_ok(&o, "b)(uid=*"));
	assert_true(lp_ldap_user_ok(&o, "bob,x"));

	assert_int_equal(parse("ldapserver=::1 ldapbasedn=dc=x "
			       "ldapsearchfilter=\"(|(uid=$username)(mail=$username))\""), 0);
	assert_int_equal(lp_ldap_filter(&o, "bob", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "(|(uid=bob)(mail=bob))");
	assert_int_equal(lp_ldap_uris(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ldap://[::1]:389");
	assert_int_equal(parse("ldapserver=h ldapbasedn=dc=x"), 0);
	assert_int_equal(lp_ldap_filter(&o, "bob", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "(uid=bob)");
}

static void test_url(void **state)
{
	(void)state;
	char buf[512];
	assert_int_equal(parse("ldapurl=\"ldap://127.0.0.1:3389/dc=example,dc=net?uid?sub\""), 0);
	assert_string_equal(o.server, "127.0.0.1");
	assert_int_equal(o.port, 3389);
	assert_string_equal(o.basedn, "dc=example,dc=net");
	assert_string_equal(o.search_attr, "uid");
	assert_int_equal(o.scope, LP_LDAP_SCOPE_SUB);
	assert_int_equal(parse("ldapurl=\"ldaps://h/dc=x%2Cdc=y??one?(|(uid=$username)(mail=$username))\" "
			       "ldaptls=1"), 0);
	assert_true(o.ldaps);
	assert_true(o.starttls);
	assert_int_equal(o.port, 0);
	assert_string_equal(o.basedn, "dc=x,dc=y");
	assert_int_equal(o.scope, LP_LDAP_SCOPE_ONE);
	assert_string_equal(o.search_filter, "(|(uid=$username)(mail=$username))");
	assert_int_equal(lp_ldap_uris(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ldaps://h:636");
	assert_int_equal(parse("ldapurl=ldap://[::1]:10/dc=x ldapbinddn=cn=a"), 0);
	assert_string_equal(o.server, "::1");
	assert_int_equal(o.port, 10);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "no LDAP server" },
		{ "ldapprefix=x", "no LDAP server" },
		{ "ldapserver=h", "requires ldapbasedn, ldapprefix or ldapsuffix" },
		{ "ldapserver=h ldapprefix=x ldapbasedn=y", "cannot be mixed" },
		{ "ldapserver=h ldapsuffix=x ldapbindpasswd=y", "cannot be mixed" },
		{ "ldapserver=h ldapbasedn=y ldapsearchattribute=a ldapsearchfilter=f",
		  "cannot be combined" },
		{ "ldapserver=h ldapserver=i ldapbasedn=y", "ldapserver given twice" },
		{ "ldapurl=ldap://h/x ldapbasedn=y", "ldapbasedn given twice" },
		{ "ldapserver=h ldapport=0 ldapbasedn=y", "invalid LDAP port" },
		{ "ldapserver=h ldapport=65536 ldapbasedn=y", "invalid LDAP port" },
		{ "ldapserver=h ldapport=1x ldapbasedn=y", "invalid LDAP port" },
		{ "ldapserver=h ldapscheme=http ldapbasedn=y", "ldapscheme must be" },
		{ "ldapserver=h ldaptls=yes ldapbasedn=y", "ldaptls must be 0 or 1" },
		{ "ldapserver=h ldapfoo=1", "unknown LDAP option \"ldapfoo\"" },
		{ "ldapserver", "is not name=value" },
		{ "ldapserver=\"h", "unterminated" },
		{ "ldapurl=http://h/x", "must begin with ldap://" },
		{ "ldapurl=ldap:///x", "must name a host" },
		{ "ldapurl=ldap://h/x?a,b", "more than one attribute" },
		{ "ldapurl=ldap://h/x?a?sub ldapserver=i", "ldapserver given twice" },
		{ "ldapurl=ldap://h/x?a?deep", "invalid scope" },
		{ "ldapurl=ldap://h/x?a?sub?f?ext", "extensions" },
		{ "ldapurl=ldap://h/x%2", "%-escape" },
		{ "ldapurl=ldap://h/x%00", "NUL" },
		{ "ldapurl=ldap://h:99999/x", "invalid LDAP port" },
		{ "ldapurl=ldap://[::1/x", "invalid host" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].text) != -1 || !strstr(why, bad[i].why)) {
			print_error("%s -> %s (want %s)\n", bad[i].text, why, bad[i].why);
			fail();
		}
	}
	/* the password is never quoted in a refusal */
	assert_int_equal(parse("ldapserver=h ldapprefix=x ldapbindpasswd=sekrit-77"), -1);
	assert_null(strstr(why, "sekrit"));
	/* every string option is bounded */
	char *big = malloc(LP_LDAP_STR_MAX + 64);
	assert_non_null(big);
	memcpy(big, "ldapserver=", 11);
	memset(big + 11, 'h', LP_LDAP_STR_MAX);
	big[11 + LP_LDAP_STR_MAX] = '\0';
	assert_int_equal(parse(big), -1);
	free(big);
}

/* An HBA ldap line's options reach the same parser, quotes and commas
 * handled by the HBA tokenizer first. */
static void test_hba_ldap_rule(void **state)
{
	(void)state;
	static const char text[] =
		"host all u 0.0.0.0/0 ldap ldapserver=127.0.0.1 \"ldapport\"=3389 "
		"ldapbasedn=\"dc=example,dc=net\" ,ldapsearchfilter=\"uid=$username\"\n"
		"local all all pam\n";
	struct lp_hba h;
	struct lp_diag d = { 0 };
	assert_int_equal(lp_hba_parse(text, strlen(text), "hba.conf", &h, &d), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.rules[0].method, LP_HBA_LDAP);
	assert_int_equal(h.rules[1].method, LP_HBA_PAM);
	assert_null(h.rules[1].ldap_opts);
	const char *t = h.rules[0].ldap_opts;
	assert_int_equal(lp_ldap_opts_parse(t, strlen(t), &o, why, sizeof(why)), 0);
	assert_int_equal(o.port, 3389);
	assert_string_equal(o.basedn, "dc=example,dc=net");
	assert_string_equal(o.search_filter, "uid=$username");
	lp_hba_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_bind),
		cmocka_unit_test(test_search_bind),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_hba_ldap_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
