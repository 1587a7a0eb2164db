/*
 * Unit tests of src/proto/track: the conversation tracker, fed recorded
 * message sequences. A script is a list of space-separated steps:
 *   >X      frontend message X forwarded (expect it tracked)
 *   >X:S    Describe/Close with its 'S'/'P' target
 *   >X!     injected by the pooler (SWALLOW)   >X~  answered by the pooler (SYNTH)
 *   >X?     expect the tracker to say PostgreSQL discards it
 *   >X#     expect the ring to be full
 *   <X      backend message X, expect it forwarded
 *   <Z:I    ReadyForQuery with status I (T, E)
 *   <X-     expect it swallowed           <Xx  expect a violation
 *   $       a synthetic answer is due now: write it (synth_done)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/track.h"

struct outcomes {
	int ok, failed, skipped;
	int by_kind_ok[16], by_kind_failed[16], by_kind_skipped[16];
};

static void count_done(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o)
{
	struct outcomes *oc = arg;
	if (o == LP_TRK_OK) {
		oc->ok++;
		oc->by_kind_ok[r->kind]++;
	} else if (o == LP_TRK_FAILED) {
		oc->failed++;
		oc->by_kind_failed[r->kind]++;
	} else {
		oc->skipped++;
		oc->by_kind_skipped[r->kind]++;
	}
}

struct fixture {
	struct lp_trk_req ring[64];
	struct lp_track t;
	struct outcomes oc;
};

static void setup_cap(struct fixture *f, uint32_t cap)
{
	memset(f, 0, sizeof(*f));
	lp_track_init(&f->t, f->ring, cap);
	f->t.on_done = count_done;
	f->t.arg = &f->oc;
}

/* Runs a script; fails the test at the first step that does not match. */
static void run(struct fixture *f, const char *script)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", script);
	for (char *save = NULL, *step = strtok_r(buf, " ", &save); step;
	     step = strtok_r(NULL, " ", &save)) {
		if (step[0] == '$') {
			if (!lp_track_synth_ready(&f->t, NULL))
				fail_msg("step '%s' of '%s': no synthetic answer due", step, script);
			lp_track_synth_done(&f->t);
			continue;
		}
		uint8_t type = (uint8_t)step[1];
		const char *rest = step + 2;
		char sub = 0;
		if (rest[0] == ':') {
			sub = rest[1];
			rest += 2;
		}
		if (step[0] == '>') {
			enum lp_trk_action act = LP_TRK_FORWARD;
			enum lp_trk_fe want = LP_TRK_FE_SENT;
			if (*rest == '!')
				act = LP_TRK_SWALLOW;
			else if (*rest == '~')
				act = LP_TRK_SYNTH;
			else if (*rest == '?')
				want = LP_TRK_FE_DISCARDED;
			else if (*rest == '#')
				want = LP_TRK_FE_FULL;
			enum lp_trk_fe got = lp_track_frontend(&f->t, type, (uint8_t)sub, act, 0);
			if (got != want)
				fail_msg("step '%s' of '%s': frontend verdict %d, want %d", step, script, got,
					 want);
		} else if (step[0] == '<') {
			enum lp_trk_be want = LP_TRK_BE_FORWARD;
			if (*rest == '-')
				want = LP_TRK_BE_SWALLOW;
			else if (*rest == 'x')
				want = LP_TRK_BE_VIOLATION;
			enum lp_trk_be got = lp_track_backend(&f->t, type, sub ? sub : 'I', NULL);
			if (got != want)
				fail_msg("step '%s' of '%s': backend verdict %d, want %d", step, script, got,
					 want);
		} else {
			fail_msg("bad step '%s'", step);
		}
		if (f->t.n > f->t.cap || f->t.rfq_owed > f->t.n)
			fail_msg("step '%s' of '%s': ring out of bounds", step, script);
	}
}

static void test_simple_query(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	assert_true(lp_track_releasable(&f.t));
	run(&f, ">Q");
	assert_false(lp_track_releasable(&f.t));
	assert_int_equal(f.t.rfq_owed, 1);
	run(&f, "<T <D <D <C");
	assert_false(lp_track_releasable(&f.t));
	run(&f, "<Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_int_equal(f.oc.by_kind_ok[LP_TRK_QUERY], 1);
}

static void test_multi_statement_query_with_error(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	/* SELECT 1; SELECT 1/0; SELECT 3: the third never runs. */
	run(&f, ">Q <T <D <C <T <E <Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_int_equal(f.oc.by_kind_failed[LP_TRK_QUERY], 1);
	/* the same inside a transaction block: status E keeps the link */
	run(&f, ">Q <C <Z:T >Q <E <Z:E");
	assert_false(lp_track_releasable(&f.t));
	assert_int_equal(f.t.tx, 'E');
	run(&f, ">Q <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
}

static void test_empty_query(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">Q <I <Z:I");
	assert_true(lp_track_releasable(&f.t));
}

static void test_pipeline_error_in_second_of_three_batches(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">P >B >D:P >E >S  >P >B >E >S  >P >B >E >S");
	assert_int_equal(f.t.n, 13);
	assert_int_equal(f.t.rfq_owed, 3);
	assert_false(f.t.batch_open);
	run(&f, "<1 <2 <T <D <D <C <Z:I");
	assert_int_equal(f.t.rfq_owed, 2);
	assert_false(lp_track_releasable(&f.t));
	/* batch 2: Parse fine, Bind fails; its Execute is skipped */
	run(&f, "<1 <E");
	assert_int_equal(f.oc.by_kind_failed[LP_TRK_BIND], 1);
	assert_int_equal(f.oc.by_kind_skipped[LP_TRK_EXECUTE], 1);
	run(&f, "<Z:I");
	/* batch 3 runs normally */
	run(&f, "<1 <2 <D <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_int_equal(f.oc.by_kind_ok[LP_TRK_SYNC], 3);
	assert_int_equal(f.oc.skipped, 1);
}

static void test_flush_without_sync_keeps_the_link(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">P >B >E >H <1 <2 <D <C");
	assert_true(f.t.n == 0);
	assert_false(lp_track_quiet(&f.t));   /* the batch is open until Sync */
	assert_false(lp_track_releasable(&f.t));
	run(&f, ">S <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* a lone Flush opens nothing */
	run(&f, ">H");
	assert_true(lp_track_releasable(&f.t));
}

static void test_describe_statement_and_portal(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">P >D:S >B >D:P >E >S <1 <t <T <2 <T <D <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* a statement without result columns: ParameterDescription, NoData */
	run(&f, ">P >D:S >S <1 <t <n <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* RowDescription before ParameterDescription is out of order */
	run(&f, ">D:S <Tx");
	assert_true(f.t.broken);
}

static void test_copy_in_out_and_fail(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">Q <G");
	assert_false(lp_track_quiet(&f.t));
	run(&f, ">d >d >c");
	assert_false(lp_track_quiet(&f.t));   /* the server has not finished */
	run(&f, "<C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	run(&f, ">Q <H <d <d <c <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* CopyFail: the server answers with an error, then ReadyForQuery */
	run(&f, ">Q <G >d >f <E <Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_int_equal(f.oc.by_kind_failed[LP_TRK_QUERY], 1);
	/* CopyData from a server that is not copying out */
	run(&f, ">Q <dx");
	assert_true(f.t.broken);
}

/* Replication streaming: START_REPLICATION answers CopyBothResponse, both
 * sides send CopyData, each ends with CopyDone in either order; a result
 * set (the next timeline) may follow before the command's tag. */
static void test_copy_both(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">Q <T <D <C <Z:I");               /* IDENTIFY_SYSTEM */
	run(&f, ">Q <W <d >d <d >d <d");
	assert_false(lp_track_quiet(&f.t));
	/* the server ends first (end of timeline), the client follows */
	run(&f, "<c");
	assert_int_equal(f.t.copy, LP_TRK_COPY_BOTH_FE);
	run(&f, ">d >c");
	assert_int_equal(f.t.copy, LP_TRK_COPY_NONE);
	assert_false(lp_track_quiet(&f.t));       /* the Query is still owed */
	run(&f, "<T <D <C <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* the client ends first: the server may still send data */
	run(&f, ">Q <W <d >d >c <d <d <c <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_false(f.t.broken);
	/* CopyData from the server after its own CopyDone is out of step */
	run(&f, ">Q <W <c <dx");
	assert_true(f.t.broken);
}

static void test_copy_in_over_extended_protocol(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	/* Execute, Sync sent together; the server ignores that Sync in copy-in */
	run(&f, ">P >B >E >S <1 <2 <G");
	assert_int_equal(f.t.rfq_owed, 0);
	run(&f, ">d >S? >c >S <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	assert_false(f.t.broken);
}

static void test_async_messages_anywhere(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, "<N <S <A >Q <N <T <S <D <A <C <N <Z:I <S <N");
	assert_true(lp_track_releasable(&f.t));
	run(&f, ">P >B <N >E >S <1 <S <2 <A <C <N <Z:I");
	assert_true(lp_track_releasable(&f.t));
}

static void test_fatal_mid_pipeline(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">P >B >E >S >P >B >E >S <1 <2 <E");
	/* The error ended the first batch; the server closes next, and
	 * nothing here may say the link is free. */
	assert_false(lp_track_releasable(&f.t));
	assert_int_equal(f.t.rfq_owed, 2);
}

static void test_unsolicited_error_and_unasked_ready(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, "<E");
	assert_true(f.t.broken);
	assert_false(lp_track_releasable(&f.t));
	setup_cap(&f, 64);
	run(&f, "<Zx");
	assert_true(f.t.broken);
	setup_cap(&f, 64);
	run(&f, ">P <2x");
	assert_true(f.t.broken);
}

static void test_swallow_injected_parse(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">P! >B >E >S <1- <2 <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* an injected Parse that fails: its error is the client's answer */
	run(&f, ">P! >B >E >S <E <Z:I");
	assert_int_equal(f.oc.by_kind_failed[LP_TRK_PARSE], 1);
	assert_int_equal(f.oc.by_kind_skipped[LP_TRK_BIND], 1);
	assert_true(lp_track_releasable(&f.t));
}

static void test_synthetic_answers_in_order(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	/* nothing outstanding: due at once */
	run(&f, ">C:S~ $ >S <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* behind a Bind and Execute: due after CommandComplete */
	run(&f, ">B >E >C:S~ >S <2");
	assert_false(lp_track_synth_ready(&f.t, NULL));
	run(&f, "<C $ <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* an answer from the server for a request it never saw */
	run(&f, ">C:S~ <3x");
	assert_true(f.t.broken);
}

static void test_error_skips_synthetic_and_later_sends(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">B >C:S~ >S <E");
	assert_false(lp_track_synth_ready(&f.t, NULL));
	assert_int_equal(f.oc.by_kind_skipped[LP_TRK_CLOSE], 1);
	run(&f, "<Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* the error comes back before the client's Sync: what it sends until
	 * then is discarded by the server and owes nothing */
	run(&f, ">P >H <E >B? >E? >Q? >S <Z:I");
	assert_true(lp_track_releasable(&f.t));
}

static void test_ring_full_then_grown(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 4);
	run(&f, ">P >B >E >S >P#");
	struct lp_trk_req bigger[8];
	/* answers drain it too */
	run(&f, "<1 >P");
	lp_track_grow(&f.t, bigger, 8);
	run(&f, ">B >E >S <2 <C <Z:I <1 <2 <C <Z:I");
	assert_true(lp_track_releasable(&f.t));
}

static void test_function_call_and_failed_commit_at_sync(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">F <V <Z:I");
	assert_true(lp_track_releasable(&f.t));
	run(&f, ">F <E <Z:I");
	assert_true(lp_track_releasable(&f.t));
	/* a deferred constraint fails at the implicit commit of Sync */
	run(&f, ">P >B >E >S <1 <2 <C <E <Z:I");
	assert_int_equal(f.oc.by_kind_failed[LP_TRK_SYNC], 1);
	assert_true(lp_track_releasable(&f.t));
}

static void test_reset_keeps_storage(void **state)
{
	(void)state;
	struct fixture f;
	setup_cap(&f, 64);
	run(&f, ">Q <C <Z:T >P");
	lp_track_reset(&f.t, 'I');
	assert_true(lp_track_releasable(&f.t));
	assert_ptr_equal(f.t.ring, f.ring);
	assert_ptr_equal(f.t.arg, &f.oc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_query),
		cmocka_unit_test(test_multi_statement_query_with_error),
		cmocka_unit_test(test_empty_query),
		cmocka_unit_test(test_pipeline_error_in_second_of_three_batches),
		cmocka_unit_test(test_flush_without_sync_keeps_the_link),
		cmocka_unit_test(test_describe_statement_and_portal),
		cmocka_unit_test(test_copy_in_out_and_fail),
		cmocka_unit_test(test_copy_both),
		cmocka_unit_test(test_copy_in_over_extended_protocol),
		cmocka_unit_test(test_async_messages_anywhere),
		cmocka_unit_test(test_fatal_mid_pipeline),
		cmocka_unit_test(test_unsolicited_error_and_unasked_ready),
		cmocka_unit_test(test_swallow_injected_parse),
		cmocka_unit_test(test_synthetic_answers_in_order),
		cmocka_unit_test(test_error_skips_synthetic_and_later_sends),
		cmocka_unit_test(test_ring_full_then_grown),
		cmocka_unit_test(test_function_call_and_failed_commit_at_sync),
		cmocka_unit_test(test_reset_keeps_storage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
