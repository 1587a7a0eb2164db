/*
 * Log sink. The only process-wide state in core/: there is one log per
 * process, as there is one stderr.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static struct {
	FILE *file;
	bool to_stderr;
	bool syslog;
	int max_level;
	char ident[64];         /* openlog keeps the pointer: ours outlives a generation */
} lg = { NULL, true, false, LP_LOG_LOG, "" };

static const char *level_names[] = { "FATAL", "ERROR", "WARNING", "LOG", "DEBUG", "NOISE" };

static int facility_from_name(const char *name)
{
	static const struct { const char *n; int f; } map[] = {
		{ "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};
	for (size_t i = 0; name && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(name, map[i].n) == 0)
			return map[i].f;
	return LOG_DAEMON;
}

int lp_log_configure(const struct lp_log_settings *s)
{
	FILE *nf = NULL;

	if (s->logfile && s->logfile[0]) {
		nf = fopen(s->logfile, "a");
		if (!nf)
			return -1;
		setvbuf(nf, NULL, _IOLBF, 0);
	}
	if (lg.file)
		fclose(lg.file);
	lg.file = nf;
	lg.to_stderr = s->to_stderr && !s->quiet;
	if (lg.syslog)
		closelog();
	lg.syslog = s->syslog;
	if (lg.syslog) {
		snprintf(lg.ident, sizeof(lg.ident), "%s",
			 s->syslog_ident && s->syslog_ident[0] ? s->syslog_ident : "linkpool");
		openlog(lg.ident, LOG_PID, facility_from_name(s->syslog_facility));
	}
	lg.max_level = LP_LOG_LOG + (s->verbose > 2 ? 2 : s->verbose);
	return 0;
}

void lp_log_close(void)
{
	if (lg.file)
		fclose(lg.file);
	lg.file = NULL;
	if (lg.syslog)
		closelog();
	lg.syslog = false;
}

bool lp_log_enabled(enum lp_log_level level)
{
	return (int)level <= lg.max_level;
}

/*
 * Length of the UTF-8 character at p (at most n bytes) that may be logged as
 * it is; 0 when it must be escaped: malformed, overlong, a surrogate, or a
 * C1 control or line/paragraph separator or bidirectional override (which
 * terminals and viewers act upon: a forged line or a line shown reordered).
 */
static size_t utf8_printable(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp <= 0x9f || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

/* The text standing for the byte(s) at *pp: n bytes at *src (the input
 * itself, or esc). Advances *pp. */
static size_t escape_piece(const unsigned char **pp, const unsigned char *end, char esc[4],
			   const char **src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = *pp;
	size_t n = 1;

	if (*p >= 0x80)
		n = utf8_printable(p, (size_t)(end - p));
	if (n == 0 || *p < 0x20 || *p == 0x7f) {
		char c = *p == '\n' ? 'n' : *p == '\r' ? 'r' : *p == '\t' ? 't' : 0;
		esc[0] = '\\';
		esc[1] = c ? c : 'x';
		esc[2] = hex[*p >> 4];
		esc[3] = hex[*p & 15];
		*src = esc;
		*pp = p + 1;
		return c ? 2 : 4;
	}
	*src = (const char *)p;
	*pp = p + n;
	return n;
}

/* Whether what is left from p escapes into at most room bytes. */
static bool rest_fits(const unsigned char *p, const unsigned char *end, size_t room)
{
	size_t total = 0;

	while (p < end) {
		char esc[4];
		const char *src;
		total += escape_piece(&p, end, esc, &src);
		if (total > room)
			return false;
	}
	return true;
}

size_t lp_log_escape(char *out, size_t cap, const char *in, size_t len)
{
	static const char more[] = "...";
	const size_t more_len = sizeof(more) - 1;
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	size_t w = 0;
	bool fits = false;      /* the rest is known to fit without a marker */

	if (cap == 0)
		return 0;
	while (p < end) {
		char esc[4];
		const char *src;
		size_t n = escape_piece(&p, end, esc, &src);

		/* A piece goes in whole, with room left for the marker unless
		 * all that follows fits too: the cut never splits an escape or
		 * a character. */
		if (!fits && w + n + (p < end ? more_len : 0) > cap - 1) {
			fits = w + n <= cap - 1 && rest_fits(p, end, cap - 1 - w - n);
			if (!fits) {
				size_t m = cap - 1 - w < more_len ? cap - 1 - w : more_len;
				memcpy(out + w, more, m);
				w += m;
				break;
			}
		}
		memcpy(out + w, src, n);
		w += n;
	}
	out[w] = '\0';
	return w;
}

void lp_log_write(enum lp_log_level level, const char *fmt, ...)
{
	char raw[2048];
	char msg[4096];
	char stamp[64];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (!lp_log_enabled(level))
		return;
	va_start(ap, fmt);
	int rn = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* One place for every value that came from the network (user and
	 * database names, startup parameters, relayed error texts, SQL, HTTP
	 * paths): no control byte reaches a log line, so none can end it and
	 * forge the next. */
	size_t rlen = rn < 0 ? 0 : (size_t)rn < sizeof(raw) ? (size_t)rn : sizeof(raw) - 1;
	lp_log_escape(msg, sizeof(msg), raw, rlen);

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03d", (int)(tv.tv_usec / 1000));

	if (lg.to_stderr)
		fprintf(stderr, "%s [%d] %s %s\n", stamp, (int)getpid(), level_names[level], msg);
	if (lg.file)
		fprintf(lg.file, "%s [%d] %s %s\n", stamp, (int)getpid(), level_names[level], msg);
	if (lg.syslog) {
		static const int prio[] = { LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };
		syslog(prio[level], "%s %s", level_names[level], msg);
	}
}
