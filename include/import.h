/* import.h - contacts (CSV, JSON Lines) and events (JSON Lines) files,
 * parsed and validated whole before anything is written, or streamed to a
 * callback inside the caller's transaction (the _each calls).
 *
 * Every problem goes to d as "FILE:LINE: message" naming the field, e.g.
 * `contacts.csv:17: invalid email "bob@"`. Without skip_bad any problem
 * makes the call fail (return -1) and *out is empty; with skip_bad the bad
 * rows are reported (as diag errors) and the good ones returned (0).
 */
#ifndef OUTREACH_IMPORT_H
#define OUTREACH_IMPORT_H
#include <stddef.h>

#include "contact.h"
#include "diag.h"

/* format: "csv", "jsonl", or NULL to choose by extension (.csv, .jsonl,
 * .ndjson, .json). Standard fields: id (required, unique in the file),
 * name, email, phone (E.164), timezone (IANA), locale; the columns
 * unsubscribed_email, unsubscribed_sms, unsubscribed_chat, do_not_contact
 * (true/false, 1/0, yes/no, empty = not said); every other column is an
 * attribute: in CSV an integer or decimal cell becomes a number, true/false
 * a boolean, an empty cell is absent. Caller frees with contacts_free. */
int import_contacts(const char *path, const char *format, int skip_bad, struct contact **out,
		    size_t *n, struct diag *d);
void contacts_free(struct contact *c, size_t n);
/* import_contacts_each - the same, streamed: each good row is passed to
 * each (borrowed for the call) as soon as it is read and checked, and
 * none is kept, so memory does not grow with the file. Without skip_bad,
 * the first bad row stops the calls (reading goes on, to report every
 * problem) and the call fails: the caller undoes what each did (one
 * transaction around the import). each returns 0, or -1 to stop (the call
 * then fails; each keeps its own error). *n is the rows passed. */
int import_contacts_each(const char *path, const char *format, int skip_bad,
			 int (*each)(void *ud, struct contact *c), void *ud, size_t *n,
			 struct diag *d);

/* Each line {"contact":ID,"type":T,"at":TIME,"data":{...},"id":OPTIONAL};
 * ID may be a string or a number (kept as its decimal text); "at" is
 * RFC 3339 and defaults to now when absent. Caller frees with events_free. */
int import_events(const char *path, int skip_bad, int64_t now, struct event **out, size_t *n,
		  struct diag *d);
void events_free(struct event *ev, size_t n);
/* import_events_each - events streamed, as import_contacts_each */
int import_events_each(const char *path, int skip_bad, int64_t now,
		       int (*each)(void *ud, struct event *ev), void *ud, size_t *n, struct diag *d);

/* Validators shared with `event add` and the API: 1 valid, 0 not. */
int valid_email(const char *s);
int valid_phone(const char *s); /* E.164: + then 2 to 15 digits, no leading 0 */
int valid_locale(const char *s);

#endif
