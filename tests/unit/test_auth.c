/*
 * Unit tests of src/auth: md5, base64 and SCRAM-SHA-256 (both sides,
 * pass-through, known-answer vectors, hostile messages). Expected values
 * were computed with Python's hashlib/hmac; the SCRAM exchange vector is
 * RFC 7677's (with its erratum for the server signature).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"
#include "auth/md5.h"
#include "auth/scram.h"

/* ---- md5 ---- */

static void test_md5_secret(void **state)
{
	char out[LP_MD5_SECRET_LEN + 1];

	(void)state;
	lp_md5_secret("postgres", "secret", out);
	assert_string_equal(out, "md553f48b7c4b76a86ce72276c5755f217d");
	assert_true(lp_md5_is_secret(out));
	assert_false(lp_md5_is_secret("md553f48b7c4b76a86ce72276c5755f217"));
	assert_false(lp_md5_is_secret("md553f48b7c4b76a86ce72276c5755f217dd"));
	assert_false(lp_md5_is_secret("md553F48B7C4B76A86CE72276C5755F217D"));
	assert_false(lp_md5_is_secret("md5"));
	assert_false(lp_md5_is_secret(""));
	assert_false(lp_md5_is_secret("xyz53f48b7c4b76a86ce72276c5755f217d"));
}

static void test_md5_response_verify(void **state)
{
	static const uint8_t salt[4] = { 1, 2, 3, 4 };
	static const uint8_t salt2[4] = { 0xde, 0xad, 0xbe, 0xef };
	char out[LP_MD5_SECRET_LEN + 1];

	(void)state;
	lp_md5_response("md553f48b7c4b76a86ce72276c5755f217d", salt, out);
	assert_string_equal(out, "md5bb41a296aab6baccb36ff243a562abff");
	lp_md5_response("md553f48b7c4b76a86ce72276c5755f217d", salt2, out);
	assert_string_equal(out, "md5c546d0bbed2af888b328536b45c76348");
	lp_md5_response("not-a-secret", salt, out);
	assert_string_equal(out, "");

	/* stored as md5 secret and as plain password */
	assert_true(lp_md5_verify("md553f48b7c4b76a86ce72276c5755f217d", "postgres", salt,
				  "md5bb41a296aab6baccb36ff243a562abff"));
	assert_true(lp_md5_verify("secret", "postgres", salt, "md5bb41a296aab6baccb36ff243a562abff"));
	assert_true(lp_md5_verify("secret", "postgres", salt2, "md5c546d0bbed2af888b328536b45c76348"));
	/* wrong salt, user, password, truncated or extended response */
	assert_false(lp_md5_verify("secret", "postgres", salt2, "md5bb41a296aab6baccb36ff243a562abff"));
	assert_false(lp_md5_verify("secret", "postgre", salt, "md5bb41a296aab6baccb36ff243a562abff"));
	assert_false(lp_md5_verify("secreT", "postgres", salt, "md5bb41a296aab6baccb36ff243a562abff"));
	assert_false(lp_md5_verify("secret", "postgres", salt, "md5bb41a296aab6baccb36ff243a562abf"));
	assert_false(lp_md5_verify("secret", "postgres", salt, "md5bb41a296aab6baccb36ff243a562abff0"));
	assert_false(lp_md5_verify("secret", "postgres", salt, ""));
	/* a SCRAM verifier cannot answer md5 */
	assert_false(lp_md5_verify("SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:"
				   "7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
				   "postgres", salt, "md5bb41a296aab6baccb36ff243a562abff"));
}

/* ---- base64 ---- */

static void test_base64(void **state)
{
	static const struct { const char *raw, *enc; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *bad[] = { "Zg=", "Zg", "Z===", "=Zg=", "Zg==Zg==", "Zm9v!A==", "Zm=v",
				     "Zm9\n", "Zg= " };
	char enc[32];
	uint8_t dec[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(lp_base64_encode((const uint8_t *)v[i].raw, strlen(v[i].raw), enc,
						  sizeof(enc), &n), 0);
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(n, strlen(v[i].enc));
		assert_int_equal(lp_base64_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, strlen(v[i].raw));
		assert_memory_equal(dec, v[i].raw, n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lp_base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n), -1);
	/* bounded output, both ways */
	assert_int_equal(lp_base64_encode((const uint8_t *)"foo", 3, enc, 4, &n), -1);
	assert_int_equal(lp_base64_encode((const uint8_t *)"foo", 3, enc, 5, &n), 0);
	assert_int_equal(lp_base64_decode("Zm9vYmFy", 8, dec, 5, &n), -1);
	assert_int_equal(lp_base64_decode("Zm9vYmE=", 8, dec, 5, &n), 0);
	assert_int_equal(lp_base64_decode("Zm9vYmE=", 8, dec, 4, &n), -1);
}

/* ---- SCRAM secrets ---- */

/* Computed with hashlib.pbkdf2_hmac as PostgreSQL computes it: password
 * "secret", salt 00..0f, 4096 iterations. */
static const char PG_VERIFIER[] =
	"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:"
	"7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=";

/* RFC 7677 section 3 */
static const char RFC_SALT_B64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
static const char RFC_CNONCE[] = "rOprNGfwEbeRWgbNEkqO";
static const char RFC_SNONCE[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char RFC_SERVER_FIRST[] =
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char RFC_CLIENT_FINAL[] =
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char RFC_SERVER_FINAL[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
static const char RFC_VERIFIER[] =
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

static void test_scram_secret_known(void **state)
{
	struct lp_scram_secret a, b;
	uint8_t salt[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)i;
	assert_true(lp_scram_is_secret(PG_VERIFIER));
	assert_true(lp_scram_parse_secret(PG_VERIFIER, &a));
	assert_int_equal(a.iterations, 4096);
	assert_int_equal(a.salt_len, 16);
	assert_memory_equal(a.salt, salt, 16);
	assert_true(lp_scram_secret_from_password("secret", salt, 16, 4096, &b));
	assert_int_equal(b.iterations, 4096);
	assert_memory_equal(a.stored_key, b.stored_key, LP_SCRAM_KEY_LEN);
	assert_memory_equal(a.server_key, b.server_key, LP_SCRAM_KEY_LEN);
	assert_memory_equal(a.salt, b.salt, 16);

	/* bad arguments */
	assert_false(lp_scram_secret_from_password("x", salt, 0, 4096, &b));
	assert_false(lp_scram_secret_from_password("x", salt, LP_SCRAM_MAX_SALT + 1, 4096, &b));
	assert_false(lp_scram_secret_from_password("x", salt, 16, 0, &b));
	assert_false(lp_scram_secret_from_password("x", salt, 16, 10000001, &b));
}

static void test_scram_secret_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-1$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$0:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$-1:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$4096x:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$99999999999:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$4096:$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw=$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=x",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=",
		"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=:AAAA",
		"md553f48b7c4b76a86ce72276c5755f217d",
		"secret",
	};
	struct lp_scram_secret s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(lp_scram_is_secret(bad[i]));
		assert_false(lp_scram_parse_secret(bad[i], &s));
	}
}

static void test_scram_make_verifier(void **state)
{
	char v[256], v2[256];
	struct lp_scram_secret a, b;

	(void)state;
	assert_true(lp_scram_make_verifier("hunter2", 4096, v, sizeof(v)));
	assert_true(lp_scram_parse_secret(v, &a));
	assert_int_equal(a.iterations, 4096);
	assert_int_equal(a.salt_len, 16);
	assert_true(lp_scram_secret_from_password("hunter2", a.salt, a.salt_len, 4096, &b));
	assert_memory_equal(a.stored_key, b.stored_key, LP_SCRAM_KEY_LEN);
	assert_memory_equal(a.server_key, b.server_key, LP_SCRAM_KEY_LEN);
	/* random salt: two verifiers differ */
	assert_true(lp_scram_make_verifier("hunter2", 4096, v2, sizeof(v2)));
	assert_string_not_equal(v, v2);
	/* capacity */
	assert_false(lp_scram_make_verifier("hunter2", 4096, v, strlen(v2)));
	assert_true(lp_scram_make_verifier("hunter2", 4096, v, strlen(v2) + 1));
	assert_false(lp_scram_make_verifier("hunter2", 0, v, sizeof(v)));
}

/* ---- SCRAM exchanges ---- */

static void put_server_first(struct lp_scram_server *s, const char *snonce, const char *salt_b64)
{
	snprintf(s->server_nonce, sizeof(s->server_nonce), "%s", snonce);
	snprintf(s->server_first, sizeof(s->server_first), "r=%s%s,s=%s,i=%d", s->client_nonce,
		 s->server_nonce, salt_b64, s->secret.iterations);
}

static void test_scram_rfc_server(void **state)
{
	static const char cfirst[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	struct lp_scram_server s;
	struct lp_scram_secret sec;
	char out[512];
	size_t n;
	const char *err = NULL;

	(void)state;
	assert_true(lp_scram_parse_secret(RFC_VERIFIER, &sec));
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)cfirst, strlen(cfirst), out,
					       sizeof(out), &n, &err), 0);
	assert_int_equal(n, strlen(out));
	assert_string_equal(s.client_nonce, RFC_CNONCE);
	assert_string_equal(s.client_first_bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
	assert_string_equal(s.gs2_header, "n,,");
	assert_int_equal(strncmp(out, "r=rOprNGfwEbeRWgbNEkqO", 22), 0);
	assert_non_null(strstr(out, ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
	/* replace our random nonce with the RFC's to replay its exchange */
	put_server_first(&s, RFC_SNONCE, RFC_SALT_B64);
	assert_string_equal(s.server_first, RFC_SERVER_FIRST);
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)RFC_CLIENT_FINAL,
					       strlen(RFC_CLIENT_FINAL), out, sizeof(out), &n, &err), 0);
	assert_string_equal(out, RFC_SERVER_FINAL);
	assert_true(s.have_client_key);
	{
		static const uint8_t ck[32] = {
			0xa6, 0x0f, 0xc9, 0x23, 0xd6, 0x7e, 0x86, 0x44, 0xa9, 0x2d, 0x16, 0xb9, 0x6e, 0xda, 0x5e, 0xf4,
			0x65, 0x6b, 0x0c, 0x72, 0x5c, 0x48, 0x43, 0x74, 0xbe, 0x25, 0x53, 0x55, 0x76, 0x99, 0x6e, 0x8b,
		};
		assert_memory_equal(s.client_key, ck, 32);
	}
	/* a second final on a finished exchange is refused */
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)RFC_CLIENT_FINAL,
					       strlen(RFC_CLIENT_FINAL), out, sizeof(out), &n, &err), -1);
}

static void test_scram_rfc_client(void **state)
{
	struct lp_scram_client c;
	char out[512];
	size_t n;
	const char *err = NULL;

	(void)state;
	assert_int_equal(lp_scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_int_equal(n, strlen(out));
	assert_int_equal(strncmp(out, "n,,n=,r=", 8), 0);
	assert_string_equal(out + 3, c.client_first_bare);
	snprintf(c.client_nonce, sizeof(c.client_nonce), "%s", RFC_CNONCE);
	snprintf(c.client_first_bare, sizeof(c.client_first_bare), "n=user,r=%s", RFC_CNONCE);
	assert_int_equal(lp_scram_client_final(&c, "pencil", NULL, NULL, (const uint8_t *)RFC_SERVER_FIRST,
					       strlen(RFC_SERVER_FIRST), out, sizeof(out), &n, &err), 0);
	assert_string_equal(out, RFC_CLIENT_FINAL);
	assert_int_equal(n, strlen(RFC_CLIENT_FINAL));
	assert_int_equal(lp_scram_client_verify(&c, (const uint8_t *)RFC_SERVER_FINAL,
						strlen(RFC_SERVER_FINAL), &err), 0);
}

/* One full exchange between our two sides. Returns the server's result. */
static int exchange(const struct lp_scram_secret *server_secret, const char *password,
		    const uint8_t *client_key, const struct lp_scram_secret *client_secret,
		    struct lp_scram_server *s, const char **err)
{
	struct lp_scram_client c;
	char m1[LP_SCRAM_MSG_MAX], m2[LP_SCRAM_MSG_MAX], m3[LP_SCRAM_MSG_MAX], m4[LP_SCRAM_MSG_MAX];
	size_t n1, n2, n3, n4;

	memset(s, 0, sizeof(*s));
	assert_int_equal(lp_scram_client_first(&c, m1, sizeof(m1), &n1), 0);
	assert_int_equal(lp_scram_server_first(s, server_secret, (const uint8_t *)m1, n1, m2, sizeof(m2),
					       &n2, err), 0);
	if (lp_scram_client_final(&c, password, client_key, client_secret, (const uint8_t *)m2, n2, m3,
				  sizeof(m3), &n3, err) != 0)
		return -2;
	if (lp_scram_server_final(s, (const uint8_t *)m3, n3, m4, sizeof(m4), &n4, err) != 0)
		return -1;
	assert_int_equal(lp_scram_client_verify(&c, (const uint8_t *)m4, n4, err), 0);
	return 0;
}

static void test_scram_exchange_password(void **state)
{
	struct lp_scram_secret sec;
	struct lp_scram_server s;
	const char *err = NULL;
	char v[256];

	(void)state;
	assert_true(lp_scram_parse_secret(PG_VERIFIER, &sec));
	assert_int_equal(exchange(&sec, "secret", NULL, NULL, &s, &err), 0);
	assert_true(s.have_client_key);
	err = NULL;
	assert_int_equal(exchange(&sec, "Secret", NULL, NULL, &s, &err), -1);
	assert_string_equal(err, "password authentication failed");
	assert_false(s.have_client_key);

	/* a non-ASCII password is used as raw bytes on both sides */
	assert_true(lp_scram_make_verifier("p\xc3\xa4ss", 1000, v, sizeof(v)));
	assert_true(lp_scram_parse_secret(v, &sec));
	assert_int_equal(exchange(&sec, "p\xc3\xa4ss", NULL, NULL, &s, &err), 0);
	/* a plain stored password, turned into a secret by the caller */
	assert_true(lp_scram_secret_from_password("plain", (const uint8_t *)"0123456789abcdef", 16,
						  LP_SCRAM_DEFAULT_ITER, &sec));
	assert_int_equal(exchange(&sec, "plain", NULL, NULL, &s, &err), 0);
}

static void test_scram_passthrough(void **state)
{
	struct lp_scram_secret sec, other;
	struct lp_scram_server s1, s2;
	uint8_t ck[LP_SCRAM_KEY_LEN];
	const char *err = NULL;

	(void)state;
	assert_true(lp_scram_parse_secret(PG_VERIFIER, &sec));
	/* client -> linkpool with the password; linkpool recovers ClientKey */
	assert_int_equal(exchange(&sec, "secret", NULL, NULL, &s1, &err), 0);
	assert_true(s1.have_client_key);
	memcpy(ck, s1.client_key, sizeof(ck));
	/* linkpool -> "PostgreSQL" (our server side) with ClientKey + verifier */
	assert_int_equal(exchange(&sec, NULL, ck, &sec, &s2, &err), 0);
	assert_memory_equal(s2.client_key, ck, sizeof(ck));
	/* a wrong ClientKey fails at the server */
	ck[0] ^= 1;
	assert_int_equal(exchange(&sec, NULL, ck, &sec, &s2, &err), -1);
	assert_string_equal(err, "password authentication failed");
	ck[0] ^= 1;
	/* the server's salt or iteration count differ from our verifier: refused */
	other = sec;
	other.salt[0] ^= 1;
	assert_int_equal(exchange(&other, NULL, ck, &sec, &s2, &err), -2);
	other = sec;
	other.iterations = 4097;
	assert_int_equal(exchange(&other, NULL, ck, &sec, &s2, &err), -2);
	other = sec;
	other.salt_len = 15;
	assert_int_equal(exchange(&other, NULL, ck, &sec, &s2, &err), -2);
	/* both or neither credential: refused */
	assert_int_equal(exchange(&sec, "secret", ck, &sec, &s2, &err), -2);
	assert_int_equal(exchange(&sec, NULL, NULL, NULL, &s2, &err), -2);
	assert_int_equal(exchange(&sec, NULL, ck, NULL, &s2, &err), -2);
}

static void test_scram_mock_user(void **state)
{
	static const uint8_t fake_salt[32] = "linkpool-mock-salt-0123456789ab";
	struct lp_scram_secret a, b;
	struct lp_scram_server s;
	const char *err = NULL;

	(void)state;
	/* deterministic with a fixed salt and fake password */
	assert_true(lp_scram_secret_from_password("", fake_salt, sizeof(fake_salt), 4096, &a));
	assert_true(lp_scram_secret_from_password("", fake_salt, sizeof(fake_salt), 4096, &b));
	assert_memory_equal(&a.stored_key, &b.stored_key, LP_SCRAM_KEY_LEN);
	/* NULL password: no password matches, the exchange still looks normal */
	assert_true(lp_scram_secret_from_password(NULL, fake_salt, sizeof(fake_salt), 4096, &a));
	assert_int_equal(a.salt_len, sizeof(fake_salt));
	assert_int_equal(exchange(&a, "", NULL, NULL, &s, &err), -1);
	assert_string_equal(err, "password authentication failed");
	assert_int_equal(exchange(&a, "secret", NULL, NULL, &s, &err), -1);
	assert_string_equal(err, "password authentication failed");
	/* maximal salt */
	{
		uint8_t big[LP_SCRAM_MAX_SALT];
		memset(big, 0x5a, sizeof(big));
		assert_true(lp_scram_secret_from_password("pw", big, sizeof(big), 16, &a));
		assert_int_equal(exchange(&a, "pw", NULL, NULL, &s, &err), 0);
	}
}

/* ---- hostile messages ---- */

static void test_scram_server_first_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"n",
		"n,",
		"n,,",
		"p=tls-server-end-point,,n=,r=abc",
		"x,,n=,r=abc",
		"n,a=user,n=,r=abc",
		"n;,n=,r=abc",
		"nn,,n=,r=abc",
		"n,,r=abc",                /* missing n= */
		"n,,n=",                   /* missing r= */
		"n,,n=,",
		"n,,n=,r=",                /* empty nonce */
		"n,,r=abc,n=",             /* wrong order */
		"n,,m=ext,n=,r=abc",       /* mandatory extension */
		"n,,n=,r=ab c",            /* space in nonce */
		"n,,n=,r=ab\x7f",          /* DEL in nonce */
		"n,,n=,r=ab\x80",
		"n,,n=,r=abc,",            /* trailing comma */
		"n,,n=,r=abc,x",           /* broken extension */
		"n,,n=,r=abc,=x",
		"n,,n=,r=abc,1=x",
		"N,,n=,r=abc",
	};
	struct lp_scram_secret sec;
	struct lp_scram_server s;
	char out[LP_SCRAM_MSG_MAX], big[LP_SCRAM_MSG_MAX + 64];
	size_t n;
	const char *err;

	(void)state;
	assert_true(lp_scram_parse_secret(PG_VERIFIER, &sec));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		err = NULL;
		assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)bad[i], strlen(bad[i]),
						       out, sizeof(out), &n, &err), -1);
		assert_non_null(err);
	}
	/* embedded NUL */
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)"n,,n=,r=ab\0c", 12, out,
					       sizeof(out), &n, &err), -1);
	/* nonce at and over the limit */
	memcpy(big, "n,,n=,r=", 8);
	memset(big + 8, 'a', LP_SCRAM_NONCE_MAX);
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)big, 8 + LP_SCRAM_NONCE_MAX, out,
					       sizeof(out), &n, &err), 0);
	memset(big + 8, 'a', LP_SCRAM_NONCE_MAX + 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)big, 8 + LP_SCRAM_NONCE_MAX + 1,
					       out, sizeof(out), &n, &err), -1);
	/* message too long (a long user name) */
	memcpy(big, "n,,n=", 5);
	memset(big + 5, 'u', sizeof(big) - 5);
	memcpy(big + sizeof(big) - 8, ",r=abcd", 7);
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)big, sizeof(big) - 1, out,
					       sizeof(out), &n, &err), -1);
	/* output capacity too small */
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)"n,,n=,r=abc", 11, out, 10, &n,
					       &err), -1);
	/* accepted variants: 'y' flag, a user name, extensions after the nonce */
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)"y,,n=bob,r=abc,x=1", 18, out,
					       sizeof(out), &n, &err), 0);
	assert_string_equal(s.gs2_header, "y,,");
	/* called twice */
	assert_int_equal(lp_scram_server_first(&s, &sec, (const uint8_t *)"n,,n=,r=abc", 11, out,
					       sizeof(out), &n, &err), -1);
}

/* Starts a server exchange with client nonce "abc"; *fnonce gets the combined nonce. */
static void start_server(struct lp_scram_server *s, const struct lp_scram_secret *sec, const char *first,
			 char *fnonce, size_t cap)
{
	char out[LP_SCRAM_MSG_MAX];
	size_t n;
	const char *err;

	memset(s, 0, sizeof(*s));
	assert_int_equal(lp_scram_server_first(s, sec, (const uint8_t *)first, strlen(first), out,
					       sizeof(out), &n, &err), 0);
	snprintf(fnonce, cap, "%s%s", s->client_nonce, s->server_nonce);
}

static void test_scram_server_final_malformed(void **state)
{
	/* %s is the combined nonce; the proof is 32 zero bytes (wrong, but well-formed) */
	static const char *fmt_bad[] = {
		"",
		"c=biws",
		"c=biws,r=%s",
		"c=biws,r=%s,",
		"c=biws,r=%s,p=",
		"c=biws,r=%s,p=AAAA",                                             /* 3 bytes */
		"c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 36 bytes */
		"c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",      /* bad b64 */
		"c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,x=1", /* garbage after p */
		"c=biws,r=%sX,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",    /* nonce + X */
		"c=biws,r=abc,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",    /* client nonce only */
		"c=eSws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     /* c=b64("y,") */
		"c=eSws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"c=eSws==,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"c=eSws!,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"c=,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"r=%s,c=biws,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     /* order */
		"c=biws,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,r=%s",
		"c=biws,r=%s",
		"c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     /* wrong proof */
	};
	struct lp_scram_secret sec;
	struct lp_scram_server s;
	char fnonce[256], msg[LP_SCRAM_MSG_MAX + 64], out[LP_SCRAM_MSG_MAX];
	size_t n;
	const char *err;

	(void)state;
	assert_true(lp_scram_parse_secret(PG_VERIFIER, &sec));
	for (size_t i = 0; i < sizeof(fmt_bad) / sizeof(fmt_bad[0]); i++) {
		start_server(&s, &sec, "n,,n=,r=abc", fnonce, sizeof(fnonce));
		snprintf(msg, sizeof(msg), fmt_bad[i], fnonce);
		err = NULL;
		assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)msg, strlen(msg), out, sizeof(out),
						       &n, &err), -1);
		assert_non_null(err);
		assert_false(s.have_client_key);
	}
	/* only the last one was a well-formed wrong proof */
	assert_string_equal(err, "password authentication failed");

	/* a 'y' exchange must send c=eSws (b64 "y,,") -- "biws" is a downgrade */
	start_server(&s, &sec, "y,,n=,r=abc", fnonce, sizeof(fnonce));
	snprintf(msg, sizeof(msg), "c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", fnonce);
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)msg, strlen(msg), out, sizeof(out), &n,
					       &err), -1);
	assert_string_equal(err, "SCRAM channel binding check failed");
	start_server(&s, &sec, "y,,n=,r=abc", fnonce, sizeof(fnonce));
	snprintf(msg, sizeof(msg), "c=eSws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", fnonce);
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)msg, strlen(msg), out, sizeof(out), &n,
					       &err), -1);
	assert_string_equal(err, "password authentication failed");

	/* extension before the proof is accepted (reaches the proof check) */
	start_server(&s, &sec, "n,,n=,r=abc", fnonce, sizeof(fnonce));
	snprintf(msg, sizeof(msg), "c=biws,r=%s,x=1,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", fnonce);
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)msg, strlen(msg), out, sizeof(out), &n,
					       &err), -1);
	assert_string_equal(err, "password authentication failed");

	/* embedded NUL, too long, wrong state */
	start_server(&s, &sec, "n,,n=,r=abc", fnonce, sizeof(fnonce));
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)"c=biws\0", 7, out, sizeof(out), &n,
					       &err), -1);
	start_server(&s, &sec, "n,,n=,r=abc", fnonce, sizeof(fnonce));
	memset(msg, 'A', sizeof(msg));
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)msg, sizeof(msg), out, sizeof(out), &n,
					       &err), -1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)"c=biws", 6, out, sizeof(out), &n, &err),
			 -1);
	/* after an error nothing continues, even a correct message */
	start_server(&s, &sec, "n,,n=,r=abc", fnonce, sizeof(fnonce));
	assert_int_equal(lp_scram_server_final(&s, (const uint8_t *)"junk", 4, out, sizeof(out), &n, &err),
			 -1);
	assert_int_equal(s.state, 2);
}

static void test_scram_client_final_malformed(void **state)
{
	/* %s is our client nonce */
	static const char *fmt_bad[] = {
		"",
		"r=%s",
		"r=%sSRV",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=0",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=-1",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=10000001",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=99999999999999999999",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096x",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=+4096",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096,",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096,x=1",
		"r=%sSRV,s=,i=4096",
		"r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw=,i=4096",
		"r=%sSRV,s=AAEC!wQFBgcICQoLDA0ODw==,i=4096",
		"r=%s,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",          /* no server part */
		"r=X%s,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",         /* does not start with ours */
		"r=SRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",
		"r=%sS V,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",
		"r=%sSRV\x01,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",
		"s=AAECAwQFBgcICQoLDA0ODw==,r=%sSRV,i=4096",       /* order */
		"r=%sSRV,i=4096,s=AAECAwQFBgcICQoLDA0ODw==",
		"m=foo,r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",
		"e=other-error",
	};
	struct lp_scram_client c;
	char first[128], msg[LP_SCRAM_MSG_MAX + 600], out[LP_SCRAM_MSG_MAX];
	size_t n;
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(fmt_bad) / sizeof(fmt_bad[0]); i++) {
		assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
		snprintf(msg, sizeof(msg), fmt_bad[i], c.client_nonce);
		err = NULL;
		assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg,
						       strlen(msg), out, sizeof(out), &n, &err), -1);
		assert_non_null(err);
	}
	/* server nonce over the limit */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	{
		char longn[LP_SCRAM_NONCE_MAX + 2];
		memset(longn, 'z', sizeof(longn) - 1);
		longn[sizeof(longn) - 1] = '\0';
		memcpy(longn, c.client_nonce, strlen(c.client_nonce));
		snprintf(msg, sizeof(msg), "r=%s,s=AAECAwQFBgcICQoLDA0ODw==,i=4096", longn);
		assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg,
						       strlen(msg), out, sizeof(out), &n, &err), -1);
		assert_string_equal(err, "invalid SCRAM server nonce");
	}
	/* salt over LP_SCRAM_MAX_SALT bytes */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	{
		char salt[LP_BASE64_ENC_LEN(LP_SCRAM_MAX_SALT + 3) + 1];
		uint8_t raw[LP_SCRAM_MAX_SALT + 3];
		memset(raw, 7, sizeof(raw));
		assert_int_equal(lp_base64_encode(raw, sizeof(raw), salt, sizeof(salt), NULL), 0);
		snprintf(msg, sizeof(msg), "r=%sSRV,s=%s,i=4096", c.client_nonce, salt);
		assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg,
						       strlen(msg), out, sizeof(out), &n, &err), -1);
		assert_string_equal(err, "invalid SCRAM salt");
	}
	/* NUL inside */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	snprintf(msg, sizeof(msg), "r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=4096", c.client_nonce);
	msg[5] = '\0';
	assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg, 40, out,
					       sizeof(out), &n, &err), -1);
	/* too long */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	memset(msg, 'a', sizeof(msg));
	assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg,
					       LP_SCRAM_MSG_MAX, out, sizeof(out), &n, &err), -1);
	assert_string_equal(err, "SCRAM message too long");
	/* well-formed: accepted; then called again: wrong state */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	snprintf(msg, sizeof(msg), "r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=1", c.client_nonce);
	assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg, strlen(msg),
					       out, sizeof(out), &n, &err), 0);
	assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg, strlen(msg),
					       out, sizeof(out), &n, &err), -1);
	/* output capacity too small */
	assert_int_equal(lp_scram_client_first(&c, first, sizeof(first), &n), 0);
	snprintf(msg, sizeof(msg), "r=%sSRV,s=AAECAwQFBgcICQoLDA0ODw==,i=1", c.client_nonce);
	assert_int_equal(lp_scram_client_final(&c, "secret", NULL, NULL, (const uint8_t *)msg, strlen(msg),
					       out, 20, &n, &err), -1);
}

static void test_scram_client_verify_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"v=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjm95G4=",   /* one bit off */
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
		"x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"e=invalid-proof",
		"v=AAAA",
	};
	struct lp_scram_client c;
	char out[512];
	size_t n;
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(lp_scram_client_first(&c, out, sizeof(out), &n), 0);
		snprintf(c.client_nonce, sizeof(c.client_nonce), "%s", RFC_CNONCE);
		snprintf(c.client_first_bare, sizeof(c.client_first_bare), "n=user,r=%s", RFC_CNONCE);
		assert_int_equal(lp_scram_client_final(&c, "pencil", NULL, NULL,
						       (const uint8_t *)RFC_SERVER_FIRST,
						       strlen(RFC_SERVER_FIRST), out, sizeof(out), &n, &err), 0);
		err = NULL;
		assert_int_equal(lp_scram_client_verify(&c, (const uint8_t *)bad[i], strlen(bad[i]), &err), -1);
		assert_non_null(err);
		/* and never twice */
		assert_int_equal(lp_scram_client_verify(&c, (const uint8_t *)RFC_SERVER_FINAL,
							strlen(RFC_SERVER_FINAL), &err), -1);
	}
	/* before client_final */
	assert_int_equal(lp_scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_int_equal(lp_scram_client_verify(&c, (const uint8_t *)RFC_SERVER_FINAL,
						strlen(RFC_SERVER_FINAL), &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_secret),
		cmocka_unit_test(test_md5_response_verify),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_scram_secret_known),
		cmocka_unit_test(test_scram_secret_malformed),
		cmocka_unit_test(test_scram_make_verifier),
		cmocka_unit_test(test_scram_rfc_server),
		cmocka_unit_test(test_scram_rfc_client),
		cmocka_unit_test(test_scram_exchange_password),
		cmocka_unit_test(test_scram_passthrough),
		cmocka_unit_test(test_scram_mock_user),
		cmocka_unit_test(test_scram_server_first_malformed),
		cmocka_unit_test(test_scram_server_final_malformed),
		cmocka_unit_test(test_scram_client_final_malformed),
		cmocka_unit_test(test_scram_client_verify_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
