/* cmd_run.c - run (the dispatcher) and preview (render without sending)
 *
 * `run` loads and checks the config, then runs the worker loop in this
 * process, or with `--workers N` (N > 1) checks the store once, closes it
 * and hands over to the supervisor (supervisor.c), which forks N children
 * that each open their own store connection and run the same loop. The
 * tracking secret is read from the environment and never printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "mime.h"
#include "render.h"
#include "schedule.h"
#include "stats.h"
#include "supervisor.h"
#include "timeutil.h"
#include "worker.h"
#include "xmalloc.h"

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* int_arg - a whole decimal number in [lo, hi], or exit 2 naming the option */
static int int_arg(const char *opt, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi)
		cli_usage_error("%s: expected %ld to %ld, not \"%s\"", opt, lo, hi, v);
	return (int)n;
}

static void log_totals(const struct worker_totals *t, const char *tail)
{
	log_info("done: %lld sent, %lld deferred, %lld failed, %lld suppressed, %lld expired, "
		 "%lld cancelled, %lld held by policies%s",
		 (long long)t->sent, (long long)t->deferred, (long long)t->failed,
		 (long long)t->suppressed, (long long)t->expired, (long long)t->cancelled,
		 (long long)t->held, tail);
}

struct run_ctx {
	struct config *cfg;
	struct worker_opts *o;
};

/* run_worker - one worker on its own store connection: the whole of `run`
 * without --workers, and the body of each child under the supervisor */
static int run_worker(void *arg, struct worker_totals *t)
{
	struct run_ctx *rx = arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: a sleeping worker wakes at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct store *s = cli_store(rx->cfg, 1);
	struct err e = {{0}};
	int rc = worker_run(s, rx->cfg, rx->o, t, &e);
	if (rc < 0)
		fprintf(stderr, "outreach: run: %s\n", e.msg);
	else
		log_totals(t, stop_flag ? " (stopped by signal)" : "");
	store_close(s);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_run(struct cli *c)
{
	struct worker_opts o = {.batch = 100, .lease = 300, .max_attempts = 5, .stop = &stop_flag};
	int workers = 1;
	for (int i = 1; i < c->argc; i++) {
		const char *v;
		if (strcmp(c->argv[i], "--once") == 0)
			o.once = 1;
		else if (cli_opt(c->argc, c->argv, &i, "--now", &v))
			o.now = cli_time("--now", v);
		else if (cli_opt(c->argc, c->argv, &i, "--batch", &v))
			o.batch = int_arg("--batch", v, 1, 10000);
		else if (cli_opt(c->argc, c->argv, &i, "--workers", &v))
			workers = int_arg("--workers", v, 1, SUPERVISOR_MAX);
		else
			cli_usage_error("run: unknown argument \"%s\"", c->argv[i]);
	}
	struct config *cfg = cli_config(c);
	const char *secret = getenv(cfg->tracking_secret_env);
	if (!secret || !*secret) {
		/* links signed with an empty key could be forged by anyone */
		fprintf(stderr,
			"outreach: run: %s is not set: it is the key that signs tracking, "
			"unsubscribe and survey links (tracking.secret_env in %s)\n",
			cfg->tracking_secret_env, cfg->path);
		config_free(cfg);
		return EXIT_USAGE;
	}
	struct run_ctx ctx = {.cfg = cfg, .o = &o};
	struct worker_totals t;
	int rc;
	if (workers == 1) {
		rc = run_worker(&ctx, &t);
	} else {
		/* a short-lived connection for the schema check only: the
		 * children open their own, none is shared across fork */
		store_close(cli_store(cfg, 1));
		struct supervisor_opts so = {.n = workers, .once = o.once};
		int stopped;
		rc = supervisor_run(&so, run_worker, &ctx, &t, &stopped);
		char tail[96];
		snprintf(tail, sizeof(tail), " (%d workers%s)", workers,
			 stopped ? ", stopped by signal" : "");
		log_totals(&t, tail);
	}
	config_free(cfg);
	return rc;
}

int cmd_preview(struct cli *c)
{
	const char *contact = NULL, *campaign = NULL, *stepv = NULL, *channel = NULL, *nowv = NULL;
	for (int i = 1; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--contact", &contact) ||
		    cli_opt(c->argc, c->argv, &i, "--campaign", &campaign) ||
		    cli_opt(c->argc, c->argv, &i, "--step", &stepv) ||
		    cli_opt(c->argc, c->argv, &i, "--channel", &channel) ||
		    cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		cli_usage_error("preview: unknown argument \"%s\"", c->argv[i]);
	}
	if (!contact || !campaign)
		cli_usage_error("usage: outreach preview --contact ID --campaign C [--step N] [--channel T]");
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	struct config *cfg = cli_config(c);
	const struct campaign_conf *cc = config_campaign(cfg, campaign);
	if (!cc)
		cli_usage_error("preview: no campaign \"%s\" in %s", campaign, cfg->path);
	int only = 0;
	if (stepv) {
		only = (int)strtol(stepv, NULL, 10);
		if (only < 1 || only > (int)cc->nsteps)
			cli_usage_error("preview: --step: campaign \"%s\" has steps 1 to %zu", campaign,
					cc->nsteps);
	}
	if (channel && !config_transport(cfg, channel))
		cli_usage_error("preview: --channel: no transport \"%s\" in %s", channel, cfg->path);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct contact ct;
	int rc = store_contact_get(s, contact, &ct, &e);
	if (rc != 0) {
		fprintf(stderr, "outreach: preview: %s\n", rc < 0 ? e.msg : "no such contact");
		store_close(s);
		config_free(cfg);
		return rc < 0 ? EXIT_RUNTIME : EXIT_USAGE;
	}
	/* segments as they are at now, computed, not stored */
	int *member = xcalloc(cfg->nsegments + 1, sizeof(int));
	char **segs = xcalloc(cfg->nsegments + 1, sizeof(char *));
	size_t nseg = 0;
	int64_t next;
	if (segments_eval(s, cfg, &ct, now, member, &next, &e) < 0) {
		fprintf(stderr, "outreach: preview: %s\n", e.msg);
		rc = -1;
	}
	for (size_t i = 0; i < cfg->nsegments; i++)
		if (member[i])
			segs[nseg++] = cfg->segments[i].name;
	/* stats.NAME for the templates, as the worker gives them */
	json_t *stats = NULL;
	if (rc == 0 && stats_compute(s, &cfg->stats, ct.id, now, &stats, &e) < 0) {
		fprintf(stderr, "outreach: preview: %s\n", e.msg);
		rc = -1;
	}
	struct renderer *r = renderer_create(cfg->templates);
	const char *base = cfg->tracking_base_url;
	char *unsub = xasprintf("%s/u/PREVIEW", base), *survey = xasprintf("%s/s/PREVIEW", base);
	int failures = 0;
	for (size_t k = 0; rc == 0 && k < cc->nsteps; k++) {
		const struct step_conf *sc = &cc->steps[k];
		if (only && (int)k + 1 != only)
			continue;
		const char *tmpl = schedule_variant(cc, sc, ct.id);
		for (size_t j = 0; j < sc->nchannels; j++) {
			const struct transport_conf *tc = config_transport(cfg, sc->channels[j]);
			if (!tc || (channel && strcmp(channel, tc->name) != 0))
				continue;
			json_t *ctx = render_context(&ct, NULL, segs, nseg, nseg ? segs[0] : NULL,
						     cc->name, (int)k + 1,
						     cc->cls == CLASS_MARKETING ? unsub : NULL, survey);
			json_object_set(ctx, "stats", stats);
			struct rendered m;
			printf("=== %s step %zu via %s (%s), template %s\n", cc->name, k + 1, tc->name,
			       channel_name(tc->channel), tmpl);
			if (render_message(r, tmpl, tc->channel, segs, nseg, ct.locale, ctx, &m, &e) < 0) {
				printf("(cannot render: %s)\n", e.msg);
				failures++;
				json_decref(ctx);
				continue;
			}
			printf("file: %s\n", m.path);
			if (tc->channel == CHANNEL_EMAIL) {
				json_t *from = json_object_get(tc->opts, "from");
				struct message msg = {
					.channel = CHANNEL_EMAIL,
					.to = ct.email ? ct.email : "(no email)",
					.to_name = ct.name,
					.from = json_is_string(from) ? json_string_value(from)
								     : "outreach <outreach@localhost>",
					.subject = m.subject,
					.text = m.text,
					.html = m.html,
					.message_id = "<preview@outreach.invalid>",
					.unsubscribe_url = cc->cls == CLASS_MARKETING ? unsub : NULL,
					.marketing = cc->cls == CLASS_MARKETING,
					.headers = m.headers,
					.nheaders = m.nheaders,
				};
				struct buf b = BUF_INIT;
				/* show the headers and the text as a person reads them */
				printf("Subject: %s\n", m.subject ? m.subject : "");
				for (size_t h = 0; h < m.nheaders; h++)
					printf("%s: %s\n", m.headers[h].name, m.headers[h].value);
				printf("\n%s", m.text);
				if (m.html)
					printf("\n--- html ---\n%s", m.html);
				if (mime_build(&msg, now, &b, &e) < 0) {
					printf("(invalid message: %s)\n", e.msg);
					failures++;
				}
				buf_release(&b);
			} else {
				printf("to: %s\n\n%s", tc->channel == CHANNEL_SMS
							      ? (ct.phone ? ct.phone : "(no phone)")
							      : "(chat)",
				       m.text);
			}
			printf("\n");
			rendered_release(&m);
			json_decref(ctx);
		}
	}
	json_decref(stats);
	free(unsub);
	free(survey);
	renderer_free(r);
	free(member);
	free(segs);
	contact_release(&ct);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : failures ? EXIT_USAGE : EXIT_OK;
}
