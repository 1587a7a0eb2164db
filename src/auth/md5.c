/*
 * PostgreSQL MD5 password authentication; see md5.h. MD5 is what the
 * protocol demands, not a choice: the secret is md5(password || user) and
 * the wire response md5(secret_hex || salt), both "md5"-prefixed hex.
 */
#include "auth/md5.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MD5_LEN 16

static void hex_lower(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* md5(a || b) as "md5" + hex into out; out = "" if the digest is unavailable
 * (e.g. a FIPS-only provider), which then never matches a response. */
static void md5_two(const void *a, size_t alen, const void *b, size_t blen,
		    char out[LP_MD5_SECRET_LEN + 1])
{
	/* Fetched and allocated once: an implicit fetch (EVP_md5()) per
	 * digest costs more than the digest, and a context per digest (new,
	 * provider context, free) a third of it. A re-initialised context
	 * keeps its provider context; MD5's final wipes the data block. */
	static EVP_MD *md5;
	static EVP_MD_CTX *ctx;
	uint8_t dig[MD5_LEN];
	unsigned int dlen = 0;

	out[0] = '\0';
	if (!md5)
		md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	if (!ctx)
		ctx = EVP_MD_CTX_new();
	if (!ctx || !md5)
		return;
	if (EVP_DigestInit_ex(ctx, md5, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    EVP_DigestUpdate(ctx, b, blen) != 1 ||
	    EVP_DigestFinal_ex(ctx, dig, &dlen) != 1 || dlen != MD5_LEN)
		return;
	memcpy(out, "md5", 3);
	hex_lower(dig, MD5_LEN, out + 3);
}

void lp_md5_secret(const char *user, const char *password, char out[LP_MD5_SECRET_LEN + 1])
{
	md5_two(password, strlen(password), user, strlen(user), out);
}

bool lp_md5_is_secret(const char *s)
{
	if (strncmp(s, "md5", 3) != 0)
		return false;
	for (size_t i = 3; i < LP_MD5_SECRET_LEN; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[LP_MD5_SECRET_LEN] == '\0';
}

/* The response from a secret already known to be well-formed. */
static void response_of(const char *md5_secret, const uint8_t salt[4], char out[LP_MD5_SECRET_LEN + 1])
{
	md5_two(md5_secret + 3, LP_MD5_SECRET_LEN - 3, salt, 4, out);
}

void lp_md5_response(const char *md5_secret, const uint8_t salt[4], char out[LP_MD5_SECRET_LEN + 1])
{
	out[0] = '\0';
	if (!lp_md5_is_secret(md5_secret))
		return;
	response_of(md5_secret, salt, out);
}

bool lp_md5_verify(const char *stored, const char *user, const uint8_t salt[4],
		   const char *response)
{
	char secret[LP_MD5_SECRET_LEN + 1];
	char expect[LP_MD5_SECRET_LEN + 1];
	bool ok = false;

	/*
	 * A SCRAM verifier cannot answer an md5 challenge; it would otherwise
	 * be taken for a plain password here.
	 */
	if (strncmp(stored, "SCRAM-SHA-256$", 14) == 0)
		return false;
	if (lp_md5_is_secret(stored)) {
		memcpy(secret, stored, LP_MD5_SECRET_LEN + 1);
	} else {
		lp_md5_secret(user, stored, secret);
		if (secret[0] == '\0')
			goto fail;
	}
	/* secret is well-formed either way: checked, or just made. */
	response_of(secret, salt, expect);
	if (expect[0] == '\0')
		goto fail;
	/* Only the length leaks through timing, and it is public (35). */
	if (strnlen(response, LP_MD5_SECRET_LEN + 1) != LP_MD5_SECRET_LEN)
		goto fail;
	ok = CRYPTO_memcmp(expect, response, LP_MD5_SECRET_LEN) == 0;
fail:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(expect, sizeof(expect));
	return ok;
}
