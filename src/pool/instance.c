/*
 * The running pooler's lifecycle: start, listeners, reload as a new
 * configuration generation, pause/resume, the shutdown modes, and the
 * end-of-turn reaper that frees closed objects (so no callback ever touches
 * freed memory of an object it just closed).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/notify.h"
#include "net/listen.h"
#include "pool/auth_query.h"
#include "pool/cancel.h"
#include "pool/client.h"
#include "pool/client_auth.h"
#include "pool/exporter.h"
#include "pool/extauth.h"
#include "pool/generation.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/prepared.h"
#include "pool/registry.h"
#include "pool/server.h"
#include "pool/takeover.h"

int64_t lp_now_exact_us(void)
{
	return lp_clock_us();
}

/*
 * A transaction asks for the time about six times within one loop turn;
 * inside the main loop (lp_now_turn) the first call of a turn reads the
 * clock, after epoll_wait returned, and the rest reuse it, as PgBouncer's
 * cached time does. Outside the loop (start-up, unit tests) every call
 * reads the clock.
 */
static bool now_cache_on, now_cached;
static int64_t now_cache;

int64_t lp_now_us(void)
{
	if (!now_cache_on)
		return lp_now_exact_us();
	if (!now_cached) {
		now_cache = lp_now_exact_us();
		now_cached = true;
	}
	return now_cache;
}

void lp_now_turn(bool in_loop)
{
	now_cache_on = in_loop;
	now_cached = false;
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg);

static void post_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lp_link_run_posted(arg);
}

void lp_instance_post(struct lp_instance *inst)
{
	/* A zero timer, not event_active(): an event activated from its own
	 * callback runs again in the same pass, and work that posts more work
	 * would spin there without ever polling the sockets. A timer added now
	 * fires at the next turn. */
	static const struct timeval zero = { 0, 0 };
	if (!evtimer_pending(inst->post_ev, NULL))
		evtimer_add(inst->post_ev, &zero);
}

int lp_instance_init(struct lp_instance *inst, const char *config_path, struct lp_generation *g)
{
	memset(inst, 0, sizeof(*inst));
	inst->base = event_base_new();
	if (!inst->base)
		return -1;
	inst->config_path = config_path;
	inst->cfg = g->cfg;
	inst->users_file = g->users;
	inst->sec = g->sec;
	memset(g, 0, sizeof(*g));
	lp_list_init(&inst->dbs);
	lp_list_init(&inst->idle_dbs);
	lp_list_init(&inst->users);
	lp_list_init(&inst->pools);
	lp_list_init(&inst->login_clients);
	lp_list_init(&inst->admin_clients);
	lp_list_init(&inst->justfree_clients);
	lp_list_init(&inst->justfree_servers);
	for (int i = 0; i < LP_CANCEL_BUCKETS; i++)
		lp_list_init(&inst->cancel_hash[i]);
	lp_list_init(&inst->grow_pools);
	lp_list_init(&inst->cancel_reqs);
	if (RAND_bytes(inst->fake_salt_key, sizeof(inst->fake_salt_key)) != 1)
		return -1;
	inst->reaper_ev = event_new(inst->base, -1, 0, reaper_cb, inst);
	if (!inst->reaper_ev)
		return -1;
	inst->post_ev = evtimer_new(inst->base, post_cb, inst);
	if (!inst->post_ev)
		return -1;
	char dns_err[PATH_MAX + 64];
	inst->dns = lp_dns_new(inst->base, inst->cfg.s.resolv_conf, dns_err, sizeof(dns_err));
	if (!inst->dns) {
		lp_log_fatal("cannot start the DNS resolver: %s", dns_err);
		return -1;
	}
	lp_dns_set_ttl(inst->dns, inst->cfg.s.dns_max_ttl);
	lp_dns_set_nxdomain_ttl(inst->dns, inst->cfg.s.dns_nxdomain_ttl);
	if (lp_cancel_peers_start(inst) < 0)
		return -1;
	inst->started_us = lp_now_us();
	lp_registry_apply(inst);
	return 0;
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_instance *inst = arg;
	struct lp_listener *l = NULL;
	(void)what;
	for (int i = 0; i < inst->nlisteners; i++)
		if (inst->listeners[i].fd == fd)
			l = &inst->listeners[i];
	/* Bounded batch: accept what is queued without starving the loop. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				lp_log_error("accept failed: %s", strerror(errno));
			return;
		}
		bool is_unix = l && l->is_unix;
		lp_client_accept(inst, cfd, (struct sockaddr *)&ss, sl, is_unix,
				 !is_unix && inst->cfg.s.tcp_defer_accept > 0);
	}
}

void lp_settings_tcp_tuning(const struct lp_settings *s, struct lp_tcp_tuning *t)
{
	t->keepalive = s->tcp_keepalive;
	t->idle = s->tcp_keepidle;
	t->intvl = s->tcp_keepintvl;
	t->cnt = s->tcp_keepcnt;
	t->user_timeout_ms = (int)(s->tcp_user_timeout / 1000);
	t->sockbuf = s->tcp_socket_buffer;
	/* PgBouncer documents the setting as a switch with 45 s behind it. */
	t->defer_accept_s = s->tcp_defer_accept > 0 ? 45 : 0;
}

void lp_instance_tune_listeners(struct lp_instance *inst)
{
	struct lp_tcp_tuning t;
	lp_settings_tcp_tuning(&inst->cfg.s, &t);
	for (int i = 0; i < inst->nlisteners; i++)
		if (!inst->listeners[i].is_unix && inst->listeners[i].fd >= 0)
			lp_sock_tune_listener(inst->listeners[i].fd, &t);
}

/* unix_socket_group: the socket's group, so its members may connect when
 * unix_socket_mode gives the group access. The name was checked at load. */
static int set_socket_group(const char *path, const char *group)
{
	if (!group[0])
		return 0;
	struct group *gr = getgrnam(group);
	if (!gr) {
		lp_log_fatal("unix_socket_group: no such group \"%s\"", group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
		lp_log_fatal("cannot give %s to group %s (unix_socket_group): %s", path, group,
			     strerror(errno));
		return -1;
	}
	return 0;
}

int lp_instance_listen(struct lp_instance *inst)
{
	const struct lp_settings *s = &inst->cfg.s;
	char err[512];
	int fds[LP_MAX_LISTENERS];
	int n = 0;

	if (s->listen_addr[0]) {
		n = lp_listen_tcp(s->listen_addr, s->listen_port, s->listen_backlog, s->so_reuseport,
				  fds, LP_MAX_LISTENERS - 1, err, sizeof(err));
		if (n < 0) {
			lp_log_fatal("%s", err);
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		inst->listeners[i].fd = fds[i];
		inst->listeners[i].is_unix = false;
	}
	if (s->unix_socket_dir[0]) {
		struct lp_listener *l = &inst->listeners[n];
		int fd = lp_listen_unix(s->unix_socket_dir, s->listen_port, s->unix_socket_mode,
					s->listen_backlog, l->path, sizeof(l->path), err, sizeof(err));
		if (fd < 0) {
			lp_log_fatal("%s", err);
			for (int i = 0; i < n; i++)
				close(fds[i]);
			return -1;
		}
		l->fd = fd;
		l->is_unix = true;
		n++;
		if (set_socket_group(l->path, s->unix_socket_group) < 0) {
			for (int i = 0; i < n; i++)
				close(inst->listeners[i].fd);
			(void)unlink(l->path);
			return -1;
		}
	}
	if (n == 0) {
		lp_log_fatal("nothing to listen on: set listen_addr or unix_socket_dir");
		return -1;
	}
	inst->nlisteners = n;
	lp_instance_tune_listeners(inst);
	for (int i = 0; i < n; i++) {
		struct lp_listener *l = &inst->listeners[i];
		event_assign(&l->ev, inst->base, l->fd, EV_READ | EV_PERSIST, accept_cb, inst);
		event_add(&l->ev, NULL);
	}
	inst->listening = true;
	lp_log_info("listening on %s:%d%s%s", s->listen_addr[0] ? s->listen_addr : "(no tcp)",
		    s->listen_port, s->unix_socket_dir[0] ? " and unix socket in " : "",
		    s->unix_socket_dir);
	return 0;
}

int lp_instance_adopt_listener(struct lp_instance *inst, int fd, bool is_unix, const char *path)
{
	if (inst->nlisteners == LP_MAX_LISTENERS)
		return -1;
	struct lp_listener *l = &inst->listeners[inst->nlisteners++];
	l->fd = fd;
	l->is_unix = is_unix;
	snprintf(l->path, sizeof(l->path), "%s", is_unix && path ? path : "");
	return 0;
}

void lp_instance_listen_adopted(struct lp_instance *inst)
{
	lp_instance_tune_listeners(inst);
	for (int i = 0; i < inst->nlisteners; i++) {
		struct lp_listener *l = &inst->listeners[i];
		event_assign(&l->ev, inst->base, l->fd, EV_READ | EV_PERSIST, accept_cb, inst);
		event_add(&l->ev, NULL);
	}
	inst->listening = inst->nlisteners > 0;
}

/*
 * Closes listeners: only the TCP ones (a graceful shutdown keeps the unix
 * socket, where only the admin console is still let in), or all of them.
 * The unix socket's file goes with it unless another process took the
 * socket over (online restart): the file names that process's socket now.
 */
static void close_listeners(struct lp_instance *inst, bool tcp_only)
{
	for (int i = 0; i < inst->nlisteners; i++) {
		struct lp_listener *l = &inst->listeners[i];
		if (l->fd < 0 || (tcp_only && l->is_unix))
			continue;
		event_del(&l->ev);
		close(l->fd);
		l->fd = -1;
		if (l->is_unix && l->path[0] && !inst->handed_off)
			(void)unlink(l->path);
	}
}

void lp_instance_stop_listening(struct lp_instance *inst)
{
	if (!inst->listening)
		return;
	close_listeners(inst, false);
	inst->listening = false;
}

static void log_settings(const struct lp_settings *s, struct lp_log_settings *ls)
{
	memset(ls, 0, sizeof(*ls));
	ls->logfile = s->logfile;
	ls->syslog = s->syslog;
	ls->syslog_ident = s->syslog_ident;
	ls->syslog_facility = s->syslog_facility;
	ls->verbose = s->verbose;
	ls->to_stderr = true;
}

/* "first problem (and N more)" for the admin console; the log has them all. */
static void summarize(const struct lp_diag *d, char *why, size_t whycap)
{
	if (!why || !whycap)
		return;
	if (d->n == 0)
		snprintf(why, whycap, "unknown error");
	else if (d->n == 1)
		snprintf(why, whycap, "%s", d->msgs[0]);
	else
		snprintf(why, whycap, "%s (and %zu more)", d->msgs[0], d->n - 1);
}

static int reload_failed(struct lp_diag *err, char *why, size_t whycap)
{
	for (size_t i = 0; i < err->n; i++)
		lp_log_error("reload failed: %s", err->msgs[i]);
	lp_log_error("reload failed: keeping the running configuration");
	summarize(err, why, whycap);
	lp_diag_cleanup(err);
	return -1;
}

/*
 * nginx's order: the whole new generation is read and checked first, and
 * the log destinations it names are opened (the last step that can fail);
 * only then is anything of the running one replaced. Nothing after the
 * log switch can fail, so a reload applies all of a generation or none.
 */
int lp_instance_reload(struct lp_instance *inst, char *why, size_t whycap)
{
	struct lp_generation g;
	struct lp_diag err = { 0 }, warn = { 0 };

	/* conffile (SET conffile = ...) names the file a reload reads. */
	const char *path = inst->cfg.s.conffile[0] ? inst->cfg.s.conffile : inst->config_path;
	lp_log_info("reloading configuration from %s", path);
	if (lp_generation_load(path, &g, &err, &warn) < 0)
		return reload_failed(&err, why, whycap);
	for (size_t i = 0; i < warn.n; i++)
		lp_log_warn("%s", warn.msgs[i]);
	lp_diag_cleanup(&warn);

	struct lp_log_settings ls;
	log_settings(&g.cfg.s, &ls);
	if (lp_log_configure(&ls) < 0) {
		lp_diag_add(&err, path, 0, "cannot open logfile %s: %s", ls.logfile, strerror(errno));
		lp_generation_free(&g);
		return reload_failed(&err, why, whycap);
	}

	const struct lp_settings *o = &inst->cfg.s, *n = &g.cfg.s;
	if (strcmp(o->listen_addr, n->listen_addr) != 0 || o->listen_port != n->listen_port ||
	    strcmp(o->unix_socket_dir, n->unix_socket_dir) != 0 || o->pkt_buf != n->pkt_buf)
		lp_log_warn("listen_addr, listen_port, unix_socket_dir and pkt_buf change only at restart");
	/* Keep what cannot change live, so the generation tells the truth. */
	char *keep_addr = g.cfg.s.listen_addr, *keep_dir = g.cfg.s.unix_socket_dir;
	g.cfg.s.listen_addr = inst->cfg.s.listen_addr;
	g.cfg.s.unix_socket_dir = inst->cfg.s.unix_socket_dir;
	inst->cfg.s.listen_addr = keep_addr;
	inst->cfg.s.unix_socket_dir = keep_dir;
	g.cfg.s.listen_port = o->listen_port;
	g.cfg.s.pkt_buf = o->pkt_buf;

	struct lp_generation old = { .cfg = inst->cfg, .users = inst->users_file, .sec = inst->sec };
	inst->cfg = g.cfg;
	inst->users_file = g.users;
	inst->sec = g.sec;
	lp_generation_free(&old);
	lp_dns_set_ttl(inst->dns, inst->cfg.s.dns_max_ttl);
	lp_dns_set_nxdomain_ttl(inst->dns, inst->cfg.s.dns_nxdomain_ttl);

	lp_registry_apply(inst);
	lp_exporter_apply(inst);
	lp_instance_tune_listeners(inst);
	struct lp_list_node *pn, *pt;
	lp_list_foreach_safe(&inst->pools, pn, pt)
		lp_link_dispatch(lp_container_of(pn, struct lp_pool, node));
	lp_log_info("configuration reloaded");
	return 0;
}

/* What a SET of option o rebuilds besides the value itself. */
static bool sets_security(const struct lp_option *o)
{
	return strstr(o->name, "_tls") || strcmp(o->name, "auth_type") == 0 ||
	       strcmp(o->name, "auth_hba_file") == 0;
}

static bool sets_log(const struct lp_option *o)
{
	static const char *const names[] = { "logfile", "syslog", "syslog_ident",
					     "syslog_facility", "verbose" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(o->name, names[i]) == 0)
			return true;
	return false;
}

/*
 * SET follows a reload's order: the value is checked, what depends on it
 * (TLS contexts and HBA rules, the auth_file's users, the log file) is built
 * from the settings as they would be, and only when all of it worked is
 * anything stored -- a certificate that does not load leaves every setting,
 * context and rule as it was.
 */
int lp_instance_set(struct lp_instance *inst, const char *key, const char *value, char *why,
		    size_t whycap)
{
	struct lp_config_change ch;
	struct lp_settings after;
	struct lp_security nsec = { 0 };
	struct lp_userlist nusers = { 0 };
	struct lp_diag d = { 0 };
	bool new_sec = false;
	const char *err = NULL;

	if (lp_config_change_prepare(&inst->cfg, key, value, &ch, &err) < 0) {
		snprintf(why, whycap, "%s", err ? err : "SET failed");
		return -1;
	}
	const struct lp_option *o = ch.o;
	bool new_users = strcmp(o->name, "auth_file") == 0;
	lp_config_change_preview(&inst->cfg, &ch, &after);
	if (sets_security(o)) {
		if (lp_security_load(&after, &nsec, &d) < 0)
			goto fail;
		new_sec = true;
	}
	/* An empty auth_file means no users, as a reload reads it. */
	if (new_users && after.auth_file[0]) {
		if (lp_userlist_load(after.auth_file, &nusers, &d) < 0)
			goto fail;
		for (size_t i = 0; i < d.n; i++)
			lp_log_warn("%s", d.msgs[i]);
		lp_diag_cleanup(&d);
	}
	if (sets_log(o)) {
		struct lp_log_settings ls;
		log_settings(&after, &ls);
		if (lp_log_configure(&ls) < 0) {
			lp_diag_add(&d, "logfile", 0, "cannot open %s: %s", ls.logfile, strerror(errno));
			goto fail;
		}
	}
	lp_config_change_commit(&inst->cfg, &ch);
	if (new_sec) {
		lp_security_free(&inst->sec);
		inst->sec = nsec;
	}
	if (new_users) {
		lp_userlist_free(&inst->users_file);
		inst->users_file = nusers;
	}
	lp_registry_apply(inst);
	lp_instance_tune_listeners(inst);
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->pools, n, t)
		lp_link_dispatch(lp_container_of(n, struct lp_pool, node));
	return 0;
fail:
	summarize(&d, why, whycap);
	lp_diag_cleanup(&d);
	lp_security_free(&nsec);
	lp_userlist_free(&nusers);
	lp_config_change_discard(&ch);
	return -1;
}

void lp_instance_pause(struct lp_instance *inst)
{
	inst->paused = true;
	lp_log_info("pausing: no new server assignments");
}

void lp_instance_accepting(struct lp_instance *inst, bool on)
{
	for (int i = 0; i < inst->nlisteners; i++) {
		struct lp_listener *l = &inst->listeners[i];
		if (l->fd < 0)
			continue;
		if (on)
			event_add(&l->ev, NULL);
		else
			event_del(&l->ev);
	}
}

static void unpark(struct lp_io *io)
{
	if (io->fd < 0 || !(io->parked || io->handed_off))
		return;
	io->handed_off = false;
	lp_io_unpark(io);
	lp_io_kick(io);                 /* its owner turns reading back on */
}

/*
 * Ends SUSPEND, however (RESUME, SIGUSR2, a shutdown, an online restart
 * that gave up before SHUTDOWN): parked sockets are read again, sockets a
 * takeover had been shown are this process's again, the listeners accept.
 */
static void end_suspend(struct lp_instance *inst)
{
	struct lp_list_node *n, *t, *m, *mt;
	inst->suspended = false;
	inst->handed_off = false;
	lp_list_foreach_safe(&inst->pools, n, t) {
		struct lp_pool *p = lp_container_of(n, struct lp_pool, node);
		struct lp_list *cl[] = { &p->active_clients, &p->waiting_clients };
		for (size_t i = 0; i < 2; i++)
			lp_list_foreach_safe(cl[i], m, mt)
				unpark(&lp_container_of(m, struct lp_client, node)->io);
		struct lp_list *sl[] = { &p->idle_servers, &p->used_servers, &p->active_servers,
					 &p->login_servers };
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(sl[i], m, mt)
				unpark(&lp_container_of(m, struct lp_server, node)->io);
	}
	lp_instance_accepting(inst, true);
}

void lp_instance_resume(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	inst->paused = false;
	if (inst->suspended)
		end_suspend(inst);
	lp_log_info("resuming");
	lp_list_foreach_safe(&inst->pools, n, t)
		lp_link_dispatch(lp_container_of(n, struct lp_pool, node));
}

/*
 * WAIT_FOR_SERVERS, as a PAUSE that also turns new work away: clients
 * queued for a server are closed now, unlinked servers and logins in
 * progress go, and each linked server closes when its client releases it.
 */
static void drain_for_shutdown(struct lp_instance *inst)
{
	struct lp_list_node *pn, *pt, *n, *t;
	lp_list_foreach_safe(&inst->pools, pn, pt) {
		struct lp_pool *p = lp_container_of(pn, struct lp_pool, node);
		lp_list_foreach_safe(&p->waiting_clients, n, t)
			lp_client_fail(lp_container_of(n, struct lp_client, node), "57P01",
				       "server shutting down");
		lp_list_foreach_safe(&p->idle_servers, n, t)
			lp_server_close(lp_container_of(n, struct lp_server, node), "shutdown");
		lp_list_foreach_safe(&p->login_servers, n, t)
			lp_server_close(lp_container_of(n, struct lp_server, node), "shutdown");
	}
}

void lp_instance_shutdown(struct lp_instance *inst, enum lp_shutdown_mode mode)
{
	if (inst->shutdown == LP_RUN)
		lp_notify("STOPPING=1");
	/* The sockets are another process's now: nothing left to wait for. */
	if (inst->handed_off)
		mode = LP_SHUTDOWN_NOW;
	inst->shutdown = mode;
	if (mode == LP_SHUTDOWN_NOW) {
		event_base_loopbreak(inst->base);
		return;
	}
	/* New clients are refused where they come in; the unix socket stays
	 * for the admin console (client_auth.c turns the rest away). */
	close_listeners(inst, true);
	if (inst->suspended) {
		/* Suspended clients could never finish what a graceful
		 * shutdown waits for. */
		inst->paused = false;
		end_suspend(inst);
	}
	if (mode == LP_SHUTDOWN_WAIT_SERVERS)
		drain_for_shutdown(inst);
	lp_instance_check_shutdown(inst);
}

void lp_instance_schedule_reap(struct lp_instance *inst)
{
	if (!event_pending(inst->reaper_ev, EV_TIMEOUT, NULL))
		event_active(inst->reaper_ev, EV_TIMEOUT, 1);
}

void lp_instance_check_shutdown(struct lp_instance *inst)
{
	if (inst->shutdown != LP_RUN)
		lp_instance_schedule_reap(inst);
}

static bool servers_left(struct lp_instance *inst)
{
	struct lp_list_node *pn, *pt;
	lp_list_foreach_safe(&inst->pools, pn, pt)
		if (lp_pool_server_total(lp_container_of(pn, struct lp_pool, node)) > 0)
			return true;
	return false;
}

/* PgBouncer's exit conditions and log lines: WAIT_FOR_CLIENTS ends with the
 * last pooled client (the console does not hold it up), WAIT_FOR_SERVERS
 * with the last server connection. */
static void evaluate_shutdown(struct lp_instance *inst)
{
	switch (inst->shutdown) {
	case LP_SHUTDOWN_WAIT_CLIENTS:
		if (inst->client_count - inst->admin_clients.count - inst->login_clients.count <= 0) {
			lp_log_info("client connections dropped, exiting");
			event_base_loopbreak(inst->base);
		}
		break;
	case LP_SHUTDOWN_WAIT_SERVERS:
		if (!servers_left(inst)) {
			lp_log_info("server connections dropped, exiting");
			event_base_loopbreak(inst->base);
		}
		break;
	case LP_SHUTDOWN_NOW:
		event_base_loopbreak(inst->base);
		break;
	case LP_RUN:
		break;
	}
}

static void reap(struct lp_instance *inst)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&inst->justfree_clients, n, t) {
		lp_list_remove(&inst->justfree_clients, n);
		lp_client_free(lp_container_of(n, struct lp_client, node));
	}
	lp_list_foreach_safe(&inst->justfree_servers, n, t) {
		lp_list_remove(&inst->justfree_servers, n);
		lp_server_free(lp_container_of(n, struct lp_server, node));
	}
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lp_instance *inst = arg;
	(void)fd;
	(void)what;
	if (inst->shutdown != LP_RUN)
		evaluate_shutdown(inst);
	reap(inst);
}

void lp_instance_cleanup(struct lp_instance *inst)
{
	struct lp_list_node *pn, *pt, *n, *t;

	if (inst->handed_off)
		lp_takeover_release(inst);
	lp_instance_stop_listening(inst);
	lp_list_foreach_safe(&inst->login_clients, n, t)
		lp_client_close(lp_container_of(n, struct lp_client, node), "shutdown");
	lp_list_foreach_safe(&inst->admin_clients, n, t)
		lp_client_close(lp_container_of(n, struct lp_client, node), "shutdown");
	lp_list_foreach_safe(&inst->pools, pn, pt) {
		struct lp_pool *p = lp_container_of(pn, struct lp_pool, node);
		lp_list_foreach_safe(&p->active_clients, n, t)
			lp_client_close(lp_container_of(n, struct lp_client, node), "shutdown");
		lp_list_foreach_safe(&p->waiting_clients, n, t)
			lp_client_close(lp_container_of(n, struct lp_client, node), "shutdown");
		struct lp_list *lists[] = { &p->idle_servers, &p->used_servers, &p->active_servers,
					    &p->login_servers };
		for (size_t i = 0; i < 4; i++)
			lp_list_foreach_safe(lists[i], n, t)
				lp_server_close(lp_container_of(n, struct lp_server, node), "shutdown");
	}
	reap(inst);
	lp_cancel_cleanup(inst);
	lp_authq_cleanup(inst);
	lp_extauth_cleanup(inst);
	lp_exporter_stop(inst);
	lp_registry_cleanup(inst);
	lp_prep_cleanup(inst);
	if (inst->janitor_ev)
		event_free(inst->janitor_ev);
	if (inst->reaper_ev)
		event_free(inst->reaper_ev);
	if (inst->post_ev)
		event_free(inst->post_ev);
	for (size_t i = 0; i < sizeof(inst->sig_ev) / sizeof(inst->sig_ev[0]); i++)
		if (inst->sig_ev[i])
			event_free(inst->sig_ev[i]);
	lp_dns_free(inst->dns);
	lp_config_free(&inst->cfg);
	lp_userlist_free(&inst->users_file);
	lp_security_free(&inst->sec);
	event_base_free(inst->base);
}
