/*
 * Client authentication. A wrong password and an unknown user end the same
 * way -- same message, same exchange (SCRAM against a stable fake salt) --
 * so that nobody learns which user names exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/md5.h"
#include "auth/random.h"
#include "auth/scram.h"
#include "pool/client_auth.h"
#include "proto/proto.h"

static int auth_failed(struct lp_client *c)
{
	lp_client_fail(c, "28P01", "password authentication failed for user \"%s\"", c->user_name);
	return -1;
}

static bool is_console_db(const char *name)
{
	return strcmp(name, "pgbouncer") == 0 || strcmp(name, "linkpool") == 0;
}

static struct lp_user *known_user(struct lp_client *c)
{
	struct lp_user *u = lp_registry_find_user(c->inst, c->user_name);
	return u && u->in_auth_file && u->secret ? u : NULL;
}

static int finish(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	c->auth = LP_AUTH_DONE;
	if (c->admin) {
		bool full = lp_config_list_has(inst->cfg.s.admin_users, c->user_name);
		bool stats = lp_config_list_has(inst->cfg.s.stats_users, c->user_name);
		if (!full && !stats) {
			lp_client_fail(c, "28000", "not allowed to connect to the admin console");
			return -1;
		}
		c->admin_full = full;
		lp_client_login_ok(c, NULL, NULL);
		return c->state == LP_CL_JUSTFREE ? -1 : 0;
	}
	struct lp_db *db = c->login_db;
	struct lp_user *pool_user;
	if (db->conf.user && db->conf.user[0])
		pool_user = lp_registry_get_user(inst, db->conf.user);
	else
		pool_user = lp_registry_get_user(inst, c->user_name);
	if (!pool_user) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	c->user = pool_user;
	lp_client_login_ok(c, db, pool_user);
	return c->state == LP_CL_JUSTFREE ? -1 : 0;
}

static int send_auth(struct lp_client *c, int32_t code, const void *data, size_t len, bool sasl)
{
	uint8_t buf[LP_SCRAM_MSG_MAX + 64];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	if (sasl)
		lp_build_auth_sasl(&w, false);
	else
		lp_build_auth(&w, code, data, len);
	if (w.overflow || lp_io_send(&c->io, buf, w.len) < 0) {
		lp_client_close(c, "could not send authentication request");
		return -1;
	}
	return 0;
}

/* A deterministic, secret-keyed salt, so repeated probes for one unknown
 * user see the same salt as a real user would show. */
static void fake_secret(struct lp_client *c, struct lp_scram_secret *sec)
{
	uint8_t mac[32];
	unsigned int mlen = sizeof(mac);
	HMAC(EVP_sha256(), c->inst->fake_salt_key, sizeof(c->inst->fake_salt_key),
	     (const uint8_t *)c->user_name, strlen(c->user_name), mac, &mlen);
	memset(sec, 0, sizeof(*sec));
	sec->iterations = LP_SCRAM_DEFAULT_ITER;
	sec->salt_len = 16;
	memcpy(sec->salt, mac, 16);
	/* Keys nobody can match. */
	RAND_bytes(sec->stored_key, sizeof(sec->stored_key));
	RAND_bytes(sec->server_key, sizeof(sec->server_key));
}

static int start_scram(struct lp_client *c, struct lp_user *u)
{
	c->scram = calloc(1, sizeof(*c->scram));
	if (!c->scram) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	c->auth = LP_AUTH_WAIT_SCRAM_FIRST;
	return send_auth(c, 10, NULL, 0, true);
	(void)u;
}

static bool scram_secret_for(struct lp_client *c, struct lp_user *u, struct lp_scram_secret *sec)
{
	if (u && lp_scram_is_secret(u->secret))
		return lp_scram_parse_secret(u->secret, sec);
	if (u && !lp_md5_is_secret(u->secret)) {
		uint8_t salt[16];
		if (RAND_bytes(salt, sizeof(salt)) != 1)
			return false;
		return lp_scram_secret_from_password(u->secret, salt, sizeof(salt),
						     LP_SCRAM_DEFAULT_ITER, sec);
	}
	fake_secret(c, sec);
	return true;
}

int lp_client_auth_start(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	const struct lp_settings *st = &inst->cfg.s;

	if (is_console_db(c->db_name)) {
		c->admin = true;
	} else {
		c->login_db = lp_registry_find_db(inst, c->db_name);
		if (!c->login_db) {
			lp_client_fail(c, "3D000", "no such database: %s", c->db_name);
			return -1;
		}
		if (c->login_db->disabled) {
			lp_client_fail(c, "55000", "database \"%s\" is disabled", c->db_name);
			return -1;
		}
	}
	if (inst->shutdown != LP_RUN) {
		lp_client_fail(c, "57P01", "pooler is shutting down");
		return -1;
	}
	struct lp_user *u = known_user(c);
	switch (st->auth_type) {
	case LP_AUTH_ANY:
		return finish(c);
	case LP_AUTH_TRUST:
		if (st->auth_file[0] && !u)
			return auth_failed(c);
		return finish(c);
	case LP_AUTH_PLAIN:
		c->auth = LP_AUTH_WAIT_PASSWORD;
		return send_auth(c, 3, NULL, 0, false);
	case LP_AUTH_MD5:
		if (u && lp_scram_is_secret(u->secret))
			return start_scram(c, u);
		if (!lp_random_bytes(c->md5_salt, sizeof(c->md5_salt))) {
			lp_client_fail(c, "53200", "no randomness for the md5 salt");
			return -1;
		}
		c->auth = LP_AUTH_WAIT_MD5;
		return send_auth(c, 5, c->md5_salt, 4, false);
	case LP_AUTH_SCRAM:
		return start_scram(c, u);
	case LP_AUTH_HBA:
	case LP_AUTH_CERT:
		break;
	}
	lp_client_fail(c, "28000", "auth_type %s is not available in this build",
		       lp_auth_type_name(st->auth_type));
	return -1;
}

static bool check_plain(struct lp_client *c, struct lp_user *u, const char *pw)
{
	if (!u)
		return false;
	if (lp_md5_is_secret(u->secret)) {
		char sec[LP_MD5_SECRET_LEN + 1];
		lp_md5_secret(c->user_name, pw, sec);
		return CRYPTO_memcmp(sec, u->secret, LP_MD5_SECRET_LEN) == 0;
	}
	if (lp_scram_is_secret(u->secret)) {
		struct lp_scram_secret stored, derived;
		if (!lp_scram_parse_secret(u->secret, &stored) ||
		    !lp_scram_secret_from_password(pw, stored.salt, stored.salt_len, stored.iterations,
						   &derived))
			return false;
		return CRYPTO_memcmp(stored.stored_key, derived.stored_key, LP_SCRAM_KEY_LEN) == 0;
	}
	size_t a = strlen(u->secret), b = strlen(pw);
	return a == b && CRYPTO_memcmp(u->secret, pw, a) == 0;
}

int lp_client_auth_msg(struct lp_client *c, const uint8_t *body, uint32_t len)
{
	const char *err = NULL;
	struct lp_user *u = known_user(c);

	switch (c->auth) {
	case LP_AUTH_WAIT_PASSWORD: {
		const char *pw;
		if (lp_msg_parse_password(body, len, &pw, &err) != LP_PROTO_OK) {
			lp_client_fail(c, "08P01", "%s", err);
			return -1;
		}
		if (!check_plain(c, u, pw))
			return auth_failed(c);
		return finish(c);
	}
	case LP_AUTH_WAIT_MD5: {
		const char *resp;
		if (lp_msg_parse_password(body, len, &resp, &err) != LP_PROTO_OK) {
			lp_client_fail(c, "08P01", "%s", err);
			return -1;
		}
		if (!u || !lp_md5_verify(u->secret, c->user_name, c->md5_salt, resp))
			return auth_failed(c);
		return finish(c);
	}
	case LP_AUTH_WAIT_SCRAM_FIRST: {
		const char *mech;
		const uint8_t *data;
		size_t dlen;
		struct lp_scram_secret sec;
		char out[LP_SCRAM_MSG_MAX];
		size_t olen;
		if (lp_msg_parse_sasl_initial(body, len, &mech, &data, &dlen, &err) != LP_PROTO_OK) {
			lp_client_fail(c, "08P01", "%s", err);
			return -1;
		}
		if (strcmp(mech, "SCRAM-SHA-256") != 0) {
			lp_client_fail(c, "28000", "client selected an invalid SASL authentication mechanism");
			return -1;
		}
		if (!data || !scram_secret_for(c, u, &sec)) {
			lp_client_fail(c, "08P01", "malformed SCRAM message");
			return -1;
		}
		if (lp_scram_server_first(c->scram, &sec, data, dlen, out, sizeof(out), &olen, &err) < 0) {
			lp_client_fail(c, "08P01", "malformed SCRAM message: %s", err);
			return -1;
		}
		c->auth = LP_AUTH_WAIT_SCRAM_FINAL;
		return send_auth(c, 11, out, olen, false);
	}
	case LP_AUTH_WAIT_SCRAM_FINAL: {
		char out[LP_SCRAM_MSG_MAX];
		size_t olen;
		int rc = lp_scram_server_final(c->scram, body, len, out, sizeof(out), &olen, &err);
		if (rc < 0 || !u)
			return auth_failed(c);
		if (send_auth(c, 12, out, olen, false) < 0)
			return -1;
		if (lp_scram_is_secret(u->secret) && c->scram->have_client_key) {
			/* Lets this user's server logins reuse the proof keys
			 * (SCRAM pass-through): no plain password stored. */
			memcpy(u->scram_client_key, c->scram->client_key, LP_SCRAM_KEY_LEN);
			u->have_client_key = true;
		}
		c->scram_auth = true;
		OPENSSL_cleanse(c->scram, sizeof(*c->scram));
		free(c->scram);
		c->scram = NULL;
		return finish(c);
	}
	default:
		lp_client_fail(c, "08P01", "unexpected password message");
		return -1;
	}
}
