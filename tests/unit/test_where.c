/* test_where.c - event trigger filters (where.h) and the campaign keys of
 * issue 6 that config.c validates with their lines: trigger `where`
 * operators and `survey: nps | csat` on a campaign or a step */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "where.h"

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad JSON in the test: %s: %s", text, je.text);
	return v;
}

static void test_match(void **state)
{
	static const struct {
		const char *where, *data;
		int want;
	} cases[] = {
	    /* plain values: equality, as before */
	    {"{\"score\": 3}", "{\"score\": 3}", 1},
	    {"{\"score\": 3}", "{\"score\": 3.0}", 1},
	    {"{\"score\": 3}", "{\"score\": \"3\"}", 0},
	    {"{\"score\": 3}", "{}", 0},
	    {"{\"tier\": \"vip\", \"n\": 1}", "{\"tier\": \"vip\", \"n\": 1}", 1},
	    {"{\"tier\": \"vip\", \"n\": 1}", "{\"tier\": \"vip\", \"n\": 2}", 0},
	    {"{\"tags\": [1, 2]}", "{\"tags\": [1, 2]}", 1},
	    {"{\"ok\": true}", "{\"ok\": false}", 0},
	    {"{}", "{\"x\": 1}", 1},
	    /* lte: the low scores of a survey */
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": 0}", 1},
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": 6}", 1},
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": 6.5}", 0},
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": 7}", 0},
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": \"5\"}", 0},
	    {"{\"score\": {\"lte\": 6}}", "{\"score\": null}", 0},
	    {"{\"score\": {\"lte\": 6}}", "{}", 0},
	    {"{\"score\": {\"lt\": 6}}", "{\"score\": 6}", 0},
	    {"{\"score\": {\"lt\": 6}}", "{\"score\": 5.99}", 1},
	    {"{\"score\": {\"gt\": 8}}", "{\"score\": 9}", 1},
	    {"{\"score\": {\"gt\": 8}}", "{\"score\": 8}", 0},
	    {"{\"score\": {\"gte\": 9}}", "{\"score\": 9}", 1},
	    {"{\"score\": {\"gte\": 9}}", "{\"score\": 8}", 0},
	    /* a range: every operator must hold */
	    {"{\"score\": {\"gte\": 7, \"lte\": 8}}", "{\"score\": 7}", 1},
	    {"{\"score\": {\"gte\": 7, \"lte\": 8}}", "{\"score\": 9}", 0},
	    {"{\"score\": {\"gte\": 7, \"lte\": 8}}", "{\"score\": 6}", 0},
	    /* strings by byte order: dates in one zone */
	    {"{\"day\": {\"gte\": \"2026-03-01\"}}", "{\"day\": \"2026-03-02\"}", 1},
	    {"{\"day\": {\"gte\": \"2026-03-01\"}}", "{\"day\": \"2026-02-28\"}", 0},
	    {"{\"day\": {\"gte\": \"2026-03-01\"}}", "{\"day\": 20260302}", 0},
	    /* eq and ne; ne holds for a missing field */
	    {"{\"scale\": {\"eq\": \"csat\"}}", "{\"scale\": \"csat\"}", 1},
	    {"{\"scale\": {\"eq\": \"csat\"}}", "{}", 0},
	    {"{\"scale\": {\"ne\": \"csat\"}}", "{\"scale\": \"csat\"}", 0},
	    {"{\"scale\": {\"ne\": \"csat\"}}", "{\"scale\": \"nps\"}", 1},
	    {"{\"scale\": {\"ne\": \"csat\"}}", "{}", 1},
	    {"{\"n\": {\"ne\": 2}}", "{\"n\": 2.0}", 0},
	    {"{\"addr\": {\"eq\": {\"city\": \"x\"}}}", "{\"addr\": {\"city\": \"x\"}}", 1},
	    /* in */
	    {"{\"channel\": {\"in\": [\"sms\", \"chat\"]}}", "{\"channel\": \"sms\"}", 1},
	    {"{\"channel\": {\"in\": [\"sms\", \"chat\"]}}", "{\"channel\": \"email\"}", 0},
	    {"{\"channel\": {\"in\": [\"sms\", \"chat\"]}}", "{}", 0},
	    {"{\"score\": {\"in\": [0, 1, 2]}}", "{\"score\": 1.0}", 1},
	    /* several fields */
	    {"{\"score\": {\"lte\": 6}, \"scale\": {\"ne\": \"csat\"}}", "{\"score\": 3}", 1},
	    {"{\"score\": {\"lte\": 6}, \"scale\": {\"ne\": \"csat\"}}",
	     "{\"score\": 3, \"scale\": \"csat\"}", 0},
	    /* an operator config.c would refuse never holds */
	    {"{\"score\": {\"le\": 6}}", "{\"score\": 3}", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *w = js(cases[i].where), *d = js(cases[i].data);
		int got = where_matches(w, d);
		if (got != cases[i].want)
			fail_msg("case %zu: where %s on %s: %d, want %d", i, cases[i].where,
				 cases[i].data, got, cases[i].want);
		json_decref(w);
		json_decref(d);
	}
	/* no filter, no data */
	json_t *w = js("{\"score\": {\"ne\": 1}}");
	assert_int_equal(where_matches(NULL, NULL), 1);
	assert_int_equal(where_matches(w, NULL), 1);
	json_decref(w);
	w = js("{\"score\": 1}");
	assert_int_equal(where_matches(w, NULL), 0);
	json_decref(w);
}

static void test_ops(void **state)
{
	(void)state;
	assert_int_equal(where_op_parse("eq"), WHERE_EQ);
	assert_int_equal(where_op_parse("lte"), WHERE_LTE);
	assert_int_equal(where_op_parse("in"), WHERE_IN);
	assert_int_equal(where_op_parse("le"), -1);
	assert_int_equal(where_op_parse("LTE"), -1);
	assert_int_equal(where_op_parse(""), -1);
}

/* ---- config ---- */

static struct config *load(const char *yaml, struct diag *d)
{
	diag_init(d);
	return config_load_mem("t.yaml", yaml, strlen(yaml), d);
}

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		print_message("  got: %s\n", d->msgs[i]);
}

/* lines 1-8; a case's own lines start at 9 */
#define BASE                                                                                       \
	"transports:\n"                                                                            \
	"  mail: {kind: smtp}\n"                                                                   \
	"  team: {kind: webhook, flavor: generic, url: \"http://127.0.0.1:1/h\"}\n"                \
	"campaigns:\n"                                                                             \
	"  c:\n"                                                                                   \
	"    steps:\n"                                                                             \
	"      - {channels: [mail], template: t}\n"                                                \
	"    trigger:\n"

static void test_config_where(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
	    {BASE "      event: survey_response\n"
		  "      where: {score: {lte: 6}}\n",
	     NULL},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        score: {gte: 0, lte: 6}\n"
		  "        scale: {ne: csat}\n"
		  "        channel: {in: [email, sms]}\n"
		  "        kind: survey\n",
	     NULL},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        score:\n"
		  "          lte: 6\n"
		  "          le: 3\n",
	     "t.yaml:13: campaign \"c\": trigger where \"score\": unknown operator \"le\" (use eq, "
	     "ne, lt, lte, gt, gte, in; to match a mapping, {eq: {...}})"},
	    {BASE "      event: survey_response\n"
		  "      where: {score: {lte: [6]}}\n",
	     "t.yaml:10: campaign \"c\": trigger where \"score\": lte needs a number or a string, "
	     "not \"[6]\""},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        score:\n"
		  "          gt: true\n",
	     "t.yaml:12: campaign \"c\": trigger where \"score\": gt needs a number or a string, "
	     "not \"true\""},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        channel: {in: sms}\n",
	     "t.yaml:11: campaign \"c\": trigger where \"channel\": in needs a list of values like "
	     "[a, b], not \"sms\""},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        channel: {in: []}\n",
	     "t.yaml:11: campaign \"c\": trigger where \"channel\": in needs a list of values like "
	     "[a, b], not \"[]\""},
	    {BASE "      event: survey_response\n"
		  "      where:\n"
		  "        score: {}\n",
	     "t.yaml:11: campaign \"c\": trigger where \"score\": an empty mapping (give operators "
	     "like {lte: 6})"},
	    {BASE "      event: survey_response\n"
		  "      where: [score]\n",
	     "t.yaml:10: campaign \"c\": trigger where must be a mapping of data fields"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag d;
		struct config *c = load(cases[i].yaml, &d);
		const char *want = cases[i].want;
		if (!c || d.n != (want ? 1u : 0u) || (want && strcmp(d.msgs[0], want) != 0)) {
			print_message("case %zu:\n%s\nwant: %s\n", i, cases[i].yaml,
				      want ? want : "(nothing)");
			print_diag(&d);
			fail();
		}
		/* a refused filter is not kept: nothing could match by accident */
		if (want)
			assert_null(c->campaigns[0].trigger_where);
		else
			assert_non_null(c->campaigns[0].trigger_where);
		config_free(c);
		diag_release(&d);
	}
}

static void test_config_survey(void **state)
{
	static const char yaml[] =
	    "transports:\n"
	    "  mail: {kind: smtp}\n"
	    "campaigns:\n"
	    "  checkin:\n"
	    "    trigger: {event: purchase}\n"
	    "    survey: csat\n"
	    "    steps:\n"
	    "      - {after: 1d, channels: [mail], template: t}\n"
	    "      - {after: 30d, channels: [mail], template: t, survey: nps}\n"
	    "  plain:\n"
	    "    trigger: {event: purchase}\n"
	    "    steps:\n"
	    "      - {after: 1d, channels: [mail], template: t}\n"
	    "      - {after: 2d, channels: [mail], template: t, survey: csat}\n";
	struct diag d;
	struct config *c = load(yaml, &d);
	(void)state;
	assert_non_null(c);
	if (d.n) {
		print_diag(&d);
		fail();
	}
	assert_int_equal(config_survey(c, "checkin", 0), SURVEY_CSAT);
	assert_int_equal(config_survey(c, "checkin", 1), SURVEY_NPS);
	assert_int_equal(config_survey(c, "plain", 0), SURVEY_NONE);
	assert_int_equal(config_survey(c, "plain", 1), SURVEY_CSAT);
	assert_int_equal(config_survey(c, "plain", 7), SURVEY_NONE);
	assert_int_equal(config_survey(c, "nope", 0), SURVEY_NONE);
	assert_string_equal(config_survey_name(SURVEY_NPS), "nps");
	assert_string_equal(config_survey_name(SURVEY_CSAT), "csat");
	assert_null(config_survey_name(SURVEY_NONE));
	config_free(c);
	diag_release(&d);

	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {"transports:\n"
	     "  mail: {kind: smtp}\n"
	     "campaigns:\n"
	     "  c:\n"
	     "    trigger: {event: purchase}\n"
	     "    survey: ces\n"
	     "    steps:\n"
	     "      - {channels: [mail], template: t}\n",
	     "t.yaml:6: campaign \"c\": unknown survey \"ces\" (use nps: 0 to 10, or csat: 1 to "
	     "5)"},
	    {"transports:\n"
	     "  mail: {kind: smtp}\n"
	     "campaigns:\n"
	     "  c:\n"
	     "    trigger: {event: purchase}\n"
	     "    steps:\n"
	     "      - {channels: [mail], template: t}\n"
	     "      - channels: [mail]\n"
	     "        template: t\n"
	     "        survey: [nps]\n",
	     "t.yaml:10: campaign \"c\" step 2: survey must be a string"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load(bad[i].yaml, &d);
		if (!c || d.n != 1 || strcmp(d.msgs[0], bad[i].want) != 0) {
			print_message("bad case %zu: want %s\n", i, bad[i].want);
			print_diag(&d);
			fail();
		}
		config_free(c);
		diag_release(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_ops),
	    cmocka_unit_test(test_config_where),
	    cmocka_unit_test(test_config_survey),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
