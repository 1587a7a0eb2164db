/*
 * Admin console command parser (see parse.h for the grammar). A hand-written
 * scanner rather than regexes: every copy is bounded by its destination and
 * an over-long word is an error, never a truncation.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "admin/parse.h"

struct scan {
	const char *p;
	const char *err;
};

static void skip_ws(struct scan *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		s->p++;
}

static bool is_word_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static bool is_value_char(char ch)
{
	return is_word_char(ch) || ch == '.' || ch == '-' || ch == '+' || ch == ':' || ch == '/';
}

/* Copies one token into out[cap]: quoted with q (doubling escapes it) or a
 * run of chars accepted by ok(). Returns false with s->err set. */
static bool token(struct scan *s, char q, bool (*ok)(char), char *out, size_t cap)
{
	size_t n = 0;
	if (*s->p == q) {
		s->p++;
		for (;;) {
			if (*s->p == '\0') {
				s->err = "unterminated quoted string";
				return false;
			}
			if (*s->p == q) {
				if (s->p[1] != q)
					break;
				s->p++;
			}
			if (n + 1 >= cap) {
				s->err = "name or value too long";
				return false;
			}
			out[n++] = *s->p++;
		}
		s->p++;
		out[n] = '\0';
		return true;
	}
	while (ok(*s->p)) {
		if (n + 1 >= cap) {
			s->err = "name or value too long";
			return false;
		}
		out[n++] = *s->p++;
	}
	out[n] = '\0';
	if (n == 0) {
		s->err = "syntax error";
		return false;
	}
	return true;
}

/* A command word, its argument or a SET key: a word, or a "quoted" name
 * that is not empty ("" would make "SHOW """ read as a bare SHOW). */
static bool name_token(struct scan *s, char *out, size_t cap)
{
	if (!token(s, '"', is_word_char, out, cap))
		return false;
	if (!out[0]) {
		s->err = "zero-length quoted name";
		return false;
	}
	return true;
}

/* Optional ';' then the end of the string. */
static bool at_end(struct scan *s)
{
	skip_ws(s);
	if (*s->p == ';') {
		s->p++;
		skip_ws(s);
	}
	if (*s->p != '\0') {
		s->err = "syntax error";
		return false;
	}
	return true;
}

static void lower(char *w)
{
	for (; *w; w++)
		*w = (char)tolower((unsigned char)*w);
}

static bool parse_set(struct scan *s, struct lp_admin_cmd *out)
{
	skip_ws(s);
	if (!name_token(s, out->key, sizeof(out->key)))
		return false;
	skip_ws(s);
	if (*s->p == '=') {
		s->p++;
	} else if (strncasecmp(s->p, "to", 2) == 0 && !is_word_char(s->p[2])) {
		s->p += 2;
	} else {
		s->err = "SET needs: SET key = value";
		return false;
	}
	skip_ws(s);
	if (*s->p == '\'') {
		if (!token(s, '\'', is_value_char, out->value, sizeof(out->value)))
			return false;
	} else if (!token(s, '"', is_value_char, out->value, sizeof(out->value))) {
		return false;
	}
	out->is_set = true;
	return at_end(s);
}

int lp_admin_parse(const char *query, struct lp_admin_cmd *out, const char **err)
{
	struct scan s = { query, NULL };

	memset(out, 0, sizeof(*out));
	skip_ws(&s);
	if (*s.p == '\0' || *s.p == ';') {
		*err = "empty command";
		return -1;
	}
	if (!name_token(&s, out->word, sizeof(out->word)))
		goto fail;
	lower(out->word);
	if (strcmp(out->word, "set") == 0) {
		if (!parse_set(&s, out))
			goto fail;
		return 0;
	}
	const char *before = s.p;
	skip_ws(&s);
	if (s.p != before && *s.p != '\0' && *s.p != ';') {
		if (!name_token(&s, out->arg, sizeof(out->arg)))
			goto fail;
	} else if (s.p == before && *s.p != '\0' && *s.p != ';') {
		s.err = "syntax error";
		goto fail;
	}
	if (!at_end(&s))
		goto fail;
	return 0;
fail:
	*err = s.err ? s.err : "syntax error";
	return -1;
}
