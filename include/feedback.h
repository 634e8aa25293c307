/* feedback.h - what comes back from recipients, turned into store changes:
 * opens, clicks, unsubscribes, survey answers, SMS and email replies,
 * delivery receipts, and events and contacts pushed through the API.
 *
 * No HTTP here: `serve` (src/httpd/) parses requests and calls these, and
 * so do the unit tests. Every recording function takes the clock as `now`,
 * runs in one write transaction of its own (do not call it inside one),
 * and returns one of
 *   FEEDBACK_OK         done (r says what happened)
 *   FEEDBACK_NOT_FOUND  no such send, link or provider id: nothing recorded
 *   FEEDBACK_BAD        the input is not acceptable: e says why, nothing recorded
 *   FEEDBACK_ANSWERED   a survey answered before: refused, nothing recorded
 *   -1                  the store failed: e says why, nothing recorded
 *
 * Events name the send they answer (send_id), so `unless` cancels the
 * contact's pending steps and reports count them per send.
 */
#ifndef OUTREACH_FEEDBACK_H
#define OUTREACH_FEEDBACK_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"

enum { FEEDBACK_OK = 0, FEEDBACK_NOT_FOUND = 1, FEEDBACK_BAD = 2, FEEDBACK_ANSWERED = 3 };

/* A fetch this soon after the send went out is a scanner's, not a person's. */
#define FEEDBACK_MACHINE_SECS 10
#define FEEDBACK_COMMENT_MAX 2000 /* characters in a survey comment */

/* What one call did. kind is a static string: "opened", "clicked",
 * "unsubscribed", "survey_response", "reply", "stop", "unmatched",
 * "delivered", "bounced", "ignored" (an interim receipt), "unchanged" (a
 * receipt that does not move the send). */
struct feedback_result {
	const char *kind;
	int64_t send_id; /* the send it answers; 0 when none */
	char *contact;	 /* owned; NULL when unmatched */
	int recorded;	 /* 1 when a new event was stored, 0 for a repeat */
	int machine;	 /* opens and clicks: flagged as a machine's */
	char *url;	 /* clicks: where to redirect (owned) */
};
void feedback_result_release(struct feedback_result *r);

/* The send a token names, with what the pages need (owned strings). */
struct feedback_send {
	int64_t id, sent_at; /* sent_at 0 when it never went out */
	char *contact;
	char *channel; /* NULL when no channel was picked */
	char *locale;  /* the contact's, NULL when none */
	char *campaign;
	int step; /* 0-based */
};
/* feedback_send_get - FEEDBACK_OK (out filled), FEEDBACK_NOT_FOUND, -1 */
int feedback_send_get(struct store *s, int64_t id, struct feedback_send *out, struct err *e);
void feedback_send_release(struct feedback_send *f);

/* ---- pure helpers (no store) ---- */

/* feedback_is_stop - 1 when an SMS text is an opt-out: after Unicode
 * compatibility case folding (full-width letters, ideographic spaces) and
 * trimming, one of STOP, TD, T, 退订, 取消; else 0 (also for bad UTF-8) */
int feedback_is_stop(const char *text);
/* feedback_machine_ua - 1 when a User-Agent belongs to a mail-privacy
 * proxy, image prefetcher, link scanner or script (or is absent, or the
 * bare "Mozilla/5.0" Apple's Mail Privacy Protection sends) */
int feedback_machine_ua(const char *ua);
/* feedback_norm_phone - a sender number as E.164: spaces, dashes, dots and
 * parentheses dropped, a 00 prefix or a bare digit string taken as +;
 * NULL when that is not a valid E.164 number. Caller frees. */
char *feedback_norm_phone(const char *from);
/* feedback_norm_email - the address in `a@b` or `Name <a@b>`, lower-cased;
 * NULL when there is no valid one. Caller frees. */
char *feedback_norm_email(const char *from);
/* feedback_survey_check - a survey form: score an integer on the scale
 * (digits only: 0..10 for SURVEY_NPS and SURVEY_NONE, 1..5 for
 * SURVEY_CSAT), comment NULL or valid UTF-8 of at most
 * FEEDBACK_COMMENT_MAX characters without control characters other than
 * tab and line breaks. 0 with *score set, -1 with e saying which field is
 * wrong. */
int feedback_survey_check(const char *score, const char *comment, enum survey_scale scale, int *out,
			  struct err *e);
/* feedback_url_ok - 1 when a stored link may be redirected to: a scheme
 * (not javascript:, data:, vbscript: or file:), no spaces or controls */
int feedback_url_ok(const char *url);
/* feedback_receipt_class - a receipt status (case ignored): 'd' delivered
 * (delivered, DELIVRD), 'h' hard failure (undeliverable, UNDELIV), 's'
 * soft failure (failed, REJECTD, EXPIRED), 'i' interim (accepted, ACCEPTD,
 * enroute, queued, sent, buffered), 0 unknown */
int feedback_receipt_class(const char *status);

/* ---- tracked links (the send comes from a verified token) ---- */

/* feedback_open - records `opened` {"machine", "user_agent"}: the first
 * open by a person and the first by a machine, once each per send (a
 * repeat is not an event: r->recorded 0) */
int feedback_open(struct store *s, int64_t send_id, const char *ua, int64_t now,
		  struct feedback_result *r, struct err *e);
/* feedback_click - r->url is link `link` of the send's message (only a
 * link recorded for it that feedback_url_ok accepts: FEEDBACK_NOT_FOUND
 * otherwise, nothing recorded); records every
 * click as `clicked` {"link", "url" (without query and fragment, which
 * may hold tokens), "machine", "user_agent"} */
int feedback_click(struct store *s, int64_t send_id, int link, const char *ua, int64_t now,
		   struct feedback_result *r, struct err *e);
/* feedback_unsubscribe - the contact leaves marketing on the send's
 * channel (every channel when the send has none) at once, and
 * `unsubscribed` {"channel", "class": "marketing"} is recorded once per
 * send; idempotent */
int feedback_unsubscribe(struct store *s, int64_t send_id, int64_t now, struct feedback_result *r,
			 struct err *e);
/* feedback_survey - records `survey_response` {"score", "comment"} (and
 * "scale": "csat" on the 1 to 5 scale; no scale means 0 to 10, as NPS
 * answers always were) once per send: a second answer is refused with
 * FEEDBACK_ANSWERED and records nothing. Score and comment as
 * feedback_survey_check accepts on scale (else FEEDBACK_BAD). */
int feedback_survey(struct store *s, int64_t send_id, enum survey_scale scale, const char *score,
		    const char *comment, int64_t now, struct feedback_result *r, struct err *e);
/* feedback_survey_answered - *answered 1 when the send's survey has its
 * answer; FEEDBACK_OK, or -1 */
int feedback_survey_answered(struct store *s, int64_t send_id, int *answered, struct err *e);

/* ---- inbound messages and receipts ---- */

/* feedback_sms - an SMS from `from` (required): matched to the latest sms
 * send to that number, else to the contact with that phone and its latest
 * sms send. An opt-out (feedback_is_stop) unsubscribes the contact from
 * marketing sms and records `unsubscribed`; other text records `replied`
 * {"text", "channel": "sms"}. Every message gets an inbound row (kind
 * stop, reply, or unmatched for an unknown sender: r->kind "unmatched",
 * still FEEDBACK_OK). */
int feedback_sms(struct store *s, const char *from, const char *text, int64_t now,
		 struct feedback_result *r, struct err *e);
/* feedback_email - a reply: in_reply_to (one or more Message-IDs, with or
 * without angle brackets) matched to a send, else `from` to the latest
 * email send to that address or the contact with it; records `replied`
 * {"text", "subject", "channel": "email"} and an inbound row (reply or
 * unmatched). from or in_reply_to is required. */
int feedback_email(struct store *s, const char *from, const char *subject, const char *text,
		   const char *in_reply_to, int64_t now, struct feedback_result *r, struct err *e);
/* feedback_receipt - a delivery receipt for provider id `message_id` on
 * `transport`: delivered moves the send to "delivered" and records
 * `delivered`; a failure moves it to "bounced" and records `bounced`
 * {"hard", "status"} (a hard one also suppresses the address). Unknown
 * status: FEEDBACK_BAD; unknown id: FEEDBACK_NOT_FOUND; interim statuses
 * and repeats change nothing (r->kind "ignored", "unchanged"). */
int feedback_receipt(struct store *s, const char *transport, const char *message_id,
		     const char *status, int64_t now, struct feedback_result *r, struct err *e);

/* ---- the events and contacts API ---- */

/* feedback_api_events - body is one JSON object or an array of them, each
 * checked exactly as a line of `events import` is; all stored in one
 * transaction or none. FEEDBACK_BAD with e = the first problem ("record
 * N: ..."); else *n records, *added new ones (the rest were there). Wakes
 * sleeping workers. */
int feedback_api_events(struct store *s, const char *body, size_t len, int64_t now, size_t *n,
			size_t *added, struct err *e);
/* feedback_api_contacts - the same for contacts, as `contacts import`
 * checks a JSON Lines file (upsert by id) */
int feedback_api_contacts(struct store *s, const char *body, size_t len, int64_t now, size_t *n,
			  struct err *e);

#endif
