/* webhook.h - the chat webhook flavors: payloads, signatures, answers.
 *
 * The pure half of the `webhook` transport kind (transport_webhook.c does
 * the configuration and the HTTP): given a rendered chat text, build the
 * request each service documents, and read each service's answer into a
 * delivery. Nothing here reads the clock or the environment: the time
 * used in signatures is the `now` handed to deliver (so `run --now`
 * repeats byte for byte) and the secret is passed in.
 *
 * Payloads (format markdown | text; TEXT is the rendered chat.md with
 * trailing blank space removed; every body is compact JSON in raw UTF-8,
 * sent with Content-Type: application/json; charset=utf-8):
 *
 *   slack     {"text": TEXT}                      markdown: Slack mrkdwn
 *             {"text": TEXT, "mrkdwn": false}     text
 *   teams     {"type": "message", "attachments": [{"contentType":
 *             "application/vnd.microsoft.card.adaptive", "contentUrl": null,
 *             "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
 *             "type": "AdaptiveCard", "version": "1.2", "body": [TITLE?,
 *             {"type": "TextBlock", "text": TEXT, "wrap": true}]}}]}
 *             (an Adaptive Card message, which both Incoming Webhooks and
 *             Workflows webhooks take; TITLE, only with the `title`
 *             option, is a TextBlock with "weight": "Bolder", "size":
 *             "Medium"; a TextBlock always reads its markdown subset)
 *   discord   {"content": TEXT, "allowed_mentions": {"parse": []}} posted
 *             to URL?wait=true (so an unsaved message is an error and the
 *             answer carries the message id); beyond 2000 UTF-16 units:
 *             FAIL "too long"
 *   feishu    {"msg_type": "text", "content": {"text": TEXT}}      text
 *             {"msg_type": "interactive", "card": {["header": {"title":
 *             {"tag": "plain_text", "content": TITLE}},] "elements":
 *             [{"tag": "markdown", "content": TEXT}]}}               markdown
 *             signed (secret set): "timestamp": "<now, seconds>" and
 *             "sign": base64(HMAC-SHA256(key = timestamp "\n" secret,
 *             message = "")) first in the body
 *   dingtalk  {"msgtype": "markdown", "markdown": {"title": TITLE, "text": TEXT}}
 *             {"msgtype": "text", "text": {"content": TEXT}}        text
 *             signed: URL&timestamp=<now * 1000, ms>&sign=<urlencode(
 *             base64(HMAC-SHA256(key = secret, message = timestamp "\n"
 *             secret)))>
 *   wecom     {"msgtype": "markdown", "markdown": {"content": TEXT}} (at
 *             most 4096 bytes) or {"msgtype": "text", "text": {"content":
 *             TEXT}} (at most 2048 bytes); longer: FAIL "too long"
 *   telegram  {"chat_id": ID, "text": HTML, "parse_mode": "HTML"}  markdown
 *             {"chat_id": ID, "text": TEXT}                        text
 *             HTML is webhook_telegram_html(TEXT); ID is a number when it
 *             looks like one, else the "@channel" string; beyond 4096
 *             UTF-16 units: FAIL "too long"
 *   generic   {"send_id": N, "campaign": C, "step": N, "to": TO or null,
 *             "text": TEXT, "format": "markdown" | "text"}
 *             signed (secret set): X-Outreach-Timestamp: <now, seconds>
 *             X-Outreach-Signature: sha256=<hex HMAC-SHA256(key = secret,
 *             message = timestamp "." body)> - a receiver recomputes it
 *             over the raw body, compares in constant time and rejects a
 *             timestamp far from its clock (a replay)
 *
 * TITLE is the `title` option, else the first non-blank line of TEXT
 * without its leading '#' and blanks, cut to 100 bytes (whole UTF-8
 * characters), else "message".
 */
#ifndef OUTREACH_WEBHOOK_H
#define OUTREACH_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http_client.h"
#include "message.h"
#include "transport.h"

enum webhook_flavor {
	WEBHOOK_SLACK,
	WEBHOOK_TEAMS,
	WEBHOOK_DISCORD,
	WEBHOOK_FEISHU,
	WEBHOOK_DINGTALK,
	WEBHOOK_WECOM,
	WEBHOOK_TELEGRAM,
	WEBHOOK_GENERIC,
	WEBHOOK_NFLAVORS
};

/* webhook_flavor_parse - the flavor named s, -1 when none */
int webhook_flavor_parse(const char *s);
/* webhook_flavor_name - "slack" ... "generic" */
const char *webhook_flavor_name(enum webhook_flavor f);

/* everything one request is built from; all borrowed */
struct webhook_input {
	enum webhook_flavor flavor;
	int markdown;	      /* 1: format markdown, 0: text */
	const char *url;      /* the endpoint: the configured url, the contact's
			       * own webhook url, or telegram's sendMessage url */
	const char *text;     /* the rendered chat text, UTF-8 */
	const char *title;    /* NULL: derived from text (see above) */
	const char *chat_id;  /* telegram: the contact's or the group's chat id */
	const char *secret;   /* NULL or "": unsigned */
	int64_t now;	      /* seconds: the signatures' timestamp */
	int64_t send_id;      /* generic */
	const char *campaign; /* generic, MAY be NULL */
	int step;	      /* generic */
	const char *to;	      /* generic: the contact's address, NULL for a group */
};

#define WEBHOOK_MAX_HEADERS 4

/* one request ready for http_client_run; owns its strings, and its
 * headers point into it: build it where it stays (never copy it) */
struct webhook_request {
	char *url;
	char *body;
	size_t body_len;
	struct header headers[WEBHOOK_MAX_HEADERS];
	size_t nheaders;
	char ts[24];  /* storage for X-Outreach-Timestamp */
	char sig[80]; /* storage for X-Outreach-Signature */
};

/* webhook_build - fill out from in. Returns 0, or -1 with e set to a
 * one-line reason that holds no url and no secret ("text is not valid
 * UTF-8", "too long: 2001 characters, discord takes 2000", "invalid
 * telegram chat id"); out is then empty. Caller releases out. */
int webhook_build(const struct webhook_input *in, struct webhook_request *out, struct err *e);
void webhook_request_release(struct webhook_request *r);

/* webhook_classify - the delivery for one answer: http_classify first,
 * then the service's body for a 2xx. slack: "ok"; dingtalk, wecom:
 * errcode 0; feishu: code (or StatusCode) 0; telegram: "ok": true, whose
 * result.message_id becomes provider_id; discord, generic: the answer's
 * "id", if any, becomes provider_id. A 4xx whose body carries
 * telegram's, feishu's, dingtalk's or wecom's error code is read by that
 * code, like a 2xx. A service's rate-limit answer
 * (dingtalk 130101 and 410100, wecom 45009, feishu 11232 and 99991400,
 * errcode -1 "system busy", telegram error_code 429 with
 * parameters.retry_after, a teams body reporting HTTP error 429) is
 * DEFER; any other error answer is FAIL with the service's words; a 2xx
 * body that is not the service's success answer is FAIL. Telegram's
 * "chat not found", "bot was blocked" and "user is deactivated" set
 * hard_bounce when personal is 1 (the chat id came from the contact). */
void webhook_classify(enum webhook_flavor f, int personal, const struct http_response *r,
		      struct delivery *d);

/* webhook_url_ok - 1 when s is an http:// or https:// url with a host and
 * no blank or control character */
int webhook_url_ok(const char *s);
/* webhook_chat_id_ok - 1 for a telegram chat id: an integer (groups are
 * negative) or "@" and a channel username */
int webhook_chat_id_ok(const char *s);

/* webhook_feishu_sign - base64 of HMAC-SHA256 keyed by "<ts>\n<secret>"
 * over the empty message, into out[45] */
void webhook_feishu_sign(const char *secret, int64_t ts, char out[45]);
/* webhook_dingtalk_sign - base64 of HMAC-SHA256 keyed by secret over
 * "<ts_ms>\n<secret>", into out[45]; the url carries it percent-encoded */
void webhook_dingtalk_sign(const char *secret, int64_t ts_ms, char out[45]);
/* webhook_generic_sign - "sha256=" and the hex HMAC-SHA256 keyed by
 * secret over "<ts>.<body>", into out[72] */
void webhook_generic_sign(const char *secret, int64_t ts, const char *body, size_t n, char out[72]);

/* webhook_telegram_html - Telegram's HTML for a markdown text; caller
 * frees. Every &, < and > is escaped; a heading line ("# x") becomes
 * <b>x</b>; on one line, **x** becomes <b>x</b>, `x` becomes <code>x</code>
 * and [x](http...) becomes <a href="...">x</a>; anything else is text, so
 * the tags are always balanced. */
char *webhook_telegram_html(const char *md);

/* webhook_title - the title used where a service needs one (see above),
 * into out (n >= 8) */
void webhook_title(const char *text, char *out, size_t n);

#endif
