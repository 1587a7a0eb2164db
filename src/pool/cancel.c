/*
 * Cancel requests forwarded to PostgreSQL, and the guard that keeps a late
 * one from cancelling somebody else's query.
 *
 * PostgreSQL takes a cancel on a connection of its own and closes that
 * connection once it has signalled the backend. Until then the signal may
 * still land on whatever the backend runs next, so the server being
 * cancelled is not handed to another client while a cancel to it is in
 * flight: lp_link_release parks it and lp_cancel_done_for resumes the
 * release once PostgreSQL closed the last cancel connection. The client that
 * asked is answered (its connection closed) only then too, so a blocking
 * PQcancel returns once the cancel was delivered, as with PostgreSQL itself.
 *
 * Bounds: one cancel in flight per server (a second adds nothing: the first
 * signal cancels whatever runs when it lands); cancel_wait_timeout to
 * connect and send; LP_CANCEL_ANSWER_US for PostgreSQL to close after that.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "pool/cancel.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/server.h"
#include "proto/proto.h"

/* How long PostgreSQL may take to close a cancel connection it was sent:
 * it does so right after signalling, so only a stuck server gets here. */
#define LP_CANCEL_ANSWER_US (30 * 1000000LL)

struct lp_cancel_req {
	struct lp_list_node node;       /* inst->cancel_reqs */
	struct lp_instance *inst;
	struct lp_server *server;       /* NULL once the server closed */
	int fd;                         /* to PostgreSQL */
	int requester_fd;               /* the client that asked, or -1 */
	struct event *ev;
	uint8_t buf[16];
	uint8_t len, sent;
};

static void req_finish(struct lp_cancel_req *r)
{
	struct lp_server *s = r->server;
	lp_list_remove(&r->inst->cancel_reqs, &r->node);
	event_free(r->ev);
	close(r->fd);
	if (r->requester_fd >= 0)
		close(r->requester_fd);
	free(r);
	if (s) {
		s->cancel_in_flight = false;
		lp_link_cancel_done(s);
	}
}

static void req_event(evutil_socket_t fd, short what, void *arg)
{
	struct lp_cancel_req *r = arg;
	if (what & EV_TIMEOUT) {
		lp_log_debug("cancel request to S-%llu: %s", r->server ? (unsigned long long)r->server->id
									: 0ULL,
			     r->sent < r->len ? "not sent within cancel_wait_timeout"
					      : "no answer from the server");
		req_finish(r);
		return;
	}
	if (r->sent < r->len) {
		ssize_t n = write(fd, r->buf + r->sent, r->len - r->sent);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			req_finish(r);          /* refused: nothing reached the server */
			return;
		}
		r->sent += (uint8_t)n;
		if (r->sent < r->len)
			return;
		/* Sent: now wait for PostgreSQL to close the connection. */
		struct timeval tv = { LP_CANCEL_ANSWER_US / 1000000, 0 };
		event_del(r->ev);
		event_assign(r->ev, r->inst->base, r->fd, EV_READ | EV_PERSIST, req_event, r);
		if (event_add(r->ev, &tv) < 0)
			req_finish(r);
		return;
	}
	uint8_t junk[64];
	ssize_t n = read(fd, junk, sizeof(junk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	req_finish(r);                  /* EOF (the answer), or an error */
}

bool lp_cancel_forward(struct lp_server *s, int requester_fd)
{
	struct lp_instance *inst = s->pool->inst;
	if (s->peer_len == 0 || s->cancel_in_flight)
		return false;
	struct lp_cancel_req *r = calloc(1, sizeof(*r));
	if (!r)
		return false;
	r->inst = inst;
	r->fd = lp_server_open_socket(s, (struct sockaddr *)&s->peer, s->peer_len);
	if (r->fd < 0) {
		free(r);
		return false;
	}
	struct lp_writer w;
	lp_wr_init(&w, r->buf, sizeof(r->buf));
	lp_build_cancel(&w, s->be_pid, s->be_key);
	r->len = (uint8_t)w.len;
	int64_t wait = inst->cfg.s.cancel_wait_timeout > 0 ? inst->cfg.s.cancel_wait_timeout
							    : LP_CANCEL_ANSWER_US;
	struct timeval tv = { (time_t)(wait / 1000000), (suseconds_t)(wait % 1000000) };
	r->ev = event_new(inst->base, r->fd, EV_WRITE | EV_PERSIST, req_event, r);
	if (!r->ev || event_add(r->ev, &tv) < 0) {
		if (r->ev)
			event_free(r->ev);
		close(r->fd);
		free(r);
		return false;
	}
	r->requester_fd = requester_fd;
	r->server = s;
	s->cancel_in_flight = true;
	lp_list_append(&inst->cancel_reqs, &r->node);
	return true;
}

void lp_cancel_server_gone(struct lp_server *s)
{
	if (!s->cancel_in_flight)
		return;
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&s->pool->inst->cancel_reqs, n, t) {
		struct lp_cancel_req *r = lp_container_of(n, struct lp_cancel_req, node);
		if (r->server == s)
			r->server = NULL;
	}
	s->cancel_in_flight = false;
}

void lp_cancel_cleanup(struct lp_instance *inst)
{
	while (!lp_list_empty(&inst->cancel_reqs)) {
		struct lp_cancel_req *r =
			lp_container_of(lp_list_first(&inst->cancel_reqs), struct lp_cancel_req, node);
		r->server = NULL;
		req_finish(r);
	}
}
