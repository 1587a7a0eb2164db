/*
 * Tracked session parameters (client_encoding, DateStyle, ...): the values a
 * client expects and the values a server has. A small array: at most
 * LP_MAX_TRACKED names, compared case-insensitively as PostgreSQL does.
 *
 * Lookups run on every server assignment (the parameter check in link.c), so
 * each entry keeps a hash of its case-folded name and a lookup compares
 * hashes before strings; the arrays are allocated on first use so a client
 * without parameters of its own holds no memory for them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/instance.h"
#include "pool/params.h"
#include "pool/pool.h"

static const char *const always_tracked[] = {
	"client_encoding", "DateStyle", "TimeZone", "standard_conforming_strings",
	"application_name",
};

/* FNV-1a over the ASCII-lowercased name. */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		unsigned char ch = (*c >= 'A' && *c <= 'Z') ? (unsigned char)(*c + 32) : *c;
		h = (h ^ ch) * 16777619u;
	}
	return h;
}

static uint64_t last_stamp;

static void changed(struct lp_params *p)
{
	p->stamp = ++last_stamp;
}

/* The hashes live after the values in the same block (a smaller struct). */
static uint32_t *hashes(const struct lp_params *p)
{
	return (uint32_t *)(p->value + p->cap);
}

static int find(const struct lp_params *p, const char *name, uint32_t h)
{
	if (p->n == 0)
		return -1;              /* no block yet */
	const uint32_t *hash = hashes(p);
	for (int i = 0; i < p->n; i++)
		if (hash[i] == h && strcasecmp(p->name[i], name) == 0)
			return i;
	return -1;
}

/* Makes room for one more entry; false when full or out of memory. */
static bool grow(struct lp_params *p)
{
	if (p->n < p->cap)
		return true;
	if (p->cap == LP_MAX_TRACKED)
		return false;
	int ncap = p->cap ? p->cap * 2 : 8;
	if (ncap > LP_MAX_TRACKED)
		ncap = LP_MAX_TRACKED;
	/* One block: names, values, hashes. */
	char **nn = malloc((size_t)ncap * (2 * sizeof(char *) + sizeof(uint32_t)));
	if (!nn)
		return false;
	char **nv = nn + ncap;
	uint32_t *nh = (uint32_t *)(nv + ncap);
	if (p->n > 0) {
		memcpy(nn, p->name, (size_t)p->n * sizeof(char *));
		memcpy(nv, p->value, (size_t)p->n * sizeof(char *));
		memcpy(nh, hashes(p), (size_t)p->n * sizeof(uint32_t));
	}
	free(p->name);
	p->name = nn;
	p->value = nv;
	p->cap = (uint8_t)ncap;
	return true;
}

void lp_params_set(struct lp_params *p, const char *name, const char *value)
{
	uint32_t h = name_hash(name);
	int i = find(p, name, h);
	if (i >= 0) {
		if (strcmp(p->value[i], value) == 0)
			return;
		char *nv = strdup(value);
		if (!nv)
			return;
		free(p->value[i]);
		p->value[i] = nv;
		changed(p);
		return;
	}
	if (!grow(p))
		return;
	char *nn = strdup(name), *nv = strdup(value);
	if (!nn || !nv) {
		free(nn);
		free(nv);
		return;
	}
	p->name[p->n] = nn;
	p->value[p->n] = nv;
	hashes(p)[p->n] = h;
	p->tracked &= ~(1u << p->n);
	p->n++;
	changed(p);
}

const char *lp_params_get(const struct lp_params *p, const char *name)
{
	if (p->n == 0)
		return NULL;
	int i = find(p, name, name_hash(name));
	return i >= 0 ? p->value[i] : NULL;
}

const char *lp_params_value_of(const struct lp_params *p, const struct lp_params *from, int i)
{
	if (p->n == 0)
		return NULL;
	int k = find(p, from->name[i], hashes(from)[i]);
	return k >= 0 ? p->value[k] : NULL;
}

int lp_params_index_of(const struct lp_params *p, const struct lp_params *from, int i)
{
	return find(p, from->name[i], hashes(from)[i]);
}

void lp_params_clear(struct lp_params *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->name[i]);
		free(p->value[i]);
	}
	free(p->name);
	memset(p, 0, sizeof(*p));
	changed(p);
}

void lp_params_copy(struct lp_params *dst, const struct lp_params *src)
{
	for (int i = 0; i < src->n; i++)
		lp_params_set(dst, src->name[i], src->value[i]);
}

void lp_params_mark_tracked(const struct lp_instance *inst, struct lp_params *p)
{
	p->tracked = 0;
	for (int i = 0; i < p->n; i++)
		if (lp_param_is_tracked(inst, p->name[i]))
			p->tracked |= 1u << i;
	changed(p);
}

bool lp_param_is_tracked(const struct lp_instance *inst, const char *name)
{
	/* Hashes first: every startup parameter of every login asks. */
	enum { NALWAYS = sizeof(always_tracked) / sizeof(always_tracked[0]) };
	static uint32_t always_hash[NALWAYS];
	if (!always_hash[0])
		for (size_t i = 0; i < NALWAYS; i++)
			always_hash[i] = name_hash(always_tracked[i]);
	uint32_t h = name_hash(name);
	for (size_t i = 0; i < NALWAYS; i++)
		if (always_hash[i] == h && strcasecmp(always_tracked[i], name) == 0)
			return true;
	const char *extra = inst->cfg.s.track_extra_parameters;
	if (!extra || !*extra)
		return false;
	/* Case-insensitive membership in the comma list. */
	size_t nlen = strlen(name);
	const char *p = extra;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		if ((size_t)(e - p) == nlen && strncasecmp(p, name, nlen) == 0)
			return true;
		p = e;
	}
	return false;
}
