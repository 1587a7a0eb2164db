/* The takeover record codec; see handoff.h. */
#include "proto/handoff.h"

#include <string.h>

enum {
	T_KIND = 1, T_ID, T_DB, T_USER, T_POOL_USER, T_PATH, T_ADDR, T_KEY, T_TIMES, T_FLAGS,
	T_RFQ, T_PARAM, T_WELCOME, T_TRACK,
	T_KNOWN_MAX = T_TRACK,
};

#define ADDR_LEN 19     /* family, 16 address bytes, port */
#define TIMES_LEN 40    /* five int64 */
#define TRACK_HDR_LEN 8 /* tx, copy, bits, pad, count */

static void put_u32(struct lp_writer *w, uint32_t v)
{
	lp_wr_i32(w, (int32_t)v);
}

static void put_u64(struct lp_writer *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void field(struct lp_writer *w, uint8_t tag, uint32_t len)
{
	lp_wr_u8(w, tag);
	put_u32(w, len);
}

static size_t str_field_len(const char *s)
{
	return s ? 5 + strlen(s) + 1 : 0;
}

static void put_str(struct lp_writer *w, uint8_t tag, const char *s)
{
	if (!s)
		return;
	size_t n = strlen(s) + 1;
	field(w, tag, (uint32_t)n);
	lp_wr_bytes(w, s, n);
}

static size_t param_len(const struct lp_ho_param *p)
{
	return 5 + strlen(p->name) + 1 + strlen(p->value) + 1;
}

static void put_param(struct lp_writer *w, uint8_t tag, const struct lp_ho_param *p)
{
	size_t a = strlen(p->name) + 1, b = strlen(p->value) + 1;
	field(w, tag, (uint32_t)(a + b));
	lp_wr_bytes(w, p->name, a);
	lp_wr_bytes(w, p->value, b);
}

size_t lp_handoff_encoded_len(const struct lp_handoff *h)
{
	size_t n = (5 + 1) + (5 + 8) + str_field_len(h->db) + str_field_len(h->user) +
		   str_field_len(h->pool_user) + str_field_len(h->path) + (5 + ADDR_LEN) + (5 + 8) +
		   (5 + TIMES_LEN) + (5 + 4) + (h->last_rfq ? 5 + 1 : 0);
	for (int i = 0; i < h->nparams; i++)
		n += param_len(&h->params[i]);
	for (int i = 0; i < h->nwelcome; i++)
		n += param_len(&h->welcome[i]);
	if (h->have_track)
		n += 5 + TRACK_HDR_LEN + (size_t)h->nreqs * LP_HO_REQ_LEN;
	return n;
}

void lp_handoff_encode(struct lp_writer *w, const struct lp_handoff *h)
{
	field(w, T_KIND, 1);
	lp_wr_u8(w, h->kind);
	field(w, T_ID, 8);
	put_u64(w, h->id);
	put_str(w, T_DB, h->db);
	put_str(w, T_USER, h->user);
	put_str(w, T_POOL_USER, h->pool_user);
	put_str(w, T_PATH, h->path);
	field(w, T_ADDR, ADDR_LEN);
	lp_wr_u8(w, h->addr_family);
	lp_wr_bytes(w, h->addr_ip, 16);
	lp_wr_i16(w, (int16_t)h->port);
	field(w, T_KEY, 8);
	put_u32(w, h->key_pid);
	put_u32(w, h->key_secret);
	field(w, T_TIMES, TIMES_LEN);
	put_u64(w, (uint64_t)h->connect_age_us);
	put_u64(w, (uint64_t)h->active_age_us);
	put_u64(w, (uint64_t)h->request_age_us);
	put_u64(w, (uint64_t)h->xact_age_us);
	put_u64(w, (uint64_t)h->lifetime_us);
	field(w, T_FLAGS, 4);
	put_u32(w, h->flags);
	if (h->last_rfq) {
		field(w, T_RFQ, 1);
		lp_wr_u8(w, (uint8_t)h->last_rfq);
	}
	for (int i = 0; i < h->nparams; i++)
		put_param(w, T_PARAM, &h->params[i]);
	for (int i = 0; i < h->nwelcome; i++)
		put_param(w, T_WELCOME, &h->welcome[i]);
	if (h->have_track) {
		field(w, T_TRACK, TRACK_HDR_LEN + h->nreqs * LP_HO_REQ_LEN);
		lp_wr_u8(w, (uint8_t)h->trk_tx);
		lp_wr_u8(w, h->trk_copy);
		lp_wr_u8(w, (uint8_t)((h->trk_copy_in_fe ? 1 : 0) | (h->trk_batch_open ? 2 : 0) |
				      (h->trk_fe_skip ? 4 : 0)));
		lp_wr_u8(w, 0);
		put_u32(w, h->nreqs);
		lp_wr_bytes(w, h->reqs, (size_t)h->nreqs * LP_HO_REQ_LEN);
	}
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* A string field: one NUL, at its end. */
static const char *get_str(const uint8_t *v, uint32_t len)
{
	if (len == 0 || v[len - 1] != '\0' || memchr(v, '\0', len - 1))
		return NULL;
	return (const char *)v;
}

/* "name\0value\0": exactly two NULs, the second at the end, a name. */
static bool get_param(const uint8_t *v, uint32_t len, struct lp_ho_param *p)
{
	const uint8_t *nul = len ? memchr(v, '\0', len) : NULL;
	if (!nul || nul == v)
		return false;
	size_t rest = len - (size_t)(nul + 1 - v);
	p->name = (const char *)v;
	p->value = get_str(nul + 1, (uint32_t)rest);
	return p->value != NULL;
}

int lp_handoff_decode(const uint8_t *buf, size_t len, struct lp_handoff *out, const char **err)
{
	uint32_t seen = 0;
	size_t pos = 0;
	memset(out, 0, sizeof(*out));
	while (pos < len) {
		if (len - pos < 5) {
			*err = "truncated field header";
			return LP_PROTO_ERROR;
		}
		uint8_t tag = buf[pos];
		uint32_t flen = get_u32(buf + pos + 1);
		pos += 5;
		if (flen > len - pos) {
			*err = "field longer than the record";
			return LP_PROTO_ERROR;
		}
		const uint8_t *v = buf + pos;
		pos += flen;
		if (tag == 0 || tag > T_KNOWN_MAX)
			continue;               /* a newer process's field */
		if (tag != T_PARAM && tag != T_WELCOME) {
			if (seen & (1u << tag)) {
				*err = "repeated field";
				return LP_PROTO_ERROR;
			}
			seen |= 1u << tag;
		}
		static const uint32_t fixed[T_KNOWN_MAX + 1] = {
			[T_KIND] = 1, [T_ID] = 8, [T_ADDR] = ADDR_LEN, [T_KEY] = 8,
			[T_TIMES] = TIMES_LEN, [T_FLAGS] = 4, [T_RFQ] = 1,
		};
		if (fixed[tag] && flen != fixed[tag]) {
			*err = "field of the wrong length";
			return LP_PROTO_ERROR;
		}
		switch (tag) {
		case T_KIND:
			out->kind = v[0];
			if (out->kind != LP_HO_LISTENER && out->kind != LP_HO_CLIENT &&
			    out->kind != LP_HO_SERVER) {
				*err = "unknown socket kind";
				return LP_PROTO_ERROR;
			}
			break;
		case T_ID:
			out->id = get_u64(v);
			break;
		case T_DB:
		case T_USER:
		case T_POOL_USER:
		case T_PATH: {
			const char *s = get_str(v, flen);
			if (!s) {
				*err = "malformed string field";
				return LP_PROTO_ERROR;
			}
			*(tag == T_DB ? &out->db : tag == T_USER ? &out->user
				   : tag == T_POOL_USER ? &out->pool_user : &out->path) = s;
			break;
		}
		case T_ADDR:
			out->addr_family = v[0];
			memcpy(out->addr_ip, v + 1, 16);
			out->port = (uint16_t)(v[17] << 8 | v[18]);
			break;
		case T_KEY:
			out->key_pid = get_u32(v);
			out->key_secret = get_u32(v + 4);
			break;
		case T_TIMES:
			out->connect_age_us = (int64_t)get_u64(v);
			out->active_age_us = (int64_t)get_u64(v + 8);
			out->request_age_us = (int64_t)get_u64(v + 16);
			out->xact_age_us = (int64_t)get_u64(v + 24);
			out->lifetime_us = (int64_t)get_u64(v + 32);
			if (out->connect_age_us < 0 || out->active_age_us < 0 ||
			    out->request_age_us < 0 || out->xact_age_us < 0 || out->lifetime_us < 0) {
				*err = "negative time";
				return LP_PROTO_ERROR;
			}
			break;
		case T_FLAGS:
			out->flags = get_u32(v);
			break;
		case T_RFQ:
			out->last_rfq = (char)v[0];
			if (out->last_rfq != 'I' && out->last_rfq != 'T' && out->last_rfq != 'E') {
				*err = "bad transaction status";
				return LP_PROTO_ERROR;
			}
			break;
		case T_PARAM:
		case T_WELCOME: {
			int *n = tag == T_PARAM ? &out->nparams : &out->nwelcome;
			struct lp_ho_param *arr = tag == T_PARAM ? out->params : out->welcome;
			if (*n == LP_HO_MAX_PARAMS) {
				*err = "too many parameters";
				return LP_PROTO_ERROR;
			}
			if (!get_param(v, flen, &arr[*n])) {
				*err = "malformed parameter";
				return LP_PROTO_ERROR;
			}
			(*n)++;
			break;
		}
		case T_TRACK: {
			if (flen < TRACK_HDR_LEN) {
				*err = "truncated tracker state";
				return LP_PROTO_ERROR;
			}
			uint32_t n = get_u32(v + 4);
			if (n > LP_HO_MAX_REQS || flen != TRACK_HDR_LEN + n * LP_HO_REQ_LEN ||
			    v[2] & ~7u) {
				*err = "malformed tracker state";
				return LP_PROTO_ERROR;
			}
			out->have_track = true;
			out->trk_tx = (char)v[0];
			out->trk_copy = v[1];
			out->trk_copy_in_fe = v[2] & 1;
			out->trk_batch_open = v[2] & 2;
			out->trk_fe_skip = v[2] & 4;
			out->nreqs = n;
			out->reqs = v + TRACK_HDR_LEN;
			break;
		}
		}
	}
	if (!out->kind) {
		*err = "no socket kind";
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

void lp_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	*out++ = '\\';
	*out++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	*out = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long lp_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t cap)
{
	if (inlen < 2 || in[0] != '\\' || in[1] != 'x' || (inlen - 2) % 2 != 0 ||
	    (inlen - 2) / 2 > cap)
		return -1;
	size_t n = (inlen - 2) / 2;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 + 2 * i]), lo = hexval(in[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)n;
}
