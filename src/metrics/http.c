/*
 * The small HTTP server behind /metrics, /healthz and /readyz (see http.h
 * for its limits and why it is not evhttp).
 *
 * Connection life: READ (request line and headers, absolute deadline from
 * the accept) -> WRITE (only while the socket does not take the response
 * at once, or while a streamed body has pieces left) -> DRAIN (our side shut
 * down; read and discard until the peer closes, briefly, so that closing
 * never resets a response the peer has not read yet) -> free. Any
 * connection but a streaming one may be evicted, oldest first, DRAIN before
 * READ before WRITE, when a new one finds every slot taken.
 */
#include "metrics/http.h"

#include <errno.h>
#include <netinet/in.h>     /* IPPROTO_TCP */
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/cidr.h"
#include "core/clock.h"
#include "net/listen.h"

#define DRAIN_TIMEOUT_MS 1000
#define ACCEPT_BATCH 16
/* The kernel holds a connection that has sent nothing this long before
 * handing it over (TCP_DEFER_ACCEPT). */
#define DEFER_ACCEPT_S 2

enum conn_phase { C_FREE, C_READ, C_WRITE, C_DRAIN };

struct peer {
	int family;
	uint8_t addr[16];
};

struct conn {
	struct lp_http_server *srv;
	int fd;
	enum conn_phase phase;
	struct event ev;
	uint64_t seq;                   /* accept order: eviction takes the oldest */
	int64_t deadline_ms;            /* the current phase must end by then */
	struct peer peer;
	size_t req_len;
	/* A streamed body: its source, and how it is framed. */
	const struct lp_http_stream *stream;
	void *sstate;
	bool chunked, body_ended, had_piece;
	/* Unsent output: buf[a_off, a_len) (head, chunk framing, a small
	 * body: ours), then b[b_off, b_len) (a piece the stream owns). */
	size_t a_off, a_len;
	const char *b;
	size_t b_off, b_len;
	char buf[LP_HTTP_MAX_REQUEST];  /* the request, then the output */
};

struct lp_http_server {
	struct event_base *base;
	lp_http_handler handler;
	void *arg;
	int nlisten;
	int lfd[LP_HTTP_MAX_LISTENERS];
	struct event lev[LP_HTTP_MAX_LISTENERS];
	struct event resume_ev;         /* re-arms the listeners after EMFILE */
	int active, streams;
	uint64_t seq;
	int nallow;
	struct lp_cidr allow[LP_CIDR_MAX];
	struct lp_http_stats stats;
	struct conn conns[LP_HTTP_MAX_CONNS];
};

/* ---- connections ---- */

static int64_t now_ms(void)
{
	return lp_clock_us() / 1000;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg);

static void stream_release(struct conn *c)
{
	if (!c->stream)
		return;
	c->stream->done(c->sstate);
	c->stream = NULL;
	c->sstate = NULL;
	c->b = NULL;
	c->b_off = c->b_len = 0;
	c->srv->streams--;
}

static void conn_free(struct conn *c)
{
	if (c->phase == C_FREE)
		return;
	if (event_initialized(&c->ev))
		event_del(&c->ev);
	stream_release(c);
	close(c->fd);
	c->fd = -1;
	c->phase = C_FREE;
	c->srv->active--;
}

/* Waits for events on c until its deadline. */
static void conn_arm(struct conn *c, short events)
{
	int64_t left = c->deadline_ms - now_ms();
	if (left < 0)
		left = 0;
	struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
	if (event_initialized(&c->ev))
		event_del(&c->ev);
	event_assign(&c->ev, c->srv->base, c->fd, events, conn_cb, c);
	if (event_add(&c->ev, &tv) < 0)
		conn_free(c);
}

static void conn_drain(struct conn *c)
{
	stream_release(c);
	(void)shutdown(c->fd, SHUT_WR);
	c->phase = C_DRAIN;
	c->deadline_ms = now_ms() + DRAIN_TIMEOUT_MS;
	conn_arm(c, EV_READ);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Asks the stream for its next piece and frames it. False: c was closed. */
static bool next_piece(struct conn *c)
{
	const char *piece = NULL;
	ssize_t n = c->stream->next(c->sstate, &piece);
	if (n < 0 || (n > 0 && !piece)) {
		conn_free(c);
		return false;
	}
	/* The framing goes after what is still unsent of ours (the head),
	 * so that head, chunk size and piece leave in one write. */
	if (c->a_off == c->a_len)
		c->a_off = c->a_len = 0;
	char *at = c->buf + c->a_len;
	size_t room = sizeof(c->buf) - c->a_len;
	const char *sep = c->had_piece ? "\r\n" : "";
	int hn = 0;
	if (n == 0) {
		c->body_ended = true;
		if (c->chunked)
			hn = snprintf(at, room, "%s0\r\n\r\n", sep);
		stream_release(c);
	} else {
		if (c->chunked)
			hn = snprintf(at, room, "%s%zx\r\n", sep, (size_t)n);
		c->b = piece;
		c->b_off = 0;
		c->b_len = (size_t)n;
		c->had_piece = true;
	}
	if (hn < 0 || (size_t)hn >= room) {
		conn_free(c);
		return false;
	}
	c->a_len += (size_t)hn;
	return true;
}

/* Writes what is pending, pulling pieces of a streamed body, until the
 * socket is full (then waits for it), the body ended (then drains), or
 * LP_HTTP_TURN_BYTES went out in this turn (then lets the loop turn). */
static void conn_pump(struct conn *c)
{
	size_t spent = 0;
	while (spent < LP_HTTP_TURN_BYTES) {
		if (c->b_off == c->b_len && !c->body_ended) {
			if (!next_piece(c))
				return;
			continue;
		}
		if (c->a_off == c->a_len && c->b_off == c->b_len) {
			conn_drain(c);
			return;
		}
		struct iovec iov[2];
		int k = 0;
		if (c->a_off < c->a_len)
			iov[k++] = (struct iovec){ c->buf + c->a_off, c->a_len - c->a_off };
		if (c->b_off < c->b_len)
			iov[k++] = (struct iovec){ (void *)(c->b + c->b_off), c->b_len - c->b_off };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)k };
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_free(c);
			return;
		}
		if (n <= 0)
			break;
		size_t left = (size_t)n;
		size_t a = c->a_len - c->a_off < left ? c->a_len - c->a_off : left;
		c->a_off += a;
		c->b_off += left - a;
		spent += left;
	}
	if (c->phase != C_WRITE) {
		c->phase = C_WRITE;
		c->deadline_ms = now_ms() + LP_HTTP_WRITE_TIMEOUT_S * 1000;
	}
	conn_arm(c, EV_WRITE);
}

static void conn_respond(struct conn *c, const struct lp_http_response *r, bool head,
			 bool http10)
{
	struct lp_http_server *srv = c->srv;
	bool stream = r->stream != NULL;
	c->chunked = stream && !head && !http10;
	int hn;
	if (stream)
		hn = snprintf(c->buf, sizeof(c->buf),
			      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s"
			      "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			      r->status, status_text(r->status),
			      r->content_type ? r->content_type : "text/plain; charset=utf-8",
			      http10 ? "" : "Transfer-Encoding: chunked\r\n");
	else
		hn = snprintf(c->buf, sizeof(c->buf),
			      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			      "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			      r->status, status_text(r->status),
			      r->content_type ? r->content_type : "text/plain; charset=utf-8",
			      r->body_len, r->status == 405 ? "Allow: GET, HEAD\r\n" : "");
	size_t blen = head || stream ? 0 : r->body_len;
	if (hn < 0 || (size_t)hn + blen > sizeof(c->buf)) {
		if (stream)
			r->stream->done(r->stream_state);
		conn_free(c);
		return;
	}
	memcpy(c->buf + hn, r->body, blen);
	c->a_off = 0;
	c->a_len = (size_t)hn + blen;
	c->b = NULL;
	c->b_off = c->b_len = 0;
	c->had_piece = false;
	c->body_ended = true;
	if (stream) {
		srv->streams++;
		c->stream = r->stream;
		c->sstate = r->stream_state;
		if (head)
			stream_release(c);
		else
			c->body_ended = false;
	}
	conn_pump(c);
}

static void respond_simple(struct conn *c, int status, const char *body)
{
	struct lp_http_response r = { status, "text/plain; charset=utf-8", body, strlen(body),
				      NULL, NULL };
	conn_respond(c, &r, false, false);
}

static void conn_request(struct conn *c)
{
	struct lp_http_server *srv = c->srv;
	struct lp_http_request req;
	enum lp_http_parse pr = lp_http_parse_request(c->buf, c->req_len, sizeof(c->buf), &req);
	switch (pr) {
	case LP_HTTP_INCOMPLETE:
		conn_arm(c, EV_READ);
		return;
	case LP_HTTP_BAD:
		srv->stats.bad_requests++;
		respond_simple(c, 400, "bad request\n");
		return;
	case LP_HTTP_TOO_LARGE:
		srv->stats.bad_requests++;
		respond_simple(c, 431, "request headers too large\n");
		return;
	case LP_HTTP_OK:
		break;
	}
	srv->stats.requests++;
	if (req.method == LP_HTTP_OTHER) {
		respond_simple(c, 405, "only GET and HEAD\n");
		return;
	}
	struct lp_http_response r = { 404, "text/plain; charset=utf-8", "not found\n", 10, NULL,
				      NULL };
	srv->handler(srv->arg, &req, &r);
	if (r.stream && srv->streams >= LP_HTTP_MAX_STREAMS) {
		r.stream->done(r.stream_state);
		srv->stats.busy++;
		respond_simple(c, 503, "too many responses in progress, try again\n");
		return;
	}
	conn_respond(c, &r, req.method == LP_HTTP_HEAD, req.minor == 0);
}

static void conn_read(struct conn *c)
{
	size_t room = sizeof(c->buf) - c->req_len;
	ssize_t n = recv(c->fd, c->buf + c->req_len, room, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		conn_free(c);
		return;
	}
	if (n > 0)
		c->req_len += (size_t)n;
	conn_request(c);
}

/* Reads and drops what the peer sent, so that closing does not reset a
 * response it has not read yet. True at the peer's EOF or an error. */
static bool discard_input(struct conn *c)
{
	char sink[1024];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0)
			continue;
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
	}
	return false;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	if (what & EV_TIMEOUT) {
		if (c->phase != C_DRAIN)
			c->srv->stats.timeouts++;
		conn_free(c);
		return;
	}
	if (c->phase == C_READ)
		conn_read(c);
	else if (c->phase == C_WRITE)
		conn_pump(c);
	else if (discard_input(c))      /* DRAIN: ends at the peer's EOF */
		conn_free(c);
	else
		conn_arm(c, EV_READ);
}

/* ---- accepting ---- */

/* Connections of peer p reading a request or writing a response (a
 * draining one is done and may be evicted at any time). */
static int peer_conns(const struct lp_http_server *srv, const struct peer *p)
{
	int n = 0;
	for (int i = 0; i < LP_HTTP_MAX_CONNS; i++) {
		const struct conn *c = &srv->conns[i];
		n += (c->phase == C_READ || c->phase == C_WRITE) && c->peer.family == p->family &&
		     memcmp(c->peer.addr, p->addr, sizeof(p->addr)) == 0;
	}
	return n;
}

/* A free slot, or the slot of the connection to evict: never a streaming
 * one; a draining one before one still reading its request before one
 * writing a small response; the oldest first. NULL: every slot streams. */
static struct conn *take_slot(struct lp_http_server *srv)
{
	static const int rank[] = { [C_FREE] = 4, [C_DRAIN] = 3, [C_READ] = 2, [C_WRITE] = 1 };
	struct conn *best = NULL;
	for (int i = 0; i < LP_HTTP_MAX_CONNS; i++) {
		struct conn *c = &srv->conns[i];
		if (c->stream)
			continue;
		if (!best || rank[c->phase] > rank[best->phase] ||
		    (rank[c->phase] == rank[best->phase] && c->seq < best->seq))
			best = c;
	}
	if (best && best->phase != C_FREE) {
		srv->stats.evicted++;
		if (best->phase == C_DRAIN)
			(void)discard_input(best);
		conn_free(best);
	}
	return best;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_http_server *srv = arg;
	(void)fd;
	(void)what;
	for (int i = 0; i < srv->nlisten; i++)
		event_add(&srv->lev[i], NULL);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct lp_http_server *srv = arg;
	(void)what;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Out of descriptors: a level-triggered listener would
			 * spin. Stop accepting for a second. */
			struct timeval tv = { 1, 0 };
			for (int k = 0; k < srv->nlisten; k++)
				event_del(&srv->lev[k]);
			evtimer_add(&srv->resume_ev, &tv);
			return;
		}
		if (fd < 0)
			return;
		struct peer p = { 0 };
		(void)lp_cidr_addr_of((struct sockaddr *)&ss, &p.family, p.addr);
		struct conn *c = NULL;
		if (srv->nallow > 0 && !lp_cidr_match(srv->allow, srv->nallow, (struct sockaddr *)&ss))
			srv->stats.not_allowed++;
		else if (peer_conns(srv, &p) >= LP_HTTP_MAX_CONNS_PER_PEER)
			srv->stats.peer_limit++;
		else if (!(c = take_slot(srv)))
			srv->stats.refused++;
		if (!c) {
			close(fd);
			continue;
		}
		srv->active++;
		c->fd = fd;
		c->phase = C_READ;
		c->seq = ++srv->seq;
		c->peer = p;
		c->req_len = 0;
		c->deadline_ms = now_ms() + LP_HTTP_READ_TIMEOUT_S * 1000;
		/* The request is usually in already (TCP_DEFER_ACCEPT): answer
		 * it in this turn, before another accept could take the slot. */
		conn_read(c);
	}
}

struct lp_http_server *lp_http_server_new(struct event_base *base, const char *addrs, int port,
					  lp_http_handler handler, void *arg, char *err,
					  size_t errcap)
{
	struct lp_http_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	srv->base = base;
	srv->handler = handler;
	srv->arg = arg;
	for (int i = 0; i < LP_HTTP_MAX_CONNS; i++) {
		srv->conns[i].srv = srv;
		srv->conns[i].fd = -1;
	}
	int n = lp_listen_tcp(addrs, port, 64, false, srv->lfd, LP_HTTP_MAX_LISTENERS, err, errcap);
	if (n <= 0) {
		if (n == 0)
			snprintf(err, errcap, "metrics_listen_addr is empty: nothing to listen on");
		free(srv);
		return NULL;
	}
	srv->nlisten = n;
	evtimer_assign(&srv->resume_ev, base, resume_cb, srv);
	for (int i = 0; i < n; i++) {
		/* Best effort, and inherited by every accepted socket: without
		 * TCP_DEFER_ACCEPT the request is read a turn later; without
		 * TCP_NODELAY a page's last chunk may wait for a delayed ACK. */
		int defer = DEFER_ACCEPT_S, one = 1;
		(void)setsockopt(srv->lfd[i], IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
		(void)setsockopt(srv->lfd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		event_assign(&srv->lev[i], base, srv->lfd[i], EV_READ | EV_PERSIST, accept_cb, srv);
		event_add(&srv->lev[i], NULL);
	}
	return srv;
}

void lp_http_server_free(struct lp_http_server *srv)
{
	if (!srv)
		return;
	event_del(&srv->resume_ev);
	for (int i = 0; i < srv->nlisten; i++) {
		event_del(&srv->lev[i]);
		close(srv->lfd[i]);
	}
	for (int i = 0; i < LP_HTTP_MAX_CONNS; i++)
		conn_free(&srv->conns[i]);
	free(srv);
}

void lp_http_server_allow(struct lp_http_server *srv, const struct lp_cidr *list, int n)
{
	if (n < 0)
		n = 0;
	if (n > LP_CIDR_MAX)
		n = LP_CIDR_MAX;
	if (n)
		memcpy(srv->allow, list, (size_t)n * sizeof(*list));
	srv->nallow = n;
}

const struct lp_http_stats *lp_http_server_stats(const struct lp_http_server *srv)
{
	return &srv->stats;
}

int lp_http_server_active(const struct lp_http_server *srv)
{
	return srv->active;
}
