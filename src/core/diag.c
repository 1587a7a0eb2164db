/* Diagnostics list; see diag.h. */
#include "core/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends msg (taking it); false, msg untouched, when out of memory. */
static bool push(struct lp_diag *d, char *msg)
{
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;
		char **nv = realloc(d->msgs, ncap * sizeof(*nv));
		if (!nv)
			return false;
		d->msgs = nv;
		d->cap = ncap;
	}
	d->msgs[d->n++] = msg;
	return true;
}

void lp_diag_add(struct lp_diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	char full[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", file ? file : "?", line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", file ? file : "?", msg);

	char *copy = strdup(full);
	if (copy && !push(d, copy))
		free(copy);
}

void lp_diag_take(struct lp_diag *dst, struct lp_diag *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (push(dst, src->msgs[i]))
			src->msgs[i] = NULL;
	lp_diag_cleanup(src);
}

void lp_diag_cleanup(struct lp_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = d->cap = 0;
}
