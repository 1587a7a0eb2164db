/*
 * The service manager's readiness protocol (systemd's sd_notify), without
 * libsystemd: one datagram of "KEY=value" lines to the AF_UNIX socket named
 * by $NOTIFY_SOCKET ('@' first: the abstract namespace). Nothing happens when
 * the variable is unset, so the calls cost nothing outside a Type=notify
 * unit.
 */
#ifndef LP_CORE_NOTIFY_H
#define LP_CORE_NOTIFY_H

#include <stdbool.h>

/* Sends state ("READY=1", "STOPPING=1", "RELOADING=1\nMONOTONIC_USEC=...");
 * true when a datagram went out. Failures are not fatal (logged at
 * debug level): a service manager that stopped listening must not stop the
 * pooler. */
bool lp_notify(const char *state);
/* RELOADING=1 with the CLOCK_MONOTONIC time, as Type=notify-reload wants. */
bool lp_notify_reloading(void);

#endif
