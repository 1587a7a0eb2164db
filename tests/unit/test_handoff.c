/*
 * Unit tests of the online restart's pure parts: the takeover record codec
 * (src/proto/handoff.c), its bytea hex text, and the conversation tracker's
 * save/restore (src/proto/track.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/handoff.h"
#include "proto/track.h"

/* Encodes h into buf; returns the length. */
static size_t enc(const struct lp_handoff *h, uint8_t *buf, size_t cap)
{
	struct lp_writer w;
	size_t want = lp_handoff_encoded_len(h);
	assert_true(want <= cap);
	lp_wr_init(&w, buf, cap);
	lp_handoff_encode(&w, h);
	assert_false(w.overflow);
	assert_int_equal(w.len, want);
	return w.len;
}

static void test_client_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[4096];
	struct lp_handoff h = {
		.kind = LP_HO_CLIENT, .id = 0x0102030405060708ULL, .db = "app", .user = "alice",
		.pool_user = "svc", .addr_family = 2, .port = 54321, .key_pid = 0x7fffffff,
		.key_secret = 0xdeadbeef, .connect_age_us = 5, .active_age_us = 1, .request_age_us = 0,
		.flags = LP_HO_F_SCRAM_AUTH, .last_rfq = 'T', .nparams = 2,
	};
	h.addr_ip[0] = 127;
	h.addr_ip[3] = 1;
	h.params[0] = (struct lp_ho_param){ "application_name", "" };
	h.params[1] = (struct lp_ho_param){ "search_path", "a, \"b c\"" };
	size_t n = enc(&h, buf, sizeof(buf));

	struct lp_handoff d;
	const char *err = NULL;
	assert_int_equal(lp_handoff_decode(buf, n, &d, &err), LP_PROTO_OK);
	assert_int_equal(d.kind, LP_HO_CLIENT);
	assert_true(d.id == h.id);
	assert_string_equal(d.db, "app");
	assert_string_equal(d.user, "alice");
	assert_string_equal(d.pool_user, "svc");
	assert_null(d.path);
	assert_int_equal(d.addr_family, 2);
	assert_memory_equal(d.addr_ip, h.addr_ip, 16);
	assert_int_equal(d.port, 54321);
	assert_int_equal(d.key_pid, 0x7fffffff);
	assert_int_equal(d.key_secret, 0xdeadbeef);
	assert_int_equal(d.connect_age_us, 5);
	assert_int_equal(d.flags, LP_HO_F_SCRAM_AUTH);
	assert_int_equal(d.last_rfq, 'T');
	assert_int_equal(d.nparams, 2);
	assert_string_equal(d.params[0].name, "application_name");
	assert_string_equal(d.params[0].value, "");
	assert_string_equal(d.params[1].value, "a, \"b c\"");
	assert_false(d.have_track);
}

static void test_server_roundtrip_with_tracker(void **state)
{
	(void)state;
	uint8_t reqs[3 * LP_HO_REQ_LEN] = {
		LP_TRK_PARSE, LP_TRK_FORWARD, 0, 0, 0, 0, 0, 7,
		LP_TRK_EXECUTE, LP_TRK_FORWARD, 0, 0, 0, 0, 0, 0,
		LP_TRK_SYNC, LP_TRK_FORWARD, 0x80, 0, 0, 0, 0, 0,
	};
	struct lp_handoff h = {
		.kind = LP_HO_SERVER, .id = 9, .db = "app", .user = "svc", .lifetime_us = 3600000000LL,
		.flags = LP_HO_F_CLOSE_NEEDED, .have_track = true, .trk_tx = 'T',
		.trk_copy = LP_TRK_COPY_NONE, .trk_batch_open = true, .nreqs = 3, .reqs = reqs,
		.nwelcome = 1,
	};
	h.welcome[0] = (struct lp_ho_param){ "TimeZone", "UTC" };
	uint8_t buf[4096];
	size_t n = enc(&h, buf, sizeof(buf));
	struct lp_handoff d;
	const char *err = NULL;
	assert_int_equal(lp_handoff_decode(buf, n, &d, &err), LP_PROTO_OK);
	assert_true(d.have_track);
	assert_int_equal(d.trk_tx, 'T');
	assert_true(d.trk_batch_open);
	assert_false(d.trk_copy_in_fe);
	assert_int_equal(d.nreqs, 3);
	assert_memory_equal(d.reqs, reqs, sizeof(reqs));
	assert_int_equal(d.nwelcome, 1);
	assert_string_equal(d.welcome[0].value, "UTC");
	assert_int_equal(d.last_rfq, 0);
	assert_true(d.lifetime_us == 3600000000LL);
}

/* Every proper prefix of a record is refused or is a shorter valid one,
 * never read past. */
static void test_truncations_and_corruptions(void **state)
{
	(void)state;
	struct lp_handoff h = { .kind = LP_HO_LISTENER, .path = "/tmp/.s.PGSQL.6432" };
	uint8_t buf[512];
	size_t n = enc(&h, buf, sizeof(buf));
	struct lp_handoff d;
	const char *err;
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		(void)lp_handoff_decode(copy, cut, &d, &err);   /* ASan checks the bounds */
		free(copy);
	}
	assert_int_equal(lp_handoff_decode(buf, 0, &d, &err), LP_PROTO_ERROR);  /* no kind */

	/* A string without its NUL. */
	uint8_t bad[] = { 1, 0, 0, 0, 1, 'c', 3, 0, 0, 0, 2, 'a', 'b' };
	assert_int_equal(lp_handoff_decode(bad, sizeof(bad), &d, &err), LP_PROTO_ERROR);
	/* A NUL inside a string. */
	uint8_t bad2[] = { 1, 0, 0, 0, 1, 'c', 3, 0, 0, 0, 3, 'a', 0, 0 };
	assert_int_equal(lp_handoff_decode(bad2, sizeof(bad2), &d, &err), LP_PROTO_ERROR);
	/* A field longer than the record. */
	uint8_t bad3[] = { 1, 0, 0, 0, 1, 'c', 3, 0xff, 0xff, 0xff, 0xff, 'a' };
	assert_int_equal(lp_handoff_decode(bad3, sizeof(bad3), &d, &err), LP_PROTO_ERROR);
	/* A repeated field. */
	uint8_t bad4[] = { 1, 0, 0, 0, 1, 'c', 1, 0, 0, 0, 1, 's' };
	assert_int_equal(lp_handoff_decode(bad4, sizeof(bad4), &d, &err), LP_PROTO_ERROR);
	/* An unknown kind, a fixed field of the wrong size. */
	uint8_t bad5[] = { 1, 0, 0, 0, 1, 'x' };
	assert_int_equal(lp_handoff_decode(bad5, sizeof(bad5), &d, &err), LP_PROTO_ERROR);
	uint8_t bad6[] = { 1, 0, 0, 0, 1, 'c', 2, 0, 0, 0, 4, 0, 0, 0, 1 };
	assert_int_equal(lp_handoff_decode(bad6, sizeof(bad6), &d, &err), LP_PROTO_ERROR);
	/* A tracker claiming more requests than it holds. */
	uint8_t bad7[] = { 1, 0, 0, 0, 1, 's', 14, 0, 0, 0, 8, 'I', 0, 0, 0, 0, 0, 0, 1 };
	assert_int_equal(lp_handoff_decode(bad7, sizeof(bad7), &d, &err), LP_PROTO_ERROR);
	/* A parameter without a value. */
	uint8_t bad8[] = { 1, 0, 0, 0, 1, 'c', 12, 0, 0, 0, 2, 'a', 0 };
	assert_int_equal(lp_handoff_decode(bad8, sizeof(bad8), &d, &err), LP_PROTO_ERROR);
	/* An unknown field is skipped: a newer process's record. */
	uint8_t newer[] = { 200, 0, 0, 0, 2, 9, 9, 1, 0, 0, 0, 1, 'c' };
	assert_int_equal(lp_handoff_decode(newer, sizeof(newer), &d, &err), LP_PROTO_OK);
	assert_int_equal(d.kind, LP_HO_CLIENT);
}

static void test_too_many_params(void **state)
{
	(void)state;
	struct lp_handoff h = { .kind = LP_HO_CLIENT, .nparams = LP_HO_MAX_PARAMS };
	for (int i = 0; i < LP_HO_MAX_PARAMS; i++)
		h.params[i] = (struct lp_ho_param){ "n", "v" };
	uint8_t buf[8192];
	size_t n = enc(&h, buf, sizeof(buf));
	struct lp_handoff d;
	const char *err;
	assert_int_equal(lp_handoff_decode(buf, n, &d, &err), LP_PROTO_OK);
	assert_int_equal(d.nparams, LP_HO_MAX_PARAMS);
	/* One more than allowed. */
	uint8_t more[8192 + 16];
	memcpy(more, buf, n);
	uint8_t extra[] = { 12, 0, 0, 0, 4, 'n', 0, 'v', 0 };
	memcpy(more + n, extra, sizeof(extra));
	assert_int_equal(lp_handoff_decode(more, n + sizeof(extra), &d, &err), LP_PROTO_ERROR);
}

static void test_hex(void **state)
{
	(void)state;
	const uint8_t in[] = { 0x00, 0xab, 0xff, 0x10 };
	char text[2 + 2 * sizeof(in) + 1];
	lp_hex_encode(in, sizeof(in), text);
	assert_string_equal(text, "\\x00abff10");
	uint8_t out[4];
	assert_int_equal(lp_hex_decode(text, strlen(text), out, sizeof(out)), 4);
	assert_memory_equal(out, in, 4);
	assert_int_equal(lp_hex_decode("\\x0", 3, out, sizeof(out)), -1);
	assert_int_equal(lp_hex_decode("\\xzz", 4, out, sizeof(out)), -1);
	assert_int_equal(lp_hex_decode("00ab", 4, out, sizeof(out)), -1);
	assert_int_equal(lp_hex_decode("\\x0011223344", 12, out, sizeof(out)), -1);  /* too long */
	assert_int_equal(lp_hex_decode("\\x", 2, out, sizeof(out)), 0);
}

/* A tracker saved mid-conversation and restored elsewhere answers the rest
 * of the conversation as the original would have. */
static void test_track_save_restore(void **state)
{
	(void)state;
	struct lp_trk_req ring_a[8], ring_b[8], saved[8];
	struct lp_track a, b;
	lp_track_init(&a, ring_a, 8);
	/* BEGIN done; then a pipelined Parse/Bind/Execute/Sync and a Query. */
	assert_int_equal(lp_track_frontend(&a, 'Q', 0, LP_TRK_FORWARD, 0), LP_TRK_FE_SENT);
	assert_int_equal(lp_track_backend(&a, 'C', 0, NULL), LP_TRK_BE_FORWARD);
	assert_int_equal(lp_track_backend(&a, 'Z', 'T', NULL), LP_TRK_BE_FORWARD);
	const char fe[] = { 'P', 'B', 'E', 'S', 'Q' };
	for (size_t i = 0; i < sizeof(fe); i++)
		assert_int_equal(lp_track_frontend(&a, (uint8_t)fe[i], 0, LP_TRK_FORWARD, (uint32_t)i),
				 LP_TRK_FE_SENT);
	/* ParseComplete is in before the hand-over. */
	assert_int_equal(lp_track_backend(&a, '1', 0, NULL), LP_TRK_BE_FORWARD);
	lp_track_save(&a, saved);

	lp_track_init(&b, ring_b, 8);
	assert_true(lp_track_restore(&b, saved, a.n, a.tx, a.copy, a.copy_in_fe, a.batch_open,
				     a.fe_skip));
	assert_int_equal(b.n, 4);
	assert_int_equal(b.rfq_owed, 2);
	assert_int_equal(b.tx, 'T');
	assert_false(lp_track_releasable(&b));
	/* The rest of the answers, as PostgreSQL sends them. */
	const char be[] = { '2', 'D', 'C', 'Z', 'C', 'Z' };
	const char st[] = { 0, 0, 0, 'T', 0, 'I' };
	for (size_t i = 0; i < sizeof(be); i++)
		assert_int_equal(lp_track_backend(&b, (uint8_t)be[i], st[i], NULL), LP_TRK_BE_FORWARD);
	assert_true(lp_track_releasable(&b));
	assert_false(b.broken);
}

static void test_track_restore_refuses_nonsense(void **state)
{
	(void)state;
	struct lp_trk_req ring[4], reqs[2] = {
		{ .kind = LP_TRK_QUERY, .action = LP_TRK_FORWARD },
		{ .kind = LP_TRK_SYNC, .action = LP_TRK_FORWARD },
	};
	struct lp_track t;
	lp_track_init(&t, ring, 4);
	assert_false(lp_track_restore(&t, reqs, 5, 'I', 0, false, false, false));    /* > cap */
	assert_false(lp_track_restore(&t, reqs, 2, 'X', 0, false, false, false));    /* status */
	assert_false(lp_track_restore(&t, reqs, 2, 'I', 9, false, false, false));    /* copy */
	reqs[1].kind = 42;
	assert_false(lp_track_restore(&t, reqs, 2, 'I', 0, false, false, false));
	reqs[1].kind = LP_TRK_DESCRIBE_STMT;
	reqs[1].sub = 'X';
	assert_false(lp_track_restore(&t, reqs, 2, 'I', 0, false, false, false));
	reqs[1].sub = 'S';
	reqs[1].stage = 5;
	assert_false(lp_track_restore(&t, reqs, 2, 'I', 0, false, false, false));
	assert_int_equal(t.n, 0);               /* untouched */
	reqs[1].stage = 1;
	assert_true(lp_track_restore(&t, reqs, 2, 'E', 0, false, false, false));
	assert_int_equal(t.rfq_owed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_roundtrip),
		cmocka_unit_test(test_server_roundtrip_with_tracker),
		cmocka_unit_test(test_truncations_and_corruptions),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_track_save_restore),
		cmocka_unit_test(test_track_restore_refuses_nonsense),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
