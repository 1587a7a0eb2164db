/*
 * The built-in Prometheus exporter and health probes: what /metrics,
 * /healthz and /readyz answer, read straight from the pooler's own objects
 * on its own loop (src/metrics/http.c serves them).
 *
 * Lifecycle: lp_exporter_apply() at start and after every reload (it binds,
 * rebinds when metrics_listen_addr/metrics_port changed, or stops when the
 * port is 0); lp_exporter_stop() at exit. The endpoint is not part of the
 * shutdown: it keeps answering (readyz: 503) until the process exits.
 */
#ifndef LP_POOL_EXPORTER_H
#define LP_POOL_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>

struct lp_instance;

/* Starts, rebinds or stops the endpoint to match the current settings. A
 * port that cannot be bound is logged and the pooler runs on without it. */
void lp_exporter_apply(struct lp_instance *inst);
void lp_exporter_stop(struct lp_instance *inst);

/* True when ready; otherwise why (a short sentence) in why. */
bool lp_exporter_ready(struct lp_instance *inst, char *why, size_t cap);

#endif
