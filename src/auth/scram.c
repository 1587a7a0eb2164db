/*
 * SCRAM-SHA-256 for both ends of linkpool; see scram.h for the contract.
 *
 * Parsing follows PostgreSQL's server (auth-scram.c) and libpq's client
 * (fe-auth-scram.c): attributes in the RFC 5802 order, optional extensions
 * accepted where the PostgreSQL server accepts them, nothing after the last
 * attribute libpq expects. Every peer message is bounded by
 * LP_SCRAM_MSG_MAX (including room for the NUL we keep) and may not carry
 * NUL bytes, so stored copies are always valid C strings.
 *
 * Derived keys live on the stack and are wiped before returning; only the
 * recovered ClientKey (server side, needed for pass-through) and the
 * ServerKey (client side, to check the server's signature) are kept.
 */
#include "auth/scram.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/base64.h"
#include "auth/random.h"

#define SECRET_PREFIX "SCRAM-SHA-256$"
#define SECRET_PREFIX_LEN (sizeof(SECRET_PREFIX) - 1)
#define ITER_MAX 10000000
#define RAW_NONCE_LEN 18                  /* as PostgreSQL: 18 bytes -> 24 b64 chars */
#define VERIFIER_SALT_LEN 16
#define AUTH_MSG_MAX (3 * LP_SCRAM_MSG_MAX + 2)

enum { SV_INIT = 0, SV_SENT_FIRST = 1, SV_DONE = 2 };
enum { CL_INIT = 0, CL_SENT_FIRST = 1, CL_SENT_FINAL = 2, CL_DONE = 3 };

static const char EMSG_MALFORMED[] = "malformed SCRAM message";
static const char EMSG_STATE[] = "SCRAM exchange in wrong state";
static const char EMSG_TOO_LONG[] = "SCRAM message too long";
static const char EMSG_NUL[] = "SCRAM message contains a NUL byte";
static const char EMSG_INTERNAL[] = "SCRAM internal error";
static const char EMSG_AUTH_FAILED[] = "password authentication failed";

/* ---- crypto primitives ---- */

/*
 * HMAC() and EVP_sha256() look the algorithms up by name at every call,
 * which cost about half of a SCRAM login's instructions; the lookups are
 * done once here (linkpool is single-threaded). Each HMAC works on a copy
 * of a keyless template, freed (and so wiped) before returning.
 */
static EVP_MAC_CTX *hmac_template(void)
{
	static EVP_MAC_CTX *tmpl;
	if (tmpl)
		return tmpl;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return NULL;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);              /* the context keeps its own reference */
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (!ctx || EVP_MAC_CTX_set_params(ctx, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	tmpl = ctx;
	return tmpl;
}

static bool hmac256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		    uint8_t out[LP_SCRAM_KEY_LEN])
{
	EVP_MAC_CTX *tmpl = hmac_template();
	EVP_MAC_CTX *ctx = tmpl ? EVP_MAC_CTX_dup(tmpl) : NULL;
	size_t olen = 0;
	bool ok = ctx && EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
		  EVP_MAC_update(ctx, data, len) == 1 &&
		  EVP_MAC_final(ctx, out, &olen, LP_SCRAM_KEY_LEN) == 1 && olen == LP_SCRAM_KEY_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

static bool sha256(const void *data, size_t len, uint8_t out[LP_SCRAM_KEY_LEN])
{
	static EVP_MD *md;
	unsigned int olen = 0;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!md || EVP_Digest(data, len, out, &olen, md, NULL) != 1)
		return false;
	return olen == LP_SCRAM_KEY_LEN;
}

/* ---- message parsing ---- */

/* A cursor over one SCRAM message; sep is true right after a ',' was eaten,
 * so that "a=b," (a trailing comma) is not taken as a complete message. */
struct cur {
	const char *p, *end;
	bool sep;
};

static bool cur_at_end(const struct cur *c)
{
	return c->p == c->end && !c->sep;
}

/* Reads "<letter>=<value>" up to the next ',' (eaten) or the end. */
static bool read_attr(struct cur *c, char *name, const char **val, size_t *vlen)
{
	const char *v, *comma;
	char n;

	if (c->end - c->p < 2)
		return false;
	n = c->p[0];
	if (!((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z')) || c->p[1] != '=')
		return false;
	v = c->p + 2;
	comma = memchr(v, ',', (size_t)(c->end - v));
	*name = n;
	*val = v;
	*vlen = (size_t)((comma ? comma : c->end) - v);
	c->p = comma ? comma + 1 : c->end;
	c->sep = comma != NULL;
	return true;
}

static bool expect_attr(struct cur *c, char want, const char **val, size_t *vlen)
{
	char n;

	return read_attr(c, &n, val, vlen) && n == want;
}

/* RFC 5802 "printable": 0x21..0x7e except ','. */
static bool nonce_chars_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch < 0x21 || ch > 0x7e || ch == ',')
			return false;
	}
	return true;
}

/* Decimal 1..ITER_MAX, digits only. */
static bool parse_iter(const char *v, size_t n, int *out)
{
	long val = 0;

	if (n < 1 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		val = val * 10 + (v[i] - '0');
	}
	if (val < 1 || val > ITER_MAX)
		return false;
	*out = (int)val;
	return true;
}

/* Common bounds for every peer message. */
static bool msg_ok(const uint8_t *msg, size_t len, const char **err)
{
	if (!msg || len == 0) {
		*err = EMSG_MALFORMED;
		return false;
	}
	if (len >= LP_SCRAM_MSG_MAX) {
		*err = EMSG_TOO_LONG;
		return false;
	}
	if (memchr(msg, '\0', len)) {
		*err = EMSG_NUL;
		return false;
	}
	return true;
}

/* Bounded append into a fixed buffer; false when it would not fit. */
static bool put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
	if (n > cap || *pos > cap - n)
		return false;
	memcpy(buf + *pos, s, n);
	*pos += n;
	return true;
}

/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
static bool build_auth_message(char *am, size_t cap, size_t *am_len, const char *bare,
			       const char *server_first, const char *final_wo_proof,
			       size_t final_len)
{
	size_t pos = 0;

	if (!put(am, cap, &pos, bare, strlen(bare)) || !put(am, cap, &pos, ",", 1) ||
	    !put(am, cap, &pos, server_first, strlen(server_first)) ||
	    !put(am, cap, &pos, ",", 1) || !put(am, cap, &pos, final_wo_proof, final_len))
		return false;
	*am_len = pos;
	return true;
}

static int copy_out(const char *src, size_t n, char *out, size_t cap, size_t *out_len)
{
	if (!out || cap < n + 1)
		return -1;
	memcpy(out, src, n);
	out[n] = '\0';
	if (out_len)
		*out_len = n;
	return 0;
}

static bool make_nonce(char *out, size_t cap)
{
	uint8_t raw[RAW_NONCE_LEN];
	bool ok;

	/* Pooled CSPRNG bytes: a RAND_bytes call costs ~7,000 instructions. */
	if (!lp_random_bytes(raw, sizeof(raw)))
		return false;
	ok = lp_base64_encode(raw, sizeof(raw), out, cap, NULL) == 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	return ok;
}

/* ---- secrets ---- */

bool lp_scram_parse_secret(const char *s, struct lp_scram_secret *out)
{
	struct lp_scram_secret tmp;
	const char *p, *colon, *dollar, *colon2;
	size_t n, slen;

	if (!s || !out)
		return false;
	memset(&tmp, 0, sizeof(tmp));
	slen = strnlen(s, LP_SCRAM_MSG_MAX + 1);
	if (slen > LP_SCRAM_MSG_MAX || slen < SECRET_PREFIX_LEN ||
	    memcmp(s, SECRET_PREFIX, SECRET_PREFIX_LEN) != 0)
		return false;
	p = s + SECRET_PREFIX_LEN;
	colon = strchr(p, ':');
	if (!colon || !parse_iter(p, (size_t)(colon - p), &tmp.iterations))
		return false;
	p = colon + 1;
	dollar = strchr(p, '$');
	if (!dollar)
		return false;
	if (lp_base64_decode(p, (size_t)(dollar - p), tmp.salt, sizeof(tmp.salt), &tmp.salt_len) != 0 ||
	    tmp.salt_len == 0)
		return false;
	p = dollar + 1;
	colon2 = strchr(p, ':');
	if (!colon2)
		return false;
	if (lp_base64_decode(p, (size_t)(colon2 - p), tmp.stored_key, sizeof(tmp.stored_key), &n) != 0 ||
	    n != LP_SCRAM_KEY_LEN)
		return false;
	p = colon2 + 1;
	if (lp_base64_decode(p, strlen(p), tmp.server_key, sizeof(tmp.server_key), &n) != 0 ||
	    n != LP_SCRAM_KEY_LEN)
		return false;
	*out = tmp;
	OPENSSL_cleanse(&tmp, sizeof(tmp));
	return true;
}

bool lp_scram_is_secret(const char *s)
{
	struct lp_scram_secret tmp;
	bool ok = lp_scram_parse_secret(s, &tmp);

	OPENSSL_cleanse(&tmp, sizeof(tmp));
	return ok;
}

/*
 * A NULL password stands for "no password can match": a random one is used,
 * through the same PBKDF2 work, so a mock secret for an unknown user costs
 * the same time as a real one derived from a plain password.
 */
bool lp_scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
				   int iterations, struct lp_scram_secret *out)
{
	uint8_t salted[LP_SCRAM_KEY_LEN];
	uint8_t client_key[LP_SCRAM_KEY_LEN];
	uint8_t rnd[LP_SCRAM_KEY_LEN];
	struct lp_scram_secret tmp;
	const char *pw = password;
	size_t pw_len;
	bool ok = false;

	memset(&tmp, 0, sizeof(tmp));
	if (!out || !salt || salt_len == 0 || salt_len > LP_SCRAM_MAX_SALT ||
	    iterations < 1 || iterations > ITER_MAX)
		goto fail;
	if (!pw) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			goto fail;
		pw = (const char *)rnd;
		pw_len = sizeof(rnd);
	} else {
		pw_len = strlen(pw);
		if (pw_len > INT_MAX)
			goto fail;
	}
	if (PKCS5_PBKDF2_HMAC(pw, (int)pw_len, salt, (int)salt_len, iterations, EVP_sha256(),
			      LP_SCRAM_KEY_LEN, salted) != 1)
		goto fail;
	if (!hmac256(salted, sizeof(salted), "Client Key", 10, client_key) ||
	    !sha256(client_key, sizeof(client_key), tmp.stored_key) ||
	    !hmac256(salted, sizeof(salted), "Server Key", 10, tmp.server_key))
		goto fail;
	tmp.iterations = iterations;
	memcpy(tmp.salt, salt, salt_len);
	tmp.salt_len = salt_len;
	*out = tmp;
	ok = true;
fail:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(&tmp, sizeof(tmp));
	return ok;
}

bool lp_scram_make_verifier(const char *password, int iterations, char *out, size_t cap)
{
	uint8_t salt[VERIFIER_SALT_LEN];
	struct lp_scram_secret sec;
	char salt_b64[LP_BASE64_ENC_LEN(VERIFIER_SALT_LEN) + 1];
	char sk_b64[LP_BASE64_ENC_LEN(LP_SCRAM_KEY_LEN) + 1];
	char svk_b64[LP_BASE64_ENC_LEN(LP_SCRAM_KEY_LEN) + 1];
	bool ok = false;
	int n;

	memset(&sec, 0, sizeof(sec));
	if (!password || !out || cap == 0)
		return false;
	out[0] = '\0';
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		goto fail;
	if (!lp_scram_secret_from_password(password, salt, sizeof(salt), iterations, &sec))
		goto fail;
	if (lp_base64_encode(salt, sizeof(salt), salt_b64, sizeof(salt_b64), NULL) != 0 ||
	    lp_base64_encode(sec.stored_key, LP_SCRAM_KEY_LEN, sk_b64, sizeof(sk_b64), NULL) != 0 ||
	    lp_base64_encode(sec.server_key, LP_SCRAM_KEY_LEN, svk_b64, sizeof(svk_b64), NULL) != 0)
		goto fail;
	n = snprintf(out, cap, SECRET_PREFIX "%d:%s$%s:%s", iterations, salt_b64, sk_b64, svk_b64);
	if (n < 0 || (size_t)n >= cap) {
		OPENSSL_cleanse(out, cap);
		out[0] = '\0';
		goto fail;
	}
	ok = true;
fail:
	OPENSSL_cleanse(&sec, sizeof(sec));
	return ok;
}

/* ---- server side ---- */

bool lp_scram_server_set_channel_binding(struct lp_scram_server *s, bool offered, bool selected,
					 const uint8_t *data, size_t len)
{
	if (len > sizeof(s->cbind_data) || (selected && (!offered || !data || len == 0)))
		return false;
	s->cbind_offered = offered;
	s->cbind_selected = selected;
	if (len)
		memcpy(s->cbind_data, data, len);
	s->cbind_len = len;
	return true;
}

int lp_scram_server_first(struct lp_scram_server *s, const struct lp_scram_secret *secret,
			  const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len,
			  const char **err)
{
	const char *m = (const char *)msg;
	const char *bare, *nonce, *v;
	size_t bare_len, nonce_len, vlen, hdr_len;
	char salt_b64[LP_BASE64_ENC_LEN(LP_SCRAM_MAX_SALT) + 1];
	struct cur c;
	char name;
	int n;

	if (s->state != SV_INIT || !secret) {
		*err = EMSG_STATE;
		goto fail;
	}
	if (!msg_ok(msg, len, err))
		goto fail;

	/* gs2-header: cbind-flag "," [authzid] "," */
	if (m[0] == 'p') {
		static const char want[] = "p=tls-server-end-point,";
		if (!s->cbind_selected) {
			*err = "SCRAM channel binding requested without SCRAM-SHA-256-PLUS";
			goto fail;
		}
		if (len < sizeof(want) - 1 || memcmp(m, want, sizeof(want) - 1) != 0) {
			*err = "unsupported SCRAM channel binding type";
			goto fail;
		}
		hdr_len = sizeof(want) - 1;
	} else if (m[0] == 'n' || m[0] == 'y') {
		if (s->cbind_selected) {
			*err = "SCRAM-SHA-256-PLUS selected without channel binding";
			goto fail;
		}
		/* 'y': the client could bind but thinks we cannot -- yet we
		 * offered PLUS, so someone removed it on the way. */
		if (m[0] == 'y' && s->cbind_offered) {
			*err = "SCRAM channel binding negotiation error";
			goto fail;
		}
		if (len < 2 || m[1] != ',') {
			*err = EMSG_MALFORMED;
			goto fail;
		}
		hdr_len = 2;
	} else {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (len <= hdr_len) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (m[hdr_len] == 'a') {
		*err = "SCRAM authorization identity is not supported";
		goto fail;
	}
	if (m[hdr_len] != ',') {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	hdr_len++;
	memcpy(s->gs2_header, m, hdr_len);
	s->gs2_header[hdr_len] = '\0';
	bare = m + hdr_len;
	bare_len = len - hdr_len;

	/* client-first-message-bare: [reserved-mext ","] "n=" user ",r=" nonce ["," ext]* */
	c.p = bare;
	c.end = bare + bare_len;
	c.sep = false;
	if (!read_attr(&c, &name, &v, &vlen)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (name == 'm') {
		*err = "SCRAM mandatory extension is not supported";
		goto fail;
	}
	/* The user name is ignored, as PostgreSQL does: the startup packet names the user. */
	if (name != 'n' || !expect_attr(&c, 'r', &nonce, &nonce_len)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (nonce_len == 0 || nonce_len > LP_SCRAM_NONCE_MAX || !nonce_chars_ok(nonce, nonce_len)) {
		*err = "invalid SCRAM client nonce";
		goto fail;
	}
	while (!cur_at_end(&c)) {
		if (!read_attr(&c, &name, &v, &vlen)) {
			*err = EMSG_MALFORMED;
			goto fail;
		}
	}

	memcpy(s->client_nonce, nonce, nonce_len);
	s->client_nonce[nonce_len] = '\0';
	memcpy(s->client_first_bare, bare, bare_len);
	s->client_first_bare[bare_len] = '\0';
	s->secret = *secret;
	if (s->secret.salt_len == 0 || s->secret.salt_len > LP_SCRAM_MAX_SALT ||
	    !make_nonce(s->server_nonce, sizeof(s->server_nonce)) ||
	    lp_base64_encode(s->secret.salt, s->secret.salt_len, salt_b64, sizeof(salt_b64), NULL) != 0) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	n = snprintf(s->server_first, sizeof(s->server_first), "r=%s%s,s=%s,i=%d", s->client_nonce,
		     s->server_nonce, salt_b64, s->secret.iterations);
	if (n < 0 || (size_t)n >= sizeof(s->server_first) ||
	    copy_out(s->server_first, (size_t)n, out, cap, out_len) != 0) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	s->state = SV_SENT_FIRST;
	return 0;
fail:
	/* One exchange, one try: nothing may continue after an error. */
	OPENSSL_cleanse(&s->secret, sizeof(s->secret));
	s->state = SV_DONE;
	return -1;
}

int lp_scram_server_final(struct lp_scram_server *s, const uint8_t *msg, size_t len,
			  char *out, size_t cap, size_t *out_len, const char **err)
{
	const char *m = (const char *)msg;
	const char *v, *proof_attr = NULL, *proof_b64 = NULL;
	size_t vlen, proof_b64_len = 0, cb_len, am_len, cn_len, sn_len, plen, gs2_len;
	uint8_t cb[64 + LP_SCRAM_CBIND_MAX];
	uint8_t proof[LP_SCRAM_KEY_LEN], sig[LP_SCRAM_KEY_LEN], ck[LP_SCRAM_KEY_LEN];
	uint8_t h[LP_SCRAM_KEY_LEN], server_sig[LP_SCRAM_KEY_LEN];
	char am[AUTH_MSG_MAX];
	char reply[8 + LP_BASE64_ENC_LEN(LP_SCRAM_KEY_LEN)];
	size_t reply_len;
	struct cur c;
	char name;
	int rc = -1;

	if (s->state != SV_SENT_FIRST) {
		*err = EMSG_STATE;
		goto fail;
	}
	if (!msg_ok(msg, len, err))
		goto fail;
	c.p = m;
	c.end = m + len;
	c.sep = false;

	/* c= must repeat our gs2 header exactly: no downgrade of the cbind flag. */
	if (!expect_attr(&c, 'c', &v, &vlen)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	gs2_len = strlen(s->gs2_header);
	if (lp_base64_decode(v, vlen, cb, sizeof(cb), &cb_len) != 0 ||
	    cb_len != gs2_len + (s->cbind_selected ? s->cbind_len : 0) ||
	    memcmp(cb, s->gs2_header, gs2_len) != 0 ||
	    (s->cbind_selected && CRYPTO_memcmp(cb + gs2_len, s->cbind_data, s->cbind_len) != 0)) {
		*err = "SCRAM channel binding check failed";
		goto fail;
	}
	if (!expect_attr(&c, 'r', &v, &vlen)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	cn_len = strlen(s->client_nonce);
	sn_len = strlen(s->server_nonce);
	if (vlen != cn_len + sn_len || memcmp(v, s->client_nonce, cn_len) != 0 ||
	    memcmp(v + cn_len, s->server_nonce, sn_len) != 0) {
		*err = "SCRAM nonce mismatch";
		goto fail;
	}
	/* Extensions may come before the proof, which must be last. */
	while (!proof_b64) {
		const char *attr_start = c.p;

		if (!read_attr(&c, &name, &v, &vlen)) {
			*err = EMSG_MALFORMED;
			goto fail;
		}
		if (name == 'p') {
			proof_attr = attr_start;
			proof_b64 = v;
			proof_b64_len = vlen;
		}
	}
	if (!cur_at_end(&c)) {
		*err = "garbage at end of SCRAM client-final-message";
		goto fail;
	}
	if (lp_base64_decode(proof_b64, proof_b64_len, proof, sizeof(proof), &plen) != 0 ||
	    plen != LP_SCRAM_KEY_LEN) {
		*err = "malformed SCRAM proof";
		goto fail;
	}
	/* proof_attr > m: "c=" and "r=" precede it; the ',' before "p=" is not signed. */
	if (!build_auth_message(am, sizeof(am), &am_len, s->client_first_bare, s->server_first, m,
				(size_t)(proof_attr - 1 - m))) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	if (!hmac256(s->secret.stored_key, LP_SCRAM_KEY_LEN, am, am_len, sig)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	for (size_t i = 0; i < LP_SCRAM_KEY_LEN; i++)
		ck[i] = proof[i] ^ sig[i];
	if (!sha256(ck, sizeof(ck), h)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	if (CRYPTO_memcmp(h, s->secret.stored_key, LP_SCRAM_KEY_LEN) != 0) {
		*err = EMSG_AUTH_FAILED;
		goto fail;
	}
	if (!hmac256(s->secret.server_key, LP_SCRAM_KEY_LEN, am, am_len, server_sig)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	memcpy(reply, "v=", 2);
	if (lp_base64_encode(server_sig, sizeof(server_sig), reply + 2, sizeof(reply) - 2, &reply_len) != 0 ||
	    copy_out(reply, reply_len + 2, out, cap, out_len) != 0) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	memcpy(s->client_key, ck, sizeof(ck));
	s->have_client_key = true;
	rc = 0;
fail:
	s->state = SV_DONE;
	if (rc != 0)
		OPENSSL_cleanse(&s->secret, sizeof(s->secret));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(server_sig, sizeof(server_sig));
	return rc;
}

/* ---- client side ---- */

int lp_scram_client_first(struct lp_scram_client *c, char *out, size_t cap, size_t *out_len)
{
	size_t pos = 0;

	memset(c, 0, sizeof(*c));
	if (!make_nonce(c->client_nonce, sizeof(c->client_nonce)))
		return -1;
	/* User name left empty: PostgreSQL takes it from the startup packet. */
	if (!put(c->client_first_bare, sizeof(c->client_first_bare) - 1, &pos, "n=,r=", 5) ||
	    !put(c->client_first_bare, sizeof(c->client_first_bare) - 1, &pos, c->client_nonce,
		 strlen(c->client_nonce)))
		return -1;
	c->client_first_bare[pos] = '\0';
	if (!out || cap < 3 + pos + 1)
		return -1;
	memcpy(out, "n,,", 3);
	memcpy(out + 3, c->client_first_bare, pos + 1);
	if (out_len)
		*out_len = 3 + pos;
	c->state = CL_SENT_FIRST;
	return 0;
}

int lp_scram_client_final(struct lp_scram_client *c, const char *password,
			  const uint8_t *client_key, const struct lp_scram_secret *secret,
			  const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len,
			  const char **err)
{
	const char *m = (const char *)msg;
	const char *nonce, *v;
	size_t nonce_len, vlen, salt_len, cn_len, am_len, pos = 0, b64_len;
	uint8_t salt[LP_SCRAM_MAX_SALT];
	uint8_t salted[LP_SCRAM_KEY_LEN], ck[LP_SCRAM_KEY_LEN], stored[LP_SCRAM_KEY_LEN];
	uint8_t sig[LP_SCRAM_KEY_LEN], proof[LP_SCRAM_KEY_LEN], server_sig[LP_SCRAM_KEY_LEN];
	char am[AUTH_MSG_MAX];
	char fin[LP_SCRAM_MSG_MAX];
	char proof_b64[LP_BASE64_ENC_LEN(LP_SCRAM_KEY_LEN) + 1];
	struct cur cu;
	char name;
	int iter = 0, rc = -1;
	size_t wo_proof_len;

	memset(salted, 0, sizeof(salted));
	memset(ck, 0, sizeof(ck));
	if (c->state != CL_SENT_FIRST) {
		*err = EMSG_STATE;
		goto fail;
	}
	if (!password == !(client_key && secret)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	if (!msg_ok(msg, len, err))
		goto fail;

	/* server-first-message: [reserved-mext ","] "r=" nonce ",s=" salt ",i=" count */
	cu.p = m;
	cu.end = m + len;
	cu.sep = false;
	if (!read_attr(&cu, &name, &nonce, &nonce_len)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (name == 'm') {
		*err = "SCRAM mandatory extension is not supported";
		goto fail;
	}
	if (name != 'r') {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	cn_len = strlen(c->client_nonce);
	if (nonce_len > LP_SCRAM_NONCE_MAX || nonce_len <= cn_len ||
	    memcmp(nonce, c->client_nonce, cn_len) != 0 || !nonce_chars_ok(nonce, nonce_len)) {
		*err = "invalid SCRAM server nonce";
		goto fail;
	}
	if (!expect_attr(&cu, 's', &v, &vlen)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (lp_base64_decode(v, vlen, salt, sizeof(salt), &salt_len) != 0 || salt_len == 0) {
		*err = "invalid SCRAM salt";
		goto fail;
	}
	if (!expect_attr(&cu, 'i', &v, &vlen)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (!parse_iter(v, vlen, &iter)) {
		*err = "invalid SCRAM iteration count";
		goto fail;
	}
	if (!cur_at_end(&cu)) {
		*err = "garbage at end of SCRAM server-first-message";
		goto fail;
	}
	memcpy(c->server_first, m, len);
	c->server_first[len] = '\0';

	if (password) {
		size_t pw_len = strlen(password);

		if (pw_len > INT_MAX ||
		    PKCS5_PBKDF2_HMAC(password, (int)pw_len, salt, (int)salt_len, iter, EVP_sha256(),
				      LP_SCRAM_KEY_LEN, salted) != 1 ||
		    !hmac256(salted, sizeof(salted), "Client Key", 10, ck) ||
		    !sha256(ck, sizeof(ck), stored) ||
		    !hmac256(salted, sizeof(salted), "Server Key", 10, c->server_key)) {
			*err = EMSG_INTERNAL;
			goto fail;
		}
	} else {
		/* Pass-through: the keys only fit the verifier's own salt and count. */
		if (salt_len != secret->salt_len || memcmp(salt, secret->salt, salt_len) != 0 ||
		    iter != secret->iterations) {
			*err = "server's SCRAM salt or iteration count differs from the stored verifier";
			goto fail;
		}
		memcpy(ck, client_key, LP_SCRAM_KEY_LEN);
		memcpy(stored, secret->stored_key, LP_SCRAM_KEY_LEN);
		memcpy(c->server_key, secret->server_key, LP_SCRAM_KEY_LEN);
	}

	/* client-final-message-without-proof: "c=biws" is base64("n,,"). */
	if (!put(fin, sizeof(fin), &pos, "c=biws,r=", 9) || !put(fin, sizeof(fin), &pos, nonce, nonce_len)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	wo_proof_len = pos;
	if (!build_auth_message(am, sizeof(am), &am_len, c->client_first_bare, c->server_first, fin,
				wo_proof_len) ||
	    !hmac256(stored, sizeof(stored), am, am_len, sig) ||
	    !hmac256(c->server_key, LP_SCRAM_KEY_LEN, am, am_len, server_sig)) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	for (size_t i = 0; i < LP_SCRAM_KEY_LEN; i++)
		proof[i] = ck[i] ^ sig[i];
	if (lp_base64_encode(server_sig, sizeof(server_sig), c->expected_server_sig,
			     sizeof(c->expected_server_sig), NULL) != 0 ||
	    lp_base64_encode(proof, sizeof(proof), proof_b64, sizeof(proof_b64), &b64_len) != 0 ||
	    !put(fin, sizeof(fin) - 1, &pos, ",p=", 3) ||
	    !put(fin, sizeof(fin) - 1, &pos, proof_b64, b64_len) ||
	    copy_out(fin, pos, out, cap, out_len) != 0) {
		*err = EMSG_INTERNAL;
		goto fail;
	}
	c->state = CL_SENT_FINAL;
	rc = 0;
fail:
	if (rc != 0) {
		c->state = CL_DONE;
		OPENSSL_cleanse(c->server_key, sizeof(c->server_key));
	}
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(server_sig, sizeof(server_sig));
	return rc;
}

int lp_scram_client_verify(struct lp_scram_client *c, const uint8_t *msg, size_t len,
			   const char **err)
{
	const char *m = (const char *)msg;
	const char *v;
	size_t vlen, got_len, want_len;
	uint8_t got[LP_SCRAM_KEY_LEN], want[LP_SCRAM_KEY_LEN];
	struct cur cu;
	int rc = -1;

	if (c->state != CL_SENT_FINAL) {
		*err = EMSG_STATE;
		goto fail;
	}
	if (!msg_ok(msg, len, err))
		goto fail;
	if (len >= 2 && m[0] == 'e' && m[1] == '=') {
		/* The server's reason is not passed on: it is free text from the peer. */
		*err = "server refused SCRAM authentication";
		goto fail;
	}
	cu.p = m;
	cu.end = m + len;
	cu.sep = false;
	if (!expect_attr(&cu, 'v', &v, &vlen) || !cur_at_end(&cu)) {
		*err = EMSG_MALFORMED;
		goto fail;
	}
	if (lp_base64_decode(v, vlen, got, sizeof(got), &got_len) != 0 || got_len != LP_SCRAM_KEY_LEN ||
	    lp_base64_decode(c->expected_server_sig, strlen(c->expected_server_sig), want, sizeof(want),
			     &want_len) != 0 || want_len != LP_SCRAM_KEY_LEN) {
		*err = "invalid SCRAM server signature";
		goto fail;
	}
	if (CRYPTO_memcmp(got, want, LP_SCRAM_KEY_LEN) != 0) {
		*err = "SCRAM server signature mismatch";
		goto fail;
	}
	rc = 0;
fail:
	c->state = CL_DONE;
	OPENSSL_cleanse(c->server_key, sizeof(c->server_key));
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}
