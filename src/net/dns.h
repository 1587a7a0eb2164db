/*
 * Host name resolution that never blocks the loop: libevent's evdns with a
 * small cache (entries live dns_max_ttl), so a pool opening 25 connections
 * asks the resolver once. Numeric addresses answer at once without I/O.
 */
#ifndef LP_NET_DNS_H
#define LP_NET_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

struct lp_dns;
struct lp_dns_req;

/* err is NULL on success; then sa/len hold the address with port set, and
 * naddr says how many the name has (each lookup moves round robin to the
 * next, so a caller whose connect failed may ask again naddr-1 times). */
typedef void (*lp_dns_cb)(const char *err, const struct sockaddr *sa, socklen_t len, int naddr,
			  void *arg);

/* resolv_conf: a resolv.conf file to use instead of the system's; NULL or
 * empty: the system's. Returns NULL with a reason in why. */
struct lp_dns *lp_dns_new(struct event_base *base, const char *resolv_conf, char *why,
			  size_t whycap);
void lp_dns_free(struct lp_dns *d);
void lp_dns_set_ttl(struct lp_dns *d, int64_t ttl_us);
/* How long a failed lookup is answered from the cache (dns_nxdomain_ttl); 0: never. */
void lp_dns_set_nxdomain_ttl(struct lp_dns *d, int64_t ttl_us);

/*
 * Resolves host and calls cb once. A cached or numeric answer calls cb before
 * returning and returns NULL; otherwise the request handle is returned, valid
 * until cb runs or lp_dns_cancel() is called.
 */
struct lp_dns_req *lp_dns_lookup(struct lp_dns *d, const char *host, int port, lp_dns_cb cb,
				 void *arg);
/* The same, answered with every address the name has (at most 32), each
 * with port set; err non-NULL and n 0 when there is none. */
typedef void (*lp_dns_all_cb)(const char *err, const struct sockaddr_storage *addrs,
			      const socklen_t *lens, int n, void *arg);
struct lp_dns_req *lp_dns_lookup_all(struct lp_dns *d, const char *host, int port,
				     lp_dns_all_cb cb, void *arg);
/* cb will not be called. */
void lp_dns_cancel(struct lp_dns_req *r);

/* For SHOW DNS_HOSTS: host, seconds until expiry, addresses as text. */
typedef void (*lp_dns_visit)(const char *host, int64_t ttl_left_s, const char *addrs, void *arg);
void lp_dns_foreach(struct lp_dns *d, lp_dns_visit fn, void *arg);

/* For SHOW LISTS: cached names, lookups done, lookups in flight. */
void lp_dns_counts(const struct lp_dns *d, int64_t *names, int64_t *queries, int64_t *pending);

#endif
