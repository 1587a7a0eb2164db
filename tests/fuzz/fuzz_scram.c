/*
 * libFuzzer harness for the SCRAM message parsers (src/auth/scram), both
 * sides, as a hostile peer would feed them:
 * - server side: client-first-message (with and without channel binding
 *   declared), then the rest of the input as client-final-message;
 * - client side: the input as server-first-message (pass-through keys, so no
 *   PBKDF2 with a fuzzer-chosen iteration count), then as server-final;
 * - the stored verifier parser.
 * The first input byte picks the split and the channel binding flags.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char VERIFIER[] =
	"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$THoPhoTAuqyoQsK4dUHncUzgfD8fdmhsgKZhWVqNP5U=:"
	"7YiHMMi2OcXGRogub03Ek06JRZ9bkhTOdCzHa5iPLiQ=";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_scram_secret sec;
	char out[LP_SCRAM_MSG_MAX + 64];
	size_t olen = 0;
	const char *err = NULL;
	uint8_t cb[32];
	char *s;

	if (size < 1 || size > 4 * LP_SCRAM_MSG_MAX)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	size_t split = size ? (size_t)(ctl & 0x3f) * size / 63 : 0;
	if (!lp_scram_parse_secret(VERIFIER, &sec))
		abort();
	memset(cb, 0x5a, sizeof(cb));

	/* server side */
	struct lp_scram_server *sv = calloc(1, sizeof(*sv));
	if (!sv)
		return 0;
	(void)lp_scram_server_set_channel_binding(sv, ctl & 0x40, (ctl & 0xc0) == 0xc0, cb, sizeof(cb));
	if (lp_scram_server_first(sv, &sec, data, split, out, sizeof(out), &olen, &err) == 0) {
		if (olen == 0 || olen >= sizeof(out) || strlen(out) != olen)
			abort();
		err = NULL;
		if (lp_scram_server_final(sv, data + split, size - split, out, sizeof(out), &olen, &err) < 0 &&
		    !err)
			abort();
	} else if (!err) {
		abort();
	}
	free(sv);

	/* client side, pass-through: the server nonce must extend ours, so
	 * splice ours in when the input starts with "r=" */
	struct lp_scram_client cl;
	uint8_t key[LP_SCRAM_KEY_LEN];
	memset(key, 7, sizeof(key));
	if (lp_scram_client_first(&cl, out, sizeof(out), &olen) < 0)
		abort();
	uint8_t msg[4 * LP_SCRAM_MSG_MAX + 64];
	size_t mlen = 0;
	if (split >= 2 && data[0] == 'r' && data[1] == '=') {
		size_t nl = strlen(cl.client_nonce);
		memcpy(msg, "r=", 2);
		memcpy(msg + 2, cl.client_nonce, nl);
		memcpy(msg + 2 + nl, data + 2, split - 2);
		mlen = split + nl;
	} else {
		memcpy(msg, data, split);
		mlen = split;
	}
	err = NULL;
	if (lp_scram_client_final(&cl, NULL, key, &sec, msg, mlen, out, sizeof(out), &olen, &err) == 0) {
		err = NULL;
		if (lp_scram_client_verify(&cl, data + split, size - split, &err) < 0 && !err)
			abort();
	} else if (!err) {
		abort();
	}

	/* stored verifiers */
	s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)lp_scram_is_secret(s);
		free(s);
	}
	return 0;
}
