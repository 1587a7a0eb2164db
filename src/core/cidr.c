/*
 * Address ranges for allow lists (see cidr.h).
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int lp_cidr_parse(const char *text, struct lp_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0')
			return -1;
	}
	memset(out, 0, sizeof(*out));
	int max;
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	if (bits < 0)
		bits = max;
	if (bits > max)
		return -1;
	for (int i = 0; i < max / 8; i++) {
		long b = bits - i * 8;
		out->mask[i] = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
		out->addr[i] &= out->mask[i];
	}
	return 0;
}

int lp_cidr_parse_list(const char *text, struct lp_cidr *out, int max, char *why, size_t whycap)
{
	int n = 0;
	const char *p = text;
	for (;;) {
		p += strspn(p, ", \t");
		if (!*p)
			return n;
		size_t len = strcspn(p, ", \t");
		if (n == max) {
			snprintf(why, whycap, "more than %d address ranges", max);
			return -1;
		}
		char item[INET6_ADDRSTRLEN + 8];
		bool ok = len < sizeof(item);
		if (ok) {
			memcpy(item, p, len);
			item[len] = '\0';
			ok = lp_cidr_parse(item, &out[n]) == 0;
		}
		if (!ok) {
			snprintf(why, whycap, "\"%.*s\" is not an address or address/bits",
				 (int)(len > 60 ? 60 : len), p);
			return -1;
		}
		n++;
		p += len;
	}
}

bool lp_cidr_addr_of(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	bool mapped = memcmp(b, v4mapped, sizeof(v4mapped)) == 0;
	*family = mapped ? AF_INET : AF_INET6;
	memcpy(addr, mapped ? b + 12 : b, mapped ? 4 : 16);
	return true;
}

bool lp_cidr_match(const struct lp_cidr *list, int n, const struct sockaddr *sa)
{
	uint8_t a[16];
	int family;
	if (!lp_cidr_addr_of(sa, &family, a))
		return false;
	int len = family == AF_INET ? 4 : 16;
	for (int i = 0; i < n; i++) {
		if (list[i].family != family)
			continue;
		int k = 0;
		while (k < len && (a[k] & list[i].mask[k]) == list[i].addr[k])
			k++;
		if (k == len)
			return true;
	}
	return false;
}
