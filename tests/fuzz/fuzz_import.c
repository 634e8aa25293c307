/* fuzz_import.c - libFuzzer target for CSV and JSON Lines imports (import.h)
 *
 * The input's first byte picks what is read: contacts as CSV, contacts as
 * JSON Lines or events (JSON Lines), and whether bad rows are skipped; the
 * rest is the file (in a memfd, read through /proc/self/fd). Each file is
 * imported twice, kept (import_contacts, import_events) and streamed (the
 * _each calls), and both must agree on the outcome, the rows and the
 * problems. Rows hold together (an id, valid addresses, an object of
 * attributes or data); without skip_bad a failure keeps no rows and a
 * success reports no error. Every problem is one "FILE:LINE: ..." line
 * without control characters, in UTF-8: the file cannot put line breaks
 * or terminal controls in our output.
 *
 *   make fuzz-build && build/fuzz/fuzz_import tests/fuzz/corpus/import/
 *   (a corpus file's first byte: 'c' CSV, 'j' JSONL contacts, 'e' events;
 *   upper case skips bad rows)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diag.h"
#include "import.h"
#include "utf8.h"

#define NOW INT64_C(1772359200) /* 2026-03-01T10:00:00Z */

static int fd = -1;
static char path[64];

/* seen - what the _each callback got, to compare with the kept rows */
struct seen {
	char **ids;
	size_t n;
};

static void seen_add(struct seen *s, const char *id)
{
	char **v = realloc(s->ids, (s->n + 1) * sizeof(*v));
	if (!v || !(v[s->n] = strdup(id)))
		abort();
	s->ids = v;
	s->n++;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
}

static void no_ctl(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_contact(const struct contact *c)
{
	if (!c->id || !c->id[0] || !json_is_object(c->attrs) || c->line < 1)
		abort();
	no_ctl(c->id);
	if ((c->email && !valid_email(c->email)) || (c->phone && !valid_phone(c->phone)) ||
	    (c->locale && !valid_locale(c->locale)))
		abort();
	if (c->do_not_contact < -1 || c->do_not_contact > 1)
		abort();
	for (int k = 0; k < CHANNEL_NKINDS; k++)
		if (c->unsub[k] < -1 || c->unsub[k] > 1)
			abort();
}

static void check_event(const struct event *ev)
{
	if (!ev->contact_id || !ev->contact_id[0] || !ev->type || !ev->type[0] ||
	    !json_is_object(ev->data) || ev->line < 1)
		abort();
	no_ctl(ev->contact_id);
	if (ev->ext_id)
		no_ctl(ev->ext_id);
}

static int each_contact(void *ud, struct contact *c)
{
	check_contact(c);
	seen_add(ud, c->id);
	return 0;
}

static int each_event(void *ud, struct event *ev)
{
	check_event(ev);
	seen_add(ud, ev->contact_id);
	return 0;
}

/* check_diag - every line "PATH:..." (or "PATH: ..."), one line of UTF-8 */
static void check_diag(const struct diag *d)
{
	size_t pl = strlen(path);
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];
		size_t n = strlen(m);
		if (strncmp(m, path, pl) != 0 || m[pl] != ':')
			abort();
		for (size_t k = 0; k < n;) {
			size_t l = utf8_len((const unsigned char *)m + k, n - k);
			if (!l || (unsigned char)m[k] < 0x20 || m[k] == 0x7f)
				abort();
			k += l;
		}
	}
}

/* same_diag - the two imports reported the same problems */
static void same_diag(const struct diag *a, const struct diag *b)
{
	if (a->n != b->n || a->errors != b->errors || a->warnings != b->warnings)
		abort();
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->msgs[i], b->msgs[i]) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		if ((fd = memfd_create("fuzz_import", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (size < 1)
		return 0;
	/* 'c' 99 % 3 = 0, 'j' 106 % 3 = 1, 'e' 101 % 3 = 2; upper case: skip_bad */
	int what = (data[0] | 0x20) % 3, skip_bad = (data[0] & 0x20) == 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
		abort();
	struct diag d1, d2;
	struct seen s = {NULL, 0};
	size_t n1, n2;
	int rc1, rc2;
	diag_init(&d1);
	diag_init(&d2);
	if (what < 2) {
		const char *fmt = what == 0 ? "csv" : "jsonl";
		struct contact *c;
		rc1 = import_contacts(path, fmt, skip_bad, &c, &n1, &d1);
		for (size_t i = 0; i < n1; i++)
			check_contact(&c[i]);
		rc2 = import_contacts_each(path, fmt, skip_bad, each_contact, &s, &n2, &d2);
		if (rc1 == 0 && rc2 == 0)
			for (size_t i = 0; i < n1 && i < s.n; i++)
				if (strcmp(c[i].id, s.ids[i]) != 0)
					abort();
		contacts_free(c, n1);
	} else {
		struct event *ev;
		rc1 = import_events(path, skip_bad, NOW, &ev, &n1, &d1);
		for (size_t i = 0; i < n1; i++)
			check_event(&ev[i]);
		rc2 = import_events_each(path, skip_bad, NOW, each_event, &s, &n2, &d2);
		if (rc1 == 0 && rc2 == 0)
			for (size_t i = 0; i < n1 && i < s.n; i++)
				if (strcmp(ev[i].contact_id, s.ids[i]) != 0)
					abort();
		events_free(ev, n1);
	}
	if ((rc1 != 0 && rc1 != -1) || rc1 != rc2)
		abort();
	if (rc1 < 0 && (!d1.errors || n1 != 0))
		abort(); /* failed without saying why, or kept rows */
	if (!skip_bad && rc1 == 0 && d1.errors)
		abort(); /* an error let through */
	if (rc1 == 0 && (n1 != n2 || n2 != s.n))
		abort(); /* kept and streamed rows differ */
	check_diag(&d1);
	same_diag(&d1, &d2);
	seen_free(&s);
	diag_release(&d1);
	diag_release(&d2);
	return 0;
}
