/*
 * libFuzzer harness for the v3 wire codec (src/proto).
 *
 * The input is tried first as a startup packet, then as a stream of typed
 * messages, each body handed to every parser whatever its type byte (a
 * hostile peer picks the type too). Where a parser accepts, the matching
 * builder must reproduce the exact bytes: the parsers only accept the one
 * canonical layout, so any mismatch is a codec bug and aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

#define MAX_MSG_LEN (1u << 20)

static uint8_t out[LP_STARTUP_MAX_LEN + MAX_MSG_LEN + 64];

static void same(const struct lp_writer *w, const uint8_t *want, size_t len)
{
	if (w->overflow || w->len != len || memcmp(w->buf, want, len) != 0)
		abort();
}

/* The options parameter's items: each unescaped item is no longer than
 * what it came from, so out never overflows; the walk ends. */
static void fuzz_options(const char *options)
{
	static char item[LP_STARTUP_MAX_LEN];
	const char *pos = options, *name, *value, *err;
	size_t len = strlen(options);
	int rc;
	while ((rc = lp_startup_option_next(&pos, item, &name, &value, &err)) == LP_PROTO_OK) {
		if (pos < options || pos > options + len || !name[0] || name != item ||
		    strlen(name) + strlen(value) + 1 > len)
			abort();
	}
	if (rc == LP_PROTO_ERROR && err == NULL)
		abort();
}

static void fuzz_startup(const uint8_t *data, size_t size)
{
	struct lp_startup s;
	struct lp_writer w;
	size_t plen = 0;
	const char *err = NULL;
	int rc = lp_startup_parse(data, size, &s, &plen, &err);

	if (rc == LP_PROTO_ERROR && err == NULL)
		abort();
	if (rc != LP_PROTO_OK)
		return;
	if (plen < 8 || plen > size || plen > LP_STARTUP_MAX_LEN)
		abort();

	lp_wr_init(&w, out, sizeof(out));
	if (s.kind == LP_STARTUP_CANCEL) {
		lp_build_cancel(&w, s.cancel_pid, s.cancel_key);
		same(&w, data, plen);
	} else if (s.kind == LP_STARTUP_NORMAL) {
		const char *names[LP_STARTUP_MAX_PARAMS], *values[LP_STARTUP_MAX_PARAMS];

		if (s.nparams < 0 || s.nparams > LP_STARTUP_MAX_PARAMS)
			abort();
		for (int i = 0; i < s.nparams; i++) {
			names[i] = s.params[i].name;
			values[i] = s.params[i].value;
			if (lp_startup_get(&s, names[i]) != values[i])
				abort();
		}
		if (s.user != NULL && s.user != lp_startup_get(&s, "user"))
			abort();
		const char *options = lp_startup_get(&s, "options");
		if (options)
			fuzz_options(options);
		if (s.database != NULL && s.database != lp_startup_get(&s, "database"))
			abort();
		lp_build_startup(&w, names, values, s.nparams);
		/* the builder always writes 3.0; patch in the requested minor */
		if (w.len >= 8) {
			out[6] = data[6];
			out[7] = data[7];
		}
		same(&w, data, plen);
	}
}

static void fuzz_body(uint8_t type, const uint8_t *b, size_t bl)
{
	struct lp_writer w;
	struct lp_reader r;
	struct lp_err_fields f;
	const char *err, *n, *v, *mech, *pw;
	const uint8_t *d;
	size_t dl;
	uint32_t pid, key;
	int32_t code;
	char st;
	bool sc, sp;

	if (lp_msg_parse_error(b, bl, &f, &err) == LP_PROTO_OK &&
	    f.severity && f.severity_nl && f.sqlstate && f.message)
		(void)(strlen(f.severity) + strlen(f.message));

	if (lp_msg_parse_param_status(b, bl, &n, &v, &err) == LP_PROTO_OK) {
		lp_wr_init(&w, out, sizeof(out));
		lp_build_param_status(&w, n, v);
		if (w.len != bl + 5 || memcmp(out + 5, b, bl) != 0)
			abort();
	}
	if (lp_msg_parse_backend_key(b, bl, &pid, &key, &err) == LP_PROTO_OK) {
		lp_wr_init(&w, out, sizeof(out));
		lp_build_backend_key(&w, pid, key);
		if (w.overflow || w.len != 13 || memcmp(out + 5, b, bl) != 0)
			abort();
	}
	{
		/* the per-type checks must agree with the header they judge */
		struct lp_msg_hdr h = { type, (uint32_t)bl + 4 };
		if (lp_msg_check_backend(&h, MAX_MSG_LEN, &err) == LP_PROTO_OK &&
		    (h.len > MAX_MSG_LEN || (type == 'Z' && h.len != 5)))
			abort();
		if (lp_msg_check_frontend(&h, MAX_MSG_LEN, &err) == LP_PROTO_OK &&
		    (h.len > MAX_MSG_LEN || (type == 'S' && h.len != 4)))
			abort();
	}
	if (lp_msg_parse_rfq(b, bl, &st, &err) == LP_PROTO_OK) {
		if (st != 'I' && st != 'T' && st != 'E')
			abort();
	}
	if (lp_msg_parse_auth(b, bl, &code, &d, &dl, &err) == LP_PROTO_OK) {
		if (dl != bl - 4 || (dl && d != b + 4))
			abort();
		lp_wr_init(&w, out, sizeof(out));
		lp_build_auth(&w, code, d, dl);
		if (w.overflow || w.len != bl + 5 || memcmp(out + 5, b, bl) != 0)
			abort();
		if (code == 10)
			(void)lp_msg_parse_sasl_mechs(d, dl, &sc, &sp, &err);
	}
	if (lp_msg_parse_sasl_initial(b, bl, &mech, &d, &dl, &err) == LP_PROTO_OK) {
		lp_wr_init(&w, out, sizeof(out));
		lp_build_sasl_initial(&w, mech, d, dl);
		if (w.overflow || w.len != bl + 5 || memcmp(out + 5, b, bl) != 0)
			abort();
	}
	if (lp_msg_parse_password(b, bl, &pw, &err) == LP_PROTO_OK) {
		lp_wr_init(&w, out, sizeof(out));
		lp_build_password(&w, pw);
		if (w.overflow || w.len != bl + 5 || memcmp(out + 5, b, bl) != 0)
			abort();
	}
	(void)lp_msg_parse_sasl_mechs(b, bl, &sc, &sp, &err);

	/* drive the reader with the body's own bytes choosing the reads */
	lp_rd_init(&r, b, bl);
	for (size_t i = 0; i < 16 && !r.err; i++) {
		switch ((type + i) & 3) {
		case 0: (void)lp_rd_u8(&r); break;
		case 1: (void)lp_rd_i16(&r); break;
		case 2: (void)lp_rd_cstr(&r); break;
		default: (void)lp_rd_bytes(&r, lp_rd_i32(&r)); break;
		}
		if (r.pos > r.len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	fuzz_startup(data, size);

	while (off < size) {
		struct lp_msg_hdr h;
		const char *err = NULL;
		int rc = lp_msg_hdr_parse(data + off, size - off, MAX_MSG_LEN, &h, &err);
		size_t bl;

		if (rc == LP_PROTO_ERROR && err == NULL)
			abort();
		if (rc != LP_PROTO_OK)
			break;
		if (h.len < 4 || h.len > MAX_MSG_LEN)
			abort();
		bl = h.len - 4;
		if (bl > size - off - LP_PROTO_HDR_LEN)
			break;          /* a real caller would wait for more bytes */
		fuzz_body(h.type, data + off + LP_PROTO_HDR_LEN, bl);
		off += LP_PROTO_HDR_LEN + bl;
	}
	return 0;
}
