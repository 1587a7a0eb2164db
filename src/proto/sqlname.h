/*
 * PostgreSQL's normalisation of an identifier, as the server does it with a
 * UTF-8 server encoding: unquoted names lower-cased (ASCII letters only),
 * quoted names with "" undoubled, U&"" names decoded (\XXXX, \+XXXXXX, a
 * doubled escape, UTF-16 surrogate pairs), then cut to NAMEDATALEN-1 bytes
 * before the first character that does not fit (pg_mbcliplen).
 *
 * Used by sqlcmd.c for prepared-statement names. Pure, no allocation: each
 * function writes at most LP_SQLNAME_MAX bytes and a NUL into out.
 */
#ifndef LP_PROTO_SQLNAME_H
#define LP_PROTO_SQLNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_SQLNAME_MAX 63       /* NAMEDATALEN - 1 */

/* An unquoted identifier's n bytes; returns the name's length. */
size_t lp_sqlname_plain(char *out, const uint8_t *w, size_t n);

/* The n bytes between the quotes of "..."; returns the name's length. */
size_t lp_sqlname_quoted(char *out, const uint8_t *c, size_t n);

/* The n bytes between the quotes of U&"...", escape character esc; false
 * where PostgreSQL raises an error (a bad escape or surrogate pair). */
bool lp_sqlname_unicode(char *out, size_t *len, const uint8_t *c, size_t n, uint8_t esc);

#endif
