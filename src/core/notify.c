/* sd_notify's datagram protocol (notify.h). */
#include "core/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

bool lp_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return false;
	size_t plen = strlen(path);
	struct sockaddr_un sun;
	/* Only absolute paths and abstract names: systemd sets nothing else,
	 * and a relative path would depend on the working directory. */
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		lp_log_debug("NOTIFY_SOCKET is not a usable socket address: ignored");
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	ssize_t n;
	do {
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
	} while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		lp_log_debug("sd_notify %s: %s", state, strerror(e));
		return false;
	}
	return true;
}

bool lp_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return lp_notify(msg);
}
