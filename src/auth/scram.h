/*
 * SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL speaks it, both sides:
 * - server side: linkpool authenticating a client against a stored verifier
 *   or plain password;
 * - client side: linkpool authenticating to PostgreSQL with a plain password
 *   or, for pass-through, with the ClientKey recovered from the client's own
 *   proof plus the ServerKey of the stored verifier.
 * Every message from the peer is parsed with its lengths checked; a
 * malformed one is an error, never a crash. Keys never reach a log.
 */
#ifndef LP_AUTH_SCRAM_H
#define LP_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_SCRAM_KEY_LEN 32
#define LP_SCRAM_MAX_SALT 128
#define LP_SCRAM_NONCE_MAX 128           /* longer peer nonces are refused */
#define LP_SCRAM_MSG_MAX 1024            /* bound of any SCRAM message we keep */
#define LP_SCRAM_DEFAULT_ITER 4096
#define LP_SCRAM_CBIND_MAX 64             /* a SHA-512 hash */

/* A parsed "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>". */
struct lp_scram_secret {
	int iterations;
	uint8_t salt[LP_SCRAM_MAX_SALT];
	size_t salt_len;
	uint8_t stored_key[LP_SCRAM_KEY_LEN];
	uint8_t server_key[LP_SCRAM_KEY_LEN];
};

bool lp_scram_is_secret(const char *s);
bool lp_scram_parse_secret(const char *s, struct lp_scram_secret *out);
/* Derives a secret from a plain password (no SASLprep: ASCII passwords are
 * unaffected; others are used as raw bytes, as PostgreSQL does when SASLprep
 * fails). */
bool lp_scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
				   int iterations, struct lp_scram_secret *out);
/* Writes a verifier string with a random 16-byte salt; false if cap too small. */
bool lp_scram_make_verifier(const char *password, int iterations, char *out, size_t cap);

/* ---- server side ---- */
struct lp_scram_server {
	int state;                        /* 0 init, 1 sent server-first, 2 done */
	struct lp_scram_secret secret;
	char client_nonce[LP_SCRAM_NONCE_MAX + 1];
	char server_nonce[64];
	char client_first_bare[LP_SCRAM_MSG_MAX];
	char server_first[LP_SCRAM_MSG_MAX];
	char gs2_header[64];
	uint8_t client_key[LP_SCRAM_KEY_LEN];   /* recovered on success */
	bool have_client_key;
	/* channel binding (tls-server-end-point), set before server_first */
	bool cbind_offered;               /* SCRAM-SHA-256-PLUS was offered */
	bool cbind_selected;              /* and the client chose it */
	uint8_t cbind_data[LP_SCRAM_CBIND_MAX];
	size_t cbind_len;
};

/*
 * Declares what the connection offers before lp_scram_server_first():
 * offered when the transport can bind (TLS), selected when the client picked
 * SCRAM-SHA-256-PLUS, data the tls-server-end-point hash. With selected the
 * client must send "p=tls-server-end-point" and prove the same data; with
 * offered but not selected a client claiming "y" (thinks we cannot bind) is
 * refused as a downgrade. false when len is too large.
 */
bool lp_scram_server_set_channel_binding(struct lp_scram_server *s, bool offered, bool selected,
					 const uint8_t *data, size_t len);

/*
 * Handles client-first-message; writes server-first-message into out.
 * secret is copied. The gs2 header must fit what
 * lp_scram_server_set_channel_binding() declared (default: no binding, 'n'
 * and 'y' accepted, 'p' refused). Returns 0 or -1 with *err.
 */
int lp_scram_server_first(struct lp_scram_server *s, const struct lp_scram_secret *secret,
			  const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len,
			  const char **err);
/*
 * Handles client-final-message; on a valid proof writes server-final ("v=...")
 * into out, sets client_key and returns 0. Wrong proof: -1 with
 * *err = "password authentication failed"; malformed: -1 with another *err.
 */
int lp_scram_server_final(struct lp_scram_server *s, const uint8_t *msg, size_t len,
			  char *out, size_t cap, size_t *out_len, const char **err);

/* ---- client side ---- */
struct lp_scram_client {
	int state;
	char client_nonce[32];
	char client_first_bare[LP_SCRAM_MSG_MAX];
	char server_first[LP_SCRAM_MSG_MAX];
	uint8_t server_key[LP_SCRAM_KEY_LEN];
	char expected_server_sig[64];
};

/* Writes client-first-message ("n,,n=,r=<nonce>"). */
int lp_scram_client_first(struct lp_scram_client *c, char *out, size_t cap, size_t *out_len);
/*
 * Handles server-first-message; writes client-final-message. Either password
 * (plain) is non-NULL, or both client_key and secret are (pass-through: the
 * server's salt and iteration count must equal the secret's, else err).
 * Refuses nonces that do not start with ours or exceed LP_SCRAM_NONCE_MAX,
 * iteration counts < 1 or > 10,000,000, missing fields.
 */
int lp_scram_client_final(struct lp_scram_client *c, const char *password,
			  const uint8_t *client_key, const struct lp_scram_secret *secret,
			  const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len,
			  const char **err);
/* Checks server-final-message ("v=..."); "e=..." or a mismatch: -1. */
int lp_scram_client_verify(struct lp_scram_client *c, const uint8_t *msg, size_t len,
			   const char **err);

#endif
