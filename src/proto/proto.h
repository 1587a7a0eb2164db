/*
 * PostgreSQL v3 wire codec: bytes in, structs out; structs in, bytes out.
 *
 * Pure functions -- no sockets, no globals, no allocation -- so that every
 * parser here is unit-tested and fuzzed. Every length word is checked
 * against the bytes held and a caller-supplied maximum before a body is
 * looked at. Parsed strings point into the caller's buffer.
 */
#ifndef LP_PROTO_H
#define LP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_PROTO_HDR_LEN 5                /* type byte + int32 length */
#define LP_PROTO_V3 196608u               /* 3 << 16 */
#define LP_PROTO_CANCEL_CODE 80877102u
#define LP_PROTO_SSL_CODE 80877103u
#define LP_PROTO_GSSENC_CODE 80877104u
#define LP_STARTUP_MAX_LEN 10000u         /* as PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define LP_STARTUP_MAX_PARAMS 64

enum lp_proto_rc {
	LP_PROTO_OK = 0,
	LP_PROTO_INCOMPLETE = 1,          /* need more bytes */
	LP_PROTO_ERROR = -1,              /* malformed; *err says why */
};

/* ---- startup phase (no type byte) ---- */

enum lp_startup_kind {
	LP_STARTUP_NORMAL,
	LP_STARTUP_SSL,
	LP_STARTUP_GSSENC,
	LP_STARTUP_CANCEL,
};

struct lp_startup_param {
	const char *name;                 /* NUL-terminated, inside the buffer */
	const char *value;
};

struct lp_startup {
	enum lp_startup_kind kind;
	uint32_t version;                 /* NORMAL: requested protocol version */
	uint32_t cancel_pid, cancel_key;  /* CANCEL */
	int nparams;
	struct lp_startup_param params[LP_STARTUP_MAX_PARAMS];
	const char *user, *database;      /* shortcuts into params; NULL if absent */
};

/*
 * Parses the first packet of a connection from buf[0..len).
 * OK: *pkt_len = whole packet length, out filled.
 * INCOMPLETE: fewer bytes than the length word says (or < 8 held); once the
 * length word is held and valid, *pkt_len is the length it announces (else 0).
 * ERROR: bad length (< 8 or > LP_STARTUP_MAX_LEN), unknown code with a major
 * version other than 3, unterminated/missing name-value list, too many
 * parameters, empty parameter name, wrong length for SSL/GSSENC/cancel.
 * A NORMAL packet with major 3 and any minor is OK (caller negotiates).
 */
int lp_startup_parse(const uint8_t *buf, size_t len, struct lp_startup *out,
		     size_t *pkt_len, const char **err);

/* Finds a startup parameter by exact name; NULL when absent. */
const char *lp_startup_get(const struct lp_startup *s, const char *name);

/* What the "replication" startup parameter asks for (PostgreSQL's walsender
 * modes): nothing, logical ("database") or physical (a true boolean). */
enum lp_repl { LP_REPL_NONE, LP_REPL_LOGICAL, LP_REPL_PHYSICAL };

/*
 * Reads the value of the "replication" startup parameter as PostgreSQL
 * does: "database" (logical), or a boolean -- true, on, yes, 1 (physical);
 * false, off, no, 0 (none) -- case-insensitive. -1 for anything else.
 */
int lp_startup_replication(const char *value, enum lp_repl *out);
/* "none", "logical" or "physical": the SHOW CLIENTS / SERVERS spelling. */
const char *lp_repl_name(enum lp_repl r);

/*
 * The next item of the "options" startup parameter, read as PgBouncer reads
 * it: "-c name=value" or "--name=value", items apart by white space, a
 * backslash taking the next character literally (an escaped space stays in
 * the value). *pos walks the text; out (room for strlen(*pos) + 1 bytes)
 * receives the unescaped item, and *name / *value point into it.
 * OK: an item; INCOMPLETE: no more items (only white space was left);
 * ERROR: anything else (*err says what is allowed).
 */
int lp_startup_option_next(const char **pos, char *out, const char **name, const char **value,
			   const char **err);

/* ---- regular messages ---- */

struct lp_msg_hdr {
	uint8_t type;
	uint32_t len;                     /* the length word: body + 4 */
};

/*
 * Reads a message header from buf (needs LP_PROTO_HDR_LEN bytes, else
 * INCOMPLETE). ERROR when len < 4 or len > max_len.
 */
int lp_msg_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_len,
		     struct lp_msg_hdr *out, const char **err);

/*
 * Per-type length limits, checked after lp_msg_hdr_parse() and before any
 * byte of the body is looked at or forwarded (PostgreSQL's habit: a peer
 * that gets a type's length wrong has lost the framing and is not trusted).
 */
#define LP_PROTO_SMALL_MSG_MAX 10000u     /* PostgreSQL's PQ_SMALL_MESSAGE_LIMIT */

/*
 * A frontend message after login: ERROR for a type no client sends, or a
 * length word over what PostgreSQL would accept for that type (fixed-size
 * messages must be exact, small ones at most LP_PROTO_SMALL_MSG_MAX, large
 * ones at most max_len).
 */
int lp_msg_check_frontend(const struct lp_msg_hdr *h, uint32_t max_len, const char **err);

/*
 * A backend message once the server has logged in: ERROR for a type a
 * logged-in server never sends (authentication, key data, unknown bytes) or
 * a length word that cannot be right for the type (fixed-size messages must
 * be exact, everything else at most max_len).
 */
int lp_msg_check_backend(const struct lp_msg_hdr *h, uint32_t max_len, const char **err);

/* Bounds-checked reader over one message body. Once a read fails, ->err
 * stays set and every later read returns zero / NULL. */
struct lp_reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool err;
};

void lp_rd_init(struct lp_reader *r, const uint8_t *body, size_t len);
uint8_t lp_rd_u8(struct lp_reader *r);
int16_t lp_rd_i16(struct lp_reader *r);
int32_t lp_rd_i32(struct lp_reader *r);
/* A NUL-terminated string inside the body; NULL if unterminated. */
const char *lp_rd_cstr(struct lp_reader *r);
/* n raw bytes; NULL if fewer remain (or n < 0). */
const uint8_t *lp_rd_bytes(struct lp_reader *r, int32_t n);
size_t lp_rd_remaining(const struct lp_reader *r);

/* ErrorResponse / NoticeResponse fields we care about (others skipped). */
struct lp_err_fields {
	const char *severity;             /* 'S' (localized) */
	const char *severity_nl;          /* 'V' */
	const char *sqlstate;             /* 'C' -- may be NULL on a hostile server */
	const char *message;              /* 'M' */
	const char *detail;               /* 'D' */
	const char *hint;                 /* 'H' */
};
int lp_msg_parse_error(const uint8_t *body, size_t len, struct lp_err_fields *out, const char **err);

/* ParameterStatus 'S': name, value. */
int lp_msg_parse_param_status(const uint8_t *body, size_t len, const char **name,
			      const char **value, const char **err);

/* BackendKeyData 'K'. */
int lp_msg_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid,
			     uint32_t *key, const char **err);

/* ReadyForQuery 'Z': status byte 'I', 'T' or 'E'. */
int lp_msg_parse_rfq(const uint8_t *body, size_t len, char *status, const char **err);

/* Authentication 'R': code, and the bytes after it (salt, SASL data...). */
int lp_msg_parse_auth(const uint8_t *body, size_t len, int32_t *code,
		      const uint8_t **data, size_t *data_len, const char **err);

/*
 * SASL mechanisms list in an AuthenticationSASL body tail (after the code):
 * sets *has_scram when "SCRAM-SHA-256" is offered.
 */
int lp_msg_parse_sasl_mechs(const uint8_t *data, size_t len, bool *has_scram,
			    bool *has_scram_plus, const char **err);

/*
 * Client's PasswordMessage family 'p' as SASLInitialResponse:
 * mechanism name, then int32 length (-1 = none), then data.
 */
int lp_msg_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			      const uint8_t **data, size_t *data_len, const char **err);

/* 'p' as a plain/md5 password: one NUL-terminated string filling the body. */
int lp_msg_parse_password(const uint8_t *body, size_t len, const char **password,
			  const char **err);

/* ---- message building ---- */

/*
 * Builder into a caller-owned fixed buffer. On overflow ->overflow is set and
 * nothing more is written; the caller checks it once at the end.
 */
struct lp_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t msg_start;
	bool overflow;
};

void lp_wr_init(struct lp_writer *w, uint8_t *buf, size_t cap);
/* Starts a message; type 0 means none (startup-phase packets). */
void lp_wr_begin(struct lp_writer *w, uint8_t type);
void lp_wr_u8(struct lp_writer *w, uint8_t v);
void lp_wr_i16(struct lp_writer *w, int16_t v);
void lp_wr_i32(struct lp_writer *w, int32_t v);
void lp_wr_cstr(struct lp_writer *w, const char *s);     /* with its NUL */
void lp_wr_bytes(struct lp_writer *w, const void *p, size_t n);
/* Patches the length word of the message begun last. */
void lp_wr_end(struct lp_writer *w);

/* Whole messages, each appended to w. */
void lp_build_error(struct lp_writer *w, const char *severity, const char *sqlstate,
		    const char *message);                 /* 'E' with S, V, C, M */
void lp_build_notice(struct lp_writer *w, const char *severity, const char *sqlstate,
		     const char *message);                /* 'N' */
void lp_build_param_status(struct lp_writer *w, const char *name, const char *value);
void lp_build_backend_key(struct lp_writer *w, uint32_t pid, uint32_t key);
void lp_build_rfq(struct lp_writer *w, char status);
void lp_build_auth(struct lp_writer *w, int32_t code, const void *data, size_t len);
/* AuthenticationSASL listing SCRAM-SHA-256 (and -PLUS when plus). */
void lp_build_auth_sasl(struct lp_writer *w, bool plus);
void lp_build_negotiate_version(struct lp_writer *w, uint32_t newest_minor,
				const char *const *unknown_opts, int nopts);
void lp_build_query(struct lp_writer *w, const char *sql);
void lp_build_terminate(struct lp_writer *w);
void lp_build_password(struct lp_writer *w, const char *password);
void lp_build_sasl_initial(struct lp_writer *w, const char *mech, const void *data, size_t len);
void lp_build_sasl_response(struct lp_writer *w, const void *data, size_t len);
/* StartupMessage v3.0 with the given name/value pairs. */
void lp_build_startup(struct lp_writer *w, const char *const *names,
		      const char *const *values, int n);
void lp_build_cancel(struct lp_writer *w, uint32_t pid, uint32_t key);
/* Admin console result sets. */
void lp_build_row_description(struct lp_writer *w, const char *const *names,
			      const uint32_t *type_oids, int n);
void lp_build_data_row(struct lp_writer *w, const char *const *values, int n); /* NULL value = SQL NULL */
void lp_build_command_complete(struct lp_writer *w, const char *tag);

#endif
