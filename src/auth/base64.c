/*
 * Base64 codec for SCRAM; see base64.h. Table-driven, no allocation.
 */
#include "auth/base64.h"

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int lp_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len)
{
	size_t need, o = 0, i = 0;

	/* Guard the size arithmetic itself before trusting it. */
	if (len > (SIZE_MAX / 4) - 3)
		return -1;
	need = LP_BASE64_ENC_LEN(len);
	if (cap < need + 1)
		return -1;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = enc_tab[(v >> 18) & 63];
		out[o++] = enc_tab[(v >> 12) & 63];
		out[o++] = enc_tab[(v >> 6) & 63];
		out[o++] = enc_tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = enc_tab[(v >> 18) & 63];
		out[o++] = enc_tab[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
		out[o++] = enc_tab[(v >> 18) & 63];
		out[o++] = enc_tab[(v >> 12) & 63];
		out[o++] = enc_tab[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return 0;
}

static int dec_char(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int lp_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int a = dec_char(in[i]), b = dec_char(in[i + 1]);
		int c = dec_char(in[i + 2]), d = dec_char(in[i + 3]);
		int last = (i + 4 == len);

		if (a < 0 || b < 0)
			return -1;
		/* '=' is only allowed as the final one or two characters. */
		if (c < 0) {
			if (!last || in[i + 2] != '=' || in[i + 3] != '=')
				return -1;
			if (o + 1 > cap)
				return -1;
			out[o++] = (uint8_t)((a << 2) | (b >> 4));
			break;
		}
		if (d < 0) {
			if (!last || in[i + 3] != '=')
				return -1;
			if (o + 2 > cap)
				return -1;
			out[o++] = (uint8_t)((a << 2) | (b >> 4));
			out[o++] = (uint8_t)(((b & 15) << 4) | (c >> 2));
			break;
		}
		if (o + 3 > cap)
			return -1;
		out[o++] = (uint8_t)((a << 2) | (b >> 4));
		out[o++] = (uint8_t)(((b & 15) << 4) | (c >> 2));
		out[o++] = (uint8_t)(((c & 3) << 6) | d);
	}
	if (out_len)
		*out_len = o;
	return 0;
}
