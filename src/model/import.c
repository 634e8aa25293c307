/* import.c - contacts (CSV, JSON Lines) and events (JSON Lines) from files
 *
 * Files are read one physical line at a time with getline(); a CSV record
 * spans lines only inside a quoted field, and a record over RECORD_MAX is
 * refused, so memory stays bounded by one record plus the rows kept (none
 * with the _each calls, which hand each good row over as it is read, and
 * 12 bytes an id for the duplicate check). Every
 * row is checked whole and each problem becomes one diag line naming the
 * file, the line the record starts on, the field and the value. Without
 * skip_bad the first problem stops keeping rows but not reading, so the user
 * sees every bad row at once.
 *
 * Problems with the file rather than a row fail the call even with skip_bad:
 * it cannot be opened or read, a CSV header is unusable (no id column, a bad
 * or repeated column name: reported on the header's line), an unterminated
 * quote, an oversized record.
 *
 * CSV follows RFC 4180: "" escapes a quote inside a quoted field, which may
 * hold commas and line breaks (CRLF in one is stored as LF); CRLF or LF line
 * ends; a UTF-8 byte order mark is skipped; blank lines are skipped. Header
 * names are trimmed and standard ones matched without case. JSON keys are
 * exact. Values shown in messages are escaped and cut, so a hostile file
 * cannot put line breaks or terminal controls in our output.
 */
#include "import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "timeutil.h"
#include "tz.h"
#include "str.h"
#include "xmalloc.h"

#define RECORD_MAX (1024 * 1024) /* bytes in one CSV record */
#define ID_MAX 255
#define TYPE_MAX 64
#define NAME_MAX_LEN 64 /* attribute names */

/* ---- small helpers ---------------------------------------------------- */

/* show_json - a JSON value for a message: strings quoted, others as JSON */
static const char *show_json(struct shown *sh, const json_t *v)
{
	if (json_is_string(v))
		return str_show(sh, json_string_value(v));
	char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!dump)
		log_panic("out of memory encoding json");
	size_t n = strlen(dump), cut = n > STR_SHOW_MAX ? STR_SHOW_MAX : n;
	while (cut > 0 && cut < n && ((unsigned char)dump[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(sh->s, dump, cut);
	if (cut < n)
		memcpy(sh->s + cut, "...", 4);
	else
		sh->s[cut] = '\0';
	free(dump);
	return sh->s;
}

/* utf8_valid - well-formed UTF-8: no overlongs, surrogates or > U+10FFFF */
static int utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

/* valid_attr_name - [A-Za-z_][A-Za-z0-9_]*, at most NAME_MAX_LEN bytes */
static int valid_attr_name(const char *s)
{
	size_t i;
	if (!is_alpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (i = 1; s[i]; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return i <= NAME_MAX_LEN;
}

/* reserved_attr - "stats" is the namespace of the computed attributes
 * (stats.h): an imported one would shadow them in templates */
static int reserved_attr(const char *s)
{
	return strcmp(s, "stats") == 0;
}

/* parse_bool - 1, 0, or -1 when s says neither */
static int parse_bool(const char *s)
{
	static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};
	for (size_t i = 0; i < 3; i++) {
		if (str_ieq(s, yes[i]))
			return 1;
		if (str_ieq(s, no[i]))
			return 0;
	}
	return -1;
}

/* is_json_number - s is exactly a JSON number: no "+", no leading zeros */
static int is_json_number(const char *s, int *integer)
{
	const char *p = s;
	*integer = 1;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (is_digit((unsigned char)*p))
		while (is_digit((unsigned char)*p))
			p++;
	else
		return 0;
	if (*p == '.') {
		*integer = 0;
		p++;
		if (!is_digit((unsigned char)*p))
			return 0;
		while (is_digit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		*integer = 0;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit((unsigned char)*p))
			return 0;
		while (is_digit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

/* csv_value - a CSV cell as a typed attribute value (s is valid UTF-8) */
static json_t *csv_value(const char *s)
{
	json_t *v = NULL;
	int integer;

	if (str_ieq(s, "true"))
		return json_true();
	if (str_ieq(s, "false"))
		return json_false();
	if (is_json_number(s, &integer)) {
		/* jansson parses numbers without regard to the C locale and
		 * fails on overflow; a number too large to hold stays text
		 * (usually an identifier, which must not lose digits) */
		json_error_t jerr;
		v = json_loadb(s, strlen(s), JSON_DECODE_ANY, &jerr);
	}
	if (!v)
		v = json_string(s);
	if (!v)
		log_panic("out of memory building json");
	return v;
}

/* ---- validators ------------------------------------------------------- */

int valid_email(const char *s)
{
	const char *at, *p, *label;
	size_t len;

	if (!s)
		return 0;
	len = strlen(s);
	if (len == 0 || len > 254 || !utf8_valid(s, len))
		return 0;
	at = strchr(s, '@');
	if (!at || strchr(at + 1, '@') || at == s || at - s > 64)
		return 0;
	/* local part: dot-atom, any UTF-8 (RFC 6531), no specials that would
	 * let one address become several in a header */
	if (s[0] == '.' || at[-1] == '.')
		return 0;
	for (p = s; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x80)
			continue;
		if (c <= 0x20 || c == 0x7f || strchr("\"(),:;<>[\\]", c))
			return 0;
		if (c == '.' && p[1] == '.')
			return 0;
	}
	/* domain: at least two labels of letters, digits, hyphens or UTF-8 */
	if (!strchr(at + 1, '.'))
		return 0;
	label = at + 1;
	for (;;) {
		size_t n = 0;
		while (label[n] && label[n] != '.') {
			unsigned char c = (unsigned char)label[n];
			if (c < 0x80 && !is_alnum(c) && c != '-')
				return 0;
			n++;
		}
		if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
			return 0;
		if (!label[n])
			break;
		label += n + 1;
	}
	return 1;
}

int valid_phone(const char *s)
{
	size_t n = 0;
	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (s++; *s; s++, n++)
		if (!is_digit((unsigned char)*s))
			return 0;
	return n >= 2 && n <= 15;
}

int valid_locale(const char *s)
{
	size_t i = 0, n;

	if (!s || strlen(s) > 35)
		return 0;
	while (is_alpha((unsigned char)s[i]))
		i++;
	if (i < 2 || i > 3)
		return 0;
	while (s[i]) {
		if (s[i] != '-' && s[i] != '_')
			return 0;
		i++;
		for (n = 0; is_alnum((unsigned char)s[i]); n++)
			i++;
		if (n < 2 || n > 8)
			return 0;
	}
	return 1;
}

/* ---- ids seen: open addressing, 64-bit fingerprint -> first line ------
 *
 * A streamed import keeps no rows, only this: 12 bytes a slot, at most
 * half full, so a million ids take 24 MiB. Two different ids share a
 * fingerprint with a chance of about n^2 / 2^65 (3e-8 at a million): the
 * second would be refused as a duplicate of the first. */

struct idset {
	uint64_t *fps; /* 0: empty */
	int *lines;
	size_t cap, n;
};

static uint64_t id_fp(const char *s)
{
	uint64_t h = hash64(s, strlen(s));
	return h ? h : 1;
}

static void idset_free(struct idset *s)
{
	free(s->fps);
	free(s->lines);
	memset(s, 0, sizeof(*s));
}

/* idset_add - 0 when id is new (and now recorded), else its first line */
static int idset_add(struct idset *s, const char *id, int line)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct idset bigger = {NULL, NULL, s->cap ? s->cap * 2 : 64, 0};
		bigger.fps = xcalloc(bigger.cap, sizeof(*bigger.fps));
		bigger.lines = xcalloc(bigger.cap, sizeof(*bigger.lines));
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->fps[j])
				continue;
			for (i = s->fps[j] & (bigger.cap - 1); bigger.fps[i];
			     i = (i + 1) & (bigger.cap - 1))
				;
			bigger.fps[i] = s->fps[j];
			bigger.lines[i] = s->lines[j];
			bigger.n++;
		}
		free(s->fps);
		free(s->lines);
		*s = bigger;
	}
	uint64_t fp = id_fp(id);
	for (i = fp & (s->cap - 1); s->fps[i]; i = (i + 1) & (s->cap - 1))
		if (s->fps[i] == fp)
			return s->lines[i];
	s->fps[i] = fp;
	s->lines[i] = line;
	s->n++;
	return 0;
}

/* ---- one import: the rows kept and the problems seen ------------------- */

struct importer {
	const char *path;
	struct diag *d;
	int skip_bad;
	int failed; /* some row was bad: fails the call unless skip_bad */
	int fatal;  /* the file itself is bad: fails the call regardless */
	int line;   /* where the current row starts */
	int row_bad;
	struct idset ids;
	void *rows; /* struct contact[] or struct event[] */
	size_t n, cap, size;
	void (*release)(void *row);
	/* streamed: each good row goes to each() and is released, none kept */
	int (*each)(void *ud, void *row);
	void *ud;
	size_t passed; /* rows given to each() */
};

static void importer_init(struct importer *im, const char *path, int skip_bad, struct diag *d,
			  size_t size, void (*release)(void *))
{
	memset(im, 0, sizeof(*im));
	im->path = path;
	im->d = d;
	im->skip_bad = skip_bad;
	im->size = size;
	im->release = release;
}

static void drop_rows(struct importer *im)
{
	for (size_t i = 0; i < im->n; i++)
		im->release((char *)im->rows + i * im->size);
	free(im->rows);
	im->rows = NULL;
	im->n = im->cap = 0;
}

static void importer_release(struct importer *im)
{
	drop_rows(im);
	idset_free(&im->ids);
}

static void row_error(struct importer *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void row_error(struct importer *im, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_error(im->d, im->path, im->line, "%s", msg);
	im->row_bad++;
}

/* row_begin / row_end - bracket one row; row_end keeps it (copying the
 * struct, which then belongs to the array) or releases it */
static void row_begin(struct importer *im, int line)
{
	im->line = line;
	im->row_bad = 0;
}

/* row_failed - note a bad row; without skip_bad nothing will be returned,
 * so stop holding the rows kept so far */
static void row_failed(struct importer *im)
{
	if (im->failed)
		return;
	im->failed = 1;
	if (!im->skip_bad)
		drop_rows(im);
}

static void row_end(struct importer *im, void *row)
{
	if (im->row_bad)
		row_failed(im);
	if (im->row_bad || im->fatal || (im->failed && !im->skip_bad)) {
		im->release(row);
		return;
	}
	if (im->each) {
		if (im->each(im->ud, row) < 0)
			im->fatal = 1; /* the caller's own error: nothing more goes out */
		else
			im->passed++;
		im->release(row);
		return;
	}
	if (im->n == im->cap) {
		im->cap = im->cap ? im->cap * 2 : 64;
		im->rows = xrealloc(im->rows, im->cap * im->size);
	}
	memcpy((char *)im->rows + im->n * im->size, row, im->size);
	im->n++;
}

/* ---- contacts: fields ------------------------------------------------- */

enum field {
	F_ID,
	F_NAME,
	F_EMAIL,
	F_PHONE,
	F_TIMEZONE,
	F_LOCALE,
	F_DNC,
	F_UNSUB_EMAIL,
	F_UNSUB_SMS,
	F_UNSUB_CHAT,
	F_NFIELDS,
	F_ATTR = F_NFIELDS, /* any other column: an attribute */
	F_SKIP,		    /* a bad column, already reported */
};

static const char *const field_names[F_NFIELDS] = {
    "id",
    "name",
    "email",
    "phone",
    "timezone",
    "locale",
    "do_not_contact",
    "unsubscribed_email",
    "unsubscribed_sms",
    "unsubscribed_chat",
};

static int field_is_bool(enum field f)
{
	return f >= F_DNC && f <= F_UNSUB_CHAT;
}

static int *bool_slot(struct contact *c, enum field f)
{
	switch (f) {
	case F_DNC:
		return &c->do_not_contact;
	case F_UNSUB_EMAIL:
		return &c->unsub[CHANNEL_EMAIL];
	case F_UNSUB_SMS:
		return &c->unsub[CHANNEL_SMS];
	case F_UNSUB_CHAT:
		return &c->unsub[CHANNEL_CHAT];
	default:
		log_panic("bool_slot: field %d", (int)f);
	}
}

static void contact_begin(struct contact *c)
{
	memset(c, 0, sizeof(*c));
	c->do_not_contact = -1;
	for (int i = 0; i < CHANNEL_NKINDS; i++)
		c->unsub[i] = -1;
	c->attrs = json_object();
	if (!c->attrs)
		log_panic("out of memory building json");
}

static void contact_release_row(void *row)
{
	contact_release(row);
}

static void event_release_row(void *row)
{
	event_release(row);
}

/* contact_set - validate and store a standard field; takes ownership of
 * val, which is trimmed and not empty */
static void contact_set(struct importer *im, struct contact *c, enum field f, char *val)
{
	struct shown sh;
	char **slot = NULL;
	int ok = 1;

	switch (f) {
	case F_ID:
		if (strlen(val) > ID_MAX || has_ctl(val)) {
			row_error(im, "invalid id %s (at most %d bytes, no control characters)",
				  str_show(&sh, val), ID_MAX);
			ok = 0;
		}
		slot = &c->id;
		break;
	case F_NAME:
		if (has_ctl(val)) {
			row_error(im, "invalid name %s (control characters)", str_show(&sh, val));
			ok = 0;
		}
		slot = &c->name;
		break;
	case F_EMAIL:
		if (!valid_email(val)) {
			row_error(im, "invalid email %s", str_show(&sh, val));
			ok = 0;
		}
		slot = &c->email;
		break;
	case F_PHONE:
		if (!valid_phone(val)) {
			row_error(im, "invalid phone %s (E.164 like +8613800138000)",
				  str_show(&sh, val));
			ok = 0;
		}
		slot = &c->phone;
		break;
	case F_TIMEZONE:
		if (!tz_valid(val)) {
			row_error(im, "unknown time zone %s", str_show(&sh, val));
			ok = 0;
		}
		slot = &c->timezone;
		break;
	case F_LOCALE:
		if (!valid_locale(val)) {
			row_error(im, "invalid locale %s", str_show(&sh, val));
			ok = 0;
		}
		slot = &c->locale;
		break;
	default: {
		int b = parse_bool(val);
		if (b < 0)
			row_error(im, "invalid value %s for %s (true or false)", str_show(&sh, val),
				  field_names[f]);
		else
			*bool_slot(c, f) = b;
		free(val);
		return;
	}
	}
	if (ok) {
		free(*slot);
		*slot = val;
	} else {
		free(val);
	}
}

/* contact_end - the checks on a whole row, then keep or drop it */
static void contact_end(struct importer *im, struct contact *c)
{
	struct shown sh;
	int first;

	c->line = im->line;
	if (!c->id)
		row_error(im, "missing id");
	else if ((first = idset_add(&im->ids, c->id, im->line)) != 0)
		row_error(im, "duplicate id %s (first on line %d)", str_show(&sh, c->id), first);
	row_end(im, c);
}

/* ---- contacts: CSV ---------------------------------------------------- */

struct csv {
	FILE *fp;
	char *line;
	size_t linecap;
	int lineno;	 /* physical lines read */
	int start;	 /* the line the current record starts on */
	struct buf data; /* the record's fields, each NUL-terminated */
	size_t *off;	 /* where each field starts in data */
	size_t nfields, offcap;
	size_t fstart;
	const char *problem; /* a malformed record: why, else NULL */
};

static void csv_end_field(struct csv *r)
{
	if (r->nfields == r->offcap) {
		r->offcap = r->offcap ? r->offcap * 2 : 16;
		r->off = xrealloc(r->off, r->offcap * sizeof(*r->off));
	}
	r->off[r->nfields++] = r->fstart;
	buf_append(&r->data, "", 1);
	r->fstart = r->data.len;
}

static const char *csv_field(const struct csv *r, size_t i)
{
	return r->data.data + r->off[i];
}

enum { CSV_START, CSV_PLAIN, CSV_QUOTED, CSV_QUOTE };

/* csv_read - the next record: 1, 0 at the end, -1 when the file cannot be
 * read on (reported in d). A record with r->problem set is still returned. */
static int csv_read(struct csv *r, const char *path, struct diag *d)
{
	int state = CSV_START, in_record = 0;

	buf_reset(&r->data);
	r->nfields = 0;
	r->fstart = 0;
	r->problem = NULL;
	for (;;) {
		errno = 0;
		ssize_t got = getline(&r->line, &r->linecap, r->fp);
		if (got < 0) {
			if (ferror(r->fp)) {
				diag_error(d, path, 0, "read error: %s", strerror(errno));
				return -1;
			}
			if (!in_record)
				return 0;
			diag_error(d, path, r->start, "invalid CSV: unterminated quoted field");
			return -1;
		}
		r->lineno++;
		const char *p = r->line;
		size_t n = (size_t)got, i;
		if (r->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			n -= 3;
		}
		if (n && p[n - 1] == '\n')
			n--;
		if (n && p[n - 1] == '\r')
			n--;
		if (!in_record) {
			if (n == 0)
				continue; /* a blank line */
			in_record = 1;
			r->start = r->lineno;
		}
		if (memchr(p, '\0', n))
			r->problem = "NUL byte";
		for (i = 0; i < n; i++) {
			char c = p[i];
			switch (state) {
			case CSV_START:
				if (c == '"') {
					state = CSV_QUOTED;
					break;
				}
				state = CSV_PLAIN;
				/* fall through */
			case CSV_PLAIN:
				if (c == ',') {
					csv_end_field(r);
					state = CSV_START;
				} else {
					buf_putc(&r->data, c);
				}
				break;
			case CSV_QUOTED:
				if (c == '"')
					state = CSV_QUOTE;
				else
					buf_putc(&r->data, c);
				break;
			case CSV_QUOTE:
				if (c == '"') {
					buf_putc(&r->data, '"');
					state = CSV_QUOTED;
				} else if (c == ',') {
					csv_end_field(r);
					state = CSV_START;
				} else {
					r->problem = "text after a closing quote";
					buf_putc(&r->data, c);
					state = CSV_PLAIN;
				}
				break;
			}
		}
		if (r->data.len > RECORD_MAX) {
			diag_error(d, path, r->start, "invalid CSV: record longer than %d bytes",
				   RECORD_MAX);
			return -1;
		}
		if (state == CSV_QUOTED) {
			buf_putc(&r->data, '\n'); /* a line break inside quotes */
			continue;
		}
		csv_end_field(r);
		return 1;
	}
}

struct column {
	enum field f;
	const char *name; /* borrowed from the header record's copy */
};

/* csv_header - map columns to fields; -1 when the file cannot be used */
static int csv_header(struct importer *im, struct csv *r, struct column **cols, char ***names)
{
	struct shown sh;
	int have_id = 0;

	*cols = xcalloc(r->nfields, sizeof(**cols));
	*names = xcalloc(r->nfields, sizeof(**names));
	row_begin(im, r->start);
	if (r->problem) {
		row_error(im, "invalid CSV: %s", r->problem);
		return -1;
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const char *raw = csv_field(r, i);
		char *name = str_trimmed(raw);
		struct column *col = &(*cols)[i];
		(*names)[i] = name;
		col->name = name;
		col->f = F_ATTR;
		if (!utf8_valid(name, strlen(name))) {
			row_error(im, "invalid UTF-8 in the name of column %zu", i + 1);
			col->f = F_SKIP;
			continue;
		}
		if (!*name) {
			row_error(im, "empty column name (column %zu)", i + 1);
			col->f = F_SKIP;
			continue;
		}
		for (int f = 0; f < F_NFIELDS; f++)
			if (str_ieq(name, field_names[f]))
				col->f = (enum field)f;
		if (col->f == F_ATTR && !valid_attr_name(name)) {
			row_error(im,
				  "invalid column name %s (letters, digits and _, not starting "
				  "with a digit)",
				  str_show(&sh, name));
			col->f = F_SKIP;
			continue;
		}
		if (col->f == F_ATTR && reserved_attr(name)) {
			row_error(im,
				  "column %s is reserved for the computed attributes (stats.NAME)",
				  str_show(&sh, name));
			col->f = F_SKIP;
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const struct column *o = &(*cols)[j];
			if (o->f == F_SKIP)
				continue;
			if (col->f == F_ATTR ? o->f == F_ATTR && strcmp(o->name, name) == 0
					     : o->f == col->f) {
				row_error(im, "duplicate column %s", str_show(&sh, name));
				col->f = F_SKIP;
				break;
			}
		}
		if (col->f == F_ID)
			have_id = 1;
	}
	if (!have_id) {
		row_error(im, "no id column");
		return -1;
	}
	return 0;
}

static void csv_row(struct importer *im, struct csv *r, const struct column *cols, size_t ncols)
{
	struct contact c;

	row_begin(im, r->start);
	if (r->problem) {
		row_error(im, "invalid CSV: %s", r->problem);
		row_failed(im);
		return;
	}
	if (r->nfields != ncols) {
		row_error(im, "%zu fields where the header has %zu", r->nfields, ncols);
		row_failed(im);
		return;
	}
	contact_begin(&c);
	for (size_t i = 0; i < ncols; i++) {
		const char *val = csv_field(r, i);
		const struct column *col = &cols[i];
		if (col->f == F_SKIP || !*val)
			continue;
		if (!utf8_valid(val, strlen(val))) {
			row_error(im, "invalid UTF-8 in %s", col->name);
			continue;
		}
		if (col->f == F_ATTR) {
			json_object_set_new(c.attrs, col->name, csv_value(val));
			continue;
		}
		char *v = str_trimmed(val);
		if (*v)
			contact_set(im, &c, col->f, v);
		else
			free(v);
	}
	contact_end(im, &c);
}

static int contacts_csv(struct importer *im, FILE *fp)
{
	struct csv r;
	struct column *cols = NULL;
	char **names = NULL;
	size_t ncols = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.fp = fp;
	buf_init(&r.data);
	rc = csv_read(&r, im->path, im->d);
	if (rc > 0) {
		ncols = r.nfields;
		if (csv_header(im, &r, &cols, &names) < 0) {
			rc = -1;
		} else {
			if (im->row_bad)
				im->fatal = 1; /* report the rows too, but import nothing */
			while ((rc = csv_read(&r, im->path, im->d)) > 0)
				csv_row(im, &r, cols, ncols);
		}
	}
	for (size_t i = 0; names && i < ncols; i++)
		free(names[i]);
	free(names);
	free(cols);
	free(r.line);
	free(r.off);
	buf_release(&r.data);
	return rc;
}

/* ---- JSON Lines ------------------------------------------------------- */

struct jsonl {
	FILE *fp;
	char *line;
	size_t linecap;
	int lineno;
};

/* jsonl_read - the next non-blank line as an object: 1 with *obj set, 1
 * with *obj NULL when the line is not an object (reported), 0 at the end,
 * -1 on a read error (reported) */
static int jsonl_read(struct jsonl *r, struct importer *im, json_t **obj)
{
	*obj = NULL;
	for (;;) {
		errno = 0;
		ssize_t got = getline(&r->line, &r->linecap, r->fp);
		if (got < 0) {
			if (ferror(r->fp)) {
				diag_error(im->d, im->path, 0, "read error: %s", strerror(errno));
				return -1;
			}
			return 0;
		}
		r->lineno++;
		const char *p = r->line;
		size_t n = (size_t)got, i;
		if (r->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			n -= 3;
		}
		for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n');
		     i++)
			;
		if (i == n)
			continue; /* a blank line */
		row_begin(im, r->lineno);
		json_error_t jerr;
		json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!v) {
			struct shown sh; /* jansson quotes the input it stopped at */
			row_error(im, "invalid JSON: %s", str_show_bare(&sh, jerr.text));
		} else if (!json_is_object(v)) {
			row_error(im, "invalid JSON: an object expected");
			json_decref(v);
		} else {
			*obj = v;
			return 1;
		}
		row_failed(im);
		return 1;
	}
}

/* json_text - a string (trimmed) or an integer (decimal) as a new string;
 * NULL for null or a blank string; *bad set for any other type */
static char *json_text(const json_t *v, int *bad)
{
	*bad = 0;
	if (json_is_string(v)) {
		char *s = str_trimmed(json_string_value(v));
		if (*s)
			return s;
		free(s);
		return NULL;
	}
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (!json_is_null(v))
		*bad = 1;
	return NULL;
}

static void jsonl_contact(struct importer *im, json_t *obj)
{
	struct contact c;
	struct shown sh;
	const char *key;
	json_t *v;

	contact_begin(&c);
	json_object_foreach(obj, key, v)
	{
		int f, bad;
		for (f = 0; f < F_NFIELDS; f++)
			if (strcmp(key, field_names[f]) == 0)
				break;
		if (f == F_NFIELDS) {
			if (!valid_attr_name(key)) {
				row_error(im,
					  "invalid attribute name %s (letters, digits and _, not "
					  "starting with a digit)",
					  str_show(&sh, key));
				continue;
			}
			if (reserved_attr(key)) {
				row_error(im,
					  "attribute %s is reserved for the computed attributes "
					  "(stats.NAME)",
					  str_show(&sh, key));
				continue;
			}
			if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
				continue;
			json_object_set(c.attrs, key, v);
			continue;
		}
		if (field_is_bool(f) && json_is_boolean(v)) {
			*bool_slot(&c, f) = json_is_true(v);
			continue;
		}
		if (!json_is_string(v) && !json_is_null(v) &&
		    !(json_is_integer(v) && (f == F_ID || field_is_bool(f)))) {
			row_error(im, "invalid value %s for %s (%s)", show_json(&sh, v),
				  field_names[f],
				  field_is_bool(f) ? "true or false"
				  : f == F_ID	   ? "a string or an integer"
						   : "a string");
			continue;
		}
		char *s = json_text(v, &bad);
		if (s)
			contact_set(im, &c, (enum field)f, s);
	}
	contact_end(im, &c);
}

static int contacts_jsonl(struct importer *im, FILE *fp)
{
	struct jsonl r = {fp, NULL, 0, 0};
	json_t *obj;
	int rc;

	while ((rc = jsonl_read(&r, im, &obj)) > 0) {
		if (!obj)
			continue;
		jsonl_contact(im, obj);
		json_decref(obj);
	}
	free(r.line);
	return rc;
}

/* ---- entry points ----------------------------------------------------- */

enum { FMT_CSV, FMT_JSONL };

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && str_ieq(s + n - k, suffix);
}

static int pick_format(const char *path, const char *format, struct diag *d)
{
	struct shown sh;

	if (format) {
		if (str_ieq(format, "csv"))
			return FMT_CSV;
		if (str_ieq(format, "jsonl") || str_ieq(format, "ndjson") ||
		    str_ieq(format, "json"))
			return FMT_JSONL;
		diag_error(d, path, 0, "unknown format %s (csv or jsonl)", str_show(&sh, format));
		return -1;
	}
	if (ends_with(path, ".csv"))
		return FMT_CSV;
	if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json"))
		return FMT_JSONL;
	diag_error(d, path, 0, "unknown format: name it .csv or .jsonl, or give --format");
	return -1;
}

/* import_finish - hand the rows over, or drop them */
static int import_finish(struct importer *im, int rc, void **out, size_t *n)
{
	if (rc < 0 || im->fatal || (im->failed && !im->skip_bad)) {
		importer_release(im);
		return -1;
	}
	*out = im->rows;
	*n = im->each ? im->passed : im->n;
	im->rows = NULL;
	im->n = 0;
	importer_release(im);
	return 0;
}

/* contacts_import - rows kept in *out, or each one passed to each */
static int contacts_import(const char *path, const char *format, int skip_bad,
			   int (*each)(void *, void *), void *ud, void **out, size_t *n,
			   struct diag *d)
{
	struct importer im;
	FILE *fp;
	int fmt, rc;

	*out = NULL;
	*n = 0;
	if ((fmt = pick_format(path, format, d)) < 0)
		return -1;
	if (!(fp = fopen(path, "r"))) {
		diag_error(d, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	importer_init(&im, path, skip_bad, d, sizeof(struct contact), contact_release_row);
	im.each = each;
	im.ud = ud;
	rc = fmt == FMT_CSV ? contacts_csv(&im, fp) : contacts_jsonl(&im, fp);
	fclose(fp);
	return import_finish(&im, rc, out, n);
}

int import_contacts(const char *path, const char *format, int skip_bad, struct contact **out,
		    size_t *n, struct diag *d)
{
	void *rows = NULL;
	int rc = contacts_import(path, format, skip_bad, NULL, NULL, &rows, n, d);
	*out = rows;
	return rc;
}

int import_contacts_each(const char *path, const char *format, int skip_bad,
			 int (*each)(void *ud, struct contact *c), void *ud, size_t *n,
			 struct diag *d)
{
	void *rows = NULL;
	return contacts_import(path, format, skip_bad, (int (*)(void *, void *))each, ud, &rows,
			       n, d);
}

void contacts_free(struct contact *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		contact_release(&c[i]);
	free(c);
}

/* valid_type - [a-z][a-z0-9_.-]*, at most TYPE_MAX bytes */
static int valid_type(const char *s)
{
	size_t i;
	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit((unsigned char)s[i]) ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return i <= TYPE_MAX;
}

/* event_text_id - "contact" or "id": a string or an integer, no control
 * characters; NULL when absent (reported when it is bad) */
static char *event_text_id(struct importer *im, json_t *obj, const char *key)
{
	struct shown sh;
	json_t *v = json_object_get(obj, key);
	int bad;
	char *s;

	if (!v)
		return NULL;
	s = json_text(v, &bad);
	if (bad) {
		row_error(im, "invalid %s %s (a string or an integer)", key, show_json(&sh, v));
	} else if (s && (strlen(s) > ID_MAX || has_ctl(s))) {
		row_error(im, "invalid %s %s (at most %d bytes, no control characters)", key,
			  show_json(&sh, v), ID_MAX);
		free(s);
		s = NULL;
	}
	return s;
}

static void jsonl_event(struct importer *im, json_t *obj, int64_t now)
{
	static const char *const keys[] = {"contact", "type", "at", "data", "id"};
	struct event ev;
	struct shown sh;
	const char *key;
	json_t *v;

	memset(&ev, 0, sizeof(ev));
	ev.line = im->line;
	json_object_foreach(obj, key, v)
	{
		size_t k;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(key, keys[k]) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			row_error(im, "unknown key %s", str_show(&sh, key));
	}

	int before = im->row_bad;
	ev.contact_id = event_text_id(im, obj, "contact");
	if (!ev.contact_id && im->row_bad == before) /* absent, not bad */
		row_error(im, "missing contact");

	v = json_object_get(obj, "type");
	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		row_error(im, "missing type");
	else if (!json_is_string(v) || !valid_type(json_string_value(v)))
		row_error(im, "invalid type %s (a-z first, then a-z 0-9 _ . -)", show_json(&sh, v));
	else
		ev.type = xstrdup(json_string_value(v));

	v = json_object_get(obj, "at");
	ev.at = now;
	if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) {
		if (!json_is_string(v) || time_parse(json_string_value(v), &ev.at) < 0)
			row_error(im, "invalid time %s for at", show_json(&sh, v));
	}

	v = json_object_get(obj, "data");
	if (!v || json_is_null(v)) {
		ev.data = json_object();
		if (!ev.data)
			log_panic("out of memory building json");
	} else if (json_is_object(v)) {
		ev.data = json_incref(v);
	} else {
		row_error(im, "invalid data %s (an object)", show_json(&sh, v));
	}

	ev.ext_id = event_text_id(im, obj, "id");
	row_end(im, &ev);
}

/* events_import - rows kept in *out, or each one passed to each */
static int events_import(const char *path, int skip_bad, int64_t now,
			 int (*each)(void *, void *), void *ud, void **out, size_t *n,
			 struct diag *d)
{
	struct importer im;
	struct jsonl r = {NULL, NULL, 0, 0};
	json_t *obj;
	int rc;

	*out = NULL;
	*n = 0;
	if (!(r.fp = fopen(path, "r"))) {
		diag_error(d, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	importer_init(&im, path, skip_bad, d, sizeof(struct event), event_release_row);
	im.each = each;
	im.ud = ud;
	while ((rc = jsonl_read(&r, &im, &obj)) > 0) {
		if (!obj)
			continue;
		jsonl_event(&im, obj, now);
		json_decref(obj);
	}
	free(r.line);
	fclose(r.fp);
	return import_finish(&im, rc, out, n);
}

int import_events(const char *path, int skip_bad, int64_t now, struct event **out, size_t *n,
		  struct diag *d)
{
	void *rows = NULL;
	int rc = events_import(path, skip_bad, now, NULL, NULL, &rows, n, d);
	*out = rows;
	return rc;
}

int import_events_each(const char *path, int skip_bad, int64_t now,
		       int (*each)(void *ud, struct event *ev), void *ud, size_t *n, struct diag *d)
{
	void *rows = NULL;
	return events_import(path, skip_bad, now, (int (*)(void *, void *))each, ud, &rows, n, d);
}

void events_free(struct event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_release(&ev[i]);
	free(ev);
}
