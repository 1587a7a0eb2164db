/*
 * Result sets for the admin console: a column table in, RowDescription +
 * DataRows + CommandComplete + ReadyForQuery out, built whole in a growing
 * buffer and then queued on the client's socket in one piece.
 *
 * Every SHOW command declares its columns once, as a static table of
 * struct lp_col; rows are appended value by value with the function that
 * matches the column's type, and a row with the wrong number or type of
 * values fails the whole result (an internal error, never a malformed row).
 */
#ifndef LP_ADMIN_RESULT_H
#define LP_ADMIN_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lp_client;

/* Column types with the PostgreSQL type each is described as. */
enum lp_col_type {
	LP_COL_TEXT,            /* text (25) */
	LP_COL_INT4,            /* int4 (23) */
	LP_COL_INT8,            /* int8 (20) */
	LP_COL_NUMERIC,         /* numeric (1700): PgBouncer's unsigned 64-bit counters */
	LP_COL_TIME,            /* text (25) holding "YYYY-MM-DD HH:MM:SS UTC" */
	LP_COL_BYTEA,           /* bytea (17) */
};

struct lp_col {
	const char *name;
	enum lp_col_type type;
};

#define LP_NCOLS(t) ((int)(sizeof(t) / sizeof((t)[0])))

struct lp_result {
	uint8_t *buf;
	size_t len, cap;
	size_t msg_start;
	const struct lp_col *cols;
	int ncols;
	int col;                /* next column of the row being built */
	int nrows;
	bool failed;            /* out of memory or a row that does not fit the table */
};

/* Starts a result with its RowDescription. */
void lp_result_begin(struct lp_result *r, const struct lp_col *cols, int ncols);
void lp_row_begin(struct lp_result *r);
void lp_row_text(struct lp_result *r, const char *v);          /* NULL: SQL NULL */
void lp_row_int(struct lp_result *r, int64_t v);               /* INT4 / INT8 */
void lp_row_u64(struct lp_result *r, uint64_t v);              /* NUMERIC */
void lp_row_time(struct lp_result *r, int64_t mono_us);        /* TIME; 0: NULL */
void lp_row_null(struct lp_result *r);
void lp_row_end(struct lp_result *r);
/* Appends CommandComplete(tag) + ReadyForQuery; false when the result failed
 * (the caller sends r->buf[0..len) itself, then lp_result_cleanup). */
bool lp_result_finish(struct lp_result *r, const char *tag);
/* Appends CommandComplete(tag) + ReadyForQuery, queues it all on c and frees
 * the buffer. On a failed result c gets an ErrorResponse instead. */
void lp_result_send(struct lp_result *r, struct lp_client *c, const char *tag);
void lp_result_cleanup(struct lp_result *r);

/* Wall-clock text for a CLOCK_MONOTONIC timestamp (as lp_now_us() gives). */
void lp_admin_format_time(int64_t mono_us, char *out, size_t cap);

#endif
