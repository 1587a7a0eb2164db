/*
 * Instructions per call of the prepared-statement command lexer
 * (src/proto/sqlcmd.c), counted by callgrind: see bench/sqlcmd_cost.sh.
 * Each case runs CALLS times inside its own function so that callgrind's
 * inclusive count per function divided by CALLS is the cost of one Query.
 */
#include <stdio.h>
#include <string.h>

#include "proto/sqlcmd.h"

#define CALLS 100000

static volatile size_t sink;

static const char q_select[] = "SELECT abalance FROM pgbench_accounts WHERE aid = 1";
static const char q_select_semi[] = "SELECT abalance FROM pgbench_accounts WHERE aid = 1;";
static const char q_prepare[] =
	"PREPARE fetch_account(int) AS SELECT abalance FROM pgbench_accounts WHERE aid = $1";
static const char q_execute[] = "EXECUTE fetch_account(1)";

/* The hot path: every simple Query in transaction mode. */
__attribute__((noinline)) static void candidate_select(void)
{
	for (int i = 0; i < CALLS; i++)
		sink += lp_sqlcmd_candidate(q_select, sizeof(q_select) - 1);
}

/* What the pooler does for a text that is a candidate: iterate. */
__attribute__((noinline)) static void scan(const char *q, size_t len)
{
	struct lp_sqlcmd s;
	struct lp_sqlcmd_stmt st;

	for (int i = 0; i < CALLS; i++) {
		if (!lp_sqlcmd_candidate(q, len))
			continue;
		lp_sqlcmd_init(&s, q, len, 0);
		while (lp_sqlcmd_next(&s, &st))
			sink += st.kind;
	}
}

__attribute__((noinline)) static void scan_select_semi(void)
{
	scan(q_select_semi, sizeof(q_select_semi) - 1);
}

__attribute__((noinline)) static void scan_prepare(void)
{
	scan(q_prepare, sizeof(q_prepare) - 1);
}

__attribute__((noinline)) static void scan_execute(void)
{
	scan(q_execute, sizeof(q_execute) - 1);
}

int main(void)
{
	candidate_select();
	scan_select_semi();
	scan_prepare();
	scan_execute();
	printf("%d calls each\n", CALLS);
	return 0;
}
