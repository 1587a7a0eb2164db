/*
 * Prometheus text writer. Numbers are formatted by hand where exactness
 * matters (seconds from microseconds) so a counter never goes backwards
 * through float rounding.
 */
#include "metrics/expo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPO_MIN_CAP 16384

void lp_expo_init(struct lp_expo *e)
{
	memset(e, 0, sizeof(*e));
}

void lp_expo_cleanup(struct lp_expo *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

void lp_expo_reset(struct lp_expo *e)
{
	e->len = 0;
	e->oom = false;
	if (e->buf)
		e->buf[0] = '\0';
}

/* Makes room for n more bytes plus a NUL; false when memory ran out. */
static bool reserve(struct lp_expo *e, size_t n)
{
	if (e->oom)
		return false;
	if (e->len + n + 1 <= e->cap)
		return true;
	size_t cap = e->cap ? e->cap : EXPO_MIN_CAP;
	while (cap < e->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			e->oom = true;
			return false;
		}
		cap *= 2;
	}
	char *nb = realloc(e->buf, cap);
	if (!nb) {
		e->oom = true;
		return false;
	}
	e->buf = nb;
	e->cap = cap;
	return true;
}

void lp_expo_raw(struct lp_expo *e, const char *s, size_t n)
{
	if (!reserve(e, n))
		return;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void puts_(struct lp_expo *e, const char *s)
{
	lp_expo_raw(e, s, strlen(s));
}

static void putc_(struct lp_expo *e, char c)
{
	lp_expo_raw(e, &c, 1);
}

/* Label values: backslash, double quote and line feed are escaped. */
static void put_escaped(struct lp_expo *e, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *esc = NULL;
		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '"')
			esc = "\\\"";
		else if (*s == '\n')
			esc = "\\n";
		if (!esc)
			continue;
		lp_expo_raw(e, run, (size_t)(s - run));
		puts_(e, esc);
		run = s + 1;
	}
	lp_expo_raw(e, run, (size_t)(s - run));
}

void lp_expo_family(struct lp_expo *e, const char *name, enum lp_expo_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	puts_(e, "# HELP ");
	puts_(e, name);
	putc_(e, ' ');
	/* HELP text escapes only backslash and line feed. */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			puts_(e, "\\\\");
		else if (*p == '\n')
			puts_(e, "\\n");
		else
			putc_(e, *p);
	}
	puts_(e, "\n# TYPE ");
	puts_(e, name);
	putc_(e, ' ');
	puts_(e, types[type]);
	putc_(e, '\n');
}

static void put_head(struct lp_expo *e, const char *name, const char *const *labels)
{
	puts_(e, name);
	if (labels && labels[0]) {
		putc_(e, '{');
		for (int i = 0; labels[i]; i += 2) {
			if (i)
				putc_(e, ',');
			puts_(e, labels[i]);
			puts_(e, "=\"");
			put_escaped(e, labels[i + 1] ? labels[i + 1] : "");
			putc_(e, '"');
		}
		putc_(e, '}');
	}
	putc_(e, ' ');
}

void lp_expo_u64(struct lp_expo *e, const char *name, const char *const *labels, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", v);
	put_head(e, name, labels);
	lp_expo_raw(e, num, (size_t)n);
}

void lp_expo_i64(struct lp_expo *e, const char *name, const char *const *labels, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRId64 "\n", v);
	put_head(e, name, labels);
	lp_expo_raw(e, num, (size_t)n);
}

void lp_expo_us(struct lp_expo *e, const char *name, const char *const *labels, uint64_t us)
{
	char num[48];
	int n = snprintf(num, sizeof(num), "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
	put_head(e, name, labels);
	lp_expo_raw(e, num, (size_t)n);
}

void lp_expo_f64(struct lp_expo *e, const char *name, const char *const *labels, double v)
{
	char num[48];
	int n;
	if (isnan(v))
		n = snprintf(num, sizeof(num), "NaN\n");
	else if (isinf(v))
		n = snprintf(num, sizeof(num), "%s\n", v > 0 ? "+Inf" : "-Inf");
	else
		n = snprintf(num, sizeof(num), "%.17g\n", v);
	put_head(e, name, labels);
	lp_expo_raw(e, num, (size_t)n);
}
