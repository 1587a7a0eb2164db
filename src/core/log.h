/*
 * Logging: stderr and/or a log file and/or syslog. Every line about a
 * connection names it (C-<id> / S-<id>, db/user, address) -- callers pass
 * that prefix. Never pass a password, hash or key here.
 */
#ifndef LP_CORE_LOG_H
#define LP_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum lp_log_level { LP_LOG_FATAL, LP_LOG_ERROR, LP_LOG_WARNING, LP_LOG_LOG, LP_LOG_DEBUG, LP_LOG_NOISE };

struct lp_log_settings {
	const char *logfile;     /* NULL or "": none */
	bool to_stderr;
	bool syslog;
	const char *syslog_ident;
	const char *syslog_facility;
	int verbose;             /* 0: LOG, 1: DEBUG, 2: NOISE */
	bool quiet;              /* -q: nothing to stderr */
};

/* (Re)opens destinations; returns -1 when the log file cannot be opened. */
int lp_log_configure(const struct lp_log_settings *s);
void lp_log_close(void);
bool lp_log_enabled(enum lp_log_level level);
/* Writes one line. The formatted text is passed through lp_log_escape, so a
 * value from the network may be given as it came. */
void lp_log_write(enum lp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Copies in[0..len) to out (cap bytes, always NUL-terminated) so that it is
 * one safe log line: \n \r \t and every other control byte (NUL, ESC, DEL)
 * become \n, \r, \t or \xNN, as do bytes that are not valid UTF-8 and the
 * C1 controls, line separators and bidirectional overrides among valid
 * UTF-8; other multibyte characters stay as they are. Backslashes are not
 * doubled (readability; a line break can no longer be forged). Input that
 * does not fit ends with "..." at a character boundary. Returns the length
 * written.
 */
size_t lp_log_escape(char *out, size_t cap, const char *in, size_t len);

#define lp_log_fatal(...) lp_log_write(LP_LOG_FATAL, __VA_ARGS__)
#define lp_log_error(...) lp_log_write(LP_LOG_ERROR, __VA_ARGS__)
#define lp_log_warn(...) lp_log_write(LP_LOG_WARNING, __VA_ARGS__)
#define lp_log_info(...) lp_log_write(LP_LOG_LOG, __VA_ARGS__)
#define lp_log_debug(...) do { if (lp_log_enabled(LP_LOG_DEBUG)) lp_log_write(LP_LOG_DEBUG, __VA_ARGS__); } while (0)
#define lp_log_noise(...) do { if (lp_log_enabled(LP_LOG_NOISE)) lp_log_write(LP_LOG_NOISE, __VA_ARGS__); } while (0)

#endif
