/*
 * The takeover record: what a new linkpool process must know of one socket
 * to carry on with it after an online restart (-R). The running process
 * sends one per socket in SHOW FDS's linkpool_state column, next to
 * PgBouncer's columns, while the descriptor itself travels as SCM_RIGHTS.
 *
 * A flat list of fields, each (tag u8, length u32, value); integers are big
 * endian, strings NUL-terminated. Unknown tags are skipped, so a newer
 * process reads an older one's records; a known tag with the wrong length,
 * a string without its NUL or with one inside, a repeated field, too many
 * parameters or a truncated field is refused. Pure: no allocation, no
 * sockets; decoded strings point into the caller's buffer. Fuzzed.
 */
#ifndef LP_PROTO_HANDOFF_H
#define LP_PROTO_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

#define LP_HO_MAX_PARAMS 64
#define LP_HO_MAX_REQS 16384           /* a server's request ring at most (pool.h) */
#define LP_HO_REQ_LEN 8                /* kind, action, stage, sub, tag (u32) */

enum lp_ho_kind {
	LP_HO_LISTENER = 'l',
	LP_HO_CLIENT = 'c',
	LP_HO_SERVER = 's',
};

#define LP_HO_F_SCRAM_AUTH 0x1u        /* client logged in with SCRAM */
#define LP_HO_F_CLOSE_NEEDED 0x2u      /* server: close at its next release */

struct lp_ho_param {
	const char *name, *value;
};

struct lp_handoff {
	uint8_t kind;                   /* enum lp_ho_kind; 0: absent */
	uint64_t id;                    /* C-<id> / S-<id> */
	const char *db, *user;          /* client: its login names; server: its pool's */
	const char *pool_user;          /* client: the user its servers log in as */
	const char *path;               /* unix listener: the socket file */
	uint8_t addr_family;            /* client's peer: AF_INET, AF_INET6, AF_UNIX */
	uint8_t addr_ip[16];
	uint16_t port;
	uint32_t key_pid, key_secret;   /* client: its cancel key; server: BackendKeyData */
	/* Ages at the moment of the hand-over, in µs, plus one: 0 means no
	 * such moment (no request running, no transaction open). */
	int64_t connect_age_us, active_age_us, request_age_us, xact_age_us;
	int64_t lifetime_us;            /* server: its own lifetime (with jitter) */
	uint32_t flags;                 /* LP_HO_F_* */
	char last_rfq;                  /* client: the last transaction status it saw */
	int nparams;                    /* client: values it set; server: what it holds */
	struct lp_ho_param params[LP_HO_MAX_PARAMS];
	int nwelcome;                   /* server: its pool's welcome (new clients' values) */
	struct lp_ho_param welcome[LP_HO_MAX_PARAMS];
	/* server: the conversation tracker (proto/track.h), its requests in
	 * ring order, LP_HO_REQ_LEN bytes each */
	bool have_track;
	char trk_tx;
	uint8_t trk_copy;
	bool trk_copy_in_fe, trk_batch_open, trk_fe_skip;
	uint32_t nreqs;
	const uint8_t *reqs;
};

/* Bytes lp_handoff_encode writes for h. */
size_t lp_handoff_encoded_len(const struct lp_handoff *h);
/* Appends h to w (the caller sized it with lp_handoff_encoded_len). */
void lp_handoff_encode(struct lp_writer *w, const struct lp_handoff *h);
/* Parses buf[0..len) into out. LP_PROTO_OK, or LP_PROTO_ERROR with *err. */
int lp_handoff_decode(const uint8_t *buf, size_t len, struct lp_handoff *out, const char **err);

/* PostgreSQL's bytea hex text ("\x" then two digits a byte), for the
 * console's columns: lp_hex_encode writes 2 + 2 * len bytes and a NUL;
 * lp_hex_decode returns the bytes written to out (at most cap), or -1. */
void lp_hex_encode(const uint8_t *in, size_t len, char *out);
long lp_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t cap);

#endif
