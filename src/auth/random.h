/*
 * Random bytes for per-connection secrets (cancel keys, md5 salts), drawn
 * from OpenSSL's CSPRNG a block at a time.
 */
#ifndef LP_AUTH_RANDOM_H
#define LP_AUTH_RANDOM_H

#include <stdbool.h>
#include <stddef.h>

/* Fills out with n unpredictable bytes; false when the CSPRNG fails. Only
 * for a process that does not fork afterwards (linkpool draws from its
 * event loop, after daemonizing). */
bool lp_random_bytes(void *out, size_t n);

#endif
