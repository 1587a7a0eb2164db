/*
 * lp_hash_str(): 64-bit FNV-1a of a NUL-terminated string, for tables keyed
 * by names the pooler's own configuration gives (not by client input: it is
 * not keyed, so an attacker choosing the strings could make it collide).
 */
#ifndef LP_CORE_HASH_H
#define LP_CORE_HASH_H

#include <stdint.h>

static inline uint64_t lp_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

#endif
