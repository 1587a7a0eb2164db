/* TLS contexts, handshakes and the TLS transport; see tls.h. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_WRITE_CHUNK 16384           /* one record of plaintext per write */

struct lp_tls_ctx {
	SSL_CTX *ctx;
	bool wants_peer_cert;
};

static void ssl_err(char *err, size_t cap, const char *what, const char *file)
{
	char reason[256];
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "unknown error");
	ERR_clear_error();
	if (file)
		snprintf(err, cap, "%s \"%s\": %s", what, file, reason);
	else
		snprintf(err, cap, "%s: %s", what, reason);
}

static bool set(const char *s)
{
	return s && s[0];
}

/* "secure" / "all" / "legacy" / "default" / list of tlsv1.x -> min and max. */
static int parse_protocols(const char *text, int *minv, int *maxv, char *err, size_t cap)
{
	static const struct {
		const char *name;
		int lo, hi;
	} names[] = {
		{ "all", TLS1_VERSION, TLS1_3_VERSION },    { "legacy", TLS1_VERSION, TLS1_3_VERSION },
		{ "secure", TLS1_2_VERSION, TLS1_3_VERSION }, { "default", TLS1_2_VERSION, TLS1_3_VERSION },
		{ "tlsv1", TLS1_VERSION, TLS1_VERSION },    { "tlsv1.0", TLS1_VERSION, TLS1_VERSION },
		{ "tlsv1.1", TLS1_1_VERSION, TLS1_1_VERSION }, { "tlsv1.2", TLS1_2_VERSION, TLS1_2_VERSION },
		{ "tlsv1.3", TLS1_3_VERSION, TLS1_3_VERSION },
	};
	const char *p = set(text) ? text : "secure";
	int lo = INT_MAX, hi = 0;

	while (*p) {
		size_t n;
		bool found = false;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strlen(names[i].name) == n && strncasecmp(p, names[i].name, n) == 0) {
				lo = names[i].lo < lo ? names[i].lo : lo;
				hi = names[i].hi > hi ? names[i].hi : hi;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, cap, "unknown TLS protocol \"%.*s\" (use secure, all, legacy or tlsv1.0 .. tlsv1.3)",
				 (int)(n > 40 ? 40 : n), p);
			return -1;
		}
		p += n;
	}
	if (hi == 0) {
		snprintf(err, cap, "no TLS protocol enabled");
		return -1;
	}
	*minv = lo;
	*maxv = hi;
	return 0;
}

/* PgBouncer's cipher shortcuts; anything else is an OpenSSL cipher list. */
static const char *cipher_list(const char *text)
{
	if (!set(text) || strcasecmp(text, "default") == 0)
		return NULL;
	if (strcasecmp(text, "secure") == 0 || strcasecmp(text, "normal") == 0 ||
	    strcasecmp(text, "fast") == 0)
		return "HIGH:!aNULL:!MD5:!3DES";
	if (strcasecmp(text, "all") == 0)
		return "ALL:!aNULL";
	return text;
}

/*
 * Key exchange groups (client_tls_ecdhcurve, client_tls_dheparams, as in
 * PgBouncer): "auto" keeps OpenSSL's groups; a curve list replaces them;
 * "none" leaves the finite-field groups only (TLS 1.3 needs some group).
 * DHE for TLS 1.2 follows the key size ("auto", and "legacy", which OpenSSL 3
 * cannot honour with 1024 bits) or is off ("none").
 */
static int set_groups(SSL_CTX *ctx, const char *curve, const char *dh, char *err, size_t errcap)
{
	if (set(curve) && strcasecmp(curve, "auto") != 0) {
		const char *groups = strcasecmp(curve, "none") == 0
					     ? "ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192"
					     : curve;
		if (SSL_CTX_set1_groups_list(ctx, groups) != 1) {
			ssl_err(err, errcap, "invalid TLS ECDH curve (client_tls_ecdhcurve)", curve);
			return -1;
		}
	}
	if (set(dh) && strcasecmp(dh, "none") == 0)
		SSL_CTX_set_dh_auto(ctx, 0);
	else
		SSL_CTX_set_dh_auto(ctx, 1);
	return 0;
}

/* PostgreSQL's ALPN protocol name, as ALPN wire format (length, name). */
static const unsigned char alpn_postgresql[] = "\x0apostgresql";

/*
 * A client that offers ALPN must offer "postgresql": any other protocol is
 * refused in the handshake (PostgreSQL 17 and PgBouncer 1.25 do the same),
 * so that a TLS connection meant for another service cannot be turned
 * against this one. A client offering none is not asked about it here.
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_postgresql, sizeof(alpn_postgresql) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

struct lp_tls_ctx *lp_tls_ctx_new(bool accept, const struct lp_tls_params *p, char *err,
				  size_t errcap)
{
	struct lp_tls_ctx *t = calloc(1, sizeof(*t));
	int minv, maxv;
	const char *ciphers;

	if (!t) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	ERR_clear_error();
	if (parse_protocols(p->protocols, &minv, &maxv, err, errcap) < 0)
		goto fail;
	t->ctx = SSL_CTX_new(accept ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		ssl_err(err, errcap, "cannot create TLS context", NULL);
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(t->ctx, minv) || !SSL_CTX_set_max_proto_version(t->ctx, maxv)) {
		ssl_err(err, errcap, "cannot set TLS protocol versions", NULL);
		goto fail;
	}
	/* Renegotiation would let reads want writes and the reverse; a peer's
	 * unclean close is an ordinary EOF to us (the protocol has Terminate). */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
					    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					 SSL_MODE_RELEASE_BUFFERS);
	ciphers = cipher_list(p->ciphers);
	if (ciphers && SSL_CTX_set_cipher_list(t->ctx, ciphers) != 1) {
		ssl_err(err, errcap, "invalid TLS cipher list", ciphers);
		goto fail;
	}
	if (set(p->tls13_ciphers) && SSL_CTX_set_ciphersuites(t->ctx, p->tls13_ciphers) != 1) {
		ssl_err(err, errcap, "invalid TLS 1.3 cipher suites", p->tls13_ciphers);
		goto fail;
	}
	if (set_groups(t->ctx, p->ecdhcurve, p->dheparams, err, errcap) < 0)
		goto fail;
	if (accept) {
		/* No resumption: every connection shows its certificate again. */
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, NULL);
		SSL_CTX_set_num_tickets(t->ctx, 0);
		if (!set(p->cert_file) || !set(p->key_file)) {
			snprintf(err, errcap, "TLS for clients needs a certificate and a key file");
			goto fail;
		}
	}
	if (set(p->cert_file) &&
	    SSL_CTX_use_certificate_chain_file(t->ctx, p->cert_file) != 1) {
		ssl_err(err, errcap, "cannot load TLS certificate", p->cert_file);
		goto fail;
	}
	if (set(p->key_file)) {
		if (SSL_CTX_use_PrivateKey_file(t->ctx, p->key_file, SSL_FILETYPE_PEM) != 1) {
			ssl_err(err, errcap, "cannot load TLS key", p->key_file);
			goto fail;
		}
		if (SSL_CTX_check_private_key(t->ctx) != 1) {
			ssl_err(err, errcap, "TLS key does not match the certificate", p->key_file);
			goto fail;
		}
	}
	if (set(p->ca_file)) {
		if (SSL_CTX_load_verify_locations(t->ctx, p->ca_file, NULL) != 1) {
			ssl_err(err, errcap, "cannot load TLS CA file", p->ca_file);
			goto fail;
		}
		if (accept) {
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(p->ca_file);
			if (names)
				SSL_CTX_set_client_CA_list(t->ctx, names);
		}
	}
	if (accept) {
		if (set(p->ca_file)) {
			int mode = SSL_VERIFY_PEER;
			if (p->require_peer_cert)
				mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
			SSL_CTX_set_verify(t->ctx, mode, NULL);
			t->wants_peer_cert = true;
		} else if (p->require_peer_cert) {
			snprintf(err, errcap, "verifying client certificates needs a CA file");
			goto fail;
		}
	} else if (p->verify_peer) {
		if (!set(p->ca_file) && SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
			ssl_err(err, errcap, "cannot load the system's trusted certificates", NULL);
			goto fail;
		}
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	}
	return t;
fail:
	lp_tls_ctx_free(t);
	return NULL;
}

void lp_tls_ctx_free(struct lp_tls_ctx *t)
{
	if (!t)
		return;
	/* SSL objects hold their own reference: live connections keep it. */
	SSL_CTX_free(t->ctx);
	free(t);
}

bool lp_tls_ctx_wants_peer_cert(const struct lp_tls_ctx *t)
{
	return t && t->wants_peer_cert;
}

/* ---- the transport ---- */

/* Sends queued ciphertext: 1 nothing left, 0 socket full, -1 error. */
static int tls_flush(struct lp_io *io)
{
	static char junk[TLS_WRITE_CHUNK];
	BIO *wb = SSL_get_wbio(io->tls);
	char *p;
	long avail;

	while ((avail = BIO_get_mem_data(wb, &p)) > 0) {
		ssize_t k = write(io->fd, p, (size_t)avail);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		while (k > 0) {
			int chunk = k > (ssize_t)sizeof(junk) ? (int)sizeof(junk) : (int)k;
			if (BIO_read(wb, junk, chunk) != chunk)
				return -1;
			k -= chunk;
		}
	}
	return 1;
}

static ssize_t tls_read(struct lp_io *io, void *buf, size_t len)
{
	int n;

	ERR_clear_error();
	n = SSL_read(io->tls, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(io->tls, n)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		return -1;
	default:
		ERR_clear_error();
		errno = EIO;
		return -1;
	}
}

static ssize_t tls_write(struct lp_io *io, const void *buf, size_t len)
{
	int fl = tls_flush(io), n;

	if (fl < 0) {
		errno = EPIPE;
		return -1;
	}
	if (fl == 0) {
		/* Ciphertext still queued: take no new plaintext (backpressure). */
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	n = SSL_write(io->tls, buf, len > TLS_WRITE_CHUNK ? TLS_WRITE_CHUNK : (int)len);
	if (n <= 0) {
		int e = SSL_get_error(io->tls, n);
		ERR_clear_error();
		errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
		return -1;
	}
	(void)tls_flush(io);          /* what stays queued goes on writability */
	return n;
}

static bool tls_pending(const struct lp_io *io)
{
	return io->tls && SSL_has_pending(io->tls);
}

static bool tls_unsent(const struct lp_io *io)
{
	return io->tls && BIO_ctrl_pending(SSL_get_wbio(io->tls)) > 0;
}

static int tls_flush_tr(struct lp_io *io)
{
	return io->tls ? tls_flush(io) : 1;
}

static void tls_close(struct lp_io *io)
{
	if (!io->tls)
		return;
	if (!io->dead && !io->tls_done && SSL_is_init_finished(io->tls)) {
		/* Best effort close_notify; never wait for it. */
		ERR_clear_error();
		(void)SSL_shutdown(io->tls);
		(void)tls_flush(io);
	}
	ERR_clear_error();
	SSL_free(io->tls);
	io->tls = NULL;
}

static const struct lp_transport tls_transport = {
	"tls", tls_read, tls_write, tls_pending, tls_unsent, tls_flush_tr, tls_close,
};

/* ---- handshake ---- */

static bool is_ip(const char *host)
{
	unsigned char b[16];
	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static void handshake_end(struct lp_io *io, const char *err)
{
	lp_io_tls_cb cb = io->tls_done;

	io->tls_done = NULL;
	if (err) {
		lp_io_read_off(io);
		lp_io_write_off(io);
	} else if (!tls_unsent(io)) {
		lp_io_write_off(io);
	}
	cb(io, err);
}

void lp_tls_handshake_step(struct lp_io *io)
{
	char msg[300];
	int r, e, fl;

	ERR_clear_error();
	r = SSL_do_handshake(io->tls);
	fl = tls_flush(io);
	if (fl < 0) {
		handshake_end(io, "socket error during the TLS handshake");
		return;
	}
	if (r == 1) {
		handshake_end(io, NULL);
		return;
	}
	e = SSL_get_error(io->tls, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		lp_io_read_on(io);
		if (fl == 0)
			lp_io_write_on(io);
		else
			lp_io_write_off(io);
		return;
	}
	long vr = SSL_get_verify_result(io->tls);
	if (vr != X509_V_OK) {
		snprintf(msg, sizeof(msg), "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		snprintf(msg, sizeof(msg), "connection closed during the TLS handshake");
	} else {
		char reason[256];
		unsigned long ee = ERR_get_error();
		if (ee)
			ERR_error_string_n(ee, reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "TLS error %d", e);
		snprintf(msg, sizeof(msg), "TLS handshake failed: %s", reason);
	}
	ERR_clear_error();
	handshake_end(io, msg);
}

static int tls_start(struct lp_io *io, struct lp_tls_ctx *ctx, bool accept, const char *sni,
		     const char *verify_host, lp_io_tls_cb done, char *err, size_t errcap)
{
	SSL *ssl;
	BIO *rb, *wb;

	if (!ctx || io->fd < 0 || io->tls) {
		snprintf(err, errcap, "TLS is not available");
		return -1;
	}
	/* Anything read or queued in clear before the handshake would be
	 * taken as if it had come through TLS (CVE-2021-23214/23222). */
	if (io->start != io->end || lp_io_queued(io) > 0) {
		snprintf(err, errcap, "unencrypted data around the TLS handshake");
		return -1;
	}
	ERR_clear_error();
	ssl = SSL_new(ctx->ctx);
	rb = BIO_new_socket(io->fd, BIO_NOCLOSE);
	wb = BIO_new(BIO_s_mem());
	if (!ssl || !rb || !wb) {
		SSL_free(ssl);
		BIO_free(rb);
		BIO_free(wb);
		ssl_err(err, errcap, "cannot start TLS", NULL);
		return -1;
	}
	SSL_set_bio(ssl, rb, wb);
	if (accept) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (sni && sni[0] && !is_ip(sni))
			(void)SSL_set_tlsext_host_name(ssl, sni);
		if (verify_host) {
			int ok;
			if (is_ip(verify_host)) {
				ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host);
			} else {
				SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
				ok = SSL_set1_host(ssl, verify_host);
			}
			if (ok != 1) {
				SSL_free(ssl);
				ssl_err(err, errcap, "cannot set the host name to verify", verify_host);
				return -1;
			}
		}
	}
	io->tls = ssl;
	io->tr = &tls_transport;
	io->tls_done = done;
	/* The first step runs from the loop, so done() is never called from
	 * inside the caller. */
	lp_io_read_on(io);
	event_active(&io->ev_read, EV_READ, 1);
	return 0;
}

int lp_io_tls_accept(struct lp_io *io, struct lp_tls_ctx *ctx, lp_io_tls_cb done, char *err,
		     size_t errcap)
{
	return tls_start(io, ctx, true, NULL, NULL, done, err, errcap);
}

int lp_io_tls_connect(struct lp_io *io, struct lp_tls_ctx *ctx, const char *sni,
		      const char *verify_host, lp_io_tls_cb done, char *err, size_t errcap)
{
	return tls_start(io, ctx, false, sni, verify_host, done, err, errcap);
}

/* ---- connection facts ---- */

bool lp_io_is_tls(const struct lp_io *io)
{
	return io->tls != NULL && io->tr == &tls_transport;
}

const char *lp_io_tls_version(const struct lp_io *io)
{
	return lp_io_is_tls(io) ? SSL_get_version(io->tls) : "";
}

bool lp_io_tls_alpn_postgresql(const struct lp_io *io)
{
	const unsigned char *p;
	unsigned int n;
	if (!lp_io_is_tls(io))
		return false;
	SSL_get0_alpn_selected(io->tls, &p, &n);
	return n == sizeof(alpn_postgresql) - 2 && memcmp(p, alpn_postgresql + 1, n) == 0;
}

bool lp_io_tls_peer_cn(const struct lp_io *io, char *out, size_t cap)
{
	X509 *cert;
	int n;

	if (!lp_io_is_tls(io) || cap == 0)
		return false;
	cert = SSL_get0_peer_certificate(io->tls);
	if (!cert || SSL_get_verify_result(io->tls) != X509_V_OK)
		return false;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
	/* A CN with an embedded NUL would compare equal to a shorter name. */
	if (n <= 0 || (size_t)n >= cap || strlen(out) != (size_t)n)
		return false;
	return true;
}

bool lp_io_tls_server_end_point(const struct lp_io *io, uint8_t *out, size_t cap, size_t *out_len)
{
	X509 *cert;
	int md_nid = NID_undef;
	const EVP_MD *md;
	unsigned int n = 0;

	if (!lp_io_is_tls(io))
		return false;
	cert = SSL_get_certificate(io->tls);
	if (!cert || !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
		return false;
	/* RFC 5929 4.1: MD5 and SHA-1 are replaced by SHA-256. */
	if (md_nid == NID_md5 || md_nid == NID_sha1)
		md_nid = NID_sha256;
	md = EVP_get_digestbynid(md_nid);
	if (!md || (size_t)EVP_MD_get_size(md) > cap)
		return false;
	if (X509_digest(cert, md, out, &n) != 1)
		return false;
	*out_len = n;
	return true;
}
