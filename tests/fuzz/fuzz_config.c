/*
 * libFuzzer harness for the pgbouncer.ini parser (src/config), %include and
 * reload included.
 *
 * The input is split at its first NUL byte: the bytes before it are written
 * to main.ini, the bytes after it to inc.ini (no NUL: a fixed [databases]
 * entry), in a private directory made at start and removed at exit.
 * main.ini is then loaded from disk as linkpool loads its file, so
 * "%include inc.ini" (and main.ini including itself, sub/loop.ini including
 * ../main.ini, a missing file, a directory) take the real path. An input
 * with an %include naming any other path with a '/' is skipped: it could
 * name a FIFO or /dev/zero.
 *
 * A refusal must report every problem as "file: ..." naming one of the files
 * read. An accepted configuration must have every string option set (never
 * NULL), databases and users with names and the file:line they came from,
 * and every option printable as SHOW CONFIG prints it. Loading the same
 * files again (a reload) must give the same result. Per iteration neither
 * memory (LeakSanitizer) nor descriptors may leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], main_path[96], inc_path[96];
static int fd_growths;

static void put(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* At exit (the end of a run, not a finding: its files stay). */
static void cleanup(void)
{
	static const char *const files[] = { "main.ini", "inc.ini", "users.txt", "sub/loop.ini" };
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void setup(void)
{
	char path[128];

	/* tmpfs when there is one: on ext4, rewriting a file with O_TRUNC at
	 * every input waits for its blocks to reach the disk (auto_da_alloc),
	 * which made this harness wait on I/O for four fifths of its time. */
	snprintf(dir, sizeof(dir), "%s", "/dev/shm/linkpool-fuzz-ini-files.XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "%s", "/tmp/linkpool-fuzz-ini-files.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	atexit(cleanup);
	snprintf(main_path, sizeof(main_path), "%s/main.ini", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/inc.ini", dir);
	snprintf(path, sizeof(path), "%s/sub", dir);
	if (mkdir(path, 0700) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/sub/loop.ini", dir);
	put(path, "%include ../main.ini\n", 20);
	snprintf(path, sizeof(path), "%s/users.txt", dir);
	put(path, "\"alice\" \"secret\"\n", 17);
}

/* The lowest free descriptor: grows when one leaks. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

/* Whether some %include line names a path with a '/'. */
static int includes_path(const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		const char *p = s;

		while (p < le && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f'))
			p++;
		if (le - p >= 8 && strncasecmp(p, "%include", 8) == 0) {
			const char *slash = memchr(p, '/', (size_t)(le - p));
			/* sub/loop.ini is the one path allowed. */
			if (slash && (slash - p < 3 || memcmp(slash - 3, "sub", 3) != 0 ||
				      memchr(slash + 1, '/', (size_t)(le - slash - 1))))
				return 1;
		}
		s = le + 1;
	}
	return 0;
}

static void check_diag(const struct lp_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];
		size_t ml = strlen(main_path), il = strlen(inc_path);

		if (!((strncmp(m, main_path, ml) == 0 && (m[ml] == ':')) ||
		      (strncmp(m, inc_path, il) == 0 && (m[il] == ':')) ||
		      strncmp(m, dir, strlen(dir)) == 0))
			abort();
	}
}

static void check_config(const struct lp_config *c)
{
	size_t n;
	const struct lp_option *opts = lp_config_options(&n);
	char out[8192];

	for (size_t i = 0; i < n; i++) {
		if (opts[i].type == LP_OPT_STR &&
		    *(char *const *)((const char *)&c->s + opts[i].offset) == NULL)
			abort();
		lp_config_format(&c->s, &opts[i], out, sizeof(out));
		if (!memchr(out, '\0', sizeof(out)))
			abort();
	}
	for (size_t i = 0; i < c->ndbs; i++) {
		const struct lp_db_conf *db = &c->dbs[i];
		if (!db->name || !db->name[0] || !db->file || db->line < 1 ||
		    lp_config_find_db(c, db->name) != db)
			abort();
	}
	for (size_t i = 0; i < c->nusers; i++) {
		const struct lp_user_conf *u = &c->users[i];
		if (!u->name || !u->name[0] || !u->file || u->line < 1 ||
		    lp_config_find_user(c, u->name) != u)
			abort();
	}
	for (size_t i = 0; i < c->npeers; i++)
		if (!c->peers[i].file || c->peers[i].line < 1 || c->peers[i].id < 1 ||
		    c->peers[i].id > 16383)
			abort();
}

static void check_same(const struct lp_config *a, const struct lp_config *b)
{
	size_t n;
	const struct lp_option *opts = lp_config_options(&n);
	char x[8192], y[8192];

	if (a->ndbs != b->ndbs || a->nusers != b->nusers || a->npeers != b->npeers)
		abort();
	for (size_t i = 0; i < n; i++) {
		lp_config_format(&a->s, &opts[i], x, sizeof(x));
		lp_config_format(&b->s, &opts[i], y, sizeof(y));
		if (strcmp(x, y) != 0)
			abort();
	}
	for (size_t i = 0; i < a->ndbs; i++)
		if (strcmp(a->dbs[i].name, b->dbs[i].name) || a->dbs[i].port != b->dbs[i].port)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed_inc[] = "[databases]\nincluded = host=127.0.0.1 port=5433\n";
	struct lp_config c, again;
	struct lp_diag d = { 0 }, d2 = { 0 };
	const uint8_t *nul;
	size_t main_len;
	int rc, rc2, fd0;

	if (size > 65536)
		return 0;
	if (!dir[0])
		setup();
	nul = memchr(data, '\0', size);
	main_len = nul ? (size_t)(nul - data) : size;
	if (includes_path((const char *)data, size))
		return 0;
	fd0 = lowest_free_fd();
	put(main_path, data, main_len);
	if (nul)
		put(inc_path, nul + 1, size - main_len - 1);
	else
		put(inc_path, fixed_inc, sizeof(fixed_inc) - 1);

	rc = lp_config_load(main_path, &c, &d);
	if (rc < 0) {
		if (d.n == 0)
			abort();
	} else {
		check_config(&c);
	}
	check_diag(&d);
	rc2 = lp_config_load(main_path, &again, &d2);
	if (rc2 != rc || d2.n != d.n)
		abort();
	if (rc == 0) {
		check_same(&c, &again);
		lp_config_free(&again);
		lp_config_free(&c);
	}
	lp_diag_cleanup(&d);
	lp_diag_cleanup(&d2);
	if (lowest_free_fd() != fd0 && ++fd_growths > 3)
		abort();
	return 0;
}
