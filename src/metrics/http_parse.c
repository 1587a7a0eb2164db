/*
 * The HTTP request parser of the metrics endpoint (see http.h): bytes in,
 * a request out; no sockets, no server state, so it is unit-tested and
 * fuzzed on its own (tests/fuzz/fuzz_http.c).
 */
#include "metrics/http.h"

#include <stdbool.h>
#include <string.h>

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Validates one header line [p, end) (without its line ending). */
static bool header_line_ok(const char *p, const char *end)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon == p)
		return false;
	for (const char *q = p; q < colon; q++)
		if (!is_tchar(*q))
			return false;     /* also refuses obsolete line folding */
	for (const char *q = colon + 1; q < end; q++) {
		unsigned char ch = (unsigned char)*q;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

/* Request line [p, end): METHOD SP /target SP HTTP/1.x */
static bool request_line_ok(const char *p, const char *end, struct lp_http_request *req)
{
	const char *sp1 = memchr(p, ' ', (size_t)(end - p));
	if (!sp1 || sp1 == p || sp1 - p > 16)
		return false;
	for (const char *q = p; q < sp1; q++)
		if (!is_tchar(*q))
			return false;
	size_t mlen = (size_t)(sp1 - p);
	if (mlen == 3 && memcmp(p, "GET", 3) == 0)
		req->method = LP_HTTP_GET;
	else if (mlen == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = LP_HTTP_HEAD;
	else
		req->method = LP_HTTP_OTHER;
	const char *t = sp1 + 1;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2 || *t != '/')
		return false;
	const char *v = sp2 + 1;
	if (end - v != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
		return false;
	req->minor = v[7] - '0';
	size_t plen = 0;
	for (const char *q = t; q < sp2; q++) {
		unsigned char ch = (unsigned char)*q;
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
		if (ch == '?' || ch == '#')
			break;
		plen++;
	}
	if (plen >= sizeof(req->path))
		return false;
	memcpy(req->path, t, plen);
	req->path[plen] = '\0';
	return true;
}

enum lp_http_parse lp_http_parse_request(const char *buf, size_t len, size_t max,
					 struct lp_http_request *req)
{
	memset(req, 0, sizeof(*req));
	const char *p = buf, *end = buf + len;
	bool first = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (memchr(p, '\0', (size_t)(le - p)) || memchr(p, '\r', (size_t)(le - p)))
			return LP_HTTP_BAD;
		if (first) {
			if (!request_line_ok(p, le, req))
				return LP_HTTP_BAD;
			first = false;
		} else if (le == p) {
			req->header_len = (size_t)(nl + 1 - buf);
			return LP_HTTP_OK;
		} else if (!header_line_ok(p, le)) {
			return LP_HTTP_BAD;
		}
		p = nl + 1;
	}
	/* No complete header block yet. Garbage without a line ending is
	 * refused early rather than waited for. */
	if (first) {
		for (const char *q = buf; q < end && q < buf + 24; q++)
			if (*q == ' ')
				break;
			else if (!is_tchar(*q))
				return LP_HTTP_BAD;
	}
	return len >= max ? LP_HTTP_TOO_LARGE : LP_HTTP_INCOMPLETE;
}
