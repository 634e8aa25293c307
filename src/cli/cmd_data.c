/* cmd_data.c - init, contacts import|show, events import, event add, segments
 *
 * `contacts show` prints one contact as JSON: its fields and attributes,
 * the computed stats at now, the segments the store has it in with the
 * reason each holds (expr_explain, at now), subscriptions, sends, events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "import.h"
#include "schedule.h"
#include "stats.h"
#include "timeutil.h"
#include "tz.h"
#include "xmalloc.h"

int cmd_init(struct cli *c)
{
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 0);
	struct err e = {{0}};
	int from, to, rc = EXIT_OK;
	char *shown = store_url_shown(cfg->store);
	if (store_migrate(s, &from, &to, &e) < 0) {
		fprintf(stderr, "outreach: init: %s\n", e.msg);
		rc = EXIT_RUNTIME;
	} else {
		cli_store_pii(cfg, s, STORE_PII_RUN); /* a new store is sealed here */
		if (from == to)
			printf("store %s (%s) is up to date at schema version %d\n", shown,
			       store_backend(s), to);
		else
			printf("store %s (%s) migrated from schema version %d to %d\n", shown,
			       store_backend(s), from, to);
	}
	free(shown);
	store_close(s);
	config_free(cfg);
	return rc;
}

/* import_args - FILE [--format F] [--skip-bad] */
static void import_args(struct cli *c, int first, const char **file, const char **format,
			int *skip_bad, const char *what)
{
	*file = NULL;
	*skip_bad = 0;
	for (int i = first; i < c->argc; i++) {
		const char *v;
		if (strcmp(c->argv[i], "--skip-bad") == 0)
			*skip_bad = 1;
		else if (format && cli_opt(c->argc, c->argv, &i, "--format", &v)) {
			if (strcmp(v, "csv") != 0 && strcmp(v, "jsonl") != 0)
				cli_usage_error("--format: expected csv or jsonl, not \"%s\"", v);
			*format = v;
		} else if (c->argv[i][0] == '-' && c->argv[i][1])
			cli_usage_error("%s: unknown option \"%s\"", what, c->argv[i]);
		else if (!*file)
			*file = c->argv[i];
		else
			cli_usage_error("%s: one file at a time", what);
	}
	if (!*file)
		cli_usage_error("usage: outreach %s FILE", what);
}

/* import_refused - a file with bad rows and no --skip-bad: say so, change nothing */
static int import_refused(const char *file, struct diag *d, struct config *cfg)
{
	fprintf(stderr, "outreach: %s: nothing imported (%d problem%s)\n", file, d->errors,
		d->errors == 1 ? "" : "s");
	diag_release(d);
	config_free(cfg);
	return EXIT_USAGE;
}

/* what a streamed import writes with: the store, inside one transaction */
struct import_sink {
	struct store *s;
	const char *file;
	int64_t now;
	size_t added; /* events: new ones */
	struct err e;
};

static int contact_each(void *ud, struct contact *c)
{
	struct import_sink *k = ud;
	if (store_contact_upsert(k->s, c, k->now, &k->e) < 0)
		return err_prefix(&k->e, "%s:%d", k->file, c->line);
	return 0;
}

/* contacts_import - rows go to the store as they are read, in one
 * transaction that a bad row rolls back: memory stays flat at any size */
static int contacts_import(struct cli *c)
{
	const char *file, *format = NULL;
	int skip_bad;
	import_args(c, 2, &file, &format, &skip_bad, "contacts import");
	struct config *cfg = cli_config(c);
	struct diag d;
	diag_init(&d);
	size_t n = 0;
	struct store *s = cli_store(cfg, 1);
	struct import_sink k = {.s = s, .file = file, .now = time_now()};
	int rc = store_begin(s, &k.e);
	if (rc == 0)
		rc = import_contacts_each(file, format, skip_bad, contact_each, &k, &n, &d);
	diag_print(&d);
	if (rc < 0) {
		store_rollback(s);
		store_close(s);
		if (k.e.msg[0]) {
			fprintf(stderr, "outreach: %s: nothing imported: %s\n", file, k.e.msg);
			diag_release(&d);
			config_free(cfg);
			return EXIT_RUNTIME;
		}
		return import_refused(file, &d, cfg);
	}
	rc = store_commit(s, &k.e);
	if (rc < 0) {
		fprintf(stderr, "outreach: %s: nothing imported: %s\n", file, k.e.msg);
	} else {
		printf("imported %zu contact%s from %s", n, n == 1 ? "" : "s", file);
		if (d.errors)
			printf(" (skipped %d bad row%s)", d.errors, d.errors == 1 ? "" : "s");
		printf("\n");
		store_notify(s);
	}
	diag_release(&d);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

void cli_subscription_json(void *ud, const char *channel, const char *cls, int subscribed)
{
	json_t *o = json_object_get(ud, channel);
	if (!o) {
		o = json_object();
		json_object_set_new(ud, channel, o);
	}
	json_object_set_new(o, cls, json_boolean(subscribed));
}

static json_t *send_json(const struct send_row *r)
{
	char due[32], sent[32];
	time_format(r->due_at, due, sizeof(due));
	json_t *o = json_pack("{s:I, s:s, s:i, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:s?}", "id",
			      (json_int_t)r->id, "campaign", r->campaign, "step", r->step + 1,
			      "state", r->state, "due_at", due, "template", r->template,
			      "transport", r->transport, "address", r->address, "attempts",
			      r->attempts, "reason", r->reason);
	if (r->sent_at) {
		time_format(r->sent_at, sent, sizeof(sent));
		json_object_set_new(o, "sent_at", json_string(sent));
	}
	return o;
}

/* segments_why - {SEGMENT: {expression, holds, because}} for each of the
 * contact's stored segments, evaluated at now: `holds` false when time or
 * a new event has taken it out and no run has recorded that yet */
static int segments_why(struct store *s, const struct config *cfg, const struct contact *ct,
			char **segs, size_t nseg, int64_t now, json_t *why, struct err *e)
{
	for (size_t i = 0; i < nseg; i++) {
		const struct segment_conf *sc = config_segment(cfg, segs[i]);
		json_t *o = json_object();
		json_object_set_new(why, segs[i], o);
		if (!sc || !sc->expr) {
			json_object_set_new(o, "because",
					    json_string("not in the config any more"));
			continue;
		}
		struct buf b = BUF_INIT;
		int member;
		if (segment_explain(s, cfg, ct, (size_t)(sc - cfg->segments), now, &member, &b, e) <
		    0) {
			buf_release(&b);
			return -1;
		}
		json_object_set_new(o, "expression", json_string(sc->source));
		json_object_set_new(o, "holds", json_boolean(member));
		json_object_set_new(o, "because", json_string(buf_cstr(&b)));
		buf_release(&b);
	}
	return 0;
}

static int contacts_show(struct cli *c)
{
	const char *id = NULL, *nowv = NULL;
	for (int i = 2; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		if (id || (c->argv[i][0] == '-' && c->argv[i][1]))
			cli_usage_error("usage: outreach contacts show ID [--now TIME]");
		id = c->argv[i];
	}
	if (!id)
		cli_usage_error("usage: outreach contacts show ID [--now TIME]");
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct contact ct;
	int rc = store_contact_get(s, id, &ct, &e);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "outreach: %s\n", e.msg);
		else
			fprintf(stderr, "outreach: contacts show: no contact \"%s\"\n", id);
		store_close(s);
		config_free(cfg);
		return rc < 0 ? EXIT_RUNTIME : EXIT_USAGE;
	}
	json_t *o = json_object();
	static const char *const fields[] = {"id", "name", "email", "phone", "timezone", "locale"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (contact_field(&ct, fields[i]))
			json_object_set_new(o, fields[i], json_string(contact_field(&ct, fields[i])));
	json_object_set_new(o, "do_not_contact", json_boolean(ct.do_not_contact));
	json_object_set(o, "attributes", ct.attrs);
	char **segs;
	size_t nseg;
	json_t *sj = json_array(), *subs = json_object(), *sends = json_array(),
	       *events = json_array(), *stats = NULL, *why = json_object();
	rc = stats_compute(s, &cfg->stats, id, now, &stats, &e);
	json_object_set_new(o, "stats", stats ? stats : json_object());
	if (rc == 0 && (rc = store_segments_of(s, id, &segs, &nseg, &e)) == 0) {
		for (size_t i = 0; i < nseg; i++)
			json_array_append_new(sj, json_string(segs[i]));
		rc = segments_why(s, cfg, &ct, segs, nseg, now, why, &e);
		strv_free(segs, nseg);
	}
	json_object_set_new(o, "segments", sj);
	json_object_set_new(o, "why", why);
	if (rc == 0)
		rc = store_subscriptions_of(s, id, cli_subscription_json, subs, &e);
	json_object_set_new(o, "subscriptions", subs);
	struct send_row *rows;
	size_t n;
	if (rc == 0 && (rc = store_sends_of(s, id, 20, &rows, &n, &e)) == 0) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(sends, send_json(&rows[i]));
		send_rows_free(rows, n);
	}
	json_object_set_new(o, "sends", sends);
	struct event_row *evs;
	if (rc == 0 && (rc = store_events_of(s, id, 20, &evs, &n, &e)) == 0) {
		for (size_t i = 0; i < n; i++) {
			char at[32];
			time_format(evs[i].ev.at, at, sizeof(at));
			json_array_append_new(events,
					      json_pack("{s:I, s:s, s:s, s:O}", "id",
							(json_int_t)evs[i].id, "type", evs[i].ev.type,
							"at", at, "data", evs[i].ev.data));
		}
		event_rows_free(evs, n);
	}
	json_object_set_new(o, "events", events);
	if (rc == 0) {
		char *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", out);
		free(out);
	} else {
		fprintf(stderr, "outreach: %s\n", e.msg);
	}
	json_decref(o);
	contact_release(&ct);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_contacts(struct cli *c)
{
	if (c->argc >= 2 && strcmp(c->argv[1], "import") == 0)
		return contacts_import(c);
	if (c->argc >= 2 && strcmp(c->argv[1], "show") == 0)
		return contacts_show(c);
	if (c->argc >= 2 && strcmp(c->argv[1], "export") == 0)
		return contacts_export(c);
	if (c->argc >= 2 && strcmp(c->argv[1], "forget") == 0)
		return contacts_forget(c);
	cli_usage_error("usage: outreach contacts import FILE | show ID | export [ID] | forget ID");
}


static int event_each(void *ud, struct event *ev)
{
	struct import_sink *k = ud;
	int inserted;
	if (store_event_add(k->s, ev, k->now, NULL, &inserted, &k->e) < 0)
		return ev->line ? err_prefix(&k->e, "%s:%d", k->file, ev->line)
				: err_prefix(&k->e, "%s", k->file);
	k->added += (size_t)inserted;
	return 0;
}

/* add_events - insert parsed events in one transaction; all or nothing */
static int add_events(struct store *s, const char *file, struct event *ev, size_t n, int64_t now,
		      size_t *added)
{
	struct import_sink k = {.s = s, .file = file, .now = now};
	int rc = store_begin(s, &k.e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = event_each(&k, &ev[i]);
	if (rc == 0)
		rc = store_commit(s, &k.e);
	else
		store_rollback(s);
	if (rc < 0)
		fprintf(stderr, "outreach: %s\n", k.e.msg);
	else
		store_notify(s);
	*added = k.added;
	return rc;
}

/* cmd_events - events import, streamed into one transaction as contacts are */
int cmd_events(struct cli *c)
{
	if (c->argc < 2 || strcmp(c->argv[1], "import") != 0)
		cli_usage_error("usage: outreach events import FILE [--skip-bad]");
	const char *file;
	int skip_bad;
	import_args(c, 2, &file, NULL, &skip_bad, "events import");
	struct config *cfg = cli_config(c);
	struct diag d;
	diag_init(&d);
	size_t n = 0;
	struct store *s = cli_store(cfg, 1);
	struct import_sink k = {.s = s, .file = file, .now = time_now()};
	int rc = store_begin(s, &k.e);
	if (rc == 0)
		rc = import_events_each(file, skip_bad, k.now, event_each, &k, &n, &d);
	diag_print(&d);
	if (rc < 0) {
		store_rollback(s);
		store_close(s);
		if (k.e.msg[0]) {
			fprintf(stderr, "outreach: %s\n", k.e.msg);
			fprintf(stderr, "outreach: %s: nothing imported\n", file);
			diag_release(&d);
			config_free(cfg);
			return EXIT_USAGE;
		}
		return import_refused(file, &d, cfg);
	}
	rc = store_commit(s, &k.e);
	if (rc == 0) {
		store_notify(s);
		printf("imported %zu event%s from %s (%zu already there)\n", k.added,
		       k.added == 1 ? "" : "s", file, n - k.added);
	} else {
		fprintf(stderr, "outreach: %s\n", k.e.msg);
		fprintf(stderr, "outreach: %s: nothing imported\n", file);
	}
	diag_release(&d);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_USAGE : EXIT_OK;
}

int cmd_event(struct cli *c)
{
	if (c->argc < 2 || strcmp(c->argv[1], "add") != 0)
		cli_usage_error("usage: outreach event add --contact ID --type T [--at TIME] [--data JSON]");
	const char *contact = NULL, *type = NULL, *at = NULL, *data = NULL;
	for (int i = 2; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--contact", &contact) ||
		    cli_opt(c->argc, c->argv, &i, "--type", &type) ||
		    cli_opt(c->argc, c->argv, &i, "--at", &at) ||
		    cli_opt(c->argc, c->argv, &i, "--data", &data))
			continue;
		cli_usage_error("event add: unknown argument \"%s\"", c->argv[i]);
	}
	if (!contact || !type)
		cli_usage_error("event add: --contact and --type are required");
	struct event ev = {0};
	ev.contact_id = xstrdup(contact);
	ev.type = xstrdup(type);
	ev.at = at ? cli_time("--at", at) : time_now();
	if (data) {
		json_error_t je;
		ev.data = json_loads(data, 0, &je);
		if (!json_is_object(ev.data))
			cli_usage_error("event add: --data: expected a JSON object (%s)",
					ev.data ? "not an object" : je.text);
	} else {
		ev.data = json_object();
	}
	for (const char *p = type; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
			cli_usage_error("event add: --type: invalid event type \"%s\"", type);
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	size_t added;
	int rc = add_events(s, "event add", &ev, 1, time_now(), &added);
	if (rc == 0)
		printf("%s\n", added ? "event recorded" : "event already recorded");
	event_release(&ev);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_USAGE : EXIT_OK;
}

struct sizes {
	const struct config *cfg;
	int64_t *n;   /* per configured segment */
	json_t *gone; /* stored segments the config no longer has: name -> size */
};

static void add_size(void *ud, const char *seg, int64_t n)
{
	struct sizes *z = ud;
	const struct segment_conf *sc = config_segment(z->cfg, seg);
	if (sc)
		z->n[sc - z->cfg->segments] = n;
	else
		json_object_set_new(z->gone, seg, json_integer(n));
}

/* cmd_segments - every configured segment in config order with its size
 * as the store has it (0 when empty), then any the config no longer names */
int cmd_segments(struct cli *c)
{
	if (c->argc != 1)
		cli_usage_error("usage: outreach segments");
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	struct err e = {{0}};
	struct sizes z = {cfg, xcalloc(cfg->nsegments + 1, sizeof(int64_t)), json_object()};
	int rc = store_segment_sizes(s, add_size, &z, &e);
	if (rc < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
	} else {
		const char *k;
		json_t *v;
		printf("%-20s %s\n", "segment", "contacts");
		for (size_t i = 0; i < cfg->nsegments; i++)
			printf("%-20s %lld\n", cfg->segments[i].name, (long long)z.n[i]);
		json_object_foreach(z.gone, k, v)
		{
			printf("%-20s %lld (not in the config)\n", k,
			       (long long)json_integer_value(v));
		}
	}
	json_decref(z.gone);
	free(z.n);
	store_close(s);
	config_free(cfg);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}
