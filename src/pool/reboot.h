/*
 * Online restart (-R), the new process's side (reboot.c): takes the
 * listeners, clients and servers over from the linkpool running on
 * unix_socket_dir's socket (its side: takeover.h).
 */
#ifndef LP_POOL_REBOOT_H
#define LP_POOL_REBOOT_H

#include "pool/pool.h"

/*
 * Before the loop starts (the instance is initialised, nothing listens).
 * 1: taken over, the old process has exited, listeners started; 0: no
 * process answered there, start normally; -1: failed (logged) -- before
 * SHUTDOWN was sent the old process is told to RESUME and keeps running.
 */
int lp_reboot_run(struct lp_instance *inst);

#endif
