/*
 * Online restart, the running process's side (takeover.h); the new
 * process's is reboot.c.
 *
 * The running process hands over what SUSPEND parked at rest (control.c):
 * nothing of such a socket is inside the pooler -- every byte read was
 * passed on, every byte due was written, no message is half-way -- so its
 * whole state is what lp_client / lp_server hold, written into one record
 * (proto/handoff.h): names, address, cancel key, parameters, ages, and for a
 * server the conversation tracker, so a query running on it during the
 * restart is answered to its client by the new process. A linked pair goes
 * both or neither. TLS connections are not handed over (their state is
 * OpenSSL's), nor console sessions; they end with the old process.
 */
#include "pool/takeover.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/tls.h"
#include "pool/client.h"
#include "pool/control.h"
#include "pool/instance.h"
#include "pool/params.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "proto/handoff.h"
#include "proto/proto.h"

/* Replication connections do not go: the takeover record has no place for
 * their startup parameters, and a stream resumes from the client's side. */
static bool client_parked(const struct lp_client *c)
{
	return c->io.parked && !lp_io_is_tls(&c->io) && !c->replication &&
	       lp_control_client_at_rest(c);
}

static bool server_parked(const struct lp_server *s)
{
	return s->io.parked && !lp_io_is_tls(&s->io) && !s->replication &&
	       lp_control_server_at_rest(s);
}

static bool client_goes(const struct lp_client *c)
{
	return client_parked(c) && (!c->server || server_parked(c->server));
}

static bool server_goes(const struct lp_server *s)
{
	return server_parked(s) && (!s->client || client_parked(s->client));
}

bool lp_takeover_allowed(const struct lp_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (!c->admin_full || c->addr_family != AF_UNIX || lp_io_is_tls(&c->io) ||
	    !c->inst->suspended || c->inst->shutdown != LP_RUN)
		return false;
	if (getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid())
		return false;
	return lp_control_suspend_done(c->inst);
}

static int64_t age(int64_t now, int64_t t)
{
	return t ? (now >= t ? now - t : 0) + 1 : 0;
}

static void put_params(struct lp_ho_param *out, int *n, const struct lp_params *p)
{
	*n = 0;
	for (int i = 0; i < p->n && *n < LP_HO_MAX_PARAMS; i++) {
		out[*n].name = p->name[i];
		out[*n].value = p->value[i];
		(*n)++;
	}
}

/* Gives fn the row with h encoded as its state. */
static bool emit(struct lp_takeover_row *row, const struct lp_handoff *h, lp_takeover_row_fn fn,
		 void *arg)
{
	size_t cap = lp_handoff_encoded_len(h);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return false;
	struct lp_writer w;
	lp_wr_init(&w, buf, cap);
	lp_handoff_encode(&w, h);
	row->state = buf;
	row->state_len = w.len;
	bool ok = !w.overflow && fn(arg, row);
	free(buf);
	return ok;
}

/* The pool user's secrets a new process needs for its server logins. */
static void user_secrets(struct lp_takeover_row *row, const struct lp_user *u)
{
	row->password = !u->in_auth_file ? lp_user_server_secret(u) : NULL;
	row->client_key = u->have_client_key ? u->scram_client_key : NULL;
}

static void text_params(struct lp_takeover_row *row, const struct lp_params *p)
{
	row->client_encoding = lp_params_get(p, "client_encoding");
	row->std_strings = lp_params_get(p, "standard_conforming_strings");
	row->datestyle = lp_params_get(p, "DateStyle");
	row->timezone = lp_params_get(p, "TimeZone");
}

static bool listener_row(struct lp_instance *inst, const struct lp_listener *l,
			 lp_takeover_row_fn fn, void *arg)
{
	struct lp_takeover_row row = { .fd = l->fd, .task = "pooler", .addr = "unix" };
	struct lp_handoff h = { .kind = LP_HO_LISTENER, .path = l->is_unix ? l->path : NULL };
	char addr[INET6_ADDRSTRLEN] = "";
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	row.port = inst->cfg.s.listen_port;
	if (!l->is_unix && getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			row.port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
			row.port = ntohs(in6->sin6_port);
		}
		row.addr = addr;
	}
	return emit(&row, &h, fn, arg);
}

static bool client_row(const struct lp_client *c, int64_t now, lp_takeover_row_fn fn, void *arg)
{
	char addr[LP_ADDR_TEXT];
	struct lp_takeover_row row = {
		.fd = c->io.fd, .task = "client", .user = c->user_name, .db = c->db_name,
		.addr = lp_client_addr(c, addr), .port = c->port,
		.cancel = (uint64_t)c->cancel_pid << 32 | c->cancel_key,
		.link = c->server ? c->server->io.fd : 0,
	};
	text_params(&row, &c->params);
	user_secrets(&row, c->user);
	struct lp_handoff h = {
		.kind = LP_HO_CLIENT, .id = c->id, .db = c->db_name, .user = c->user_name,
		.pool_user = c->user->name, .addr_family = c->addr_family, .port = c->port,
		.key_pid = c->cancel_pid, .key_secret = c->cancel_key,
		.connect_age_us = age(now, c->connect_us), .active_age_us = age(now, c->last_active_us),
		.request_age_us = age(now, c->request_us),
		.flags = c->scram_auth ? LP_HO_F_SCRAM_AUTH : 0, .last_rfq = c->last_rfq,
	};
	memcpy(h.addr_ip, c->addr_ip, sizeof(h.addr_ip));
	put_params(h.params, &h.nparams, &c->params);
	return emit(&row, &h, fn, arg);
}

static bool server_row(const struct lp_server *s, int64_t now, lp_takeover_row_fn fn, void *arg)
{
	const struct lp_pool *p = s->pool;
	const struct lp_db_conf *dc = &p->db->conf;
	struct lp_takeover_row row = {
		.fd = s->io.fd, .task = "server", .user = p->user->name, .db = p->db->name,
		.addr = lp_server_host_text(s),
		.port = dc->port > 0 ? dc->port : 5432,
		.cancel = (uint64_t)s->be_pid << 32 | s->be_key,
		.link = s->client ? s->client->io.fd : 0,
	};
	text_params(&row, &s->params);
	user_secrets(&row, p->user);
	struct lp_handoff h = {
		.kind = LP_HO_SERVER, .id = s->id, .db = p->db->name, .user = p->user->name,
		.key_pid = s->be_pid, .key_secret = s->be_key,
		.connect_age_us = age(now, s->connect_us), .active_age_us = age(now, s->last_used_us),
		.request_age_us = age(now, s->request_us), .xact_age_us = age(now, s->xact_start_us),
		.lifetime_us = s->lifetime_us > 0 ? s->lifetime_us : 0,
		.flags = s->close_needed ? LP_HO_F_CLOSE_NEEDED : 0, .last_rfq = 'I',
		.have_track = true, .trk_tx = s->trk.tx, .trk_copy = s->trk.copy,
		.trk_copy_in_fe = s->trk.copy_in_fe, .trk_batch_open = s->trk.batch_open,
		.trk_fe_skip = s->trk.fe_skip, .nreqs = s->trk.n,
	};
	put_params(h.params, &h.nparams, &s->params);
	if (p->welcome_ready)
		put_params(h.welcome, &h.nwelcome, &p->welcome);
	uint8_t *reqs = NULL;
	if (s->trk.n > 0) {
		struct lp_trk_req *ring = malloc(s->trk.n * sizeof(*ring));
		reqs = malloc((size_t)s->trk.n * LP_HO_REQ_LEN);
		if (!ring || !reqs) {
			free(ring);
			free(reqs);
			return false;
		}
		lp_track_save(&s->trk, ring);
		for (uint32_t i = 0; i < s->trk.n; i++) {
			uint8_t *e = reqs + (size_t)i * LP_HO_REQ_LEN;
			e[0] = ring[i].kind;
			e[1] = ring[i].action;
			e[2] = ring[i].stage;
			e[3] = ring[i].sub;
			e[4] = (uint8_t)(ring[i].tag >> 24);
			e[5] = (uint8_t)(ring[i].tag >> 16);
			e[6] = (uint8_t)(ring[i].tag >> 8);
			e[7] = (uint8_t)ring[i].tag;
		}
		free(ring);
	}
	h.reqs = reqs;
	bool ok = emit(&row, &h, fn, arg);
	free(reqs);
	return ok;
}

bool lp_takeover_rows(struct lp_instance *inst, lp_takeover_row_fn fn, void *arg)
{
	struct lp_list_node *n, *t, *m, *mt;
	int64_t now = lp_now_us();
	for (int i = 0; i < inst->nlisteners; i++)
		if (inst->listeners[i].fd >= 0 && !listener_row(inst, &inst->listeners[i], fn, arg))
			return false;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		lp_list_foreach_safe(&p->active_clients, m, mt) {
			struct lp_client *c = lp_container_of(m, struct lp_client, node);
			if (client_goes(c) && !client_row(c, now, fn, arg))
				return false;
		}
		struct lp_list *sl[] = { &p->active_servers, &p->idle_servers };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(sl[i], m, mt) {
				struct lp_server *s = lp_container_of(m, struct lp_server, node);
				if (server_goes(s) && !server_row(s, now, fn, arg))
					return false;
			}
	}
	return true;
}

void lp_takeover_handed_off(struct lp_instance *inst, struct lp_client *peer)
{
	struct lp_list_node *n, *t, *m, *mt;
	/* The same walk as lp_takeover_rows, in the same loop turn: the same
	 * sockets. */
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		lp_list_foreach_safe(&p->active_clients, m, mt) {
			struct lp_client *c = lp_container_of(m, struct lp_client, node);
			if (client_goes(c))
				c->io.handed_off = true;
		}
		struct lp_list *sl[] = { &p->active_servers, &p->idle_servers };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(sl[i], m, mt) {
				struct lp_server *s = lp_container_of(m, struct lp_server, node);
				if (server_goes(s))
					s->io.handed_off = true;
			}
	}
	inst->handed_off = true;
	inst->takeover_peer = peer;
	lp_log_info("online restart: sockets handed over to the new process, waiting for its SHUTDOWN");
}

void lp_takeover_release(struct lp_instance *inst)
{
	struct lp_list_node *n, *t, *m, *mt;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		/* Unlinked first: neither close may act on the other's behalf. */
		lp_list_foreach_safe(&p->active_clients, m, mt) {
			struct lp_client *c = lp_container_of(m, struct lp_client, node);
			if (c->io.handed_off && c->server && c->server->io.handed_off) {
				c->server->client = NULL;
				c->server = NULL;
			}
		}
		lp_list_foreach_safe(&p->active_clients, m, mt) {
			struct lp_client *c = lp_container_of(m, struct lp_client, node);
			if (c->io.handed_off && !c->server)
				lp_client_close(c, "online restart: handed over");
		}
		struct lp_list *sl[] = { &p->active_servers, &p->idle_servers };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(sl[i], m, mt) {
				struct lp_server *s = lp_container_of(m, struct lp_server, node);
				if (s->io.handed_off && !s->client)
					lp_server_close(s, "online restart: handed over");
			}
	}
}

void lp_takeover_check(struct lp_instance *inst)
{
	if (!inst->handed_off || inst->takeover_peer || inst->shutdown != LP_RUN)
		return;
	/* The new process never closes the console before SHUTDOWN unless it
	 * gave up or died: it has not used the sockets. */
	lp_log_warn("online restart: the new process left before SHUTDOWN; resuming");
	lp_instance_resume(inst);
}
