/*
 * The small HTTP server behind /metrics, /healthz and /readyz (see http.h
 * for its limits and why it is not evhttp).
 *
 * Connection life: READ (request line and headers, absolute deadline) ->
 * WRITE (only if the socket did not take the whole response) -> DRAIN
 * (our side shut down; read and discard until the peer closes, briefly, so
 * that closing never resets a response the peer has not read yet) -> free.
 */
#include "metrics/http.h"

#include <errno.h>
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

#include "core/clock.h"
#include "net/listen.h"

#define DRAIN_TIMEOUT_MS 1000
#define ACCEPT_BATCH 16

enum conn_phase { C_FREE, C_READ, C_WRITE, C_DRAIN };

struct conn {
	struct lp_http_server *srv;
	int fd;
	enum conn_phase phase;
	struct event ev;
	int64_t deadline_ms;            /* the current phase must end by then */
	size_t req_len;
	char *out;                      /* unsent response bytes (heap), or NULL */
	size_t out_len, out_off;
	char req[LP_HTTP_MAX_REQUEST];
};

struct lp_http_server {
	struct event_base *base;
	lp_http_handler handler;
	void *arg;
	int nlisten;
	int lfd[LP_HTTP_MAX_LISTENERS];
	struct event lev[LP_HTTP_MAX_LISTENERS];
	struct event resume_ev;         /* re-arms the listeners after EMFILE */
	int active;
	struct lp_http_stats stats;
	struct conn conns[LP_HTTP_MAX_CONNS];
};

/* ---- parsing ---- */

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

/* ---- connections ---- */

static int64_t now_ms(void)
{
	return lp_clock_us() / 1000;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg);

static void conn_free(struct conn *c)
{
	if (c->phase == C_FREE)
		return;
	if (event_initialized(&c->ev))
		event_del(&c->ev);
	close(c->fd);
	free(c->out);
	c->out = NULL;
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

static void conn_respond(struct conn *c, const struct lp_http_response *r, bool head)
{
	char hdr[384];
	int hn = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			  r->status, status_text(r->status),
			  r->content_type ? r->content_type : "text/plain; charset=utf-8",
			  r->body_len, r->status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (hn < 0 || (size_t)hn >= sizeof(hdr)) {
		conn_free(c);
		return;
	}
	size_t blen = head ? 0 : r->body_len;
	struct iovec iov[2] = { { hdr, (size_t)hn }, { (void *)r->body, blen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = blen ? 2 : 1 };
	ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_free(c);
		return;
	}
	size_t sent = n > 0 ? (size_t)n : 0, total = (size_t)hn + blen;
	if (sent == total) {
		conn_drain(c);
		return;
	}
	/* The socket took only part: keep the rest, the handler's buffer is
	 * not ours past this call. */
	c->out_len = total - sent;
	c->out = malloc(c->out_len);
	if (!c->out) {
		conn_free(c);
		return;
	}
	c->out_off = 0;
	if (sent < (size_t)hn) {
		memcpy(c->out, hdr + sent, (size_t)hn - sent);
		memcpy(c->out + (size_t)hn - sent, r->body, blen);
	} else {
		memcpy(c->out, r->body + (sent - (size_t)hn), total - sent);
	}
	c->phase = C_WRITE;
	c->deadline_ms = now_ms() + LP_HTTP_WRITE_TIMEOUT_S * 1000;
	conn_arm(c, EV_WRITE);
}

static void respond_simple(struct conn *c, int status, const char *body)
{
	struct lp_http_response r = { status, "text/plain; charset=utf-8", body, strlen(body) };
	conn_respond(c, &r, false);
}

static void conn_request(struct conn *c)
{
	struct lp_http_server *srv = c->srv;
	struct lp_http_request req;
	enum lp_http_parse pr = lp_http_parse_request(c->req, c->req_len, sizeof(c->req), &req);
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
	struct lp_http_response r = { 404, "text/plain; charset=utf-8", "not found\n", 10 };
	srv->handler(srv->arg, &req, &r);
	conn_respond(c, &r, req.method == LP_HTTP_HEAD);
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
	if (c->phase == C_READ) {
		size_t room = sizeof(c->req) - c->req_len;
		ssize_t n = recv(c->fd, c->req + c->req_len, room, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			conn_free(c);
			return;
		}
		if (n > 0)
			c->req_len += (size_t)n;
		conn_request(c);
		return;
	}
	if (c->phase == C_WRITE) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_free(c);
			return;
		}
		if (n > 0)
			c->out_off += (size_t)n;
		if (c->out_off == c->out_len) {
			free(c->out);
			c->out = NULL;
			conn_drain(c);
		} else {
			conn_arm(c, EV_WRITE);
		}
		return;
	}
	/* DRAIN: discard whatever the peer still sends; end at its EOF. */
	char sink[1024];
	ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
		conn_arm(c, EV_READ);
	else
		conn_free(c);
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
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
		struct conn *c = NULL;
		if (srv->active < LP_HTTP_MAX_CONNS)
			for (int k = 0; k < LP_HTTP_MAX_CONNS && !c; k++)
				if (srv->conns[k].phase == C_FREE)
					c = &srv->conns[k];
		if (!c) {
			srv->stats.refused++;
			close(fd);
			continue;
		}
		srv->active++;
		c->fd = fd;
		c->phase = C_READ;
		c->req_len = 0;
		c->deadline_ms = now_ms() + LP_HTTP_READ_TIMEOUT_S * 1000;
		conn_arm(c, EV_READ);
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

const struct lp_http_stats *lp_http_server_stats(const struct lp_http_server *srv)
{
	return &srv->stats;
}

int lp_http_server_active(const struct lp_http_server *srv)
{
	return srv->active;
}
