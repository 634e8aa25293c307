/* cmd_report.c - report (counts by campaign, step, channel, state), why, check */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "expr.h"
#include "policy.h"
#include "render.h"
#include "sms.h"
#include "transport.h"
#include "timeutil.h"
#include "xmalloc.h"

static const char *const states[] = {"scheduled", "deferred",  "sending", "sent",
				     "delivered", "failed",    "bounced", "suppressed",
				     "expired",   "cancelled"};
#define NSTATES (sizeof(states) / sizeof(states[0]))

struct rline {
	char *campaign, *channel, *template;
	int step;
	int64_t n[NSTATES];
};

struct rep {
	struct rline *l;
	size_t n;
};

static void collect(void *ud, const struct report_row *r)
{
	struct rep *rp = ud;
	struct rline *x = rp->n ? &rp->l[rp->n - 1] : NULL;
	if (!x || strcmp(x->campaign, r->campaign) != 0 || x->step != r->step ||
	    strcmp(x->channel, r->channel) != 0 || strcmp(x->template, r->template) != 0) {
		rp->l = xrealloc(rp->l, (rp->n + 1) * sizeof(*rp->l));
		x = &rp->l[rp->n++];
		memset(x, 0, sizeof(*x));
		x->campaign = xstrdup(r->campaign);
		x->channel = xstrdup(r->channel);
		x->template = xstrdup(r->template);
		x->step = r->step;
	}
	for (size_t i = 0; i < NSTATES; i++)
		if (strcmp(states[i], r->state) == 0)
			x->n[i] += r->n;
}

int cmd_report(struct cli *c)
{
	const char *campaign = NULL, *since = NULL, *format = "table";
	for (int i = 1; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--campaign", &campaign) ||
		    cli_opt(c->argc, c->argv, &i, "--since", &since) ||
		    cli_opt(c->argc, c->argv, &i, "--format", &format))
			continue;
		cli_usage_error("report: unknown argument \"%s\"", c->argv[i]);
	}
	if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv"))
		cli_usage_error("report: --format: expected table, json or csv, not \"%s\"", format);
	int64_t t0 = since ? cli_time("--since", since) : INT64_MIN;
	struct config *cfg = cli_config(c);
	if (campaign && !config_campaign(cfg, campaign))
		cli_usage_error("report: --campaign: no campaign \"%s\" in %s", campaign, cfg->path);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct rep rp = {0};
	int rc = store_report(s, campaign, t0, collect, &rp, &e);
	if (rc < 0) {
		fprintf(stderr, "outreach: report: %s\n", e.msg);
	} else if (strcmp(format, "json") == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < rp.n; i++) {
			json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "campaign", rp.l[i].campaign, "step",
					      rp.l[i].step + 1, "channel", rp.l[i].channel, "template",
					      rp.l[i].template);
			for (size_t k = 0; k < NSTATES; k++)
				json_object_set_new(o, states[k], json_integer(rp.l[i].n[k]));
			json_array_append_new(a, o);
		}
		json_t *doc = json_pack("{s:o}", "rows", a);
		json_t *ho = json_object();
		for (size_t k = 0; k < cfg->ncampaigns; k++) {
			int64_t treated = 0, holdout = 0;
			if (campaign && strcmp(campaign, cfg->campaigns[k].name))
				continue;
			if (store_enrollment_counts(s, cfg->campaigns[k].name, t0, &treated, &holdout,
						    &e) == 0)
				json_object_set_new(ho, cfg->campaigns[k].name,
						    json_pack("{s:I, s:I}", "treated",
							      (json_int_t)treated, "holdout",
							      (json_int_t)holdout));
		}
		json_object_set_new(doc, "enrollments", ho);
		char *out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", out);
		free(out);
		json_decref(doc);
	} else {
		int csv = strcmp(format, "csv") == 0;
		printf(csv ? "campaign,step,channel,template" : "%-16s %4s %-6s %-20s", "campaign",
		       "step", "channel", "template");
		for (size_t k = 0; k < NSTATES; k++)
			printf(csv ? ",%s" : " %9s", states[k]);
		printf("\n");
		for (size_t i = 0; i < rp.n; i++) {
			if (csv)
				printf("%s,%d,%s,%s", rp.l[i].campaign, rp.l[i].step + 1,
				       rp.l[i].channel, rp.l[i].template);
			else
				printf("%-16s %4d %-6s %-20s", rp.l[i].campaign, rp.l[i].step + 1,
				       rp.l[i].channel[0] ? rp.l[i].channel : "-", rp.l[i].template);
			for (size_t k = 0; k < NSTATES; k++)
				printf(csv ? ",%lld" : " %9lld", (long long)rp.l[i].n[k]);
			printf("\n");
		}
	}
	for (size_t i = 0; i < rp.n; i++) {
		free(rp.l[i].campaign);
		free(rp.l[i].channel);
		free(rp.l[i].template);
	}
	free(rp.l);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

static void print_hist(void *ud, int64_t at, const char *state, const char *reason)
{
	(void)ud;
	char ts[32];
	time_format(at, ts, sizeof(ts));
	printf("  %s  %-10s %s\n", ts, state, reason ? reason : "");
}

static void print_attempt(void *ud, int64_t at, const char *transport, const char *status,
			  const char *code, const char *reason)
{
	(void)ud;
	char ts[32];
	time_format(at, ts, sizeof(ts));
	printf("  %s  %-10s %-6s %s %s\n", ts, transport, status, code ? code : "",
	       reason ? reason : "");
}

int cmd_why(struct cli *c)
{
	if (c->argc != 2)
		cli_usage_error("usage: outreach why SEND_ID");
	char *end;
	long long id = strtoll(c->argv[1], &end, 10);
	if (*end || id <= 0)
		cli_usage_error("why: invalid send id \"%s\"", c->argv[1]);
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct send_row r;
	int rc = store_send_get(s, id, &r, &e);
	if (rc == 0) {
		char due[32];
		time_format(r.due_at, due, sizeof(due));
		printf("send %lld: campaign %s step %d to contact %s, template %s, now %s\n", id,
		       r.campaign, r.step + 1, r.contact, r.template ? r.template : "-", r.state);
		printf("due %s, %d attempt%s%s%s%s%s\n", due, r.attempts, r.attempts == 1 ? "" : "s",
		       r.transport ? ", via " : "", r.transport ? r.transport : "",
		       r.message_id ? ", message-id " : "", r.message_id ? r.message_id : "");
		printf("history:\n");
		rc = store_send_history(s, id, print_hist, NULL, &e);
		if (rc == 0 && r.attempts + 1 > 0) {
			printf("attempts:\n");
			rc = store_send_attempts(s, id, print_attempt, NULL, &e);
		}
		send_row_release(&r);
	}
	if (rc < 0)
		fprintf(stderr, "outreach: why: %s\n", e.msg);
	else if (rc == 1)
		fprintf(stderr, "outreach: why: no send %lld\n", id);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : rc == 1 ? EXIT_USAGE : EXIT_OK;
}

/* ---- check ---- */

static const char *const provided[] = {"id",	     "name",	 "email",	    "phone",
				       "timezone",   "locale",	 "event",	    "segment",
				       "segments",   "campaign", "step",	    "unsubscribe_url",
				       "survey_url", "stats",	 "json"};

struct known {
	char **attrs;
	size_t nattrs;
	int have_contacts;
	struct diag *d;
};

static int is_known(void *ud, const char *var)
{
	struct known *k = ud;
	for (size_t i = 0; i < sizeof(provided) / sizeof(provided[0]); i++)
		if (strcmp(provided[i], var) == 0)
			return 1;
	for (size_t i = 0; i < k->nattrs; i++)
		if (strcmp(k->attrs[i], var) == 0)
			return 1;
	/* with no contacts in the store an attribute cannot be ruled out */
	return !k->have_contacts;
}

struct seg_check {
	const struct transport_conf *tc;
	int max;
	struct diag *d;
};

static void seg_check_file(void *ud, const char *path, const char *text)
{
	struct seg_check *sc = ud;
	enum sms_encoding enc;
	int segs = sms_segments(text, strlen(text), &enc);
	if (segs > sc->max)
		diag_error(sc->d, path, 0,
			   "at least %d SMS segments (%s) before any data, and transport \"%s\" "
			   "allows max_segments %d",
			   segs, enc == SMS_UCS2 ? "UCS-2" : "GSM-7", sc->tc->name, sc->max);
}

/* check_segments - with max_segments on an sms transport, the fixed text
 * of every file of the template must fit */
static void check_segments(struct renderer *r, const struct transport_conf *tc, const char *tmpl,
			   struct diag *d)
{
	json_t *v = json_object_get(tc->opts, "max_segments");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return;
	struct seg_check sc = {tc, (int)json_integer_value(v), d};
	render_each_bare(r, tmpl, CHANNEL_SMS, seg_check_file, &sc);
}

int cmd_check(struct cli *c)
{
	if (c->argc != 1)
		cli_usage_error("usage: outreach check");
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load(c->config_path, &d);
	if (!cfg) {
		diag_print(&d);
		diag_release(&d);
		return EXIT_USAGE;
	}
	struct known k = {0};
	k.d = &d;
	struct err e = {{0}};
	struct store *s = store_open(cfg->store, &e);
	if (s && store_ready(s, &e) == 0) {
		int64_t n = 0;
		if (store_attr_keys(s, &k.attrs, &k.nattrs, &n, &e) == 0)
			k.have_contacts = n > 0;
	}
	store_close(s);
	if (!k.have_contacts)
		diag_warn(&d, cfg->path, 0,
			  "no contacts in the store yet: template variables are not checked "
			  "against attributes");
	policy_free(policy_create(cfg, &d));
	/* every transport's options, as the worker would create it, minus the
	 * secrets (check runs where they may not be set) */
	for (size_t i = 0; i < cfg->ntransports; i++) {
		struct transport *t = transport_create(cfg, &cfg->transports[i], TRANSPORT_CHECK, &e);
		if (!t)
			diag_error(&d, NULL, 0, "%s", e.msg);
		transport_free(t);
	}
	struct renderer *r = renderer_create(cfg->templates);
	/* every (template, channel kind) a campaign can reach, once */
	char **seen = NULL;
	size_t nseen = 0;
	for (size_t i = 0; i < cfg->ncampaigns; i++) {
		const struct campaign_conf *cc = &cfg->campaigns[i];
		for (size_t j = 0; j < cc->nsteps; j++) {
			const struct step_conf *sc = &cc->steps[j];
			size_t nt = sc->nvariants ? sc->nvariants : 1;
			for (size_t v = 0; v < nt; v++) {
				const char *tmpl = sc->nvariants ? sc->variants[v].template : sc->template;
				for (size_t ch = 0; tmpl && ch < sc->nchannels; ch++) {
					const struct transport_conf *tc =
						config_transport(cfg, sc->channels[ch]);
					if (!tc)
						continue;
					char *key = xasprintf("%s/%d", tmpl, (int)tc->channel);
					int dup = 0;
					for (size_t q = 0; q < nseen; q++)
						dup |= strcmp(seen[q], key) == 0;
					if (dup) {
						free(key);
						continue;
					}
					seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
					seen[nseen++] = key;
					render_check_template(r, tmpl, tc->channel, is_known, &k, &d,
							      cfg->path, sc->line);
					if (tc->channel == CHANNEL_SMS)
						check_segments(r, tc, tmpl, &d);
				}
			}
		}
	}
	strv_free(seen, nseen);
	strv_free(k.attrs, k.nattrs);
	renderer_free(r);
	diag_print(&d);
	int rc = d.errors ? EXIT_USAGE : EXIT_OK;
	if (!d.errors)
		printf("%s: ok (%zu transports, %zu segments, %zu campaigns%s)\n", cfg->path,
		       cfg->ntransports, cfg->nsegments, cfg->ncampaigns,
		       d.warnings ? ", with warnings" : "");
	diag_release(&d);
	config_free(cfg);
	return rc;
}
