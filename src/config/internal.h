/*
 * Shared between the files of src/config only (the parser, the option
 * codecs and the doc writer); nothing outside src/config includes this.
 */
#ifndef LP_CONFIG_INTERNAL_H
#define LP_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* A parsed option value: i for every numeric/enum type, s (malloc'd,
 * owned by whoever holds the union) for LP_OPT_STR. */
union lp_optval {
	int64_t i;
	char *s;
};

/* Parses text for option o. Returns 0, or -1 with a reason in why. */
int lp_config_value_parse(const struct lp_option *o, const char *text, union lp_optval *v,
			  char *why, size_t whycap);
/* Stores v into s, taking ownership of v.s and freeing the old string. */
void lp_config_value_store(struct lp_settings *s, const struct lp_option *o, union lp_optval v);
/* Stores v into s without freeing what was there (a shallow preview). */
void lp_config_value_put(struct lp_settings *s, const struct lp_option *o, union lp_optval v);
/* Frees every string of the [pgbouncer] settings and NULLs them. */
void lp_config_settings_free(struct lp_settings *s);

int lp_config_parse_int(const char *text, int64_t min, int64_t max, int64_t *out, char *why,
			size_t whycap);
int lp_config_parse_pool_mode(const char *text, int64_t *out, char *why, size_t whycap);

/* Human-readable type name for docs, e.g. "time (s)". */
const char *lp_config_type_doc(enum lp_opt_type t);

/* Keys of the libpq-style strings in [databases] and [users]. */
/* TIME: seconds like the TIME options, stored as lp_usec; LB: load_balance_hosts;
 * TSA: target_session_attrs. */
enum lp_ckey_type { LP_CKEY_STR, LP_CKEY_INT, LP_CKEY_POOL_MODE, LP_CKEY_TIME, LP_CKEY_LB, LP_CKEY_TSA };

struct lp_conn_key {
	const char *name;
	enum lp_ckey_type type;
	size_t offset;                  /* into struct lp_db_conf or lp_user_conf */
	int min, max;                   /* LP_CKEY_INT bounds; LP_CKEY_TIME in seconds */
	const char *doc;
};

const struct lp_conn_key *lp_config_db_keys(size_t *n);
const struct lp_conn_key *lp_config_user_keys(size_t *n);
const struct lp_conn_key *lp_config_peer_keys(size_t *n);

/* A duration as the TIME options read it, bounds in seconds, result in µs. */
int lp_config_parse_seconds(const char *text, int64_t min_s, int64_t max_s, int64_t *out_us,
			    char *why, size_t whycap);
int lp_config_parse_load_balance(const char *text, int64_t *out, char *why, size_t whycap);
int lp_config_parse_tsa(const char *text, int64_t *out, char *why, size_t whycap);
int lp_config_check_host_list(const char *list, char *why, size_t whycap);

#endif
