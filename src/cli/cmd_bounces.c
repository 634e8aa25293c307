/* cmd_bounces.c - bounces import: delivery status notifications and
 * complaint reports into the store
 *
 *   bounces import FILE... [--skip-bad] [--now TIME]
 *
 * FILE is an mbox (it starts with a "From " line), one message (.eml), or
 * a folder whose *.eml files are read in name order. Every message is
 * parsed first (dsn.c); one that is not a report is named (FILE, or
 * FILE:LINE for a message of an mbox, with its number) and nothing is
 * imported, exit 2, unless --skip-bad. Then, in one transaction, each
 * failed recipient is matched to a send (store_bounce_find: a bounce
 * token that verifies with the tracking secret, else the original's
 * Message-ID, else the latest send to the address) and recorded
 * (store_bounce_record). Counts go to stdout; each report no send matches
 * is named on stderr.
 *
 * Security: the files are mail from anyone. A bounce token counts only
 * when its HMAC verifies; the rest are hints that at worst find no send.
 * Recipient addresses are shown only escaped and cut (str_show).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "dsn.h"
#include "store_bounce.h"
#include "str.h"
#include "timeutil.h"
#include "track.h"
#include "xmalloc.h"

#define FILE_MAX ((size_t)1 << 30)

/* One message read, parsed. */
struct report {
	char *file;
	int line;  /* of its From_ line in an mbox, else 0 */
	int index; /* its number in an mbox (1-based), else 0 */
	struct dsn d;
};

struct reader {
	struct report *v;
	size_t n, cap;
	struct diag *d;
	int bad;
	const char *file; /* the file being read */
	int index;
};

static void add(struct reader *r, const char *msg, size_t n, int line, int index)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	struct report *p = &r->v[r->n];
	p->file = xstrdup(r->file);
	p->line = line;
	p->index = index;
	dsn_parse(msg, n, &p->d);
	if (p->d.kind != DSN_NONE) {
		r->n++;
		return;
	}
	if (index)
		diag_error(
		    r->d, r->file, line,
		    "message %d: not a delivery status notification or complaint report (%s)",
		    index, p->d.why);
	else
		diag_error(r->d, r->file, 0,
			   "not a delivery status notification or complaint report (%s)", p->d.why);
	r->bad++;
	dsn_release(&p->d);
	free(p->file);
}

static void mbox_message(void *ud, const char *msg, size_t n, int line)
{
	struct reader *r = ud;
	add(r, msg, n, line, ++r->index);
}

/* slurp - the whole file; NULL with why in d */
static char *slurp(struct reader *r, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		diag_error(r->d, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0 && b.len <= FILE_MAX)
		buf_append(&b, tmp, k);
	int err = ferror(f);
	fclose(f);
	if (err || b.len > FILE_MAX) {
		diag_error(r->d, path, 0, err ? "read error" : "larger than 1 GiB");
		buf_release(&b);
		return NULL;
	}
	*len = b.len;
	return buf_detach(&b);
}

static void read_file(struct reader *r, const char *path)
{
	size_t len;
	char *data = slurp(r, path, &len);
	if (!data) {
		r->bad++;
		return;
	}
	r->file = path;
	r->index = 0;
	if (len >= 5 && memcmp(data, "From ", 5) == 0)
		dsn_mbox_each(data, len, mbox_message, r);
	else if (len)
		add(r, data, len, 0, 0);
	else {
		diag_error(r->d, path, 0, "empty file");
		r->bad++;
	}
	free(data);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_eml(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && name[0] != '.' && str_ieq(name + n - 4, ".eml");
}

static void read_dir(struct reader *r, const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		diag_error(r->d, dir, 0, "cannot open: %s", strerror(errno));
		r->bad++;
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!is_eml(de->d_name))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(dp);
	if (n > 1) /* names is NULL in an empty folder: not for qsort */
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			read_file(r, names[i]);
		free(names[i]);
	}
	free(names);
	if (!n) {
		diag_error(r->d, dir, 0, "no .eml files in this folder");
		r->bad++;
	}
}

/* where - how a report is named in messages */
static void where(const struct report *p, char *out, size_t n)
{
	if (p->index)
		snprintf(out, n, "%s:%d (message %d)", p->file, p->line, p->index);
	else
		snprintf(out, n, "%s", p->file);
}

struct counts {
	int hard, soft, complaints, unmatched, already, ignored, reports;
};

/* token_send - the send id of a bounce token that verifies, else 0 */
static int64_t token_send(const char *secret, const char *tok)
{
	char kind;
	int64_t id;
	int link;
	if (!tok || !secret || !*secret || track_verify(secret, tok, &kind, &id, &link) < 0 ||
	    kind != 'b')
		return 0;
	return id;
}

/* import_one - match and record every failed recipient of one report */
static int import_one(struct store *s, const struct report *p, const char *secret, int64_t now,
		      struct counts *c, struct err *e)
{
	const struct dsn *d = &p->d;
	size_t actionable = 0;
	for (size_t i = 0; i < d->nrcpts; i++)
		actionable += d->rcpts[i].kind != DSN_OTHER;
	c->reports++;
	if (!actionable) {
		c->ignored++;
		return 0;
	}
	int64_t verp = token_send(secret, d->verp);
	if (!verp)
		verp = token_send(secret, d->envelope_id);
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		if (r->kind == DSN_OTHER)
			continue;
		/* the report's own keys name one message: they stand for its
		 * recipient only when it is the only one */
		char *key = contact_address_key(r->address);
		int64_t sid;
		enum bounce_by by;
		int rc =
		    store_bounce_find(s, actionable == 1 ? verp : 0,
				      actionable == 1 ? d->message_id : NULL, key, &sid, &by, e);
		free(key);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			char w[1200];
			struct shown sh;
			where(p, w, sizeof(w));
			fprintf(stderr,
				"outreach: %s: no send matches this %s (recipient %s%s%s)\n", w,
				r->kind == DSN_COMPLAINT ? "complaint" : "bounce",
				r->address ? str_show(&sh, r->address) : "unknown",
				d->message_id ? ", Message-ID " : "",
				d->message_id ? d->message_id : "");
			c->unmatched++;
			continue;
		}
		struct bounce b = {
		    .send_id = sid,
		    .complaint = r->kind == DSN_COMPLAINT,
		    .hard = r->kind == DSN_HARD,
		    .delayed = r->action && strcmp(r->action, "delayed") == 0,
		    .status = r->status,
		    .diagnostic = r->diagnostic,
		    .feedback_type = d->feedback_type,
		    .report_id = d->id,
		    .at = d->date > 0 ? d->date : now,
		};
		int recorded;
		if (store_bounce_record(s, &b, now, &recorded, e) < 0)
			return -1;
		if (!recorded)
			c->already++;
		else if (b.complaint)
			c->complaints++;
		else if (b.hard)
			c->hard++;
		else
			c->soft++;
	}
	return 0;
}

static int bounces_import(struct cli *c)
{
	const char *nowv = NULL;
	int skip_bad = 0;
	char **files = xcalloc((size_t)c->argc + 1, sizeof(*files));
	size_t nfiles = 0;
	for (int i = 2; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--skip-bad") == 0)
			skip_bad = 1;
		else if (cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		else if (c->argv[i][0] == '-' && c->argv[i][1])
			cli_usage_error("bounces import: unknown option \"%s\"", c->argv[i]);
		else
			files[nfiles++] = c->argv[i];
	}
	if (!nfiles)
		cli_usage_error("usage: outreach bounces import FILE... [--skip-bad] [--now TIME] "
				"(an mbox, an .eml, or a folder of .eml files)");
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	struct config *cfg = cli_config(c);
	const char *secret = getenv(cfg->tracking_secret_env);
	struct diag d;
	diag_init(&d);
	struct reader r = {.d = &d};
	for (size_t i = 0; i < nfiles; i++) {
		struct stat st;
		if (stat(files[i], &st) == 0 && S_ISDIR(st.st_mode))
			read_dir(&r, files[i]);
		else
			read_file(&r, files[i]);
	}
	diag_print(&d);
	int rc = EXIT_OK;
	struct err e = {{0}};
	struct counts cn = {0};
	struct store *s = NULL;
	if (r.bad && !skip_bad) {
		fprintf(stderr, "outreach: bounces import: nothing imported (%d problem%s)\n",
			r.bad, r.bad == 1 ? "" : "s");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!secret || !*secret)
		fprintf(
		    stderr,
		    "outreach: warning: %s is not set: bounce tokens cannot be verified, reports "
		    "are matched by Message-ID and address only\n",
		    cfg->tracking_secret_env);
	s = cli_store(cfg, 1);
	int src = store_begin(s, &e);
	for (size_t i = 0; src == 0 && i < r.n; i++)
		if ((src = import_one(s, &r.v[i], secret, now, &cn, &e)) < 0) {
			char w[1200];
			where(&r.v[i], w, sizeof(w));
			err_prefix(&e, "%s", w);
		}
	if (src == 0)
		src = store_commit(s, &e);
	else
		store_rollback(s);
	if (src < 0) {
		fprintf(stderr, "outreach: bounces import: nothing imported: %s\n", e.msg);
		rc = EXIT_RUNTIME;
		goto out;
	}
	store_notify(s);
	printf("%d report%s: %d hard, %d soft, %d complaint%s, %d unmatched", cn.reports,
	       cn.reports == 1 ? "" : "s", cn.hard, cn.soft, cn.complaints,
	       cn.complaints == 1 ? "" : "s", cn.unmatched);
	if (cn.already)
		printf("; %d already recorded", cn.already);
	if (cn.ignored)
		printf("; %d with no failure (delivered, relayed or not-spam)", cn.ignored);
	if (r.bad)
		printf("; skipped %d bad message%s", r.bad, r.bad == 1 ? "" : "s");
	printf("\n");
out:
	for (size_t i = 0; i < r.n; i++) {
		dsn_release(&r.v[i].d);
		free(r.v[i].file);
	}
	free(r.v);
	free(files);
	diag_release(&d);
	store_close(s);
	config_free(cfg);
	return rc;
}

int cmd_bounces(struct cli *c)
{
	if (c->argc >= 2 && strcmp(c->argv[1], "import") == 0)
		return bounces_import(c);
	cli_usage_error("usage: outreach bounces import FILE... [--skip-bad] [--now TIME]");
}
