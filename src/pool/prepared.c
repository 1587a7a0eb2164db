/*
 * Prepared statements in transaction and statement pooling (prepared.h).
 *
 * Three maps, one owner each:
 *  - the instance's statements (struct lp_pstmt) by text, refcounted by
 *    the client names and server caches that point at them;
 *  - per client, its names to statements (lp_prep_client);
 *  - per server, the statements its backend holds, with their LRU order,
 *    and the queue of pooler actions still waiting for their outcome
 *    (lp_prep_server): a Parse that fails or is skipped must not leave the
 *    statement counted on the server, nor the name with the client.
 * The conversation tracker carries the requests; a request the module
 * cares about has tag 1, and its outcome (tracker on_done, in ring order)
 * pops the server's action queue in the same order.
 */
#include "pool/prepared.h"
#include "pool/prepared_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/assert.h"
#include "core/log.h"
#include "pool/client.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/server.h"
#include "proto/proto.h"

/* ---- statements of the instance ---- */

struct lp_prep_table {
	struct lp_pstmt **b;
	uint32_t nb, n;
	uint64_t next_id;
};

static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t h)
{
	h ^= n * 0x9e3779b97f4a7c15ull;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	uint64_t v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

static struct lp_prep_table *table_of(struct lp_instance *inst)
{
	if (!inst->prep) {
		struct lp_prep_table *t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->nb = 256;
		t->b = calloc(t->nb, sizeof(*t->b));
		if (!t->b) {
			free(t);
			return NULL;
		}
		inst->prep = t;
	}
	return inst->prep;
}

void lp_prep_after_takeover(struct lp_instance *inst)
{
	struct lp_prep_table *t = table_of(inst);
	/* The other process named statements 1, 2, ... from its start (or
	 * from its own takeover's clock): fewer than one per microsecond,
	 * so the clock now is past them all. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (t && t->next_id < now)
		t->next_id = now;
}

static void table_grow(struct lp_prep_table *t)
{
	uint32_t nb = t->nb * 2;
	struct lp_pstmt **b = calloc(nb, sizeof(*b));
	if (!b)
		return;                 /* longer chains, still correct */
	for (uint32_t i = 0; i < t->nb; i++) {
		struct lp_pstmt *st = t->b[i], *next;
		for (; st; st = next) {
			next = st->next;
			st->next = b[st->hash & (nb - 1)];
			b[st->hash & (nb - 1)] = st;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* The statement of that text, referenced once more; NULL: no memory. */
struct lp_pstmt *lp_prep_stmt_get(struct lp_instance *inst, uint8_t kind, const uint8_t *key,
				 uint32_t len)
{
	struct lp_prep_table *t = table_of(inst);
	if (!t)
		return NULL;
	uint64_t h = hash_bytes(key, len, kind);
	for (struct lp_pstmt *st = t->b[h & (t->nb - 1)]; st; st = st->next)
		if (st->hash == h && st->kind == kind && st->len == len && memcmp(st->key, key, len) == 0) {
			st->refs++;
			return st;
		}
	struct lp_pstmt *st = malloc(sizeof(*st) + len);
	if (!st)
		return NULL;
	st->hash = h;
	st->id = ++t->next_id;
	st->refs = 1;
	st->kind = kind;
	st->len = len;
	memcpy(st->key, key, len);
	st->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = st;
	if (++t->n > t->nb * 2)
		table_grow(t);
	return st;
}

void lp_prep_stmt_ref(struct lp_pstmt *st)
{
	st->refs++;
}

void lp_prep_stmt_unref(struct lp_instance *inst, struct lp_pstmt *st)
{
	if (!st || --st->refs > 0)
		return;
	struct lp_prep_table *t = inst->prep;
	struct lp_pstmt **pp = &t->b[st->hash & (t->nb - 1)];
	while (*pp != st)
		pp = &(*pp)->next;
	*pp = st->next;
	t->n--;
	free(st);
}

size_t lp_prep_server_name(const struct lp_pstmt *st, char out[NAME_MAX_LEN])
{
	/* On every Bind: no printf (a tenth of the pooler's instructions per
	 * prepared transaction). */
	char digits[20];
	size_t nd = 0;
	uint64_t v = st->id;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t n = sizeof(NAME_PREFIX) - 1;
	memcpy(out, NAME_PREFIX, n);
	while (nd)
		out[n++] = digits[--nd];
	out[n] = '\0';
	return n;
}

/* ---- a client's names ---- */

static struct cname **cname_slot(struct lp_prep_client *pc, const char *name, size_t len,
				 uint64_t h)
{
	struct cname **pp = &pc->b[h & (pc->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->len == len && memcmp((*pp)->name, name, len) == 0)
			break;
	return pp;
}

struct cname *lp_prep_cname_find(const struct lp_client *c, const char *name, size_t len)
{
	struct lp_prep_client *pc = c->prep;
	if (!pc || pc->n == 0)
		return NULL;
	return *cname_slot(pc, name, len, hash_bytes((const uint8_t *)name, len, 1));
}

struct lp_pstmt *lp_prep_cname_get(const struct lp_client *c, const char *name, size_t len)
{
	struct cname *e = lp_prep_cname_find(c, name, len);
	return e ? e->st : NULL;
}

/* The name's Parse did not take (failed, or skipped after an error). */
void lp_prep_cname_doubt(struct lp_client *c, const char *name, const struct lp_pstmt *st)
{
	struct cname *e = c ? lp_prep_cname_find(c, name, strlen(name)) : NULL;
	if (e && e->st == st)
		e->doubtful = true;
}

/* Maps name to st (taking a reference); false when out of memory. */
bool lp_prep_cname_put(struct lp_client *c, const char *name, size_t len, struct lp_pstmt *st)
{
	struct lp_prep_client *pc = c->prep;
	if (!pc) {
		pc = c->prep = calloc(1, sizeof(*pc));
		if (!pc)
			return false;
		pc->nb = 16;
		pc->b = calloc(pc->nb, sizeof(*pc->b));
		if (!pc->b) {
			free(pc);
			c->prep = NULL;
			return false;
		}
	}
	if (pc->n >= pc->nb * 2) {
		uint32_t nb = pc->nb * 4;
		struct cname **b = calloc(nb, sizeof(*b));
		if (b) {
			for (uint32_t i = 0; i < pc->nb; i++)
				for (struct cname *e = pc->b[i], *next; e; e = next) {
					next = e->next;
					e->next = b[e->hash & (nb - 1)];
					b[e->hash & (nb - 1)] = e;
				}
			free(pc->b);
			pc->b = b;
			pc->nb = nb;
		}
	}
	uint64_t h = hash_bytes((const uint8_t *)name, len, 1);
	struct cname **pp = cname_slot(pc, name, len, h);
	lp_assert(*pp == NULL);
	struct cname *e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return false;
	e->hash = h;
	e->len = (uint32_t)len;
	e->doubtful = false;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->st = st;
	lp_prep_stmt_ref(st);
	e->next = NULL;
	*pp = e;
	pc->n++;
	return true;
}

/* Forgets name (when it maps to st, or to anything when st is NULL). */
void lp_prep_cname_del(struct lp_client *c, const char *name, size_t len, const struct lp_pstmt *st)
{
	struct lp_prep_client *pc = c->prep;
	if (!pc || pc->n == 0)
		return;
	struct cname **pp = cname_slot(pc, name, len, hash_bytes((const uint8_t *)name, len, 1));
	struct cname *e = *pp;
	if (!e || (st && e->st != st))
		return;
	*pp = e->next;
	pc->n--;
	lp_prep_stmt_unref(c->inst, e->st);
	free(e);
}

void lp_prep_cname_clear(struct lp_client *c)
{
	struct lp_prep_client *pc = c->prep;
	if (!pc)
		return;
	for (uint32_t i = 0; i < pc->nb; i++)
		for (struct cname *e = pc->b[i], *next; e; e = next) {
			next = e->next;
			lp_prep_stmt_unref(c->inst, e->st);
			free(e);
		}
	memset(pc->b, 0, pc->nb * sizeof(*pc->b));
	pc->n = 0;
}

/* ---- a server's statements and pending actions ---- */

static void on_done(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o);

struct lp_prep_server *lp_prep_server_state(struct lp_server *s)
{
	if (!s->prep) {
		struct lp_prep_server *ps = calloc(1, sizeof(*ps));
		if (!ps)
			return NULL;
		ps->nb = 16;
		ps->b = calloc(ps->nb, sizeof(*ps->b));
		if (!ps->b) {
			free(ps);
			return NULL;
		}
		lp_list_init(&ps->lru);
		s->prep = ps;
		lp_track_on_done(&s->trk, on_done, s);
	}
	return s->prep;
}

static struct sstmt **sstmt_slot(struct lp_prep_server *ps, const struct lp_pstmt *st)
{
	struct sstmt **pp = &ps->b[st->hash & (ps->nb - 1)];
	while (*pp && (*pp)->st != st)
		pp = &(*pp)->next;
	return pp;
}

bool lp_prep_sstmt_has(struct lp_prep_server *ps, struct lp_pstmt *st, bool touch)
{
	if (!ps || ps->n == 0)
		return false;
	struct sstmt *e = *sstmt_slot(ps, st);
	if (e && touch && lp_list_first(&ps->lru) != &e->lru) {
		lp_list_remove(&ps->lru, &e->lru);
		lp_list_prepend(&ps->lru, &e->lru);
	}
	return e != NULL;
}

bool lp_prep_sstmt_add(struct lp_prep_server *ps, struct lp_pstmt *st)
{
	if (ps->n >= ps->nb * 2) {
		uint32_t nb = ps->nb * 4;
		struct sstmt **b = calloc(nb, sizeof(*b));
		if (b) {
			for (uint32_t i = 0; i < ps->nb; i++)
				for (struct sstmt *e = ps->b[i], *next; e; e = next) {
					next = e->next;
					e->next = b[e->st->hash & (nb - 1)];
					b[e->st->hash & (nb - 1)] = e;
				}
			free(ps->b);
			ps->b = b;
			ps->nb = nb;
		}
	}
	struct sstmt *e = malloc(sizeof(*e));
	if (!e)
		return false;
	e->st = st;
	lp_prep_stmt_ref(st);
	struct sstmt **pp = &ps->b[st->hash & (ps->nb - 1)];
	e->next = *pp;
	*pp = e;
	lp_list_prepend(&ps->lru, &e->lru);
	ps->n++;
	return true;
}

static void sstmt_del(struct lp_instance *inst, struct lp_prep_server *ps, struct lp_pstmt *st)
{
	struct sstmt **pp = sstmt_slot(ps, st);
	struct sstmt *e = *pp;
	if (!e)
		return;
	*pp = e->next;
	lp_list_remove(&ps->lru, &e->lru);
	ps->n--;
	lp_prep_stmt_unref(inst, e->st);
	free(e);
}

bool lp_prep_ev_push(struct lp_prep_server *ps, enum ev_what what, struct lp_pstmt *st,
		    const char *name, size_t nlen)
{
	if (ps->evn == ps->evcap) {
		uint32_t cap = ps->evcap ? ps->evcap * 2 : 8;
		struct pev *ev = malloc(cap * sizeof(*ev));
		if (!ev)
			return false;
		for (uint32_t i = 0; i < ps->evn; i++)
			ev[i] = ps->ev[(ps->evhead + i) % ps->evcap];
		free(ps->ev);
		ps->ev = ev;
		ps->evcap = cap;
		ps->evhead = 0;
	}
	struct pev *e = &ps->ev[(ps->evhead + ps->evn) % ps->evcap];
	e->what = (uint8_t)what;
	e->st = st;
	e->name = NULL;
	if (name) {
		e->name = malloc(nlen + 1);
		if (!e->name)
			return false;
		memcpy(e->name, name, nlen);
		e->name[nlen] = '\0';
	}
	if (st)
		lp_prep_stmt_ref(st);
	ps->evn++;
	return true;
}

/* The outcome of a tagged request, in ring order: the oldest action. */
static void on_done(void *arg, const struct lp_trk_req *r, enum lp_trk_outcome o)
{
	struct lp_server *s = arg;
	struct lp_prep_server *ps = s->prep;
	if (!r->tag || !ps || ps->evn == 0)
		return;
	struct lp_instance *inst = s->pool->inst;
	struct pev e = ps->ev[ps->evhead];
	ps->evhead = (ps->evhead + 1) % ps->evcap;
	ps->evn--;
	struct lp_client *c = s->client;
	switch (e.what) {
	case EV_SRV_PARSE:
		if (o != LP_TRK_OK)
			sstmt_del(inst, ps, e.st);
		break;
	case EV_CLI_PARSE:
		/* Refused or skipped: not on this backend; the name stays,
		 * doubtful (see struct cname). */
		if (o != LP_TRK_OK) {
			sstmt_del(inst, ps, e.st);
			lp_prep_cname_doubt(c, e.name, e.st);
		}
		break;
	case EV_CLI_SYNTH_PARSE:
		if (o == LP_TRK_SKIPPED)
			lp_prep_cname_doubt(c, e.name, e.st);
		break;
	case EV_EVICT:
		/* The backend may still hold it while the cache says it does
		 * not: a later Parse of it would fail. Not reused again. */
		if (o != LP_TRK_OK)
			s->close_needed = true;
		break;
	case EV_SYNTH_PREPARE:
		if (o == LP_TRK_SKIPPED)
			lp_prep_cname_doubt(c, e.name, e.st);
		break;
	case EV_SYNTH_DEALLOCATE:
	case EV_SYNTH_DUP:
		break;
	case EV_RESET:
		if (o == LP_TRK_OK) {
			lp_prep_server_forget(s);
			if (c)
				lp_prep_cname_clear(c);
		} else if (o == LP_TRK_FAILED) {
			s->close_needed = true;  /* which statements survived is unknown */
			if (c)
				lp_prep_cname_clear(c);
		}
		break;
	}
	lp_prep_stmt_unref(inst, e.st);
	free(e.name);
}

/* ---- sending to the server ---- */

static int max_stmts(const struct lp_server *s)
{
	return s->pool->inst->cfg.s.max_prepared_statements;
}

/* Statements lp_prep_evict() closes before one more is added to s. */
uint32_t lp_prep_evictions(const struct lp_server *s, const struct lp_prep_server *ps)
{
	int max = max_stmts(s);
	return (int)ps->n >= max ? ps->n - (uint32_t)max + 1 : 0;
}

/* Room in s's request ring for k more requests (grown if it may be);
 * false: the client waits for answers. */
bool lp_prep_room_for(struct lp_server *s, uint32_t k)
{
	while (lp_track_room(&s->trk) < k)
		if (!lp_server_track_grow(s)) {
			s->client_waits_room = true;
			return false;
		}
	return true;
}

/* Sends bytes built in w, or fails the client (the server is gone). */
bool lp_prep_send_w(struct lp_client *c, struct lp_server *s, const struct lp_writer *w)
{
	if (w->overflow || lp_io_send(&s->io, w->buf, w->len) < 0) {
		lp_client_fail(c, "08006", "server connection lost");
		return false;
	}
	return true;
}

/* Closes the least recently used statements until one more fits. */
bool lp_prep_evict(struct lp_client *c, struct lp_server *s, struct lp_prep_server *ps)
{
	struct lp_instance *inst = s->pool->inst;
	int max = max_stmts(s);
	while (ps->n > 0 && (int)ps->n >= max) {
		struct sstmt *victim = lp_container_of(ps->lru.head.prev, struct sstmt, lru);
		char name[NAME_MAX_LEN];
		uint8_t buf[64];
		struct lp_writer w;
		lp_prep_server_name(victim->st, name);
		lp_wr_init(&w, buf, sizeof(buf));
		lp_wr_begin(&w, 'C');
		lp_wr_u8(&w, 'S');
		lp_wr_cstr(&w, name);
		lp_wr_end(&w);
		if (!lp_prep_ev_push(ps, EV_EVICT, NULL, NULL, 0))
			goto oom;
		(void)lp_track_frontend(&s->trk, 'C', 'S', LP_TRK_SWALLOW, 1);
		sstmt_del(inst, ps, victim->st);
		if (!lp_prep_send_w(c, s, &w))
			return false;
	}
	return true;
oom:
	lp_client_fail(c, "53200", "out of memory");
	return false;
}

/* A Parse of st under its server name; tracked with action and event. */
static bool send_parse(struct lp_client *c, struct lp_server *s, struct lp_prep_server *ps,
		       struct lp_pstmt *st, enum lp_trk_action action, enum ev_what what,
		       const char *cname, size_t clen)
{
	char name[NAME_MAX_LEN];
	size_t nlen = lp_prep_server_name(st, name);
	size_t need = 1 + 4 + sizeof("PREPARE \"\"") + nlen + 1 + st->len;
	uint8_t small[512];
	uint8_t *buf = need <= sizeof(small) ? small : malloc(need);
	if (!buf || !lp_prep_sstmt_add(ps, st) || !lp_prep_ev_push(ps, what, st, cname, clen)) {
		if (buf != small)
			free(buf);
		lp_client_fail(c, "53200", "out of memory");
		return false;
	}
	struct lp_writer w;
	lp_wr_init(&w, buf, need);
	if (st->kind == ST_SQL) {
		/* PREPARE "PGBOUNCER_<n>" followed by what came after the
		 * client's name: its parameter types, AS and the statement. */
		lp_wr_begin(&w, 'Q');
		lp_wr_bytes(&w, "PREPARE \"", 9);
		lp_wr_bytes(&w, name, nlen);
		lp_wr_u8(&w, '"');
		lp_wr_bytes(&w, st->key, st->len);
		lp_wr_u8(&w, 0);
		lp_wr_end(&w);
	} else {
		lp_wr_begin(&w, 'P');
		lp_wr_cstr(&w, name);
		lp_wr_bytes(&w, st->key, st->len);
		lp_wr_end(&w);
	}
	(void)lp_track_frontend(&s->trk, st->kind == ST_SQL ? 'Q' : 'P', 0, action, 1);
	c->pool->stats.server_parses++;
	bool ok = lp_prep_send_w(c, s, &w);
	if (buf != small)
		free(buf);
	return ok;
}

/* st is on s's backend afterwards (a Parse of the pooler's first if not). */
bool lp_prep_ensure_on_server(struct lp_client *c, struct lp_server *s, struct lp_prep_server *ps,
			     struct lp_pstmt *st)
{
	if (lp_prep_sstmt_has(ps, st, true))
		return true;
	return lp_prep_evict(c, s, ps) &&
	       send_parse(c, s, ps, st, LP_TRK_SWALLOW, EV_SRV_PARSE, NULL, 0);
}

/* ---- the client's messages ---- */

bool lp_prep_on(const struct lp_client *c)
{
	/* A replication client keeps its server: its statements stay there. */
	return c->pool && c->pool->inst->cfg.s.max_prepared_statements > 0 &&
	       lp_pool_mode_of(c->pool) != LP_POOL_SESSION && !c->replication;
}

/* The whole message is needed: wait for it, or take it beyond the buffer. */
enum lp_frame_act lp_prep_need_whole(struct lp_client *c, const struct lp_msg_hdr *h, uint32_t bound)
{
	uint32_t total = h->len + 1;
	if (total <= lp_io_buf_size())
		return LP_FRAME_MORE;
	if (total > bound) {
		lp_client_fail(c, "54000",
			       "prepared statement message too long to follow (%u bytes, at most %u)", total,
			       bound);
		return LP_FRAME_CLOSED;
	}
	return LP_FRAME_CAPTURE;
}

/* A NUL-terminated string at body[off], within len: its length, or -1. */
long lp_prep_cstr_at(const uint8_t *body, uint32_t len, uint32_t off)
{
	if (off >= len)
		return -1;
	const uint8_t *z = memchr(body + off, 0, len - off);
	return z ? (long)(z - (body + off)) : -1;
}

static enum lp_frame_act on_parse(struct lp_client *c, struct lp_server *s,
				  const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				  bool *handled)
{
	if (avail <= h->len) {
		/* the name comes first: an unnamed statement passes as it streams */
		if (avail > LP_PROTO_HDR_LEN && msg[LP_PROTO_HDR_LEN] == '\0')
			return LP_FRAME_FORWARD;
		*handled = true;
		return lp_prep_need_whole(c, h, PARSE_MAX);
	}
	const uint8_t *body = msg + LP_PROTO_HDR_LEN;
	uint32_t blen = h->len - 4;
	long nl = lp_prep_cstr_at(body, blen, 0);
	if (nl <= 0)
		return LP_FRAME_FORWARD;        /* unnamed, or malformed: the server says */
	const char *name = (const char *)body;
	const uint8_t *tail = body + nl + 1;
	uint32_t tlen = blen - (uint32_t)nl - 1;
	/* query, then int16 count and that many int32 type OIDs */
	long ql = lp_prep_cstr_at(tail, tlen, 0);
	if (ql < 0 || tlen < (uint32_t)ql + 3)
		return LP_FRAME_FORWARD;
	int n = (tail[ql + 1] << 8) | tail[ql + 2];
	if (tlen != (uint32_t)ql + 3 + 4u * (uint32_t)n)
		return LP_FRAME_FORWARD;
	*handled = true;
	struct cname *old = lp_prep_cname_find(c, name, (size_t)nl);
	if (old && !old->doubtful) {
		lp_client_log(c, LP_LOG_WARNING, "prepared statement '%s' was already prepared", name);
		lp_client_fail(c, "42P05", "prepared statement \"%s\" already exists", name);
		return LP_FRAME_CLOSED;
	}
	if (c->io.start != c->io.pos)
		return LP_FRAME_STOP;           /* what came before goes first */
	if (old)
		lp_prep_cname_del(c, name, (size_t)nl, NULL);   /* it never took: prepared anew */
	struct lp_prep_server *ps = lp_prep_server_state(s);
	if (!ps)
		goto oom;
	if (c->prep && c->prep->n >= CLIENT_MAX) {
		lp_client_fail(c, "53400", "too many prepared statements (at most %u per client)",
			       CLIENT_MAX);
		return LP_FRAME_CLOSED;
	}
	if (!lp_prep_room_for(s, lp_prep_evictions(s, ps) + 1))
		return LP_FRAME_STOP;
	struct lp_pstmt *st = lp_prep_stmt_get(c->inst, ST_PROTO, tail, tlen);
	if (!st)
		goto oom;
	bool mapped = lp_prep_cname_put(c, name, (size_t)nl, st);
	lp_prep_stmt_unref(c->inst, st);        /* the name holds it now */
	if (!mapped)
		goto oom;
	c->pool->stats.client_parses++;
	c->pool->stats.bytes_in += h->len + 1u;
	c->last_active_us = lp_now_us();
	if (lp_prep_sstmt_has(ps, st, true)) {
		/* Already on this backend: ParseComplete from the pooler. */
		if (!lp_prep_ev_push(ps, EV_CLI_SYNTH_PARSE, st, name, (size_t)nl))
			goto oom;
		(void)lp_track_frontend(&s->trk, 'P', 0, LP_TRK_SYNTH, 1);
		lp_prep_emit(s);
		return LP_FRAME_CONSUMED;
	}
	if (!lp_prep_evict(c, s, ps) || !send_parse(c, s, ps, st, LP_TRK_FORWARD, EV_CLI_PARSE, name, (size_t)nl))
		return LP_FRAME_CLOSED;
	return LP_FRAME_CONSUMED;
oom:
	lp_client_fail(c, "53200", "out of memory");
	return LP_FRAME_CLOSED;
}

/* Longest portal name a Bind is rewritten with in place. */
#define PORTAL_INLINE 64u

static enum lp_frame_act on_bind(struct lp_client *c, struct lp_server *s,
				 const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				 bool *handled)
{
	const uint8_t *body = msg + LP_PROTO_HDR_LEN;
	uint32_t have = (avail <= h->len ? avail : h->len + 1) - LP_PROTO_HDR_LEN;
	/* The usual: the unnamed portal of the unnamed statement. */
	if (have >= 2 && body[0] == '\0' && body[1] == '\0')
		return LP_FRAME_FORWARD;
	long pl = lp_prep_cstr_at(body, have, 0);
	long sl = pl < 0 ? -1 : lp_prep_cstr_at(body, have, (uint32_t)pl + 1);
	if (sl < 0) {
		if (avail > h->len)
			return LP_FRAME_FORWARD;        /* malformed: the server says */
		*handled = true;
		return lp_prep_need_whole(c, h, PARSE_MAX);
	}
	if (sl == 0)
		return LP_FRAME_FORWARD;                /* the unnamed statement */
	const char *sname = (const char *)body + pl + 1;
	struct lp_pstmt *st = lp_prep_cname_get(c, sname, (size_t)sl);
	if (!st)
		return LP_FRAME_FORWARD;                /* never prepared: the server's error */
	*handled = true;
	if (c->io.start != c->io.pos)
		return LP_FRAME_STOP;           /* what came before goes first */
	struct lp_prep_server *ps = lp_prep_server_state(s);
	if (!ps) {
		lp_client_fail(c, "53200", "out of memory");
		return LP_FRAME_CLOSED;
	}
	if (!lp_prep_room_for(s, lp_prep_evictions(s, ps) + 2))
		return LP_FRAME_STOP;
	if (!lp_prep_ensure_on_server(c, s, ps, st))
		return LP_FRAME_CLOSED;
	/* The new head: type, length, portal, our name; the rest as sent. */
	char name[NAME_MAX_LEN];
	size_t nlen = lp_prep_server_name(st, name);
	uint32_t head = LP_PROTO_HDR_LEN + (uint32_t)pl + 1 + (uint32_t)sl + 1;
	uint32_t total = h->len + 1;
	uint32_t ntotal = total - (uint32_t)sl + (uint32_t)nlen;
	uint8_t hb[LP_PROTO_HDR_LEN];
	hb[0] = 'B';
	uint32_t nlenword = ntotal - 1;
	hb[1] = (uint8_t)(nlenword >> 24);
	hb[2] = (uint8_t)(nlenword >> 16);
	hb[3] = (uint8_t)(nlenword >> 8);
	hb[4] = (uint8_t)nlenword;
	(void)lp_track_frontend(&s->trk, 'B', 0, LP_TRK_FORWARD, 0);
	c->pool->stats.binds++;
	c->pool->stats.bytes_in += total;
	c->last_active_us = lp_now_us();
	if (msg == lp_io_parse_ptr(&c->io) && (uint32_t)pl <= PORTAL_INLINE) {
		/* The new head replaces the old one in the client's buffer: the
		 * Bind leaves with what follows it (Execute, Sync) in one write,
		 * as it would unchanged. */
		uint8_t nb[LP_PROTO_HDR_LEN + PORTAL_INLINE + 1 + NAME_MAX_LEN + 1];
		uint32_t nhead = LP_PROTO_HDR_LEN + (uint32_t)pl + 1 + (uint32_t)nlen + 1;
		memcpy(nb, hb, sizeof(hb));
		memcpy(nb + LP_PROTO_HDR_LEN, body, (size_t)pl + 1);
		memcpy(nb + LP_PROTO_HDR_LEN + pl + 1, name, nlen + 1);
		if (lp_io_splice(&c->io, head, nb, nhead))
			return LP_FRAME_FORWARD;
	}
	/* A captured message, or no room in the buffer: the new head goes out
	 * on its own. */
	if (lp_io_send(&s->io, hb, sizeof(hb)) < 0 ||
	    lp_io_send(&s->io, body, (size_t)pl + 1) < 0 ||
	    lp_io_send(&s->io, name, nlen + 1) < 0) {
		lp_client_fail(c, "08006", "server connection lost");
		return LP_FRAME_CLOSED;
	}
	if (avail > h->len) {
		/* whole (or captured): the rest is sent from here */
		if (lp_io_send(&s->io, msg + head, total - head) < 0) {
			lp_client_fail(c, "08006", "server connection lost");
			return LP_FRAME_CLOSED;
		}
		return LP_FRAME_CONSUMED;
	}
	/* The head is replaced; the parameters stream through as they come. */
	lp_io_consume(&c->io, head);
	return LP_FRAME_FORWARD;
}

/* Describe or Close of a statement ('S'); portals pass. */
static enum lp_frame_act on_describe_close(struct lp_client *c, struct lp_server *s,
					   const struct lp_msg_hdr *h, const uint8_t *msg,
					   uint32_t avail, bool *handled)
{
	/* A portal, as sent: only statements are renamed. */
	if (avail > LP_PROTO_HDR_LEN && msg[LP_PROTO_HDR_LEN] != 'S' &&
	    h->len <= LP_PROTO_SMALL_MSG_MAX)
		return LP_FRAME_FORWARD;
	if (avail <= h->len) {
		*handled = true;
		return lp_prep_need_whole(c, h, PARSE_MAX);
	}
	const uint8_t *body = msg + LP_PROTO_HDR_LEN;
	uint32_t blen = h->len - 4;
	long nl = lp_prep_cstr_at(body, blen, 1);
	const char *cn = (const char *)body + 1;
	struct lp_pstmt *st = NULL;
	if (blen >= 2 && body[0] == 'S' && nl > 0 && (uint32_t)nl + 2 == blen)
		st = lp_prep_cname_get(c, cn, (size_t)nl);
	/* Only a statement of the client's is renamed, so only its name may be
	 * longer than PostgreSQL takes in these messages. */
	if (!st && h->len > LP_PROTO_SMALL_MSG_MAX)
		goto too_long;
	/* Passed through as sent: a Describe of a name the client never
	 * prepared (the server's error), a portal, the unnamed statement. */
	if (!st && (h->type == 'D' || blen < 2 || body[0] != 'S' || nl <= 0 ||
		    (uint32_t)nl + 2 != blen))
		return LP_FRAME_FORWARD;
	struct lp_prep_server *ps = lp_prep_server_state(s);
	if (!ps) {
		*handled = true;
		lp_client_fail(c, "53200", "out of memory");
		return LP_FRAME_CLOSED;
	}
	if (h->type == 'C') {
		/* Answered here: the statement stays on the server for others.
		 * Closing a name that does not exist is no error. */
		*handled = true;
		if (!lp_prep_room_for(s, 1))
			return LP_FRAME_STOP;
		if (st)
			lp_prep_cname_del(c, cn, (size_t)nl, NULL);
		c->pool->stats.bytes_in += h->len + 1u;
		(void)lp_track_frontend(&s->trk, 'C', 'S', LP_TRK_SYNTH, 0);
		lp_prep_emit(s);
		return LP_FRAME_CONSUMED;
	}
	*handled = true;
	if (c->io.start != c->io.pos)
		return LP_FRAME_STOP;
	if (!lp_prep_room_for(s, lp_prep_evictions(s, ps) + 2))
		return LP_FRAME_STOP;
	if (!lp_prep_ensure_on_server(c, s, ps, st))
		return LP_FRAME_CLOSED;
	char name[NAME_MAX_LEN];
	lp_prep_server_name(st, name);
	uint8_t buf[64];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_wr_begin(&w, 'D');
	lp_wr_u8(&w, 'S');
	lp_wr_cstr(&w, name);
	lp_wr_end(&w);
	(void)lp_track_frontend(&s->trk, 'D', 'S', LP_TRK_FORWARD, 0);
	c->pool->stats.bytes_in += h->len + 1u;
	return lp_prep_send_w(c, s, &w) ? LP_FRAME_CONSUMED : LP_FRAME_CLOSED;
too_long:
	*handled = true;
	lp_client_fail(c, "08P01", "message too long for its type: type '%c', length %u", h->type,
		       h->len);
	return LP_FRAME_CLOSED;
}

enum lp_frame_act lp_prep_frontend(struct lp_client *c, struct lp_server *s,
				   const struct lp_msg_hdr *h, const uint8_t *msg, uint32_t avail,
				   bool *handled)
{
	*handled = false;
	if (lp_track_discarding(&s->trk)) {
		/* The server discards it unread: a Parse prepares nothing, a
		 * Close closes nothing, no name is checked. It passes as sent;
		 * one already taken whole is dropped here instead. */
		if (c->io.capture) {
			*handled = true;
			return LP_FRAME_CONSUMED;
		}
		return LP_FRAME_FORWARD;
	}
	switch (h->type) {
	case 'P':
		return on_parse(c, s, h, msg, avail, handled);
	case 'B':
		return on_bind(c, s, h, msg, avail, handled);
	case 'D':
	case 'C':
		return on_describe_close(c, s, h, msg, avail, handled);
	case 'Q':
		return lp_prep_query(c, s, h, msg, avail, handled);
	default:
		return LP_FRAME_FORWARD;
	}
}

/* A simple Query the pooler answers (SQL-level PREPARE, DEALLOCATE): its
 * result, then ReadyForQuery with the transaction status the server has. */
static void emit_query_answer(struct lp_server *s, struct lp_client *c)
{
	const struct pev *e = &s->prep->ev[s->prep->evhead];
	uint8_t buf[600];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	if (e->what == EV_SYNTH_DUP) {
		char msg[160];
		snprintf(msg, sizeof(msg), "prepared statement \"%s\" already exists", e->name);
		lp_build_error(&w, "ERROR", "42P05", msg);
	} else {
		lp_build_command_complete(&w, e->what == EV_SYNTH_PREPARE ? "PREPARE" : "DEALLOCATE");
	}
	lp_build_rfq(&w, s->trk.tx);
	c->last_rfq = s->trk.tx;
	lp_track_synth_done(&s->trk);
	(void)lp_io_send(&c->io, buf, w.len);
	/* Nothing else owed: the link may go back to the pool, as after a
	 * ReadyForQuery from the server (server_flush releases it). */
	if (lp_pool_mode_of(s->pool) != LP_POOL_SESSION && lp_track_releasable(&s->trk) &&
	    !lp_frame_mid_message(&c->io) && c->io.start == c->io.pos) {
		s->release_pending = true;
		lp_server_kick(s);
	}
}

void lp_prep_emit(struct lp_server *s)
{
	struct lp_client *c = s->client;
	struct lp_trk_req r;
	while (c && s->io.start == s->io.pos && !s->release_pending &&
	       lp_track_synth_ready(&s->trk, &r)) {
		if (r.kind == LP_TRK_QUERY) {
			emit_query_answer(s, c);
			continue;
		}
		uint8_t m[LP_PROTO_HDR_LEN] = { r.kind == LP_TRK_PARSE ? '1' : '3', 0, 0, 0, 4 };
		lp_track_synth_done(&s->trk);
		if (lp_io_send(&c->io, m, sizeof(m)) < 0)
			return;         /* the client is gone: its read side notices */
	}
}

/* ---- lifecycle ---- */

void lp_prep_server_forget(struct lp_server *s)
{
	struct lp_prep_server *ps = s->prep;
	if (!ps)
		return;
	struct lp_instance *inst = s->pool->inst;
	while (!lp_list_empty(&ps->lru)) {
		struct sstmt *e = lp_container_of(lp_list_first(&ps->lru), struct sstmt, lru);
		sstmt_del(inst, ps, e->st);
	}
}

void lp_prep_server_gone(struct lp_server *s)
{
	struct lp_prep_server *ps = s->prep;
	if (!ps)
		return;
	struct lp_instance *inst = s->pool->inst;
	lp_prep_server_forget(s);
	while (ps->evn > 0) {
		struct pev *e = &ps->ev[ps->evhead];
		lp_prep_stmt_unref(inst, e->st);
		free(e->name);
		ps->evhead = (ps->evhead + 1) % ps->evcap;
		ps->evn--;
	}
	free(ps->ev);
	free(ps->b);
	free(ps);
	s->prep = NULL;
	lp_track_on_done(&s->trk, NULL, NULL);
}

void lp_prep_client_gone(struct lp_client *c)
{
	if (!c->prep)
		return;
	lp_prep_cname_clear(c);
	free(c->prep->b);
	free(c->prep);
	c->prep = NULL;
}

int lp_prep_client_count(const struct lp_client *c)
{
	return c->prep ? (int)c->prep->n : 0;
}

int lp_prep_server_count(const struct lp_server *s)
{
	return s->prep ? (int)s->prep->n : 0;
}

void lp_prep_cleanup(struct lp_instance *inst)
{
	struct lp_prep_table *t = inst->prep;
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nb; i++)
		for (struct lp_pstmt *st = t->b[i], *next; st; st = next) {
			next = st->next;
			free(st);
		}
	free(t->b);
	free(t);
	inst->prep = NULL;
}
