/* cmd_plan.c - plan: what the next N days would send, under every policy
 *
 * plan never writes the real store. It takes a consistent copy of it
 * (store_snapshot: a SQLite file, by VACUUM INTO or, from PostgreSQL, copied
 * from one read-only snapshot) into a private temporary folder (mkdtemp,
 * mode 0700), closes the real store, and runs the real worker on the copy
 * with every transport a stand-in that accepts each message at once and
 * sends nothing (worker_opts.simulate), stepping a fixed clock from one due
 * instant to the next (at least a minute apart) until the horizon. So
 * expiry, `unless`, consent, suppression and every policy the worker
 * applies decide exactly as in a real run. It works only from what the
 * store holds: scheduled sends, segment re-evaluations, recurring
 * campaigns; events that have not happened yet are not invented.
 *
 * The report is read from the copy's send_log (only the rows the
 * simulation added) and grouped by local day (the config's timezone) and
 * campaign. The folder and the copy, which hold personal data, are removed
 * at the end, on errors, and on SIGINT/SIGTERM (which stop the simulation
 * at the next send). The worker's logging is silenced while it simulates.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "timeutil.h"
#include "tz.h"
#include "worker.h"
#include "xmalloc.h"

#define DAYS_DEFAULT 7
#define DAYS_MAX 90
#define STEP_MIN 60 /* seconds: the clock never moves by less */
#define TOP_CONTACTS 10

/* the counts kept per (day, campaign) and in the totals */
enum { K_SENT, K_DEFERRED, K_DEFERRED_SENDS, K_SUPPRESSED, K_EXPIRED, K_CANCELLED, K_FAILED, K_N };
static const char *const kinds[K_N] = {"sent",	  "deferred",  "deferred_sends", "suppressed",
				       "expired", "cancelled", "failed"};

struct day_row {
	char date[16];
	char *campaign;
	int64_t n[K_N];
};

struct who {
	char *contact;
	int64_t messages;
	unsigned channels; /* bit per enum channel_kind */
};

/* index - string key -> position in an array (open addressing, FNV-1a) */
struct index {
	char **keys;
	size_t *pos;
	size_t cap, n;
};

struct plan {
	const char *zone;
	struct day_row *rows;
	size_t nrows, caprows;
	struct index row_ix;
	struct who *who;
	size_t nwho, capwho;
	struct index who_ix;
	int64_t total[K_N];
	/* the send whose changes are being read (they come in send order) */
	int64_t send_id;
	size_t *deferred_rows; /* rows where that send already counted as deferred */
	size_t ndeferred, capdeferred;
	/* day of the last instant looked up */
	int64_t day_at;
	char day[16];
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static size_t key_hash(const char *s)
{
	size_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* index_find - the position of key, or inserts it with position next and
 * sets *added */
static size_t index_find(struct index *ix, const char *key, size_t next, int *added)
{
	size_t i;
	*added = 0;
	if (2 * (ix->n + 1) > ix->cap) {
		struct index big = {NULL, NULL, ix->cap ? ix->cap * 2 : 64, 0};
		big.keys = xcalloc(big.cap, sizeof(*big.keys));
		big.pos = xcalloc(big.cap, sizeof(*big.pos));
		for (size_t j = 0; j < ix->cap; j++) {
			if (!ix->keys[j])
				continue;
			for (i = key_hash(ix->keys[j]) & (big.cap - 1); big.keys[i];
			     i = (i + 1) & (big.cap - 1))
				;
			big.keys[i] = ix->keys[j];
			big.pos[i] = ix->pos[j];
			big.n++;
		}
		free(ix->keys);
		free(ix->pos);
		*ix = big;
	}
	for (i = key_hash(key) & (ix->cap - 1); ix->keys[i]; i = (i + 1) & (ix->cap - 1))
		if (strcmp(ix->keys[i], key) == 0)
			return ix->pos[i];
	ix->keys[i] = xstrdup(key);
	ix->pos[i] = next;
	ix->n++;
	*added = 1;
	return next;
}

static void index_release(struct index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		free(ix->keys[i]);
	free(ix->keys);
	free(ix->pos);
	memset(ix, 0, sizeof(*ix));
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->nrows; i++)
		free(p->rows[i].campaign);
	free(p->rows);
	for (size_t i = 0; i < p->nwho; i++)
		free(p->who[i].contact);
	free(p->who);
	free(p->deferred_rows);
	index_release(&p->row_ix);
	index_release(&p->who_ix);
}

/* day_of - the local date of t in the plan's zone, "YYYY-MM-DD" */
static const char *day_of(struct plan *p, int64_t t)
{
	struct tz_local l;
	if (p->day[0] && t == p->day_at)
		return p->day;
	if (tz_localtime(p->zone, t, &l) < 0) /* the config validated the zone */
		log_panic("plan: time zone %s cannot be used", p->zone);
	snprintf(p->day, sizeof(p->day), "%04d-%02d-%02d", l.year, l.month, l.day);
	p->day_at = t;
	return p->day;
}

static struct day_row *row_of(struct plan *p, const char *day, const char *campaign, size_t *at)
{
	char *key = xasprintf("%s\n%s", day, campaign);
	int added;
	size_t i = index_find(&p->row_ix, key, p->nrows, &added);
	free(key);
	if (added) {
		if (p->nrows == p->caprows) {
			p->caprows = p->caprows ? p->caprows * 2 : 32;
			p->rows = xrealloc(p->rows, p->caprows * sizeof(*p->rows));
		}
		struct day_row *r = &p->rows[p->nrows++];
		memset(r, 0, sizeof(*r));
		snprintf(r->date, sizeof(r->date), "%s", day);
		r->campaign = xstrdup(campaign);
	}
	*at = i;
	return &p->rows[i];
}

static void count_message(struct plan *p, const char *contact, const char *channel)
{
	int added;
	size_t i = index_find(&p->who_ix, contact, p->nwho, &added);
	if (added) {
		if (p->nwho == p->capwho) {
			p->capwho = p->capwho ? p->capwho * 2 : 32;
			p->who = xrealloc(p->who, p->capwho * sizeof(*p->who));
		}
		p->who[p->nwho++] = (struct who){.contact = xstrdup(contact)};
	}
	p->who[i].messages++;
	int k = channel ? channel_parse(channel) : -1;
	if (k >= 0)
		p->who[i].channels |= 1u << k;
}

/* on_change - one state change the simulation made */
static void on_change(void *ud, const struct send_change *c)
{
	struct plan *p = ud;
	int k;
	if (strcmp(c->state, "sent") == 0)
		k = K_SENT;
	else if (strcmp(c->state, "deferred") == 0)
		k = K_DEFERRED;
	else if (strcmp(c->state, "suppressed") == 0)
		k = K_SUPPRESSED;
	else if (strcmp(c->state, "expired") == 0)
		k = K_EXPIRED;
	else if (strcmp(c->state, "cancelled") == 0)
		k = K_CANCELLED;
	else if (strcmp(c->state, "failed") == 0)
		k = K_FAILED;
	else
		return; /* scheduled: not an outcome */
	if (c->send_id != p->send_id) {
		p->send_id = c->send_id;
		p->ndeferred = 0;
	}
	size_t at;
	struct day_row *r = row_of(p, day_of(p, c->at), c->campaign, &at);
	r->n[k]++;
	p->total[k]++;
	if (k == K_SENT)
		count_message(p, c->contact, c->channel);
	if (k != K_DEFERRED)
		return;
	for (size_t i = 0; i < p->ndeferred; i++)
		if (p->deferred_rows[i] == at)
			return;
	if (p->ndeferred == 0)
		p->total[K_DEFERRED_SENDS]++;
	if (p->ndeferred == p->capdeferred) {
		p->capdeferred = p->capdeferred ? p->capdeferred * 2 : 8;
		p->deferred_rows = xrealloc(p->deferred_rows, p->capdeferred * sizeof(size_t));
	}
	p->deferred_rows[p->ndeferred++] = at;
	r->n[K_DEFERRED_SENDS]++;
}

static int row_cmp(const void *a, const void *b)
{
	const struct day_row *x = a, *y = b;
	int c = strcmp(x->date, y->date);
	return c ? c : strcmp(x->campaign, y->campaign);
}

static int who_cmp(const void *a, const void *b)
{
	const struct who *x = a, *y = b;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->contact, y->contact);
}

/* channels_text - "email,sms" for a channel bit set, into out */
static void channels_text(unsigned bits, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		if (bits & (1u << k))
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? "," : "",
					      channel_name((enum channel_kind)k));
}

static void print_json(const struct plan *p, int64_t from, int64_t to)
{
	char ts[32];
	json_t *doc = json_object(), *days = json_array(), *top = json_array(),
	       *tot = json_object();
	time_format(from, ts, sizeof(ts));
	json_object_set_new(doc, "from", json_string(ts));
	time_format(to, ts, sizeof(ts));
	json_object_set_new(doc, "to", json_string(ts));
	json_object_set_new(doc, "timezone", json_string(p->zone));
	for (size_t i = 0; i < p->nrows; i++) {
		json_t *o = json_pack("{s:s, s:s}", "date", p->rows[i].date, "campaign",
				      p->rows[i].campaign);
		for (int k = 0; k < K_N; k++)
			json_object_set_new(o, kinds[k], json_integer(p->rows[i].n[k]));
		json_array_append_new(days, o);
	}
	json_object_set_new(doc, "days", days);
	for (size_t i = 0; i < p->nwho && i < TOP_CONTACTS; i++) {
		json_t *a = json_array();
		for (int k = 0; k < CHANNEL_NKINDS; k++)
			if (p->who[i].channels & (1u << k))
				json_array_append_new(
				    a, json_string(channel_name((enum channel_kind)k)));
		json_array_append_new(
		    top, json_pack("{s:s, s:I, s:o}", "contact", p->who[i].contact, "messages",
				   (json_int_t)p->who[i].messages, "channels", a));
	}
	json_object_set_new(doc, "top_contacts", top);
	for (int k = 0; k < K_N; k++)
		json_object_set_new(tot, kinds[k], json_integer(p->total[k]));
	json_object_set_new(tot, "contacts", json_integer((json_int_t)p->nwho));
	json_object_set_new(doc, "totals", tot);
	char *out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", out);
	free(out);
	json_decref(doc);
}

static void print_table(const struct plan *p, int64_t from, int64_t to)
{
	int cw = (int)strlen("campaign");
	int w[K_N];
	char ts0[32], ts1[32], chs[64];
	for (size_t i = 0; i < p->nrows; i++)
		if ((int)strlen(p->rows[i].campaign) > cw)
			cw = (int)strlen(p->rows[i].campaign);
	printf("%-10s  %-*s", "date", cw, "campaign");
	for (int k = 0; k < K_N; k++) {
		w[k] = (int)strlen(kinds[k]) < 6 ? 6 : (int)strlen(kinds[k]);
		printf("  %*s", w[k], kinds[k]);
	}
	printf("\n");
	for (size_t i = 0; i < p->nrows; i++) {
		printf("%-10s  %-*s", p->rows[i].date, cw, p->rows[i].campaign);
		for (int k = 0; k < K_N; k++)
			printf("  %*lld", w[k], (long long)p->rows[i].n[k]);
		printf("\n");
	}
	printf("%-10s  %-*s", "total", cw, "");
	for (int k = 0; k < K_N; k++)
		printf("  %*lld", w[k], (long long)p->total[k]);
	printf("\n");
	if (p->nwho) {
		int iw = (int)strlen("contact");
		for (size_t i = 0; i < p->nwho && i < TOP_CONTACTS; i++)
			if ((int)strlen(p->who[i].contact) > iw)
				iw = (int)strlen(p->who[i].contact);
		printf("\n%-*s  %8s  %s\n", iw, "contact", "messages", "channels");
		for (size_t i = 0; i < p->nwho && i < TOP_CONTACTS; i++) {
			channels_text(p->who[i].channels, chs, sizeof(chs));
			printf("%-*s  %8lld  %s\n", iw, p->who[i].contact,
			       (long long)p->who[i].messages, chs);
		}
	}
	time_format(from, ts0, sizeof(ts0));
	time_format(to, ts1, sizeof(ts1));
	printf("\nsimulated %s to %s (dates in %s): %lld message%s to %zu contact%s; nothing was "
	       "sent\n",
	       ts0, ts1, p->zone, (long long)p->total[K_SENT], p->total[K_SENT] == 1 ? "" : "s",
	       p->nwho, p->nwho == 1 ? "" : "s");
}

/* rm_tree - remove the plan's folder and the files in it (no subfolders) */
static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	if (rmdir(dir) < 0)
		fprintf(stderr, "outreach: plan: cannot remove %s (remove it by hand)\n", dir);
}

/* simulate - the worker on the copy at t = now, then at each next due
 * instant up to end; 0, -1 with e set, 1 stopped by a signal */
static int simulate(struct store *s, const struct config *cfg, int64_t now, int64_t end,
		    struct err *e)
{
	struct worker_opts o = {.once = 1,
				.simulate = 1,
				.batch = 1000,
				.lease = 300,
				.max_attempts = 5,
				.stop = &stop_flag};
	struct worker_totals tot;
	for (int64_t t = now; t <= end;) {
		o.now = t;
		if (worker_run(s, cfg, &o, &tot, e) < 0) {
			char ts[32];
			time_format(t, ts, sizeof(ts));
			return err_prefix(e, "at %s", ts);
		}
		if (stop_flag)
			return 1;
		int64_t next;
		if (store_next_wakeup(s, &next, e) < 0)
			return -1;
		if (next == TIME_NEVER)
			break;
		t = next > t + STEP_MIN ? next : t + STEP_MIN;
	}
	return 0;
}

/* days_arg - a whole number from 1 to DAYS_MAX */
static int days_arg(const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 1 || n > DAYS_MAX)
		cli_usage_error(
		    "plan: --days: expected a whole number of days from 1 to %d, not \"%s\"",
		    DAYS_MAX, v);
	return (int)n;
}

int cmd_plan(struct cli *c)
{
	const char *nowv = NULL, *format = "table", *v;
	int days = DAYS_DEFAULT;
	for (int i = 1; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		if (cli_opt(c->argc, c->argv, &i, "--days", &v)) {
			days = days_arg(v);
			continue;
		}
		if (cli_opt(c->argc, c->argv, &i, "--format", &format)) {
			if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
				cli_usage_error(
				    "plan: --format: expected table or json, not \"%s\"", format);
			continue;
		}
		cli_usage_error("plan: unknown argument \"%s\"", c->argv[i]);
	}
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	int64_t end = now + (int64_t)days * 86400;
	struct config *cfg = cli_config(c);
	struct store *s = cli_store(cfg, 1);
	/* from here on a signal stops the simulation and lets the folder go */
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/outreach-plan.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "outreach: plan: cannot create a temporary folder in %s: %s\n",
			tmp && *tmp ? tmp : "/tmp", strerror(errno));
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		free(dir);
		store_close(s);
		config_free(cfg);
		return EXIT_RUNTIME;
	}

	char *copy = xasprintf("%s/plan.db", dir);
	struct err e = {{0}};
	struct plan p = {.zone = cfg->timezone};
	struct store *cs = NULL;
	int64_t mark = 0;
	int rc = store_snapshot(s, copy, &e);
	if (rc < 0)
		err_prefix(&e, "cannot copy the store");
	store_close(s); /* the real store is not touched again */
	if (rc == 0 && !stop_flag) {
		enum log_level level = log_get_level();
		log_set_level((enum log_level)(LOG_ERROR + 1)); /* the worker says nothing */
		cs = store_open(copy, &e);
		if (!cs || store_ready(cs, &e) < 0 ||
		    store_pii_setup(cs, cfg->encrypt, cfg->encrypt_key_env, STORE_PII_RUN, &e) < 0)
			rc = -1;
		else if ((rc = store_last_change(cs, &mark, &e)) == 0)
			rc = simulate(cs, cfg, now, end, &e);
		log_set_level(level);
	}
	if (rc == 0 && stop_flag)
		rc = 1;
	if (rc == 0)
		rc = store_changes(cs, mark, now, on_change, &p, &e);
	store_close(cs);
	rm_tree(dir);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc == 0) {
		/* the arrays are NULL when empty: not for qsort */
		if (p.nrows > 1)
			qsort(p.rows, p.nrows, sizeof(*p.rows), row_cmp);
		if (p.nwho > 1)
			qsort(p.who, p.nwho, sizeof(*p.who), who_cmp);
		if (strcmp(format, "json") == 0)
			print_json(&p, now, end);
		else
			print_table(&p, now, end);
	} else if (rc > 0) {
		fprintf(stderr, "outreach: plan: interrupted; nothing was changed\n");
	} else {
		fprintf(stderr, "outreach: plan: %s\n", e.msg);
	}
	plan_release(&p);
	free(copy);
	free(dir);
	config_free(cfg);
	return rc == 0 ? EXIT_OK : EXIT_RUNTIME;
}
