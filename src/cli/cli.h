/* cli.h - shared by the command files: global options and set-up helpers */
#ifndef OUTREACH_CLI_H
#define OUTREACH_CLI_H
#include <stdint.h>

#include "config.h"
#include "store.h"

/* exit codes (INTERFACE.md) */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct cli {
	const char *config_path;
	int argc;
	char **argv; /* the command's own arguments, argv[0] = command */
};

/* cli_config - load and validate the config; prints problems and exits 2 on errors */
struct config *cli_config(const struct cli *c);
/* cli_store - open the store named by the config and check its schema; exits 1 on failure */
struct store *cli_store(const struct config *cfg, int need_ready);
/* cli_store_pii - attach the config's encryption keys to s (store.h's
 * STORE_PII_RUN or _ROTATE); exits 2 when a key is missing or malformed,
 * 1 when the store does not agree with the config */
void cli_store_pii(const struct config *cfg, struct store *s, int mode);
/* cli_time - parse --now style values; exits 2 naming the option */
int64_t cli_time(const char *opt, const char *v);
/* cli_opt - `--name VALUE` or `--name=VALUE` at argv[*i]; advances *i */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

int cmd_init(struct cli *c);
int cmd_check(struct cli *c);
int cmd_contacts(struct cli *c);
int cmd_events(struct cli *c);
int cmd_event(struct cli *c);
int cmd_run(struct cli *c);
int cmd_preview(struct cli *c);
int cmd_report(struct cli *c);
int cmd_why(struct cli *c);
int cmd_segments(struct cli *c);
int cmd_send_test(struct cli *c);
int cmd_plan(struct cli *c);
int cmd_suppress(struct cli *c);
int cmd_serve(struct cli *c);
int cmd_bounces(struct cli *c);
int cmd_keys(struct cli *c);
int cmd_outbox(struct cli *c);
/* cli_subscription_json - store_subscriptions_of's callback: sets
 * ud[channel][cls] (a JSON object) to subscribed, as true or false */
void cli_subscription_json(void *ud, const char *channel, const char *cls, int subscribed);
/* contacts export [ID] and contacts forget ID (cmd_privacy.c) */
int contacts_export(struct cli *c);
int contacts_forget(struct cli *c);

#endif
