/*
 * The admin console's command parser: one query string in, one command out.
 * Pure (no sockets, no instance), so it is unit-tested on its own.
 *
 * Grammar, as PgBouncer's console accepts it (case-insensitive):
 *   WORD [WORD] [;]
 *   SET WORD (= | TO) (WORD | 'string') [;]
 * where WORD is [0-9A-Za-z_]+ or a non-empty "double-quoted" name ("" for a
 * quote).
 * An unquoted SET value may also hold the characters . - + : / (so that
 * numbers, durations and paths need no quotes).
 */
#ifndef LP_ADMIN_PARSE_H
#define LP_ADMIN_PARSE_H

#include <stdbool.h>

#define LP_ADMIN_WORD_MAX 64
#define LP_ADMIN_VALUE_MAX 512

struct lp_admin_cmd {
	char word[LP_ADMIN_WORD_MAX];   /* command, lower-cased: "show", "pause", "set" */
	char arg[LP_ADMIN_WORD_MAX];    /* its argument, as written (quotes removed); "" if none */
	bool is_set;                    /* SET key = value */
	char key[LP_ADMIN_WORD_MAX];    /* SET: the option name */
	char value[LP_ADMIN_VALUE_MAX]; /* SET: the value, unquoted */
};

/* Returns 0, or -1 with a reason in *err (a static string). */
int lp_admin_parse(const char *query, struct lp_admin_cmd *out, const char **err);

#endif
