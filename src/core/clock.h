/*
 * The one monotonic clock every module reads (timeouts, histograms, DNS
 * cache expiry). pool/ caches it per loop turn on top (lp_now_us).
 */
#ifndef LP_CORE_CLOCK_H
#define LP_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t lp_clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
