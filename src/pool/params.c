/*
 * Tracked session parameters (client_encoding, DateStyle, ...): the values a
 * client expects and the values a server has. A small array: at most
 * LP_MAX_TRACKED names, compared case-insensitively as PostgreSQL does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/instance.h"
#include "pool/pool.h"

static const char *const always_tracked[] = {
	"client_encoding", "DateStyle", "TimeZone", "standard_conforming_strings",
	"application_name",
};

void lp_params_set(struct lp_params *p, const char *name, const char *value)
{
	for (int i = 0; i < p->n; i++) {
		if (strcasecmp(p->name[i], name) == 0) {
			if (strcmp(p->value[i], value) == 0)
				return;
			char *nv = strdup(value);
			if (!nv)
				return;
			free(p->value[i]);
			p->value[i] = nv;
			return;
		}
	}
	if (p->n == LP_MAX_TRACKED)
		return;
	char *nn = strdup(name), *nv = strdup(value);
	if (!nn || !nv) {
		free(nn);
		free(nv);
		return;
	}
	p->name[p->n] = nn;
	p->value[p->n] = nv;
	p->n++;
}

const char *lp_params_get(const struct lp_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcasecmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}

void lp_params_clear(struct lp_params *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->name[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

void lp_params_copy(struct lp_params *dst, const struct lp_params *src)
{
	for (int i = 0; i < src->n; i++)
		lp_params_set(dst, src->name[i], src->value[i]);
}

bool lp_param_is_tracked(const struct lp_instance *inst, const char *name)
{
	for (size_t i = 0; i < sizeof(always_tracked) / sizeof(always_tracked[0]); i++)
		if (strcasecmp(always_tracked[i], name) == 0)
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
