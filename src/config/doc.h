/*
 * Writes docs/config.md from the option tables, so the documentation is
 * generated from the same rows the parser uses (tools/gen-config-doc).
 */
#ifndef LP_CONFIG_DOC_H
#define LP_CONFIG_DOC_H

#include <stdio.h>

/* Prints the whole markdown document to f. */
void lp_config_write_doc(FILE *f);

#endif
