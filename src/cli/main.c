/* main.c - `outreach [-c CONFIG] COMMAND [ARGS]`: global options and dispatch */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "links.h"
#include "log.h"
#include "policy.h"
#include "timeutil.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *c);
	const char *usage;
} commands[] = {
	{"init", cmd_init, "init                      create or migrate the store"},
	{"check", cmd_check, "check                     validate config, segments, campaigns, templates"},
	{"contacts", cmd_contacts, "contacts import FILE [--format csv|jsonl] [--skip-bad] | show ID [--now TIME] | export [ID] | forget ID"},
	{"events", cmd_events, "events import FILE [--skip-bad]"},
	{"event", cmd_event, "event add --contact ID --type T [--at TIME] [--data JSON]"},
	{"run", cmd_run, "run [--once] [--now TIME]  the dispatcher"},
	{"serve", cmd_serve, "serve [--listen HOST:PORT] [--now TIME]  the tracking and feedback HTTP server"},
	{"preview", cmd_preview, "preview --contact ID --campaign C [--step N] [--channel T]"},
	{"plan", cmd_plan, "plan [--now TIME] [--days N] [--format table|json]  simulate, send nothing"},
	{"suppress", cmd_suppress, "suppress ADDRESS... [--reason R] | --import FILE | --list | --remove ADDRESS..."},
	{"report", cmd_report, "report [--campaign C] [--since TIME] [--format table|json|csv|html] [--output FILE] [--include-machine-opens]"},
	{"bounces", cmd_bounces, "bounces import FILE... [--skip-bad]  DSN and ARF reports: mbox, .eml or a folder"},
	{"why", cmd_why, "why SEND_ID               the history of one send"},
	{"segments", cmd_segments, "segments                  each segment's size"},
	{"keys", cmd_keys, "keys rotate               seal every name and address again under the current key"},
	{"outbox", cmd_outbox, "outbox show FILE...       print outbox files, opening sealed ones"},
	{"send-test", cmd_send_test, "send-test --transport NAME [--to ADDRESS] [--subject S] [--text T]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: outreach [-c CONFIG] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\nCONFIG defaults to $OUTREACH_CONFIG, then config/outreach.yaml.\n");
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "outreach: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_USAGE);
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		cli_usage_error("%s needs a value", name);
	*val = argv[++*i];
	return 1;
}

int64_t cli_time(const char *opt, const char *v)
{
	int64_t t;
	if (time_parse(v, &t) < 0)
		cli_usage_error("%s: invalid time \"%s\" (RFC 3339, e.g. 2026-03-01T09:30:00+08:00)", opt,
				v);
	return t;
}

struct config *cli_config(const struct cli *c)
{
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load(c->config_path, &d);
	if (cfg && !d.errors) {
		policy_free(policy_create(cfg, &d)); /* refuse bad policies at once */
		links_check_config(cfg, &d);
	}
	diag_print(&d);
	if (!cfg || d.errors) {
		diag_release(&d);
		config_free(cfg);
		exit(EXIT_USAGE);
	}
	diag_release(&d);
	log_set_pii(cfg->log_pii);
	return cfg;
}

struct store *cli_store(const struct config *cfg, int need_ready)
{
	struct err e = {{0}};
	struct store *s = store_open(cfg->store, &e);
	if (!s) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		exit(EXIT_RUNTIME);
	}
	if (need_ready && store_ready(s, &e) < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		store_close(s);
		exit(EXIT_RUNTIME);
	}
	if (need_ready)
		cli_store_pii(cfg, s, STORE_PII_RUN);
	return s;
}

void cli_store_pii(const struct config *cfg, struct store *s, int mode)
{
	struct err e = {{0}};
	int rc = store_pii_setup(s, cfg->encrypt, cfg->encrypt_key_env, mode, &e);
	if (rc < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		store_close(s);
		exit(rc == -2 ? EXIT_USAGE : EXIT_RUNTIME);
	}
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	const char *env = getenv("OUTREACH_CONFIG");
	c.config_path = env && *env ? env : "config/outreach.yaml";
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			log_set_level(LOG_DEBUG);
			continue;
		}
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			log_set_level(LOG_WARN);
			continue;
		}
		if (cli_opt(argc, argv, &i, "-c", &v) || cli_opt(argc, argv, &i, "--config", &v)) {
			c.config_path = v;
			continue;
		}
		cli_usage_error("unknown option \"%s\" (see outreach --help)", argv[i]);
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	c.argc = argc - i;
	c.argv = argv + i;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(commands[k].name, argv[i]) == 0)
			return commands[k].fn(&c);
	cli_usage_error("unknown command \"%s\" (see outreach --help)", argv[i]);
}
