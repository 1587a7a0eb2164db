/*
 * Typed-message codec: header framing, a bounds-checked body reader, and
 * parsers for the handful of messages the pooler itself must understand
 * (authentication, errors, parameter status, key data, ready-for-query).
 *
 * Every parser takes the body alone (the bytes after the length word) and
 * demands that the body is consumed exactly: trailing bytes mean the peer
 * and linkpool disagree about the layout, and such a peer is not trusted.
 */
#include "proto/proto.h"

#include <string.h>

int lp_msg_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_len,
		     struct lp_msg_hdr *out, const char **err)
{
	uint32_t len;

	*err = NULL;
	if (avail < LP_PROTO_HDR_LEN)
		return LP_PROTO_INCOMPLETE;
	len = ((uint32_t)buf[1] << 24) | ((uint32_t)buf[2] << 16) |
	      ((uint32_t)buf[3] << 8) | (uint32_t)buf[4];
	if (len < 4) {
		*err = "invalid message length";
		return LP_PROTO_ERROR;
	}
	if (len > max_len) {
		*err = "message too long";
		return LP_PROTO_ERROR;
	}
	out->type = buf[0];
	out->len = len;
	return LP_PROTO_OK;
}

/* ---- per-type limits ---- */

int lp_msg_check_frontend(const struct lp_msg_hdr *h, uint32_t max_len, const char **err)
{
	uint32_t max;

	*err = NULL;
	switch (h->type) {
	case 'S': case 'H': case 'c': case 'X':  /* Sync, Flush, CopyDone, Terminate */
		if (h->len != 4) {
			*err = "invalid length for a fixed-size message";
			return LP_PROTO_ERROR;
		}
		return LP_PROTO_OK;
	case 'C': case 'D': case 'E': case 'f':  /* Close, Describe, Execute, CopyFail */
		max = LP_PROTO_SMALL_MSG_MAX;
		break;
	case 'Q': case 'P': case 'B': case 'F': case 'd':
		max = max_len;
		break;
	default:
		*err = "invalid frontend message type";
		return LP_PROTO_ERROR;
	}
	if (h->len > max) {
		*err = "message too long for its type";
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

int lp_msg_check_backend(const struct lp_msg_hdr *h, uint32_t max_len, const char **err)
{
	uint32_t exact = 0;

	*err = NULL;
	switch (h->type) {
	case '1': case '2': case '3': case 'I': case 'n': case 'c': case 's':
		exact = 4;      /* ParseComplete ... PortalSuspended: no body */
		break;
	case 'Z':
		exact = 5;      /* ReadyForQuery: one status byte */
		break;
	case 'A': case 'C': case 'D': case 'E': case 'G': case 'H': case 'N': case 'S':
	case 'T': case 'V': case 'W': case 'd': case 't':
		break;
	default:
		*err = "invalid backend message type";
		return LP_PROTO_ERROR;
	}
	if (exact ? h->len != exact : h->len > max_len) {
		*err = exact ? "invalid length for a fixed-size message" : "message too long";
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

/* ---- reader ---- */

void lp_rd_init(struct lp_reader *r, const uint8_t *body, size_t len)
{
	r->p = body;
	r->len = body != NULL ? len : 0;
	r->pos = 0;
	r->err = false;
}

/* Returns a pointer to n held bytes and advances, or NULL and poisons r. */
static const uint8_t *take(struct lp_reader *r, size_t n)
{
	const uint8_t *at;

	if (r->err || n > r->len - r->pos) {
		r->err = true;
		return NULL;
	}
	/* NULL + 0 is undefined even when nothing is read. */
	at = r->p != NULL ? r->p + r->pos : (const uint8_t *)"";
	r->pos += n;
	return at;
}

uint8_t lp_rd_u8(struct lp_reader *r)
{
	const uint8_t *p = take(r, 1);

	return p != NULL ? p[0] : 0;
}

int16_t lp_rd_i16(struct lp_reader *r)
{
	const uint8_t *p = take(r, 2);

	if (p == NULL)
		return 0;
	return (int16_t)(uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

int32_t lp_rd_i32(struct lp_reader *r)
{
	const uint8_t *p = take(r, 4);

	if (p == NULL)
		return 0;
	return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
			 ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

const char *lp_rd_cstr(struct lp_reader *r)
{
	const uint8_t *nul;
	size_t n;

	if (r->err || r->pos >= r->len) {
		r->err = true;
		return NULL;
	}
	nul = memchr(r->p + r->pos, 0, r->len - r->pos);
	if (nul == NULL) {
		r->err = true;
		return NULL;
	}
	n = (size_t)(nul - (r->p + r->pos)) + 1;
	return (const char *)take(r, n);
}

const uint8_t *lp_rd_bytes(struct lp_reader *r, int32_t n)
{
	if (n < 0) {
		r->err = true;
		return NULL;
	}
	return take(r, (size_t)n);
}

size_t lp_rd_remaining(const struct lp_reader *r)
{
	return r->err ? 0 : r->len - r->pos;
}

/* Common tail of every parser: the body must have been read whole. */
static int finish(const struct lp_reader *r, const char *what, const char **err)
{
	if (r->err) {
		*err = what;
		return LP_PROTO_ERROR;
	}
	if (r->pos != r->len) {
		*err = "trailing bytes after message body";
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

/* ---- backend messages ---- */

int lp_msg_parse_error(const uint8_t *body, size_t len, struct lp_err_fields *out,
		       const char **err)
{
	struct lp_reader r;

	*err = NULL;
	memset(out, 0, sizeof(*out));
	lp_rd_init(&r, body, len);
	for (;;) {
		uint8_t code = lp_rd_u8(&r);
		const char *val;

		if (r.err || code == 0)
			break;
		val = lp_rd_cstr(&r);
		if (val == NULL)
			break;
		switch (code) {
		case 'S': out->severity = val; break;
		case 'V': out->severity_nl = val; break;
		case 'C': out->sqlstate = val; break;
		case 'M': out->message = val; break;
		case 'D': out->detail = val; break;
		case 'H': out->hint = val; break;
		default: break;
		}
	}
	if (finish(&r, "malformed error/notice fields", err) != LP_PROTO_OK) {
		memset(out, 0, sizeof(*out));
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

int lp_msg_parse_param_status(const uint8_t *body, size_t len, const char **name,
			      const char **value, const char **err)
{
	struct lp_reader r;
	const char *n, *v;

	*err = NULL;
	lp_rd_init(&r, body, len);
	n = lp_rd_cstr(&r);
	v = lp_rd_cstr(&r);
	if (finish(&r, "malformed ParameterStatus", err) != LP_PROTO_OK)
		return LP_PROTO_ERROR;
	if (n[0] == '\0') {
		*err = "empty parameter name in ParameterStatus";
		return LP_PROTO_ERROR;
	}
	*name = n;
	*value = v;
	return LP_PROTO_OK;
}

int lp_msg_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid,
			     uint32_t *key, const char **err)
{
	struct lp_reader r;
	uint32_t p, k;

	*err = NULL;
	lp_rd_init(&r, body, len);
	p = (uint32_t)lp_rd_i32(&r);
	k = (uint32_t)lp_rd_i32(&r);
	if (finish(&r, "invalid length of BackendKeyData", err) != LP_PROTO_OK)
		return LP_PROTO_ERROR;
	*pid = p;
	*key = k;
	return LP_PROTO_OK;
}

int lp_msg_parse_rfq(const uint8_t *body, size_t len, char *status, const char **err)
{
	*err = NULL;
	if (len != 1) {
		*err = "invalid length of ReadyForQuery";
		return LP_PROTO_ERROR;
	}
	if (body[0] != 'I' && body[0] != 'T' && body[0] != 'E') {
		*err = "invalid transaction status in ReadyForQuery";
		return LP_PROTO_ERROR;
	}
	*status = (char)body[0];
	return LP_PROTO_OK;
}

int lp_msg_parse_auth(const uint8_t *body, size_t len, int32_t *code,
		      const uint8_t **data, size_t *data_len, const char **err)
{
	struct lp_reader r;
	int32_t c;
	size_t rest;

	*err = NULL;
	lp_rd_init(&r, body, len);
	c = lp_rd_i32(&r);
	if (r.err) {
		*err = "invalid length of authentication request";
		return LP_PROTO_ERROR;
	}
	rest = lp_rd_remaining(&r);
	/* Codes whose layout is fixed are checked here so callers can index
	 * the salt without their own length test. */
	if ((c == 0 && rest != 0) || (c == 3 && rest != 0) || (c == 5 && rest != 4)) {
		*err = "invalid length of authentication request";
		return LP_PROTO_ERROR;
	}
	*code = c;
	*data = body + 4;
	*data_len = rest;
	return LP_PROTO_OK;
}

int lp_msg_parse_sasl_mechs(const uint8_t *data, size_t len, bool *has_scram,
			    bool *has_scram_plus, const char **err)
{
	struct lp_reader r;
	bool scram = false, plus = false;

	*err = NULL;
	lp_rd_init(&r, data, len);
	for (;;) {
		const char *mech = lp_rd_cstr(&r);

		if (mech == NULL || mech[0] == '\0')
			break;
		if (strcmp(mech, "SCRAM-SHA-256") == 0)
			scram = true;
		else if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0)
			plus = true;
	}
	if (finish(&r, "malformed SASL mechanism list", err) != LP_PROTO_OK)
		return LP_PROTO_ERROR;
	*has_scram = scram;
	*has_scram_plus = plus;
	return LP_PROTO_OK;
}

/* ---- frontend messages ---- */

int lp_msg_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			      const uint8_t **data, size_t *data_len, const char **err)
{
	struct lp_reader r;
	const char *m;
	const uint8_t *d = NULL;
	int32_t n;

	*err = NULL;
	lp_rd_init(&r, body, len);
	m = lp_rd_cstr(&r);
	n = lp_rd_i32(&r);
	if (!r.err && n != -1)
		d = lp_rd_bytes(&r, n);
	if (finish(&r, "malformed SASLInitialResponse", err) != LP_PROTO_OK)
		return LP_PROTO_ERROR;
	if (m[0] == '\0') {
		*err = "empty SASL mechanism name";
		return LP_PROTO_ERROR;
	}
	*mech = m;
	*data = d;
	*data_len = n == -1 ? 0 : (size_t)n;
	return LP_PROTO_OK;
}

int lp_msg_parse_password(const uint8_t *body, size_t len, const char **password,
			  const char **err)
{
	struct lp_reader r;
	const char *pw;

	*err = NULL;
	lp_rd_init(&r, body, len);
	pw = lp_rd_cstr(&r);
	if (finish(&r, "malformed password message", err) != LP_PROTO_OK)
		return LP_PROTO_ERROR;
	*password = pw;
	return LP_PROTO_OK;
}
