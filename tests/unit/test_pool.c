/*
 * Unit tests of the pooling core's state bookkeeping: every client and server
 * state is exactly one list (SHOW POOLS counts are list lengths), tracked
 * parameters, and when a server may be handed to another client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pool/hosts.h"
#include "pool/instance.h"
#include "pool/link.h"
#include "pool/params.h"

struct fixture {
	struct lp_instance inst;
	struct lp_db db;
	struct lp_user user;
	struct lp_pool pool;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	lp_list_init(&f->inst.login_clients);
	lp_list_init(&f->inst.admin_clients);
	lp_list_init(&f->inst.justfree_clients);
	lp_list_init(&f->inst.justfree_servers);
	struct lp_list *lists[] = { &f->pool.active_clients, &f->pool.waiting_clients,
				    &f->pool.idle_servers, &f->pool.used_servers,
				    &f->pool.active_servers, &f->pool.login_servers };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		lp_list_init(lists[i]);
	f->pool.inst = &f->inst;
	f->pool.db = &f->db;
	f->pool.user = &f->user;
}

static void client_init(struct lp_client *c, struct fixture *f)
{
	memset(c, 0, sizeof(*c));
	lp_list_node_init(&c->node);
	c->inst = &f->inst;
	c->pool = &f->pool;
}

static void server_init(struct lp_server *s, struct fixture *f)
{
	memset(s, 0, sizeof(*s));
	lp_list_node_init(&s->node);
	s->pool = &f->pool;
	s->io.fd = -1;
	lp_track_init(&s->trk, s->trk_inline, LP_TRACK_INLINE);
}

static void test_client_states_are_lists(void **state)
{
	(void)state;
	struct fixture f;
	struct lp_client a, b;
	fixture_init(&f);
	client_init(&a, &f);
	client_init(&b, &f);

	lp_client_set_state(&a, LP_CL_LOGIN);
	lp_client_set_state(&b, LP_CL_LOGIN);
	assert_int_equal(f.inst.login_clients.count, 2);
	lp_client_set_state(&a, LP_CL_ACTIVE);
	lp_client_set_state(&b, LP_CL_WAITING);
	assert_int_equal(f.inst.login_clients.count, 0);
	assert_int_equal(f.pool.active_clients.count, 1);
	assert_int_equal(f.pool.waiting_clients.count, 1);
	/* FIFO: the first to wait is first in the list */
	lp_client_set_state(&a, LP_CL_WAITING);
	assert_ptr_equal(lp_list_first(&f.pool.waiting_clients), &b.node);
	lp_client_set_state(&b, LP_CL_JUSTFREE);
	lp_client_set_state(&a, LP_CL_JUSTFREE);
	assert_int_equal(f.pool.waiting_clients.count, 0);
	assert_int_equal(f.inst.justfree_clients.count, 2);
}

static void test_admin_clients_kept_apart(void **state)
{
	(void)state;
	struct fixture f;
	struct lp_client a;
	fixture_init(&f);
	client_init(&a, &f);
	a.admin = true;
	lp_client_set_state(&a, LP_CL_ACTIVE);
	assert_int_equal(f.inst.admin_clients.count, 1);
	assert_int_equal(f.pool.active_clients.count, 0);
}

static void test_server_states_are_lists(void **state)
{
	(void)state;
	struct fixture f;
	struct lp_server s;
	fixture_init(&f);
	server_init(&s, &f);
	static const struct {
		enum lp_server_state st;
		size_t off;
	} steps[] = {
		{ LP_SV_LOGIN, offsetof(struct lp_pool, login_servers) },
		{ LP_SV_IDLE, offsetof(struct lp_pool, idle_servers) },
		{ LP_SV_ACTIVE, offsetof(struct lp_pool, active_servers) },
		{ LP_SV_USED, offsetof(struct lp_pool, used_servers) },
		{ LP_SV_INTERNAL, offsetof(struct lp_pool, used_servers) },
		{ LP_SV_IDLE, offsetof(struct lp_pool, idle_servers) },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		lp_server_set_state(&s, steps[i].st);
		const struct lp_list *l = (const struct lp_list *)((const char *)&f.pool + steps[i].off);
		assert_int_equal(l->count, 1);
		unsigned total = f.pool.login_servers.count + f.pool.idle_servers.count +
				 f.pool.active_servers.count + f.pool.used_servers.count;
		assert_int_equal(total, 1);
	}
	lp_server_set_state(&s, LP_SV_JUSTFREE);
	assert_int_equal(f.inst.justfree_servers.count, 1);
}

static void test_owes_response(void **state)
{
	(void)state;
	struct fixture f;
	struct lp_server s;
	fixture_init(&f);
	server_init(&s, &f);
	assert_false(lp_server_owes_response(&s));
	lp_track_frontend(&s.trk, 'Q', 0, LP_TRK_FORWARD, 0);  /* a query's answer is pending */
	assert_true(lp_server_owes_response(&s));
	lp_track_backend(&s.trk, 'Z', 'I', NULL);
	assert_false(lp_server_owes_response(&s));
	lp_track_frontend(&s.trk, 'P', 0, LP_TRK_FORWARD, 0);  /* Parse sent, Sync not yet */
	lp_track_backend(&s.trk, '1', 0, NULL);
	assert_true(lp_server_owes_response(&s));
	lp_track_frontend(&s.trk, 'S', 0, LP_TRK_FORWARD, 0);
	lp_track_backend(&s.trk, 'Z', 'I', NULL);
	assert_false(lp_server_owes_response(&s));
	lp_track_frontend(&s.trk, 'Q', 0, LP_TRK_FORWARD, 0);  /* COPY FROM STDIN */
	lp_track_backend(&s.trk, 'G', 0, NULL);
	lp_track_frontend(&s.trk, 'c', 0, LP_TRK_FORWARD, 0);
	lp_track_backend(&s.trk, 'C', 0, NULL);
	assert_true(lp_server_owes_response(&s));
	lp_track_backend(&s.trk, 'Z', 'I', NULL);
	assert_false(lp_server_owes_response(&s));
	s.io.pkt_remain = 10;           /* half a message forwarded */
	assert_true(lp_server_owes_response(&s));
	s.io.pkt_remain = 0;
	s.io.end = 3;                   /* unread server bytes buffered */
	assert_true(lp_server_owes_response(&s));
}

static void test_params(void **state)
{
	(void)state;
	struct lp_params p, q;
	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	lp_params_set(&p, "TimeZone", "UTC");
	lp_params_set(&p, "application_name", "a");
	lp_params_set(&p, "TimeZone", "Europe/Paris");   /* overwrite, not append */
	assert_int_equal(p.n, 2);
	assert_string_equal(lp_params_get(&p, "TimeZone"), "Europe/Paris");
	assert_null(lp_params_get(&p, "DateStyle"));
	lp_params_copy(&q, &p);
	assert_string_equal(lp_params_get(&q, "application_name"), "a");
	/* more names than slots: later ones are dropped, never overflow */
	for (int i = 0; i < LP_MAX_TRACKED + 5; i++) {
		char name[16];
		name[0] = 'p';
		name[1] = (char)('A' + i % 26);
		name[2] = (char)('A' + i / 26);
		name[3] = '\0';
		lp_params_set(&p, name, "v");
	}
	assert_true(p.n <= LP_MAX_TRACKED);
	lp_params_clear(&p);
	lp_params_clear(&q);
	assert_int_equal(p.n, 0);
}

static void test_tracked(void **state)
{
	(void)state;
	struct lp_instance inst;
	memset(&inst, 0, sizeof(inst));
	assert_true(lp_param_is_tracked(&inst, "client_encoding"));
	assert_true(lp_param_is_tracked(&inst, "timezone"));      /* case-insensitive */
	assert_false(lp_param_is_tracked(&inst, "search_path"));
	char extra[] = "search_path, IntervalStyle";
	inst.cfg.s.track_extra_parameters = extra;
	assert_true(lp_param_is_tracked(&inst, "search_path"));
	assert_true(lp_param_is_tracked(&inst, "intervalstyle"));
	assert_false(lp_param_is_tracked(&inst, "search"));       /* whole names only */
}

/* A host list's bookkeeping (hosts.c): which host is next, which are
 * passed over, and what target_session_attrs accepts. */
static void params_role(struct lp_params *p, const char *hot, const char *ro)
{
	lp_params_clear(p);
	if (hot)
		lp_params_set(p, "in_hot_standby", hot);
	lp_params_set(p, "default_transaction_read_only", ro);
}

static void test_hosts_roles(void **state)
{
	(void)state;
	bool ro;
	struct lp_params p = { 0 };
	params_role(&p, "off", "off");
	assert_int_equal(lp_hosts_role_of(&p, &ro), LP_HOST_ROLE_PRIMARY);
	assert_false(ro);
	params_role(&p, "on", "off");
	assert_int_equal(lp_hosts_role_of(&p, &ro), LP_HOST_ROLE_STANDBY);
	params_role(&p, NULL, "on");
	assert_int_equal(lp_hosts_role_of(&p, &ro), LP_HOST_ROLE_UNKNOWN);
	assert_true(ro);
	lp_params_clear(&p);

	/* libpq's meanings */
	const enum lp_host_role P = LP_HOST_ROLE_PRIMARY, S = LP_HOST_ROLE_STANDBY;
	assert_true(lp_hosts_role_fits(LP_TSA_READ_WRITE, P, false));
	assert_false(lp_hosts_role_fits(LP_TSA_READ_WRITE, P, true));
	assert_false(lp_hosts_role_fits(LP_TSA_READ_WRITE, S, true));
	assert_true(lp_hosts_role_fits(LP_TSA_READ_ONLY, P, true));
	assert_true(lp_hosts_role_fits(LP_TSA_READ_ONLY, S, false));
	assert_false(lp_hosts_role_fits(LP_TSA_READ_ONLY, P, false));
	assert_true(lp_hosts_role_fits(LP_TSA_PRIMARY, P, true));
	assert_false(lp_hosts_role_fits(LP_TSA_PRIMARY, S, false));
	assert_true(lp_hosts_role_fits(LP_TSA_STANDBY, S, false));
	assert_false(lp_hosts_role_fits(LP_TSA_PREFER_STANDBY, P, false));
	assert_true(lp_hosts_role_fits(LP_TSA_ANY, LP_HOST_ROLE_UNKNOWN, false));
	assert_false(lp_hosts_role_fits(LP_TSA_STANDBY, LP_HOST_ROLE_UNKNOWN, false));
}

static void test_hosts_pick_and_skip(void **state)
{
	(void)state;
	struct lp_db db;
	memset(&db, 0, sizeof(db));
	char hosts[] = "a,b,c";
	db.conf.host = hosts;
	bool any;
	const int64_t retry = 1000;
	/* round-robin */
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 0);
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 1);
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 2);
	assert_false(any);
	/* b unreachable: passed over until the retry */
	assert_true(lp_hosts_unreachable(&db, 1, "refused", 10, retry));
	assert_int_equal(lp_hosts_pick(&db, 20, &any), 0);
	assert_int_equal(lp_hosts_pick(&db, 20, &any), 2);
	assert_int_equal(lp_hosts_pick(&db, 20, &any), 0);
	assert_string_equal(lp_hosts_state(&db, 1)->last_error, "refused");
	assert_int_equal(lp_hosts_pick(&db, 10 + retry, &any), 1);
	char why[200];
	assert_int_equal(lp_hosts_logged_in(&db, 1, LP_HOST_ROLE_PRIMARY, false, false, 1500, retry, why, sizeof(why)),
			 LP_HOSTS_USE);
	/* every host failing in a row since one last worked fails the
	 * login (no spinning) */
	assert_true(lp_hosts_unreachable(&db, 0, "x", 2000, retry));
	assert_true(lp_hosts_unreachable(&db, 2, "x", 2000, retry));
	assert_false(lp_hosts_unreachable(&db, 1, "x", 2000, retry));
	/* and the row starts again */
	assert_true(lp_hosts_unreachable(&db, 1, "x", 4000, retry));
	lp_hosts_reset(&db);
}

static void test_hosts_target_session_attrs(void **state)
{
	(void)state;
	struct lp_db db;
	memset(&db, 0, sizeof(db));
	char hosts[] = "standby,primary";
	db.conf.host = hosts;
	db.conf.target_session_attrs = LP_TSA_READ_WRITE;
	char why[200];
	bool any;
	const int64_t retry = 1000;
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 0);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_STANDBY, true, any, 0, retry, why, sizeof(why)),
			 LP_HOSTS_SKIP);
	assert_string_equal(why, "target_session_attrs=read-write: the host is a standby");
	assert_int_equal(lp_hosts_pick(&db, 1, &any), 1);
	assert_int_equal(lp_hosts_logged_in(&db, 1, LP_HOST_ROLE_PRIMARY, false, any, 1, retry, why, sizeof(why)),
			 LP_HOSTS_USE);
	/* the standby is passed over while it is known to be one */
	assert_int_equal(lp_hosts_pick(&db, 2, &any), 1);
	assert_int_equal(lp_hosts_pick(&db, 2, &any), 1);
	/* failover: the primary goes away; the host last seen a standby is
	 * tried at once, and suits once promoted */
	assert_true(lp_hosts_unreachable(&db, 1, "refused", 3, retry));
	assert_int_equal(lp_hosts_pick(&db, 4, &any), 0);
	assert_false(any);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_STANDBY, true, any, 4, retry, why, sizeof(why)),
			 LP_HOSTS_NONE);       /* not yet promoted: every host failed */
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_PRIMARY, false, false, 5, retry, why, sizeof(why)),
			 LP_HOSTS_USE);
	/* a live link told of a promotion under a standby-only database */
	db.conf.target_session_attrs = LP_TSA_STANDBY;
	assert_false(lp_hosts_role_changed(&db, 0, false, 6, retry));
	db.conf.target_session_attrs = LP_TSA_PREFER_STANDBY;
	assert_true(lp_hosts_role_changed(&db, 0, false, 6, retry));
	lp_hosts_reset(&db);

	/* prefer-standby with no standby reachable takes the primary */
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 0);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_PRIMARY, false, any, 0, retry, why, sizeof(why)),
			 LP_HOSTS_SKIP);
	assert_true(lp_hosts_unreachable(&db, 1, "refused", 1, retry));
	assert_int_equal(lp_hosts_pick(&db, 2, &any), 0);
	assert_true(any);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_PRIMARY, false, any, 2, retry, why, sizeof(why)),
			 LP_HOSTS_USE);
	lp_hosts_reset(&db);

	/* max_replica_lag: a standby behind is passed over for the primary */
	char two[] = "primary,standby";
	db.conf.host = two;
	db.conf.max_replica_lag = 2000000;
	assert_false(lp_hosts_lag_wanted(&db, LP_HOST_ROLE_PRIMARY));
	assert_true(lp_hosts_lag_wanted(&db, LP_HOST_ROLE_STANDBY));
	assert_int_equal(lp_hosts_pick(&db, 0, &any), 0);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_PRIMARY, false, any, 0, retry, why, sizeof(why)),
			 LP_HOSTS_SKIP);
	assert_int_equal(lp_hosts_pick(&db, 1, &any), 1);
	assert_int_equal(lp_hosts_logged_in(&db, 1, LP_HOST_ROLE_STANDBY, true, any, 1, retry, why, sizeof(why)),
			 LP_HOSTS_USE);
	assert_true(lp_hosts_lag_due(&db, 1, 2000000));
	assert_false(lp_hosts_lag_due(&db, 1, 2500000));      /* once a second */
	assert_false(lp_hosts_lag_measured(&db, 1, 3000000, 2500000, retry));
	assert_non_null(strstr(lp_hosts_state(&db, 1)->last_error, "replay lag 3.0 s"));
	/* the primary: once asked again (its own pass-over ended), then
	 * taken for want of a standby */
	assert_int_equal(lp_hosts_pick(&db, 2500001, &any), 0);
	assert_false(any);
	assert_int_equal(lp_hosts_logged_in(&db, 0, LP_HOST_ROLE_PRIMARY, false, any, 2500001, retry, why, sizeof(why)),
			 LP_HOSTS_SKIP);
	assert_int_equal(lp_hosts_pick(&db, 2500002, &any), 0);
	assert_true(any);
	assert_true(lp_hosts_lag_measured(&db, 1, 0, 2600000, retry));
	lp_hosts_reset(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_states_are_lists),
		cmocka_unit_test(test_admin_clients_kept_apart),
		cmocka_unit_test(test_server_states_are_lists),
		cmocka_unit_test(test_owes_response),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_tracked),
		cmocka_unit_test(test_hosts_roles),
		cmocka_unit_test(test_hosts_pick_and_skip),
		cmocka_unit_test(test_hosts_target_session_attrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
