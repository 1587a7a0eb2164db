/*
 * A deliberately small HTTP/1.x server for /metrics and the probes, on the
 * pooler's own event loop.
 *
 * Why not evhttp: libevent 2.1 (Debian 12) cannot bound the number of
 * connections an evhttp accepts nor tell when one closes
 * (evhttp_set_max_connections came in 2.2), so a connection flood could use
 * up the descriptors the pooler needs for its clients. This server is GET
 * and HEAD only, one request per connection (Connection: close), with:
 *   - at most LP_HTTP_MAX_CONNS connections, preallocated (no malloc per
 *     connection); more are accepted and closed at once;
 *   - a request (line and headers) of at most LP_HTTP_MAX_REQUEST bytes that
 *     must arrive within LP_HTTP_READ_TIMEOUT_S; a body is never read;
 *   - a response written straight from the handler's buffer; only what the
 *     socket does not take at once is copied, and must leave within
 *     LP_HTTP_WRITE_TIMEOUT_S.
 * Malformed requests get 400 and the connection is closed.
 */
#ifndef LP_METRICS_HTTP_H
#define LP_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define LP_HTTP_MAX_CONNS 32
#define LP_HTTP_MAX_REQUEST 8192
#define LP_HTTP_READ_TIMEOUT_S 5
#define LP_HTTP_WRITE_TIMEOUT_S 10
#define LP_HTTP_MAX_LISTENERS 8

/* ---- request parsing (pure) ---- */
enum lp_http_parse { LP_HTTP_INCOMPLETE, LP_HTTP_OK, LP_HTTP_BAD, LP_HTTP_TOO_LARGE };

enum lp_http_method { LP_HTTP_GET, LP_HTTP_HEAD, LP_HTTP_OTHER };

struct lp_http_request {
	enum lp_http_method method;
	char path[256];                 /* without the query string */
	size_t header_len;              /* bytes up to and including the blank line */
};

/* Parses the request line and finds the end of the headers in buf[0..len).
 * Returns INCOMPLETE when more bytes are needed (and len < max), TOO_LARGE
 * when max bytes hold no complete header block. */
enum lp_http_parse lp_http_parse_request(const char *buf, size_t len, size_t max,
					 struct lp_http_request *req);

/* ---- the server ---- */
struct lp_http_response {
	int status;                     /* 200, 404, 503, ... */
	const char *content_type;
	const char *body;               /* owned by the handler; must stay valid
					 * only until the handler is called again */
	size_t body_len;
};

typedef void (*lp_http_handler)(void *arg, const struct lp_http_request *req,
				struct lp_http_response *resp);

struct lp_http_stats {
	uint64_t requests, refused, bad_requests, timeouts;
};

struct lp_http_server;

/* Listens on addrs (comma list, "*" = all) and port. Returns NULL with err
 * filled when no socket could be opened. */
struct lp_http_server *lp_http_server_new(struct event_base *base, const char *addrs, int port,
					  lp_http_handler handler, void *arg, char *err,
					  size_t errcap);
/* Closes the listeners and every connection. NULL is allowed. */
void lp_http_server_free(struct lp_http_server *srv);
const struct lp_http_stats *lp_http_server_stats(const struct lp_http_server *srv);
int lp_http_server_active(const struct lp_http_server *srv);

#endif
