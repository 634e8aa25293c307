/* contact.h - contacts and events as plain values (model layer) */
#ifndef OUTREACH_CONTACT_H
#define OUTREACH_CONTACT_H
#include <jansson.h>
#include <stdint.h>

enum channel_kind { CHANNEL_EMAIL = 0, CHANNEL_SMS = 1, CHANNEL_CHAT = 2, CHANNEL_NKINDS = 3 };
enum msg_class { CLASS_MARKETING = 0, CLASS_TRANSACTIONAL = 1 };

/* channel_name - "email" "sms" "chat"; channel_parse - -1 when unknown */
const char *channel_name(enum channel_kind k);
int channel_parse(const char *s);

/* A contact. Strings are owned (NULL when absent); attrs is an owned JSON
 * object of every other field (numbers stay numbers). The unsub fields are
 * -1 when the input did not say, else 0 or 1. */
struct contact {
	char *id;
	char *name;
	char *email;
	char *phone;    /* E.164 */
	char *timezone; /* IANA */
	char *locale;
	int do_not_contact;      /* -1, 0, 1 */
	int unsub[CHANNEL_NKINDS]; /* marketing unsubscribe per channel: -1, 0, 1 */
	json_t *attrs;
	int line; /* its line in an import file, 0 otherwise */
};

/* An event. ext_id is the input's optional "id" (dedup key), else NULL. */
struct event {
	char *contact_id;
	char *type;
	int64_t at;
	json_t *data; /* owned object, never NULL once parsed */
	char *ext_id;
	int64_t send_id; /* the send it answers (an open, a click, a reply,
	                  * a receipt), 0 when none */
	int line; /* its line in an import file, 0 otherwise */
};

void contact_release(struct contact *c);
void event_release(struct event *ev);
/* contact_field - a standard field's value by name ("email"), or NULL */
const char *contact_field(const struct contact *c, const char *name);

/* contact_address_key - an address as the store keeps it (sends.address,
 * the suppression list): an email in lower case (Bob@X.com and bob@x.com
 * are one mailbox in practice), a phone or chat id as it is, and a URL (a
 * contact's own webhook, whose path or query holds a token) as a digest
 * that still matches. Caller frees; NULL for NULL. */
char *contact_address_key(const char *addr);

/* event_data_machine - an event's data (JSON text) says "machine": true
 * (an open or click by a mail proxy or link scanner, not a person) */
int event_data_machine(const char *data);

#endif
