/* Socket I/O with one read buffer per connection; see io.h. */
#include "net/io.h"
#include "net/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/assert.h"

/* Buffer cache: a free list of equally sized blocks, counted for SHOW MEM. */
static struct {
	uint32_t size;
	void *free_list;
	uint64_t in_use, nfree;
} cache = { 4096, NULL, 0, 0 };

void lp_io_set_buf_size(uint32_t size)
{
	while (cache.free_list) {
		void *next = *(void **)cache.free_list;
		free(cache.free_list);
		cache.free_list = next;
		cache.nfree--;
	}
	cache.size = size < LP_IO_BUF_MIN ? LP_IO_BUF_MIN : size;
}

uint32_t lp_io_buf_size(void)
{
	return cache.size;
}

void lp_io_cache_stats(struct lp_io_cache_stats *st)
{
	st->buf_size = cache.size;
	st->in_use = cache.in_use;
	st->free = cache.nfree;
}

static uint8_t *buf_get(void)
{
	void *b = cache.free_list;
	if (b) {
		cache.free_list = *(void **)b;
		cache.nfree--;
	} else {
		b = malloc(cache.size);
		if (!b)
			return NULL;
	}
	cache.in_use++;
	return b;
}

static void buf_put(uint8_t *b)
{
	cache.in_use--;
	/* Keep a bounded reserve; beyond it give memory back. */
	if (cache.nfree >= 1024) {
		free(b);
		return;
	}
	*(void **)b = cache.free_list;
	cache.free_list = b;
	cache.nfree++;
}

/* Failures in the tuning helpers only cost latency or liveness detection:
 * they are ignored (unix sockets refuse every TCP option). */
static void set_int(int fd, int level, int opt, int val)
{
	(void)setsockopt(fd, level, opt, &val, sizeof(val));
}

void lp_sock_tune_accepted(int fd, const struct lp_tcp_tuning *t)
{
	if (t->keepalive) {
		if (t->idle > 0)
			set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, t->idle);
		if (t->intvl > 0)
			set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, t->intvl);
		if (t->cnt > 0)
			set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, t->cnt);
	}
	if (t->sockbuf > 0) {
		set_int(fd, SOL_SOCKET, SO_SNDBUF, t->sockbuf);
		set_int(fd, SOL_SOCKET, SO_RCVBUF, t->sockbuf);
	}
}

void lp_sock_tune_listener(int fd, const struct lp_tcp_tuning *t)
{
	set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, t->keepalive ? 1 : 0);
	set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, t->user_timeout_ms > 0 ? t->user_timeout_ms : 0);
	set_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, t->defer_accept_s > 0 ? t->defer_accept_s : 0);
}

void lp_sock_tune_tcp(int fd, const struct lp_tcp_tuning *t)
{
	set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (t->keepalive)
		set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (t->user_timeout_ms > 0)
		set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, t->user_timeout_ms);
	lp_sock_tune_accepted(fd, t);
}

/* ---- the plain transport ---- */

static ssize_t plain_read(struct lp_io *io, void *buf, size_t len)
{
	ssize_t n;
	do {
		n = read(io->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t plain_write(struct lp_io *io, const void *buf, size_t len)
{
	ssize_t n;
	do {
		n = write(io->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

static bool plain_nothing(const struct lp_io *io)
{
	(void)io;
	return false;
}

static int plain_flush(struct lp_io *io)
{
	(void)io;
	return 1;
}

static void plain_close(struct lp_io *io)
{
	(void)io;
}

const struct lp_transport lp_transport_plain = {
	"plain", plain_read, plain_write, plain_nothing, plain_nothing, plain_flush, plain_close,
};

static void io_write_ready(evutil_socket_t fd, short what, void *arg);

static void io_read_ready(evutil_socket_t fd, short what, void *arg)
{
	struct lp_io *io = arg;
	(void)fd;
	if (io->tls_done) {
		lp_tls_handshake_step(io);
		return;
	}
	if (what & EV_READ)
		io->drained = false;
	io->on_read(io, what);
}

void lp_io_kick(struct lp_io *io)
{
	/* EV_TIMEOUT, not EV_READ: a kick says nothing about the socket. */
	event_active(&io->ev_read, EV_TIMEOUT, 1);
}

void lp_io_init(struct lp_io *io, struct event_base *base, int fd, void *owner, lp_io_cb on_read)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->owner = owner;
	io->on_read = on_read;
	io->tr = &lp_transport_plain;
	event_assign(&io->ev_read, base, fd, EV_READ | EV_PERSIST, io_read_ready, io);
}

void lp_io_close(struct lp_io *io)
{
	free(io->capture);
	io->capture = NULL;
	if (io->fd < 0)
		return;
	event_del(&io->ev_read);
	if (io->out) {
		event_del(&io->out->ev);
		free(io->out->q);
		free(io->out);
		io->out = NULL;
	}
	io->tr->close(io);
	io->tr = &lp_transport_plain;
	io->tls_done = NULL;
	close(io->fd);
	io->fd = -1;
	io->reading = io->writing = false;
	if (io->buf) {
		buf_put(io->buf);
		io->buf = NULL;
	}
	io->start = io->pos = io->end = io->pkt_remain = 0;
}

void lp_io_read_on(struct lp_io *io)
{
	if (!io->reading && io->fd >= 0 && !io->parked && !io->handed_off) {
		event_add(&io->ev_read, NULL);
		io->reading = true;
		/* Input the transport already holds raises no socket event. */
		if (io->tr->pending(io))
			event_active(&io->ev_read, EV_READ, 1);
	}
}

void lp_io_read_off(struct lp_io *io)
{
	if (io->reading) {
		event_del(&io->ev_read);
		io->reading = false;
	}
}

void lp_io_park(struct lp_io *io)
{
	io->parked = true;
	lp_io_read_off(io);
}

void lp_io_unpark(struct lp_io *io)
{
	io->parked = false;
}

static struct lp_io_out *io_out(struct lp_io *io)
{
	if (!io->out) {
		struct lp_io_out *o = calloc(1, sizeof(*o));
		if (!o)
			return NULL;
		event_assign(&o->ev, event_get_base(&io->ev_read), io->fd, EV_WRITE | EV_PERSIST,
			     io_write_ready, io);
		io->out = o;
	}
	return io->out;
}

void lp_io_write_on(struct lp_io *io)
{
	if (!io->writing && io->fd >= 0) {
		struct lp_io_out *o = io_out(io);
		if (!o) {
			/* Cannot wait for writability: treat the peer as gone. */
			io->dead = true;
			return;
		}
		event_add(&o->ev, NULL);
		io->writing = true;
	}
}

void lp_io_write_off(struct lp_io *io)
{
	if (io->writing) {
		event_del(&io->out->ev);
		io->writing = false;
	}
}

void lp_io_trim(struct lp_io *io)
{
	if (io->buf && io->start == io->end) {
		buf_put(io->buf);
		io->buf = NULL;
		io->start = io->pos = io->end = 0;
	}
}

int lp_io_fill(struct lp_io *io)
{
	if (!io->buf) {
		io->buf = buf_get();
		if (!io->buf)
			return -2;
		io->start = io->pos = io->end = 0;
	}
	if (io->end == cache.size) {
		if (io->start == 0)
			return -3;
		/* Compact: unforwarded and unparsed bytes move to the front. */
		memmove(io->buf, io->buf + io->start, io->end - io->start);
		io->pos -= io->start;
		io->end -= io->start;
		io->start = 0;
	}
	if (io->drained || io->parked || io->handed_off)
		return -1;
	uint32_t room = cache.size - io->end;
	ssize_t n = io->tr->read(io, io->buf + io->end, room);
	/* TLS may have to answer while reading (key update): let it out. */
	if (io->tr->unsent(io))
		lp_io_write_on(io);
	if (n > 0) {
		/* A short read took all the socket held: the usual case of one
		 * small message saves the read that would only say EAGAIN. */
		io->drained = (uint32_t)n < room && !io->tr->pending(io);
		io->end += (uint32_t)n;
		io->got_input = true;
		return (int)n;
	}
	if (n == 0) {
		io->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		io->drained = true;
		return -1;
	}
	return -2;
}

void lp_io_consume(struct lp_io *io, uint32_t n)
{
	if (n > io->end - io->pos)
		n = io->end - io->pos;
	memmove(io->buf + io->pos, io->buf + io->pos + n, io->end - io->pos - n);
	io->end -= n;
	lp_io_trim(io);
}

bool lp_io_splice(struct lp_io *io, uint32_t old_len, const void *data, uint32_t len)
{
	lp_assert(io->buf && old_len <= io->end - io->pos);
	if (io->end - old_len + len > cache.size)
		return false;
	memmove(io->buf + io->pos + len, io->buf + io->pos + old_len, io->end - io->pos - old_len);
	memcpy(io->buf + io->pos, data, len);
	io->end = io->end - old_len + len;
	io->pos += len;
	return true;
}

/* Writes what the queue holds; true when empty afterwards. */
static bool drain_outq(struct lp_io *io)
{
	struct lp_io_out *o = io->out;
	while (o && o->len > 0) {
		ssize_t n = io->tr->write(io, o->q, o->len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return false;
			io->dead = true;
			o->len = 0;
			return true;
		}
		memmove(o->q, o->q + n, o->len - (uint32_t)n);
		o->len -= (uint32_t)n;
	}
	return true;
}

/* The most injected output one connection may hold. Writers that could
 * queue more stop reading their input until the queue drains
 * (lp_io_wait_drained), so only one oversized answer gets here; the length
 * is 32-bit and must never wrap. */
#define LP_IO_OUTQ_MAX (1u << 30)

static bool queue_bytes(struct lp_io *io, const void *data, size_t len)
{
	struct lp_io_out *o = io_out(io);
	if (!o)
		return false;
	if (len > LP_IO_OUTQ_MAX - o->len)
		return false;           /* the caller marks the connection dead */
	if (o->len + len > o->cap) {
		size_t ncap = o->cap ? o->cap : 256;
		while (ncap < o->len + len)
			ncap *= 2;
		uint8_t *nq = realloc(o->q, ncap);
		if (!nq)
			return false;
		o->q = nq;
		o->cap = (uint32_t)ncap;
	}
	memcpy(o->q + o->len, data, len);
	o->len += (uint32_t)len;
	return true;
}

int lp_io_send(struct lp_io *dst, const void *data, size_t len)
{
	if (dst->dead || dst->fd < 0 || dst->handed_off)
		return -1;
	const uint8_t *p = data;
	if (!dst->out || (dst->out->len == 0 && !dst->out->flush_src)) {
		while (len > 0) {
			ssize_t n = dst->tr->write(dst, p, len);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				dst->dead = true;
				return -1;
			}
			p += n;
			len -= (size_t)n;
		}
		if (len == 0) {
			if (dst->tr->unsent(dst))
				lp_io_write_on(dst);
			return 0;
		}
	}
	if (!queue_bytes(dst, p, len)) {
		dst->dead = true;
		return -1;
	}
	lp_io_write_on(dst);
	return 0;
}

bool lp_io_flush_to(struct lp_io *src, struct lp_io *dst)
{
	if (dst->dead || dst->fd < 0 || dst->handed_off) {
		src->start = src->pos;
		lp_io_trim(src);
		return true;
	}
	if (lp_io_queued(dst) > 0 && !drain_outq(dst))
		goto blocked;
	while (src->start < src->pos) {
		ssize_t n = dst->tr->write(dst, src->buf + src->start, src->pos - src->start);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				goto blocked;
			dst->dead = true;
			src->start = src->pos;
			break;
		}
		src->start += (uint32_t)n;
	}
	if (src->start == src->end) {
		src->start = src->pos = src->end = 0;
		lp_io_trim(src);
	}
	if (dst->tr->unsent(dst))
		lp_io_write_on(dst);
	return true;
blocked:
	lp_io_write_on(dst);
	if (dst->dead) {                /* no memory to wait with: drop as above */
		src->start = src->pos;
		lp_io_trim(src);
		return true;
	}
	dst->out->flush_src = src;
	lp_io_read_off(src);
	return false;
}

static void io_write_ready(evutil_socket_t fd, short what, void *arg)
{
	struct lp_io *io = arg;
	(void)fd;
	(void)what;
	if (io->tls_done) {
		lp_tls_handshake_step(io);
		return;
	}
	int fl = io->tr->flush(io);
	if (fl == 0)
		return;
	if (fl < 0) {
		io->dead = true;
		io->out->len = 0;
	}
	if (!drain_outq(io))
		return;
	struct lp_io *src = io->out->flush_src;
	if (src) {
		io->out->flush_src = NULL;
		if (!lp_io_flush_to(src, io))
			return;
		/* The reader was stopped for us; let its owner continue. */
		if (!io->tr->unsent(io))
			lp_io_write_off(io);
		lp_io_kick(src);
		return;
	}
	if (io->tr->unsent(io))
		return;
	lp_io_write_off(io);
	if (io->wake_when_drained) {
		io->wake_when_drained = false;
		lp_io_kick(io);
	}
}

bool lp_io_wait_drained(struct lp_io *io)
{
	if (lp_io_drained(io) && !io->tr->unsent(io))
		return false;
	io->wake_when_drained = true;
	lp_io_read_off(io);
	lp_io_write_on(io);
	return true;
}
