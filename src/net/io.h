/*
 * One socket with its read buffer and its small outbound queue, on the main
 * libevent loop. Clients and servers each embed one lp_io.
 *
 * Forwarding contract: bytes read from A land in A's buffer; the owner walks
 * message headers and marks whole or partial messages as "to forward" by
 * advancing ->pos; lp_io_flush_to() writes [start, pos) to the peer socket
 * with at most one copy (kernel to buffer; buffer to kernel). A partial write
 * stops reading on A and arms writability on B until the bytes are gone, so a
 * slow reader throttles its writer and nothing is held beyond one buffer.
 *
 * Buffers come from one cache of pkt_buf-sized blocks and are returned as
 * soon as they hold no bytes, so an idle connection holds none.
 *
 * The bytes themselves move through the connection's transport: plain
 * read()/write() by default, TLS once lp_io_tls_accept()/lp_io_tls_connect()
 * (net/tls.h) finished a handshake. Nothing above net/ sees the difference.
 */
#ifndef LP_NET_IO_H
#define LP_NET_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

struct lp_io;
typedef void (*lp_io_cb)(struct lp_io *io, short what);
/* A TLS handshake ended: err is NULL on success, else why it failed. */
typedef void (*lp_io_tls_cb)(struct lp_io *io, const char *err);

/*
 * How bytes reach the socket. read/write return >0 bytes, 0 on EOF (read),
 * or -1 with errno (EAGAIN: nothing possible now). unsent() says whether the
 * transport still holds output of its own (flushed by flush(): 1 empty,
 * 0 still pending, -1 error); pending() whether it holds input already read
 * from the socket (readability events would not announce it).
 */
struct lp_transport {
	const char *name;
	ssize_t (*read)(struct lp_io *io, void *buf, size_t len);
	ssize_t (*write)(struct lp_io *io, const void *buf, size_t len);
	bool (*pending)(const struct lp_io *io);
	bool (*unsent)(const struct lp_io *io);
	int (*flush)(struct lp_io *io);
	void (*close)(struct lp_io *io);
};

/* The write side of a connection, made on the first write that cannot
 * finish at once (or a transport's own pending output): most connections
 * never need one, so an idle connection does not carry it. */
struct lp_io_out {
	struct event ev;                 /* write readiness */
	uint8_t *q;                      /* injected bytes waiting for writability */
	uint32_t len, cap;
	struct lp_io *flush_src;         /* whose [start,pos) waits for our writability */
};

struct lp_io {
	/* Fields in size order, no padding but at the end: an idle client
	 * is mostly this struct (bench scenario 5). */
	struct event ev_read;
	struct lp_io_out *out;           /* NULL until a write had to wait */
	lp_io_cb on_read;                /* socket readable */
	void *owner;

	uint8_t *buf;                    /* NULL while empty */
	struct lp_io_capture *capture;   /* a message taken whole beyond the buffer (frame.h) */
	const struct lp_transport *tr;   /* never NULL after lp_io_init */
	void *tls;                       /* SSL * while tr is the TLS transport */
	lp_io_tls_cb tls_done;           /* set while a handshake runs */

	int fd;
	uint32_t start, pos, end;        /* [start,pos) to forward, [pos,end) unparsed */
	uint32_t pkt_remain;             /* bytes of the current message still to pass */
	/* Message framing state of the owner's loop (pool/frame.h): the
	 * header of the message at pos, parsed once and kept while the loop
	 * waits; whether the pkt_remain bytes are dropped, not forwarded. */
	uint32_t hdr_len;
	uint8_t hdr_type;
	bool hdr_held;
	bool pkt_drop;

	bool reading;                    /* read event armed */
	bool writing;                    /* write event armed */
	bool eof;
	bool dead;                       /* write failed: peer gone */
	bool drained;                    /* last read emptied the socket: skip the
					  * EAGAIN read until it is readable again.
					  * A transport that buffers (TLS) must not
					  * set it while it still holds bytes. */
	bool got_input;                  /* some byte was ever read */
	bool wake_when_drained;          /* lp_io_wait_drained: call on_read once the
					  * injected output is all written */
	/* SUSPEND: the socket is at rest and is not read (lp_io_read_on and
	 * lp_io_fill do nothing) until lp_io_unpark. */
	bool parked;
	/* Online restart: another process took the socket over (SHOW FDS).
	 * Nothing is read or written here any more; lp_io_close only closes
	 * this process's descriptor, which ends nothing for the peer. */
	bool handed_off;
};

/* A whole message copied out of the stream (pool/frame.h): len bytes of
 * cap held so far, the header first. Freed by lp_io_close. */
struct lp_io_capture {
	uint32_t len, cap;
	uint8_t buf[];
};

struct lp_io_cache_stats {
	uint32_t buf_size;
	uint64_t in_use, free;
};

/* The smallest buffer: the messages read whole (a server's login messages,
 * an auth_query row) must fit. A smaller pkt_buf is raised to it. */
#define LP_IO_BUF_MIN 512u

/* Global buffer size (pkt_buf, at least LP_IO_BUF_MIN); set once at start
 * before any buffer exists. */
void lp_io_set_buf_size(uint32_t size);
uint32_t lp_io_buf_size(void);
void lp_io_cache_stats(struct lp_io_cache_stats *st);

/* Takes ownership of fd, which the caller opened non-blocking (SOCK_NONBLOCK
 * or accept4): no fcntl per connection. */
void lp_io_init(struct lp_io *io, struct event_base *base, int fd, void *owner, lp_io_cb on_read);
/* Closes the socket, frees buffers, removes events. Idempotent. */
void lp_io_close(struct lp_io *io);

void lp_io_read_on(struct lp_io *io);
/* SUSPEND: stops reading until lp_io_unpark (which leaves reading off: the
 * owner's kick turns it on). */
void lp_io_park(struct lp_io *io);
void lp_io_unpark(struct lp_io *io);
/* Runs on_read in this loop turn without socket readiness (to parse buffered
 * bytes or to resume after a state change). */
void lp_io_kick(struct lp_io *io);
void lp_io_read_off(struct lp_io *io);
/* Write-readiness, for transports that keep output of their own. */
void lp_io_write_on(struct lp_io *io);
void lp_io_write_off(struct lp_io *io);

extern const struct lp_transport lp_transport_plain;

/*
 * Reads what the socket holds into the buffer (allocating one if needed).
 * Returns bytes read (>0), 0 on EOF (io->eof set), -1 on EAGAIN with nothing
 * read -- also, without a system call, when the previous read emptied the
 * socket and it has not been reported readable since (the read event is
 * level-triggered, so bytes arriving later wake on_read again) -- -2 on a
 * socket error. Fails with -3 when the buffer is full and nothing was
 * parsed -- the owner's message framing is broken.
 */
int lp_io_fill(struct lp_io *io);

static inline uint32_t lp_io_unparsed(const struct lp_io *io) { return io->end - io->pos; }
static inline const uint8_t *lp_io_parse_ptr(const struct lp_io *io) { return io->buf + io->pos; }

/* Removes n bytes at pos (a consumed, not forwarded, message). */
void lp_io_consume(struct lp_io *io, uint32_t n);
/* Replaces the old_len bytes at pos (a message head being rewritten) with
 * len bytes of data and marks them for forwarding (pos moves past them), so
 * that one write carries them with what follows. false, nothing changed,
 * when the buffer has no room for the difference. */
bool lp_io_splice(struct lp_io *io, uint32_t old_len, const void *data, uint32_t len);

/*
 * Writes src's [start,pos) to dst. Returns true when everything is written
 * (src's buffer is released when empty); false when dst is full -- src stops
 * reading and dst's writability resumes the flush, then calls src->on_read
 * (so the owner continues parsing). A dead dst drops the bytes.
 */
bool lp_io_flush_to(struct lp_io *src, struct lp_io *dst);

/* Writes injected bytes (a whole message built by the pooler) after anything
 * already queued. Never blocks; queues on EAGAIN. Returns -1 if dst is dead. */
int lp_io_send(struct lp_io *dst, const void *data, size_t len);
/* Injected bytes still waiting for writability. */
static inline uint32_t lp_io_queued(const struct lp_io *io) { return io->out ? io->out->len : 0; }
/* true when nothing injected is still waiting. */
static inline bool lp_io_drained(const struct lp_io *io) { return lp_io_queued(io) == 0; }
/* true when src's bytes wait for dst's writability (lp_io_flush_to blocked). */
static inline bool lp_io_waits_on(const struct lp_io *dst, const struct lp_io *src)
{
	return dst->out && dst->out->flush_src == src;
}

/* Backpressure for a connection that answers with injected bytes (the
 * admin console): true when output is still queued -- reading stops and
 * on_read runs again once it is all written; false (nothing to wait for)
 * when the queue is empty. */
bool lp_io_wait_drained(struct lp_io *io);

/* Releases the read buffer if it holds no bytes. */
void lp_io_trim(struct lp_io *io);

/* TCP options from the settings; 0 in idle/intvl/cnt/sockbuf means the OS
 * default (nothing set). */
struct lp_tcp_tuning {
	bool keepalive;
	int idle, intvl, cnt;
	int user_timeout_ms;
	int sockbuf;                    /* SO_SNDBUF and SO_RCVBUF */
	int defer_accept_s;             /* TCP_DEFER_ACCEPT; listeners only */
};

/* Outgoing (server) sockets: every option. */
void lp_sock_tune_tcp(int fd, const struct lp_tcp_tuning *t);
/*
 * Linux copies a listener's TCP options into each socket it accepts, so the
 * options that always have a value (TCP_NODELAY, SO_KEEPALIVE on or off,
 * TCP_USER_TIMEOUT, TCP_DEFER_ACCEPT) are set once on the listener, again at
 * reload, and cost no system call per connection.
 */
void lp_sock_tune_listener(int fd, const struct lp_tcp_tuning *t);
/* Accepted sockets: only what a listener cannot carry -- options whose 0
 * means "OS default", which setsockopt cannot restore after a reload. */
void lp_sock_tune_accepted(int fd, const struct lp_tcp_tuning *t);

#endif
