/* cmd_send.c - send-test: one message through one transport, by hand.
 *
 * Builds a short test message (or the given --subject/--text), delivers it
 * through the named transport exactly as the worker would (same options,
 * same secrets, same MIME), and prints the outcome: the code, the server's
 * words and the provider's id. Nothing is written to the store.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hash.h"
#include "log.h"
#include "timeutil.h"
#include "track.h"
#include "transport.h"
#include "xmalloc.h"

static const char *const status_words[] = {"ok", "deferred", "failed"};

int cmd_send_test(struct cli *c)
{
	const char *name = NULL, *to = NULL, *subject = NULL, *text = NULL;
	for (int i = 1; i < c->argc; i++) {
		const char *v;
		if (cli_opt(c->argc, c->argv, &i, "--transport", &v))
			name = v;
		else if (cli_opt(c->argc, c->argv, &i, "--to", &v))
			to = v;
		else if (cli_opt(c->argc, c->argv, &i, "--subject", &v))
			subject = v;
		else if (cli_opt(c->argc, c->argv, &i, "--text", &v))
			text = v;
		else
			cli_usage_error("send-test: unknown argument \"%s\"", c->argv[i]);
	}
	if (!name)
		cli_usage_error("usage: outreach send-test --transport NAME [--to ADDRESS] "
				"[--subject S] [--text T]");
	struct config *cfg = cli_config(c);
	const struct transport_conf *tc = config_transport(cfg, name);
	if (!tc) {
		fprintf(stderr, "outreach: send-test: no transport \"%s\" in %s\n", name, cfg->path);
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (tc->to && (!to || !*to)) {
		fprintf(stderr, "outreach: send-test: transport \"%s\" sends to a contact's %s: "
				"give --to ADDRESS\n", name, tc->to);
		config_free(cfg);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	struct err e = {{0}};
	struct transport *t = transport_create(cfg, tc, 0, &e);
	if (!t) {
		fprintf(stderr, "outreach: send-test: %s\n", e.msg);
		config_free(cfg);
		return EXIT_USAGE;
	}
	int64_t now = time_now();
	char stamp[32], hex[65], key[64];
	time_format(now, stamp, sizeof(stamp));
	int kn = snprintf(key, sizeof(key), "test/%lld/%d", (long long)now, (int)getpid());
	sha256_hex(key, (size_t)kn, hex);
	json_t *from = json_object_get(tc->opts, "from");
	const char *from_s = json_is_string(from) ? json_string_value(from) : NULL;
	const char *at = from_s ? strrchr(from_s, '@') : NULL;
	char *dom = at ? xstrndup(at + 1, strcspn(at + 1, "> \t\"'")) : xstrdup("outreach.invalid");
	char *msgid = xasprintf("<outreach.test.%.12s@%s>", hex, dom);
	char *body = text ? xstrdup(text)
			  : xasprintf("This is a test message from outreach through transport "
				      "\"%s\", sent at %s.\n", name, stamp);
	char *subj = subject ? xstrdup(subject) : xasprintf("outreach test: %s", name);
	const char *secret = getenv(cfg->tracking_secret_env);
	char *token = track_token(secret ? secret : "", 'b', 0, 0);
	struct message m = {
	    .send_id = 0,
	    .channel = tc->channel,
	    .to = to,
	    .from = from_s ? from_s : "outreach <outreach@localhost>",
	    .subject = subj,
	    .text = body,
	    .message_id = tc->channel == CHANNEL_EMAIL ? msgid : NULL,
	    .token = token,
	    .campaign = "send-test",
	    .step = 1,
	};
	const struct message *mp = &m;
	struct delivery d;
	transport_deliver(t, &mp, 1, now, &d);
	printf("%s: %s %s%s%s\n", status_words[d.status], d.code, d.reason,
	       d.provider_id[0] ? "; provider id " : "", d.provider_id);
	if (m.message_id && d.status == DELIVERY_OK)
		printf("message-id: %s\n", m.message_id);
	transport_free(t);
	free(token);
	free(subj);
	free(body);
	free(msgid);
	free(dom);
	config_free(cfg);
	return d.status == DELIVERY_OK ? EXIT_OK : EXIT_RUNTIME;
}
