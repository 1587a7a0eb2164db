/*
 * Pooled CSPRNG output; see random.h. RAND_bytes costs about 7,000
 * instructions per call whatever the size (a DRBG generate with its cipher
 * set-up), and every login needs three small draws: one call per 512 bytes
 * makes that cost vanish. The bytes are the generator's own output, used
 * once; those handed out are wiped from the block.
 */
#include "auth/random.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define BLOCK_BYTES 512

static uint8_t block[BLOCK_BYTES];
static size_t left;

bool lp_random_bytes(void *out, size_t n)
{
	if (n > BLOCK_BYTES / 4)
		return RAND_bytes(out, (int)n) == 1;
	if (left < n) {
		if (RAND_bytes(block, BLOCK_BYTES) != 1) {
			left = 0;
			return false;
		}
		left = BLOCK_BYTES;
	}
	uint8_t *from = block + BLOCK_BYTES - left;
	memcpy(out, from, n);
	OPENSSL_cleanse(from, n);
	left -= n;
	return true;
}
