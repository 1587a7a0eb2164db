/*
 * Address ranges ("10.0.0.0/8", "fd00::/8", "192.0.2.7") and matching a
 * peer's socket address against a list of them: the metrics endpoint's
 * allow list. Pure (libc only), so the option table can validate a list
 * while reading the file and the server can match it at accept.
 */
#ifndef LP_CORE_CIDR_H
#define LP_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define LP_CIDR_MAX 64          /* ranges in one list */

struct lp_cidr {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];       /* already masked */
	uint8_t mask[16];
};

/* One range: an IPv4 or IPv6 address, optionally "/bits". Returns 0 or -1. */
int lp_cidr_parse(const char *text, struct lp_cidr *out);

/* A list separated by commas and/or blanks into out[0..max). Returns how
 * many (0 for an empty list), or -1 with why naming the bad item. */
int lp_cidr_parse_list(const char *text, struct lp_cidr *out, int max, char *why, size_t whycap);

/* The address of sa as *family and addr (4 or 16 bytes, the rest zero); an
 * IPv4-mapped IPv6 address (a dual-stack listener's IPv4 peer) as IPv4.
 * False for a family other than AF_INET and AF_INET6. */
bool lp_cidr_addr_of(const struct sockaddr *sa, int *family, uint8_t addr[16]);

/* Whether sa (as lp_cidr_addr_of reads it) lies in one of list[0..n). */
bool lp_cidr_match(const struct lp_cidr *list, int n, const struct sockaddr *sa);

#endif
