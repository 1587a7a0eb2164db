/*
 * Log sink. The only process-wide state in core/: there is one log per
 * process, as there is one stderr.
 */
#include "core/log.h"

#include <stdarg.h>
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
} lg = { NULL, true, false, LP_LOG_LOG };

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
	if (lg.syslog)
		openlog(s->syslog_ident ? s->syslog_ident : "linkpool", LOG_PID,
			facility_from_name(s->syslog_facility));
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

void lp_log_write(enum lp_log_level level, const char *fmt, ...)
{
	char msg[2048];
	char stamp[64];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (!lp_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

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
