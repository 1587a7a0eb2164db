/*
 * Prometheus text exposition format 0.0.4, written into one growable buffer.
 *
 * Pure: no sockets, no clock, no knowledge of pools. A scrape writes every
 * family into the same buffer, which is kept between scrapes (it only grows
 * to the largest response seen), so a scrape allocates nothing once warm.
 *
 * Usage: lp_expo_reset(), then for each family lp_expo_family() followed by
 * its samples. Labels are passed as a NULL-terminated array of alternating
 * names and values; values are escaped as the format requires.
 */
#ifndef LP_METRICS_EXPO_H
#define LP_METRICS_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lp_expo {
	char *buf;
	size_t len, cap;
	bool oom;               /* a write did not fit and could not grow: output is truncated */
};

enum lp_expo_type { LP_EXPO_COUNTER, LP_EXPO_GAUGE, LP_EXPO_HISTOGRAM };

void lp_expo_init(struct lp_expo *e);
void lp_expo_cleanup(struct lp_expo *e);
/* Empties the buffer, keeping its memory. */
void lp_expo_reset(struct lp_expo *e);

/* # HELP and # TYPE lines. */
void lp_expo_family(struct lp_expo *e, const char *name, enum lp_expo_type type, const char *help);

/* One sample line with an unsigned integer value. */
void lp_expo_u64(struct lp_expo *e, const char *name, const char *const *labels, uint64_t v);
/* One sample with a signed integer value. */
void lp_expo_i64(struct lp_expo *e, const char *name, const char *const *labels, int64_t v);
/* One sample whose value is a count of microseconds, written in seconds
 * exactly (no floating point rounding). */
void lp_expo_us(struct lp_expo *e, const char *name, const char *const *labels, uint64_t us);
/* One sample with a floating point value. */
void lp_expo_f64(struct lp_expo *e, const char *name, const char *const *labels, double v);

/* Appends raw text (already in exposition syntax). */
void lp_expo_raw(struct lp_expo *e, const char *s, size_t n);

#endif
