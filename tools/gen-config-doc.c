/*
 * Regenerates docs/config.md from the option tables:
 *   gen-config-doc [OUTPUT]     (stdout without OUTPUT)
 * `ninja config-doc` runs it on the source tree's docs/config.md.
 */
#include <stdio.h>

#include "config/doc.h"

int main(int argc, char **argv)
{
	FILE *f = stdout;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [OUTPUT]\n", argv[0]);
		return 2;
	}
	if (argc == 2 && !(f = fopen(argv[1], "w"))) {
		perror(argv[1]);
		return 1;
	}
	lp_config_write_doc(f);
	if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
		perror(argc == 2 ? argv[1] : "stdout");
		return 1;
	}
	return 0;
}
