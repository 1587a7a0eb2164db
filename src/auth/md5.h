/*
 * PostgreSQL MD5 password authentication (OpenSSL's MD5).
 * Secrets are "md5" + 32 lowercase hex digits of md5(password || user).
 */
#ifndef LP_AUTH_MD5_H
#define LP_AUTH_MD5_H

#include <stdbool.h>
#include <stdint.h>

#define LP_MD5_SECRET_LEN 35            /* "md5" + 32 hex, without NUL */

/* out = "md5" + hex(md5(password || user)), NUL-terminated. */
void lp_md5_secret(const char *user, const char *password, char out[LP_MD5_SECRET_LEN + 1]);

/* The wire response to an md5 challenge from an md5 secret:
 * out = "md5" + hex(md5(secret_hex_part || salt)). */
void lp_md5_response(const char *md5_secret, const uint8_t salt[4], char out[LP_MD5_SECRET_LEN + 1]);

/* true when s looks like an md5 secret ("md5" + 32 hex). */
bool lp_md5_is_secret(const char *s);

/*
 * Checks a client's md5 response against what we store: a plain password or
 * an md5 secret. Constant-time compare.
 */
bool lp_md5_verify(const char *stored, const char *user, const uint8_t salt[4],
		   const char *response);

#endif
