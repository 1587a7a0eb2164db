/*
 * Reason classifiers, histograms and the process gauges.
 */
#include "metrics/metrics.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

const uint64_t lp_histo_bounds_us[LP_HISTO_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

/* The `le` label values, the same bounds in seconds as Prometheus writes them. */
static const char *const bounds_s[LP_HISTO_BUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
};

const char *const lp_sv_close_reason_names[LP_SVC_N] = {
	"lifetime", "idle", "reload", "login_failed", "check_failed", "client_left", "error",
	"protocol", "shutdown", "admin", "other",
};

const char *const lp_login_fail_reason_names[LP_LF_N] = {
	"auth_failed", "no_database", "database_disabled", "max_client_conn", "server_login",
	"login_timeout", "protocol", "shutdown", "other",
};

const char *const lp_proto_err_source_names[LP_PE_N] = { "client", "server" };

static bool has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

enum lp_sv_close_reason lp_metrics_close_reason(const char *r)
{
	if (!r)
		return LP_SVC_OTHER;
	/* Order matters: the most specific words first. */
	if (has(r, "server_lifetime"))
		return LP_SVC_LIFETIME;
	if (has(r, "server_idle_timeout") || has(r, "pool_idle_timeout"))
		return LP_SVC_IDLE;
	if (has(r, "database changed") || has(r, "configuration changed") ||
	    has(r, "reconnect needed") || has(r, "database removed") ||
	    has(r, "RECONNECT") || has(r, "reload"))
		return LP_SVC_RELOAD;
	if (has(r, "login failed") || has(r, "connect failed") || has(r, "server_connect_timeout") ||
	    has(r, "connect timeout") || has(r, "DNS lookup failed") ||
	    has(r, "connect_query"))
		return LP_SVC_LOGIN_FAILED;
	if (has(r, "check failed"))
		return LP_SVC_CHECK_FAILED;
	if (has(r, "client left") || has(r, "rollback failed") || has(r, "reset query failed"))
		return LP_SVC_CLIENT_LEFT;
	if (has(r, "shutdown") || has(r, "shutting down"))
		return LP_SVC_SHUTDOWN;
	if (has(r, "malformed") || has(r, "framing") || has(r, "unexpected") ||
	    has(r, "too large") || has(r, "started COPY") || has(r, "invalid"))
		return LP_SVC_PROTOCOL;
	if (has(r, "server closed") || has(r, "socket error") || has(r, "server gone") ||
	    has(r, "server sent error") || has(r, "connection lost"))
		return LP_SVC_ERROR;
	if (has(r, "KILL") || has(r, "admin") || has(r, "console"))
		return LP_SVC_ADMIN;
	return LP_SVC_OTHER;
}

enum lp_login_fail_reason lp_metrics_login_reason(bool authenticated, const char *sqlstate,
						  const char *msg)
{
	const char *s = sqlstate ? sqlstate : "";
	msg = msg ? msg : "";
	if (strcmp(s, "57P01") == 0)
		return LP_LF_SHUTDOWN;
	if (strcmp(s, "53300") == 0)
		return LP_LF_MAX_CLIENT_CONN;
	/* A missing or disabled database is told only after authentication,
	 * whether linkpool or the backend (a '*' name it lacks) tells it. */
	if (strcmp(s, "3D000") == 0)
		return LP_LF_NO_DATABASE;
	if (strcmp(s, "55000") == 0)
		return LP_LF_DB_DISABLED;
	/* Any other failure after authentication is about getting a server:
	 * the SQLSTATE may be the backend's own (its 28P01 is not ours). */
	if (authenticated)
		return LP_LF_SERVER_LOGIN;
	if (strcmp(s, "28P01") == 0 || strcmp(s, "28000") == 0)
		return LP_LF_AUTH;
	if (strcmp(s, "08P01") == 0)
		return has(msg, "timeout") ? LP_LF_TIMEOUT : LP_LF_PROTOCOL;
	return LP_LF_OTHER;
}

void lp_histo_observe(struct lp_histo *h, int64_t us)
{
	if (us < 0)
		us = 0;
	int i = 0;
	/* Most observations are short: a linear walk from the bottom is
	 * faster than a binary search over 18 bounds. */
	while (i < LP_HISTO_BUCKETS && (uint64_t)us > lp_histo_bounds_us[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_us += (uint64_t)us;
}

void lp_expo_histo(struct lp_expo *e, const char *name, const char *const *labels,
		   const struct lp_histo *h)
{
	char bname[128], sname[128], cname[128];
	const char *lv[16];
	int n = 0;
	while (labels && labels[n] && n < 12) {
		lv[n] = labels[n];
		lv[n + 1] = labels[n + 1];
		n += 2;
	}
	lv[n] = "le";
	lv[n + 2] = NULL;
	snprintf(bname, sizeof(bname), "%s_bucket", name);
	snprintf(sname, sizeof(sname), "%s_sum", name);
	snprintf(cname, sizeof(cname), "%s_count", name);
	uint64_t cum = 0;
	for (int i = 0; i < LP_HISTO_BUCKETS; i++) {
		cum += h->counts[i];
		lv[n + 1] = bounds_s[i];
		lp_expo_u64(e, bname, lv, cum);
	}
	lv[n + 1] = "+Inf";
	lp_expo_u64(e, bname, lv, h->count);
	lv[n] = NULL;
	lp_expo_us(e, sname, lv, h->sum_us);
	lp_expo_u64(e, cname, lv, h->count);
}

/* ---- /proc ---- */

/*
 * Open descriptors without listing /proc/self/fd: procfs builds one entry
 * per descriptor, which costs ~20 ms at 10,000 clients and would stall the
 * loop on every scrape. Instead one poll() over the descriptor table
 * (FDSize from /proc/self/status bounds it) marks closed slots POLLNVAL:
 * about a millisecond for 16k slots.
 */
static int64_t count_fds(int64_t fdsize, struct lp_proc_scratch *sc)
{
	if (fdsize <= 0 || fdsize > (1 << 22))
		return -1;
	size_t n = (size_t)fdsize;
	if (sc->cap < n) {
		struct pollfd *np = realloc(sc->pfd, n * sizeof(*np));
		if (!np)
			return -1;
		sc->pfd = np;
		sc->cap = n;
	}
	struct pollfd *pfd = sc->pfd;
	for (size_t i = 0; i < n; i++) {
		pfd[i].fd = (int)i;
		pfd[i].events = 0;
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, 0) < 0)
		return -1;
	int64_t open_fds = 0;
	for (size_t i = 0; i < n; i++)
		open_fds += !(pfd[i].revents & POLLNVAL);
	return open_fds;
}

void lp_proc_scratch_cleanup(struct lp_proc_scratch *sc)
{
	free(sc->pfd);
	sc->pfd = NULL;
	sc->cap = 0;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

void lp_proc_stats_read(struct lp_proc_stats *ps, struct lp_proc_scratch *scratch)
{
	char buf[1024];
	memset(ps, 0, sizeof(*ps));
	long tck = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	if (tck <= 0 || page <= 0 || read_small("/proc/self/stat", buf, sizeof(buf)) < 0)
		return;
	/* The command name may hold spaces and parens: fields start after the last ')'. */
	const char *p = strrchr(buf, ')');
	if (!p)
		return;
	unsigned long long utime, stime, starttime, vsize;
	long long rss;
	/* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads itreal starttime vsize rss */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
			  "%*d %llu %llu %lld", &utime, &stime, &starttime, &vsize, &rss) != 5)
		return;
	ps->cpu_user_us = utime * 1000000ull / (unsigned long long)tck;
	ps->cpu_system_us = stime * 1000000ull / (unsigned long long)tck;
	ps->vsize_bytes = vsize;
	ps->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
	/* starttime is in ticks since boot; boot time from the clocks. */
	struct timespec rt, bt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	double boot = (double)rt.tv_sec + rt.tv_nsec / 1e9 - ((double)bt.tv_sec + bt.tv_nsec / 1e9);
	ps->start_time_s = boot + (double)starttime / (double)tck;
	int64_t fdsize = -1;
	char st[4096];
	if (read_small("/proc/self/status", st, sizeof(st)) == 0) {
		const char *f = strstr(st, "\nFDSize:");
		if (f)
			fdsize = strtoll(f + 8, NULL, 10);
	}
	ps->open_fds = count_fds(fdsize, scratch);
	struct rlimit rl;
	ps->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			      ? (int64_t)rl.rlim_cur
			      : -1;
	ps->ok = true;
}
