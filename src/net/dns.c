#include "net/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "core/clock.h"
#include "core/list.h"

/* Addresses kept per name: a database's hosts, or the processes of a
 * peers_dns group (one per replica). */
#define DNS_MAX_ADDRS 32

struct dns_entry {
	struct lp_list_node node;
	struct lp_dns *dns;
	char *host;
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	socklen_t addrlen[DNS_MAX_ADDRS];
	int naddr;
	unsigned next;                  /* round robin over the addresses */
	int64_t expires_us;             /* 0: never resolved yet */
	const char *neg_err;            /* last failure (static text), cached until */
	int64_t neg_expires_us;         /* neg_expires_us (dns_nxdomain_ttl) */
	struct evdns_getaddrinfo_request *pending;
	struct lp_list waiters;         /* lp_dns_req */
};

struct lp_dns_req {
	struct lp_list_node node;
	struct dns_entry *entry;
	int port;
	lp_dns_cb cb;
	lp_dns_all_cb all_cb;           /* instead of cb: every address at once */
	void *arg;
};

struct lp_dns {
	struct event_base *base;
	struct evdns_base *evdns;
	struct lp_list entries;
	int64_t ttl_us;
	int64_t nxdomain_ttl_us;        /* how long a failure is answered from the cache */
	int64_t queries;                /* lookups sent to the resolver */
};

/* A resolv.conf of the operator's choice (resolv_conf); -1 with why. */
static struct lp_dns *dns_with_conf(struct lp_dns *d, struct event_base *base,
				    const char *resolv_conf, char *why, size_t whycap)
{
	static const char *const reasons[] = { "", "cannot open it", "cannot stat it",
					       "file too large", "out of memory", "short read",
					       "no nameserver in it" };
	d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!d->evdns) {
		snprintf(why, whycap, "out of memory");
		free(d);
		return NULL;
	}
	int rc = evdns_base_resolv_conf_parse(d->evdns, DNS_OPTIONS_ALL, resolv_conf);
	if (rc != 0) {
		snprintf(why, whycap, "resolv_conf \"%s\": %s", resolv_conf,
			 rc > 0 && rc < 7 ? reasons[rc] : "unusable");
		evdns_base_free(d->evdns, 0);
		free(d);
		return NULL;
	}
	return d;
}

struct lp_dns *lp_dns_new(struct event_base *base, const char *resolv_conf, char *why,
			  size_t whycap)
{
	struct lp_dns *d = calloc(1, sizeof(*d));
	snprintf(why, whycap, "out of memory");
	if (!d)
		return NULL;
	lp_list_init(&d->entries);
	d->base = base;
	d->ttl_us = 15 * 1000000LL;
	d->nxdomain_ttl_us = 15 * 1000000LL;
	if (resolv_conf && resolv_conf[0])
		return dns_with_conf(d, base, resolv_conf, why, whycap);
	d->evdns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!d->evdns) {
		/* No usable resolv.conf: /etc/hosts and numeric names still work. */
		d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (d->evdns)
			(void)evdns_base_load_hosts(d->evdns, NULL);
	}
	if (!d->evdns) {
		free(d);
		return NULL;
	}
	return d;
}

void lp_dns_set_ttl(struct lp_dns *d, int64_t ttl_us)
{
	d->ttl_us = ttl_us;
}

void lp_dns_set_nxdomain_ttl(struct lp_dns *d, int64_t ttl_us)
{
	d->nxdomain_ttl_us = ttl_us;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void answer(struct lp_dns_req *r, const char *err)
{
	struct dns_entry *e = r->entry;
	lp_list_remove(&e->waiters, &r->node);
	if (r->all_cb) {
		struct sockaddr_storage ss[DNS_MAX_ADDRS];
		int n = err ? 0 : e->naddr;
		for (int i = 0; i < n; i++) {
			memcpy(&ss[i], &e->addr[i], e->addrlen[i]);
			set_port(&ss[i], r->port);
		}
		r->all_cb(err ? err : n == 0 ? "no address" : NULL, ss, e->addrlen, n, r->arg);
	} else if (err || e->naddr == 0) {
		r->cb(err ? err : "no address", NULL, 0, 0, r->arg);
	} else {
		struct sockaddr_storage ss;
		int i = (int)(e->next++ % (unsigned)e->naddr);
		socklen_t len = e->addrlen[i];
		memcpy(&ss, &e->addr[i], len);
		set_port(&ss, r->port);
		r->cb(NULL, (struct sockaddr *)&ss, len, e->naddr, r->arg);
	}
	free(r);
}

static void answer_all(struct dns_entry *e, const char *err)
{
	/* Callbacks may ask again (a failed login retries later, a new server
	 * starts): only the requests waiting now get this answer. */
	unsigned n = e->waiters.count;
	struct lp_list_node *first;
	while (n-- > 0 && (first = lp_list_first(&e->waiters)) != NULL)
		answer(lp_container_of(first, struct lp_dns_req, node), err);
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_entry *e = arg;
	e->pending = NULL;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res)
			evutil_freeaddrinfo(res);
		return;
	}
	if (result == 0) {
		e->naddr = 0;
		for (struct evutil_addrinfo *ai = res; ai && e->naddr < DNS_MAX_ADDRS; ai = ai->ai_next) {
			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof(e->addr[0]))
				continue;
			memcpy(&e->addr[e->naddr], ai->ai_addr, ai->ai_addrlen);
			e->addrlen[e->naddr++] = (socklen_t)ai->ai_addrlen;
		}
		e->expires_us = lp_clock_us() + e->dns->ttl_us;
		e->neg_expires_us = 0;
	} else {
		/* A failure is answered from the cache for dns_nxdomain_ttl, so a
		 * missing name does not cost a query per connection attempt. */
		e->neg_err = evutil_gai_strerror(result);
		e->neg_expires_us = lp_clock_us() + e->dns->nxdomain_ttl_us;
	}
	if (res)
		evutil_freeaddrinfo(res);
	answer_all(e, result == 0 ? NULL : evutil_gai_strerror(result));
}

static struct dns_entry *find_entry(struct lp_dns *d, const char *host)
{
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&d->entries, n, t) {
		struct dns_entry *e = lp_container_of(n, struct dns_entry, node);
		if (strcmp(e->host, host) == 0)
			return e;
	}
	return NULL;
}

static bool waiting(const struct dns_entry *e, const struct lp_dns_req *r)
{
	const struct lp_list_node *n;
	for (n = e->waiters.head.next; n != &e->waiters.head; n = n->next) {
		if (n == &r->node)
			return true;
	}
	return false;
}

/* Calls whichever callback the request has, for an answer that never
 * reached the cache (a numeric host, out of memory). */
static void answer_now(lp_dns_cb cb, lp_dns_all_cb all_cb, void *arg, const char *err,
		       struct sockaddr_storage *ss, socklen_t len)
{
	if (all_cb)
		all_cb(err, ss, &len, err ? 0 : 1, arg);
	else
		cb(err, err ? NULL : (struct sockaddr *)ss, err ? 0 : len, err ? 0 : 1, arg);
}

static struct lp_dns_req *lookup(struct lp_dns *d, const char *host, int port, lp_dns_cb cb,
				 lp_dns_all_cb all_cb, void *arg)
{
	/* Numeric addresses never touch the resolver or the cache. */
	struct evutil_addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST;
	if (evutil_getaddrinfo(host, NULL, &hints, &res) == 0 && res) {
		struct sockaddr_storage ss;
		socklen_t len = (socklen_t)res->ai_addrlen;
		memcpy(&ss, res->ai_addr, len);
		evutil_freeaddrinfo(res);
		set_port(&ss, port);
		answer_now(cb, all_cb, arg, NULL, &ss, len);
		return NULL;
	}

	struct dns_entry *e = find_entry(d, host);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->host = strdup(host))) {
			free(e);
			answer_now(cb, all_cb, arg, "out of memory", NULL, 0);
			return NULL;
		}
		e->dns = d;
		lp_list_init(&e->waiters);
		lp_list_append(&d->entries, &e->node);
	}
	struct lp_dns_req *r = calloc(1, sizeof(*r));
	if (!r) {
		answer_now(cb, all_cb, arg, "out of memory", NULL, 0);
		return NULL;
	}
	r->entry = e;
	r->port = port;
	r->cb = cb;
	r->all_cb = all_cb;
	r->arg = arg;
	lp_list_append(&e->waiters, &r->node);
	if (e->expires_us > lp_clock_us()) {
		answer(r, NULL);
		return NULL;
	}
	if (e->neg_expires_us > lp_clock_us()) {
		answer(r, e->neg_err);
		return NULL;
	}
	if (!e->pending) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
		/* NULL when evdns answered before returning (hosts file) or failed. */
		d->queries++;
		e->pending = evdns_getaddrinfo(d->evdns, host, NULL, &hints, resolved, e);
	}
	if (!waiting(e, r))
		return NULL;
	if (!e->pending) {
		answer(r, "resolver failed");
		return NULL;
	}
	return r;
}

struct lp_dns_req *lp_dns_lookup(struct lp_dns *d, const char *host, int port, lp_dns_cb cb,
				 void *arg)
{
	return lookup(d, host, port, cb, NULL, arg);
}

struct lp_dns_req *lp_dns_lookup_all(struct lp_dns *d, const char *host, int port,
				     lp_dns_all_cb cb, void *arg)
{
	return lookup(d, host, port, NULL, cb, arg);
}

void lp_dns_cancel(struct lp_dns_req *r)
{
	if (!r)
		return;
	lp_list_remove(&r->entry->waiters, &r->node);
	free(r);
}

void lp_dns_foreach(struct lp_dns *d, lp_dns_visit fn, void *arg)
{
	int64_t now = lp_clock_us();
	struct lp_list_node *n, *t;
	lp_list_foreach_safe(&d->entries, n, t) {
		struct dns_entry *e = lp_container_of(n, struct dns_entry, node);
		if (e->expires_us <= now)
			continue;
		char text[DNS_MAX_ADDRS * (INET6_ADDRSTRLEN + 1) + 1];
		size_t off = 0;
		text[0] = '\0';
		for (int i = 0; i < e->naddr; i++) {
			char a[INET6_ADDRSTRLEN];
			const void *src = e->addr[i].ss_family == AF_INET ?
				(const void *)&((struct sockaddr_in *)&e->addr[i])->sin_addr :
				(const void *)&((struct sockaddr_in6 *)&e->addr[i])->sin6_addr;
			if (!inet_ntop(e->addr[i].ss_family, src, a, sizeof(a)))
				continue;
			int w = snprintf(text + off, sizeof(text) - off, "%s%s", off ? "," : "", a);
			if (w < 0 || (size_t)w >= sizeof(text) - off)
				break;
			off += (size_t)w;
		}
		fn(e->host, (e->expires_us - now) / 1000000, text, arg);
	}
}

void lp_dns_counts(const struct lp_dns *d, int64_t *names, int64_t *queries, int64_t *pending)
{
	struct lp_list_node *n;
	*names = *pending = 0;
	*queries = d->queries;
	for (n = d->entries.head.next; n != &d->entries.head; n = n->next) {
		const struct dns_entry *e = lp_container_of(n, struct dns_entry, node);
		*names += e->naddr > 0;
		*pending += e->pending != NULL;
	}
}

void lp_dns_free(struct lp_dns *d)
{
	if (!d)
		return;
	struct lp_list_node *n, *t, *w;
	lp_list_foreach_safe(&d->entries, n, t) {
		struct dns_entry *e = lp_container_of(n, struct dns_entry, node);
		while ((w = lp_list_first(&e->waiters)) != NULL)
			lp_dns_cancel(lp_container_of(w, struct lp_dns_req, node));
	}
	/* Fails in-flight lookups now, while their entries still exist. A
	 * getaddrinfo lookup is freed by callbacks libevent defers to the
	 * loop: one turn runs them (the caller has freed its own events). */
	evdns_base_free(d->evdns, 1);
	event_base_loop(d->base, EVLOOP_NONBLOCK);
	while ((n = lp_list_first(&d->entries)) != NULL) {
		struct dns_entry *e = lp_container_of(n, struct dns_entry, node);
		lp_list_remove(&d->entries, &e->node);
		free(e->host);
		free(e);
	}
	free(d);
}
