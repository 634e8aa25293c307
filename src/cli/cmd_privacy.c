/* cmd_privacy.c - what privacy law asks of the data outreach keeps:
 * `contacts export`, `contacts forget ID`, `keys rotate`, `outbox show`.
 *
 * `contacts export` writes every contact as a JSON line `contacts import`
 * takes back (fields, subscriptions as unsubscribed_* columns,
 * attributes); `contacts export ID` writes everything held about one
 * person (a subject access request): fields, attributes, subscriptions,
 * segments, every event, every send with its history and attempts, and
 * the messages they sent in. Both print personal data in clear, on
 * purpose: they are how a person gets their data.
 *
 * Security: forget and rotate are one transaction each, so a failure
 * changes nothing; no key is ever printed, only key ids.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "pii.h"
#include "store_feedback.h"
#include "timeutil.h"
#include "xmalloc.h"

static void put_json(json_t *o, size_t flags)
{
	char *s = json_dumps(o, flags | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void set_time(json_t *o, const char *k, int64_t t)
{
	char buf[32];
	time_format(t, buf, sizeof(buf));
	json_object_set_new(o, k, json_string(buf));
}

/* unsub_col - the import columns: unsubscribed_KIND true where the contact
 * left marketing on that channel */
static void unsub_col(void *ud, const char *channel, const char *cls, int subscribed)
{
	if (subscribed || strcmp(cls, "marketing") != 0)
		return;
	char key[64];
	snprintf(key, sizeof(key), "unsubscribed_%s", channel);
	json_object_set_new(ud, key, json_true());
}

/* contact_json - the fields of c as `contacts import` reads them */
static json_t *contact_json(const struct contact *c)
{
	json_t *o = json_object();
	set_str(o, "id", c->id);
	set_str(o, "name", c->name);
	set_str(o, "email", c->email);
	set_str(o, "phone", c->phone);
	set_str(o, "timezone", c->timezone);
	set_str(o, "locale", c->locale);
	if (c->do_not_contact > 0)
		json_object_set_new(o, "do_not_contact", json_true());
	return o;
}

struct export_all {
	struct store *s;
	struct err *e;
	size_t n;
};

static int export_one(void *ud, const struct contact *c)
{
	struct export_all *x = ud;
	json_t *o = contact_json(c);
	int rc = store_subscriptions_of(x->s, c->id, unsub_col, o, x->e);
	const char *k;
	json_t *v;
	json_object_foreach(c->attrs, k, v)
	{
		if (!json_object_get(o, k))
			json_object_set(o, k, v);
	}
	if (rc == 0) {
		put_json(o, JSON_COMPACT);
		x->n++;
	}
	json_decref(o);
	return rc;
}

static void history_row(void *ud, int64_t at, const char *state, const char *reason)
{
	json_t *o = json_object();
	set_time(o, "at", at);
	set_str(o, "state", state);
	set_str(o, "reason", reason);
	json_array_append_new(ud, o);
}

static void attempt_row(void *ud, int64_t at, const char *transport, const char *status,
			const char *code, const char *reason)
{
	json_t *o = json_object();
	set_time(o, "at", at);
	set_str(o, "transport", transport);
	set_str(o, "status", status);
	set_str(o, "code", code);
	set_str(o, "reason", reason);
	json_array_append_new(ud, o);
}

static void inbound_row(void *ud, const struct inbound *in)
{
	json_t *o = json_object();
	set_time(o, "at", in->at);
	set_str(o, "channel", in->channel);
	set_str(o, "kind", in->kind);
	set_str(o, "text", in->text);
	if (in->send_id)
		json_object_set_new(o, "send_id", json_integer(in->send_id));
	json_array_append_new(ud, o);
}

/* export_person - everything held about contact id, as one JSON document */
static int export_person(struct store *s, const char *id, struct err *e)
{
	struct contact c;
	int rc = store_contact_get(s, id, &c, e);
	if (rc != 0)
		return rc < 0 ? -1 : 1;
	json_t *o = contact_json(&c);
	json_object_set(o, "attributes", c.attrs);
	json_t *subs = json_object(), *segs = json_array(), *events = json_array(),
	       *sends = json_array(), *inbound = json_array();
	json_object_set_new(o, "subscriptions", subs);
	json_object_set_new(o, "segments", segs);
	json_object_set_new(o, "events", events);
	json_object_set_new(o, "sends", sends);
	json_object_set_new(o, "inbound", inbound);
	rc = store_subscriptions_of(s, id, cli_subscription_json, subs, e);
	char **names;
	size_t n;
	if (rc == 0 && (rc = store_segments_of(s, id, &names, &n, e)) == 0) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(segs, json_string(names[i]));
		strv_free(names, n);
	}
	struct event_row *ev;
	if (rc == 0 && (rc = store_events_of(s, id, INT_MAX, &ev, &n, e)) == 0) {
		for (size_t i = n; i-- > 0;) {
			json_t *x = json_object();
			json_object_set_new(x, "id", json_integer(ev[i].id));
			set_str(x, "type", ev[i].ev.type);
			set_time(x, "at", ev[i].ev.at);
			json_object_set(x, "data", ev[i].ev.data);
			json_array_append_new(events, x);
		}
		event_rows_free(ev, n);
	}
	struct send_row *r;
	if (rc == 0 && (rc = store_sends_of(s, id, INT_MAX, &r, &n, e)) == 0) {
		for (size_t i = n; i-- > 0 && rc == 0;) {
			json_t *x = json_object(), *hist = json_array(), *att = json_array();
			json_object_set_new(x, "id", json_integer(r[i].id));
			set_str(x, "campaign", r[i].campaign);
			json_object_set_new(x, "step", json_integer(r[i].step + 1));
			set_str(x, "state", r[i].state);
			set_str(x, "channel", r[i].channel);
			set_str(x, "transport", r[i].transport);
			set_str(x, "template", r[i].template);
			set_time(x, "due_at", r[i].due_at);
			if (r[i].sent_at)
				set_time(x, "sent_at", r[i].sent_at);
			json_object_set_new(x, "history", hist);
			json_object_set_new(x, "attempts", att);
			json_array_append_new(sends, x);
			rc = store_send_history(s, r[i].id, history_row, hist, e);
			if (rc == 0)
				rc = store_send_attempts(s, r[i].id, attempt_row, att, e);
		}
		send_rows_free(r, n);
	}
	if (rc == 0)
		rc = store_inbound_of(s, id, inbound_row, inbound, e);
	if (rc == 0)
		put_json(o, JSON_INDENT(2));
	json_decref(o);
	contact_release(&c);
	return rc;
}

int contacts_export(struct cli *c)
{
	const char *id = NULL;
	for (int i = 2; i < c->argc; i++) {
		if (id || (c->argv[i][0] == '-' && c->argv[i][1]))
			cli_usage_error("usage: outreach contacts export [ID]");
		id = c->argv[i];
	}
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	int rc;
	struct export_all x = {.s = s, .e = &e};
	if (id)
		rc = export_person(s, id, &e);
	else
		rc = store_contacts_each(s, export_one, &x, &e);
	if (rc < 0)
		fprintf(stderr, "outreach: contacts export: %s\n", e.msg);
	else if (rc > 0)
		fprintf(stderr, "outreach: contacts export: no contact \"%s\"\n", id);
	else if (!id)
		fprintf(stderr, "outreach: exported %zu contact%s\n", x.n, x.n == 1 ? "" : "s");
	fflush(stdout);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : rc > 0 ? EXIT_USAGE : EXIT_OK;
}

int contacts_forget(struct cli *c)
{
	const char *id = NULL, *nowv = NULL;
	for (int i = 2; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		if (id || (c->argv[i][0] == '-' && c->argv[i][1]))
			cli_usage_error("usage: outreach contacts forget ID [--now TIME]");
		id = c->argv[i];
	}
	if (!id)
		cli_usage_error("usage: outreach contacts forget ID [--now TIME]");
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	int found = 0;
	int rc = store_contact_forget(s, id, now, &found, &e);
	if (rc < 0)
		fprintf(stderr, "outreach: contacts forget: %s (nothing was erased)\n", e.msg);
	else if (!found)
		fprintf(stderr, "outreach: contacts forget: no contact \"%s\"\n", id);
	else
		printf("forgot contact %s: erased everything about them; their addresses are kept "
		       "only as suppression hashes\n", id);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : !found ? EXIT_USAGE : EXIT_OK;
}

int cmd_keys(struct cli *c)
{
	if (c->argc != 2 || strcmp(c->argv[1], "rotate") != 0)
		cli_usage_error("usage: outreach keys rotate");
	struct config *cfg = cli_config(c);
	if (!cfg->encrypt) {
		fprintf(stderr, "outreach: keys rotate: %s: encrypt is not true\n", cfg->path);
		config_free(cfg);
		return EXIT_USAGE;
	}
	struct store *s = cli_store(cfg, 0);
	struct err e = {{0}};
	if (store_ready(s, &e) < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		store_close(s);
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	cli_store_pii(cfg, s, STORE_PII_ROTATE);
	int64_t changed = 0;
	int rc = store_pii_rotate(s, &changed, &e);
	if (rc == 0)
		rc = store_scrub(s, &e);
	if (rc < 0) {
		fprintf(stderr, "outreach: keys rotate: %s (nothing was changed)\n", e.msg);
	} else {
		printf("sealed %lld row%s under key %s; keys in $%s_OLD are no longer needed\n",
		       (long long)changed, changed == 1 ? "" : "s", store_pii_key_id(s),
		       cfg->encrypt_key_env);
	}
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* outbox_show - print outbox files in clear: sealed ones opened with the
 * config's keys, clear ones as they are */
int cmd_outbox(struct cli *c)
{
	if (c->argc < 3 || strcmp(c->argv[1], "show") != 0)
		cli_usage_error("usage: outreach outbox show FILE...");
	struct config *cfg = cli_config(c);
	struct pii_keys *k = NULL;
	struct err e = {{0}};
	int rc = EXIT_OK;
	for (int i = 2; i < c->argc && rc == EXIT_OK; i++) {
		FILE *f = fopen(c->argv[i], "rb");
		if (!f) {
			fprintf(stderr, "outreach: %s: cannot open\n", c->argv[i]);
			rc = EXIT_USAGE;
			break;
		}
		struct buf b = BUF_INIT;
		char chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_append(&b, chunk, got);
		fclose(f);
		const char *text = buf_cstr(&b);
		if (!pii_sealed(text)) {
			fwrite(text, 1, b.len, stdout);
		} else {
			char *clear = NULL;
			while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
				b.data[--b.len] = '\0';
			if (!k && !(k = pii_keys_from_env(cfg->encrypt_key_env, &e))) {
				fprintf(stderr, "outreach: outbox show: %s\n", e.msg);
				rc = EXIT_USAGE;
			} else if (pii_open(k, "outbox", buf_cstr(&b), &clear, &e) < 0) {
				fprintf(stderr, "outreach: %s: %s\n", c->argv[i], e.msg);
				rc = EXIT_RUNTIME;
			} else {
				fputs(clear, stdout);
			}
			free(clear);
		}
		buf_release(&b);
	}
	pii_keys_free(k);
	config_free(cfg);
	return rc;
}
