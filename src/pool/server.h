/*
 * Server connections (server.c): connect and log in, forward the backend's
 * messages to the linked client through the message loop, run the
 * pooler's own queries.
 */
#ifndef LP_POOL_SERVER_H
#define LP_POOL_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "pool/pool.h"

struct lp_server *lp_server_connect(struct lp_pool *pool);
/* A server of pool for replication client c alone (replication.h), linked
 * to it from the start; NULL when it failed at once (c was told). */
struct lp_server *lp_server_connect_replication(struct lp_pool *pool, struct lp_client *c);
/* Makes s's request ring bigger; false at LP_TRACK_MAX or out of memory. */
bool lp_server_track_grow(struct lp_server *s);
void lp_server_close(struct lp_server *s, const char *reason);
/* Every server of db's pools (db NULL: of every pool) connected to host
 * host_idx of its list (-1: any host) is retired: the idle ones close now
 * with reason, the others when next released (close_needed). RECONNECT,
 * a changed database entry and a lagging replica all end servers so. */
void lp_server_retire(struct lp_instance *inst, const struct lp_db *db, int host_idx,
		      const char *reason);
/* A logging-in server could not reach its host. With another host of the
 * database's list left to try, closes it with reason, posts a connection to
 * the next host and returns true; false: every host failed (or there is
 * only one), and the caller's failure path runs. */
bool lp_server_host_failed(struct lp_server *s, const char *reason, const char *msg);

/* The host a connection uses as SHOW SERVERS / FDS show it ("unix" for a
 * unix socket). */
static inline const char *lp_server_host_text(const struct lp_server *s)
{
	return s->host[0] && s->host[0] != '/' ? s->host : "unix";
}
/* Runs sql as a pooler query; done() is called when it finishes. */
void lp_server_internal(struct lp_server *s, const char *sql,
			void (*done)(struct lp_server *s, bool ok));
/* The same over the extended protocol with one text parameter ($1); row()
 * gets each DataRow body of the answer. */
void lp_server_internal_param(struct lp_server *s, const char *sql, const char *param,
			      void (*done)(struct lp_server *s, bool ok),
			      void (*row)(struct lp_server *s, const uint8_t *body, uint32_t len));
/* The end of a login once the server answered (after probe.c's questions):
 * its role for target_session_attrs, then connect_query. -1 when s was
 * closed. */
int lp_server_login_checks(struct lp_server *s);
/* Fails a login with code and msg (the clients waiting hear it). -1. */
int lp_server_login_fail(struct lp_server *s, const char *code, const char *msg);
void lp_server_kick(struct lp_server *s);
void lp_server_free(struct lp_server *s);
/* Online restart (takeover.c): a logged-in server connection handed over
 * with fd, IDLE in pool; the caller restores its parameters, tracker and
 * times, and links it to its client. */
struct lp_server *lp_server_adopt(struct lp_pool *pool, int fd, uint64_t id);
/* A non-blocking socket connected (in progress) to sa with the TCP options
 * of s's pool, or -1 with errno. */
int lp_server_open_socket(const struct lp_server *s, const struct sockaddr *sa, socklen_t len);

#endif
