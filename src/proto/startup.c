/*
 * Startup-phase codec: the untyped first packet of a connection
 * (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
 *
 * The packet arrives before any authentication, so it is the most exposed
 * input linkpool has: the length word is bounded before anything else is
 * trusted, and the parameter list must be exactly the bytes the length word
 * promises -- no trailing garbage, no unterminated strings.
 */
#include "proto/proto.h"

#include <string.h>
#include <strings.h>

static uint32_t get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * Duplicate names are refused: the pooler authenticates and routes on the
 * first "user"/"database" while a server forwarded the raw list may use the
 * last, and that disagreement is exactly what an attacker wants.
 */
static bool is_duplicate(const struct lp_startup *s, const char *name)
{
	for (int i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return true;
	return false;
}

static int parse_params(const uint8_t *buf, size_t pkt_len, struct lp_startup *out,
			const char **err)
{
	size_t pos = 8;

	for (;;) {
		const uint8_t *nul;
		const char *name, *value;

		if (pos >= pkt_len) {
			*err = "startup packet lacks its terminating zero byte";
			return LP_PROTO_ERROR;
		}
		if (buf[pos] == 0)
			break;

		name = (const char *)buf + pos;
		nul = memchr(buf + pos, 0, pkt_len - pos);
		if (nul == NULL) {
			*err = "unterminated parameter name in startup packet";
			return LP_PROTO_ERROR;
		}
		pos = (size_t)(nul - buf) + 1;
		if (pos >= pkt_len) {
			*err = "missing parameter value in startup packet";
			return LP_PROTO_ERROR;
		}
		value = (const char *)buf + pos;
		nul = memchr(buf + pos, 0, pkt_len - pos);
		if (nul == NULL) {
			*err = "unterminated parameter value in startup packet";
			return LP_PROTO_ERROR;
		}
		pos = (size_t)(nul - buf) + 1;

		if (out->nparams >= LP_STARTUP_MAX_PARAMS) {
			*err = "too many parameters in startup packet";
			return LP_PROTO_ERROR;
		}
		if (is_duplicate(out, name)) {
			*err = "duplicate parameter in startup packet";
			return LP_PROTO_ERROR;
		}
		out->params[out->nparams].name = name;
		out->params[out->nparams].value = value;
		out->nparams++;
		if (strcmp(name, "user") == 0)
			out->user = value;
		else if (strcmp(name, "database") == 0)
			out->database = value;
	}

	/* As PostgreSQL: the terminator must be the last byte of the packet. */
	if (pos + 1 != pkt_len) {
		*err = "invalid startup packet layout: expected terminator as last byte";
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

static int fixed_len(uint32_t want, uint32_t got, const char *what, const char **err)
{
	if (want != got) {
		*err = what;
		return LP_PROTO_ERROR;
	}
	return LP_PROTO_OK;
}

int lp_startup_parse(const uint8_t *buf, size_t len, struct lp_startup *out,
		     size_t *pkt_len, const char **err)
{
	uint32_t plen, code;
	int rc;

	*err = NULL;
	*pkt_len = 0;
	out->kind = LP_STARTUP_NORMAL;
	out->version = 0;
	out->cancel_pid = 0;
	out->cancel_key = 0;
	out->nparams = 0;
	out->user = NULL;
	out->database = NULL;

	/* Judge the length word as soon as it is held: no point waiting for
	 * 10 kB that will be refused anyway. */
	if (len < 4)
		return LP_PROTO_INCOMPLETE;
	plen = get_u32(buf);
	if (plen < 8 || plen > LP_STARTUP_MAX_LEN) {
		*err = "invalid length of startup packet";
		return LP_PROTO_ERROR;
	}
	/* Known from here on, also while incomplete: the caller judges
	 * whether its buffer can ever hold the whole packet. */
	*pkt_len = plen;
	if (len < plen)
		return LP_PROTO_INCOMPLETE;

	code = get_u32(buf + 4);
	switch (code) {
	case LP_PROTO_SSL_CODE:
		out->kind = LP_STARTUP_SSL;
		rc = fixed_len(8, plen, "invalid length of SSL request", err);
		break;
	case LP_PROTO_GSSENC_CODE:
		out->kind = LP_STARTUP_GSSENC;
		rc = fixed_len(8, plen, "invalid length of GSSENC request", err);
		break;
	case LP_PROTO_CANCEL_CODE:
		out->kind = LP_STARTUP_CANCEL;
		rc = fixed_len(16, plen, "invalid length of cancel request", err);
		if (rc == LP_PROTO_OK) {
			out->cancel_pid = get_u32(buf + 8);
			out->cancel_key = get_u32(buf + 12);
		}
		break;
	default:
		if ((code >> 16) != 3) {
			*err = code == (2u << 16) ? "unsupported frontend protocol 2.0"
						  : "unsupported frontend protocol version";
			return LP_PROTO_ERROR;
		}
		out->version = code;
		rc = parse_params(buf, plen, out, err);
		break;
	}
	if (rc != LP_PROTO_OK) {
		/* Half-parsed parameters must not look usable to a careless caller. */
		out->nparams = 0;
		out->user = NULL;
		out->database = NULL;
		return rc;
	}
	*pkt_len = plen;
	return LP_PROTO_OK;
}

const char *lp_startup_get(const struct lp_startup *s, const char *name)
{
	for (int i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].value;
	return NULL;
}

int lp_startup_replication(const char *value, enum lp_repl *out)
{
	static const char *const on[] = { "true", "on", "yes", "1" };
	static const char *const off[] = { "false", "off", "no", "0" };
	if (strcasecmp(value, "database") == 0) {
		*out = LP_REPL_LOGICAL;
		return 0;
	}
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (strcasecmp(value, on[i]) == 0) {
			*out = LP_REPL_PHYSICAL;
			return 0;
		}
		if (strcasecmp(value, off[i]) == 0) {
			*out = LP_REPL_NONE;
			return 0;
		}
	}
	return -1;
}

const char *lp_repl_name(enum lp_repl r)
{
	return r == LP_REPL_LOGICAL ? "logical" : r == LP_REPL_PHYSICAL ? "physical" : "none";
}

static bool opt_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int lp_startup_option_next(const char **pos, char *out, const char **name, const char **value,
			   const char **err)
{
	const char *p = *pos;
	size_t n = 0;

	*err = NULL;
	while (opt_space(*p))
		p++;
	if (!*p) {
		*pos = p;
		return LP_PROTO_INCOMPLETE;
	}
	if (p[0] == '-' && p[1] == 'c') {
		p += 2;
		while (opt_space(*p))
			p++;
	} else if (p[0] == '-' && p[1] == '-') {
		p += 2;
	} else {
		goto malformed;
	}
	/* One token: up to unescaped white space; a trailing lone backslash
	 * escapes nothing and is dropped. */
	while (*p && !opt_space(*p)) {
		if (*p == '\\') {
			p++;
			if (!*p)
				break;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	*pos = p;
	/* The first '=' splits, escaped or not (as PgBouncer); a name is needed. */
	char *eq = memchr(out, '=', n);
	if (!eq || eq == out)
		goto malformed;
	*eq = '\0';
	*name = out;
	*value = eq + 1;
	return LP_PROTO_OK;
malformed:
	*err = "unsupported options startup parameter: only '-c config=val' and '--config=val' "
	       "are allowed";
	return LP_PROTO_ERROR;
}
