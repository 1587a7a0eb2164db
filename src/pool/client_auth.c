/*
 * Client authentication. A wrong password and an unknown user end the same
 * way -- same message, same exchange (SCRAM against a stable fake salt) --
 * so that nobody learns which user names exist.
 *
 * The method comes from auth_type, or with auth_type = hba from the first
 * matching auth_hba_file rule. TLS with clients starts here too (after an
 * SSLRequest), and SCRAM-SHA-256-PLUS is offered on TLS connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/md5.h"
#include "auth/random.h"
#include "auth/scram.h"
#include "net/tls.h"
#include "pool/auth_query.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/extauth.h"
#include "pool/registry.h"
#include "proto/proto.h"

/*
 * A refused password, or an unknown user: the same words either way. They
 * name the configured method (auth_type or the HBA rule), never the
 * exchange, which with md5 depends on the stored secret: scram-sha-256
 * fails as "SASL authentication failed" (PgBouncer's words), the others as
 * PostgreSQL says it.
 */
static int auth_failed(struct lp_client *c)
{
	if (c->sasl_method)
		lp_client_fail(c, "28P01", "SASL authentication failed for user \"%s\"", c->user_name);
	else
		lp_client_fail(c, "28P01", "password authentication failed for user \"%s\"",
			       c->user_name);
	return -1;
}

static struct lp_user *known_user(struct lp_client *c)
{
	struct lp_user *u = lp_registry_find_user(c->inst, c->user_name);
	if (!u)
		return NULL;
	if (u->in_auth_file)
		return lp_user_secret(u) ? u : NULL;
	return lp_authq_answered(c) && u->authq_secret ? u : NULL;
}

/*
 * The database of an authenticated login: only now does anyone learn
 * whether it exists or is disabled (PgBouncer's order), and only now does a
 * '*' name become an auto-database. NULL when c was refused.
 */
static struct lp_db *login_target(struct lp_client *c)
{
	struct lp_db *ldb = c->login_db;
	bool created = false;
	/* Listed at startup and still there: that one. Otherwise look again:
	 * a reload may have added the name or taken '*' away meanwhile. */
	struct lp_db *db = !ldb->unlisted && !ldb->removed
				   ? ldb
				   : lp_registry_auto_db(c->inst, c->db_name, &created);
	c->login_db = NULL;
	lp_registry_db_release(ldb);
	if (!db) {
		if (c->inst->cfg.s.log_connections)
			lp_client_log(c, LP_LOG_LOG, "login failed: db=%s user=%s", c->db_name,
				      c->user_name);
		lp_client_fail(c, "3D000", "no such database: %s", c->db_name);
		return NULL;
	}
	if (created)
		lp_client_log(c, LP_LOG_LOG, "registered new auto-database: db=%s", c->db_name);
	if (db->disabled) {
		lp_client_fail(c, "55000", "database \"%s\" is disabled", c->db_name);
		return NULL;
	}
	return db;
}

static int finish(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	c->auth = LP_AUTH_DONE;
	lp_authq_forget(c);             /* the answer was used */
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
	struct lp_db *db = login_target(c);
	if (!db)
		return -1;
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
		lp_build_auth_sasl(&w, lp_io_is_tls(&c->io));
	else
		lp_build_auth(&w, code, data, len);
	if (w.overflow || lp_io_send(&c->io, buf, w.len) < 0) {
		lp_client_close(c, "could not send authentication request");
		return -1;
	}
	return 0;
}

void lp_client_auth_stable_salt(const struct lp_instance *inst, const char *user, uint8_t salt[16])
{
	uint8_t mac[32];
	unsigned int mlen = sizeof(mac);
	HMAC(EVP_sha256(), inst->fake_salt_key, sizeof(inst->fake_salt_key), (const uint8_t *)user,
	     strlen(user), mac, &mlen);
	memcpy(salt, mac, 16);
}

static void stable_salt(struct lp_client *c, uint8_t salt[16])
{
	lp_client_auth_stable_salt(c->inst, c->user_name, salt);
}

static void fake_secret(struct lp_client *c, struct lp_scram_secret *sec)
{
	memset(sec, 0, sizeof(*sec));
	sec->iterations = c->inst->cfg.s.scram_iterations;
	sec->salt_len = 16;
	stable_salt(c, sec->salt);
	/* Keys nobody can match. */
	RAND_bytes(sec->stored_key, sizeof(sec->stored_key));
	RAND_bytes(sec->server_key, sizeof(sec->server_key));
}

/*
 * Spends what one SCRAM key derivation costs, for a failed login that did
 * not derive a key itself: an unknown user must cost what a known one does.
 */
static void burn_pbkdf2(struct lp_client *c, const char *pw)
{
	uint8_t salt[16];
	struct lp_scram_secret junk;
	stable_salt(c, salt);
	(void)lp_scram_secret_from_password(pw, salt, sizeof(salt), c->inst->cfg.s.scram_iterations,
					    &junk);
	OPENSSL_cleanse(&junk, sizeof(junk));
}

static int start_scram(struct lp_client *c)
{
	c->scram = calloc(1, sizeof(*c->scram));
	if (!c->scram) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	c->auth = LP_AUTH_WAIT_SCRAM_FIRST;
	return send_auth(c, 10, NULL, 0, true);
}

/*
 * A plain-text password (userlist.txt) gets a SCRAM secret derived once,
 * with the stable salt: a fresh random salt per attempt would tell a prober
 * the user exists (unknown users show a stable one), and a key derivation
 * per attempt would make known users measurably slower.
 */
static bool plain_scram_secret(struct lp_client *c, struct lp_user *u, struct lp_scram_secret *sec)
{
	const char *pw = lp_user_secret(u);
	uint8_t tag[32];
	unsigned int tlen = sizeof(tag);
	HMAC(EVP_sha256(), c->inst->fake_salt_key, sizeof(c->inst->fake_salt_key),
	     (const uint8_t *)pw, strlen(pw), tag, &tlen);
	int iters = c->inst->cfg.s.scram_iterations;
	if (!u->have_plain_scram || CRYPTO_memcmp(tag, u->plain_scram_tag, sizeof(tag)) != 0 ||
	    u->plain_scram.iterations != iters) {
		uint8_t salt[16];
		stable_salt(c, salt);
		if (!lp_scram_secret_from_password(pw, salt, sizeof(salt), iters, &u->plain_scram))
			return false;
		memcpy(u->plain_scram_tag, tag, sizeof(tag));
		u->have_plain_scram = true;
	}
	*sec = u->plain_scram;
	return true;
}

static bool scram_secret_for(struct lp_client *c, struct lp_user *u, struct lp_scram_secret *sec)
{
	if (u && lp_user_scram(u, sec))
		return true;
	if (u && !lp_md5_is_secret(lp_user_secret(u)))
		return plain_scram_secret(c, u, sec);
	fake_secret(c, sec);
	return true;
}

static bool is_unix(const struct lp_client *c)
{
	return c->addr_family == AF_UNIX;
}

/* auth_type = hba: the first matching rule (its method in *out); NULL when
 * refused. Valid for this call only (a reload swaps the rules). */
static const struct lp_hba_rule *hba_rule(struct lp_client *c, enum lp_auth_type *out)
{
	bool tls = lp_io_is_tls(&c->io);
	char addr[LP_ADDR_TEXT];
	lp_client_addr(c, addr);
	bool physical = c->replication == LP_REPL_PHYSICAL;
	const struct lp_hba_rule *r = lp_hba_match(&c->inst->sec.hba, is_unix(c) ? NULL : addr,
						   tls, c->db_name, c->user_name, physical);
	if (!r && physical) {
		/* PostgreSQL's words for a physical replication connection */
		lp_client_fail(c, "28000",
			       "no pg_hba.conf entry for replication connection from host \"%s\", "
			       "user \"%s\", %s",
			       addr, c->user_name, tls ? "SSL encryption" : "no encryption");
		return NULL;
	}
	if (!r) {
		lp_client_fail(c, "28000",
			       "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
			       addr, c->user_name, c->db_name, tls ? "SSL encryption" : "no encryption");
		return NULL;
	}
	lp_client_log(c, LP_LOG_DEBUG, "auth_hba_file line %d: %s", r->line,
		      lp_hba_method_name(r->method));
	switch (r->method) {
	case LP_HBA_TRUST: *out = LP_AUTH_TRUST; return r;
	case LP_HBA_PASSWORD: *out = LP_AUTH_PLAIN; return r;
	case LP_HBA_MD5: *out = LP_AUTH_MD5; return r;
	case LP_HBA_SCRAM: *out = LP_AUTH_SCRAM; return r;
	case LP_HBA_CERT: *out = LP_AUTH_CERT; return r;
	case LP_HBA_PEER: *out = LP_AUTH_PEER; return r;
	case LP_HBA_LDAP: *out = LP_AUTH_LDAP; return r;
	case LP_HBA_PAM: *out = LP_AUTH_PAM; return r;
	case LP_HBA_REJECT:
		break;
	}
	lp_client_fail(c, "28000",
		       "pg_hba.conf rejects connection for host \"%s\", user \"%s\", database \"%s\", %s",
		       addr, c->user_name, c->db_name, tls ? "SSL encryption" : "no encryption");
	return NULL;
}

/* Whether identity (a certificate's Common Name, a peer's OS user name) may
 * log in as c's user: the same name, or through map in auth_ident_file. */
static bool identity_ok(struct lp_client *c, const char *map, const char *identity)
{
	if (!map)
		return strcmp(identity, c->user_name) == 0;
	if (lp_ident_match(&c->inst->sec.ident, map, identity, c->user_name))
		return true;
	lp_client_log(c, LP_LOG_LOG, "ident map %s has no entry for %s as user %s", map, identity,
		      c->user_name);
	return false;
}

/* Certificate authentication: a verified client certificate whose Common
 * Name is the user name, or maps to it (map=). */
static int cert_auth(struct lp_client *c, const char *map)
{
	char cn[256];
	if (!lp_io_tls_peer_cn(&c->io, cn, sizeof(cn))) {
		lp_client_fail(c, "28000",
			       "certificate authentication failed for user \"%s\": no valid client certificate",
			       c->user_name);
		return -1;
	}
	if (!identity_ok(c, map, cn)) {
		lp_client_fail(c, "28000",
			       "certificate authentication failed for user \"%s\": certificate is for another user",
			       c->user_name);
		return -1;
	}
	return finish(c);
}

/*
 * Peer authentication: a unix socket client whose OS user (SO_PEERCRED) is
 * the user name, or maps to it (map=). The OS user's name is looked up at
 * each such login, as PgBouncer and PostgreSQL do.
 */
static int peer_auth(struct lp_client *c, const char *map)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (!is_unix(c)) {
		lp_client_log(c, LP_LOG_LOG, "peer authentication needs a unix socket connection");
	} else if (getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		lp_client_log(c, LP_LOG_WARNING, "peer authentication: no peer credentials");
	} else if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		lp_client_log(c, LP_LOG_LOG, "peer authentication: no OS user with uid %u",
			      (unsigned)cred.uid);
	} else if (identity_ok(c, map, res->pw_name)) {
		return finish(c);
	}
	lp_client_fail(c, "28000", "peer authentication failed for user \"%s\"", c->user_name);
	return -1;
}

static void client_tls_done(struct lp_io *io, const char *err)
{
	struct lp_client *c = io->owner;
	if (err) {
		lp_client_log(c, LP_LOG_WARNING, "%s", err);
		lp_client_close(c, err);
		return;
	}
	/* PostgreSQL 17's rule: a direct handshake names the protocol, so a
	 * TLS client of some other service cannot be pointed at this one. */
	if (c->tls_direct && !lp_io_tls_alpn_postgresql(io)) {
		lp_client_fail(c, "08P01", "received direct SSL connection request without ALPN "
					   "protocol negotiation extension");
		return;
	}
	lp_io_read_on(io);
	lp_client_kick(c);
}

int lp_client_tls_direct(struct lp_client *c)
{
	struct lp_tls_ctx *ctx = c->inst->sec.client_tls;
	uint8_t first;
	char err[300];

	if (!ctx || c->io.tls || c->io.got_input)
		return 0;
	/* Peeked, not read: OpenSSL reads the ClientHello from the socket. */
	if (recv(c->io.fd, &first, 1, MSG_PEEK) != 1 || first != 0x16)  /* TLS handshake record */
		return 0;
	c->tls_direct = true;
	if (lp_io_tls_accept(&c->io, ctx, client_tls_done, err, sizeof(err)) < 0)
		lp_client_close(c, err);
	return -1;
}

int lp_client_tls_start(struct lp_client *c)
{
	struct lp_tls_ctx *ctx = c->inst->sec.client_tls;
	char err[300];

	if (!ctx)
		return 0;
	if (lp_io_is_tls(&c->io)) {
		lp_client_fail(c, "08P01", "SSLRequest on an encrypted connection");
		return -1;
	}
	if (lp_io_send(&c->io, "S", 1) < 0 || !lp_io_drained(&c->io)) {
		lp_client_close(c, "could not answer SSLRequest");
		return -1;
	}
	if (lp_io_tls_accept(&c->io, ctx, client_tls_done, err, sizeof(err)) < 0)
		lp_client_close(c, err);
	return -1;
}

/*
 * auth_type = md5 asks SCRAM of users with a SCRAM secret, as PostgreSQL
 * does. An unknown user gets what most users get -- PostgreSQL picks by
 * password_encryption -- so the method is no hint either: SCRAM when the
 * secrets come from auth_query (PostgreSQL's default since 14) or when
 * SCRAM secrets are the majority in auth_file.
 */
static bool unknown_gets_scram(struct lp_client *c)
{
	const struct lp_userlist *ul = &c->inst->users_file;
	size_t scram = 0;
	if (lp_authq_configured(c))
		return true;
	for (size_t i = 0; i < ul->n; i++)
		scram += lp_scram_is_secret(ul->v[i].secret);
	return ul->n > 0 && 2 * scram >= ul->n;
}

int lp_client_auth_start(struct lp_client *c)
{
	struct lp_instance *inst = c->inst;
	const struct lp_settings *st = &inst->cfg.s;

	if (lp_registry_console_name(c->db_name)) {
		if (c->replication) {
			/* The console speaks no replication protocol. */
			lp_client_fail(c, "0A000",
				       "replication connections to the admin console are not supported");
			return -1;
		}
		c->admin = true;
	} else if (!c->login_db) {
		/* Whether the database exists or is disabled is told only
		 * after authentication (login_target): an unknown one
		 * gets a placeholder, so its exchange is any other's. Called
		 * again after an auth_query answer: acquired once. */
		c->login_db = lp_registry_db_acquire(inst, c->db_name);
		if (!c->login_db) {
			lp_client_fail(c, "53200", "out of memory");
			return -1;
		}
		/* Refused before the password exchange, as PgBouncer does (a
		 * placeholder or unlisted copy has no clients to count);
		 * checked again at login_ok, when the counts are final. */
		const char *limit = lp_client_limit_exceeded(c, c->login_db);
		if (limit) {
			lp_client_fail(c, "08P01", "client connections exceeded (%s)", limit);
			return -1;
		}
	}
	/* During a graceful shutdown only the console is let in (over the unix
	 * socket, the one listener left open). */
	if (inst->shutdown != LP_RUN && !c->admin) {
		lp_client_fail(c, "57P01", "pooler is shutting down");
		return -1;
	}
	if (st->client_tls_sslmode >= LP_SSLMODE_REQUIRE && !lp_io_is_tls(&c->io) && !is_unix(c)) {
		lp_client_fail(c, "28000", "SSL required");
		return -1;
	}
	if (c->admin && c->inst->console->peer_login(c))
		return c->state == LP_CL_JUSTFREE ? -1 : 0;
	enum lp_auth_type method = st->auth_type;
	const struct lp_hba_rule *rule = NULL;
	if (method == LP_AUTH_HBA && !(rule = hba_rule(c, &method)))
		return -1;
	c->sasl_method = method == LP_AUTH_SCRAM;
	struct lp_user *u = known_user(c);
	/* An unknown database has no server to ask unless auth_dbname names
	 * one: its user is then unknown too, as in PgBouncer. */
	bool lookup = lp_authq_configured(c) &&
		      !(c->login_db && c->login_db->unknown && !st->auth_dbname[0]);
	if (!u && !lp_authq_answered(c) && method != LP_AUTH_ANY && method != LP_AUTH_CERT &&
	    method != LP_AUTH_LDAP && method != LP_AUTH_PAM && lookup) {
		int r = lp_authq_lookup(c);
		if (r <= 0)
			return r;     /* waiting (called again with the answer), or closed */
		u = known_user(c);
	}
	switch (method) {
	case LP_AUTH_ANY:
		return finish(c);
	case LP_AUTH_TRUST:
		/* Trust tells who exists anyway (a known name gets in), so the
		 * refusal may say why, in PgBouncer's words. Without auth_file
		 * or auth_query there is no list of users: every name is let in. */
		if (!u && lookup && lp_authq_answered(c)) {
			lp_client_fail(c, "28000", "no such user");
			return -1;
		}
		if (!u && st->auth_file[0]) {
			lp_client_fail(c, "28000", "\"trust\" authentication failed");
			return -1;
		}
		return finish(c);
	case LP_AUTH_PLAIN:
		c->auth = LP_AUTH_WAIT_PASSWORD;
		return send_auth(c, 3, NULL, 0, false);
	case LP_AUTH_MD5:
		if (u ? lp_user_scram(u, NULL) : unknown_gets_scram(c))
			return start_scram(c);
		if (!lp_random_bytes(c->md5_salt, sizeof(c->md5_salt))) {
			lp_client_fail(c, "53200", "no randomness for the md5 salt");
			return -1;
		}
		c->auth = LP_AUTH_WAIT_MD5;
		return send_auth(c, 5, c->md5_salt, 4, false);
	case LP_AUTH_SCRAM:
		return start_scram(c);
	case LP_AUTH_CERT:
		return cert_auth(c, rule ? rule->map : NULL);
	case LP_AUTH_PEER:
		/* As trust, peer lets in only a user it knows of, if it knows any. */
		if (!u && (st->auth_file[0] || lookup)) {
			lp_client_fail(c, "28000", "peer authentication failed for user \"%s\"",
				       c->user_name);
			return -1;
		}
		return peer_auth(c, rule->map);
	case LP_AUTH_LDAP:
	case LP_AUTH_PAM:
		/* The password in clear text, as PgBouncer asks it: only the
		 * LDAP server or PAM can judge it (extauth.c). */
		if (lp_extauth_begin(c, method == LP_AUTH_PAM ? LP_EXTAUTH_PAM : LP_EXTAUTH_LDAP,
				     method == LP_AUTH_PAM ? NULL
				     : rule ? rule->ldap_opts : st->auth_ldap_options) < 0)
			return -1;
		c->auth = LP_AUTH_WAIT_EXT_PASSWORD;
		return send_auth(c, 3, NULL, 0, false);
	case LP_AUTH_HBA:
		break;
	}
	lp_client_fail(c, "28000", "auth_type %s is not available in this build",
		       lp_auth_type_name(st->auth_type));
	return -1;
}

/*
 * A failed plain-text check always costs one SCRAM key derivation: a
 * SCRAM-stored user spends it checking, an unknown user or an md5/plain
 * one spends it on the side, so a failure's timing says nothing.
 */
static bool check_plain(struct lp_client *c, struct lp_user *u, const char *pw)
{
	const char *secret = u ? lp_user_secret(u) : NULL;
	bool ok = false;

	struct lp_scram_secret stored, derived;
	if (u && lp_user_scram(u, &stored)) {
		if (!lp_scram_secret_from_password(pw, stored.salt, stored.salt_len, stored.iterations,
						   &derived))
			return false;
		ok = CRYPTO_memcmp(stored.stored_key, derived.stored_key, LP_SCRAM_KEY_LEN) == 0;
		OPENSSL_cleanse(&derived, sizeof(derived));
		return ok;
	}
	if (secret && lp_md5_is_secret(secret)) {
		char sec[LP_MD5_SECRET_LEN + 1];
		lp_md5_secret(c->user_name, pw, sec);
		ok = CRYPTO_memcmp(sec, secret, LP_MD5_SECRET_LEN) == 0;
	} else if (secret) {
		size_t a = strlen(secret), b = strlen(pw);
		ok = a == b && CRYPTO_memcmp(secret, pw, a) == 0;
	} else {
		/* The md5 a known user would cost. */
		char sec[LP_MD5_SECRET_LEN + 1];
		lp_md5_secret(c->user_name, pw, sec);
	}
	if (!ok)
		burn_pbkdf2(c, pw);
	return ok;
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
	case LP_AUTH_WAIT_EXT_PASSWORD: {
		const char *pw;
		if (lp_msg_parse_password(body, len, &pw, &err) != LP_PROTO_OK) {
			lp_client_fail(c, "08P01", "%s", err);
			return -1;
		}
		c->auth = LP_AUTH_WAIT_EXT;
		return lp_extauth_password(c, pw);
	}
	case LP_AUTH_WAIT_MD5: {
		const char *resp;
		if (lp_msg_parse_password(body, len, &resp, &err) != LP_PROTO_OK) {
			lp_client_fail(c, "08P01", "%s", err);
			return -1;
		}
		/* An unknown user is checked against a made-up secret, so that
		 * it costs what a wrong password does. */
		if (!lp_md5_verify(u ? lp_user_secret(u) : "md50123456789abcdef0123456789abcdef",
				   c->user_name, c->md5_salt, resp) || !u)
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
		bool tls = lp_io_is_tls(&c->io);
		bool plus = tls && strcmp(mech, "SCRAM-SHA-256-PLUS") == 0;
		if (strcmp(mech, "SCRAM-SHA-256") != 0 && !plus) {
			lp_client_fail(c, "28000", "client selected an invalid SASL authentication mechanism");
			return -1;
		}
		uint8_t cb[LP_SCRAM_CBIND_MAX];
		size_t cblen = 0;
		if (tls && !lp_io_tls_server_end_point(&c->io, cb, sizeof(cb), &cblen)) {
			if (plus) {
				lp_client_fail(c, "08P01", "could not compute channel binding data");
				return -1;
			}
			tls = false;
		}
		(void)lp_scram_server_set_channel_binding(c->scram, tls, plus, cb, cblen);
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
		if (c->scram->have_client_key && lp_user_scram(u, NULL)) {
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

/*
 * The answer of c's LDAP or PAM check (extauth.c, from the loop). A wrong
 * password, an unknown user and a refused user name end alike; the log
 * line says which (detail never holds a password). A proven password
 * becomes the user's server password (PgBouncer keeps it the same way),
 * replacing an older one.
 */
int lp_client_auth_external_done(struct lp_client *c, enum lp_ext_result r, const char *detail,
				 const char *password)
{
	const char *what = c->extauth_pam ? "PAM" : "LDAP";
	switch (r) {
	case LP_EXT_OK:
		break;
	case LP_EXT_UNAVAILABLE:
		lp_client_log(c, LP_LOG_WARNING, "%s authentication of user \"%s\": %s", what,
			      c->user_name, detail);
		lp_client_fail(c, "08006", "%s", c->extauth_pam ? "PAM authentication unavailable"
								: "LDAP server unavailable");
		return -1;
	case LP_EXT_DENIED:
	case LP_EXT_ERROR:
		lp_client_log(c, r == LP_EXT_ERROR ? LP_LOG_WARNING : LP_LOG_LOG,
			      "%s authentication failed for user \"%s\": %s", what, c->user_name,
			      detail);
		lp_client_fail(c, "28P01", "%s authentication failed for user \"%s\"", what,
			       c->user_name);
		return -1;
	}
	struct lp_user *u = lp_registry_get_user(c->inst, c->user_name);
	char *copy = password ? strdup(password) : NULL;
	if (!u || !copy) {
		free(copy);
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	if (u->ext_secret) {
		OPENSSL_cleanse(u->ext_secret, strlen(u->ext_secret));
		free(u->ext_secret);
	}
	u->ext_secret = copy;
	int rc = finish(c);
	if (rc == 0)
		lp_client_kick(c);
	return rc;
}
