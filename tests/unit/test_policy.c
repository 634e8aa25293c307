/* test_policy.c - the policy set of a config: rates, caps by class, the
 * most specific quiet hours, and every problem with its line */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"

static void test_rate_parse(void **state)
{
	static const struct {
		const char *s;
		double burst, per_sec, want_burst;
		const char *err;
	} cases[] = {
	    {"50/s", 0, 50, 50, NULL},
	    {"50/s", 5, 50, 5, NULL},
	    {"600/m", 0, 10, 10, NULL},
	    {"600/min", 0, 10, 10, NULL},
	    {"1800/h", 0, 0.5, 1, NULL},
	    {"8640/d", 0, 0.1, 1, NULL},
	    {"2.5/s", 0, 2.5, 3, NULL},
	    {"0/s", 0, 0, 0, "rate \"0/s\" must be more than 0"},
	    {"-1/s", 0, 0, 0, "rate \"-1/s\" must be more than 0"},
	    {"50", 0, 0, 0, "bad rate \"50\" (use 50/s, 600/m, 1000/h or 5000/d)"},
	    {"50/w", 0, 0, 0, "bad rate \"50/w\" (use 50/s, 600/m, 1000/h or 5000/d)"},
	    {"fast/s", 0, 0, 0, "bad rate \"fast/s\" (use 50/s, 600/m, 1000/h or 5000/d)"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rate_rule r;
		struct err e = {{0}};
		int rc = rate_parse(cases[i].s, cases[i].burst, &r, &e);
		if (cases[i].err) {
			assert_int_equal(rc, -1);
			assert_string_equal(e.msg, cases[i].err);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", cases[i].s, e.msg);
		assert_true(r.per_sec > cases[i].per_sec - 1e-9 && r.per_sec < cases[i].per_sec + 1e-9);
		assert_true(r.burst == cases[i].want_burst);
		assert_string_equal(r.text, cases[i].s);
	}
}

static const char yaml[] =
    "store: x.db\n"
    "policies:\n"
    "  quiet_hours: \"21:00-09:00\"\n"
    "  caps:\n"
    "    marketing: {max: 2, per: 7d}\n"
    "    all: {min_gap: 12h}\n"
    "transports:\n"
    "  email: {kind: outbox, channel: email, quiet_hours: \"22:00-08:00\", rate: 10/s,\n"
    "          domain_rate: {qq.com: 1/s, \"*\": 5/s}}\n"
    "  sms: {kind: outbox, channel: sms}\n"
    "campaigns:\n"
    "  a:\n"
    "    quiet_hours: \"20:00-10:00\"\n"
    "    trigger: {event: purchase}\n"
    "    steps: [{after: 0h, channels: [sms], template: t}]\n"
    "  b:\n"
    "    trigger: {event: purchase}\n"
    "    steps: [{after: 0h, channels: [sms], template: t}]\n";

static void test_set(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load_mem("o.yaml", yaml, sizeof(yaml) - 1, &d);
	assert_non_null(cfg);
	struct policy *p = policy_create(cfg, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("%s\n", d.msgs[i]);
	assert_non_null(p);
	assert_int_equal(d.errors, 0);
	const char *level;
	char desc[64];
	/* transport email (0) wins over campaign a (0) */
	quiet_describe(policy_quiet_for(p, 0, 0, &level), desc, sizeof(desc));
	assert_string_equal(desc, "22:00-08:00");
	assert_string_equal(level, "transport");
	/* sms (1) has none: campaign a's */
	quiet_describe(policy_quiet_for(p, 0, 1, &level), desc, sizeof(desc));
	assert_string_equal(desc, "20:00-10:00");
	assert_string_equal(level, "campaign");
	/* campaign b through sms: the global one */
	quiet_describe(policy_quiet_for(p, 1, 1, &level), desc, sizeof(desc));
	assert_string_equal(desc, "21:00-09:00");
	assert_string_equal(level, "policies");
	const struct cap_rule *c[4];
	assert_int_equal(policy_caps(p, 1, c, 4), 2); /* marketing: its cap and all */
	assert_int_equal(policy_caps(p, 0, c, 4), 1); /* transactional: all only */
	assert_string_equal(c[0]->name, "all");
	assert_true(c[0]->min_gap == 12 * 3600);
	assert_non_null(policy_rate(p, 0));
	assert_null(policy_rate(p, 1));
	assert_true(policy_domain_rate(p, 0, "QQ.com")->per_sec == 1);
	assert_true(policy_domain_rate(p, 0, "example.com")->per_sec == 5);
	assert_null(policy_domain_rate(p, 1, "qq.com"));
	policy_free(p);
	config_free(cfg);
	diag_release(&d);
}

static void test_errors(void **state)
{
	static const char bad[] = "store: x.db\n"
				  "policies:\n"
				  "  quiet_hour: \"21:00-09:00\"\n"
				  "  caps:\n"
				  "    all: {max: 3}\n"
				  "    marketing: {per: 7d, max: 2, gap: 1h}\n"
				  "transports:\n"
				  "  sms: {kind: outbox, channel: sms, burst: 5, domain_rate: 1/s}\n";
	(void)state;
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load_mem("o.yaml", bad, sizeof(bad) - 1, &d);
	assert_non_null(cfg);
	assert_null(policy_create(cfg, &d));
	const char *want[] = {
	    "o.yaml:3: unknown key \"quiet_hour\" in policies (use quiet_hours, quiet_days, caps)",
	    "o.yaml:5: cap all: max and per go together",
	    "o.yaml:6: cap marketing: unknown key \"gap\" (use max, per, min_gap)",
	    "o.yaml:8: transport \"sms\": burst needs a rate",
	    "o.yaml:8: transport \"sms\": domain_rate is for email transports",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int found = 0;
		for (size_t k = 0; k < d.n; k++)
			found |= strcmp(d.msgs[k], want[i]) == 0;
		if (!found) {
			for (size_t k = 0; k < d.n; k++)
				printf("got: %s\n", d.msgs[k]);
			fail_msg("missing: %s", want[i]);
		}
	}
	assert_int_equal(d.errors, 5);
	config_free(cfg);
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_parse),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
