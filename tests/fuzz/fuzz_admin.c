/*
 * libFuzzer harness for the admin console's command parser (src/admin/parse).
 *
 * The input is one query string (up to its first NUL, as the console hands
 * it over). A refusal must give a reason. An accepted command must hold
 * NUL-terminated fields within their arrays, a lower-case command word, a key
 * exactly for SET, and fields that come from the input: each one, with its
 * quotes doubled back, occurs in the query. Written back in canonical form
 * (every field quoted) it must parse to the same command.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* dst = src with every q doubled; false when it does not fit. */
static int escape(const char *src, char q, char *dst, size_t cap)
{
	size_t n = 0;

	for (; *src; src++) {
		if (n + 3 > cap)
			return 0;
		if (*src == q)
			dst[n++] = q;
		dst[n++] = *src;
	}
	dst[n] = '\0';
	return 1;
}

/* field, as it may have been written (plain, "quoted" or 'quoted'), occurs in query. */
static int from_input(const char *query, const char *field, int icase)
{
	char *(*find)(const char *, const char *) = icase ? strcasestr : strstr;
	char esc[2 * LP_ADMIN_VALUE_MAX + 2];

	if (find(query, field))
		return 1;
	if (escape(field, '"', esc, sizeof(esc)) && find(query, esc))
		return 1;
	return escape(field, '\'', esc, sizeof(esc)) && find(query, esc);
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_same(const struct lp_admin_cmd *a, const struct lp_admin_cmd *b)
{
	if (strcmp(a->word, b->word) || strcmp(a->arg, b->arg) || a->is_set != b->is_set ||
	    strcmp(a->key, b->key) || strcmp(a->value, b->value))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char query[4096], canon[4 * LP_ADMIN_VALUE_MAX + 4 * LP_ADMIN_WORD_MAX];
	char e1[2 * LP_ADMIN_VALUE_MAX + 2], e2[2 * LP_ADMIN_VALUE_MAX + 2];
	struct lp_admin_cmd cmd, again;
	const char *err = NULL;

	if (size >= sizeof(query))
		return 0;
	memcpy(query, data, size);
	query[size] = '\0';
	if (lp_admin_parse(query, &cmd, &err) < 0) {
		if (!err || !*err)
			abort();
		return 0;
	}
	if (!terminated(cmd.word, sizeof(cmd.word)) || !terminated(cmd.arg, sizeof(cmd.arg)) ||
	    !terminated(cmd.key, sizeof(cmd.key)) || !terminated(cmd.value, sizeof(cmd.value)))
		abort();
	if (!cmd.word[0])
		abort();
	for (const char *w = cmd.word; *w; w++)
		if (*w >= 'A' && *w <= 'Z')
			abort();
	if (cmd.is_set != (strcmp(cmd.word, "set") == 0))
		abort();
	if (cmd.is_set ? (!cmd.key[0] || cmd.arg[0]) : (cmd.key[0] || cmd.value[0]))
		abort();
	if (!from_input(query, cmd.word, 1) || !from_input(query, cmd.arg, 0) ||
	    !from_input(query, cmd.key, 0) || !from_input(query, cmd.value, 0))
		abort();

	/* Canonical form: every field quoted. */
	if (cmd.is_set) {
		if (!escape(cmd.key, '"', e1, sizeof(e1)) || !escape(cmd.value, '\'', e2, sizeof(e2)))
			abort();
		snprintf(canon, sizeof(canon), "SET \"%s\" = '%s';", e1, e2);
	} else {
		if (!escape(cmd.word, '"', e1, sizeof(e1)) || !escape(cmd.arg, '"', e2, sizeof(e2)))
			abort();
		if (cmd.arg[0])
			snprintf(canon, sizeof(canon), "\"%s\" \"%s\"", e1, e2);
		else
			snprintf(canon, sizeof(canon), "\"%s\"", e1);
	}
	if (lp_admin_parse(canon, &again, &err) < 0)
		abort();
	check_same(&cmd, &again);
	return 0;
}
