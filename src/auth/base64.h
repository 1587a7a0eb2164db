/*
 * Standard base64 (RFC 4648, "+/" alphabet, '=' padding) with bounded
 * output buffers, for SCRAM messages and verifiers. The decoder is strict
 * about the alphabet, padding and length: SCRAM peers are hostile.
 */
#ifndef LP_AUTH_BASE64_H
#define LP_AUTH_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, without the NUL. */
#define LP_BASE64_ENC_LEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound of bytes decoded from n characters. */
#define LP_BASE64_DEC_MAX(n) (((n) / 4) * 3)

/*
 * Encodes len bytes into out as a NUL-terminated string. Returns 0 and sets
 * *out_len (without the NUL), or -1 when cap < LP_BASE64_ENC_LEN(len) + 1.
 */
int lp_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len);

/*
 * Decodes len characters (no whitespace, length a multiple of 4, padding
 * only at the end). Returns 0 and sets *out_len, or -1 on malformed input
 * or when the result would not fit in cap bytes (out may then be partly
 * written).
 */
int lp_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
