/*
 * The one message loop: walks the typed messages buffered in an lp_io and
 * asks its owner, once per message header, what to do with the message.
 * Client and server forwarding both run on it.
 *
 * Forwarded messages are marked by advancing io->pos (the caller writes
 * [start,pos) to the peer); a message longer than what is buffered streams
 * through in pieces (io->pkt_remain) without the owner being asked again.
 * A message the owner stops at keeps its parsed header in the io, so each
 * header is parsed once however often the walk is resumed. The owner
 * decides per message; the loop only keeps the framing: where the next
 * header is, how much of the current message is still to pass or drop.
 */
#ifndef LP_POOL_FRAME_H
#define LP_POOL_FRAME_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "net/io.h"
#include "proto/proto.h"

enum lp_frame_act {
	LP_FRAME_FORWARD,       /* pass the whole message on */
	LP_FRAME_CONSUMED,      /* the owner used the (whole) message: drop its bytes */
	LP_FRAME_DROP,          /* drop the message as it streams in, however long */
	LP_FRAME_MORE,          /* ask again once more of the message is buffered
				 * (a message that never fits the buffer ends
				 * the connection as broken framing) */
	LP_FRAME_STOP,          /* stop before this message; the owner resumes later */
	LP_FRAME_CLOSED,        /* the owner is gone: touch nothing */
	LP_FRAME_CAPTURE,       /* take the message whole into memory of its own (it is
				 * longer than the buffer; the owner checked the
				 * length against its bound) and ask again with it */
};

/*
 * msg points at the message (header first); avail bytes of it are
 * buffered (avail >= LP_PROTO_HDR_LEN; the whole message when
 * avail > h->len). Called again for the same message after MORE or STOP.
 * A captured message comes whole (msg is the capture, avail its length);
 * the owner answers CONSUMED once done with it (STOP keeps it, CLOSED drops
 * it with the connection). FORWARD after the owner consumed the first n
 * bytes of the message (lp_io_consume at pos, having sent a rewritten head
 * itself), or replaced them with a rewritten head marked for forwarding
 * (lp_io_splice), forwards the remaining bytes.
 */
typedef enum lp_frame_act (*lp_frame_fn)(void *owner, const struct lp_msg_hdr *h,
					 const uint8_t *msg, uint32_t avail);
/* A header the framing cannot accept (length < 4 or over max_len): the
 * owner reports err and closes. */
typedef void (*lp_frame_err_fn)(void *owner, const char *err);

enum lp_frame_rc {
	LP_FRAME_NEED_BYTES = 1,        /* everything buffered is handled */
	LP_FRAME_STOPPED = 0,           /* the owner said STOP */
	LP_FRAME_GONE = -1,             /* the owner closed */
};

/*
 * Walks io's unparsed bytes until they are all handled, the owner stops,
 * or it closes. max_len: the largest length word accepted. Inline, so that
 * each caller's fn is a direct call the compiler may inline: the loop runs
 * for every message both ways.
 */
static inline enum lp_frame_rc lp_frame_walk(struct lp_io *io, uint32_t max_len, lp_frame_fn fn,
			       lp_frame_err_fn err_fn, void *owner)
{
	for (;;) {
		if (io->pkt_remain > 0) {
			uint32_t take = lp_io_unparsed(io);
			if (take > io->pkt_remain)
				take = io->pkt_remain;
			if (io->pkt_drop) {
				if (take > 0) { /* an empty buffer may be released */
					struct lp_io_capture *cp = io->capture;
					if (cp) {
						memcpy(cp->buf + cp->len, lp_io_parse_ptr(io), take);
						cp->len += take;
					}
					lp_io_consume(io, take);
				}
			} else {
				io->pos += take;
			}
			io->pkt_remain -= take;
			if (io->pkt_remain > 0)
				return LP_FRAME_NEED_BYTES;
			io->pkt_drop = false;
			continue;
		}
		if (io->capture) {
			/* A captured message is complete: the owner's turn. */
			struct lp_io_capture *cp = io->capture;
			struct lp_msg_hdr ch = { cp->buf[0], cp->len - 1 };
			switch (fn(owner, &ch, cp->buf, cp->len)) {
			case LP_FRAME_CONSUMED:
				free(io->capture);
				io->capture = NULL;
				continue;
			case LP_FRAME_CLOSED:
				return LP_FRAME_GONE;
			default:
				lp_assert(!"a captured message is consumed, kept or closed");
				/* fall through */
			case LP_FRAME_STOP:
				return LP_FRAME_STOPPED;
			}
		}
		uint32_t avail = lp_io_unparsed(io);
		struct lp_msg_hdr h;
		if (io->hdr_held) {
			h.type = io->hdr_type;
			h.len = io->hdr_len;
		} else {
			const char *err;
			int rc = lp_msg_hdr_parse(lp_io_parse_ptr(io), avail, max_len, &h, &err);
			if (rc == LP_PROTO_INCOMPLETE)
				return LP_FRAME_NEED_BYTES;
			if (rc != LP_PROTO_OK) {
				err_fn(owner, err);
				return LP_FRAME_GONE;
			}
			io->hdr_type = h.type;
			io->hdr_len = h.len;
			io->hdr_held = true;
		}
		uint32_t total = h.len + 1;
		switch (fn(owner, &h, lp_io_parse_ptr(io), avail)) {
		case LP_FRAME_FORWARD:
			/* less what the owner took of the head (a rewrite) */
			io->hdr_held = false;
			io->pkt_remain = total - (avail - lp_io_unparsed(io));
			continue;
		case LP_FRAME_CAPTURE: {
			lp_assert(avail < total);
			struct lp_io_capture *cp = malloc(sizeof(*cp) + total);
			if (!cp) {
				err_fn(owner, "out of memory");
				return LP_FRAME_GONE;
			}
			cp->cap = total;
			cp->len = 0;
			io->capture = cp;
			io->hdr_held = false;
			io->pkt_remain = total;
			io->pkt_drop = true;
			continue;
		}
		case LP_FRAME_CONSUMED:
			lp_assert(avail >= total);
			io->hdr_held = false;
			lp_io_consume(io, total);
			continue;
		case LP_FRAME_DROP:
			io->hdr_held = false;
			io->pkt_remain = total;
			io->pkt_drop = true;
			continue;
		case LP_FRAME_MORE:
			lp_assert(avail < total);
			return LP_FRAME_NEED_BYTES;
		case LP_FRAME_STOP:
			return LP_FRAME_STOPPED;
		case LP_FRAME_CLOSED:
			return LP_FRAME_GONE;
		}
	}
}


/*
 * The owner takes the message whose header the walk holds out of the
 * framing -- to read it apart, e.g. one longer than the buffer -- and
 * answers LP_FRAME_STOP: its bytes are the owner's to consume, and the
 * next walk parses whatever header follows them.
 */
static inline void lp_frame_take(struct lp_io *io)
{
	io->hdr_held = false;
}

/* Part of a message has been forwarded from io and the rest is still to
 * come: its peer holds half a message. */
static inline bool lp_frame_mid_message(const struct lp_io *io)
{
	return io->pkt_remain > 0 && !io->pkt_drop;
}

#endif
