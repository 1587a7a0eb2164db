/*
 * Cancel requests: the keys clients get, and every cancel linkpool sends --
 * to PostgreSQL for a query of one of its own clients, or to a peer process
 * that owns the key (peering, PgBouncer 1.19+).
 *
 * Keys. A client's 8-byte cancel key (the BackendKeyData pid and key) is
 * random, except that with peer_id set it carries the process's peer id
 * and a hop count, laid out as PgBouncer lays them out, so that PgBouncer
 * and linkpool processes can be peers of each other during a migration:
 * bytes 1 and 2 hold the peer id (low byte first), the two lowest bits of
 * byte 7 the hops left (3 when issued); the pid's sign bit is clear. A
 * cancel whose key names another peer is forwarded to it with one hop
 * fewer; none left, it is dropped. Keys are compared without the hop bits.
 *
 * Delivery. PostgreSQL (or a peer) takes a cancel on a connection of its
 * own and closes it once it acted on it. Until then the signal may still
 * land on whatever the backend runs next, so the server being cancelled is
 * not handed to another client while a cancel to it is in flight:
 * lp_link_release parks it and lp_link_cancel_done resumes the release once
 * the cancel connection closed. The client that asked is answered (its
 * connection closed) only then too, so a blocking PQcancel returns once the
 * cancel was delivered, as with PostgreSQL itself.
 *
 * Bounds: one cancel in flight per server (a second adds nothing: the first
 * signal cancels whatever runs when it lands); to each peer at most its
 * pool_size (default_pool_size) at once, the rest wait in arrival order;
 * cancel_wait_timeout to wait, resolve, connect and send; then
 * LP_CANCEL_ANSWER_US for the other side to close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/random.h"
#include "core/log.h"
#include "pool/cancel.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/server.h"
#include "proto/proto.h"

/* How long the other side may take to close a cancel connection it was
 * sent: it does so right after acting on it, so only a stuck one gets here. */
#define LP_CANCEL_ANSWER_US (30 * 1000000LL)
/* The hop count in the lowest bits of the key (PgBouncer's
 * CANCELLATION_TTL_MASK). */
#define HOPS_MASK 0x3u
/* Cancels that may wait for a peer, per slot (pool_size) to it. */
#define LP_CANCEL_PEER_WAITING_PER_SLOT 4

/* ---- keys ---- */

static struct lp_list *bucket(struct lp_instance *inst, uint32_t key)
{
	return &inst->cancel_hash[(key >> 2) % LP_CANCEL_BUCKETS];
}

struct lp_client *lp_cancel_find(struct lp_instance *inst, uint32_t pid, uint32_t key)
{
	struct lp_list *b = bucket(inst, key);
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(b, n, t) {
		struct lp_client *c = lp_container_of(n, struct lp_client, cancel_node);
		if (c->cancel_pid == pid && ((c->cancel_key ^ key) & ~HOPS_MASK) == 0)
			return c;
	}
	return NULL;
}

/* The peer id a key names (0: none). */
static int key_peer(uint32_t pid)
{
	return (int)(((pid >> 16) & 0xff) | (((pid >> 8) & 0xff) << 8));
}

bool lp_cancel_key_new(struct lp_instance *inst, uint32_t *pid, uint32_t *key)
{
	int peer = inst->cfg.s.peer_id;
	do {
		uint32_t r[2];          /* one draw for both */
		if (!lp_random_bytes(r, sizeof(r)))
			return false;
		*pid = r[0] & 0x7fffffff;
		*key = r[1];
		if (peer > 0) {
			*pid = (*pid & 0x7f0000ffu) | ((uint32_t)(peer & 0xff) << 16) |
			       ((uint32_t)((peer >> 8) & 0xff) << 8);
			*key |= HOPS_MASK;
		}
	} while (lp_cancel_find(inst, *pid, *key));
	return true;
}

void lp_cancel_register(struct lp_client *c)
{
	lp_list_append(bucket(c->inst, c->cancel_key), &c->cancel_node);
}

void lp_cancel_unregister(struct lp_client *c)
{
	if (c->cancel_node.next != &c->cancel_node)
		lp_list_remove(bucket(c->inst, c->cancel_key), &c->cancel_node);
}

/* ---- delivery ---- */

enum req_state {
	REQ_WAITING,            /* for a free slot to its peer */
	REQ_RESOLVING,          /* the peer's host name */
	REQ_SENDING,            /* connecting, writing */
	REQ_ANSWER,             /* sent; waiting for the other side to close */
};

/* The peer "id" of cancels sent to the addresses of peers_dns: their
 * owner's address is not known, so each goes to all of them. */
#define PEER_DNS (-1)

struct lp_cancel_req {
	struct lp_list_node node;       /* inst->cancel_reqs */
	struct lp_instance *inst;
	enum req_state state;
	struct lp_server *server;       /* to PostgreSQL: NULL once the server closed */
	int peer;                       /* to a peer: its id (or PEER_DNS), else 0 */
	struct sockaddr_storage addr;   /* PEER_DNS: the address to send to */
	socklen_t addrlen;
	struct lp_dns_req *dns;
	int fd;                         /* the cancel connection, or -1 */
	int requester_fd;               /* the client that asked, or -1 (a copy each) */
	struct event *ev;
	int64_t deadline_us;            /* to be sent by */
	uint8_t buf[16];
	uint8_t len, sent;
};

/* Peering state (owned here): the addresses peers_dns had at its last
 * lookup, and what the cancels to each peer came to. */
struct peer_stat {
	int id;                         /* a [peers] id, or PEER_DNS */
	uint64_t sent, failed, ttl_exhausted;
};

struct lp_peer_group {
	struct lp_instance *inst;
	struct event *refresh_ev;       /* re-resolves peers_dns every dns_max_ttl */
	struct lp_dns_req *lookup;
	struct sockaddr_storage addrs[LP_CANCEL_DNS_PEERS_MAX];
	socklen_t lens[LP_CANCEL_DNS_PEERS_MAX];
	int naddr;                      /* other processes' addresses */
	bool resolved;                  /* one lookup succeeded */
	struct peer_stat *stats;
	size_t nstats;
};

static void start_peer(struct lp_cancel_req *r);

static struct peer_stat *peer_stat(struct lp_instance *inst, int peer)
{
	struct lp_peer_group *g = inst->peer_group;
	if (!g)
		return NULL;
	for (size_t i = 0; i < g->nstats; i++)
		if (g->stats[i].id == peer)
			return &g->stats[i];
	/* Only configured peers (and the peers_dns group) get here: the
	 * number of series stays that of the config. */
	struct peer_stat *nv = realloc(g->stats, (g->nstats + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	g->stats = nv;
	memset(&nv[g->nstats], 0, sizeof(nv[0]));
	nv[g->nstats].id = peer;
	return &nv[g->nstats++];
}

static void req_finish(struct lp_cancel_req *r)
{
	struct lp_instance *inst = r->inst;
	struct lp_server *s = r->server;
	int peer = r->peer;
	lp_list_remove(&inst->cancel_reqs, &r->node);
	lp_dns_cancel(r->dns);
	if (r->ev)
		event_free(r->ev);
	if (r->fd >= 0)
		close(r->fd);
	if (r->requester_fd >= 0)
		close(r->requester_fd);
	bool was_active = r->state != REQ_WAITING;
	if (peer && r->state != REQ_ANSWER) {
		struct peer_stat *st = peer_stat(inst, peer);
		if (st)
			st->failed++;
	}
	free(r);
	if (s) {
		s->cancel_in_flight = false;
		lp_link_cancel_done(s);
	}
	if (peer && was_active) {
		/* A slot to this peer is free: the oldest waiting request goes. */
		struct lp_list_node *n, *t;
		lp_list_foreach_safe(&inst->cancel_reqs, n, t) {
			struct lp_cancel_req *w = lp_container_of(n, struct lp_cancel_req, node);
			if (w->peer == peer && w->state == REQ_WAITING) {
				start_peer(w);
				break;
			}
		}
	}
}

static const char *peer_name(const struct lp_cancel_req *r, char *buf, size_t cap)
{
	if (r->peer == PEER_DNS)
		return "a peer of peers_dns";
	snprintf(buf, cap, "peer %d", r->peer);
	return buf;
}

static void req_event(evutil_socket_t fd, short what, void *arg)
{
	struct lp_cancel_req *r = arg;
	if (what & EV_TIMEOUT) {
		char name[32];
		if (r->peer)
			lp_log_info("cancel request to %s: %s", peer_name(r, name, sizeof(name)),
				    r->state == REQ_ANSWER ? "no answer from the peer"
							   : "not sent within cancel_wait_timeout");
		else
			lp_log_debug("cancel request to S-%llu: %s",
				     r->server ? (unsigned long long)r->server->id : 0ULL,
				     r->state == REQ_ANSWER ? "no answer from the server"
							    : "not sent within cancel_wait_timeout");
		req_finish(r);
		return;
	}
	if (r->state == REQ_SENDING) {
		ssize_t n = write(fd, r->buf + r->sent, r->len - r->sent);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			req_finish(r);          /* refused: nothing reached the other side */
			return;
		}
		r->sent += (uint8_t)n;
		if (r->sent < r->len)
			return;
		/* Sent: now wait for the other side to close the connection. */
		r->state = REQ_ANSWER;
		if (r->peer) {
			struct peer_stat *st = peer_stat(r->inst, r->peer);
			if (st)
				st->sent++;
		}
		struct timeval tv = { LP_CANCEL_ANSWER_US / 1000000, 0 };
		event_del(r->ev);
		event_assign(r->ev, r->inst->base, r->fd, EV_READ | EV_PERSIST, req_event, r);
		if (event_add(r->ev, &tv) < 0)
			req_finish(r);
		return;
	}
	uint8_t junk[64];
	ssize_t n = read(fd, junk, sizeof(junk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	req_finish(r);                  /* EOF (the answer), or an error */
}

/* What is left of cancel_wait_timeout, for the timer of r's next step. */
static struct timeval time_left(const struct lp_cancel_req *r)
{
	int64_t left = r->deadline_us - lp_now_us();
	if (left < 1000)
		left = 1000;
	struct timeval tv = { (time_t)(left / 1000000), (suseconds_t)(left % 1000000) };
	return tv;
}

/* r has its connection (fd) opening: write the request when it can. */
static bool send_on(struct lp_cancel_req *r, int fd)
{
	r->fd = fd;
	r->state = REQ_SENDING;
	struct timeval tv = time_left(r);
	if (r->ev)
		event_free(r->ev);
	r->ev = event_new(r->inst->base, r->fd, EV_WRITE | EV_PERSIST, req_event, r);
	return r->ev && event_add(r->ev, &tv) == 0;
}

static struct lp_cancel_req *req_new(struct lp_instance *inst, uint32_t pid, uint32_t key)
{
	struct lp_cancel_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->inst = inst;
	r->fd = -1;
	r->requester_fd = -1;
	int64_t wait = inst->cfg.s.cancel_wait_timeout > 0 ? inst->cfg.s.cancel_wait_timeout
							    : LP_CANCEL_ANSWER_US;
	r->deadline_us = lp_now_us() + wait;
	struct lp_writer w;
	lp_wr_init(&w, r->buf, sizeof(r->buf));
	lp_build_cancel(&w, pid, key);
	r->len = (uint8_t)w.len;
	lp_list_append(&inst->cancel_reqs, &r->node);
	return r;
}

bool lp_cancel_forward(struct lp_server *s, int requester_fd)
{
	struct lp_instance *inst = s->pool->inst;
	if (s->peer_len == 0 || s->cancel_in_flight)
		return false;
	int fd = lp_server_open_socket(s, (struct sockaddr *)&s->peer, s->peer_len);
	if (fd < 0)
		return false;
	struct lp_cancel_req *r = req_new(inst, s->be_pid, s->be_key);
	if (!r) {
		close(fd);
		return false;
	}
	if (!send_on(r, fd)) {
		req_finish(r);          /* closes fd, now r's */
		return false;
	}
	r->requester_fd = requester_fd;
	r->server = s;
	s->cancel_in_flight = true;
	return true;
}

/* ---- peers ---- */

static const struct lp_peer_conf *peer_conf(const struct lp_instance *inst, int id)
{
	for (size_t i = 0; i < inst->cfg.npeers; i++)
		if (inst->cfg.peers[i].id == id)
			return &inst->cfg.peers[i];
	return NULL;
}

static int peer_pool_size(const struct lp_instance *inst, const struct lp_peer_conf *pc)
{
	return pc && pc->pool_size > 0 ? pc->pool_size : inst->cfg.s.default_pool_size;
}

/* Requests to peer that may be on their way at once. */
static int peer_slots(const struct lp_instance *inst, int peer)
{
	if (peer != PEER_DNS)
		return peer_pool_size(inst, peer_conf(inst, peer));
	/* default_pool_size to each address of the group. */
	int n = inst->peer_group ? inst->peer_group->naddr : 0;
	return inst->cfg.s.default_pool_size * (n > 0 ? n : 1);
}

static int open_to(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
		close(fd);
		return -1;
	}
	return fd;
}

static void connect_and_send(struct lp_cancel_req *r, const struct sockaddr *sa, socklen_t len)
{
	int fd = open_to(sa, len);
	if (fd < 0) {
		char name[32];
		lp_log_info("cancel request to %s: could not connect: %s",
			    peer_name(r, name, sizeof(name)), strerror(errno));
		req_finish(r);
		return;
	}
	if (!send_on(r, fd))
		req_finish(r);          /* fd is r's now */
}

static void peer_resolved(const char *err, const struct sockaddr *sa, socklen_t len, int naddr,
			  void *arg)
{
	struct lp_cancel_req *r = arg;
	(void)naddr;
	r->dns = NULL;
	if (err) {
		lp_log_info("cancel request to peer %d: %s", r->peer, err);
		req_finish(r);
		return;
	}
	connect_and_send(r, sa, len);
}

/* r may use a slot to its peer now: resolve (a unix socket or an address
 * from peers_dns needs none), connect, send. */
static void start_peer(struct lp_cancel_req *r)
{
	r->state = REQ_SENDING;
	if (r->peer == PEER_DNS) {
		connect_and_send(r, (struct sockaddr *)&r->addr, r->addrlen);
		return;
	}
	const struct lp_peer_conf *pc = peer_conf(r->inst, r->peer);
	if (!pc) {
		req_finish(r);          /* gone with a reload */
		return;
	}
	int port = pc->port > 0 ? pc->port : 6432;
	if (pc->host && pc->host[0] == '/') {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d", pc->host, port);
		if (n <= 0 || (size_t)n >= sizeof(sun.sun_path)) {
			req_finish(r);
			return;
		}
		connect_and_send(r, (struct sockaddr *)&sun, sizeof(sun));
		return;
	}
	r->state = REQ_RESOLVING;
	/* May answer at once (a number, a cached name). */
	r->dns = lp_dns_lookup(r->inst->dns, pc->host && pc->host[0] ? pc->host : "127.0.0.1",
			       port, peer_resolved, r);
}

void lp_cancel_peer_counts(const struct lp_instance *inst, int peer, int *active, int *waiting)
{
	struct lp_list_node *n, *t;
	*active = *waiting = 0;
	lp_list_foreach_safe(&inst->cancel_reqs, n, t) {
		const struct lp_cancel_req *r = lp_container_of(n, struct lp_cancel_req, node);
		if (r->peer != peer)
			continue;
		if (r->state == REQ_WAITING)
			(*waiting)++;
		else
			(*active)++;
	}
}

/* One copy of a cancel to peer (at addr for PEER_DNS), with key as given:
 * it starts now if the peer has a free slot, else waits its turn. NULL, or
 * why it was not taken (requester_fd then still the caller's). */
static const char *queue_to_peer(struct lp_instance *inst, int peer,
				 const struct sockaddr_storage *addr, socklen_t addrlen, uint32_t pid,
				 uint32_t key, int requester_fd)
{
	int active, waiting;
	lp_cancel_peer_counts(inst, peer, &active, &waiting);
	int slots = peer_slots(inst, peer);
	/* Cancel requests need no login: without a bound, a flood of them
	 * would queue without end behind a slow peer. */
	if (active >= slots && waiting >= slots * LP_CANCEL_PEER_WAITING_PER_SLOT) {
		struct peer_stat *st = peer_stat(inst, peer);
		if (st)
			st->failed++;
		return "cancel request not forwarded: too many waiting for the peer";
	}
	struct lp_cancel_req *r = req_new(inst, pid, key);
	if (!r)
		return "cancel request not forwarded: out of memory";
	r->peer = peer;
	if (addr) {
		memcpy(&r->addr, addr, addrlen);
		r->addrlen = addrlen;
	}
	/* cancel_wait_timeout bounds the wait for a slot and the lookup;
	 * sending replaces this timer with the socket's. */
	struct timeval tv = time_left(r);
	r->ev = evtimer_new(inst->base, req_event, r);
	if (!r->ev || evtimer_add(r->ev, &tv) < 0) {
		r->peer = 0;            /* not counted: never started */
		req_finish(r);
		return "cancel request not forwarded: out of memory";
	}
	r->requester_fd = requester_fd;
	if (active < slots)
		start_peer(r);          /* else REQ_WAITING */
	return NULL;
}

/* Sends a cancel for a key of no known address to every process of
 * peers_dns but this one, with no hops left: the owner acts on it, the
 * others drop it. The asker hears back when the last copy was taken. */
static enum lp_cancel_result to_dns_peers(struct lp_instance *inst, uint32_t pid, uint32_t key,
					  int requester_fd, const char **why)
{
	struct lp_peer_group *g = inst->peer_group;
	if (!g || g->naddr == 0) {
		struct peer_stat *st = peer_stat(inst, PEER_DNS);
		if (st)
			st->failed++;
		*why = g && g->resolved ? "failed cancel request: peers_dns has no other peer"
					: "failed cancel request: peers_dns not resolved yet";
		return LP_CANCEL_NOT_FORWARDED;
	}
	int queued = 0;
	for (int i = 0; i < g->naddr; i++) {
		/* Each copy holds the asker open with a descriptor of its own. */
		int fd = requester_fd >= 0 ? dup(requester_fd) : -1;
		const char *err = queue_to_peer(inst, PEER_DNS, &g->addrs[i], g->lens[i], pid,
						key & ~HOPS_MASK, fd);
		if (!err)
			queued++;
		else if (fd >= 0)
			close(fd);
		if (err)
			*why = err;
	}
	if (queued == 0)
		return LP_CANCEL_NOT_FORWARDED;
	if (requester_fd >= 0)
		close(requester_fd);
	*why = "cancel request forwarded to the peers of peers_dns";
	return LP_CANCEL_FORWARDED;
}

/*
 * A cancel for a key no client of this process has. Its peer id names the
 * owner: a [peers] entry gets it with one hop fewer. With peers_dns, any
 * other key with hops left goes to every process of the group with none
 * left -- peer ids need not even be unique then: only the process that has
 * the key acts on it.
 */
static enum lp_cancel_result to_peer(struct lp_instance *inst, uint32_t pid, uint32_t key,
				     int requester_fd, const char **why)
{
	int own = inst->cfg.s.peer_id, peer = key_peer(pid);
	bool dns = inst->cfg.s.peers_dns && inst->cfg.s.peers_dns[0];
	const struct lp_peer_conf *pc = peer != own ? peer_conf(inst, peer) : NULL;
	if (own == 0 || (!pc && !dns)) {
		*why = own == 0 || peer == own ? "failed cancel request: unknown key"
					       : "failed cancel request: key of an unknown peer";
		return LP_CANCEL_UNKNOWN_KEY;
	}
	if ((key & HOPS_MASK) == 0) {
		struct peer_stat *st = pc ? peer_stat(inst, peer) : NULL;
		if (st)
			st->ttl_exhausted++;
		*why = "failed to forward cancel request because its TTL was exhausted";
		return pc ? LP_CANCEL_NOT_FORWARDED : LP_CANCEL_UNKNOWN_KEY;
	}
	if (!pc)
		return to_dns_peers(inst, pid, key, requester_fd, why);
	const char *err = queue_to_peer(inst, peer, NULL, 0, pid, key - 1, requester_fd);
	if (err) {
		*why = err;
		return LP_CANCEL_NOT_FORWARDED;
	}
	*why = "cancel request forwarded to a peer";
	return LP_CANCEL_FORWARDED;
}

/* ---- peers_dns ---- */

/* True when sa is where this process listens (its own record among the
 * group's): a listen_addr by number, or with a wildcard listen_addr an
 * address of one of the host's interfaces. */
static bool is_self(const struct lp_instance *inst, const struct sockaddr *sa)
{
	const struct lp_settings *st = &inst->cfg.s;
	int port;
	const void *ip;
	size_t iplen;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		port = ntohs(in->sin_port);
		ip = &in->sin_addr;
		iplen = sizeof(in->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(in6->sin6_port);
		ip = &in6->sin6_addr;
		iplen = sizeof(in6->sin6_addr);
	} else {
		return false;
	}
	if (port != st->listen_port || !st->listen_addr)
		return false;
	bool wildcard = false;
	char list[1024];
	snprintf(list, sizeof(list), "%s", st->listen_addr);
	for (char *save = NULL, *tok = strtok_r(list, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		uint8_t a[16];
		if (strcmp(tok, "*") == 0 || strcmp(tok, "0.0.0.0") == 0 || strcmp(tok, "::") == 0)
			wildcard = true;
		else if (inet_pton(sa->sa_family, tok, a) == 1 && memcmp(a, ip, iplen) == 0)
			return true;
	}
	if (!wildcard)
		return false;
	struct ifaddrs *ifs = NULL, *i;
	bool found = false;
	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
			continue;
		const void *own = sa->sa_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		found = memcmp(own, ip, iplen) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

static void refresh_later(struct lp_peer_group *g)
{
	int64_t us = g->inst->cfg.s.dns_max_ttl;
	if (us < 1000000)
		us = 1000000;
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
	evtimer_add(g->refresh_ev, &tv);
}

static void peers_resolved(const char *err, const struct sockaddr_storage *addrs,
			   const socklen_t *lens, int n, void *arg)
{
	struct lp_peer_group *g = arg;
	g->lookup = NULL;
	if (err) {
		/* The last good list stays: a resolver hiccup does not stop
		 * cancels to peers that are still there. */
		lp_log_warn("peers_dns \"%s\": %s; keeping the %d peer(s) known",
			       g->inst->cfg.s.peers_dns, err, g->naddr);
	} else {
		int kept = 0;
		for (int i = 0; i < n && kept < LP_CANCEL_DNS_PEERS_MAX; i++) {
			if (is_self(g->inst, (const struct sockaddr *)&addrs[i]))
				continue;
			memcpy(&g->addrs[kept], &addrs[i], lens[i]);
			g->lens[kept++] = lens[i];
		}
		if (kept != g->naddr || !g->resolved)
			lp_log_info("peers_dns \"%s\": %d peer(s) besides this process",
				    g->inst->cfg.s.peers_dns, kept);
		g->naddr = kept;
		g->resolved = true;
	}
	refresh_later(g);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_peer_group *g = arg;
	(void)fd;
	(void)what;
	const struct lp_settings *st = &g->inst->cfg.s;
	int port = st->peers_dns_port > 0 ? st->peers_dns_port : st->listen_port;
	/* May answer before returning (cached or numeric). */
	g->lookup = lp_dns_lookup_all(g->inst->dns, st->peers_dns, port, peers_resolved, g);
}

int lp_cancel_peers_start(struct lp_instance *inst)
{
	struct lp_peer_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -1;
	g->inst = inst;
	inst->peer_group = g;
	if (!inst->cfg.s.peers_dns || !inst->cfg.s.peers_dns[0])
		return 0;
	g->refresh_ev = evtimer_new(inst->base, refresh_cb, g);
	if (!g->refresh_ev)
		return -1;
	refresh_cb(-1, EV_TIMEOUT, g);
	return 0;
}

void lp_cancel_peer_foreach(const struct lp_instance *inst, lp_cancel_peer_visit fn, void *arg)
{
	const struct lp_peer_group *g = inst->peer_group;
	if (!g)
		return;
	for (size_t i = 0; i < g->nstats; i++) {
		const struct peer_stat *st = &g->stats[i];
		int active, waiting;
		lp_cancel_peer_counts(inst, st->id, &active, &waiting);
		struct lp_cancel_peer_info info = {
			.id = st->id == PEER_DNS ? 0 : st->id,
			.sent = st->sent, .failed = st->failed, .ttl_exhausted = st->ttl_exhausted,
			.active = active, .waiting = waiting,
		};
		fn(&info, arg);
	}
}

int lp_cancel_dns_peers(const struct lp_instance *inst, const struct sockaddr_storage **addrs)
{
	const struct lp_peer_group *g = inst->peer_group;
	*addrs = g ? g->addrs : NULL;
	return g ? g->naddr : 0;
}

enum lp_cancel_result lp_cancel_request(struct lp_instance *inst, uint32_t pid, uint32_t key,
					int requester_fd, const char **why)
{
	struct lp_client *target = lp_cancel_find(inst, pid, key);
	if (!target)
		return to_peer(inst, pid, key, requester_fd, why);
	struct lp_server *s = target->server;
	/* Only while the request it names is still on the server: once its
	 * answer is in, the backend may be running somebody else's query. */
	if (s && s->ready && s->state == LP_SV_ACTIVE && lp_server_owes_response(s) &&
	    lp_cancel_forward(s, requester_fd)) {
		*why = "successfully sent cancel request";
		return LP_CANCEL_FORWARDED;
	}
	*why = target->admin ? "cancel request for console client"
	       : !s || !lp_server_owes_response(s) ? "cancel request for idle client"
						    : "cancel request not forwarded: one is in flight";
	return LP_CANCEL_NOT_FORWARDED;
}

void lp_cancel_server_gone(struct lp_server *s)
{
	if (!s->cancel_in_flight)
		return;
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&s->pool->inst->cancel_reqs, n, t) {
		struct lp_cancel_req *r = lp_container_of(n, struct lp_cancel_req, node);
		if (r->server == s)
			r->server = NULL;
	}
	s->cancel_in_flight = false;
}

void lp_cancel_cleanup(struct lp_instance *inst)
{
	struct lp_peer_group *g = inst->peer_group;
	if (g) {
		lp_dns_cancel(g->lookup);
		if (g->refresh_ev)
			event_free(g->refresh_ev);
		free(g->stats);
		free(g);
		inst->peer_group = NULL;
	}
	while (!lp_list_empty(&inst->cancel_reqs)) {
		struct lp_cancel_req *r =
			lp_container_of(lp_list_first(&inst->cancel_reqs), struct lp_cancel_req, node);
		r->server = NULL;
		r->peer = 0;            /* no waiting request starts at exit */
		req_finish(r);
	}
}
