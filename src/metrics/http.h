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
 *     connection), at most LP_HTTP_MAX_CONNS_PER_PEER of them from one
 *     address (reading a request or writing a response), and optionally only
 *     from the addresses of an allow list; the rest are closed at accept;
 *   - a request (line and headers) of at most LP_HTTP_MAX_REQUEST bytes that
 *     must arrive within LP_HTTP_READ_TIMEOUT_S of the accept; a body is
 *     never read;
 *   - probes ahead of everything else: when every slot is taken, a new
 *     connection takes the slot of the oldest connection that is not
 *     streaming (one done and draining first, then one still sending its
 *     request), and at most LP_HTTP_MAX_STREAMS responses stream at once
 *     (more get 503). The listener defers the accept until the first bytes
 *     are in (TCP_DEFER_ACCEPT) and the request is read in the accept's own
 *     turn, so a client that sends its request in one segment, as probes
 *     and Prometheus do, is answered before anything can take its slot;
 *   - a small response (probes, errors) written whole; a large one
 *     (/metrics) pulled from the handler piece by piece as the socket takes
 *     it (chunked for HTTP/1.1), at most LP_HTTP_TURN_BYTES per loop turn,
 *     and it must leave within LP_HTTP_WRITE_TIMEOUT_S.
 * Malformed requests get 400 and the connection is closed.
 */
#ifndef LP_METRICS_HTTP_H
#define LP_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct lp_cidr;

#define LP_HTTP_MAX_CONNS 32
#define LP_HTTP_MAX_CONNS_PER_PEER 8
#define LP_HTTP_MAX_STREAMS 4
#define LP_HTTP_MAX_REQUEST 8192
#define LP_HTTP_READ_TIMEOUT_S 2
#define LP_HTTP_WRITE_TIMEOUT_S 10
#define LP_HTTP_MAX_LISTENERS 8
#define LP_HTTP_TURN_BYTES (256 * 1024)

/* ---- request parsing (pure: http_parse.c) ---- */
enum lp_http_parse { LP_HTTP_INCOMPLETE, LP_HTTP_OK, LP_HTTP_BAD, LP_HTTP_TOO_LARGE };

enum lp_http_method { LP_HTTP_GET, LP_HTTP_HEAD, LP_HTTP_OTHER };

struct lp_http_request {
	enum lp_http_method method;
	int minor;                      /* HTTP/1.<minor> */
	char path[256];                 /* without the query string */
	size_t header_len;              /* bytes up to and including the blank line */
};

/* Parses the request line and finds the end of the headers in buf[0..len).
 * Returns INCOMPLETE when more bytes are needed (and len < max), TOO_LARGE
 * when max bytes hold no complete header block. */
enum lp_http_parse lp_http_parse_request(const char *buf, size_t len, size_t max,
					 struct lp_http_request *req);

/* ---- the server ---- */

/* A body produced in pieces. next() returns the length of the next piece
 * and points *piece at it (valid until the next call or done()), 0 at the
 * end of the body, or -1 when the body cannot be finished: the connection is
 * then closed without the final chunk, so the client sees that it was cut
 * short. done() is called exactly once, when the connection is through with
 * state (the body ended, failed, timed out, the request was HEAD, or the
 * server is closing). Neither may call back into the server. */
struct lp_http_stream {
	ssize_t (*next)(void *state, const char **piece);
	void (*done)(void *state);
};

struct lp_http_response {
	int status;                     /* 200, 404, 503, ... */
	const char *content_type;
	const char *body;               /* owned by the handler; copied before
					 * the handler is called again */
	size_t body_len;                /* with the head, at most LP_HTTP_MAX_REQUEST */
	const struct lp_http_stream *stream;  /* set: the body comes from it */
	void *stream_state;
};

typedef void (*lp_http_handler)(void *arg, const struct lp_http_request *req,
				struct lp_http_response *resp);

struct lp_http_stats {
	uint64_t requests, bad_requests, timeouts;
	uint64_t refused;               /* every slot streaming */
	uint64_t evicted;               /* closed to make room for a newer connection */
	uint64_t peer_limit;            /* LP_HTTP_MAX_CONNS_PER_PEER reached */
	uint64_t not_allowed;           /* not in the allow list */
	uint64_t busy;                  /* 503: LP_HTTP_MAX_STREAMS responses streaming */
};

struct lp_http_server;

/* Listens on addrs (comma list, "*" = all) and port. Returns NULL with err
 * filled when no socket could be opened. */
struct lp_http_server *lp_http_server_new(struct event_base *base, const char *addrs, int port,
					  lp_http_handler handler, void *arg, char *err,
					  size_t errcap);
/* Closes the listeners and every connection. NULL is allowed. */
void lp_http_server_free(struct lp_http_server *srv);
/* Only peers within list[0..n) may connect (n == 0: every peer); copied,
 * n <= LP_CIDR_MAX. Connections already open stay. */
void lp_http_server_allow(struct lp_http_server *srv, const struct lp_cidr *list, int n);
const struct lp_http_stats *lp_http_server_stats(const struct lp_http_server *srv);
int lp_http_server_active(const struct lp_http_server *srv);

#endif
