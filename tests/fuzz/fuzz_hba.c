/*
 * libFuzzer harness for the auth_hba_file parser and matcher (src/auth/hba).
 *
 * The input is parsed as a whole file; a valid result is then matched
 * against a few fixed connections (every rule must be reachable without a
 * crash), and a rejected one must have said why, with a file name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/hba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addrs[] = { NULL, "127.0.0.1", "10.1.2.3", "::1", "fe80::1" };
	struct lp_hba h;
	struct lp_diag d = { 0 };

	if (size > 65536)
		return 0;
	if (lp_hba_parse((const char *)data, size, "fuzz.conf", &h, &d) < 0) {
		if (d.n == 0 || strncmp(d.msgs[0], "fuzz.conf", 9) != 0 || h.n != 0)
			abort();
		lp_diag_cleanup(&d);
		return 0;
	}
	if (d.n != 0)
		abort();
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		for (int tls = 0; tls < 2; tls++) {
			const struct lp_hba_rule *r = lp_hba_match(&h, addrs[i], tls, "db", "all", i & 1);
			if (r && (r < h.rules || r >= h.rules + h.n))
				abort();
			if (r && r->map && r->method != LP_HBA_CERT && r->method != LP_HBA_PEER)
				abort();
		}
	lp_hba_free(&h);
	return 0;
}
