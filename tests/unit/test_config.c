/* test_config.c - config_load: the INTERFACE.md example, every field, a table
 * of broken configs with their exact messages, ${ENV} expansion, JSON
 * pointer lines, durations and shares, and random byte flips of every
 * fixture (run under -fsanitize=address,undefined). Run from the project
 * root: fixtures are the .yaml files in tests/data/config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "diag.h"

#define DATA "tests/data/config/"
#ifndef FUZZ_ROUNDS
#define FUZZ_ROUNDS 400 /* per fixture; -DFUZZ_ROUNDS=100000 for a long run */
#endif
#ifndef FUZZ_SEED
#define FUZZ_SEED 0x9e3779b97f4a7c15ULL
#endif

/* load - config from inline YAML, named t.yaml in messages */
static struct config *load(const char *yaml, struct diag *d)
{
	diag_init(d);
	return config_load_mem("t.yaml", yaml, strlen(yaml), d);
}

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		print_message("  diag: %s\n", d->msgs[i]);
}

static const json_t *at(const json_t *doc, const char *ptr)
{
	/* a tiny JSON pointer walk for the assertions (no escapes needed) */
	const json_t *v = doc;
	while (v && *ptr == '/') {
		const char *end = strchr(ptr + 1, '/');
		size_t n = end ? (size_t)(end - ptr - 1) : strlen(ptr + 1);
		char tok[128];
		snprintf(tok, sizeof(tok), "%.*s", (int)n, ptr + 1);
		if (json_is_array(v))
			v = json_array_get(v, strtoul(tok, NULL, 10));
		else
			v = json_object_get(v, tok);
		ptr += n + 1;
	}
	return v;
}

/* ---- the INTERFACE.md example, verbatim ---- */

static void test_example(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	setenv("SMS_TOKEN", "sms-tok", 1);
	setenv("DINGTALK_TOKEN", "dt-tok", 1);
	struct config *c = config_load(DATA "example.yaml", &d);
	print_diag(&d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->path, DATA "example.yaml");
	assert_string_equal(c->store, "var/outreach.db");
	assert_string_equal(c->templates, "templates");
	assert_string_equal(c->timezone, "Asia/Shanghai");
	assert_string_equal(c->tracking_base_url, "http://127.0.0.1:8080");
	assert_string_equal(c->tracking_secret_env, "OUTREACH_SECRET");

	assert_int_equal(c->ntransports, 3);
	const struct transport_conf *t = config_transport(c, "email");
	assert_non_null(t);
	assert_ptr_equal(t, &c->transports[0]);
	assert_string_equal(t->kind, "smtp");
	assert_int_equal(t->channel, CHANNEL_EMAIL);
	assert_string_equal(t->to, "email");
	assert_string_equal(t->pointer, "/transports/email");
	assert_int_equal(t->line, 13);
	assert_int_equal(json_integer_value(json_object_get(t->opts, "port")), 2525);
	assert_string_equal(json_string_value(json_object_get(t->opts, "from")),
			    "Acme Care <care@example.com>");
	assert_ptr_equal(t->opts, at(c->doc, "/transports/email"));

	t = config_transport(c, "sms");
	assert_non_null(t);
	assert_string_equal(t->kind, "http");
	assert_int_equal(t->channel, CHANNEL_SMS);
	assert_string_equal(t->to, "phone");
	assert_int_equal(t->line, 22);
	assert_string_equal(json_string_value(at(t->opts, "/headers/Authorization")),
			    "Bearer sms-tok");
	assert_string_equal(json_string_value(json_object_get(t->opts, "body")),
			    "{\"to\": {{json phone}}, \"text\": {{json text}}}");
	assert_int_equal(config_line(c, "/transports/sms/rate"), 27);

	t = config_transport(c, "sales-dingtalk");
	assert_non_null(t);
	assert_string_equal(t->kind, "webhook");
	assert_int_equal(t->channel, CHANNEL_CHAT);
	assert_null(t->to);
	assert_string_equal(json_string_value(json_object_get(t->opts, "url")),
			    "https://oapi.dingtalk.com/robot/send?access_token=dt-tok");
	assert_null(config_transport(c, "fax"));

	assert_int_equal(c->nsegments, 3);
	assert_string_equal(c->segments[0].name, "vip");
	assert_string_equal(c->segments[1].name, "mid");
	assert_string_equal(c->segments[2].name, "churn_risk");
	assert_string_equal(c->segments[0].source, "spend_12m >= 100000");
	for (size_t i = 0; i < c->nsegments; i++)
		assert_non_null(c->segments[i].expr);
	assert_int_equal(config_segment(c, "churn_risk")->line, 36);
	assert_null(config_segment(c, "nope"));

	assert_int_equal(c->ncampaigns, 2);
	const struct campaign_conf *cc = config_campaign(c, "thank-you");
	assert_non_null(cc);
	assert_int_equal(cc->line, 38);
	assert_int_equal(cc->cls, CLASS_TRANSACTIONAL);
	assert_string_equal(cc->trigger_event, "purchase");
	assert_null(cc->trigger_segment);
	assert_null(cc->trigger_where);
	assert_int_equal(cc->trigger_every, 0);
	assert_null(cc->goal_event);
	assert_true(cc->holdout == 0);
	assert_int_equal(cc->nsteps, 2);
	assert_int_equal(cc->steps[0].index, 0);
	assert_int_equal(cc->steps[0].line, 42);
	assert_int_equal(cc->steps[0].after, 24 * 3600);
	assert_int_equal(cc->steps[0].nchannels, 2);
	assert_string_equal(cc->steps[0].channels[0], "sms");
	assert_string_equal(cc->steps[0].channels[1], "email");
	assert_string_equal(cc->steps[0].template, "thank-you");
	assert_int_equal(cc->steps[0].nvariants, 0);
	assert_int_equal(cc->steps[0].expire, 72 * 3600);
	assert_int_equal(cc->steps[0].nunless, 0);
	assert_int_equal(cc->steps[1].index, 1);
	assert_int_equal(cc->steps[1].after, 7 * 86400);
	assert_int_equal(cc->steps[1].expire, 0);
	assert_int_equal(cc->steps[1].nunless, 2);
	assert_string_equal(cc->steps[1].unless[0], "replied");
	assert_string_equal(cc->steps[1].unless[1], "survey_response");

	cc = config_campaign(c, "win-back");
	assert_non_null(cc);
	assert_int_equal(cc->cls, CLASS_MARKETING);
	assert_null(cc->trigger_event);
	assert_string_equal(cc->trigger_segment, "churn_risk");
	assert_string_equal(cc->goal_event, "purchase");
	assert_int_equal(cc->goal_within, 30 * 86400);
	assert_true(fabs(cc->holdout - 0.1) < 1e-12);
	assert_int_equal(cc->steps[0].after, 0);
	assert_string_equal(cc->steps[1].template, "win-back-followup");
	assert_null(config_campaign(c, "nope"));

	/* policies are only in doc, for the policy module to read */
	assert_string_equal(json_string_value(at(c->doc, "/policies/quiet_hours")), "21:00-09:00");
	assert_int_equal(json_integer_value(at(c->doc, "/policies/caps/marketing/max")), 2);
	assert_string_equal(json_string_value(at(c->doc, "/policies/caps/all/min_gap")), "12h");
	assert_int_equal(config_line(c, "/policies/caps/all/min_gap"), 11);
	config_free(c);
	diag_release(&d);
	unsetenv("SMS_TOKEN");
	unsetenv("DINGTALK_TOKEN");
}

/* without the secrets, the example still loads: two warnings, no error */
static void test_example_without_env(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	unsetenv("SMS_TOKEN");
	unsetenv("DINGTALK_TOKEN");
	struct config *c = config_load(DATA "example.yaml", &d);
	assert_non_null(c);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 2);
	assert_string_equal(d.msgs[0], DATA "example.yaml:25: warning: environment variable "
					    "SMS_TOKEN is not set");
	assert_string_equal(d.msgs[1], DATA "example.yaml:31: warning: environment variable "
					    "DINGTALK_TOKEN is not set");
	assert_string_equal(json_string_value(at(c->doc, "/transports/sms/headers/Authorization")),
			    "Bearer ");
	config_free(c);
	diag_release(&d);
}

/* ---- every field ---- */

static void test_full(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	setenv("FULL_SMS_KEY", "k3y", 1);
	struct config *c = config_load(DATA "full.yaml", &d);
	print_diag(&d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->store, "postgresql://outreach@127.0.0.1/outreach");
	assert_string_equal(c->templates, "tests/data/templates");
	assert_string_equal(c->timezone, "Europe/Berlin");
	assert_string_equal(c->tracking_base_url, "https://t.example.com");
	assert_string_equal(c->tracking_secret_env, "MY_SECRET");
	assert_true(json_is_true(json_object_get(c->doc, "encrypt")));
	assert_true(json_is_false(json_object_get(c->doc, "log_pii")));

	assert_int_equal(c->ntransports, 6);
	const struct transport_conf *t = config_transport(c, "mail-backup");
	assert_non_null(t);
	/* the merge key brings the anchor's keys, the explicit port wins */
	assert_string_equal(t->kind, "smtp");
	assert_int_equal(json_integer_value(json_object_get(t->opts, "port")), 2526);
	assert_string_equal(json_string_value(json_object_get(t->opts, "host")), "127.0.0.1");
	assert_int_equal(config_line(c, "/transports/mail-backup/port"), 21);
	assert_int_equal(config_line(c, "/transports/mail-backup/host"), 15);
	assert_null(json_object_get(t->opts, "<<"));

	t = config_transport(c, "text");
	assert_int_equal(t->channel, CHANNEL_SMS);
	assert_string_equal(t->to, "mobile");
	assert_string_equal(json_string_value(json_object_get(t->opts, "url")),
			    "https://sms.example.com/send?key=k3y&from=acme");
	t = config_transport(c, "team");
	assert_int_equal(t->channel, CHANNEL_CHAT);
	assert_null(t->to);
	t = config_transport(c, "person");
	assert_string_equal(t->to, "telegram_chat_id");
	t = config_transport(c, "files");
	assert_string_equal(t->kind, "outbox");
	assert_int_equal(t->channel, CHANNEL_EMAIL);
	assert_string_equal(t->to, "email");
	assert_string_equal(t->pointer, "/transports/files");
	assert_int_equal(t->line, 35);

	assert_int_equal(c->nsegments, 2);
	assert_string_equal(c->segments[1].name, "new-users");

	const struct campaign_conf *cc = config_campaign(c, "welcome");
	assert_int_equal(cc->cls, CLASS_MARKETING);
	assert_string_equal(cc->trigger_event, "signup");
	assert_non_null(cc->trigger_where);
	assert_string_equal(json_string_value(json_object_get(cc->trigger_where, "plan")), "pro");
	assert_int_equal(json_integer_value(json_object_get(cc->trigger_where, "seats")), 5);
	assert_int_equal(cc->nsteps, 2);
	const struct step_conf *s = &cc->steps[0];
	assert_int_equal(s->after, 0);
	assert_null(s->template);
	assert_int_equal(s->nvariants, 3);
	assert_string_equal(s->variants[0].template, "welcome-a");
	assert_true(fabs(s->variants[0].share - 0.5) < 1e-12);
	assert_string_equal(s->variants[1].template, "welcome-b");
	assert_true(fabs(s->variants[1].share - 0.3) < 1e-12);
	assert_true(fabs(s->variants[2].share - 0.2) < 1e-12);
	assert_int_equal(s->line, 48);
	s = &cc->steps[1];
	assert_int_equal(s->after, 36 * 3600);
	assert_int_equal(s->nchannels, 1);
	assert_string_equal(s->channels[0], "person");
	assert_string_equal(s->template, "welcome-chat");
	assert_int_equal(s->expire, 14 * 86400);
	assert_int_equal(s->nunless, 1);
	assert_string_equal(s->unless[0], "replied");
	assert_int_equal(s->line, 51);
	assert_int_equal(config_line(c, "/campaigns/welcome/steps/1/expire"), 54);

	cc = config_campaign(c, "weekly");
	assert_string_equal(cc->trigger_segment, "vip");
	assert_int_equal(cc->trigger_every, 7 * 86400);
	assert_string_equal(cc->goal_event, "purchase");
	assert_int_equal(cc->goal_within, 30 * 86400); /* the default */
	assert_true(fabs(cc->holdout - 0.25) < 1e-12);
	assert_int_equal(cc->steps[0].after, 30 * 60);
	assert_int_equal(cc->steps[0].nchannels, 3);
	assert_string_equal(cc->steps[0].channels[2], "mail-backup");
	assert_string_equal(cc->steps[0].unless[1], "unsubscribed");

	cc = config_campaign(c, "receipt");
	assert_int_equal(cc->cls, CLASS_TRANSACTIONAL);
	assert_string_equal(cc->goal_event, "review");
	assert_int_equal(cc->goal_within, 14 * 86400);
	assert_true(fabs(cc->holdout - 0.125) < 1e-12);
	assert_int_equal(cc->steps[0].nchannels, 1);
	assert_int_equal(config_line(c, "/campaigns/receipt/steps/0/channels/0"), 73);
	assert_int_equal(config_line(c, "/campaigns/receipt/steps/0"), 71);
	config_free(c);
	diag_release(&d);
	unsetenv("FULL_SMS_KEY");
}

/* an empty file is every default */
static void test_defaults(void **state)
{
	(void)state;
	struct diag d;
	struct config *c = load("# nothing yet\n", &d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->store, "var/outreach.db");
	assert_string_equal(c->templates, "templates");
	assert_string_equal(c->timezone, "UTC");
	assert_string_equal(c->tracking_base_url, "http://127.0.0.1:8080");
	assert_string_equal(c->tracking_secret_env, "OUTREACH_SECRET");
	assert_int_equal(c->ntransports + c->nsegments + c->ncampaigns, 0);
	assert_true(json_is_object(c->doc));
	config_free(c);
	diag_release(&d);
}

/* ---- broken configs: exactly one message each ---- */

/* lines 1-7; a case's own lines start at 8 */
#define BASE                                                                                       \
	"transports:\n"                                                                            \
	"  mail: {kind: smtp}\n"                                                                   \
	"  sms: {kind: http}\n"                                                                    \
	"segments:\n"                                                                              \
	"  vip: spend > 1\n"                                                                       \
	"campaigns:\n"                                                                             \
	"  c:\n"
#define TRIG "    trigger: {event: purchase}\n"
#define STEPS "    steps:\n"

struct bad_case {
	const char *yaml;
	const char *want;
};

static const struct bad_case bad_cases[] = {
    /* steps */
    {BASE TRIG STEPS "      - {after: 24x, channels: [mail], template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: bad duration \"24x\" for after (use 30m, 24h, 7d)"},
    {BASE TRIG STEPS "      - {after: 5, channels: [mail], template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: bad duration \"5\" for after (use 30m, 24h, 7d)"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: t, expire: [1]}\n",
     "t.yaml:10: campaign \"c\" step 1: bad duration \"[1]\" for expire (use 30m, 24h, 7d)"},
    {BASE TRIG STEPS "      - after: 1h\n"
		     "        channels:\n"
		     "          - mail\n"
		     "          - fax\n"
		     "        template: t\n",
     "t.yaml:13: campaign \"c\" step 1: unknown transport \"fax\" in channels"},
    {BASE TRIG STEPS "      - {after: 1h, channels: fax, template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: unknown transport \"fax\" in channels"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail, 7], template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: channels must list names, not \"7\""},
    {BASE TRIG STEPS "      - {after: 1h, template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: needs channels: a list of transports"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [], template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: needs channels: a list of transports"},
    {BASE TRIG STEPS "      - {after: 1h, channels: {a: b}, template: t}\n",
     "t.yaml:10: campaign \"c\" step 1: channels must be a name or a list of names"},
    {BASE TRIG STEPS "      - after: 1h\n"
		     "        channels: [mail]\n"
		     "        variants:\n"
		     "          a: 50%\n"
		     "          b: 40%\n",
     "t.yaml:12: campaign \"c\" step 1: variant shares add up to 90%, not 100%"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], variants: {a: 0.5, b: 0.5, c: 0.1}}\n",
     "t.yaml:10: campaign \"c\" step 1: variant shares add up to 110%, not 100%"},
    {BASE TRIG STEPS "      - after: 1h\n"
		     "        channels: [mail]\n"
		     "        variants:\n"
		     "          a: half\n"
		     "          b: 50%\n",
     "t.yaml:13: campaign \"c\" step 1: bad share \"half\" for variant \"a\" (use 50% or 0.5)"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], variants: {a: 0%, b: 100%}}\n",
     "t.yaml:10: campaign \"c\" step 1: bad share \"0%\" for variant \"a\" (use 50% or 0.5)"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], variants: []}\n",
     "t.yaml:10: campaign \"c\" step 1: variants must map template names to shares like 50%"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: t, variants: {a: 1}}\n",
     "t.yaml:10: campaign \"c\" step 1: give template or variants, not both"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail]}\n",
     "t.yaml:10: campaign \"c\" step 1: needs a template (or variants)"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: ../../etc/passwd}\n",
     "t.yaml:10: campaign \"c\" step 1: bad template name \"../../etc/passwd\" (use letters, "
     "digits, _, - and .)"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: 2024}\n",
     "t.yaml:10: campaign \"c\" step 1: template must be a string"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: t, unless: {a: 1}}\n",
     "t.yaml:10: campaign \"c\" step 1: unless must be a name or a list of names"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: t}\n"
		     "      - just text\n",
     "t.yaml:11: campaign \"c\" step 2 must be a mapping"},
    {BASE TRIG STEPS "      - {after: 1h, channels: [mail], template: t, colour: red}\n",
     "t.yaml:10: warning: unknown key \"colour\""},
    /* campaigns */
    {BASE TRIG, "t.yaml:7: campaign \"c\": needs at least one step"},
    {BASE TRIG "    steps: []\n", "t.yaml:9: campaign \"c\": needs at least one step"},
    {BASE TRIG "    steps: {after: 1h}\n", "t.yaml:9: campaign \"c\": steps must be a list"},
    {BASE STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:7: campaign \"c\": missing trigger (event: TYPE or segment: NAME)"},
    {BASE "    trigger: purchase\n" STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger must be a mapping like {event: purchase} or "
     "{segment: vip}"},
    {BASE "    trigger: {event: purchase, segment: vip}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger names both an event and a segment (give one)"},
    {BASE "    trigger: {}\n" STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger needs event: TYPE or segment: NAME"},
    {BASE "    trigger:\n"
	  "      segment: whales\n" STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:9: campaign \"c\": unknown segment \"whales\""},
    {BASE "    trigger: {event: purchase, every: 7d}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger every needs a segment"},
    {BASE "    trigger: {segment: vip, every: 7x}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": bad duration \"7x\" for every (use 30m, 24h, 7d)"},
    {BASE "    trigger: {segment: vip, where: {plan: pro}}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger where applies to event triggers only"},
    {BASE "    trigger: {event: purchase, where: [plan]}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": trigger where must be a mapping of data fields"},
    {BASE "    trigger: {event: purchase, when: now}\n" STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: warning: unknown key \"when\""},
    {BASE "    class: urgent\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": unknown class \"urgent\" (use transactional or marketing)"},
    {BASE "    holdout: 60%\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": holdout \"60%\" is over 50%"},
    {BASE "    holdout: 0.75\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": holdout \"0.75\" is over 50%"},
    {BASE "    holdout: 10\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": bad holdout \"10\" (use 10% or 0.1)"},
    {BASE "    holdout: some\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": bad holdout \"some\" (use 10% or 0.1)"},
    {BASE "    goal: {within: 30d}\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": goal needs an event"},
    {BASE "    goal: {event: purchase, within: a month}\n" TRIG STEPS
	  "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": bad duration \"a month\" for within (use 30m, 24h, 7d)"},
    {BASE "    goal: purchase\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: campaign \"c\": goal must be a mapping like {event: purchase, within: 30d}"},
    {BASE "    owner: sam\n" TRIG STEPS "      - {channels: [mail], template: t}\n",
     "t.yaml:8: warning: unknown key \"owner\""},
    {"campaigns:\n  c: nothing\n", "t.yaml:2: campaign \"c\" must be a mapping"},
    {"campaigns: [a]\n", "t.yaml:1: campaigns must be a mapping of name to campaign"},
    /* transports */
    {"transports:\n  fax:\n    kind: fax\n",
     "t.yaml:3: transport \"fax\": unknown kind \"fax\" (use smtp, http, webhook or outbox)"},
    {"transports:\n  fax:\n    host: x\n",
     "t.yaml:2: transport \"fax\": missing kind (smtp, http, webhook or outbox)"},
    {"transports:\n  box:\n    kind: outbox\n",
     "t.yaml:2: transport \"box\": an outbox transport needs channel: email, sms or chat"},
    {"transports:\n  box: {kind: outbox, channel: fax}\n",
     "t.yaml:2: transport \"box\": unknown channel \"fax\" (use email, sms or chat)"},
    {"transports:\n  mail: {kind: smtp, channel: sms}\n",
     "t.yaml:2: transport \"mail\": an smtp transport serves channel email, not sms"},
    {"transports:\n  mail: {kind: smtp, to: [email]}\n",
     "t.yaml:2: transport \"mail\": to must be a string"},
    {"transports:\n  mail: smtp\n", "t.yaml:2: transport \"mail\" must be a mapping"},
    {"transports:\n  my mail: {kind: smtp}\n",
     "t.yaml:2: bad transport name \"my mail\" (use letters, digits, _, - and .)"},
    {"transports: smtp\n", "t.yaml:1: transports must be a mapping of name to transport"},
    {"transports:\n  mail: {kind: smtp, anything_goes: 1}\n", NULL},
    /* segments */
    {"segments:\n  churn_risk: days_since(last(purchase)) >\n",
     "t.yaml:2: segment \"churn_risk\": column 29: unexpected end of expression"},
    {"segments:\n  Big: spend > 1\n",
     "t.yaml:2: bad segment name \"Big\" (use lowercase letters, digits, _ and -)"},
    {"segments:\n  x: [a]\n", "t.yaml:2: segment \"x\" must be an expression"},
    {"segments:\n  always: true\n", NULL},
    /* top level */
    {"timezone: Mars/Olympus_Mons\n", "t.yaml:1: unknown time zone \"Mars/Olympus_Mons\""},
    {"store: ''\n", "t.yaml:1: store must not be empty"},
    {"store: [a]\n", "t.yaml:1: store must be a string"},
    {"tracking:\n  base_url: ftp://x\n",
     "t.yaml:2: tracking.base_url \"ftp://x\" must start with http:// or https://"},
    {"tracking:\n  secret_env: 'MY SECRET'\n",
     "t.yaml:2: tracking.secret_env \"MY SECRET\" is not an environment variable name"},
    {"tracking:\n  port: 80\n", "t.yaml:2: warning: unknown key \"port\""},
    {"tracking: yes\n", "t.yaml:1: tracking must be a mapping"},
    {"store: x\ncolour: blue\n", "t.yaml:2: warning: unknown key \"colour\""},
    {"- a\n- b\n", "t.yaml:1: the top level must be a mapping"},
    {"policies: {}\n---\nstore: x\n", "t.yaml:2: a second YAML document (only one is allowed)"},
    {"policies:\n  a: &x {b: *x}\n", "t.yaml:2: recursive alias"},
    {"policies:\n  x: {a: 1}\n  y:\n    <<: plain\n",
     "t.yaml:4: << takes a mapping or a list of mappings"},
    {"policies:\n  a: ${OUTREACH_TEST_UNSET_VAR}\n",
     "t.yaml:2: warning: environment variable OUTREACH_TEST_UNSET_VAR is not set"},
    {"policies: {encrypt: true, log_pii: false}\nencrypt: true\nlog_pii: false\n", NULL},
    {"\xef\xbb\xbfpolicies:\n  name: \"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"\n", NULL},
};

/* syntax errors: NULL config and libfyaml's message */
static const struct bad_case syntax_cases[] = {
    {"store: x\nstore: y\n", "t.yaml:2: duplicate key"},
    {"a: b: c\n", "t.yaml:1: invalid nested block mapping on the same line"},
    {"a: [1, 2\n", "t.yaml:2: flow sequence without a closing bracket"},
    /* malformed UTF-8 is refused before libfyaml, which loops forever on
     * the directive case */
    {"%FOO \xc3\n", "t.yaml:1: not valid UTF-8"},
    {"a: 1\nb: \xff\n", "t.yaml:2: not valid UTF-8"},
    {"a: \xc0\xaf\n", "t.yaml:1: not valid UTF-8"},	    /* overlong '/' */
    {"a: \xed\xa0\x80\n", "t.yaml:1: not valid UTF-8"},	    /* a surrogate */
    {"a: \xf4\x90\x80\x80\n", "t.yaml:1: not valid UTF-8"}, /* over U+10FFFF */
    {"a: \xe4\xb8\n", "t.yaml:1: not valid UTF-8"},	    /* cut short */
};

static void test_bad_table(void **state)
{
	(void)state;
	unsetenv("OUTREACH_TEST_UNSET_VAR");
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct diag d;
		struct config *c = load(bad_cases[i].yaml, &d);
		const char *want = bad_cases[i].want;
		if (!c || d.n != (want ? 1u : 0u) || (want && strcmp(d.msgs[0], want) != 0)) {
			print_message("case %zu:\n%s\nwant: %s\n", i, bad_cases[i].yaml,
				      want ? want : "(nothing)");
			print_diag(&d);
			fail();
		}
		/* warnings never stop a config from being usable */
		if (want && strstr(want, ": warning: "))
			assert_int_equal(d.errors, 0);
		config_free(c);
		diag_release(&d);
	}
	for (size_t i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		struct diag d;
		struct config *c = load(syntax_cases[i].yaml, &d);
		if (c || d.n != 1 || strcmp(d.msgs[0], syntax_cases[i].want) != 0) {
			print_message("syntax case %zu: want %s\n", i, syntax_cases[i].want);
			print_diag(&d);
			fail();
		}
		diag_release(&d);
	}
}

/* every problem of a file is reported, in one load, with its line */
static void test_all_problems(void **state)
{
	(void)state;
	static const char *const want[] = {
	    "invalid.yaml:3: warning: unknown key \"colour\"",
	    "invalid.yaml:2: unknown time zone \"Mars/Olympus_Mons\"",
	    "invalid.yaml:8: transport \"fax\": unknown kind \"fax\" (use smtp, http, webhook "
	    "or outbox)",
	    "invalid.yaml:9: transport \"box\": an outbox transport needs channel: email, sms or "
	    "chat",
	    "invalid.yaml:12: bad segment name \"Big Spenders\" (use lowercase letters, digits, _ "
	    "and -)",
	    "invalid.yaml:13: segment \"churn\": column 29: unexpected end of expression",
	    "invalid.yaml:16: campaign \"thank-you\": unknown class \"urgent\" (use transactional "
	    "or marketing)",
	    "invalid.yaml:17: campaign \"thank-you\": trigger names both an event and a segment "
	    "(give one)",
	    "invalid.yaml:18: campaign \"thank-you\": holdout \"60%\" is over 50%",
	    "invalid.yaml:20: campaign \"thank-you\" step 1: bad duration \"24x\" for after (use "
	    "30m, 24h, 7d)",
	    "invalid.yaml:21: campaign \"thank-you\" step 1: unknown transport \"pigeon\" in "
	    "channels",
	    "invalid.yaml:27: warning: unknown key \"colour\"",
	    "invalid.yaml:26: campaign \"thank-you\" step 2: bad duration \"soon\" for expire "
	    "(use 30m, 24h, 7d)",
	    "invalid.yaml:25: campaign \"thank-you\" step 2: variant shares add up to 90%, not "
	    "100%",
	    "invalid.yaml:29: campaign \"empty\": unknown segment \"nobody\"",
	    "invalid.yaml:28: campaign \"empty\": needs at least one step",
	};
	struct diag d;
	diag_init(&d);
	struct config *c = config_load(DATA "invalid.yaml", &d);
	assert_non_null(c);
	if (d.n != sizeof(want) / sizeof(want[0]))
		print_diag(&d);
	assert_int_equal(d.n, sizeof(want) / sizeof(want[0]));
	assert_int_equal(d.warnings, 2);
	for (size_t i = 0; i < d.n; i++) {
		char full[512];
		snprintf(full, sizeof(full), DATA "%s", want[i]);
		assert_string_equal(d.msgs[i], full);
	}
	/* what was valid is still there */
	assert_non_null(config_transport(c, "email"));
	assert_null(config_transport(c, "fax"));
	assert_non_null(config_segment(c, "churn"));
	assert_null(config_segment(c, "churn")->expr);
	assert_string_equal(c->timezone, "UTC");
	assert_int_equal(config_campaign(c, "thank-you")->nsteps, 2);
	config_free(c);
	diag_release(&d);
}

static void test_unreadable(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d);
	assert_null(config_load(DATA "missing.yaml", &d));
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.msgs[0], DATA "missing.yaml: cannot read: No such file or directory");
	diag_release(&d);
	diag_init(&d);
	assert_null(config_load("tests/data/config", &d));
	assert_string_equal(d.msgs[0], "tests/data/config: cannot read: Is a directory");
	diag_release(&d);
	diag_init(&d);
	assert_null(config_load(DATA "syntax.yaml", &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], DATA "syntax.yaml:4: missing comma in flow mapping");
	diag_release(&d);
}

/* ---- ${ENV} ---- */

static void test_env(void **state)
{
	(void)state;
	struct diag d;
	setenv("CFG_T_HOST", "mail.example.com", 1);
	setenv("CFG_T_EMPTY", "", 1);
	setenv("CFG_T_SECRET", "hunter2", 1);
	unsetenv("CFG_T_UNSET");
	struct config *c = load("policies:\n"
				"  a: ${CFG_T_HOST}\n"
				"  b: \"smtp://${CFG_T_HOST}:25/${CFG_T_HOST}\"\n"
				"  c: x${CFG_T_EMPTY}y\n"
				"  d:\n"
				"    - ${CFG_T_UNSET}\n"
				"    - $CFG_T_HOST\n"
				"    - ${}\n"
				"    - ${1X}\n"
				"    - ${CFG_T_HOST\n"
				"  ${CFG_T_HOST}: 1\n"
				"  f: '${CFG_T_HOST}'\n"
				"  g: |\n"
				"    token ${CFG_T_SECRET}\n"
				"  h: [\"${CFG_T_HOST}\", 8]\n",
				&d);
	assert_non_null(c);
	if (d.n != 1)
		print_diag(&d);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.msgs[0], "t.yaml:6: warning: environment variable CFG_T_UNSET is "
				       "not set");
	assert_string_equal(json_string_value(at(c->doc, "/policies/a")), "mail.example.com");
	assert_string_equal(json_string_value(at(c->doc, "/policies/b")),
			    "smtp://mail.example.com:25/mail.example.com");
	assert_string_equal(json_string_value(at(c->doc, "/policies/c")), "xy");
	assert_string_equal(json_string_value(at(c->doc, "/policies/d/0")), "");
	assert_string_equal(json_string_value(at(c->doc, "/policies/d/1")), "$CFG_T_HOST");
	assert_string_equal(json_string_value(at(c->doc, "/policies/d/2")), "${}");
	assert_string_equal(json_string_value(at(c->doc, "/policies/d/3")), "${1X}");
	assert_string_equal(json_string_value(at(c->doc, "/policies/d/4")), "${CFG_T_HOST");
	/* keys are not expanded, single-quoted values are */
	assert_non_null(at(c->doc, "/policies/${CFG_T_HOST}"));
	assert_string_equal(json_string_value(at(c->doc, "/policies/h/0")), "mail.example.com");
	assert_string_equal(json_string_value(at(c->doc, "/policies/f")), "mail.example.com");
	assert_string_equal(json_string_value(at(c->doc, "/policies/g")), "token hunter2\n");
	config_free(c);
	diag_release(&d);

	/* a bad value quotes the file's text, never the secret */
	c = load(BASE TRIG STEPS "      - {after: \"${CFG_T_SECRET}\", channels: [mail], "
				 "template: t}\n",
		 &d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml:10: campaign \"c\" step 1: bad duration "
				       "\"${CFG_T_SECRET}\" for after (use 30m, 24h, 7d)");
	config_free(c);
	diag_release(&d);
	c = load("timezone: ${CFG_T_SECRET}\n", &d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml:1: unknown time zone \"${CFG_T_SECRET}\"");
	config_free(c);
	diag_release(&d);

	/* expanded in the typed fields too */
	setenv("CFG_T_TZ", "Asia/Tokyo", 1);
	c = load("timezone: ${CFG_T_TZ}\nstore: ${CFG_T_HOST}/db\n", &d);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->timezone, "Asia/Tokyo");
	assert_string_equal(c->store, "mail.example.com/db");
	config_free(c);
	diag_release(&d);
	unsetenv("CFG_T_HOST");
	unsetenv("CFG_T_EMPTY");
	unsetenv("CFG_T_SECRET");
	unsetenv("CFG_T_TZ");
}

/* ---- scalars: unquoted look-alikes become JSON values, quoted stay strings ---- */

static void test_scalars(void **state)
{
	(void)state;
	struct diag d;
	struct config *c =
	    load("policies:\n"
		 "  ints: [1, -2, +3, 0x1F, 0o17, 007]\n"
		 "  floats: [1.5, .5, 1e3, -2.5E-1, 3.]\n"
		 "  big: 99999999999999999999\n"
		 "  strs: ['1', \"2\", !!str 3, 1.2.3, 10%, 50/s, .inf, yes, 0h, 1e, "
		 "0x, '']\n"
		 "  bools: [true, True, FALSE, 'true']\n"
		 "  nulls: [null, ~, Null, 'null']\n"
		 "  empty:\n"
		 "  \"quoted key\": 1\n",
		 &d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	const json_t *v = at(c->doc, "/policies/ints");
	static const long long ints[] = {1, -2, 3, 31, 15, 7};
	assert_int_equal(json_array_size(v), 6);
	for (size_t i = 0; i < 6; i++) {
		assert_true(json_is_integer(json_array_get(v, i)));
		assert_int_equal(json_integer_value(json_array_get(v, i)), ints[i]);
	}
	static const double floats[] = {1.5, 0.5, 1000, -0.25, 3};
	v = at(c->doc, "/policies/floats");
	for (size_t i = 0; i < 5; i++) {
		assert_true(json_is_real(json_array_get(v, i)));
		assert_true(json_real_value(json_array_get(v, i)) == floats[i]);
	}
	assert_true(json_is_real(at(c->doc, "/policies/big")));
	static const char *const strs[] = {"1",	   "2",	  "3",	"1.2.3", "10%", "50/s",
					   ".inf", "yes", "0h", "1e",	 "0x",	""};
	v = at(c->doc, "/policies/strs");
	assert_int_equal(json_array_size(v), 12);
	for (size_t i = 0; i < 12; i++)
		assert_string_equal(json_string_value(json_array_get(v, i)), strs[i]);
	v = at(c->doc, "/policies/bools");
	assert_true(json_is_true(json_array_get(v, 0)));
	assert_true(json_is_true(json_array_get(v, 1)));
	assert_true(json_is_false(json_array_get(v, 2)));
	assert_string_equal(json_string_value(json_array_get(v, 3)), "true");
	v = at(c->doc, "/policies/nulls");
	for (size_t i = 0; i < 3; i++)
		assert_true(json_is_null(json_array_get(v, i)));
	assert_string_equal(json_string_value(json_array_get(v, 3)), "null");
	assert_true(json_is_null(at(c->doc, "/policies/empty")));
	assert_non_null(at(c->doc, "/policies/quoted key"));
	config_free(c);
	diag_release(&d);
}

/* ---- JSON pointer lines ---- */

static void test_lines(void **state)
{
	(void)state;
	struct diag d;
	struct config *c = load("policies:\n"		      /* 1 */
				"  caps:\n"		      /* 2 */
				"    marketing:\n"	      /* 3 */
				"      max: 2\n"	      /* 4 */
				"  a/b: 1\n"		      /* 5 */
				"  t~x: 2\n"		      /* 6 */
				"  list:\n"		      /* 7 */
				"    - one\n"		      /* 8 */
				"    -\n"		      /* 9 */
				"      k: v\n"		      /* 10 */
				"    - [x,\n"		      /* 11 */
				"       y]\n"		      /* 12 */
				"  long: >\n"		      /* 13 */
				"    folded\n"		      /* 14 */
				"  next:\n"		      /* 15 */
				"    value on its own line\n" /* 16 */
				"  base: &b {p: 1, q: 2}\n"   /* 17 */
				"  derived:\n"		      /* 18 */
				"    <<: *b\n"		      /* 19 */
				"    q: 3\n"		      /* 20 */
				"  ref: *b\n",		      /* 21 */
				&d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	static const struct {
		const char *ptr;
		int line;
	} cases[] = {
	    {"", 1},
	    {"/policies", 1},
	    {"/policies/caps", 2},
	    {"/policies/caps/marketing", 3},
	    {"/policies/caps/marketing/max", 4},
	    {"/policies/caps/marketing/max/deeper/still", 4},
	    {"/policies/caps/other", 2},
	    {"/policies/a~1b", 5},
	    {"/policies/t~0x", 6},
	    {"/policies/list", 7},
	    {"/policies/list/0", 8},
	    {"/policies/list/1", 10},
	    {"/policies/list/1/k", 10},
	    {"/policies/list/2", 11},
	    {"/policies/list/2/1", 12},
	    {"/policies/list/9", 7},
	    {"/policies/long", 13},
	    {"/policies/next", 16},
	    {"/policies/derived/p", 17},
	    {"/policies/derived/q", 20},
	    {"/policies/ref", 21},
	    {"/policies/ref/q", 17},
	    {"/nope", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = config_line(c, cases[i].ptr);
		if (got != cases[i].line) {
			print_message("%s: got line %d, want %d\n", cases[i].ptr, got,
				      cases[i].line);
			fail();
		}
	}
	assert_int_equal(json_integer_value(at(c->doc, "/policies/derived/p")), 1);
	assert_int_equal(json_integer_value(at(c->doc, "/policies/derived/q")), 3);
	assert_int_equal(json_integer_value(at(c->doc, "/policies/ref/q")), 2);
	assert_int_equal(config_line(NULL, "/x"), 0);
	assert_int_equal(config_line(c, "not a pointer"), 0);
	config_free(c);
	diag_release(&d);
}

/* ---- durations and shares ---- */

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t secs;
	} cases[] = {
	    {"30s", 30},       {"15m", 900}, {"24h", 86400}, {"7d", 7 * 86400}, {"2w", 14 * 86400},
	    {"1d12h", 129600}, {"0", 0},     {"0h", 0},	     {"'0'", 0},	{"\"90m\"", 5400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[512];
		struct diag d;
		snprintf(yaml, sizeof(yaml),
			 BASE TRIG STEPS "      - {after: %s, channels: [mail], template: t, "
					 "expire: %s}\n",
			 cases[i].text, cases[i].text);
		struct config *c = load(yaml, &d);
		print_diag(&d);
		assert_int_equal(d.n, 0);
		assert_int_equal(c->campaigns[0].steps[0].after, cases[i].secs);
		assert_int_equal(c->campaigns[0].steps[0].expire, cases[i].secs);
		config_free(c);
		diag_release(&d);
	}
	static const char *const bad[] = {"24x", "-1h", "1.5h", "h", "''", "1h 2m", "true", "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[512];
		struct diag d;
		snprintf(yaml, sizeof(yaml),
			 BASE TRIG STEPS "      - {after: %s, channels: [mail], template: t}\n",
			 bad[i]);
		struct config *c = load(yaml, &d);
		assert_non_null(c);
		assert_int_equal(d.errors, 1);
		assert_non_null(
		    strstr(d.msgs[0], "t.yaml:10: campaign \"c\" step 1: bad duration "));
		config_free(c);
		diag_release(&d);
	}
}

static void test_percent(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int rc;
		double want;
	} cases[] = {
	    {"\"10%\"", 0, 0.10}, {"\"12.5%\"", 0, 0.125}, {"\"0%\"", 0, 0},
	    {"\"100%\"", 0, 1},	  {"0.1", 0, 0.1},	   {"0", 0, 0},
	    {"1", 0, 1},	  {"\"0.5\"", 0, 0.5},	   {"\"101%\"", -1, 0},
	    {"\"-5%\"", -1, 0},	  {"\"%\"", -1, 0},	   {"\"10 %\"", -1, 0},
	    {"\"1e1%\"", -1, 0},  {"\"inf%\"", -1, 0},	   {"\"0x10%\"", -1, 0},
	    {"\"10.%\"", -1, 0},  {"1.5", -1, 0},	   {"-0.1", -1, 0},
	    {"10", -1, 0},	  {"true", -1, 0},	   {"null", -1, 0},
	    {"[0.1]", -1, 0},	  {"\"\"", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		double got = -1;
		assert_non_null(v);
		int rc = config_percent(v, &got);
		if (rc != cases[i].rc || (rc == 0 && fabs(got - cases[i].want) > 1e-12)) {
			print_message("%s: rc %d got %g\n", cases[i].json, rc, got);
			fail();
		}
		json_decref(v);
	}
}

/* ---- robustness: random damage to every fixture must never crash ---- */

static uint64_t rng_state = FUZZ_SEED;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static void mutate(struct buf *b)
{
	static const char special[] = ":-[]{}&*!|>'\"%@`#,?<\n \t${}~0123456789";
	int edits = 1 + (int)rnd(8);
	for (int i = 0; i < edits && b->len > 0; i++) {
		size_t at = rnd((uint32_t)b->len);
		switch (rnd(6)) {
		case 0:
			b->data[at] = (char)rnd(256);
			break;
		case 1:
		case 2:
			b->data[at] = special[rnd(sizeof(special) - 1)];
			break;
		case 3: /* delete a byte */
			memmove(b->data + at, b->data + at + 1, b->len - at - 1);
			b->len--;
			b->data[b->len] = '\0';
			break;
		case 4: { /* copy a chunk over another place */
			size_t from = rnd((uint32_t)b->len), n = 1 + rnd(40);
			if (from + n > b->len)
				n = b->len - from;
			if (at + n > b->len)
				n = b->len - at;
			memmove(b->data + at, b->data + from, n);
			break;
		}
		default: /* truncate */
			if (rnd(4) == 0) {
				b->len = at;
				b->data[at] = '\0';
			}
			break;
		}
	}
}

static void test_fuzz_fixtures(void **state)
{
	(void)state;
	DIR *dir = opendir(DATA);
	struct dirent *de;
	int files = 0;
	assert_non_null(dir);
	setenv("SMS_TOKEN", "x", 1);
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), DATA "%s", de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		struct buf orig = BUF_INIT;
		char chunk[4096];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_append(&orig, chunk, got);
		fclose(f);
		files++;
		for (int round = 0; round < FUZZ_ROUNDS; round++) {
			struct buf b = BUF_INIT;
			buf_append(&b, orig.data, orig.len);
			mutate(&b);
			struct diag d;
			diag_init(&d);
			struct config *c = config_load_mem(path, buf_cstr(&b), b.len, &d);
			if (c) {
				/* touch what callers touch */
				for (size_t i = 0; i < c->ntransports; i++)
					config_line(c, c->transports[i].pointer);
				config_free(c);
			} else {
				assert_true(d.errors > 0);
			}
			for (size_t i = 0; i < d.n; i++)
				assert_null(strchr(d.msgs[i], '\n'));
			diag_release(&d);
			buf_release(&b);
		}
		buf_release(&orig);
	}
	closedir(dir);
	unsetenv("SMS_TOKEN");
	assert_true(files >= 4);
}

/* alias bombs fail with a message instead of eating memory */
static void test_alias_bomb(void **state)
{
	(void)state;
	struct buf y = BUF_INIT;
	buf_puts(&y, "policies:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		buf_printf(&y,
			   "  a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
			   "*a%d]\n",
			   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
			   i - 1);
	struct diag d;
	struct config *c = load(buf_cstr(&y), &d);
	assert_non_null(c);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.msgs[0], "t.yaml:7: too many nodes after expanding aliases");
	config_free(c);
	diag_release(&d);
	buf_release(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),	  cmocka_unit_test(test_example_without_env),
	    cmocka_unit_test(test_full),	  cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_bad_table),	  cmocka_unit_test(test_all_problems),
	    cmocka_unit_test(test_unreadable),	  cmocka_unit_test(test_env),
	    cmocka_unit_test(test_scalars),	  cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_durations),	  cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_fuzz_fixtures), cmocka_unit_test(test_alias_bomb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
