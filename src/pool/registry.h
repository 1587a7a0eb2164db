/*
 * The registry: databases, users and pools of the instance, what a login
 * may refer to before and after it authenticated, and what a reload
 * changes (registry.c).
 */
#ifndef LP_POOL_REGISTRY_H
#define LP_POOL_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include "pool/pool.h"

/* The listed database of that name (not removed by a reload), or NULL:
 * never creates one. */
struct lp_db *lp_registry_find_db(struct lp_instance *inst, const char *name);
/* "pgbouncer" and "linkpool": the admin console, never a pooled database. */
bool lp_registry_console_name(const char *name);
/*
 * The database a login (or an auth_query lookup) asks for, before anyone
 * authenticated: the listed one, else a new unlisted one made from the '*'
 * entry, else an unlisted placeholder (db->unknown). Nothing a client sends
 * before authenticating adds to the registry. The caller holds a reference
 * and gives it back with lp_registry_db_release(). NULL: out of memory.
 */
struct lp_db *lp_registry_db_acquire(struct lp_instance *inst, const char *name);
/* Drops a reference; an unlisted database goes with its last. NULL: no-op. */
void lp_registry_db_release(struct lp_db *db);
/* After authentication only: the listed database of that name, else a new
 * auto-database from the '*' entry (*created set); NULL when there is none
 * (no '*', a console name, out of memory). */
struct lp_db *lp_registry_auto_db(struct lp_instance *inst, const char *name, bool *created);
/* Janitor: frees the auto-databases unused for autodb_idle_timeout (at once
 * if PostgreSQL never accepted a login to them) and the databases a reload
 * removed once unused, each with its pools and idle servers. */
void lp_registry_reap(struct lp_instance *inst, int64_t now);
/* pool_idle_timeout: frees the pools with no client, no server and no
 * auth_query lookup for that long (a pool with min_pool_size stays). */
void lp_registry_reap_pools(struct lp_instance *inst, int64_t now);
struct lp_user *lp_registry_find_user(struct lp_instance *inst, const char *name);
struct lp_user *lp_registry_get_user(struct lp_instance *inst, const char *name);
struct lp_pool *lp_registry_get_pool(struct lp_instance *inst, struct lp_db *db,
				     struct lp_user *user);
/* Applies a new generation: creates/updates/removes databases and users. */
void lp_registry_apply(struct lp_instance *inst);
void lp_registry_cleanup(struct lp_instance *inst);
/* The secret a user authenticates with: auth_file's, else auth_query's. */
const char *lp_user_secret(const struct lp_user *u);
/* The password a server login of u uses: lp_user_secret, else the one a
 * client proved by LDAP or PAM (ext_secret); NULL: none. */
const char *lp_user_server_secret(const struct lp_user *u);
/* Whether the user's secret is a SCRAM verifier; its parsed form into out
 * (may be NULL). Parsed once per secret text, not at every login. */
bool lp_user_scram(struct lp_user *u, struct lp_scram_secret *out);

#endif
