/* dsn.h - what comes back by mail: delivery status notifications (RFC
 * 3464, bounces) and complaint reports (ARF, RFC 5965, from a feedback
 * loop), read from one message, and mbox files split into messages.
 *
 * A report is found by its part, wherever the MIME tree puts it:
 * message/delivery-status (or message/global-delivery-status) or
 * message/feedback-report; the original message, for its Message-ID, is a
 * message/rfc822 (message/global) or text/rfc822-headers part beside it.
 */
#ifndef OUTREACH_DSN_H
#define OUTREACH_DSN_H
#include <stddef.h>
#include <stdint.h>

enum dsn_kind {
	DSN_NONE = 0,  /* not a report */
	DSN_HARD,      /* failed, Status 5.x.x */
	DSN_SOFT,      /* failed or delayed, Status 4.x.x (or no clear status) */
	DSN_COMPLAINT, /* ARF, any Feedback-Type but not-spam */
	DSN_OTHER,     /* a report with nothing to act on: delivered, relayed,
	                * expanded; ARF not-spam */
};

/* One recipient of a report. Strings owned, NULL when absent. */
struct dsn_rcpt {
	enum dsn_kind kind;
	char *address;    /* Final-Recipient, else Original-Recipient (DSN);
	                   * Original-Rcpt-To, else the original's To (ARF) */
	char *action;     /* "failed", "delayed", ... in lower case (DSN only) */
	char status[16];  /* "5.1.1", or "" */
	char *diagnostic; /* Diagnostic-Code as one line of at most 300 bytes */
};

struct dsn {
	enum dsn_kind kind;   /* the report's: DSN_COMPLAINT for ARF, else
	                       * DSN_HARD when a recipient is hard, DSN_SOFT
	                       * when one is soft, else DSN_OTHER; DSN_NONE */
	char *message_id;     /* the original's Message-ID as <...>, else NULL */
	char *envelope_id;    /* Original-Envelope-Id, else NULL */
	char *verp;           /* a bounce token (track.h kind 'b') found in the
	                       * addresses the report was sent to (bounces+TOKEN@),
	                       * the sender fields, or the original's Return-Path;
	                       * not verified; else NULL */
	char *feedback_type;  /* ARF Feedback-Type in lower case, else NULL */
	int64_t date;         /* the report's Date, 0 when none or unreadable */
	char id[33];          /* hex digest of the report's own Message-ID, or of
	                       * its bytes when it has none: the same report
	                       * imported twice has the same id */
	struct dsn_rcpt *rcpts;
	size_t nrcpts;
	char why[160];        /* DSN_NONE: why not, one line */
};

/* dsn_parse - read one message (len bytes, CRLF or LF line ends, need not
 * be NUL-terminated) into out (dsn_release). Never fails: what is not a
 * report comes back as DSN_NONE with why. Bounded: nesting depth, number
 * of parts and header fields; a report without recipients is DSN_NONE. */
void dsn_parse(const char *msg, size_t len, struct dsn *out);
void dsn_release(struct dsn *d);
/* dsn_kind_name - "none" "hard" "soft" "complaint" "other" */
const char *dsn_kind_name(enum dsn_kind k);

/* dsn_mbox_each - call fn for each message of an mbox (messages start at
 * a line "From " at the start of the file or after a blank line; the From_
 * line is dropped and ">From " lines lose one ">", as mboxrd writes them).
 * line is the 1-based line of the message's From_ line; msg is only valid
 * during the call. Returns the number of messages. */
int dsn_mbox_each(const char *data, size_t len,
		  void (*fn)(void *ud, const char *msg, size_t n, int line), void *ud);

/* dsn_date - an RFC 5322 date ("Sun, 1 Mar 2026 10:30:00 +0800 (CST)",
 * obsolete zones too) as seconds since the epoch; -1 when unreadable */
int64_t dsn_date(const char *s);

#endif
