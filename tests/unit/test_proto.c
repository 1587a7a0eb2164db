/*
 * Unit tests for the v3 wire codec (src/proto): every parser against good
 * and hostile input, the reader's and writer's bounds, and builder->parser
 * round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/proto.h"

/* ---- helpers ---- */

static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Builds a startup packet from a code and a raw body; returns its length. */
static size_t mk_startup(uint8_t *buf, uint32_t code, const void *body, size_t blen)
{
	put32(buf, (uint32_t)(8 + blen));
	put32(buf + 4, code);
	if (blen)
		memcpy(buf + 8, body, blen);
	return 8 + blen;
}

#define PARAMS(s) s, sizeof(s) - 1   /* raw body literal without C's trailing NUL */

/* ---- startup ---- */

static void test_startup_replication(void **state)
{
	(void)state;
	enum lp_repl r = LP_REPL_NONE;
	assert_int_equal(lp_startup_replication("database", &r), 0);
	assert_int_equal(r, LP_REPL_LOGICAL);
	const char *phys[] = { "true", "On", "YES", "1" };
	for (size_t i = 0; i < 4; i++) {
		r = LP_REPL_NONE;
		assert_int_equal(lp_startup_replication(phys[i], &r), 0);
		assert_int_equal(r, LP_REPL_PHYSICAL);
	}
	const char *none[] = { "false", "off", "No", "0" };
	for (size_t i = 0; i < 4; i++) {
		r = LP_REPL_PHYSICAL;
		assert_int_equal(lp_startup_replication(none[i], &r), 0);
		assert_int_equal(r, LP_REPL_NONE);
	}
	assert_int_equal(lp_startup_replication("", &r), -1);
	assert_int_equal(lp_startup_replication("databases", &r), -1);
	assert_int_equal(lp_startup_replication("2", &r), -1);
	assert_string_equal(lp_repl_name(LP_REPL_NONE), "none");
	assert_string_equal(lp_repl_name(LP_REPL_LOGICAL), "logical");
	assert_string_equal(lp_repl_name(LP_REPL_PHYSICAL), "physical");
}

static void test_startup_normal(void **state)
{
	uint8_t buf[256];
	struct lp_startup s;
	size_t plen = 0;
	const char *err = NULL;
	size_t n = mk_startup(buf, LP_PROTO_V3,
			      PARAMS("user\0alice\0database\0db1\0application_name\0\0\0"));

	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_null(err);
	assert_int_equal(plen, n);
	assert_int_equal(s.kind, LP_STARTUP_NORMAL);
	assert_int_equal(s.version, LP_PROTO_V3);
	assert_int_equal(s.nparams, 3);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.database, "db1");
	assert_string_equal(lp_startup_get(&s, "application_name"), "");
	assert_null(lp_startup_get(&s, "options"));
	assert_null(lp_startup_get(&s, "USER"));
}

static void test_startup_extra_bytes_held(void **state)
{
	/* a pipelined second packet must not be eaten */
	uint8_t buf[256];
	struct lp_startup s;
	size_t plen = 0;
	const char *err;
	size_t n = mk_startup(buf, LP_PROTO_V3, PARAMS("user\0u\0\0"));

	memset(buf + n, 'Q', 10);
	assert_int_equal(lp_startup_parse(buf, n + 10, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(plen, n);
}

static void test_startup_no_user(void **state)
{
	uint8_t buf[64];
	struct lp_startup s;
	size_t plen;
	const char *err;
	size_t n = mk_startup(buf, LP_PROTO_V3, PARAMS("\0"));

	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.nparams, 0);
	assert_null(s.user);
	assert_null(s.database);
}

static void test_startup_versions(void **state)
{
	uint8_t buf[64];
	struct lp_startup s;
	size_t plen;
	const char *err;
	size_t n;

	n = mk_startup(buf, (3u << 16) | 1, PARAMS("user\0u\0\0"));
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.version, (3u << 16) | 1);

	n = mk_startup(buf, (3u << 16) | 0xffff, PARAMS("user\0u\0\0"));
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);

	n = mk_startup(buf, 2u << 16, PARAMS("user\0u\0\0"));
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	assert_non_null(err);
	assert_non_null(strstr(err, "2.0"));

	n = mk_startup(buf, 4u << 16, PARAMS("user\0u\0\0"));
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	assert_non_null(err);

	/* an unknown 1234.x code is not a version either */
	n = mk_startup(buf, (1234u << 16) | 5681, NULL, 0);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
}

static void test_startup_special(void **state)
{
	uint8_t buf[64];
	struct lp_startup s;
	size_t plen = 0;
	const char *err;
	size_t n;
	uint8_t keys[8];

	n = mk_startup(buf, LP_PROTO_SSL_CODE, NULL, 0);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.kind, LP_STARTUP_SSL);
	assert_int_equal(plen, 8);

	n = mk_startup(buf, LP_PROTO_GSSENC_CODE, NULL, 0);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.kind, LP_STARTUP_GSSENC);

	put32(keys, 0xdeadbeef);
	put32(keys + 4, 0x80000001);
	n = mk_startup(buf, LP_PROTO_CANCEL_CODE, keys, 8);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.kind, LP_STARTUP_CANCEL);
	assert_int_equal(plen, 16);
	assert_int_equal(s.cancel_pid, 0xdeadbeef);
	assert_int_equal(s.cancel_key, 0x80000001);

	/* wrong fixed lengths */
	n = mk_startup(buf, LP_PROTO_SSL_CODE, "x", 1);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	assert_non_null(err);
	n = mk_startup(buf, LP_PROTO_GSSENC_CODE, keys, 4);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	n = mk_startup(buf, LP_PROTO_CANCEL_CODE, keys, 4);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	n = mk_startup(buf, LP_PROTO_CANCEL_CODE, NULL, 0);
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
	memset(buf + 8, 0, 16);
	put32(buf, 24);
	assert_int_equal(lp_startup_parse(buf, 24, &s, &plen, &err), LP_PROTO_ERROR);
}

static void test_startup_incomplete(void **state)
{
	uint8_t buf[64];
	struct lp_startup s;
	size_t plen;
	const char *err;
	size_t n = mk_startup(buf, LP_PROTO_V3, PARAMS("user\0u\0\0"));

	for (size_t i = 0; i < n; i++)
		assert_int_equal(lp_startup_parse(buf, i, &s, &plen, &err), LP_PROTO_INCOMPLETE);
	n = mk_startup(buf, LP_PROTO_SSL_CODE, NULL, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(lp_startup_parse(buf, i, &s, &plen, &err), LP_PROTO_INCOMPLETE);
}

static void test_startup_bad_lengths(void **state)
{
	uint8_t buf[16] = { 0 };
	struct lp_startup s;
	size_t plen;
	const char *err;
	const uint32_t bad[] = { 0, 1, 4, 7, LP_STARTUP_MAX_LEN + 1, 0x7fffffff, 0x80000000u,
				 0xffffffffu };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(buf, bad[i]);
		put32(buf + 4, LP_PROTO_V3);
		err = NULL;
		/* judged as soon as the length word is held */
		assert_int_equal(lp_startup_parse(buf, 4, &s, &plen, &err), LP_PROTO_ERROR);
		assert_non_null(err);
		assert_int_equal(lp_startup_parse(buf, sizeof(buf), &s, &plen, &err),
				 LP_PROTO_ERROR);
	}
}

static void test_startup_max_len(void **state)
{
	static uint8_t buf[LP_STARTUP_MAX_LEN + 16];
	struct lp_startup s;
	size_t plen;
	const char *err;

	/* one huge "options" value filling exactly the maximum */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf + 8, "options", 8);
	buf[LP_STARTUP_MAX_LEN - 2] = 0;
	buf[LP_STARTUP_MAX_LEN - 1] = 0;
	put32(buf, LP_STARTUP_MAX_LEN);
	put32(buf + 4, LP_PROTO_V3);
	assert_int_equal(lp_startup_parse(buf, LP_STARTUP_MAX_LEN, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(plen, LP_STARTUP_MAX_LEN);
	assert_int_equal(strlen(lp_startup_get(&s, "options")), LP_STARTUP_MAX_LEN - 8 - 8 - 2);
}

static void test_startup_layout_errors(void **state)
{
	uint8_t buf[256];
	struct lp_startup s;
	size_t plen;
	const char *err;
	size_t n;
	static const struct {
		const char *body;
		size_t len;
	} bad[] = {
		{ "", 0 },                               /* no terminator at all */
		{ "user", 4 },                           /* unterminated name */
		{ "user\0", 5 },                         /* missing value */
		{ "user\0alice", 10 },                   /* unterminated value */
		{ "user\0alice\0", 11 },                 /* no list terminator */
		{ "user\0alice\0\0\0", 13 },             /* trailing byte after terminator */
		{ "user\0alice\0\0junk", 16 },           /* trailing bytes */
		{ "user\0a\0user\0b\0\0", 15 },          /* duplicate user */
		{ "database\0a\0database\0a\0\0", 23 },  /* duplicate database */
		{ "x\0\0x\0\0\0", 7 },                   /* duplicate other */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = mk_startup(buf, LP_PROTO_V3, bad[i].body, bad[i].len);
		err = NULL;
		assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
		assert_non_null(err);
		assert_int_equal(s.nparams, 0);
		assert_null(s.user);
	}

	/* an empty name can only appear as the terminator; "\0v\0\0" is a
	 * terminator followed by garbage */
	n = mk_startup(buf, LP_PROTO_V3, PARAMS("\0v\0\0"));
	assert_int_equal(lp_startup_parse(buf, n, &s, &plen, &err), LP_PROTO_ERROR);
}

static void test_startup_too_many_params(void **state)
{
	uint8_t buf[LP_STARTUP_MAX_LEN];
	struct lp_startup s;
	size_t plen;
	const char *err;
	size_t pos;

	for (int count = LP_STARTUP_MAX_PARAMS; count <= LP_STARTUP_MAX_PARAMS + 1; count++) {
		pos = 8;
		for (int i = 0; i < count; i++) {
			int k = snprintf((char *)buf + pos, 32, "p%d", i);

			pos += (size_t)k + 1;
			buf[pos++] = 'v';
			buf[pos++] = 0;
		}
		buf[pos++] = 0;
		put32(buf, (uint32_t)pos);
		put32(buf + 4, LP_PROTO_V3);
		if (count == LP_STARTUP_MAX_PARAMS) {
			assert_int_equal(lp_startup_parse(buf, pos, &s, &plen, &err), LP_PROTO_OK);
			assert_int_equal(s.nparams, LP_STARTUP_MAX_PARAMS);
			assert_string_equal(lp_startup_get(&s, "p63"), "v");
		} else {
			assert_int_equal(lp_startup_parse(buf, pos, &s, &plen, &err),
					 LP_PROTO_ERROR);
			assert_non_null(err);
		}
	}
}

/* ---- header ---- */

static void test_hdr(void **state)
{
	uint8_t buf[8] = { 'Q' };
	struct lp_msg_hdr h;
	const char *err;

	put32(buf + 1, 9);
	for (size_t i = 0; i < LP_PROTO_HDR_LEN; i++)
		assert_int_equal(lp_msg_hdr_parse(buf, i, 100, &h, &err), LP_PROTO_INCOMPLETE);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 100, &h, &err), LP_PROTO_OK);
	assert_int_equal(h.type, 'Q');
	assert_int_equal(h.len, 9);

	put32(buf + 1, 4);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 100, &h, &err), LP_PROTO_OK);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 4, &h, &err), LP_PROTO_OK);

	for (uint32_t bad = 0; bad < 4; bad++) {
		put32(buf + 1, bad);
		err = NULL;
		assert_int_equal(lp_msg_hdr_parse(buf, 5, 100, &h, &err), LP_PROTO_ERROR);
		assert_non_null(err);
	}
	put32(buf + 1, 101);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 100, &h, &err), LP_PROTO_ERROR);
	put32(buf + 1, 0xffffffffu);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 1 << 20, &h, &err), LP_PROTO_ERROR);
	put32(buf + 1, 0x80000000u);
	assert_int_equal(lp_msg_hdr_parse(buf, 5, 0xffffffffu, &h, &err), LP_PROTO_OK);
}

/* ---- per-type limits ---- */

static int check_fe(uint8_t type, uint32_t len, uint32_t max)
{
	struct lp_msg_hdr h = { type, len };
	const char *err = NULL;
	int rc = lp_msg_check_frontend(&h, max, &err);

	assert_true(rc == LP_PROTO_OK ? err == NULL : err != NULL);
	return rc;
}

static int check_be(uint8_t type, uint32_t len, uint32_t max)
{
	struct lp_msg_hdr h = { type, len };
	const char *err = NULL;
	int rc = lp_msg_check_backend(&h, max, &err);

	assert_true(rc == LP_PROTO_OK ? err == NULL : err != NULL);
	return rc;
}

static void test_type_limits(void **state)
{
	(void)state;
	/* fixed-size frontend messages: exactly an empty body */
	for (const char *t = "SHcX"; *t; t++) {
		assert_int_equal(check_fe((uint8_t)*t, 4, 1000000), LP_PROTO_OK);
		assert_int_equal(check_fe((uint8_t)*t, 5, 1000000), LP_PROTO_ERROR);
	}
	/* small ones: PostgreSQL's 10000-byte limit whatever max_packet_size says */
	for (const char *t = "CDEf"; *t; t++) {
		assert_int_equal(check_fe((uint8_t)*t, LP_PROTO_SMALL_MSG_MAX, 1000000), LP_PROTO_OK);
		assert_int_equal(check_fe((uint8_t)*t, LP_PROTO_SMALL_MSG_MAX + 1, 1000000),
				 LP_PROTO_ERROR);
	}
	/* large ones: the configured maximum */
	for (const char *t = "QPBFd"; *t; t++) {
		assert_int_equal(check_fe((uint8_t)*t, 1000000, 1000000), LP_PROTO_OK);
		assert_int_equal(check_fe((uint8_t)*t, 1000001, 1000000), LP_PROTO_ERROR);
	}
	/* types a client never sends once logged in */
	for (const char *t = "pZRTz\x01"; *t; t++)
		assert_int_equal(check_fe((uint8_t)*t, 4, 1000000), LP_PROTO_ERROR);
	assert_int_equal(check_fe(0, 4, 1000000), LP_PROTO_ERROR);

	for (const char *t = "123Incs"; *t; t++) {
		assert_int_equal(check_be((uint8_t)*t, 4, 1u << 30), LP_PROTO_OK);
		assert_int_equal(check_be((uint8_t)*t, 8, 1u << 30), LP_PROTO_ERROR);
	}
	assert_int_equal(check_be('Z', 5, 1u << 30), LP_PROTO_OK);
	assert_int_equal(check_be('Z', 4, 1u << 30), LP_PROTO_ERROR);
	assert_int_equal(check_be('Z', 6, 1u << 30), LP_PROTO_ERROR);
	for (const char *t = "ACDEGHNSTVWdt"; *t; t++) {
		assert_int_equal(check_be((uint8_t)*t, 1u << 30, 1u << 30), LP_PROTO_OK);
		assert_int_equal(check_be((uint8_t)*t, (1u << 30) + 1, 1u << 30), LP_PROTO_ERROR);
	}
	/* login-only and unknown types */
	for (const char *t = "RKvQXz!"; *t; t++)
		assert_int_equal(check_be((uint8_t)*t, 8, 1u << 30), LP_PROTO_ERROR);
}

/* ---- reader ---- */

static void test_reader(void **state)
{
	const uint8_t body[] = { 0x01, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 'a', 'b', 0, 'x', 'y' };
	struct lp_reader r;

	lp_rd_init(&r, body, sizeof(body));
	assert_int_equal(lp_rd_u8(&r), 1);
	assert_int_equal(lp_rd_i16(&r), -2);
	assert_int_equal(lp_rd_i32(&r), INT32_MIN + 1);
	assert_string_equal(lp_rd_cstr(&r), "ab");
	assert_int_equal(lp_rd_remaining(&r), 2);
	assert_null(lp_rd_cstr(&r));         /* "xy" unterminated */
	assert_true(r.err);
	/* sticky */
	assert_int_equal(lp_rd_remaining(&r), 0);
	assert_int_equal(lp_rd_u8(&r), 0);
	assert_null(lp_rd_bytes(&r, 0));

	lp_rd_init(&r, body, sizeof(body));
	assert_null(lp_rd_bytes(&r, -1));
	assert_true(r.err);

	lp_rd_init(&r, body, sizeof(body));
	assert_null(lp_rd_bytes(&r, (int32_t)sizeof(body) + 1));
	assert_true(r.err);

	lp_rd_init(&r, body, sizeof(body));
	assert_ptr_equal(lp_rd_bytes(&r, (int32_t)sizeof(body)), body);
	assert_non_null(lp_rd_bytes(&r, 0));  /* zero bytes at the end is fine */
	assert_false(r.err);
	assert_int_equal(lp_rd_i32(&r), 0);
	assert_true(r.err);

	lp_rd_init(&r, body, 3);              /* i32 over a 3-byte body */
	assert_int_equal(lp_rd_i32(&r), 0);
	assert_true(r.err);

	lp_rd_init(&r, body, 1);
	assert_int_equal(lp_rd_i16(&r), 0);
	assert_true(r.err);

	lp_rd_init(&r, NULL, 0);
	assert_null(lp_rd_cstr(&r));
	assert_true(r.err);
	lp_rd_init(&r, NULL, 0);
	assert_non_null(lp_rd_bytes(&r, 0));
	assert_int_equal(lp_rd_u8(&r), 0);
	assert_true(r.err);

	lp_rd_init(&r, body, sizeof(body));
	assert_null(lp_rd_bytes(&r, INT32_MAX));
}

/* ---- backend parsers ---- */

static void test_parse_error(void **state)
{
	static const uint8_t ok[] = "SFATAL\0VFATAL\0C28P01\0Mbad password\0Dd\0Hh\0Rauth.c\0\0";
	static const uint8_t partial[] = "Mmsg only\0\0";
	struct lp_err_fields f;
	const char *err;

	assert_int_equal(lp_msg_parse_error(ok, sizeof(ok) - 1, &f, &err), LP_PROTO_OK);
	assert_string_equal(f.severity, "FATAL");
	assert_string_equal(f.severity_nl, "FATAL");
	assert_string_equal(f.sqlstate, "28P01");
	assert_string_equal(f.message, "bad password");
	assert_string_equal(f.detail, "d");
	assert_string_equal(f.hint, "h");

	assert_int_equal(lp_msg_parse_error(partial, sizeof(partial) - 1, &f, &err), LP_PROTO_OK);
	assert_null(f.sqlstate);
	assert_null(f.severity);
	assert_string_equal(f.message, "msg only");

	/* just the terminator */
	assert_int_equal(lp_msg_parse_error((const uint8_t *)"", 1, &f, &err), LP_PROTO_OK);

	/* every truncation of the good body fails */
	for (size_t i = 0; i < sizeof(ok) - 1; i++) {
		err = NULL;
		assert_int_equal(lp_msg_parse_error(ok, i, &f, &err), LP_PROTO_ERROR);
		assert_non_null(err);
		assert_null(f.message);
	}
	/* trailing garbage */
	assert_int_equal(lp_msg_parse_error((const uint8_t *)"Mx\0\0z", 5, &f, &err),
			 LP_PROTO_ERROR);
}

static void test_parse_param_status(void **state)
{
	const char *n, *v, *err;

	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"TimeZone\0UTC\0", 13, &n,
						   &v, &err), LP_PROTO_OK);
	assert_string_equal(n, "TimeZone");
	assert_string_equal(v, "UTC");
	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"a\0\0", 3, &n, &v, &err),
			 LP_PROTO_OK);
	assert_string_equal(v, "");
	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"a\0b", 3, &n, &v, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"a\0", 2, &n, &v, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"a\0b\0c", 5, &n, &v, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_param_status((const uint8_t *)"\0b\0", 3, &n, &v, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_param_status(NULL, 0, &n, &v, &err), LP_PROTO_ERROR);
}

static void test_parse_backend_key(void **state)
{
	uint8_t b[9];
	uint32_t pid, key;
	const char *err;

	put32(b, 42);
	put32(b + 4, 0xfffffffeu);
	assert_int_equal(lp_msg_parse_backend_key(b, 8, &pid, &key, &err), LP_PROTO_OK);
	assert_int_equal(pid, 42);
	assert_int_equal(key, 0xfffffffeu);
	assert_int_equal(lp_msg_parse_backend_key(b, 7, &pid, &key, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_backend_key(b, 9, &pid, &key, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_backend_key(b, 0, &pid, &key, &err), LP_PROTO_ERROR);
}

static void test_parse_rfq(void **state)
{
	char st = 0;
	const char *err;

	assert_int_equal(lp_msg_parse_rfq((const uint8_t *)"I", 1, &st, &err), LP_PROTO_OK);
	assert_int_equal(st, 'I');
	assert_int_equal(lp_msg_parse_rfq((const uint8_t *)"T", 1, &st, &err), LP_PROTO_OK);
	assert_int_equal(lp_msg_parse_rfq((const uint8_t *)"E", 1, &st, &err), LP_PROTO_OK);
	assert_int_equal(st, 'E');
	assert_int_equal(lp_msg_parse_rfq((const uint8_t *)"X", 1, &st, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_rfq((const uint8_t *)"II", 2, &st, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_rfq(NULL, 0, &st, &err), LP_PROTO_ERROR);
}

static void test_parse_auth(void **state)
{
	uint8_t b[32];
	int32_t code;
	const uint8_t *d;
	size_t dl;
	const char *err;

	put32(b, 0);
	assert_int_equal(lp_msg_parse_auth(b, 4, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(code, 0);
	assert_int_equal(dl, 0);
	assert_int_equal(lp_msg_parse_auth(b, 5, &code, &d, &dl, &err), LP_PROTO_ERROR);

	put32(b, 5);
	memcpy(b + 4, "salt", 4);
	assert_int_equal(lp_msg_parse_auth(b, 8, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(code, 5);
	assert_int_equal(dl, 4);
	assert_memory_equal(d, "salt", 4);
	assert_int_equal(lp_msg_parse_auth(b, 7, &code, &d, &dl, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_auth(b, 9, &code, &d, &dl, &err), LP_PROTO_ERROR);

	put32(b, 3);
	assert_int_equal(lp_msg_parse_auth(b, 4, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(lp_msg_parse_auth(b, 6, &code, &d, &dl, &err), LP_PROTO_ERROR);

	put32(b, 11);
	assert_int_equal(lp_msg_parse_auth(b, 20, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(dl, 16);
	assert_ptr_equal(d, b + 4);

	for (size_t i = 0; i < 4; i++)
		assert_int_equal(lp_msg_parse_auth(b, i, &code, &d, &dl, &err), LP_PROTO_ERROR);
}

static void test_parse_sasl_mechs(void **state)
{
	bool s = false, p = false;
	const char *err;
	static const uint8_t both[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
	static const uint8_t other[] = "OAUTHBEARER\0SCRAM-SHA-256X\0\0";

	assert_int_equal(lp_msg_parse_sasl_mechs(both, sizeof(both) - 1, &s, &p, &err),
			 LP_PROTO_OK);
	assert_true(s);
	assert_true(p);
	assert_int_equal(lp_msg_parse_sasl_mechs(other, sizeof(other) - 1, &s, &p, &err),
			 LP_PROTO_OK);
	assert_false(s);
	assert_false(p);
	assert_int_equal(lp_msg_parse_sasl_mechs((const uint8_t *)"", 1, &s, &p, &err),
			 LP_PROTO_OK);
	for (size_t i = 0; i < sizeof(both) - 1; i++)
		assert_int_equal(lp_msg_parse_sasl_mechs(both, i, &s, &p, &err), LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_sasl_mechs((const uint8_t *)"A\0\0B", 4, &s, &p, &err),
			 LP_PROTO_ERROR);
}

/* ---- frontend parsers ---- */

static void test_parse_sasl_initial(void **state)
{
	uint8_t b[64];
	const char *mech, *err;
	const uint8_t *d;
	size_t dl, n;

	memcpy(b, "SCRAM-SHA-256\0", 14);
	put32(b + 14, 5);
	memcpy(b + 18, "n,,n=", 5);
	n = 23;
	assert_int_equal(lp_msg_parse_sasl_initial(b, n, &mech, &d, &dl, &err), LP_PROTO_OK);
	assert_string_equal(mech, "SCRAM-SHA-256");
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "n,,n=", 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(lp_msg_parse_sasl_initial(b, i, &mech, &d, &dl, &err),
				 LP_PROTO_ERROR);
	b[n] = 'x';
	assert_int_equal(lp_msg_parse_sasl_initial(b, n + 1, &mech, &d, &dl, &err),
			 LP_PROTO_ERROR);

	put32(b + 14, 0xffffffffu);   /* -1: no data */
	assert_int_equal(lp_msg_parse_sasl_initial(b, 18, &mech, &d, &dl, &err), LP_PROTO_OK);
	assert_null(d);
	assert_int_equal(dl, 0);
	assert_int_equal(lp_msg_parse_sasl_initial(b, 19, &mech, &d, &dl, &err), LP_PROTO_ERROR);

	put32(b + 14, 0xfffffffeu);   /* -2 */
	assert_int_equal(lp_msg_parse_sasl_initial(b, 18, &mech, &d, &dl, &err), LP_PROTO_ERROR);
	put32(b + 14, 0x7fffffffu);   /* huge */
	assert_int_equal(lp_msg_parse_sasl_initial(b, 23, &mech, &d, &dl, &err), LP_PROTO_ERROR);
	put32(b + 14, 0);
	assert_int_equal(lp_msg_parse_sasl_initial(b, 18, &mech, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(dl, 0);

	/* empty mechanism */
	b[0] = 0;
	put32(b + 1, 0);
	assert_int_equal(lp_msg_parse_sasl_initial(b, 5, &mech, &d, &dl, &err), LP_PROTO_ERROR);
}

static void test_parse_password(void **state)
{
	const char *pw, *err;

	assert_int_equal(lp_msg_parse_password((const uint8_t *)"secret\0", 7, &pw, &err),
			 LP_PROTO_OK);
	assert_string_equal(pw, "secret");
	assert_int_equal(lp_msg_parse_password((const uint8_t *)"\0", 1, &pw, &err), LP_PROTO_OK);
	assert_int_equal(lp_msg_parse_password((const uint8_t *)"secret", 6, &pw, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_password((const uint8_t *)"a\0b\0", 4, &pw, &err),
			 LP_PROTO_ERROR);
	assert_int_equal(lp_msg_parse_password(NULL, 0, &pw, &err), LP_PROTO_ERROR);
}

/* ---- writer ---- */

static void test_writer_basic(void **state)
{
	uint8_t buf[32];
	struct lp_writer w;

	lp_wr_init(&w, buf, sizeof(buf));
	lp_wr_begin(&w, 'x');
	lp_wr_u8(&w, 0xab);
	lp_wr_i16(&w, -2);
	lp_wr_i32(&w, -3);
	lp_wr_cstr(&w, "hi");
	lp_wr_bytes(&w, "zz", 2);
	lp_wr_end(&w);
	assert_false(w.overflow);
	assert_int_equal(w.len, 1 + 4 + 1 + 2 + 4 + 3 + 2);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(get32(buf + 1), w.len - 1);
	assert_int_equal(buf[5], 0xab);
	assert_int_equal(buf[6], 0xff);
	assert_int_equal(buf[7], 0xfe);
	assert_int_equal(get32(buf + 8), 0xfffffffdu);
	assert_memory_equal(buf + 12, "hi\0zz", 5);
}

static void test_writer_overflow(void **state)
{
	uint8_t buf[64];

	/* Every capacity short of what is needed overflows and never writes
	 * past cap (guard bytes stay intact). */
	for (size_t cap = 0; cap < 20; cap++) {
		struct lp_writer w;

		memset(buf, 0xcc, sizeof(buf));
		lp_wr_init(&w, buf, cap);
		lp_build_error(&w, "ERROR", "08P01", "x");
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xcc);
		assert_true(w.overflow);
		assert_true(w.len <= cap);
		/* sticky: nothing more is written, even small things */
		lp_wr_u8(&w, 1);
		lp_build_rfq(&w, 'I');
		assert_true(w.len <= cap);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xcc);
	}

	struct lp_writer w;

	lp_wr_init(&w, buf, 6);
	lp_build_rfq(&w, 'I');
	assert_false(w.overflow);
	assert_int_equal(w.len, 6);
	lp_wr_u8(&w, 0);
	assert_true(w.overflow);
	assert_int_equal(w.len, 6);

	lp_wr_init(&w, NULL, 100);
	lp_build_terminate(&w);
	assert_true(w.overflow);

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_data_row(&w, NULL, -1);
	assert_true(w.overflow);
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_row_description(&w, NULL, NULL, 40000);
	assert_true(w.overflow);
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_negotiate_version(&w, 0, NULL, -1);
	assert_true(w.overflow);
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_startup(&w, NULL, NULL, -1);
	assert_true(w.overflow);
}

/* ---- builder -> parser round trips ---- */

/* Frames one message at *off in buf and returns its body. */
static const uint8_t *next_msg(const uint8_t *buf, size_t len, size_t *off, uint8_t type,
			       size_t *blen)
{
	struct lp_msg_hdr h;
	const char *err;

	assert_int_equal(lp_msg_hdr_parse(buf + *off, len - *off, 1 << 20, &h, &err), LP_PROTO_OK);
	assert_int_equal(h.type, type);
	assert_true(h.len - 4 <= len - *off - 5);
	*blen = h.len - 4;
	*off += 1 + h.len;
	return buf + *off - *blen;
}

static void test_roundtrip_backend(void **state)
{
	uint8_t buf[1024];
	struct lp_writer w;
	size_t off = 0, bl;
	const uint8_t *b;
	const char *err, *n, *v;
	struct lp_err_fields f;
	uint32_t pid, key;
	char st;
	int32_t code;
	const uint8_t *d;
	size_t dl;
	bool s, p;

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_error(&w, "FATAL", "28000", "no such user");
	lp_build_notice(&w, "NOTICE", "00000", "hello");
	lp_build_param_status(&w, "server_version", "17.0");
	lp_build_backend_key(&w, 1234, 0xcafebabe);
	lp_build_rfq(&w, 'T');
	lp_build_auth(&w, 5, "salt", 4);
	lp_build_auth_sasl(&w, false);
	lp_build_auth_sasl(&w, true);
	lp_build_command_complete(&w, "SHOW");
	assert_false(w.overflow);

	b = next_msg(buf, w.len, &off, 'E', &bl);
	assert_int_equal(lp_msg_parse_error(b, bl, &f, &err), LP_PROTO_OK);
	assert_string_equal(f.severity, "FATAL");
	assert_string_equal(f.severity_nl, "FATAL");
	assert_string_equal(f.sqlstate, "28000");
	assert_string_equal(f.message, "no such user");

	b = next_msg(buf, w.len, &off, 'N', &bl);
	assert_int_equal(lp_msg_parse_error(b, bl, &f, &err), LP_PROTO_OK);
	assert_string_equal(f.message, "hello");

	b = next_msg(buf, w.len, &off, 'S', &bl);
	assert_int_equal(lp_msg_parse_param_status(b, bl, &n, &v, &err), LP_PROTO_OK);
	assert_string_equal(n, "server_version");
	assert_string_equal(v, "17.0");

	b = next_msg(buf, w.len, &off, 'K', &bl);
	assert_int_equal(lp_msg_parse_backend_key(b, bl, &pid, &key, &err), LP_PROTO_OK);
	assert_int_equal(pid, 1234);
	assert_int_equal(key, 0xcafebabe);

	b = next_msg(buf, w.len, &off, 'Z', &bl);
	assert_int_equal(lp_msg_parse_rfq(b, bl, &st, &err), LP_PROTO_OK);
	assert_int_equal(st, 'T');

	b = next_msg(buf, w.len, &off, 'R', &bl);
	assert_int_equal(lp_msg_parse_auth(b, bl, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(code, 5);
	assert_memory_equal(d, "salt", 4);

	b = next_msg(buf, w.len, &off, 'R', &bl);
	assert_int_equal(lp_msg_parse_auth(b, bl, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(code, 10);
	assert_int_equal(dl, sizeof("SCRAM-SHA-256") + 1);
	assert_int_equal(lp_msg_parse_sasl_mechs(d, dl, &s, &p, &err), LP_PROTO_OK);
	assert_true(s);
	assert_false(p);

	b = next_msg(buf, w.len, &off, 'R', &bl);
	assert_int_equal(lp_msg_parse_auth(b, bl, &code, &d, &dl, &err), LP_PROTO_OK);
	assert_int_equal(lp_msg_parse_sasl_mechs(d, dl, &s, &p, &err), LP_PROTO_OK);
	assert_true(s);
	assert_true(p);

	b = next_msg(buf, w.len, &off, 'C', &bl);
	assert_int_equal(bl, 5);
	assert_memory_equal(b, "SHOW", 5);
	assert_int_equal(off, w.len);
}

static void test_roundtrip_frontend(void **state)
{
	uint8_t buf[1024];
	struct lp_writer w;
	size_t off, bl, plen;
	const uint8_t *b, *d;
	const char *err, *mech, *pw;
	size_t dl;
	struct lp_startup s;
	const char *names[] = { "user", "database", "application_name" };
	const char *values[] = { "bob", "prod", "psql" };

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_startup(&w, names, values, 3);
	assert_false(w.overflow);
	assert_int_equal(lp_startup_parse(buf, w.len, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(plen, w.len);
	assert_int_equal(s.version, LP_PROTO_V3);
	assert_string_equal(s.user, "bob");
	assert_string_equal(s.database, "prod");
	assert_string_equal(lp_startup_get(&s, "application_name"), "psql");

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_startup(&w, NULL, NULL, 0);
	assert_int_equal(w.len, 9);
	assert_int_equal(lp_startup_parse(buf, w.len, &s, &plen, &err), LP_PROTO_OK);

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_cancel(&w, 77, 0x12345678);
	assert_int_equal(w.len, 16);
	assert_int_equal(lp_startup_parse(buf, w.len, &s, &plen, &err), LP_PROTO_OK);
	assert_int_equal(s.kind, LP_STARTUP_CANCEL);
	assert_int_equal(s.cancel_pid, 77);
	assert_int_equal(s.cancel_key, 0x12345678);

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_password(&w, "md5abc");
	lp_build_sasl_initial(&w, "SCRAM-SHA-256", "n,,n=,r=x", 9);
	lp_build_sasl_initial(&w, "SCRAM-SHA-256", NULL, 0);
	lp_build_sasl_response(&w, "c=biws", 6);
	lp_build_query(&w, "SELECT 1");
	lp_build_terminate(&w);
	assert_false(w.overflow);
	off = 0;
	b = next_msg(buf, w.len, &off, 'p', &bl);
	assert_int_equal(lp_msg_parse_password(b, bl, &pw, &err), LP_PROTO_OK);
	assert_string_equal(pw, "md5abc");
	b = next_msg(buf, w.len, &off, 'p', &bl);
	assert_int_equal(lp_msg_parse_sasl_initial(b, bl, &mech, &d, &dl, &err), LP_PROTO_OK);
	assert_string_equal(mech, "SCRAM-SHA-256");
	assert_int_equal(dl, 9);
	assert_memory_equal(d, "n,,n=,r=x", 9);
	b = next_msg(buf, w.len, &off, 'p', &bl);
	assert_int_equal(lp_msg_parse_sasl_initial(b, bl, &mech, &d, &dl, &err), LP_PROTO_OK);
	assert_null(d);
	b = next_msg(buf, w.len, &off, 'p', &bl);
	assert_int_equal(bl, 6);
	assert_memory_equal(b, "c=biws", 6);
	b = next_msg(buf, w.len, &off, 'Q', &bl);
	assert_memory_equal(b, "SELECT 1", 9);
	b = next_msg(buf, w.len, &off, 'X', &bl);
	assert_int_equal(bl, 0);
	assert_int_equal(off, w.len);
}

static void test_build_exact_bytes(void **state)
{
	uint8_t buf[256];
	struct lp_writer w;
	const char *names[] = { "a", "b" };
	const uint32_t oids[] = { 25, 20 };
	const char *vals[] = { "x", NULL };
	const char *opts[] = { "_pq_.foo" };
	static const uint8_t want_nego[] = { 'v', 0, 0, 0, 21, 0, 3, 0, 0, 0, 0, 0, 1,
					     '_', 'p', 'q', '_', '.', 'f', 'o', 'o', 0 };
	static const uint8_t want_rd[] = {
		'T', 0, 0, 0, 46, 0, 2,
		'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
		'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
	};
	static const uint8_t want_dr[] = { 'D', 0, 0, 0, 15, 0, 2, 0, 0, 0, 1, 'x',
					   0xff, 0xff, 0xff, 0xff };
	static const uint8_t want_ssl_nego[] = { 'v', 0, 0, 0, 12, 0, 3, 0, 2, 0, 0, 0, 0 };

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_negotiate_version(&w, 0, opts, 1);
	assert_int_equal(w.len, sizeof(want_nego));
	assert_memory_equal(buf, want_nego, sizeof(want_nego));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_negotiate_version(&w, 2, NULL, 0);
	assert_int_equal(w.len, sizeof(want_ssl_nego));
	assert_memory_equal(buf, want_ssl_nego, sizeof(want_ssl_nego));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_row_description(&w, names, oids, 2);
	assert_int_equal(w.len, sizeof(want_rd));
	assert_memory_equal(buf, want_rd, sizeof(want_rd));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_data_row(&w, vals, 2);
	assert_int_equal(w.len, sizeof(want_dr));
	assert_memory_equal(buf, want_dr, sizeof(want_dr));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_error(&w, "ERROR", "42601", "m");
	static const uint8_t want_err[] = "E\0\0\0\x1dSERROR\0VERROR\0C42601\0Mm\0";
	assert_int_equal(w.len, sizeof(want_err));   /* includes the final 0 */
	assert_memory_equal(buf, want_err, sizeof(want_err));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_auth_sasl(&w, true);
	static const uint8_t want_sasl[] = "R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
	assert_int_equal(w.len, sizeof(want_sasl));
	assert_memory_equal(buf, want_sasl, sizeof(want_sasl));

	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_terminate(&w);
	assert_int_equal(w.len, 5);
	assert_memory_equal(buf, "X\0\0\0\4", 5);
}

/* ---- the "options" startup parameter ---- */

/* Runs the options parser over text; fills names/values (joined "n=v") and
 * returns the number of items, or -1 on a malformed item. */
static int options_of(const char *text, char out[][64], int max)
{
	char item[256];
	const char *pos = text, *name, *value, *err;
	int n = 0, rc;
	assert_true(strlen(text) < sizeof(item));
	while ((rc = lp_startup_option_next(&pos, item, &name, &value, &err)) == LP_PROTO_OK) {
		assert_true(n < max);
		snprintf(out[n++], 64, "%s=%s", name, value);
	}
	if (rc == LP_PROTO_ERROR) {
		assert_non_null(err);
		assert_non_null(strstr(err, "only '-c config=val' and '--config=val' are allowed"));
		return -1;
	}
	return n;
}

static void test_startup_options(void **state)
{
	char o[4][64];
	(void)state;
	assert_int_equal(options_of("", o, 4), 0);
	assert_int_equal(options_of("   ", o, 4), 0);
	assert_int_equal(options_of("-c a=b", o, 4), 1);
	assert_string_equal(o[0], "a=b");
	assert_int_equal(options_of("  -c    datestyle=German,\\ YMD ", o, 4), 1);
	assert_string_equal(o[0], "datestyle=German, YMD");
	assert_int_equal(options_of("-ctimezone=UTC\t--x=1 -c y=", o, 4), 3);
	assert_string_equal(o[0], "timezone=UTC");
	assert_string_equal(o[1], "x=1");
	assert_string_equal(o[2], "y=");
	/* Escapes take any character; the first '=' splits, escaped or not. */
	assert_int_equal(options_of("-c t\\imezone=\\E\\u\\r\\o\\pe/Lisbon", o, 4), 1);
	assert_string_equal(o[0], "timezone=Europe/Lisbon");
	assert_int_equal(options_of("-c dat\\estyle\\=\\Ge\\rman,\\ YMD", o, 4), 1);
	assert_string_equal(o[0], "datestyle=German, YMD");
	assert_int_equal(options_of("-c a=b=c", o, 4), 1);
	assert_string_equal(o[0], "a=b=c");
	/* A lone trailing backslash escapes nothing. */
	assert_int_equal(options_of("-c a=b\\", o, 4), 1);
	assert_string_equal(o[0], "a=b");
	/* Malformed: another switch, no '=', no name, nothing after -c. */
	assert_int_equal(options_of("-d", o, 4), -1);
	assert_int_equal(options_of("x", o, 4), -1);
	assert_int_equal(options_of("-c timezone", o, 4), -1);
	assert_int_equal(options_of("-c =x", o, 4), -1);
	assert_int_equal(options_of("-c", o, 4), -1);
	assert_int_equal(options_of("-c a=b -", o, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_normal),
		cmocka_unit_test(test_startup_extra_bytes_held),
		cmocka_unit_test(test_startup_no_user),
		cmocka_unit_test(test_startup_versions),
		cmocka_unit_test(test_startup_special),
		cmocka_unit_test(test_startup_incomplete),
		cmocka_unit_test(test_startup_bad_lengths),
		cmocka_unit_test(test_startup_max_len),
		cmocka_unit_test(test_startup_layout_errors),
		cmocka_unit_test(test_startup_too_many_params),
		cmocka_unit_test(test_startup_options),
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_type_limits),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_parse_param_status),
		cmocka_unit_test(test_parse_backend_key),
		cmocka_unit_test(test_parse_rfq),
		cmocka_unit_test(test_parse_auth),
		cmocka_unit_test(test_parse_sasl_mechs),
		cmocka_unit_test(test_parse_sasl_initial),
		cmocka_unit_test(test_parse_password),
		cmocka_unit_test(test_writer_basic),
		cmocka_unit_test(test_writer_overflow),
		cmocka_unit_test(test_startup_replication),
		cmocka_unit_test(test_roundtrip_backend),
		cmocka_unit_test(test_roundtrip_frontend),
		cmocka_unit_test(test_build_exact_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
