/* Listening sockets; see listen.h. */
#include "net/listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/io.h"

static int listen_one(const struct addrinfo *ai, int backlog, bool reuseport, char *errbuf,
		      size_t errcap)
{
	int one = 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	snprintf(errbuf, errcap, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int lp_listen_tcp(const char *addrs, int port, int backlog, bool reuseport, int *fds, int max,
		  char *errbuf, size_t errcap)
{
	char list[1024];
	char portstr[16];
	int n = 0;

	snprintf(list, sizeof(list), "%s", addrs);
	snprintf(portstr, sizeof(portstr), "%d", port);
	for (char *save = NULL, *tok = strtok_r(list, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		struct addrinfo hints, *res = NULL, *ai;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		const char *host = strcmp(tok, "*") == 0 ? NULL : tok;
		int rc = getaddrinfo(host, portstr, &hints, &res);
		if (rc != 0) {
			snprintf(errbuf, errcap, "cannot resolve listen_addr %s: %s", tok, gai_strerror(rc));
			goto fail;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			if (n == max)
				break;
			char why[200];
			int fd = listen_one(ai, backlog, reuseport, why, sizeof(why));
			if (fd < 0) {
				snprintf(errbuf, errcap, "cannot listen on %s:%d: %s", tok, port, why);
				freeaddrinfo(res);
				goto fail;
			}
			fds[n++] = fd;
		}
		freeaddrinfo(res);
	}
	return n;
fail:
	while (n > 0)
		close(fds[--n]);
	return -1;
}

int lp_listen_unix(const char *dir, int port, int mode, int backlog, char *path, size_t pathcap,
		   char *errbuf, size_t errcap)
{
	struct sockaddr_un sun;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int len = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d", dir, port);
	if (len < 0 || (size_t)len >= sizeof(sun.sun_path)) {
		snprintf(errbuf, errcap, "unix_socket_dir too long: %s", dir);
		return -1;
	}
	snprintf(path, pathcap, "%s", sun.sun_path);
	/* A stale socket from a crashed run would block bind. */
	(void)unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(sun.sun_path, (mode_t)mode) < 0 || listen(fd, backlog) < 0) {
		snprintf(errbuf, errcap, "cannot listen on %s: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}
