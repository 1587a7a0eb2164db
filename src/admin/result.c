/*
 * Result-set builder for the admin console (see result.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/result.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/instance.h"
#include "proto/proto.h"

/* A console result larger than this is refused rather than queued. */
#define RESULT_MAX_BYTES (64u << 20)

static const struct {
	uint32_t oid;
	int16_t typlen;
} col_types[] = {
	[LP_COL_TEXT] = { 25, -1 },   [LP_COL_INT4] = { 23, 4 },    [LP_COL_INT8] = { 20, 8 },
	[LP_COL_NUMERIC] = { 1700, -1 }, [LP_COL_TIME] = { 25, -1 }, [LP_COL_BYTEA] = { 17, -1 },
};

static void put(struct lp_result *r, const void *p, size_t n)
{
	if (r->failed)
		return;
	if (r->len + n > r->cap) {
		size_t ncap = r->cap ? r->cap : 1024;
		while (ncap < r->len + n)
			ncap *= 2;
		if (ncap > RESULT_MAX_BYTES) {
			r->failed = true;
			return;
		}
		uint8_t *nb = realloc(r->buf, ncap);
		if (!nb) {
			r->failed = true;
			return;
		}
		r->buf = nb;
		r->cap = ncap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static void put_u16(struct lp_result *r, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(r, b, 2);
}

static void put_u32(struct lp_result *r, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(r, b, 4);
}

static void msg_begin(struct lp_result *r, char type)
{
	r->msg_start = r->len;
	put(r, &type, 1);
	put_u32(r, 0);
}

static void msg_end(struct lp_result *r)
{
	if (r->failed)
		return;
	uint32_t l = (uint32_t)(r->len - r->msg_start - 1);
	uint8_t *p = r->buf + r->msg_start + 1;
	p[0] = (uint8_t)(l >> 24);
	p[1] = (uint8_t)(l >> 16);
	p[2] = (uint8_t)(l >> 8);
	p[3] = (uint8_t)l;
}

void lp_result_begin(struct lp_result *r, const struct lp_col *cols, int ncols)
{
	memset(r, 0, sizeof(*r));
	r->cols = cols;
	r->ncols = ncols;
	msg_begin(r, 'T');
	put_u16(r, (uint16_t)ncols);
	for (int i = 0; i < ncols; i++) {
		put(r, cols[i].name, strlen(cols[i].name) + 1);
		put_u32(r, 0);                          /* table oid */
		put_u16(r, 0);                          /* attnum */
		put_u32(r, col_types[cols[i].type].oid);
		put_u16(r, (uint16_t)col_types[cols[i].type].typlen);
		put_u32(r, UINT32_MAX);                 /* typmod -1 */
		put_u16(r, 0);                          /* text format */
	}
	msg_end(r);
}

void lp_row_begin(struct lp_result *r)
{
	r->col = 0;
	msg_begin(r, 'D');
	put_u16(r, (uint16_t)r->ncols);
}

/* Checks the next column takes a value of this kind. */
static bool next_col(struct lp_result *r, bool numeric_ok, bool int_ok, bool text_ok)
{
	if (r->col >= r->ncols) {
		r->failed = true;
		return false;
	}
	enum lp_col_type t = r->cols[r->col++].type;
	bool ok = (t == LP_COL_NUMERIC && numeric_ok) ||
		  ((t == LP_COL_INT4 || t == LP_COL_INT8) && int_ok) ||
		  ((t == LP_COL_TEXT || t == LP_COL_BYTEA) && text_ok) || (t == LP_COL_TIME && text_ok);
	if (!ok)
		r->failed = true;
	return ok;
}

static void value(struct lp_result *r, const char *v, size_t n)
{
	put_u32(r, (uint32_t)n);
	put(r, v, n);
}

void lp_row_text(struct lp_result *r, const char *v)
{
	if (!next_col(r, false, false, true))
		return;
	if (!v)
		put_u32(r, UINT32_MAX);
	else
		value(r, v, strlen(v));
}

void lp_row_null(struct lp_result *r)
{
	if (r->col >= r->ncols) {
		r->failed = true;
		return;
	}
	r->col++;
	put_u32(r, UINT32_MAX);
}

void lp_row_int(struct lp_result *r, int64_t v)
{
	char tmp[32];
	if (!next_col(r, false, true, false))
		return;
	if (r->cols[r->col - 1].type == LP_COL_INT4 && (v > INT32_MAX || v < INT32_MIN))
		v = v > 0 ? INT32_MAX : INT32_MIN;
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	value(r, tmp, (size_t)n);
}

void lp_row_u64(struct lp_result *r, uint64_t v)
{
	char tmp[32];
	if (!next_col(r, true, false, false))
		return;
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	value(r, tmp, (size_t)n);
}

void lp_admin_format_time(int64_t mono_us, char *out, size_t cap)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t wall_us = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000 - (lp_now_us() - mono_us);
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void lp_row_time(struct lp_result *r, int64_t mono_us)
{
	char tmp[64];
	if (r->col < r->ncols && r->cols[r->col].type != LP_COL_TIME) {
		r->failed = true;
		return;
	}
	if (mono_us == 0) {
		lp_row_null(r);
		return;
	}
	if (!next_col(r, false, false, true))
		return;
	lp_admin_format_time(mono_us, tmp, sizeof(tmp));
	value(r, tmp, strlen(tmp));
}

void lp_row_end(struct lp_result *r)
{
	if (r->col != r->ncols)
		r->failed = true;
	msg_end(r);
	r->nrows++;
}

void lp_result_cleanup(struct lp_result *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

bool lp_result_finish(struct lp_result *r, const char *tag)
{
	if (!r->failed) {
		msg_begin(r, 'C');
		put(r, tag, strlen(tag) + 1);
		msg_end(r);
		msg_begin(r, 'Z');
		put(r, "I", 1);
		msg_end(r);
	}
	return !r->failed;
}

void lp_result_send(struct lp_result *r, struct lp_client *c, const char *tag)
{
	if (!lp_result_finish(r, tag)) {
		lp_client_log(c, LP_LOG_ERROR, "admin result for %s could not be built", tag);
		lp_client_error(c, "XX000", "internal error: result could not be built");
	} else {
		(void)lp_io_send(&c->io, r->buf, r->len);
	}
	lp_result_cleanup(r);
}
