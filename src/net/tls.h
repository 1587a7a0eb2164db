/*
 * TLS for lp_io connections (OpenSSL 3): contexts built from certificate
 * files, the non-blocking handshake, and the TLS transport that lp_io uses
 * afterwards. The only place besides tls.c that knows about OpenSSL's SSL
 * objects is nothing: callers see struct lp_tls_ctx and lp_io.
 *
 * Output goes through a memory BIO that io.c drains to the socket, so a
 * write never has to be retried with the same bytes (OpenSSL's rule for
 * non-blocking SSL_write), and backpressure works as for plain sockets: the
 * transport refuses new plaintext while ciphertext is still queued.
 */
#ifndef LP_NET_TLS_H
#define LP_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/io.h"

struct lp_tls_ctx;

/* What a context is built from. Empty or NULL strings mean "not set". */
struct lp_tls_params {
	const char *ca_file;            /* trust anchors for the peer's certificate */
	const char *cert_file;          /* our certificate (chain), PEM */
	const char *key_file;           /* its private key, PEM */
	const char *protocols;          /* "secure" (default), "all", "legacy", or tlsv1.x list */
	const char *ciphers;            /* OpenSSL cipher list; "default"/"fast"/"normal"/"secure" */
	const char *tls13_ciphers;      /* TLS 1.3 suites (SSL_CTX_set_ciphersuites); empty: default */
	const char *ecdhcurve;          /* groups: "auto"/empty (default), "none", or a group list */
	const char *dheparams;          /* "auto"/empty, "legacy" or "none" (no DHE) */
	bool verify_peer;               /* check the peer's certificate against ca_file */
	bool require_peer_cert;         /* accepting side: a client certificate is mandatory */
};

/*
 * Builds a context: accept=true for the listening side (needs cert and
 * key), false for connecting to servers. Reads the files now -- never later,
 * so the event loop does no file I/O. Returns NULL with a reason in err.
 */
struct lp_tls_ctx *lp_tls_ctx_new(bool accept, const struct lp_tls_params *p, char *err,
				  size_t errcap);
void lp_tls_ctx_free(struct lp_tls_ctx *ctx);
/* true when the accepting context asks clients for a certificate. */
bool lp_tls_ctx_wants_peer_cert(const struct lp_tls_ctx *ctx);

/*
 * Starts a handshake on io (its plaintext buffer and queue must be empty:
 * nothing read before the handshake may be taken as part of it). The
 * handshake drives io's events until done(io, err) is called once; err is
 * NULL on success, after which reads and writes are encrypted. Returns -1
 * with err filled when it cannot start (done is then not called).
 * verify_host (connect only) is checked against the certificate's names
 * (DNS or IP address); NULL skips the check. sni is sent when it is a name.
 */
int lp_io_tls_accept(struct lp_io *io, struct lp_tls_ctx *ctx, lp_io_tls_cb done, char *err,
		     size_t errcap);
int lp_io_tls_connect(struct lp_io *io, struct lp_tls_ctx *ctx, const char *sni,
		      const char *verify_host, lp_io_tls_cb done, char *err, size_t errcap);

/* Called by io.c when an event arrives during a handshake. */
void lp_tls_handshake_step(struct lp_io *io);

bool lp_io_is_tls(const struct lp_io *io);
/* "TLSv1.3" etc., or "" for plain connections. */
const char *lp_io_tls_version(const struct lp_io *io);
/* true when the client chose ALPN "postgresql" (PostgreSQL 17's direct TLS
 * requires it; the accepting side refuses any other protocol offered). */
bool lp_io_tls_alpn_postgresql(const struct lp_io *io);
/*
 * The peer's certificate Common Name when the peer presented a certificate
 * that verified. Returns false when there is none (or it did not verify).
 */
bool lp_io_tls_peer_cn(const struct lp_io *io, char *out, size_t cap);
/*
 * Channel binding data "tls-server-end-point" (RFC 5929) for our own
 * certificate: its hash with the certificate's signature digest (SHA-256
 * for MD5/SHA-1). Returns false when it cannot be computed.
 */
bool lp_io_tls_server_end_point(const struct lp_io *io, uint8_t *out, size_t cap,
				size_t *out_len);

#endif
