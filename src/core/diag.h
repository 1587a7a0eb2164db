/*
 * Diagnostics collected while reading files (configuration, auth_file):
 * each entry is one finished "file:line: message" string.
 */
#ifndef LP_CORE_DIAG_H
#define LP_CORE_DIAG_H

#include <stdbool.h>
#include <stddef.h>

struct lp_diag {
	char **msgs;
	size_t n, cap;
};

/* Appends "file:line: message" (line 0: "file: message"). */
void lp_diag_add(struct lp_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Moves every message of src to the end of dst; src is left empty. */
void lp_diag_take(struct lp_diag *dst, struct lp_diag *src);
void lp_diag_cleanup(struct lp_diag *d);

#endif
