/*
 * Operator actions on pools (control.h). Each is a few list walks over the
 * pools in scope; servers linked to a client are never closed here, only
 * marked to close at their release.
 */
#include "pool/control.h"

#include <sys/ioctl.h>

#include "core/log.h"
#include "pool/client.h"
#include "pool/link.h"
#include "pool/server.h"

static bool in_scope(const struct lp_pool *p, const struct lp_db *db)
{
	return !db || p->db == db;
}

/* The four server lists of a pool, for walks over every server. */
#define POOL_SERVER_LISTS(p) { &(p)->idle_servers, &(p)->used_servers, &(p)->active_servers, \
			       &(p)->login_servers }

void lp_control_pause(struct lp_instance *inst, struct lp_db *db)
{
	if (!db) {
		lp_instance_pause(inst);
		return;
	}
	db->paused = true;
}

bool lp_control_resume(struct lp_instance *inst, struct lp_db *db)
{
	struct lp_list_node *n, *t;
	bool any;
	if (db) {
		any = db->paused;
		db->paused = false;
	} else {
		/* Undoes PAUSE, SUSPEND and KILL (which pauses databases). */
		any = inst->paused;
		lp_list_foreach_safe(&inst->dbs, n, t) {
			struct lp_db *d = lp_container_of(n, struct lp_db, node);
			any = any || d->paused;
			d->paused = false;
		}
	}
	if (any)
		lp_instance_resume(inst);     /* clears inst->paused, dispatches every pool */
	return any;
}

void lp_control_suspend(struct lp_instance *inst)
{
	inst->suspended = true;
	inst->paused = true;
	inst->suspend_start_us = lp_now_us();
	lp_instance_accepting(inst, false);
	(void)lp_control_suspend_done(inst);
}

bool lp_control_db_paused(const struct lp_instance *inst, const struct lp_db *db)
{
	struct lp_list_node *n, *t;
	if (db)
		return db->paused;
	lp_list_foreach_safe(&inst->dbs, n, t)
		if (lp_container_of(n, struct lp_db, node)->paused)
			return true;
	return false;
}

void lp_control_disable(struct lp_db *db, bool disabled)
{
	db->disabled = disabled;
}

void lp_control_reconnect(struct lp_instance *inst, struct lp_db *db)
{
	lp_server_retire(inst, db, -1, "reconnect needed");
}

static void kill_pool(struct lp_pool *p)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&p->active_clients, n, t)
		lp_client_fail(lp_container_of(n, struct lp_client, node), "57P01",
			       "database killed by the administrator (KILL)");
	lp_list_foreach_safe(&p->waiting_clients, n, t)
		lp_client_fail(lp_container_of(n, struct lp_client, node), "57P01",
			       "database killed by the administrator (KILL)");
	struct lp_list *lists[] = POOL_SERVER_LISTS(p);
	for (size_t i = 0; i < 4; i++)
		lp_list_foreach_safe(lists[i], n, t)
			lp_server_close(lp_container_of(n, struct lp_server, node), "KILL");
}

void lp_control_kill(struct lp_instance *inst, struct lp_db *db)
{
	struct lp_list_node *n, *t;
	/* New clients of a killed database wait for RESUME. */
	lp_list_foreach_safe(&inst->dbs, n, t) {
		struct lp_db *d = lp_container_of(n, struct lp_db, node);
		if (!db || d == db)
			d->paused = true;
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (in_scope(p, db))
			kill_pool(p);
	}
}

/* PAUSE: servers go as soon as they are not linked to a client. */
static void drain_pool(struct lp_pool *p)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&p->idle_servers, n, t)
		lp_server_close(lp_container_of(n, struct lp_server, node), "pause mode");
	lp_list_foreach_safe(&p->used_servers, n, t) {
		struct lp_server *s = lp_container_of(n, struct lp_server, node);
		if (s->state == LP_SV_USED && !s->client)
			lp_server_close(s, "pause mode");
	}
}

void lp_control_progress(struct lp_instance *inst)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (lp_pool_draining(p)) {
			drain_pool(p);
			continue;
		}
		/* RECONNECT: servers that finished logging in meanwhile. */
		lp_list_foreach_safe(&p->idle_servers, m, mt) {
			struct lp_server *s = lp_container_of(m, struct lp_server, node);
			if (s->close_needed)
				lp_server_close(s, "reconnect needed");
		}
	}
}

bool lp_control_pause_done(const struct lp_instance *inst, const struct lp_db *db)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (in_scope(p, db) && lp_pool_server_total(p) > 0)
			return false;
	}
	return true;
}

bool lp_control_close_done(const struct lp_instance *inst, const struct lp_db *db)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		if (!in_scope(p, db))
			continue;
		struct lp_list *lists[] = POOL_SERVER_LISTS(p);
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(lists[i], m, mt)
				if (lp_container_of(m, struct lp_server, node)->close_needed)
					return false;
	}
	return true;
}

/* Nothing of io's is inside the pooler: what was read was passed on, what
 * was to be written is written, no message is half-way through. */
static bool io_at_rest(const struct lp_io *io)
{
	return io->fd >= 0 && !io->dead && io->start == io->end && io->pkt_remain == 0 &&
	       !io->hdr_held && lp_io_drained(io) && !(io->out && io->out->flush_src) &&
	       !io->tr->unsent(io) && !io->tr->pending(io) && !io->tls_done;
}

bool lp_control_client_at_rest(const struct lp_client *c)
{
	return c->state == LP_CL_ACTIVE && !c->admin && !c->closing && io_at_rest(&c->io) &&
	       !(c->server && c->server->release_pending);
}

bool lp_control_server_at_rest(const struct lp_server *s)
{
	if (s->state == LP_SV_ACTIVE) {
		if (!s->client)
			return false;
	} else if (s->state != LP_SV_IDLE) {
		return false;
	}
	return s->ready && io_at_rest(&s->io) && !s->release_pending && !s->release_parked &&
	       !s->cancel_in_flight && !s->client_waits_room && !s->tls_answer_pending;
}

/*
 * SUSPEND's progress, PgBouncer's order: each pooled client is parked (no
 * longer read) once it is at rest; when every client is, each server at
 * rest is parked too (servers go on forwarding answers until then). Those
 * still busy after suspend_timeout are closed. True when all is parked: the
 * sockets can be handed to another process (online restart).
 */
bool lp_control_suspend_done(struct lp_instance *inst)
{
	const struct lp_settings *st = &inst->cfg.s;
	bool force = st->suspend_timeout > 0 &&
		     lp_now_us() - inst->suspend_start_us >= st->suspend_timeout;
	struct lp_list_node *n, *t, *m, *mt;
	int busy = 0;

	if (!inst->suspended)
		return true;
	lp_list_foreach_safe(&inst->login_clients, m, mt) {
		if (force)
			lp_client_fail(lp_container_of(m, struct lp_client, node), "08P01",
				       "suspend_timeout");
		else
			busy++;
	}
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_list *cl[] = { &p->active_clients, &p->waiting_clients };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(cl[i], m, mt) {
				struct lp_client *c = lp_container_of(m, struct lp_client, node);
				if (lp_control_client_at_rest(c))
					lp_io_park(&c->io);
				else if (force)
					lp_client_fail(c, "08P01", "suspend_timeout");
				else
					busy++;
			}
	}
	if (busy)
		return false;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_list *lists[] = POOL_SERVER_LISTS(p);
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(lists[i], m, mt) {
				struct lp_server *s = lp_container_of(m, struct lp_server, node);
				if (lp_control_server_at_rest(s))
					lp_io_park(&s->io);
				else if (force)
					lp_server_close(s, "suspend_timeout");
				else
					busy++;
			}
	}
	/* A server's last answer may have left a client with output again. */
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		lp_list_foreach_safe(&p->active_clients, m, mt)
			if (!lp_control_client_at_rest(lp_container_of(m, struct lp_client, node)))
				busy++;
		busy += p->waiting_clients.count;
	}
	return busy == 0;
}

/* Bytes the client has sent that the pooler has not read yet (the kernel's
 * receive queue): a request on its way. */
static bool unread_input(const struct lp_client *c)
{
	int n = 0;
	return ioctl(c->io.fd, FIONREAD, &n) < 0 || n > 0;
}

static bool draining(const struct lp_instance *inst)
{
	return inst->cfg.s.shutdown_drain_clients &&
	       (inst->shutdown == LP_SHUTDOWN_WAIT_CLIENTS || inst->shutdown == LP_SHUTDOWN_WAIT_SERVERS);
}

bool lp_control_drain_client(struct lp_client *c)
{
	if (!draining(c->inst) || c->admin || c->state != LP_CL_ACTIVE || c->closing)
		return false;
	/* Between transactions: nothing running, none open, the server has
	 * nothing more for the client. */
	const struct lp_server *s = c->server;
	if (s && (s->state != LP_SV_ACTIVE || !lp_track_releasable(&s->trk) ||
		  s->io.start != s->io.pos))
		return false;
	/* The ReadyForQuery that ended the transaction is written first:
	 * back here once it is out. */
	if (lp_io_wait_drained(&c->io))
		return true;
	/* A request already sent (unread in the socket) starts a transaction
	 * the client will expect an answer to: serve it, drain after. */
	if (!lp_control_client_at_rest(c) || unread_input(c))
		return false;
	lp_client_fail(c, "57P01", "terminating connection due to administrator command");
	return true;
}

void lp_control_drain_clients(struct lp_instance *inst)
{
	if (!draining(inst))
		return;
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		lp_list_foreach_safe(&p->active_clients, m, mt)
			(void)lp_control_drain_client(lp_container_of(m, struct lp_client, node));
	}
}

struct lp_client *lp_control_find_client(struct lp_instance *inst, uint64_t id)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_list *lists[] = { &p->active_clients, &p->waiting_clients };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(lists[i], m, mt) {
				struct lp_client *c = lp_container_of(m, struct lp_client, node);
				if (c->id == id)
					return c;
			}
	}
	struct lp_list *lists[] = { &inst->admin_clients, &inst->login_clients };
	for (size_t i = 0; i < 2; i++)
		lp_list_foreach_safe(lists[i], m, mt) {
			struct lp_client *c = lp_container_of(m, struct lp_client, node);
			if (c->id == id)
				return c;
		}
	return NULL;
}
