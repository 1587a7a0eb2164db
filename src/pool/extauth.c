/*
 * The worker threads of LDAP and PAM logins; see extauth.h.
 *
 * Threads and the loop share only struct lp_extauth's two lists, under its
 * mutex: `queue` (jobs waiting for a worker) and `done` (answered jobs
 * waiting for the loop). A worker takes a job off `queue`, runs the check
 * with the mutex released, puts the job on `done` and writes the eventfd;
 * the loop drains `done`. A job's `client` is read and written by the loop
 * alone, so a client that leaves while its job runs just clears it
 * (lp_extauth_forget) and the answer is freed unread. Workers start at the
 * first job (a configuration without LDAP or PAM has none) and log
 * nothing; the loop logs each answer's detail, which never holds a
 * password.
 */
#include "pool/extauth.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/external.h"
#include "core/assert.h"
#include "pool/client.h"
#include "pool/client_auth.h"

struct lp_extauth_job {
	struct lp_list_node node;       /* in queue or done (under the mutex) */
	struct lp_client *client;       /* loop only; NULL: the client left */
	enum lp_extauth_kind kind;
	bool submitted;                 /* counted in in_flight */
	char *ldap_opts;
	char *user;
	char *password;
	char rhost[LP_ADDR_TEXT];
	enum lp_ext_result result;
	char detail[LP_EXT_DETAIL_MAX];
};

struct lp_extauth {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lp_list queue, done;     /* under mu */
	bool stop;                      /* under mu: workers leave */
	int refs;                       /* under mu: the instance + each live worker */
	int efd;
	struct event *ev;
	int threads;                    /* loop only: workers started */
	int in_flight;                  /* loop only: submitted, not yet resumed */
};

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static void job_free(struct lp_extauth_job *j)
{
	if (!j)
		return;
	wipe_free(j->password);
	free(j->ldap_opts);
	free(j->user);
	free(j);
}

static void run_check(struct lp_extauth_job *j)
{
	if (j->kind == LP_EXTAUTH_PAM) {
		j->result = lp_pam_check(LP_PAM_SERVICE, j->user, j->password,
					 j->rhost[0] ? j->rhost : NULL, j->detail, sizeof(j->detail));
		return;
	}
	struct lp_ldap_opts *o = malloc(sizeof(*o));
	char why[LP_EXT_DETAIL_MAX - 32];
	if (!o) {
		j->result = LP_EXT_ERROR;
		snprintf(j->detail, sizeof(j->detail), "out of memory");
		return;
	}
	/* Checked when the configuration was read; parsed again here from
	 * the job's own copy, so a reload meanwhile changes nothing. */
	if (lp_ldap_opts_parse(j->ldap_opts, strlen(j->ldap_opts), o, why, sizeof(why)) < 0) {
		j->result = LP_EXT_ERROR;
		snprintf(j->detail, sizeof(j->detail), "invalid LDAP options: %s", why);
	} else {
		j->result = lp_ldap_check(o, j->user, j->password, j->detail, sizeof(j->detail));
	}
	memset(o, 0, sizeof(*o));       /* ldapbindpasswd */
	free(o);
}

/* Drops one reference; the last one frees everything (unlocked on return). */
static void unref_locked(struct lp_extauth *x)
{
	bool last = --x->refs == 0;
	pthread_mutex_unlock(&x->mu);
	if (!last)
		return;
	struct lp_list *lists[] = { &x->queue, &x->done };
	for (size_t i = 0; i < 2; i++)
		while (!lp_list_empty(lists[i])) {
			struct lp_list_node *n = lp_list_first(lists[i]);
			lp_list_remove(lists[i], n);
			job_free(lp_container_of(n, struct lp_extauth_job, node));
		}
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

static void *worker(void *arg)
{
	struct lp_extauth *x = arg;
	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (!x->stop && lp_list_empty(&x->queue))
			pthread_cond_wait(&x->cv, &x->mu);
		if (x->stop)
			break;
		struct lp_list_node *n = lp_list_first(&x->queue);
		lp_list_remove(&x->queue, n);
		pthread_mutex_unlock(&x->mu);
		struct lp_extauth_job *j = lp_container_of(n, struct lp_extauth_job, node);
		run_check(j);
		/* Not needed any more: gone before the loop sees the answer. */
		if (j->result != LP_EXT_OK) {
			wipe_free(j->password);
			j->password = NULL;
		}
		pthread_mutex_lock(&x->mu);
		lp_list_append(&x->done, n);
		if (x->stop)
			break;
		uint64_t one = 1;
		ssize_t w = write(x->efd, &one, sizeof(one));
		(void)w;        /* a full counter (never) is still readable */
	}
	unref_locked(x);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg);

static struct lp_extauth *get_pool(struct lp_instance *inst)
{
	if (inst->extauth)
		return inst->extauth;
	struct lp_extauth *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	lp_ldap_global_init();
	x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (x->efd < 0)
		goto fail;
	x->ev = event_new(inst->base, x->efd, EV_READ | EV_PERSIST, on_done, inst);
	if (!x->ev || event_add(x->ev, NULL) < 0)
		goto fail;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	lp_list_init(&x->queue);
	lp_list_init(&x->done);
	x->refs = 1;
	inst->extauth = x;
	return x;
fail:
	if (x->ev)
		event_free(x->ev);
	if (x->efd >= 0)
		close(x->efd);
	free(x);
	return NULL;
}

/* Starts workers up to LP_EXTAUTH_THREADS (fewer when the system refuses
 * threads: one is enough to go on). */
static bool start_workers(struct lp_extauth *x)
{
	sigset_t all, old;
	sigfillset(&all);
	/* Signals are the loop's: the workers block them all. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (x->threads < LP_EXTAUTH_THREADS) {
		pthread_t t;
		pthread_mutex_lock(&x->mu);
		x->refs++;
		pthread_mutex_unlock(&x->mu);
		if (pthread_create(&t, NULL, worker, x) != 0) {
			pthread_mutex_lock(&x->mu);
			x->refs--;
			pthread_mutex_unlock(&x->mu);
			break;
		}
		pthread_detach(t);
		x->threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return x->threads > 0;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct lp_instance *inst = arg;
	struct lp_extauth *x = inst->extauth;
	struct lp_list done;
	uint64_t v;
	(void)what;

	while (read(fd, &v, sizeof(v)) > 0)
		;
	lp_list_init(&done);
	pthread_mutex_lock(&x->mu);
	while (!lp_list_empty(&x->done)) {
		struct lp_list_node *n = lp_list_first(&x->done);
		lp_list_remove(&x->done, n);
		lp_list_append(&done, n);
	}
	pthread_mutex_unlock(&x->mu);
	while (!lp_list_empty(&done)) {
		struct lp_list_node *n = lp_list_first(&done);
		lp_list_remove(&done, n);
		struct lp_extauth_job *j = lp_container_of(n, struct lp_extauth_job, node);
		struct lp_client *c = j->client;
		x->in_flight--;
		if (c) {
			c->extauth = NULL;
			lp_client_auth_external_done(c, j->result, j->detail, j->password);
		} else {
			lp_log_debug("%s check of user \"%s\" answered after its client left: %s",
				     j->kind == LP_EXTAUTH_PAM ? "PAM" : "LDAP", j->user,
				     j->result == LP_EXT_OK ? "ok" : j->detail);
		}
		job_free(j);
	}
}

int lp_extauth_begin(struct lp_client *c, enum lp_extauth_kind kind, const char *ldap_opts)
{
	struct lp_extauth_job *j = calloc(1, sizeof(*j));
	lp_extauth_forget(c);
	if (!j || !(j->user = strdup(c->user_name)) ||
	    (ldap_opts && !(j->ldap_opts = strdup(ldap_opts)))) {
		job_free(j);
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	j->kind = kind;
	j->client = c;
	c->extauth_pam = kind == LP_EXTAUTH_PAM;
	if (c->addr_family != AF_UNIX)
		lp_client_addr(c, j->rhost);
	c->extauth = j;
	return 0;
}

int lp_extauth_password(struct lp_client *c, const char *password)
{
	struct lp_instance *inst = c->inst;
	struct lp_extauth_job *j = c->extauth;
	lp_assert(j && !j->submitted);
	struct lp_extauth *x = get_pool(inst);
	if (!x) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	if (x->in_flight >= LP_EXTAUTH_MAX_JOBS) {
		lp_client_fail(c, "53300", "too many %s logins in progress, try again later",
			       j->kind == LP_EXTAUTH_PAM ? "PAM" : "LDAP");
		return -1;
	}
	if (x->threads < LP_EXTAUTH_THREADS && !start_workers(x)) {
		lp_client_fail(c, "53200", "could not start an authentication thread");
		return -1;
	}
	j->password = strdup(password);
	if (!j->password) {
		lp_client_fail(c, "53200", "out of memory");
		return -1;
	}
	j->submitted = true;
	x->in_flight++;
	pthread_mutex_lock(&x->mu);
	lp_list_append(&x->queue, &j->node);
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

void lp_extauth_forget(struct lp_client *c)
{
	struct lp_extauth_job *j = c->extauth;
	if (!j)
		return;
	c->extauth = NULL;
	if (j->submitted)
		j->client = NULL;       /* a worker has it: on_done frees it */
	else
		job_free(j);
}

void lp_extauth_cleanup(struct lp_instance *inst)
{
	struct lp_extauth *x = inst->extauth;
	if (!x)
		return;
	inst->extauth = NULL;
	event_free(x->ev);
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	/* The workers write no more once stop is set (under the mutex). */
	close(x->efd);
	pthread_cond_broadcast(&x->cv);
	unref_locked(x);
}
