/* message.h - one rendered message, as handed to a transport (all borrowed) */
#ifndef OUTREACH_MESSAGE_H
#define OUTREACH_MESSAGE_H
#include <stddef.h>
#include <stdint.h>

#include "contact.h"

struct header {
	const char *name;
	const char *value;
};

struct message {
	int64_t send_id;
	enum channel_kind channel;
	const char *to;          /* address: email, E.164 phone, chat id; NULL for a group chat */
	const char *to_name;     /* display name, MAY be NULL */
	const char *from;        /* email: "Acme Care <care@example.com>" */
	const char *subject;     /* email */
	const char *text;        /* the body (email text part, SMS text, chat text) */
	const char *html;        /* email HTML alternative, MAY be NULL */
	const char *message_id;  /* email: "<id@domain>", the store keeps it */
	const char *unsubscribe_url; /* MAY be NULL */
	const char *token;       /* the send's signed bounce token (track.h, kind 'b'):
	                          * `{token}` in an smtp return_path (VERP); MAY be NULL */
	int marketing;           /* 1: List-Unsubscribe headers on email */
	const char *campaign;
	int step;
	const struct header *headers; /* extra headers from the template (Reply-To, ...) */
	size_t nheaders;
};

#endif
