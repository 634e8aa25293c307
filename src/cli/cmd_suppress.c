/* cmd_suppress.c - suppress: the addresses that get nothing
 *
 *   suppress ADDRESS... [--reason R] [--channel email|sms|chat]
 *   suppress --import FILE [--skip-bad] [--reason R] [--channel C]
 *   suppress --list [--format table|json]
 *   suppress --remove ADDRESS...
 *
 * Adding goes through store_suppress in one transaction, after every
 * address was checked (an email must be one, a phone E.164): one bad
 * address and nothing is added. An import file is a plain list (one
 * address per line, `#` comments) or CSV whose header names `address` and
 * optionally `reason` and `channel`; it is checked whole first and a bad
 * row names FILE:LINE and imports nothing, unless --skip-bad, as the
 * contacts import does. The channel is the row's, else --channel, else
 * guessed: `@` is email, `+` or a digit first is sms.
 *
 * Addresses are personal data: they appear only in this command's own
 * output and in the error line that names a bad one (escaped and cut, so
 * a hostile file cannot put controls on the terminal), never in the log.
 * A chat address that is a URL (a person's webhook: its path or query
 * holds a token) is kept as the digest the worker matches on
 * (url-sha256:...), never as the URL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "hash.h"
#include "import.h"
#include "timeutil.h"
#include "utf8.h"
#include "str.h"
#include "xmalloc.h"

#define REASON_DEFAULT "suppressed by hand"
#define REASON_MAX 500
#define ADDRESS_MAX 2048
#define LINE_MAX_BYTES (64 * 1024)

/* one address to add, checked */
struct entry {
	char *key;   /* what the store keeps: the address, or a URL's digest */
	int channel; /* enum channel_kind */
	char *reason;
	int line; /* in the import file, 0 on the command line */
};

/* show_address - as show, but a URL only as far as its host: the rest
 * (path, query) may hold a token */
static const char *show_address(struct shown *sh, const char *addr)
{
	const char *p = strstr(addr, "://");
	if (!p)
		return str_show(sh, addr);
	p += 3;
	size_t n = (size_t)(p - addr) + strcspn(p, "/?#@");
	if (p[strcspn(p, "/?#@")] == '@') /* user:password@host */
		n = (size_t)(p - addr);
	char *cut = xasprintf("%.*s...", (int)n, addr);
	str_show(sh, cut);
	free(cut);
	return sh->s;
}

/* text_ok - well-formed UTF-8 without control characters */
static int text_ok(const char *s)
{
	size_t n = strlen(s);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		size_t k = utf8_len(p + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* check_address - the address's channel (channel, else guessed) into
 * *out; 0, or -1 with why (one line, the value shown) in msg */
static int check_address(const char *addr, int channel, const char *hint, int *out, char *msg,
			 size_t n)
{
	struct shown sh;
	if (!*addr) {
		snprintf(msg, n, "missing address");
		return -1;
	}
	if (channel < 0) {
		if (strchr(addr, '@'))
			channel = CHANNEL_EMAIL;
		else if (addr[0] == '+' || (addr[0] >= '0' && addr[0] <= '9'))
			channel = CHANNEL_SMS;
		else {
			snprintf(msg, n, "cannot tell the channel of %s (%s)",
				 show_address(&sh, addr), hint);
			return -1;
		}
	}
	if (channel == CHANNEL_EMAIL && !valid_email(addr)) {
		snprintf(msg, n, "invalid email %s", str_show(&sh, addr));
		return -1;
	}
	if (channel == CHANNEL_SMS && !valid_phone(addr)) {
		snprintf(msg, n, "invalid phone %s (E.164 like +8613800138000)", str_show(&sh, addr));
		return -1;
	}
	if (channel == CHANNEL_CHAT && (strlen(addr) > ADDRESS_MAX || !text_ok(addr))) {
		snprintf(msg, n,
			 "invalid chat address %s (at most %d bytes of UTF-8, no control "
			 "characters)",
			 show_address(&sh, addr), ADDRESS_MAX);
		return -1;
	}
	*out = channel;
	return 0;
}

/* check_reason - NULL when r may be kept as a reason, else why */
static const char *check_reason(const char *r)
{
	if (!*r)
		return "empty";
	if (strlen(r) > REASON_MAX)
		return "longer than 500 bytes";
	if (!text_ok(r))
		return "not one line of UTF-8 text";
	return NULL;
}

static void entries_free(struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].reason);
	}
	free(v);
}

static void entry_push(struct entry **v, size_t *n, size_t *cap, char *key, int channel,
		       const char *reason, int line)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = (struct entry){key, channel, xstrdup(reason), line};
}

/* ---- import files ---------------------------------------------------- */

/* csv_split - the fields of one CSV line (RFC 4180 quoting; a quoted field
 * ends on its line); -1 with *problem set when the line is malformed */
static int csv_split(const char *p, size_t n, char ***fields, size_t *nf, const char **problem)
{
	struct buf f = BUF_INIT;
	size_t cap = 0;
	size_t i = 0;
	*fields = NULL;
	*nf = 0;
	*problem = NULL;
	for (;;) {
		buf_reset(&f);
		buf_puts(&f, "");
		if (i < n && p[i] == '"') {
			for (i++;; i++) {
				if (i >= n) {
					*problem = "unterminated quoted field (a field must end on "
						   "its line)";
					goto bad;
				}
				if (p[i] == '"') {
					if (i + 1 < n && p[i + 1] == '"') {
						buf_putc(&f, '"');
						i++;
						continue;
					}
					i++;
					break;
				}
				buf_putc(&f, p[i]);
			}
			if (i < n && p[i] != ',') {
				*problem = "text after a closing quote";
				goto bad;
			}
		} else {
			while (i < n && p[i] != ',')
				buf_putc(&f, p[i++]);
		}
		if (*nf == cap) {
			cap = cap ? cap * 2 : 8;
			*fields = xrealloc(*fields, cap * sizeof(**fields));
		}
		(*fields)[(*nf)++] = buf_detach(&f);
		if (i >= n)
			break;
		i++; /* the comma */
	}
	buf_release(&f);
	return 0;
bad:
	buf_release(&f);
	strv_free(*fields, *nf);
	*fields = NULL;
	*nf = 0;
	return -1;
}

enum { COL_ADDRESS, COL_REASON, COL_CHANNEL, COL_N };
static const char *const col_names[COL_N] = {"address", "reason", "channel"};

struct reader {
	const char *path;
	struct diag *d;
	int csv;	/* -1 not known yet, 0 plain list, 1 CSV */
	int col[COL_N]; /* column of each, -1 when absent */
	size_t ncols;
	int def_channel; /* --channel, or -1 */
	const char *def_reason;
	int bad;   /* rows with problems */
	int fatal; /* the file cannot be used */
	struct entry *v;
	size_t n, cap;
};

/* header - the CSV header's columns; names are matched without case */
static void header(struct reader *r, char **f, size_t nf, int line)
{
	struct shown sh;
	for (int k = 0; k < COL_N; k++)
		r->col[k] = -1;
	r->ncols = nf;
	for (size_t i = 0; i < nf; i++) {
		char *name = str_trimmed(f[i]);
		for (int k = 0; k < COL_N; k++) {
			if (!str_ieq(name, col_names[k]))
				continue;
			if (r->col[k] >= 0) {
				diag_error(r->d, r->path, line, "duplicate column %s",
					   str_show(&sh, name));
				r->fatal = 1;
			}
			r->col[k] = (int)i;
		}
		free(name); /* other columns are ignored */
	}
	if (r->col[COL_ADDRESS] < 0) {
		diag_error(r->d, r->path, line,
			   "no address column in the header (address, and optionally reason and "
			   "channel)");
		r->fatal = 1;
	}
}

/* row - check one address with its optional reason and channel cells */
static void row(struct reader *r, const char *addr_cell, const char *reason_cell,
		const char *channel_cell, int line)
{
	struct shown sh;
	char msg[512];
	int channel = r->def_channel, bad = 0;
	char *addr = str_trimmed(addr_cell);
	char *reason = reason_cell ? str_trimmed(reason_cell) : NULL;
	char *chan = channel_cell ? str_trimmed(channel_cell) : NULL;
	if (chan && *chan && (channel = channel_parse(chan)) < 0) {
		diag_error(r->d, r->path, line, "invalid channel %s (email, sms or chat)",
			   str_show(&sh, chan));
		bad = 1;
	}
	const char *why = reason && *reason ? check_reason(reason) : NULL;
	if (why) {
		diag_error(r->d, r->path, line, "invalid reason %s (%s)", str_show(&sh, reason), why);
		bad = 1;
	}
	if (!bad && check_address(addr, channel, "add a channel column or give --channel", &channel,
				  msg, sizeof(msg)) < 0) {
		diag_error(r->d, r->path, line, "%s", msg);
		bad = 1;
	}
	if (bad)
		r->bad++;
	else
		entry_push(&r->v, &r->n, &r->cap, contact_address_key(addr), channel,
			   reason && *reason ? reason : r->def_reason, line);
	free(addr);
	free(reason);
	free(chan);
}

/* line - one line of the file (without its end), not blank */
static void line(struct reader *r, const char *p, size_t n, int lineno)
{
	if (memchr(p, '\0', n)) {
		diag_error(r->d, r->path, lineno, "NUL byte");
		r->bad++;
		return;
	}
	char *s = xstrndup(p, n);
	if (r->csv < 0) {
		char *t = str_trimmed(s);
		r->csv = strchr(s, ',') != NULL || str_ieq(t, "address") ||
			 str_ieq(t, "\"address\"");
		free(t);
		if (r->csv) {
			char **f;
			size_t nf;
			const char *problem;
			if (csv_split(s, n, &f, &nf, &problem) < 0) {
				diag_error(r->d, r->path, lineno, "invalid CSV: %s", problem);
				r->fatal = 1;
			} else {
				header(r, f, nf, lineno);
				strv_free(f, nf);
			}
			free(s);
			return;
		}
	}
	if (!r->csv) {
		char *t = str_trimmed(s);
		if (t[0] != '#')
			row(r, t, NULL, NULL, lineno);
		free(t);
		free(s);
		return;
	}
	char **f;
	size_t nf;
	const char *problem;
	if (csv_split(s, n, &f, &nf, &problem) < 0) {
		diag_error(r->d, r->path, lineno, "invalid CSV: %s", problem);
		r->bad++;
	} else if (nf != r->ncols) {
		diag_error(r->d, r->path, lineno, "%zu fields where the header has %zu", nf,
			   r->ncols);
		r->bad++;
	} else {
		row(r, f[r->col[COL_ADDRESS]],
		    r->col[COL_REASON] >= 0 ? f[r->col[COL_REASON]] : NULL,
		    r->col[COL_CHANNEL] >= 0 ? f[r->col[COL_CHANNEL]] : NULL, lineno);
	}
	if (f)
		strv_free(f, nf);
	free(s);
}

/* read_file - every row of path checked; -1 when nothing may be imported
 * (a bad row without skip_bad, or a bad file) */
static int read_file(struct reader *r, int skip_bad)
{
	FILE *fp = fopen(r->path, "r");
	if (!fp) {
		diag_error(r->d, r->path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	int lineno = 0;
	r->csv = -1;
	while (!r->fatal && (errno = 0, got = getline(&buf, &cap, fp)) >= 0) {
		const char *p = buf;
		size_t n = (size_t)got;
		lineno++;
		if (lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			n -= 3;
		}
		if (n > LINE_MAX_BYTES) {
			diag_error(r->d, r->path, lineno, "line longer than %d bytes",
				   LINE_MAX_BYTES);
			r->fatal = 1;
			break;
		}
		if (n && p[n - 1] == '\n')
			n--;
		if (n && p[n - 1] == '\r')
			n--;
		size_t k = 0;
		while (k < n && (p[k] == ' ' || p[k] == '\t'))
			k++;
		if (k < n)
			line(r, p, n, lineno);
	}
	if (!r->fatal && ferror(fp)) {
		diag_error(r->d, r->path, 0, "read error: %s", strerror(errno));
		r->fatal = 1;
	}
	free(buf);
	fclose(fp);
	if (r->fatal || (r->bad && !skip_bad))
		return -1;
	return 0;
}

/* ---- the store ------------------------------------------------------- */

/* add - every entry, in one transaction; *already counts those on the list */
static int add(struct config *cfg, const struct entry *v, size_t n, int64_t now, size_t *already,
	       struct err *e)
{
	struct store *s = cli_store(cfg, 1);
	int rc = store_begin(s, e);
	*already = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *why = NULL;
		rc = store_suppressed(s, v[i].key, &why, e);
		if (rc == 0 && why)
			(*already)++;
		else if (rc == 0)
			rc = store_suppress(s, v[i].key,
					    channel_name((enum channel_kind)v[i].channel),
					    v[i].reason, now, e);
		free(why);
		if (rc < 0 && v[i].line)
			err_prefix(e, "line %d", v[i].line);
	}
	if (rc == 0)
		rc = store_commit(s, e);
	else
		store_rollback(s);
	store_close(s);
	return rc;
}

static void print_added(size_t n, size_t already, const char *from, int skipped)
{
	printf("suppressed %zu address%s", n - already, n - already == 1 ? "" : "es");
	if (from)
		printf(" from %s", from);
	if (already)
		printf(" (%zu already on the list)", already);
	if (skipped)
		printf(" (skipped %d bad row%s)", skipped, skipped == 1 ? "" : "s");
	printf("\n");
}

/* put_clean - s with control characters as spaces, for the table */
static void put_clean(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

struct listing {
	json_t *rows; /* array of objects */
};

static void list_row(void *ud, const struct suppression *s)
{
	struct listing *l = ud;
	char at[32];
	time_format(s->at, at, sizeof(at));
	json_array_append_new(l->rows, json_pack("{s:s, s:s?, s:s, s:s}", "address", s->address,
						 "channel", s->channel, "reason",
						 s->reason ? s->reason : "", "at", at));
}

static int do_list(struct config *cfg, const char *format)
{
	struct store *s = cli_store(cfg, 1);
	struct listing l = {json_array()};
	struct err e = {{0}};
	int rc = store_suppressions(s, list_row, &l, &e);
	store_close(s);
	if (rc < 0) {
		fprintf(stderr, "outreach: suppress --list: %s\n", e.msg);
		json_decref(l.rows);
		return EXIT_RUNTIME;
	}
	if (strcmp(format, "json") == 0) {
		char *out = json_dumps(l.rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", out);
		free(out);
	} else {
		int aw = (int)strlen("address");
		size_t i;
		json_t *o;
		json_array_foreach(l.rows, i, o)
		{
			int w = (int)strlen(json_string_value(json_object_get(o, "address")));
			if (w > aw)
				aw = w;
		}
		printf("%-*s  %-7s  %-20s  %s\n", aw, "address", "channel", "since", "reason");
		json_array_foreach(l.rows, i, o)
		{
			const json_t *ch = json_object_get(o, "channel");
			printf("%-*s  %-7s  %-20s  ", aw,
			       json_string_value(json_object_get(o, "address")),
			       json_is_string(ch) ? json_string_value(ch) : "-",
			       json_string_value(json_object_get(o, "at")));
			put_clean(json_string_value(json_object_get(o, "reason")));
			printf("\n");
		}
	}
	json_decref(l.rows);
	return EXIT_OK;
}

static int do_remove(struct config *cfg, char **addrs, size_t n)
{
	struct store *s = cli_store(cfg, 1);
	char **keys = xcalloc(n, sizeof(*keys));
	int *removed = xcalloc(n, sizeof(*removed));
	struct err e = {{0}};
	for (size_t i = 0; i < n; i++) {
		char *t = str_trimmed(addrs[i]);
		keys[i] = contact_address_key(t);
		free(t);
	}
	int rc = store_unsuppress(s, keys, n, removed, &e);
	store_close(s);
	if (rc < 0) {
		fprintf(stderr, "outreach: suppress --remove: %s\n", e.msg);
	} else {
		size_t k = 0;
		struct shown sh;
		for (size_t i = 0; i < n; i++) {
			k += (size_t)removed[i];
			if (!removed[i])
				fprintf(stderr,
					"outreach: suppress --remove: %s is not on the list\n",
					show_address(&sh, addrs[i]));
		}
		printf("removed %zu address%s from the suppression list\n", k, k == 1 ? "" : "es");
	}
	strv_free(keys, n);
	free(removed);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* do_add - the addresses given on the command line, all or none */
static int do_add(struct config *cfg, char **addrs, size_t naddrs, int def_channel,
		  const char *reason, int64_t now)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0, already;
	int bad = 0, rc = EXIT_OK;
	for (size_t i = 0; i < naddrs; i++) {
		char msg[512];
		int ch;
		char *t = str_trimmed(addrs[i]);
		if (check_address(t, def_channel, "give --channel email, sms or chat", &ch, msg,
				  sizeof(msg)) < 0) {
			fprintf(stderr, "outreach: suppress: %s\n", msg);
			bad++;
		} else {
			entry_push(&v, &n, &cap, contact_address_key(t), ch, reason, 0);
		}
		free(t);
	}
	struct err e = {{0}};
	if (bad) {
		fprintf(stderr, "outreach: suppress: nothing added (%d problem%s)\n", bad,
			bad == 1 ? "" : "s");
		rc = EXIT_USAGE;
	} else if (add(cfg, v, n, now, &already, &e) < 0) {
		fprintf(stderr, "outreach: suppress: nothing added: %s\n", e.msg);
		rc = EXIT_RUNTIME;
	} else {
		print_added(n, already, NULL, 0);
	}
	entries_free(v, n);
	return rc;
}

/* do_import - a file checked whole, then added in one transaction */
static int do_import(struct config *cfg, const char *file, int def_channel, const char *reason,
		     int skip_bad, int64_t now)
{
	struct diag d;
	diag_init(&d);
	struct reader r = {.path = file, .d = &d, .def_channel = def_channel, .def_reason = reason};
	struct err e = {{0}};
	size_t already;
	int rc = EXIT_OK;
	if (read_file(&r, skip_bad) < 0) {
		diag_print(&d);
		fprintf(stderr, "outreach: %s: nothing imported (%d problem%s)\n", file, d.errors,
			d.errors == 1 ? "" : "s");
		rc = EXIT_USAGE;
	} else {
		diag_print(&d);
		if (add(cfg, r.v, r.n, now, &already, &e) < 0) {
			fprintf(stderr, "outreach: %s: nothing imported: %s\n", file, e.msg);
			rc = EXIT_RUNTIME;
		} else {
			print_added(r.n, already, file, d.errors);
		}
	}
	entries_free(r.v, r.n);
	diag_release(&d);
	return rc;
}

int cmd_suppress(struct cli *c)
{
	const char *reason = NULL, *channel = NULL, *format = NULL, *file = NULL, *nowv = NULL;
	int list = 0, remove = 0, skip_bad = 0, def_channel = -1;
	char **addrs = xcalloc((size_t)c->argc + 1, sizeof(*addrs));
	size_t naddrs = 0;
	for (int i = 1; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--list") == 0)
			list = 1;
		else if (strcmp(c->argv[i], "--remove") == 0)
			remove = 1;
		else if (strcmp(c->argv[i], "--skip-bad") == 0)
			skip_bad = 1;
		else if (cli_opt(c->argc, c->argv, &i, "--import", &file) ||
			 cli_opt(c->argc, c->argv, &i, "--reason", &reason) ||
			 cli_opt(c->argc, c->argv, &i, "--channel", &channel) ||
			 cli_opt(c->argc, c->argv, &i, "--format", &format) ||
			 cli_opt(c->argc, c->argv, &i, "--now", &nowv))
			continue;
		else if (strcmp(c->argv[i], "--") == 0)
			for (i++; i < c->argc; i++)
				addrs[naddrs++] = c->argv[i];
		else if (c->argv[i][0] == '-' && c->argv[i][1])
			cli_usage_error("suppress: unknown option \"%s\" (put -- before an address "
					"that starts with -)",
					c->argv[i]);
		else
			addrs[naddrs++] = c->argv[i];
	}
	if (list + remove + (file != NULL) > 1)
		cli_usage_error("suppress: --list, --import and --remove go one at a time");
	if (channel && (def_channel = channel_parse(channel)) < 0)
		cli_usage_error("suppress: --channel: expected email, sms or chat, not \"%s\"",
				channel);
	if (reason) {
		const char *why = check_reason(reason);
		if (why)
			cli_usage_error("suppress: --reason: %s", why);
	}
	if (format && !list)
		cli_usage_error("suppress: --format goes with --list");
	if (format && strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		cli_usage_error("suppress: --format: expected table or json, not \"%s\"", format);
	if (skip_bad && !file)
		cli_usage_error("suppress: --skip-bad goes with --import");
	if ((list || remove) && (reason || channel))
		cli_usage_error("suppress: --reason and --channel go with adding or --import");
	if ((list || file) && naddrs)
		cli_usage_error("suppress: %s takes no addresses", list ? "--list" : "--import");
	if (!list && !file && !naddrs)
		cli_usage_error("usage: outreach suppress ADDRESS... [--reason R] [--channel C] | "
				"--import FILE [--skip-bad] | --list [--format table|json] | "
				"--remove ADDRESS...");
	int64_t now = nowv ? cli_time("--now", nowv) : time_now();
	if (!reason)
		reason = REASON_DEFAULT;

	struct config *cfg = cli_config(c);
	int rc = list	  ? do_list(cfg, format ? format : "table")
		 : remove ? do_remove(cfg, addrs, naddrs)
		 : file	  ? do_import(cfg, file, def_channel, reason, skip_bad, now)
			  : do_add(cfg, addrs, naddrs, def_channel, reason, now);
	config_free(cfg);
	free(addrs);
	return rc;
}
