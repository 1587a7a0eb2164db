/*
 * libFuzzer harness for the metrics endpoint's HTTP request parser
 * (lp_http_parse_request, src/metrics/http_parse.c).
 *
 * An accepted request ends at a blank line inside the input, has a path
 * that starts with '/', is a prefix of the request target and fits its
 * array, and a version HTTP/1.0-1.9. Bytes arriving in pieces must not
 * change the answer: every shorter prefix of an accepted header block is
 * "incomplete" (never bad, never a different request), and the block alone
 * parses to the same request. max bounds what is waited for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct lp_http_request *a, const struct lp_http_request *b)
{
	if (a->method != b->method || a->minor != b->minor || strcmp(a->path, b->path) ||
	    a->header_len != b->header_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct lp_http_request req, r2;
	enum lp_http_parse pr;
	size_t h;

	if (size > LP_HTTP_MAX_REQUEST)
		return 0;
	pr = lp_http_parse_request(buf, size, LP_HTTP_MAX_REQUEST, &req);
	if (pr == LP_HTTP_TOO_LARGE && size < LP_HTTP_MAX_REQUEST)
		abort();
	/* A smaller max only ever turns "incomplete" into "too large". */
	if (size > 0) {
		enum lp_http_parse small = lp_http_parse_request(buf, size, size, &r2);
		if (pr == LP_HTTP_INCOMPLETE ? small != LP_HTTP_TOO_LARGE : small != pr)
			abort();
	}
	if (pr != LP_HTTP_OK)
		return 0;

	h = req.header_len;
	if (h < 2 || h > size || buf[h - 1] != '\n' ||
	    !(buf[h - 2] == '\n' || (h >= 3 && buf[h - 2] == '\r' && buf[h - 3] == '\n')))
		abort();
	if (!memchr(req.path, '\0', sizeof(req.path)) || req.path[0] != '/')
		abort();
	if (req.minor < 0 || req.minor > 9)
		abort();
	const char *sp = memchr(buf, ' ', h);
	size_t plen = strlen(req.path);
	if (!sp || (size_t)(sp + 1 - buf) + plen > h || memcmp(sp + 1, req.path, plen) != 0)
		abort();
	if ((req.method == LP_HTTP_GET) != (sp - buf == 3 && memcmp(buf, "GET", 3) == 0) ||
	    (req.method == LP_HTTP_HEAD) != (sp - buf == 4 && memcmp(buf, "HEAD", 4) == 0))
		abort();

	/* The header block alone, and pieces of it. */
	if (lp_http_parse_request(buf, h, LP_HTTP_MAX_REQUEST, &r2) != LP_HTTP_OK)
		abort();
	check_same(&req, &r2);
	size_t cuts[] = { 0, 1, h / 3, h / 2, h - 2, h - 1, (size_t)(sp - buf) + 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= h)
			continue;
		if (lp_http_parse_request(buf, cuts[i], LP_HTTP_MAX_REQUEST, &r2) != LP_HTTP_INCOMPLETE)
			abort();
	}
	return 0;
}
