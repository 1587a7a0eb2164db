/*
 * Registry of databases, users and pools. Objects live as long as anything
 * refers to them: a database or user removed by a reload is flagged, not
 * freed, so connected clients keep working until they leave.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/hash.h"
#include "core/log.h"
#include "pool/auth_query.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/hosts.h"
#include "pool/registry.h"
#include "pool/server.h"

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void db_conf_free(struct lp_db_conf *c)
{
	free(c->name);
	free(c->host);
	free(c->dbname);
	free(c->user);
	free(c->password);
	free(c->auth_user);
	free(c->auth_query);
	free(c->auth_dbname);
	free(c->connect_query);
	free(c->client_encoding);
	free(c->datestyle);
	free(c->timezone);
	free(c->application_name);
	free(c->file);
	memset(c, 0, sizeof(*c));
}

static void db_conf_copy(struct lp_db_conf *dst, const struct lp_db_conf *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->host = xstrdup(src->host);
	dst->dbname = xstrdup(src->dbname);
	dst->user = xstrdup(src->user);
	dst->password = xstrdup(src->password);
	dst->auth_user = xstrdup(src->auth_user);
	dst->auth_query = xstrdup(src->auth_query);
	dst->auth_dbname = xstrdup(src->auth_dbname);
	dst->connect_query = xstrdup(src->connect_query);
	dst->client_encoding = xstrdup(src->client_encoding);
	dst->datestyle = xstrdup(src->datestyle);
	dst->timezone = xstrdup(src->timezone);
	dst->application_name = xstrdup(src->application_name);
	dst->file = xstrdup(src->file);
}

static bool streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Changes that make existing server connections wrong for the entry. */
static bool db_conn_changed(const struct lp_db_conf *a, const struct lp_db_conf *b)
{
	return !streq(a->host, b->host) || a->port != b->port || !streq(a->dbname, b->dbname) ||
	       !streq(a->user, b->user) || !streq(a->password, b->password) ||
	       !streq(a->connect_query, b->connect_query) ||
	       a->target_session_attrs != b->target_session_attrs;
}

static void db_free(struct lp_db *db)
{
	lp_hosts_reset(db);
	db_conf_free(&db->conf);
	free(db->name);
	free(db);
}

/* dc's settings (NULL: none) for the database called name: the '*' entry
 * serves every name, and dbname defaults to the name. */
static void db_conf_named(struct lp_db_conf *dst, const struct lp_db_conf *dc, const char *name)
{
	memset(dst, 0, sizeof(*dst));
	if (dc)
		db_conf_copy(dst, dc);
	free(dst->name);
	dst->name = strdup(name);
	if (!dst->dbname)
		dst->dbname = strdup(name);
}

/* A database called name with dc's settings (NULL: none, a placeholder). */
static struct lp_db *db_new(const struct lp_db_conf *dc, const char *name)
{
	struct lp_db *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	db_conf_named(&db->conf, dc, name);
	db->name = strdup(name);
	if (!db->conf.name || !db->conf.dbname || !db->name) {
		db_free(db);
		return NULL;
	}
	return db;
}

/*
 * The index of listed, not removed databases by name: a chained hash table
 * (inst->db_index), so that each login finds its database in one probe
 * however many the ini has. The names come from the configuration or, for
 * auto-databases, from logins that passed authentication; a name chosen to
 * collide makes its chain longer, never longer than the list walk it
 * replaces. index_add() and index_del() follow every change of the list or
 * of db->removed.
 */
static struct lp_db **index_bucket(struct lp_instance *inst, const char *name)
{
	return &inst->db_index[lp_hash_str(name) & (inst->db_index_cap - 1)];
}

/* db at the head of its bucket's chain (the index exists). */
static void index_push(struct lp_instance *inst, struct lp_db *db)
{
	struct lp_db **b = index_bucket(inst, db->name);
	db->index_next = *b;
	*b = db;
	db->indexed = true;
	inst->db_index_n++;
}

/* Builds the index anew from the list at cap buckets; when memory ran out
 * there is no index, and lookups walk the list. */
static void index_rebuild(struct lp_instance *inst, uint32_t cap)
{
	struct lp_list_node *n, *t;
	free(inst->db_index);
	inst->db_index_n = 0;
	inst->db_index_cap = 0;
	inst->db_index = calloc(cap, sizeof(*inst->db_index));
	if (inst->db_index)
		inst->db_index_cap = cap;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		db->indexed = false;
		if (db->removed || !inst->db_index)
			continue;
		index_push(inst, db);
	}
}

/* db is in inst->dbs and not removed: from now on lookups find it. */
static void index_add(struct lp_instance *inst, struct lp_db *db)
{
	if (db->indexed || db->removed)
		return;
	/* At most two databases per bucket on average; a table that could
	 * not be made is tried again here, from the whole list. */
	if (!inst->db_index || (inst->db_index_n + 1) * 2 > inst->db_index_cap) {
		uint32_t cap = inst->db_index_cap ? inst->db_index_cap : 16;
		while ((inst->db_index_n + 1) * 2 > cap && cap < (1u << 30))
			cap *= 2;
		index_rebuild(inst, cap);       /* takes db too */
		return;
	}
	index_push(inst, db);
}

/* db is about to leave inst->dbs or be flagged removed. */
static void index_del(struct lp_instance *inst, struct lp_db *db)
{
	if (!db->indexed)
		return;
	for (struct lp_db **p = index_bucket(inst, db->name); *p; p = &(*p)->index_next) {
		if (*p == db) {
			*p = db->index_next;
			break;
		}
	}
	db->indexed = false;
	db->index_next = NULL;
	inst->db_index_n--;
}

struct lp_db *lp_registry_find_db(struct lp_instance *inst, const char *name)
{
	if (inst->db_index) {
		for (struct lp_db *db = *index_bucket(inst, name); db; db = db->index_next)
			if (strcmp(db->name, name) == 0)
				return db;
		return NULL;
	}
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		if (!db->removed && strcmp(db->name, name) == 0)
			return db;
	}
	return NULL;
}

bool lp_registry_console_name(const char *name)
{
	return strcmp(name, "pgbouncer") == 0 || strcmp(name, "linkpool") == 0;
}

/* The '*' entry, unless name is reserved for the console. */
static const struct lp_db_conf *wildcard_for(struct lp_instance *inst, const char *name)
{
	return lp_registry_console_name(name) ? NULL : lp_config_find_db(&inst->cfg, "*");
}

struct lp_db *lp_registry_db_acquire(struct lp_instance *inst, const char *name)
{
	struct lp_db *db = lp_registry_find_db(inst, name);
	if (!db) {
		const struct lp_db_conf *wild = wildcard_for(inst, name);
		db = db_new(wild, name);
		if (!db)
			return NULL;
		db->unlisted = true;
		db->unknown = !wild;
		db->from_wildcard = wild != NULL;
	}
	db->refs++;
	return db;
}

void lp_registry_db_release(struct lp_db *db)
{
	if (db && --db->refs <= 0 && db->unlisted)
		db_free(db);
}

struct lp_db *lp_registry_auto_db(struct lp_instance *inst, const char *name, bool *created)
{
	struct lp_db *db = lp_registry_find_db(inst, name);
	*created = false;
	if (db)
		return db;
	const struct lp_db_conf *wild = wildcard_for(inst, name);
	if (!wild || !(db = db_new(wild, name)))
		return NULL;
	db->from_wildcard = true;
	lp_list_append(&inst->dbs, &db->node);
	index_add(inst, db);
	*created = true;
	return db;
}

struct lp_user *lp_registry_find_user(struct lp_instance *inst, const char *name)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->users, n, t) {
		struct lp_user *u = lp_container_of(n, struct lp_user, node);
		if (strcmp(u->name, name) == 0)
			return u;
	}
	return NULL;
}

static void user_conf_reset(struct lp_user *u, const struct lp_config *cfg)
{
	const struct lp_user_conf *uc = lp_config_find_user(cfg, u->name);
	u->conf.pool_mode = uc ? uc->pool_mode : -1;
	u->conf.max_user_connections = uc ? uc->max_user_connections : -1;
	u->conf.pool_size = uc ? uc->pool_size : -1;
	u->conf.reserve_pool_size = uc ? uc->reserve_pool_size : -1;
	u->conf.max_user_client_connections = uc ? uc->max_user_client_connections : -1;
	u->conf.query_timeout = uc ? uc->query_timeout : -1;
	u->conf.idle_transaction_timeout = uc ? uc->idle_transaction_timeout : -1;
	u->conf.client_idle_timeout = uc ? uc->client_idle_timeout : -1;
	u->conf.transaction_timeout = uc ? uc->transaction_timeout : -1;
	u->conf.query_wait_timeout = uc ? uc->query_wait_timeout : -1;
}

struct lp_user *lp_registry_get_user(struct lp_instance *inst, const char *name)
{
	struct lp_user *u = lp_registry_find_user(inst, name);
	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->name = strdup(name);
	if (!u->name) {
		free(u);
		return NULL;
	}
	user_conf_reset(u, &inst->cfg);
	lp_list_append(&inst->users, &u->node);
	return u;
}

static void pool_init(struct lp_pool *p, struct lp_instance *inst, struct lp_db *db,
		      struct lp_user *user)
{
	p->inst = inst;
	p->db = db;
	p->user = user;
	lp_list_init(&p->active_clients);
	lp_list_init(&p->waiting_clients);
	lp_list_init(&p->idle_servers);
	lp_list_init(&p->used_servers);
	lp_list_init(&p->active_servers);
	lp_list_init(&p->login_servers);
	lp_list_node_init(&p->grow_node);
}

struct lp_pool *lp_registry_get_pool(struct lp_instance *inst, struct lp_db *db,
				     struct lp_user *user)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->db == db && p->user == user)
			return p;
	}
	struct lp_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pool_init(p, inst, db, user);
	lp_list_append(&inst->pools, &p->node);
	return p;
}

/* Frees a pool nothing uses any more (lp_registry_reap): no client, no
 * server but idle ones (closed first), no auth_query lookup. */
static void pool_free(struct lp_pool *p)
{
	struct lp_list_node *n, *t;
	/* An auth_query answer is valid for the pool that gave it: a pool
	 * made later at the same address must not inherit it. */
	lp_list_foreach_safe(&p->inst->users, n, t) {
		struct lp_user *u = lp_container_of(n, struct lp_user, node);
		if (u->authq_pool == p)
			u->authq_pool = NULL;
	}
	lp_link_forget_pool(p);
	lp_authq_pool_free(p);
	lp_params_clear(&p->welcome);
	free(p->welcome_msgs);
	free(p);
}

/* Marks db->reap_busy on every database something still uses; true when
 * some database may be reaped at all. Idle servers are no use: an
 * auto-database nobody connects to goes with them. */
static bool mark_busy(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	bool candidates = false;
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		/* PAUSE and DISABLE of an auto-database stay until RESUME/ENABLE */
		db->reap_busy = db->refs > 0 || db->client_count > 0 ||
				(!db->removed && (db->paused || db->disabled));
		db->reap_proven = false;
		candidates = candidates || db->removed || db->from_wildcard;
	}
	if (!candidates)
		return false;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->active_clients.count || p->waiting_clients.count ||
		    lp_pool_server_total(p) > p->idle_servers.count || lp_authq_busy(p))
			p->db->reap_busy = true;
		if (p->last_login_ok_us)
			p->db->reap_proven = true;
	}
	lp_list_foreach_safe(&inst->admin_clients, n, t) {
		struct lp_client *a = lp_container_of(n, struct lp_client, node);
		if (a->admin_wait_db)
			a->admin_wait_db->reap_busy = true;   /* a PAUSE/WAIT_CLOSE on it */
	}
	return true;
}

static void db_reap(struct lp_instance *inst, struct lp_db *db, const char *why)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_log_info("%s %s freed: %s", db->removed ? "database" : "auto-database", db->name, why);
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->db != db)
			continue;
		lp_list_foreach_safe(&p->idle_servers, m, mt)
			lp_server_close(lp_container_of(m, struct lp_server, node), "database removed");
		lp_list_remove(&inst->pools, n);
		pool_free(p);
	}
	if (db->idle_since_us)
		lp_list_remove(&inst->idle_dbs, &db->idle_node);
	index_del(inst, db);
	lp_list_remove(&inst->dbs, &db->node);
	db_free(db);
}

void lp_registry_reap(struct lp_instance *inst, int64_t now)
{
	const struct lp_settings *s = &inst->cfg.s;
	struct lp_list_node *n, *t;

	if (!mark_busy(inst))
		return;
	/* inst->idle_dbs follows use; appended in tick order, it stays sorted
	 * by idle_since_us, longest unused first. */
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		bool idle = (db->removed || db->from_wildcard) && !db->reap_busy;
		if (!idle) {
			if (db->idle_since_us)
				lp_list_remove(&inst->idle_dbs, &db->idle_node);
			db->idle_since_us = 0;
			continue;
		}
		if (!db->idle_since_us) {
			db->idle_since_us = now;
			lp_list_append(&inst->idle_dbs, &db->idle_node);
		}
		/* An auto-database PostgreSQL never let anyone into (a made-up
		 * name, most likely) goes at once: what is kept for
		 * autodb_idle_timeout is bounded by the databases PostgreSQL
		 * really has, and by autodb_idle_max. */
		if (db->removed)
			db_reap(inst, db, "removed by reload and unused");
		else if (!db->reap_proven)
			db_reap(inst, db, "unused, and no server login to it ever succeeded");
	}
	while ((n = lp_list_first(&inst->idle_dbs))) {
		struct lp_db *db = lp_container_of(n, struct lp_db, idle_node);
		bool expired = s->autodb_idle_timeout > 0 &&
			       now - db->idle_since_us >= s->autodb_idle_timeout;
		bool over = s->autodb_idle_max > 0 && inst->idle_dbs.count > s->autodb_idle_max;
		if (!expired && !over)
			break;
		db_reap(inst, db, expired ? "unused for autodb_idle_timeout"
					  : "more unused auto-databases than autodb_idle_max");
	}
}

/* The pool's min_pool_size: its database's, else the global one. */
static int pool_min_size(const struct lp_pool *p)
{
	int m = p->db->conf.min_pool_size;
	return m >= 0 ? m : p->inst->cfg.s.min_pool_size;
}

void lp_registry_reap_pools(struct lp_instance *inst, int64_t now)
{
	int64_t timeout = inst->cfg.s.pool_idle_timeout;
	struct lp_list_node *n, *t;

	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		/* min_pool_size keeps a pool however long it has no server
		 * (a database that refuses logins, say) */
		bool idle = timeout > 0 && !p->active_clients.count && !p->waiting_clients.count &&
			    !lp_pool_server_total(p) && !lp_authq_busy(p) && pool_min_size(p) == 0;
		if (!idle) {
			p->idle_since_us = 0;
			continue;
		}
		if (!p->idle_since_us) {
			p->idle_since_us = now;
			continue;
		}
		if (now - p->idle_since_us < timeout)
			continue;
		lp_log_info("cleaning up idle pool %s/%s", p->db->name, p->user->name);
		lp_list_remove(&inst->pools, n);
		pool_free(p);
	}
}

const char *lp_user_secret(const struct lp_user *u)
{
	return u->in_auth_file ? u->secret : u->authq_secret;
}

const char *lp_user_server_secret(const struct lp_user *u)
{
	const char *s = lp_user_secret(u);
	return s ? s : u->ext_secret;
}

/* A parsed verifier with the text it came from: a reload or an auth_query
 * answer that changes the secret, at whatever address, is parsed again. */
struct lp_user_scram {
	bool ok;                        /* the text is a SCRAM verifier */
	struct lp_scram_secret sec;
	size_t len;
	char src[];
};

static void user_scram_drop(struct lp_user *u)
{
	struct lp_user_scram *k = u->scram_cache;
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof(*k) + k->len + 1);
	free(k);
	u->scram_cache = NULL;
}

bool lp_user_scram(struct lp_user *u, struct lp_scram_secret *out)
{
	const char *s = lp_user_secret(u);
	if (!s)
		return false;
	struct lp_user_scram *k = u->scram_cache;
	size_t len = strlen(s);
	/* memcmp, not CRYPTO_memcmp: both sides are stored secrets, no
	 * client input, so its timing tells a client nothing. */
	if (!k || k->len != len || memcmp(k->src, s, len) != 0) {
		user_scram_drop(u);
		k = malloc(sizeof(*k) + len + 1);
		if (!k)         /* no cache: parse this once */
			return out ? lp_scram_parse_secret(s, out) : lp_scram_is_secret(s);
		k->ok = lp_scram_parse_secret(s, &k->sec);
		k->len = len;
		memcpy(k->src, s, len + 1);
		u->scram_cache = k;
	}
	if (k->ok && out)
		*out = k->sec;
	return k->ok;
}

static void pool_mark_reconnect(struct lp_instance *inst, struct lp_db *db)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (p->db == db)
			p->welcome_ready = false;
	}
	lp_server_retire(inst, db, -1, "database changed");
}

void lp_registry_apply(struct lp_instance *inst)
{
	const struct lp_config *cfg = &inst->cfg;
	struct lp_list_node *n, *t;

	/* Which [databases] entries have a database already, by entry index:
	 * found while walking the databases once, so that a reload of N
	 * entries takes N lookups, not N walks of the list. */
	bool *present = calloc(cfg->ndbs ? cfg->ndbs : 1, sizeof(*present));

	/* Existing databases: update, or flag removed. */
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *db = lp_container_of(n, struct lp_db, node);
		const struct lp_db_conf *nc = lp_config_find_db(cfg, db->name);
		if (nc && present)
			present[nc - cfg->dbs] = true;
		if (nc)
			db->from_wildcard = false;      /* now an entry of its own */
		else if (db->from_wildcard)
			nc = lp_config_find_db(cfg, "*");
		/* A removed one whose name another database took meanwhile
		 * stays removed: one listed database per name. */
		if (nc && db->removed && lp_registry_find_db(inst, db->name))
			nc = NULL;
		if (!nc) {
			if (!db->removed)
				lp_log_info("database %s removed by reload", db->name);
			index_del(inst, db);
			db->removed = true;
			pool_mark_reconnect(inst, db);
			continue;
		}
		struct lp_db_conf tmp;
		db_conf_named(&tmp, nc, db->name);
		bool changed = db_conn_changed(&db->conf, &tmp);
		db_conf_free(&db->conf);
		db->conf = tmp;
		db->removed = false;
		index_add(inst, db);
		if (changed) {
			lp_hosts_reset(db);
			lp_log_info("database %s changed: servers reconnect when released", db->name);
			pool_mark_reconnect(inst, db);
		}
	}
	/* New databases. */
	for (size_t i = 0; i < cfg->ndbs; i++) {
		const struct lp_db_conf *dc = &cfg->dbs[i];
		if (strcmp(dc->name, "*") == 0)
			continue;
		bool found = present && present[i];
		if (!present)   /* out of memory for the index: walk the list */
			lp_list_foreach_safe(&inst->dbs, n, t) {
				struct lp_db *db = lp_container_of(n, struct lp_db, node);
				if (strcmp(db->name, dc->name) == 0) {
					found = true;
					break;
				}
			}
		if (found)
			continue;
		struct lp_db *db = db_new(dc, dc->name);
		if (db) {
			lp_list_append(&inst->dbs, &db->node);
			index_add(inst, db);
		}
	}
	free(present);
	/* Users: secrets from the auth_file, settings from [users]. */
	lp_list_foreach_safe(&inst->users, n, t) {
		struct lp_user *u = lp_container_of(n, struct lp_user, node);
		const struct lp_userlist_entry *e = lp_userlist_find(&inst->users_file, u->name);
		if (!e || !u->secret || strcmp(e->secret, u->secret) != 0)
			u->have_client_key = false;
		free(u->secret);
		u->secret = e ? strdup(e->secret) : NULL;
		u->in_auth_file = e != NULL;
		user_conf_reset(u, cfg);
	}
	for (size_t i = 0; i < inst->users_file.n; i++) {
		const struct lp_userlist_entry *e = &inst->users_file.v[i];
		if (lp_registry_find_user(inst, e->name))
			continue;
		struct lp_user *u = lp_registry_get_user(inst, e->name);
		if (!u)
			continue;
		u->secret = strdup(e->secret);
		u->in_auth_file = true;
	}
	/* A [users] entry is a user SHOW USERS lists (with its limits and
	 * counts) whether or not the auth_file has it, as in PgBouncer. */
	for (size_t i = 0; i < cfg->nusers; i++)
		(void)lp_registry_get_user(inst, cfg->users[i].name);
}

void lp_registry_cleanup(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		lp_list_remove(&inst->pools, n);
		pool_free(p);
	}
	lp_list_foreach_safe(&inst->dbs, n, t) {
		lp_list_remove(&inst->dbs, n);
		db_free(lp_container_of(n, struct lp_db, node));
	}
	free(inst->db_index);
	inst->db_index = NULL;
	inst->db_index_cap = inst->db_index_n = 0;
	lp_list_foreach_safe(&inst->users, n, t) {
		struct lp_user *u = lp_container_of(n, struct lp_user, node);
		lp_list_remove(&inst->users, n);
		if (u->secret)
			memset(u->secret, 0, strlen(u->secret));
		free(u->secret);
		if (u->authq_secret)
			memset(u->authq_secret, 0, strlen(u->authq_secret));
		free(u->authq_secret);
		if (u->ext_secret)
			memset(u->ext_secret, 0, strlen(u->ext_secret));
		free(u->ext_secret);
		explicit_bzero(&u->plain_scram, sizeof(u->plain_scram));
		user_scram_drop(u);
		free(u->name);
		free(u);
	}
}
