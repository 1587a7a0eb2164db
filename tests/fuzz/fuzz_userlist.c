/*
 * libFuzzer harness for the auth_file (userlist.txt) parser (src/auth/userlist).
 *
 * The input is parsed as a whole file, replacing a list read before (as a
 * reload does). A refusal must leave that list untouched and report every
 * problem as "file:line: ..." with a line inside the file. An accepted list
 * must be sorted with unique, non-empty names, secrets within their bound,
 * lines inside the file, and every entry found by lookup; parsing the same
 * bytes again gives the same list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/userlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const uint8_t *data, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	return n + (size && data[size - 1] != '\n');
}

/* Every message names the file and a line within it (0: the file itself). */
static void check_diag(const struct lp_diag *d, size_t lines)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];
		char *end;
		unsigned long line;

		if (strncmp(m, "fuzz.txt:", 9) != 0)
			abort();
		if (m[9] == ' ')
			continue;
		line = strtoul(m + 9, &end, 10);
		if (end == m + 9 || *end != ':' || line > lines)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prev[] = "\"previous\" \"list\"\n";
	struct lp_userlist ul = { 0 }, again = { 0 };
	struct lp_diag d = { 0 }, d2 = { 0 };
	struct lp_userlist_entry *prev_v;
	size_t lines;

	if (size > 256 * 1024)
		return 0;
	lines = count_lines(data, size);
	/* The list in use before this file is read (a reload). */
	if (lp_userlist_parse(prev, sizeof(prev) - 1, "prev.txt", &ul, &d) < 0 || ul.n != 1)
		abort();
	prev_v = ul.v;
	if (lp_userlist_parse((const char *)data, size, "fuzz.txt", &ul, &d) < 0) {
		if (d.n == 0 || ul.v != prev_v || ul.n != 1 || strcmp(ul.v[0].name, "previous"))
			abort();
		check_diag(&d, lines);
		lp_diag_cleanup(&d);
		lp_userlist_free(&ul);
		return 0;
	}
	/* Accepted: only warnings about names listed twice. */
	check_diag(&d, lines);
	for (size_t i = 0; i < d.n; i++)
		if (!strstr(d.msgs[i], "appears again"))
			abort();
	for (size_t i = 0; i < ul.n; i++) {
		const struct lp_userlist_entry *e = &ul.v[i];

		if (!e->name || !e->secret || !e->name[0] || strlen(e->secret) > 65535)
			abort();
		if (e->line < 1 || (size_t)e->line > lines)
			abort();
		if (i > 0 && strcmp(ul.v[i - 1].name, e->name) >= 0)
			abort();
		if (lp_userlist_find(&ul, e->name) != e)
			abort();
	}
	if (lp_userlist_find(&ul, "") != NULL)
		abort();
	if (lp_userlist_parse((const char *)data, size, "fuzz.txt", &again, &d2) < 0 ||
	    again.n != ul.n || d2.n != d.n)
		abort();
	for (size_t i = 0; i < ul.n; i++)
		if (strcmp(again.v[i].name, ul.v[i].name) || strcmp(again.v[i].secret, ul.v[i].secret) ||
		    again.v[i].line != ul.v[i].line)
			abort();
	lp_userlist_free(&again);
	lp_userlist_free(&ul);
	lp_diag_cleanup(&d);
	lp_diag_cleanup(&d2);
	return 0;
}
