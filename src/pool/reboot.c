/*
 * Online restart, the new process's side (reboot.h): `linkpool -R`.
 *
 * It talks to the running process's console with blocking I/O before its
 * own loop starts: login over the unix socket as "pgbouncer" (peer
 * credentials, so only the same OS user can take the sockets, and the
 * secrets -- cancel keys, SCRAM keys, auth_query passwords -- only go that
 * way), SUSPEND, SHOW FDS (each row with its descriptor, takeover.c), then
 * SHUTDOWN; only after the old process has gone does it build its
 * listeners, servers, clients and links, so a failure before that leaves
 * the old process running (it is told to RESUME).
 */
#include "pool/reboot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "net/fdpass.h"
#include "pool/client.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"
#include "pool/prepared.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "proto/handoff.h"
#include "proto/proto.h"

#define CONV_MAX_MSG (64u << 20)        /* the largest console message we read */
#define MAX_FDS 1048576

struct conv {
	int sock;
	int timeout_ms;
	uint8_t *buf;                   /* received, not yet parsed: [start, end) */
	size_t start, end, cap;
	int *fds;                       /* received descriptors, in order: [fd_next, nfds) */
	int nfds, fd_next, fd_cap;
	char err[300];
};

static void conv_fail(struct conv *cv, const char *fmt, const char *arg)
{
	if (!cv->err[0])
		snprintf(cv->err, sizeof(cv->err), fmt, arg ? arg : "");
}

static int conv_send(struct conv *cv, const struct lp_writer *w)
{
	if (w->overflow || lp_fdpass_send(cv->sock, w->buf, w->len, -1, cv->timeout_ms) < 0) {
		conv_fail(cv, "cannot write to the running process: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int conv_query(struct conv *cv, const char *sql)
{
	uint8_t buf[128];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_query(&w, sql);
	return conv_send(cv, &w);
}

/* Reads once more from the socket. 0 at end of stream, -1 on error. */
static int conv_fill(struct conv *cv)
{
	if (cv->start > 0 && cv->start == cv->end)
		cv->start = cv->end = 0;
	if (cv->cap - cv->end < 65536) {
		if (cv->start > 0) {
			memmove(cv->buf, cv->buf + cv->start, cv->end - cv->start);
			cv->end -= cv->start;
			cv->start = 0;
		}
		if (cv->cap - cv->end < 65536) {
			size_t ncap = cv->cap ? cv->cap * 2 : 262144;
			uint8_t *nb = ncap <= CONV_MAX_MSG + 65536u ? realloc(cv->buf, ncap) : NULL;
			if (!nb) {
				conv_fail(cv, "message from the running process too large%s", NULL);
				return -1;
			}
			cv->buf = nb;
			cv->cap = ncap;
		}
	}
	int got[16], ngot = 0;
	ssize_t n = lp_fdpass_recv(cv->sock, cv->buf + cv->end, cv->cap - cv->end, got, 16, &ngot,
				   cv->timeout_ms);
	int saved = errno;
	for (int i = 0; i < ngot; i++) {
		if (cv->nfds == cv->fd_cap) {
			int ncap = cv->fd_cap ? cv->fd_cap * 2 : 256;
			int *nf = ncap <= MAX_FDS ? realloc(cv->fds, (size_t)ncap * sizeof(int)) : NULL;
			if (!nf) {
				for (; i < ngot; i++)
					close(got[i]);
				conv_fail(cv, "too many descriptors%s", NULL);
				return -1;
			}
			cv->fds = nf;
			cv->fd_cap = ncap;
		}
		cv->fds[cv->nfds++] = got[i];
	}
	if (n < 0) {
		conv_fail(cv, "cannot read from the running process: %s", strerror(saved));
		return -1;
	}
	cv->end += (size_t)n;
	return n > 0 ? 1 : 0;
}

/* The next whole message: type, body, body length. -1 on error or EOF. */
static int conv_msg(struct conv *cv, uint8_t *type, const uint8_t **body, uint32_t *blen)
{
	for (;;) {
		struct lp_msg_hdr h;
		const char *err;
		size_t avail = cv->end - cv->start;
		int rc = lp_msg_hdr_parse(cv->buf + cv->start, avail, CONV_MAX_MSG, &h, &err);
		if (rc == LP_PROTO_ERROR) {
			conv_fail(cv, "bad message from the running process: %s", err);
			return -1;
		}
		if (rc == LP_PROTO_OK && avail > h.len) {
			*type = h.type;
			*body = cv->buf + cv->start + LP_PROTO_HDR_LEN;
			*blen = h.len - 4;
			cv->start += h.len + 1u;
			return 0;
		}
		int r = conv_fill(cv);
		if (r <= 0) {
			if (r == 0)
				conv_fail(cv, "the running process closed the connection%s", NULL);
			return -1;
		}
	}
}

/* An ErrorResponse's message into cv->err. */
static void conv_error(struct conv *cv, const uint8_t *body, uint32_t blen)
{
	struct lp_err_fields f;
	const char *err;
	memset(&f, 0, sizeof(f));
	if (lp_msg_parse_error(body, blen, &f, &err) == LP_PROTO_OK && f.message)
		conv_fail(cv, "the running process refused: %s", f.message);
	else
		conv_fail(cv, "the running process refused%s", NULL);
}

/* Reads to ReadyForQuery; true when a CommandComplete with tag came. */
static bool conv_command(struct conv *cv, const char *sql, const char *tag)
{
	uint8_t type;
	const uint8_t *body;
	uint32_t blen;
	bool ok = false;
	if (conv_query(cv, sql) < 0)
		return false;
	for (;;) {
		if (conv_msg(cv, &type, &body, &blen) < 0)
			return false;
		if (type == 'C' && blen > 0 && strncmp((const char *)body, tag, blen) == 0)
			ok = true;
		else if (type == 'E')
			conv_error(cv, body, blen);
		else if (type == 'Z')
			return ok;
	}
}

/* One SHOW FDS row, as the new process keeps it until SHUTDOWN is done. */
struct fdrow {
	int fd, oldfd, link;
	char task;                      /* 'p', 'c', 's' */
	char *password;
	bool have_key;
	uint8_t key[LP_SCRAM_KEY_LEN];
	uint8_t *state;
	size_t state_len;
	struct lp_client *c;
	struct lp_server *s;
};

#define NCOLS 16                        /* PgBouncer's 15, then linkpool_state */

/* A text column of a DataRow: its bytes (not NUL-terminated) or NULL. */
static bool row_col(struct lp_reader *r, const char **v, int32_t *len)
{
	*len = lp_rd_i32(r);
	if (*len == -1) {
		*v = NULL;
		return !r->err;
	}
	*v = (const char *)lp_rd_bytes(r, *len);
	return *v != NULL;
}

static bool col_int(const char *v, int32_t len, long long *out)
{
	char tmp[32];
	if (!v || len <= 0 || len >= (int32_t)sizeof(tmp))
		return false;
	memcpy(tmp, v, (size_t)len);
	tmp[len] = '\0';
	char *end;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	return !errno && *end == '\0';
}

static int parse_row(struct conv *cv, const uint8_t *body, uint32_t blen, struct fdrow *row)
{
	struct lp_reader r;
	const char *v[NCOLS];
	int32_t len[NCOLS];
	long long oldfd, link;
	lp_rd_init(&r, body, blen);
	if (lp_rd_i16(&r) != NCOLS)
		goto bad;
	for (int i = 0; i < NCOLS; i++)
		if (!row_col(&r, &v[i], &len[i]))
			goto bad;
	if (!col_int(v[0], len[0], &oldfd) || !v[1] || !col_int(v[7], len[7], &link))
		goto bad;
	row->oldfd = (int)oldfd;
	row->link = (int)link;
	if (len[1] == 6 && memcmp(v[1], "pooler", 6) == 0)
		row->task = 'p';
	else if (len[1] == 6 && memcmp(v[1], "client", 6) == 0)
		row->task = 'c';
	else if (len[1] == 6 && memcmp(v[1], "server", 6) == 0)
		row->task = 's';
	else
		goto bad;
	if (v[12]) {                    /* password */
		row->password = strndup(v[12], (size_t)len[12]);
		if (!row->password || strlen(row->password) != (size_t)len[12])
			goto bad;
	}
	if (v[13]) {                    /* scram_client_key */
		if (lp_hex_decode(v[13], (size_t)len[13], row->key, sizeof(row->key)) !=
		    (long)sizeof(row->key))
			goto bad;
		row->have_key = true;
	}
	if (!v[15] || len[15] < 2)      /* linkpool_state */
		goto bad;
	row->state = malloc((size_t)len[15] / 2);
	if (!row->state)
		goto bad;
	long n = lp_hex_decode(v[15], (size_t)len[15], row->state, (size_t)len[15] / 2);
	if (n < 0)
		goto bad;
	row->state_len = (size_t)n;
	struct lp_handoff h;
	const char *err;
	if (lp_handoff_decode(row->state, row->state_len, &h, &err) != LP_PROTO_OK) {
		conv_fail(cv, "bad takeover record: %s", err);
		return -1;
	}
	if ((row->task == 'p') != (h.kind == LP_HO_LISTENER) ||
	    (row->task == 'c') != (h.kind == LP_HO_CLIENT) || (h.kind != LP_HO_LISTENER && (!h.db || !h.user))) {
		conv_fail(cv, "takeover record does not match its row%s", NULL);
		return -1;
	}
	return 0;
bad:
	conv_fail(cv, "malformed SHOW FDS row from the running process%s", NULL);
	return -1;
}

/* SHOW FDS: the rows, each with the descriptor that came with it. */
static struct fdrow *conv_show_fds(struct conv *cv, int *nrows)
{
	struct fdrow *rows = NULL;
	int n = 0, cap = 0;
	uint8_t type;
	const uint8_t *body;
	uint32_t blen;
	bool complete = false;
	*nrows = 0;
	if (conv_query(cv, "SHOW FDS;") < 0)
		return NULL;
	for (;;) {
		if (conv_msg(cv, &type, &body, &blen) < 0)
			goto lost;
		if (type == 'Z')
			break;
		if (type == 'E') {
			conv_error(cv, body, blen);
			continue;
		}
		if (type == 'C') {
			complete = true;
			continue;
		}
		if (type == 'T') {
			struct lp_reader r;
			lp_rd_init(&r, body, blen);
			int16_t nc = lp_rd_i16(&r);
			const char *last = NULL;
			for (int i = 0; i < nc && !r.err; i++) {
				last = lp_rd_cstr(&r);
				(void)lp_rd_bytes(&r, 18);
			}
			if (nc != NCOLS || r.err || !last || strcmp(last, "linkpool_state") != 0) {
				conv_fail(cv, "the running process handed over no linkpool state "
					      "(is it linkpool, running as this OS user?)%s", NULL);
			}
			continue;
		}
		if (type != 'D' || cv->err[0])
			continue;
		if (n == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct fdrow *nr = realloc(rows, (size_t)ncap * sizeof(*rows));
			if (!nr) {
				conv_fail(cv, "out of memory%s", NULL);
				continue;
			}
			rows = nr;
			cap = ncap;
		}
		struct fdrow *row = &rows[n];
		memset(row, 0, sizeof(*row));
		row->fd = -1;
		n++;
		/* The descriptor came with the row's first byte. */
		if (cv->fd_next == cv->nfds) {
			conv_fail(cv, "a SHOW FDS row came without its descriptor%s", NULL);
			continue;
		}
		row->fd = cv->fds[cv->fd_next++];
		/* A bad row fails the whole, read to its end all the same: the
		 * console must be in step to hear RESUME. */
		(void)parse_row(cv, body, blen, row);
	}
	if (!complete || cv->err[0])
		goto fail;
	*nrows = n;
	return rows;
lost:
fail:
	for (int i = 0; i < n; i++) {
		if (rows[i].fd >= 0)
			close(rows[i].fd);
		free(rows[i].password);
		free(rows[i].state);
	}
	free(rows);
	conv_fail(cv, "SHOW FDS failed%s", NULL);
	return NULL;
}

static void free_rows(struct fdrow *rows, int n)
{
	for (int i = 0; i < n; i++) {
		if (rows[i].fd >= 0)
			close(rows[i].fd);
		if (rows[i].password) {
			memset(rows[i].password, 0, strlen(rows[i].password));
			free(rows[i].password);
		}
		free(rows[i].state);
	}
	free(rows);
}

/* ---- building the objects ---- */

static int64_t since(int64_t now, int64_t age_plus_one)
{
	return age_plus_one ? now - (age_plus_one - 1) : 0;
}

static void set_params(struct lp_params *p, const struct lp_ho_param *in, int n)
{
	for (int i = 0; i < n; i++)
		lp_params_set(p, in[i].name, in[i].value);
}

static void user_from_row(struct lp_user *u, const struct fdrow *row)
{
	if (row->have_key && !u->have_client_key) {
		memcpy(u->scram_client_key, row->key, sizeof(u->scram_client_key));
		u->have_client_key = true;
	}
	/* An auth_query answer: good for server logins, asked again for a
	 * client login (expired). */
	if (row->password && !u->in_auth_file && !u->authq_secret)
		u->authq_secret = strdup(row->password);
}

static struct lp_db *row_db(struct lp_instance *inst, const char *name)
{
	bool created = false;
	if (lp_registry_console_name(name))
		return NULL;
	return lp_registry_auto_db(inst, name, &created);
}

static struct lp_server *build_server(struct lp_instance *inst, struct fdrow *row,
				      const struct lp_handoff *h, int64_t now)
{
	struct lp_db *db = row_db(inst, h->db);
	struct lp_user *u = db ? lp_registry_get_user(inst, h->user) : NULL;
	struct lp_pool *pool = u ? lp_registry_get_pool(inst, db, u) : NULL;
	if (!pool)
		return NULL;
	user_from_row(u, row);
	struct lp_server *s = lp_server_adopt(pool, row->fd, h->id);
	if (!s)
		return NULL;
	row->fd = -1;                   /* the server owns it */
	s->be_pid = h->key_pid;
	s->be_key = h->key_secret;
	s->connect_us = since(now, h->connect_age_us);
	s->last_used_us = since(now, h->active_age_us);
	s->request_us = since(now, h->request_age_us);
	s->xact_start_us = since(now, h->xact_age_us);
	s->lifetime_us = h->lifetime_us;
	s->close_needed = h->flags & LP_HO_F_CLOSE_NEEDED;
	set_params(&s->params, h->params, h->nparams);
	if (!pool->welcome_ready && h->nwelcome > 0) {
		set_params(&pool->welcome, h->welcome, h->nwelcome);
		lp_params_mark_tracked(inst, &pool->welcome);
		pool->welcome_ready = true;
	}
	if (h->have_track) {
		struct lp_trk_req *reqs = h->nreqs ? malloc(h->nreqs * sizeof(*reqs)) : NULL;
		bool ok = h->nreqs == 0 || reqs;
		for (uint32_t i = 0; ok && i < h->nreqs; i++) {
			const uint8_t *e = h->reqs + (size_t)i * LP_HO_REQ_LEN;
			reqs[i] = (struct lp_trk_req){ .kind = e[0], .action = e[1], .stage = e[2],
						       .sub = e[3],
						       .tag = (uint32_t)e[4] << 24 | (uint32_t)e[5] << 16 |
							      (uint32_t)e[6] << 8 | e[7] };
			/* A request the other process injected or answers itself
			 * (prepared statements) names its statements by its tags:
			 * they mean nothing here. */
			ok = reqs[i].action == LP_TRK_FORWARD && reqs[i].tag == 0;
		}
		while (ok && s->trk.cap < h->nreqs)
			ok = lp_server_track_grow(s);
		ok = ok && lp_track_restore(&s->trk, reqs, h->nreqs, h->trk_tx, h->trk_copy,
					    h->trk_copy_in_fe, h->trk_batch_open, h->trk_fe_skip);
		free(reqs);
		if (!ok) {
			lp_server_close(s, "online restart: conversation state not restorable");
			return NULL;
		}
	}
	return s;
}

static struct lp_client *build_client(struct lp_instance *inst, struct fdrow *row,
				      const struct lp_handoff *h, int64_t now)
{
	struct lp_db *db = row_db(inst, h->db);
	if (!db)
		return NULL;
	/* The pool as a login now would choose it: the forced user, else
	 * the client's own. */
	const char *pool_user_name = db->conf.user && db->conf.user[0] ? db->conf.user : h->user;
	struct lp_user *pool_user = lp_registry_get_user(inst, pool_user_name);
	struct lp_user *login_user = lp_registry_get_user(inst, h->user);
	struct lp_pool *pool = pool_user && login_user ? lp_registry_get_pool(inst, db, pool_user)
						       : NULL;
	if (!pool)
		return NULL;
	user_from_row(pool_user, row);
	size_t ulen = strlen(h->user) + 1, dlen = strlen(h->db) + 1;
	char *names = malloc(ulen + dlen);
	if (!names)
		return NULL;
	struct lp_client *c = lp_client_adopt(inst, row->fd, h->id);
	if (!c) {
		free(names);
		return NULL;
	}
	row->fd = -1;                   /* the client owns it */
	memcpy(names, h->user, ulen);
	memcpy(names + ulen, h->db, dlen);
	c->user_name = names;
	c->db_name = names + ulen;
	c->pool = pool;
	c->user = pool_user;
	c->login_user = login_user;
	db->client_count++;
	login_user->client_count++;
	c->addr_family = h->addr_family;
	memcpy(c->addr_ip, h->addr_ip, sizeof(c->addr_ip));
	c->port = h->port;
	c->cancel_pid = h->key_pid;
	c->cancel_key = h->key_secret;
	c->connect_us = since(now, h->connect_age_us);
	c->last_active_us = since(now, h->active_age_us);
	c->request_us = since(now, h->request_age_us);
	c->last_rfq = h->last_rfq ? h->last_rfq : 'I';
	c->scram_auth = h->flags & LP_HO_F_SCRAM_AUTH;
	set_params(&c->params, h->params, h->nparams);
	lp_client_adopt_finish(c);
	return c;
}

static int cmp_oldfd(const void *a, const void *b)
{
	const struct fdrow *x = *(const struct fdrow *const *)a, *y = *(const struct fdrow *const *)b;
	return (x->oldfd > y->oldfd) - (x->oldfd < y->oldfd);
}

static struct fdrow *find_server_row(struct fdrow **byfd, int n, int oldfd)
{
	int lo = 0, hi = n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (byfd[mid]->oldfd == oldfd)
			return byfd[mid];
		if (byfd[mid]->oldfd < oldfd)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* After the old process exited: the listeners, servers, clients, links. */
static void build(struct lp_instance *inst, struct fdrow *rows, int n)
{
	int64_t now = lp_now_us();
	int nl = 0, nc = 0, ns = 0, nlinked = 0, dropped = 0, nsrv = 0;
	struct lp_handoff *h = malloc(sizeof(*h));
	struct fdrow **byfd = malloc((size_t)(n ? n : 1) * sizeof(*byfd));
	if (!h || !byfd) {
		lp_log_error("online restart: out of memory, dropping every handed over socket");
		free(h);
		free(byfd);
		return;
	}
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < n; i++) {
			struct fdrow *row = &rows[i];
			const char *err;
			if ((pass == 0) != (row->task == 'p') || (pass == 1) != (row->task == 's') ||
			    (pass == 2) != (row->task == 'c'))
				continue;
			if (lp_handoff_decode(row->state, row->state_len, h, &err) != LP_PROTO_OK)
				continue;       /* checked before SHUTDOWN: cannot happen */
			if (row->task == 'p') {
				if (lp_instance_adopt_listener(inst, row->fd, h->path != NULL, h->path) == 0) {
					row->fd = -1;
					nl++;
				}
			} else if (row->task == 's') {
				row->s = build_server(inst, row, h, now);
				if (row->s) {
					ns++;
					byfd[nsrv++] = row;
					if (h->id > inst->next_socket_id)
						inst->next_socket_id = h->id;
				}
			} else {
				struct fdrow *sr = NULL;
				if (row->link) {
					sr = find_server_row(byfd, nsrv, row->link);
					if (!sr || !sr->s || sr->link != row->oldfd)
						continue;   /* its server did not come: drop it */
				}
				row->c = build_client(inst, row, h, now);
				if (!row->c)
					continue;
				nc++;
				if (h->id > inst->next_socket_id)
					inst->next_socket_id = h->id;
				if (sr && sr->s->pool == row->c->pool) {
					row->c->server = sr->s;
					sr->s->client = row->c;
					lp_server_set_state(sr->s, LP_SV_ACTIVE);
					nlinked++;
				}
			}
		}
		if (pass == 1)
			qsort(byfd, (size_t)nsrv, sizeof(*byfd), cmp_oldfd);
	}
	/* A server that was linked and lost its client, or a client that lost
	 * its server: the conversation cannot go on. */
	for (int i = 0; i < n; i++) {
		struct fdrow *row = &rows[i];
		if (row->s && row->link && !row->s->client) {
			lp_server_close(row->s, "online restart: its client was not handed over");
			row->s = NULL;
			dropped++;
		}
		if (row->c && row->link && !row->c->server) {
			lp_client_close(row->c, "online restart: its server was not handed over");
			row->c = NULL;
			dropped++;
		}
		if (row->fd >= 0) {
			close(row->fd);
			row->fd = -1;
			dropped++;
		}
	}
	for (int i = 0; i < n; i++) {
		if (rows[i].s)
			lp_io_read_on(&rows[i].s->io);
		if (rows[i].c)
			lp_io_read_on(&rows[i].c->io);
	}
	if (ns > 0)
		lp_prep_after_takeover(inst);
	lp_instance_listen_adopted(inst);
	lp_log_info("online restart: took over %d listeners, %d clients, %d servers (%d linked)%s", nl,
		    nc, ns, nlinked, dropped ? "; some sockets could not be kept" : "");
	if (dropped)
		lp_log_warn("online restart: %d handed over sockets dropped (database gone from the "
			    "configuration, or a pair that did not come whole)", dropped);
	free(h);
	free(byfd);
}

/* Connects to the console socket; -1 when nothing listens there. */
static int connect_console(const struct lp_settings *st, char *path, size_t pathcap)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int len = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d", st->unix_socket_dir,
			   st->listen_port);
	snprintf(path, pathcap, "%s", sun.sun_path);
	if (len < 0 || (size_t)len >= sizeof(sun.sun_path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool conv_login(struct conv *cv)
{
	static const char *const names[] = { "user", "database", "application_name" };
	static const char *const values[] = { "pgbouncer", "pgbouncer", "linkpool-takeover" };
	uint8_t buf[256];
	struct lp_writer w;
	lp_wr_init(&w, buf, sizeof(buf));
	lp_build_startup(&w, names, values, 3);
	if (conv_send(cv, &w) < 0)
		return false;
	for (;;) {
		uint8_t type;
		const uint8_t *body;
		uint32_t blen;
		if (conv_msg(cv, &type, &body, &blen) < 0)
			return false;
		if (type == 'R') {
			int32_t code;
			const uint8_t *data;
			size_t dlen;
			const char *err;
			if (lp_msg_parse_auth(body, blen, &code, &data, &dlen, &err) != LP_PROTO_OK ||
			    code != 0) {
				conv_fail(cv, "the running process asked for a password: it must run as "
					      "this OS user for an online restart%s", NULL);
				return false;
			}
		} else if (type == 'E') {
			conv_error(cv, body, blen);
			return false;
		} else if (type == 'Z') {
			return true;
		}
	}
}

int lp_reboot_run(struct lp_instance *inst)
{
	const struct lp_settings *st = &inst->cfg.s;
	char path[256];
	if (!st->unix_socket_dir[0]) {
		lp_log_fatal("cannot do an online restart (-R) without unix_socket_dir");
		return -1;
	}
	struct conv cv = { .sock = -1 };
	cv.sock = connect_console(st, path, sizeof(path));
	if (cv.sock < 0) {
		lp_log_info("online restart: no running process on %s, starting normally", path);
		return 0;
	}
	/* SUSPEND waits for the old process's suspend_timeout at most. */
	int64_t wait_us = st->suspend_timeout > 10000000 ? st->suspend_timeout : 10000000;
	cv.timeout_ms = (int)(wait_us / 1000) + 30000;
	int rc = -1, nrows = 0;
	struct fdrow *rows = NULL;
	bool suspended = false;

	lp_log_info("online restart: taking over from the process on %s", path);
	if (!conv_login(&cv))
		goto out;
	if (!conv_command(&cv, "SUSPEND;", "SUSPEND"))
		goto out;
	suspended = true;
	lp_log_info("online restart: SUSPEND finished, sending SHOW FDS");
	rows = conv_show_fds(&cv, &nrows);
	if (!rows)
		goto out;
	if (cv.fd_next != cv.nfds) {
		conv_fail(&cv, "descriptors came without their rows%s", NULL);
		goto out;
	}
	/* Past this point the old process is going: nothing can go back. */
	lp_log_info("online restart: %d sockets received, sending SHUTDOWN", nrows);
	if (conv_query(&cv, "SHUTDOWN;") < 0)
		goto fatal;
	for (;;) {
		int r = conv_fill(&cv);
		if (r == 0)
			break;
		if (r < 0)
			goto fatal;
		cv.start = cv.end;      /* its answer, if any */
	}
	for (int i = cv.fd_next; i < cv.nfds; i++)
		close(cv.fds[i]);
	cv.nfds = cv.fd_next = 0;
	lp_log_info("online restart: the old process is gone, resuming work");
	build(inst, rows, nrows);
	rc = 1;
	goto done;
fatal:
	lp_log_fatal("online restart failed after SHUTDOWN was sent: %s", cv.err);
	rc = -1;
	goto done;
out:
	lp_log_fatal("online restart failed: %s", cv.err[0] ? cv.err : "unknown error");
	if (suspended) {
		/* Leave the old process as it was. */
		cv.err[0] = '\0';
		if (conv_command(&cv, "RESUME;", "RESUME"))
			lp_log_info("online restart: the running process was told to RESUME");
		else
			lp_log_error("online restart: RESUME failed too (%s); the running process "
				     "stays suspended until its console gets RESUME", cv.err);
	}
done:
	if (rows)
		free_rows(rows, nrows);
	for (int i = cv.fd_next; i < cv.nfds; i++)
		close(cv.fds[i]);
	free(cv.fds);
	free(cv.buf);
	close(cv.sock);
	return rc;
}
