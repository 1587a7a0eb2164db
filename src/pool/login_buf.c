/* Login packets longer than pkt_buf; see login_buf.h. */
#include "pool/login_buf.h"

#include <stdlib.h>
#include <string.h>

struct lp_login_buf *lp_login_buf_new(uint64_t *total, uint32_t len)
{
	if (*total + len > LP_LOGIN_BUF_TOTAL)
		return NULL;
	struct lp_login_buf *b = malloc(sizeof(*b) + len);
	if (!b)
		return NULL;
	b->len = len;
	b->have = 0;
	b->total = total;
	*total += len;
	return b;
}

bool lp_login_buf_fill(struct lp_login_buf *b, struct lp_io *io)
{
	uint32_t take = lp_io_unparsed(io);
	if (take > b->len - b->have)
		take = b->len - b->have;
	if (take > 0) {
		memcpy(b->data + b->have, lp_io_parse_ptr(io), take);
		b->have += take;
		lp_io_consume(io, take);
	}
	return b->have == b->len;
}

void lp_login_buf_free(struct lp_login_buf *b)
{
	if (!b)
		return;
	*b->total -= b->len;
	explicit_bzero(b->data, b->len);
	free(b);
}
