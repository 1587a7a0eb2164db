/*
 * Listening sockets: TCP on each listen_addr (comma list, "*" = all) and the
 * unix socket <dir>/.s.PGSQL.<port>. Returns file descriptors; the caller
 * hooks them to its loop.
 */
#ifndef LP_NET_LISTEN_H
#define LP_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* Opens TCP listeners; returns how many (>= 0) or -1 with errbuf filled. */
int lp_listen_tcp(const char *addrs, int port, int backlog, bool reuseport, int *fds, int max,
		  char *errbuf, size_t errcap);
/* Opens the unix socket; returns the fd or -1 with errbuf filled. path gets
 * the socket's file name (for unlink at exit). */
int lp_listen_unix(const char *dir, int port, int mode, int backlog, char *path, size_t pathcap,
		   char *errbuf, size_t errcap);

#endif
