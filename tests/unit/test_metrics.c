/*
 * Unit tests of src/metrics: the Prometheus text writer (escaping, exact
 * seconds), histograms, the reason classifiers and the HTTP request parser
 * (good requests, garbage, limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/expo.h"
#include "metrics/http.h"
#include "metrics/metrics.h"

static void test_expo_escaping(void **state)
{
	(void)state;
	struct lp_expo e;
	lp_expo_init(&e);
	lp_expo_family(&e, "x_total", LP_EXPO_COUNTER, "a \\ b\nc");
	const char *lb[] = { "database", "we\"ird\\db\nx", "user", NULL, NULL };
	lp_expo_u64(&e, "x_total", lb, 42);
	assert_string_equal(e.buf, "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n"
				   "x_total{database=\"we\\\"ird\\\\db\\nx\",user=\"\"} 42\n");
	lp_expo_reset(&e);
	assert_int_equal(e.len, 0);
	lp_expo_us(&e, "s", NULL, 1234567);
	lp_expo_us(&e, "s", NULL, 5);
	lp_expo_i64(&e, "g", NULL, -3);
	assert_string_equal(e.buf, "s 1.234567\ns 0.000005\ng -3\n");
	lp_expo_cleanup(&e);
}

static void test_expo_grows(void **state)
{
	(void)state;
	struct lp_expo e;
	lp_expo_init(&e);
	for (int i = 0; i < 5000; i++)
		lp_expo_u64(&e, "some_metric_with_a_long_name", NULL, (uint64_t)i);
	assert_false(e.oom);
	assert_true(e.len > 100000);
	assert_int_equal(strlen(e.buf), e.len);
	size_t cap = e.cap;
	lp_expo_reset(&e);
	lp_expo_u64(&e, "a", NULL, 1);
	assert_int_equal(e.cap, cap);     /* memory kept between scrapes */
	lp_expo_cleanup(&e);
}

static void test_histogram(void **state)
{
	(void)state;
	struct lp_histo h;
	memset(&h, 0, sizeof(h));
	lp_histo_observe(&h, 0);
	lp_histo_observe(&h, 100);       /* on the bound: le="0.0001" */
	lp_histo_observe(&h, 101);
	lp_histo_observe(&h, 2000000);
	lp_histo_observe(&h, 999000000); /* +Inf */
	lp_histo_observe(&h, -5);        /* clock went backwards: counted as 0 */
	assert_int_equal(h.count, 6);
	assert_int_equal(h.counts[0], 3);
	assert_int_equal(h.counts[1], 1);
	assert_int_equal(h.counts[LP_HISTO_BUCKETS], 1);
	struct lp_expo e;
	lp_expo_init(&e);
	const char *lb[] = { "database", "db", NULL };
	lp_expo_histo(&e, "w_seconds", lb, &h);
	assert_non_null(strstr(e.buf, "w_seconds_bucket{database=\"db\",le=\"0.0001\"} 3\n"));
	assert_non_null(strstr(e.buf, "w_seconds_bucket{database=\"db\",le=\"0.00025\"} 4\n"));
	assert_non_null(strstr(e.buf, "w_seconds_bucket{database=\"db\",le=\"2.5\"} 5\n"));
	assert_non_null(strstr(e.buf, "w_seconds_bucket{database=\"db\",le=\"60\"} 5\n"));
	assert_non_null(strstr(e.buf, "w_seconds_bucket{database=\"db\",le=\"+Inf\"} 6\n"));
	assert_non_null(strstr(e.buf, "w_seconds_sum{database=\"db\"} 1001.000201\n"));
	assert_non_null(strstr(e.buf, "w_seconds_count{database=\"db\"} 6\n"));
	lp_expo_cleanup(&e);
}

static void test_close_reasons(void **state)
{
	(void)state;
	assert_int_equal(lp_metrics_close_reason("server_lifetime"), LP_SVC_LIFETIME);
	assert_int_equal(lp_metrics_close_reason("server_idle_timeout"), LP_SVC_IDLE);
	assert_int_equal(lp_metrics_close_reason("database changed"), LP_SVC_RELOAD);
	assert_int_equal(lp_metrics_close_reason("reconnect needed"), LP_SVC_RELOAD);
	assert_int_equal(lp_metrics_close_reason("login failed"), LP_SVC_LOGIN_FAILED);
	assert_int_equal(lp_metrics_close_reason("connect failed"), LP_SVC_LOGIN_FAILED);
	assert_int_equal(lp_metrics_close_reason("server_connect_timeout"), LP_SVC_LOGIN_FAILED);
	assert_int_equal(lp_metrics_close_reason("server check failed"), LP_SVC_CHECK_FAILED);
	assert_int_equal(lp_metrics_close_reason("client left with a query in flight"),
			 LP_SVC_CLIENT_LEFT);
	assert_int_equal(lp_metrics_close_reason("shutdown"), LP_SVC_SHUTDOWN);
	assert_int_equal(lp_metrics_close_reason("malformed ReadyForQuery"), LP_SVC_PROTOCOL);
	assert_int_equal(lp_metrics_close_reason("server message framing broken"), LP_SVC_PROTOCOL);
	assert_int_equal(lp_metrics_close_reason("server closed the connection"), LP_SVC_ERROR);
	assert_int_equal(lp_metrics_close_reason("server sent error while idle: x"), LP_SVC_ERROR);
	assert_int_equal(lp_metrics_close_reason("something new"), LP_SVC_OTHER);
	assert_int_equal(lp_metrics_close_reason(NULL), LP_SVC_OTHER);

	struct lp_metrics m;
	struct lp_db_metrics dm;
	memset(&m, 0, sizeof(m));
	memset(&dm, 0, sizeof(dm));
	lp_metrics_server_closed(&m, &dm, "unexpected data from idle server");
	assert_int_equal(dm.server_closed[LP_SVC_PROTOCOL], 1);
	assert_int_equal(m.protocol_errors[LP_PE_SERVER], 1);
}

static void test_login_reasons(void **state)
{
	(void)state;
	assert_int_equal(lp_metrics_login_reason(false, "28P01", "password"), LP_LF_AUTH);
	assert_int_equal(lp_metrics_login_reason(false, "28000", "not allowed"), LP_LF_AUTH);
	assert_int_equal(lp_metrics_login_reason(false, "3D000", "no such database"), LP_LF_NO_DATABASE);
	assert_int_equal(lp_metrics_login_reason(false, "55000", "disabled"), LP_LF_DB_DISABLED);
	assert_int_equal(lp_metrics_login_reason(false, "53300", "max_client_conn"),
			 LP_LF_MAX_CLIENT_CONN);
	assert_int_equal(lp_metrics_login_reason(false, "08P01", "client_login_timeout"), LP_LF_TIMEOUT);
	assert_int_equal(lp_metrics_login_reason(false, "08P01", "bad length"), LP_LF_PROTOCOL);
	assert_int_equal(lp_metrics_login_reason(false, "57P01", "shutting down"), LP_LF_SHUTDOWN);
	/* The backend's own 28P01 after our authentication is a server problem. */
	assert_int_equal(lp_metrics_login_reason(true, "28P01", "password"), LP_LF_SERVER_LOGIN);
	assert_int_equal(lp_metrics_login_reason(true, "08006", "refused"), LP_LF_SERVER_LOGIN);
	/* Told after authentication, by linkpool or by the backend. */
	assert_int_equal(lp_metrics_login_reason(true, "3D000", "no such database"),
			 LP_LF_NO_DATABASE);
	assert_int_equal(lp_metrics_login_reason(true, "55000", "disabled"), LP_LF_DB_DISABLED);
	assert_int_equal(lp_metrics_login_reason(false, NULL, NULL), LP_LF_OTHER);
}

static enum lp_http_parse parse(const char *s, struct lp_http_request *r)
{
	return lp_http_parse_request(s, strlen(s), LP_HTTP_MAX_REQUEST, r);
}

static void test_http_good(void **state)
{
	(void)state;
	struct lp_http_request r;
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nextra";
	assert_int_equal(parse(req, &r), LP_HTTP_OK);
	assert_int_equal(r.method, LP_HTTP_GET);
	assert_string_equal(r.path, "/metrics");
	assert_int_equal(r.header_len, strlen(req) - 5);
	assert_int_equal(r.minor, 1);
	assert_int_equal(parse("HEAD /readyz?verbose=1 HTTP/1.0\n\n", &r), LP_HTTP_OK);
	assert_int_equal(r.method, LP_HTTP_HEAD);
	assert_int_equal(r.minor, 0);
	assert_string_equal(r.path, "/readyz");
	assert_int_equal(parse("DELETE /metrics HTTP/1.1\r\n\r\n", &r), LP_HTTP_OK);
	assert_int_equal(r.method, LP_HTTP_OTHER);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r), LP_HTTP_INCOMPLETE);
	assert_int_equal(parse("GET /met", &r), LP_HTTP_INCOMPLETE);
	assert_int_equal(parse("", &r), LP_HTTP_INCOMPLETE);
}

static void test_http_bad(void **state)
{
	(void)state;
	struct lp_http_request r;
	static const char *const bad[] = {
		"GET metrics HTTP/1.1\r\n\r\n",            /* not origin-form */
		"GET /metrics\r\n\r\n",                    /* HTTP/0.9 */
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1 \r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"GET /met\x01rics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: empty-name\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX: \x7f\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01",                 /* TLS hello to a plain port */
		"\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &r), LP_HTTP_BAD);
	/* A NUL inside the request line. */
	const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	assert_int_equal(lp_http_parse_request(nul, sizeof(nul) - 1, 8192, &r), LP_HTTP_BAD);
	/* A path longer than the request struct holds. */
	char longp[600];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "GET /", 5);
	memcpy(longp + 400, " HTTP/1.1\r\n\r\n", 14);
	assert_int_equal(lp_http_parse_request(longp, 414, 8192, &r), LP_HTTP_BAD);
}

static void test_http_limits(void **state)
{
	(void)state;
	struct lp_http_request r;
	char *big = malloc(LP_HTTP_MAX_REQUEST);
	assert_non_null(big);
	const char *line = "GET /metrics HTTP/1.1\r\n";
	size_t pos = strlen(line);
	memcpy(big, line, pos);
	while (pos + 12 <= LP_HTTP_MAX_REQUEST) {
		memcpy(big + pos, "X-Pad: abc\r\n", 12);
		pos += 12;
	}
	memset(big + pos, 'a', LP_HTTP_MAX_REQUEST - pos);
	assert_int_equal(lp_http_parse_request(big, LP_HTTP_MAX_REQUEST, LP_HTTP_MAX_REQUEST, &r),
			 LP_HTTP_TOO_LARGE);
	assert_int_equal(lp_http_parse_request(big, 100, LP_HTTP_MAX_REQUEST, &r), LP_HTTP_INCOMPLETE);
	/* Every prefix of a good request is incomplete, never bad. */
	const char *good = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:9127\r\nUser-Agent: t\r\n\r\n";
	for (size_t n = 0; n < strlen(good); n++)
		assert_int_equal(lp_http_parse_request(good, n, 8192, &r), LP_HTTP_INCOMPLETE);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expo_escaping),
		cmocka_unit_test(test_expo_grows),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_close_reasons),
		cmocka_unit_test(test_login_reasons),
		cmocka_unit_test(test_http_good),
		cmocka_unit_test(test_http_bad),
		cmocka_unit_test(test_http_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
