/*
 * A login packet longer than pkt_buf -- a startup packet with long options,
 * a long cleartext password -- assembled apart from the connection's
 * buffer, which holds pkt_buf bytes at most while these must be read whole
 * ("actual packets can be larger than pkt_buf", as PgBouncer documents it).
 *
 * Each packet is bounded by its own type's limit (the caller's), and all
 * such buffers together by LP_LOGIN_BUF_TOTAL: clients that have not
 * authenticated cannot make the pooler hold more than that.
 */
#ifndef LP_POOL_LOGIN_BUF_H
#define LP_POOL_LOGIN_BUF_H

#include <stdbool.h>
#include <stdint.h>

#include "net/io.h"

#define LP_LOGIN_BUF_TOTAL (16u * 1024 * 1024)

struct lp_login_buf {
	uint32_t len, have;
	uint64_t *total;                /* the instance's count, lowered at free */
	uint8_t data[];
};

/* A buffer for a packet of len bytes, counted in *total; NULL when the
 * total would pass LP_LOGIN_BUF_TOTAL or memory is short. */
struct lp_login_buf *lp_login_buf_new(uint64_t *total, uint32_t len);
/* Moves what io holds of the packet into b (consuming it from io); true
 * once b is whole. Bytes after the packet stay in io. */
bool lp_login_buf_fill(struct lp_login_buf *b, struct lp_io *io);
/* Wipes (it may hold a password) and frees b; NULL is fine. */
void lp_login_buf_free(struct lp_login_buf *b);

#endif
