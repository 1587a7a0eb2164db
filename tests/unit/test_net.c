/*
 * Unit tests of src/net socket setup, on real loopback sockets: what a TCP
 * listener carries is what every accepted socket gets (the accept path sets
 * no option of its own), a re-tune reaches later connections, and
 * TCP_DEFER_ACCEPT holds a connection back until its first bytes arrive.
 * Also lp_io_splice, the in-place rewrite of a message head.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "net/io.h"
#include "net/listen.h"

struct lsn {
	int fd;
	struct sockaddr_in addr;
};

static void open_listener(struct lsn *l)
{
	char err[256];
	int fds[4];
	assert_int_equal(lp_listen_tcp("127.0.0.1", 0, 16, false, fds, 4, err, sizeof(err)), 1);
	l->fd = fds[0];
	socklen_t len = sizeof(l->addr);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&l->addr, &len), 0);
	/* Listeners are opened non-blocking: the accept loop relies on EAGAIN. */
	assert_true(fcntl(l->fd, F_GETFL) & O_NONBLOCK);
}

static int dial(const struct lsn *l)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)&l->addr, sizeof(l->addr)), 0);
	return fd;
}

/* Accepts what the listener hands over within ms, or returns -1. */
static int take(const struct lsn *l, int ms)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	if (poll(&p, 1, ms) <= 0)
		return -1;
	return accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);
	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static void test_accepted_socket_inherits_listener_options(void **state)
{
	(void)state;
	struct lsn l;
	open_listener(&l);
	struct lp_tcp_tuning t = { .keepalive = true, .user_timeout_ms = 4321 };
	lp_sock_tune_listener(l.fd, &t);

	int c = dial(&l);
	int a = take(&l, 2000);
	assert_true(a >= 0);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_int_equal(opt(a, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_USER_TIMEOUT), 4321);
	close(a);
	close(c);

	/* A reload turning keepalive off reaches the next connection. */
	t.keepalive = false;
	t.user_timeout_ms = 0;
	lp_sock_tune_listener(l.fd, &t);
	c = dial(&l);
	a = take(&l, 2000);
	assert_true(a >= 0);
	assert_int_equal(opt(a, SOL_SOCKET, SO_KEEPALIVE), 0);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_NODELAY), 1);
	close(a);
	close(c);
	close(l.fd);
}

static void test_accepted_socket_gets_os_default_overrides(void **state)
{
	(void)state;
	struct lsn l;
	open_listener(&l);
	struct lp_tcp_tuning t = { .keepalive = true, .idle = 77, .intvl = 11, .cnt = 5,
				   .sockbuf = 65536 };
	lp_sock_tune_listener(l.fd, &t);
	int c = dial(&l);
	int a = take(&l, 2000);
	assert_true(a >= 0);
	lp_sock_tune_accepted(a, &t);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_KEEPIDLE), 77);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_KEEPINTVL), 11);
	assert_int_equal(opt(a, IPPROTO_TCP, TCP_KEEPCNT), 5);
	/* Linux doubles the requested size for its bookkeeping. */
	assert_true(opt(a, SOL_SOCKET, SO_RCVBUF) >= 65536);
	close(a);
	close(c);
	close(l.fd);
}

static void test_defer_accept_waits_for_first_bytes(void **state)
{
	(void)state;
	struct lsn l;
	open_listener(&l);
	struct lp_tcp_tuning t = { .keepalive = true, .defer_accept_s = 45 };
	lp_sock_tune_listener(l.fd, &t);

	int c = dial(&l);
	assert_int_equal(take(&l, 200), -1);  /* connected, but nothing sent yet */
	assert_int_equal(write(c, "abcd", 4), 4);
	int a = take(&l, 2000);
	assert_true(a >= 0);
	char buf[8];
	assert_int_equal(read(a, buf, sizeof(buf)), 4);  /* the bytes are already in */
	close(a);
	close(c);

	t.defer_accept_s = 0;
	lp_sock_tune_listener(l.fd, &t);
	c = dial(&l);
	a = take(&l, 2000);
	assert_true(a >= 0);
	close(a);
	close(c);
	close(l.fd);
}

/* A rewritten head replaces the old one in the buffer and is marked for
 * forwarding, the bytes after it intact; without room nothing changes. */
static void test_splice_rewrites_a_head_in_place(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct event_base *base = event_base_new();
	lp_io_set_buf_size(32);
	struct lp_io io;
	lp_io_init(&io, base, sv[0], NULL, NULL);
	assert_int_equal(write(sv[1], "headREST", 8), 8);
	assert_int_equal(lp_io_fill(&io), 8);
	assert_true(lp_io_splice(&io, 4, "longer-head", 11));
	assert_int_equal(io.start, 0);
	assert_int_equal(io.pos, 11);
	assert_int_equal(lp_io_unparsed(&io), 4);
	assert_memory_equal(io.buf, "longer-headREST", 15);
	/* 15 + big - 2 > the buffer (pkt_buf's floor): refused, untouched */
	uint32_t big = lp_io_buf_size();
	char *fill = calloc(1, big);
	assert_non_null(fill);
	assert_false(lp_io_splice(&io, 2, fill, big));
	free(fill);
	assert_int_equal(io.pos, 11);
	assert_int_equal(lp_io_unparsed(&io), 4);
	assert_memory_equal(io.buf, "longer-headREST", 15);
	/* shorter works too */
	assert_true(lp_io_splice(&io, 2, "r", 1));
	assert_int_equal(io.pos, 12);
	assert_memory_equal(io.buf, "longer-headrST", 14);
	lp_io_close(&io);
	close(sv[1]);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_socket_inherits_listener_options),
		cmocka_unit_test(test_accepted_socket_gets_os_default_overrides),
		cmocka_unit_test(test_defer_accept_waits_for_first_bytes),
		cmocka_unit_test(test_splice_rewrites_a_head_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
