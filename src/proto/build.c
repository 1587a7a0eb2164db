/*
 * Message builders: append whole v3 messages to a caller-owned fixed
 * buffer.
 *
 * A message is written whole or the writer is marked overflowed; callers
 * check ->overflow once after building and then send w->buf[0..len). After
 * an overflow nothing more is written, so a too-small buffer can never be
 * overrun, whatever sequence of calls follows.
 */
#include "proto/proto.h"

#include <limits.h>
#include <string.h>

void lp_wr_init(struct lp_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	w->msg_start = 0;
	w->overflow = false;
}

static bool room(struct lp_writer *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return false;
	}
	return true;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void lp_wr_bytes(struct lp_writer *w, const void *p, size_t n)
{
	if (!room(w, n) || n == 0)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void lp_wr_u8(struct lp_writer *w, uint8_t v)
{
	lp_wr_bytes(w, &v, 1);
}

void lp_wr_i16(struct lp_writer *w, int16_t v)
{
	uint8_t b[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	lp_wr_bytes(w, b, sizeof(b));
}

void lp_wr_i32(struct lp_writer *w, int32_t v)
{
	uint8_t b[4];

	put_u32(b, (uint32_t)v);
	lp_wr_bytes(w, b, sizeof(b));
}

void lp_wr_cstr(struct lp_writer *w, const char *s)
{
	if (s == NULL)
		s = "";
	lp_wr_bytes(w, s, strlen(s) + 1);
}

void lp_wr_begin(struct lp_writer *w, uint8_t type)
{
	if (type != 0)
		lp_wr_u8(w, type);
	w->msg_start = w->len;
	lp_wr_i32(w, 0);       /* patched by lp_wr_end */
}

void lp_wr_end(struct lp_writer *w)
{
	size_t n;

	if (w->overflow)
		return;
	n = w->len - w->msg_start;
	if (n < 4 || n > INT32_MAX) {
		w->overflow = true;
		return;
	}
	put_u32(w->buf + w->msg_start, (uint32_t)n);
}

/* Counts arrive as int and go out as int16; a bad one can only be a bug,
 * reported through the one error channel the writer has. */
static bool count_ok(struct lp_writer *w, int n)
{
	if (n < 0 || n > INT16_MAX) {
		w->overflow = true;
		return false;
	}
	return true;
}

static void build_err_notice(struct lp_writer *w, uint8_t type, const char *severity,
			     const char *sqlstate, const char *message)
{
	lp_wr_begin(w, type);
	lp_wr_u8(w, 'S');
	lp_wr_cstr(w, severity);
	lp_wr_u8(w, 'V');
	lp_wr_cstr(w, severity);
	lp_wr_u8(w, 'C');
	lp_wr_cstr(w, sqlstate);
	lp_wr_u8(w, 'M');
	lp_wr_cstr(w, message);
	lp_wr_u8(w, 0);
	lp_wr_end(w);
}

void lp_build_error(struct lp_writer *w, const char *severity, const char *sqlstate,
		    const char *message)
{
	build_err_notice(w, 'E', severity, sqlstate, message);
}

void lp_build_notice(struct lp_writer *w, const char *severity, const char *sqlstate,
		     const char *message)
{
	build_err_notice(w, 'N', severity, sqlstate, message);
}

/* Written in one piece: a login sends about fifteen of these. */
void lp_build_param_status(struct lp_writer *w, const char *name, const char *value)
{
	if (!name)
		name = "";
	if (!value)
		value = "";
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	size_t n = 4 + nl + vl;
	if (n > INT32_MAX) {
		w->overflow = true;
		return;
	}
	if (!room(w, 1 + n))
		return;
	uint8_t *p = w->buf + w->len;
	p[0] = 'S';
	put_u32(p + 1, (uint32_t)n);
	memcpy(p + 5, name, nl);
	memcpy(p + 5 + nl, value, vl);
	w->len += 1 + n;
}

void lp_build_backend_key(struct lp_writer *w, uint32_t pid, uint32_t key)
{
	lp_wr_begin(w, 'K');
	lp_wr_i32(w, (int32_t)pid);
	lp_wr_i32(w, (int32_t)key);
	lp_wr_end(w);
}

void lp_build_rfq(struct lp_writer *w, char status)
{
	lp_wr_begin(w, 'Z');
	lp_wr_u8(w, (uint8_t)status);
	lp_wr_end(w);
}

void lp_build_auth(struct lp_writer *w, int32_t code, const void *data, size_t len)
{
	lp_wr_begin(w, 'R');
	lp_wr_i32(w, code);
	lp_wr_bytes(w, data, len);
	lp_wr_end(w);
}

void lp_build_auth_sasl(struct lp_writer *w, bool plus)
{
	lp_wr_begin(w, 'R');
	lp_wr_i32(w, 10);
	/* Listed in preference order, as PostgreSQL does: channel binding
	 * first when this connection can offer it. */
	if (plus)
		lp_wr_cstr(w, "SCRAM-SHA-256-PLUS");
	lp_wr_cstr(w, "SCRAM-SHA-256");
	lp_wr_u8(w, 0);
	lp_wr_end(w);
}

void lp_build_negotiate_version(struct lp_writer *w, uint32_t newest_minor,
				const char *const *unknown_opts, int nopts)
{
	if (nopts < 0) {
		w->overflow = true;
		return;
	}
	lp_wr_begin(w, 'v');
	/* The protocol docs say "newest minor version", but PostgreSQL sends a
	 * whole version word (PG_PROTOCOL_LATEST) and libpq compares it as one. */
	lp_wr_i32(w, (int32_t)(LP_PROTO_V3 | (newest_minor & 0xffffu)));
	lp_wr_i32(w, nopts);
	for (int i = 0; i < nopts; i++)
		lp_wr_cstr(w, unknown_opts[i]);
	lp_wr_end(w);
}

void lp_build_query(struct lp_writer *w, const char *sql)
{
	lp_wr_begin(w, 'Q');
	lp_wr_cstr(w, sql);
	lp_wr_end(w);
}

void lp_build_terminate(struct lp_writer *w)
{
	lp_wr_begin(w, 'X');
	lp_wr_end(w);
}

void lp_build_password(struct lp_writer *w, const char *password)
{
	lp_wr_begin(w, 'p');
	lp_wr_cstr(w, password);
	lp_wr_end(w);
}

void lp_build_sasl_initial(struct lp_writer *w, const char *mech, const void *data, size_t len)
{
	if (data != NULL && len > INT32_MAX) {
		w->overflow = true;
		return;
	}
	lp_wr_begin(w, 'p');
	lp_wr_cstr(w, mech);
	if (data == NULL) {
		lp_wr_i32(w, -1);
	} else {
		lp_wr_i32(w, (int32_t)len);
		lp_wr_bytes(w, data, len);
	}
	lp_wr_end(w);
}

void lp_build_sasl_response(struct lp_writer *w, const void *data, size_t len)
{
	lp_wr_begin(w, 'p');
	lp_wr_bytes(w, data, len);
	lp_wr_end(w);
}

void lp_build_startup(struct lp_writer *w, const char *const *names,
		      const char *const *values, int n)
{
	if (n < 0) {
		w->overflow = true;
		return;
	}
	lp_wr_begin(w, 0);
	lp_wr_i32(w, (int32_t)LP_PROTO_V3);
	for (int i = 0; i < n; i++) {
		lp_wr_cstr(w, names[i]);
		lp_wr_cstr(w, values[i]);
	}
	lp_wr_u8(w, 0);
	lp_wr_end(w);
}

void lp_build_cancel(struct lp_writer *w, uint32_t pid, uint32_t key)
{
	lp_wr_begin(w, 0);
	lp_wr_i32(w, (int32_t)LP_PROTO_CANCEL_CODE);
	lp_wr_i32(w, (int32_t)pid);
	lp_wr_i32(w, (int32_t)key);
	lp_wr_end(w);
}

void lp_build_row_description(struct lp_writer *w, const char *const *names,
			      const uint32_t *type_oids, int n)
{
	if (!count_ok(w, n))
		return;
	lp_wr_begin(w, 'T');
	lp_wr_i16(w, (int16_t)n);
	for (int i = 0; i < n; i++) {
		lp_wr_cstr(w, names[i]);
		lp_wr_i32(w, 0);                        /* table oid */
		lp_wr_i16(w, 0);                        /* column attnum */
		lp_wr_i32(w, (int32_t)type_oids[i]);
		lp_wr_i16(w, -1);                       /* typlen */
		lp_wr_i32(w, -1);                       /* typmod */
		lp_wr_i16(w, 0);                        /* text format */
	}
	lp_wr_end(w);
}

void lp_build_data_row(struct lp_writer *w, const char *const *values, int n)
{
	if (!count_ok(w, n))
		return;
	lp_wr_begin(w, 'D');
	lp_wr_i16(w, (int16_t)n);
	for (int i = 0; i < n; i++) {
		size_t vlen;

		if (values[i] == NULL) {
			lp_wr_i32(w, -1);
			continue;
		}
		vlen = strlen(values[i]);
		if (vlen > INT32_MAX) {
			w->overflow = true;
			return;
		}
		lp_wr_i32(w, (int32_t)vlen);
		lp_wr_bytes(w, values[i], vlen);
	}
	lp_wr_end(w);
}

void lp_build_command_complete(struct lp_writer *w, const char *tag)
{
	lp_wr_begin(w, 'C');
	lp_wr_cstr(w, tag);
	lp_wr_end(w);
}
