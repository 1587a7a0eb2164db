/*
 * libFuzzer harness for the takeover record codec (src/proto/handoff.c):
 * arbitrary bytes are decoded; whatever decodes is encoded again and must
 * decode to the same record (strings and requests included), within the
 * lengths the encoder announced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handoff.h"

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_handoff *h = malloc(sizeof(*h)), *d = malloc(sizeof(*d));
	const char *err;
	if (!h || !d)
		abort();
	if (lp_handoff_decode(data, size, h, &err) == LP_PROTO_OK) {
		size_t cap = lp_handoff_encoded_len(h);
		uint8_t *buf = malloc(cap ? cap : 1);
		struct lp_writer w;
		lp_wr_init(&w, buf, cap);
		lp_handoff_encode(&w, h);
		if (w.overflow || w.len != cap)
			abort();
		if (lp_handoff_decode(buf, w.len, d, &err) != LP_PROTO_OK)
			abort();
		if (d->kind != h->kind || d->id != h->id || !same_str(d->db, h->db) ||
		    !same_str(d->user, h->user) || !same_str(d->path, h->path) ||
		    d->nparams != h->nparams || d->nwelcome != h->nwelcome ||
		    d->have_track != h->have_track || d->nreqs != h->nreqs ||
		    (h->nreqs && memcmp(d->reqs, h->reqs, (size_t)h->nreqs * LP_HO_REQ_LEN)))
			abort();
		for (int i = 0; i < h->nparams; i++)
			if (!same_str(d->params[i].name, h->params[i].name) ||
			    !same_str(d->params[i].value, h->params[i].value))
				abort();
		free(buf);
	}
	free(h);
	free(d);
	return 0;
}
