/*
 * linkpool: command line, daemonizing, privileges, signals -> the loop.
 * Same command line and signals as PgBouncer 1.23+.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/log.h"
#include "core/notify.h"
#include "net/io.h"
#include "pool/exporter.h"
#include "pool/generation.h"
#include "pool/instance.h"
#include "pool/janitor.h"
#include "pool/reboot.h"

static void usage(FILE *f)
{
	fprintf(f,
		"linkpool %s -- a PostgreSQL connection pooler, drop-in for PgBouncer\n\n"
		"Usage: linkpool [OPTION]... CONFIG.ini\n"
		"  -d, --daemon     run in the background (needs logfile or syslog; writes pidfile)\n"
		"  -R, --reboot     online restart: take the sockets and connections over from\n"
		"                   the linkpool running on unix_socket_dir (else start normally)\n"
		"  -q, --quiet      nothing to stderr\n"
		"  -v, --verbose    more logging (repeat for more)\n"
		"  -u, --user=USER  drop privileges to USER after opening the listeners\n"
		"  -V, --version    print the version and exit\n"
		"  -h, --help       this help\n"
		"      --check      validate CONFIG.ini and every file it names (auth_file,\n"
		"                   auth_hba_file, TLS files); print file:line errors;\n"
		"                   exit 0 when valid, 1 otherwise\n",
		LP_VERSION);
}

struct opts {
	bool daemon, quiet, check, reboot;
	int verbose;
	const char *user;
	const char *config;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "daemon", no_argument, NULL, 'd' }, { "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' }, { "user", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' },
		{ "check", no_argument, NULL, 'C' }, { "reboot", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "dqvu:VhR", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->daemon = true; break;
		case 'q': o->quiet = true; break;
		case 'v': o->verbose++; break;
		case 'u': o->user = optarg; break;
		case 'C': o->check = true; break;
		case 'R': o->reboot = true; break;
		case 'V':
			printf("linkpool %s\n", LP_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "linkpool: exactly one configuration file is needed\n");
		usage(stderr);
		return -1;
	}
	o->config = argv[optind];
	return 0;
}

/*
 * Reads the whole generation (ini, %include files, auth_file, auth_hba_file,
 * TLS files), printing every problem as file:line. --check and the start
 * use the same reader as a reload, so all three accept and refuse the same
 * files. Returns 0 when valid.
 */
static int load_all(const char *path, struct lp_generation *g)
{
	struct lp_diag err = { 0 }, warn = { 0 };
	int rc = lp_generation_load(path, g, &err, &warn);

	for (size_t i = 0; i < err.n; i++)
		fprintf(stderr, "%s\n", err.msgs[i]);
	for (size_t i = 0; i < warn.n; i++)
		fprintf(stderr, "warning: %s\n", warn.msgs[i]);
	lp_diag_cleanup(&err);
	lp_diag_cleanup(&warn);
	return rc;
}

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		lp_log_fatal("unknown user for -u: %s", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		lp_log_fatal("could not switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * max_client_conn promises that many clients, each a descriptor, plus the
 * server connections: raise the soft descriptor limit towards the hard one
 * as far as that needs (PgBouncer leaves it to the service manager; a
 * 100,000-client setting should not fail at the 1,024th client). What is
 * still short is logged, as is any limit already high enough.
 */
static void raise_fd_limit(const struct lp_config *cfg)
{
	const struct lp_settings *s = &cfg->s;
	uint64_t need = (uint64_t)s->max_client_conn + 64;  /* listeners, logs, DNS, cancels */
	for (size_t i = 0; i < cfg->ndbs; i++) {
		const struct lp_db_conf *d = &cfg->dbs[i];
		int size = d->pool_size > 0 ? d->pool_size : s->default_pool_size;
		int reserve = d->reserve_pool > 0 ? d->reserve_pool : s->reserve_pool_size;
		need += (uint64_t)(d->max_db_connections > 0 ? d->max_db_connections : size + reserve);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? (rlim_t)need : rl.rlim_max;
	if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		lp_log_info("file descriptor limit raised from %llu to %llu for max_client_conn %d",
			    (unsigned long long)was, (unsigned long long)rl.rlim_cur, s->max_client_conn);
	else
		rl.rlim_cur = was;
	if (rl.rlim_cur < need)
		lp_log_warn("file descriptor limit %llu (hard limit %llu) is below the %llu that "
			    "max_client_conn %d and the pools may use: raise LimitNOFILE / ulimit -n",
			    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			    (unsigned long long)need, s->max_client_conn);
}

static int daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	ssize_t w = write(fd, buf, (size_t)n);
	close(fd);
	return w == n ? 0 : -1;
}

/* libevent's and evdns's own warnings: into the same log, through the same
 * escaping (an evdns line may quote what a name server sent). */
static void libevent_log(int severity, const char *msg)
{
	enum lp_log_level lvl = severity >= EVENT_LOG_ERR    ? LP_LOG_ERROR
				: severity == EVENT_LOG_WARN ? LP_LOG_WARNING
				: severity == EVENT_LOG_MSG  ? LP_LOG_LOG
							     : LP_LOG_DEBUG;
	if (lp_log_enabled(lvl))
		lp_log_write(lvl, "libevent: %s", msg);
}

/* PgBouncer's signals and log lines: a second SIGTERM or SIGINT during a
 * graceful shutdown exits at once; SIGUSR2 does not undo a shutdown. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lp_instance *inst = arg;
	(void)what;
	switch (sig) {
	case SIGHUP:
		lp_log_info("got SIGHUP, re-reading config");
		lp_notify_reloading();
		(void)lp_instance_reload(inst, NULL, 0);
		lp_notify("READY=1");
		break;
	case SIGTERM:
	case SIGINT:
		if (inst->shutdown != LP_RUN) {
			lp_log_info("got %s while shutting down, fast exit",
				    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			lp_instance_shutdown(inst, LP_SHUTDOWN_NOW);
		} else if (sig == SIGTERM) {
			lp_log_info("got SIGTERM, shutting down, waiting for all clients disconnect");
			lp_instance_shutdown(inst, LP_SHUTDOWN_WAIT_CLIENTS);
		} else {
			lp_log_info("got SIGINT, shutting down, waiting for all servers connections "
				    "to be released");
			lp_instance_shutdown(inst, LP_SHUTDOWN_WAIT_SERVERS);
		}
		break;
	case SIGQUIT:
		lp_log_info("got SIGQUIT, fast exit");
		lp_instance_shutdown(inst, LP_SHUTDOWN_NOW);
		break;
	case SIGUSR1:
		if (inst->paused) {
			lp_log_info("got SIGUSR1, but already paused/suspended");
			break;
		}
		lp_log_info("got SIGUSR1, pausing all activity");
		lp_instance_pause(inst);
		break;
	case SIGUSR2:
		if (inst->shutdown != LP_RUN) {
			lp_log_info("got SIGUSR2 while shutting down, ignoring");
			break;
		}
		if (inst->handed_off) {
			lp_log_info("got SIGUSR2 during an online restart, ignoring");
			break;
		}
		if (!inst->paused) {
			lp_log_info("got SIGUSR2, but not paused/suspended");
			break;
		}
		lp_log_info("got SIGUSR2, continuing from %s", inst->suspended ? "SUSPEND" : "PAUSE");
		lp_instance_resume(inst);
		break;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct lp_generation g;
	static struct lp_instance inst;
	int rc = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 1;
	if (load_all(o.config, &g) < 0)
		return 1;
	const struct lp_config *cfg = &g.cfg;
	if (o.check) {
		printf("%s: configuration is valid\n", o.config);
		lp_generation_free(&g);
		return 0;
	}
	if (o.daemon && !cfg->s.logfile[0] && !cfg->s.syslog) {
		fprintf(stderr, "linkpool: -d needs logfile or syslog, or nothing would be logged\n");
		goto out_cfg;
	}
	struct lp_log_settings ls = {
		.logfile = cfg->s.logfile, .to_stderr = !o.daemon, .syslog = cfg->s.syslog,
		.syslog_ident = cfg->s.syslog_ident, .syslog_facility = cfg->s.syslog_facility,
		.verbose = cfg->s.verbose + o.verbose, .quiet = o.quiet,
	};
	if (lp_log_configure(&ls) < 0) {
		fprintf(stderr, "linkpool: cannot open logfile %s: %s\n", cfg->s.logfile, strerror(errno));
		goto out_cfg;
	}
	event_set_log_callback(libevent_log);
	signal(SIGPIPE, SIG_IGN);
	/* Login messages are read whole: below the floor a startup packet or a
	 * server's ParameterStatus would not fit, where PgBouncer grows a
	 * buffer for them. pkt_buf only tunes memory, so the floor is used. */
	if (cfg->s.pkt_buf < LP_PKT_BUF_FLOOR)
		lp_log_warn("pkt_buf %d is below linkpool's floor: %d bytes used", cfg->s.pkt_buf,
			    LP_PKT_BUF_FLOOR);
	lp_io_set_buf_size((uint32_t)(cfg->s.pkt_buf < LP_PKT_BUF_FLOOR ? LP_PKT_BUF_FLOOR
								 : cfg->s.pkt_buf));
	raise_fd_limit(cfg);

	if (lp_instance_init(&inst, o.config, &g) < 0) {
		lp_log_fatal("initialisation failed");
		goto out_cfg;
	}
	inst.console = &lp_admin_console;
	/* Before the sockets open: a SIGHUP sent as soon as the port answers
	 * must reload, not kill us with the default action. */
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		inst.sig_ev[i] = evsignal_new(inst.base, sigs[i], on_signal, &inst);
		if (!inst.sig_ev[i] || event_add(inst.sig_ev[i], NULL) < 0) {
			lp_log_fatal("cannot install signal handlers");
			goto out_inst;
		}
	}
	/* -R: the running process's sockets, before anything of ours listens
	 * (it holds the ports until it has gone). */
	int took_over = 0;
	if (o.reboot && (took_over = lp_reboot_run(&inst)) < 0)
		goto out_inst;
	/* The endpoint first: once the main port answers, probes do too. */
	lp_exporter_apply(&inst);
	if (!took_over && lp_instance_listen(&inst) < 0)
		goto out_inst;
	if (o.user && drop_privileges(o.user) < 0)
		goto out_inst;
	if (o.daemon && daemonize() < 0) {
		lp_log_fatal("could not daemonize: %s", strerror(errno));
		goto out_inst;
	}
	if (o.daemon)
		event_reinit(inst.base);
	if (inst.cfg.s.pidfile[0] && write_pidfile(inst.cfg.s.pidfile) < 0) {
		lp_log_fatal("cannot write pidfile %s: %s", inst.cfg.s.pidfile, strerror(errno));
		goto out_inst;
	}
	lp_janitor_start(&inst);
	lp_log_info("linkpool %s started (pid %d)", LP_VERSION, (int)getpid());
	if (o.daemon) {
		char ready[64];
		snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%d", (int)getpid());
		lp_notify(ready);
	} else {
		lp_notify("READY=1");
	}
	/* One turn per call so lp_now_us can cache the time of a turn. */
	for (;;) {
		lp_now_turn(true);
		if (event_base_loop(inst.base, EVLOOP_ONCE) != 0 || event_base_got_break(inst.base) ||
		    event_base_got_exit(inst.base))
			break;
	}
	lp_now_turn(false);
	lp_log_info("shutting down");
	rc = 0;
	if (inst.cfg.s.pidfile[0])
		(void)unlink(inst.cfg.s.pidfile);
out_inst:
	lp_instance_cleanup(&inst);
	lp_log_close();
	return rc;
out_cfg:
	lp_generation_free(&g);
	return 1;
}
