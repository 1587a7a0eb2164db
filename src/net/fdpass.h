/*
 * File descriptors over a unix socket (SCM_RIGHTS), for the online restart:
 * the running process sends each SHOW FDS row with the descriptor it
 * describes attached, the new process receives them. Blocking with a
 * deadline: both sides use it outside (or instead of) their event loop.
 */
#ifndef LP_NET_FDPASS_H
#define LP_NET_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Sends all of buf on sock, with fd attached to its first byte (fd < 0:
 * none). Waits for writability at most timeout_ms in all. 0, or -1 with
 * errno (ETIMEDOUT when the peer stopped reading). */
int lp_fdpass_send(int sock, const void *buf, size_t len, int fd, int timeout_ms);

/*
 * One read of what sock holds (waiting at most timeout_ms for it): bytes
 * into buf, descriptors that came with them appended to fds (received
 * close-on-exec; *nfds counts them, at most maxfds). Returns the bytes read,
 * 0 at end of stream, -1 with errno (ETIMEDOUT; EMSGSIZE when more
 * descriptors came than fit; those that did not fit are closed).
 */
ssize_t lp_fdpass_recv(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
		       int timeout_ms);

#endif
